/* libFuzzer: the lease journal / snapshot parser (rack/dhcp/leases_file.c)
 * over arbitrary bytes, each good record applied to an in-memory store the
 * way replay does. The first input byte picks journal or snapshot. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rack/dhcp/leases.h"

static int apply(const struct lease_rec *r, void *userdata)
{
	struct lease_store *s = userdata;
	switch (r->type) {
	case LEASE_REC_PUT:
		(void)lease_store_stage(s, &r->lease);
		break;
	case LEASE_REC_REMOVE:
		(void)lease_store_remove(s, r->lease.addr);
		break;
	case LEASE_REC_POOL:
		(void)lease_store_pool_set_owner(s, r->first, r->last, (enum lease_owner)r->owner);
		break;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lease_store_config cfg = {.max_leases = 64, .max_per_client = 2};
	struct lease_store *s;
	size_t good;
	uint64_t base;
	bool corrupt;
	uint32_t a;

	if (size < 1 || lease_store_open(&cfg, &s, NULL) < 0)
		return 0;
	enum lease_file_kind kind = data[0] & 1 ? LEASE_FILE_SNAPSHOT : LEASE_FILE_JOURNAL;
	int64_t n = lease_file_parse(data + 1, size - 1, kind, apply, s, &good, &base, &corrupt);
	if (n >= 0 && (good < LEASE_FILE_HEADER_LEN || good > size - 1))
		__builtin_trap();
	(void)lease_store_first_free(s, 1, 0xffffffffu, LEASE_OWNER_LOCAL, &a);
	(void)lease_store_commit(s);
	struct lease out[8];
	while (lease_store_reclaim(s, INT64_MAX, out, 8) == 8)
		;
	lease_store_free(s);
	return 0;
}
