/* libFuzzer target for the inventory codec (common/inventory.c): the
 * body an ephemeral agent posts, which the rack checks before forwarding
 * and the region checks again.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_inventory tests/fuzz/corpus/inventory
 *
 * The input is the body, passed with its length and no NUL at its end (a
 * copy of exactly that size, so ASan sees a read past it). A refusal is
 * -EINVAL or -E2BIG with a printable "field: what" message. An accepted
 * report keeps every limit of the header, and its normalised JSON (with
 * the token put back for commission, deploy and erase) parses to the same
 * report. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"
#include "tests/fuzz/fuzz.h"

static void check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size && n <= INV_STR_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(s[i] >= 0x20 && s[i] <= 0x7e);
	CHECK(n == 0 || (s[0] != ' ' && s[n - 1] != ' '));
}

/* A deploy or erase report. */
static void check_step(const struct inventory *inv)
{
	static const uint8_t zero[6];

	CHECK(strlen(inv->token) == INV_TOKEN_LEN);
	CHECK(inv->step == INV_STEP_START || inv->step == INV_STEP_DONE || inv->step == INV_STEP_FAILED);
	CHECK(!inv->has_boot_mac || (memcmp(inv->boot_mac, zero, 6) != 0 && !(inv->boot_mac[0] & 1)));
	CHECK(inv->n_disks == 0 && inv->n_nics == 0);
	CHECK(!inv->has_result || inv->step == INV_STEP_DONE);
	CHECK(inv->result.bytes <= 1ULL << 62 && inv->result.download_ms <= 1ULL << 40);
	CHECK(inv->result.write_ms <= 1ULL << 40);
	size_t n = strlen(inv->result.sha256);
	CHECK(n == 0 || n == 64);
	CHECK(strnlen(inv->result.disk, sizeof(inv->result.disk)) < sizeof(inv->result.disk));
	if (inv->step != INV_STEP_FAILED) {
		CHECK(inv->stage[0] == '\0' && inv->error[0] == '\0');
		return;
	}
	CHECK(inv->stage[0] && strnlen(inv->stage, sizeof(inv->stage)) < sizeof(inv->stage));
	n = strnlen(inv->error, sizeof(inv->error));
	CHECK(n >= 1 && n <= INV_ERROR_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(inv->error[i] >= 0x20 && inv->error[i] <= 0x7e);
	CHECK(inv->error[0] != ' ' && inv->error[n - 1] != ' ');
}

static void check_limits(const struct inventory *inv)
{
	static const uint8_t zero[6];

	CHECK(inv->purpose == INV_ENLIST || inv->purpose == INV_COMMISSION || inv->purpose == INV_DEPLOY ||
	      inv->purpose == INV_ERASE);
	if (inventory_is_step(inv)) {
		check_step(inv);
		return;
	}
	CHECK(inv->step == INV_STEP_NONE);
	CHECK(strlen(inv->token) == (inv->purpose == INV_COMMISSION ? INV_TOKEN_LEN : 0));
	CHECK(inv->arch[0] && strnlen(inv->arch, sizeof(inv->arch)) < sizeof(inv->arch));
	check_text(inv->vendor, sizeof(inv->vendor));
	check_text(inv->product, sizeof(inv->product));
	check_text(inv->serial, sizeof(inv->serial));
	check_text(inv->uuid, sizeof(inv->uuid));
	check_text(inv->cpu_model, sizeof(inv->cpu_model));
	CHECK(inv->cpu_count >= 1 && inv->cpu_count <= 65536);
	CHECK(inv->memory_mib >= 1 && inv->memory_mib <= 1ULL << 40);
	CHECK(inv->n_disks <= INV_DISKS_MAX);
	CHECK(inv->n_nics >= 1 && inv->n_nics <= INV_NICS_MAX);
	uint64_t sum = 0;
	for (size_t i = 0; i < inv->n_disks; i++) {
		const struct inv_disk *d = &inv->disks[i];
		CHECK(d->name[0] && strnlen(d->name, sizeof(d->name)) < sizeof(d->name));
		CHECK(d->size_bytes <= 1ULL << 62);
		check_text(d->model, sizeof(d->model));
		check_text(d->serial, sizeof(d->serial));
		sum = sum + d->size_bytes < sum ? UINT64_MAX : sum + d->size_bytes;
	}
	CHECK(inventory_storage_bytes(inv) == sum);
	for (size_t i = 0; i < inv->n_nics; i++) {
		const struct inv_nic *n = &inv->nics[i];
		CHECK(n->name[0] && strnlen(n->name, sizeof(n->name)) < sizeof(n->name));
		CHECK(memcmp(n->mac, zero, 6) != 0 && !(n->mac[0] & 1));
		for (size_t j = 0; j < i; j++)
			CHECK(memcmp(n->mac, inv->nics[j].mac, 6) != 0);
		check_text(n->driver, sizeof(n->driver));
		CHECK(n->speed_mbps <= 10000000);
	}
}

/* Field by field: the structs carry padding and bytes past each NUL. */
static void check_same(const struct inventory *a, const struct inventory *b)
{
	CHECK(a->purpose == b->purpose && strcmp(a->token, b->token) == 0);
	CHECK(a->has_boot_mac == b->has_boot_mac && (!a->has_boot_mac || memcmp(a->boot_mac, b->boot_mac, 6) == 0));
	CHECK(a->step == b->step && a->has_result == b->has_result);
	CHECK(strcmp(a->result.disk, b->result.disk) == 0 && strcmp(a->result.sha256, b->result.sha256) == 0);
	CHECK(a->result.bytes == b->result.bytes && a->result.download_ms == b->result.download_ms);
	CHECK(a->result.write_ms == b->result.write_ms);
	CHECK(strcmp(a->stage, b->stage) == 0 && strcmp(a->error, b->error) == 0);
	CHECK(strcmp(a->arch, b->arch) == 0 && strcmp(a->vendor, b->vendor) == 0);
	CHECK(strcmp(a->product, b->product) == 0 && strcmp(a->serial, b->serial) == 0);
	CHECK(strcmp(a->uuid, b->uuid) == 0 && strcmp(a->cpu_model, b->cpu_model) == 0);
	CHECK(a->cpu_count == b->cpu_count && a->memory_mib == b->memory_mib);
	CHECK(a->n_disks == b->n_disks && a->n_nics == b->n_nics);
	for (size_t i = 0; i < a->n_disks; i++) {
		const struct inv_disk *x = &a->disks[i], *y = &b->disks[i];
		CHECK(strcmp(x->name, y->name) == 0 && x->size_bytes == y->size_bytes);
		CHECK(strcmp(x->model, y->model) == 0 && strcmp(x->serial, y->serial) == 0);
		CHECK(x->rotational == y->rotational);
	}
	for (size_t i = 0; i < a->n_nics; i++) {
		const struct inv_nic *x = &a->nics[i], *y = &b->nics[i];
		CHECK(strcmp(x->name, y->name) == 0 && memcmp(x->mac, y->mac, 6) == 0);
		CHECK(strcmp(x->driver, y->driver) == 0);
		CHECK(x->speed_mbps == y->speed_mbps && x->carrier == y->carrier);
	}
}

static void check_refusal(int r, const char *msg)
{
	CHECK(r == -EINVAL || r == -E2BIG);
	const char *colon = strstr(msg, ": ");
	CHECK(colon && colon > msg && colon[2]);
	for (const char *q = msg; *q; q++)
		CHECK(*q >= 0x20 && *q <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = xmalloc(size ? size : 1);
	char msg[512] = "";
	struct inventory inv, again;

	memcpy(body, data, size);
	int r = inventory_parse(body, size, &inv, msg, sizeof(msg));
	free(body);
	if (r < 0) {
		check_refusal(r, msg);
		return 0;
	}
	CHECK(r == 0);
	check_limits(&inv);

	json_t *j = inventory_to_json(&inv);
	CHECK(j && json_object_get(j, "token") == NULL);
	CHECK((json_object_get(j, inventory_is_step(&inv) ? "mac" : "boot_mac") != NULL) == inv.has_boot_mac);
	if (inv.purpose != INV_ENLIST)
		CHECK(json_object_set_new(j, "token", json_string(inv.token)) == 0);
	char *out = json_dumps(j, JSON_COMPACT);
	CHECK(out);
	json_decref(j);
	/* Defaults written out can make a body near the limit larger. */
	size_t n = strlen(out);
	if (n <= INV_BODY_MAX) {
		r = inventory_parse(out, n, &again, msg, sizeof(msg));
		CHECK(r == 0);
		check_same(&inv, &again);
		inventory_free(&again);
	}
	free(out);
	inventory_free(&inv);
	CHECK(inv.disks == NULL && inv.nics == NULL);
	return 0;
}
