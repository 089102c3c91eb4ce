/* ironrack-rackd --dump-leases: what the lease journal and snapshot hold,
 * for operators (what did this rack promise, and to whom?) and for tests
 * that compare the ACKs clients saw with both racks' journals
 * (docs/dhcp-ha.md). Read only: safe beside a running rack. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "rack/dhcp/glue.h"
#include "rack/dhcp/leases.h"

static void hex(char *out, const uint8_t *b, size_t n, char sep)
{
	static const char digits[] = "0123456789abcdef";
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && sep)
			out[k++] = sep;
		out[k++] = digits[b[i] >> 4];
		out[k++] = digits[b[i] & 15];
	}
	out[k] = '\0';
}

static int dump_one(const struct lease *l, void *arg)
{
	FILE *out = arg;
	char ip[16], mac[3 * LEASE_HWADDR_MAX + 1], cid[2 * LEASE_CLIENT_ID_MAX + 1];
	ipv4_text(l->addr, ip);
	hex(mac, l->chaddr, l->hlen, ':');
	hex(cid, l->client_id, l->client_id_len, 0);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "ip", ip, "state",
			      lease_state_name(l->state), "mac", mac, "client_id", cid, "hostname", l->hostname,
			      "start", (json_int_t)l->start, "expiry", (json_int_t)l->expiry, "seq", (json_int_t)l->seq,
			      "subnet", (json_int_t)l->subnet_id, "range", (json_int_t)l->range_id);
	char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!line)
		return -ENOMEM;
	fprintf(out, "%s\n", line);
	free(line);
	return 0;
}

int rack_dhcp_dump_leases(const struct rack *rack, FILE *out)
{
	char dir[PATH_MAX];
	int rc = rack_dhcp_lease_dir(rack, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	struct lease_store_config cfg = {
	    .dir = dir, .max_leases = 1u << 24, .max_per_client = 1u << 16, .read_only = true};
	struct lease_store *st = NULL;
	struct lease_replay_stats stats;
	rc = lease_store_open(&cfg, &st, &stats);
	if (rc < 0) {
		log_err("cannot read the lease store in %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = lease_store_foreach(st, dump_one, out);
	lease_store_free(st);
	if (rc < 0)
		log_err("cannot print the leases: %s", strerror(-rc));
	else if (fflush(out) != 0)
		rc = -errno;
	return rc;
}
