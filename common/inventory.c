/* The agent's inventory report (common/inventory.h, docs/machines.md).
 *
 * Pure: no I/O, no globals, no logging. Every check names the field by
 * its path; only our own key names ever reach a message (never a key or
 * a value of the body), so a message is printable ASCII and safe to send
 * back to the agent. The first problem found is the one reported. */
#include "common/inventory.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/net.h"
#include "common/util.h"

/* Our schema nests three deep; fields we do not know may nest more, but
 * not enough to make jansson recurse far (its own limit is 2048). */
#define INV_DEPTH_MAX	32
#define INV_AT_MAX	32 /* "disks[255]" */
#define INV_PATH_MAX	64 /* "disks[255].size_bytes" */
#define CPU_COUNT_MAX	65536
#define MEMORY_MIB_MAX	(1ULL << 40)
#define DISK_SIZE_MAX	(1ULL << 62)
#define NIC_SPEED_MAX	10000000
#define ARCH_CHARS	"abcdefghijklmnopqrstuvwxyz0123456789_"
#define DISK_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define IFNAME_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-"
#define DISK_PATH_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-"
#define STAGE_CHARS	"abcdefghijklmnopqrstuvwxyz0123456789_-"
#define HEX_CHARS	"0123456789abcdef"
#define STEP_BYTES_MAX	(1ULL << 62)
#define STEP_MS_MAX	(1ULL << 40)

/* "obj.key", or "key" at the top. */
static const char *path_join(char *buf, size_t len, const char *obj, const char *key)
{
	if (obj)
		snprintf(buf, len, "%s.%s", obj, key);
	else
		snprintf(buf, len, "%s", key);
	return buf;
}

static int fail(char *err, size_t errlen, const char *obj, const char *key, const char *what)
{
	char p[INV_PATH_MAX];
	err_set(err, errlen, "%s: %s", path_join(p, sizeof(p), obj, key), what);
	return -EINVAL;
}

/* Deepest nesting of [ and { outside strings; stops counting past max. */
static size_t body_depth(const char *buf, size_t len, size_t max)
{
	size_t depth = 0, deepest = 0;
	bool in_str = false;

	for (size_t i = 0; i < len && deepest <= max; i++) {
		char c = buf[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > deepest)
				deepest = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}

/* An S field: printable ASCII, blanks trimmed, at most INV_STR_MAX bytes.
 * Absent: "" (or "required" when required). */
static int get_text(const json_t *o, const char *obj, const char *key, bool required, char out[INV_STR_MAX + 1],
		    char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (!v)
		return required ? fail(err, errlen, obj, key, "required") : 0;
	if (!json_is_string(v))
		return fail(err, errlen, obj, key, "must be a string");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return fail(err, errlen, obj, key, "must be printable ASCII");
	while (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n > INV_STR_MAX) {
		char p[INV_PATH_MAX];
		err_set(err, errlen, "%s: at most %d bytes", path_join(p, sizeof(p), obj, key), INV_STR_MAX);
		return -EINVAL;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* A name from a fixed set of characters, 1..max of them, not trimmed. */
static int get_name(const json_t *o, const char *obj, const char *key, const char *chars, size_t max, char *out,
		    const char *what, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return fail(err, errlen, obj, key, "required");
	if (!json_is_string(v))
		return fail(err, errlen, obj, key, what);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n > max || strspn(s, chars) != n)
		return fail(err, errlen, obj, key, what);
	memcpy(out, s, n + 1);
	return 0;
}

/* A JSON integer in min..max; absent: def, or "required". */
static int get_uint(const json_t *o, const char *obj, const char *key, bool required, uint64_t min, uint64_t max,
		    uint64_t def, uint64_t *ret, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	char p[INV_PATH_MAX];

	if (!v) {
		if (required)
			return fail(err, errlen, obj, key, "required");
		*ret = def;
		return 0;
	}
	json_int_t i = json_is_integer(v) ? json_integer_value(v) : -1;
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
		err_set(err, errlen, "%s: must be an integer from %llu to %llu", path_join(p, sizeof(p), obj, key),
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*ret = (uint64_t)i;
	return 0;
}

/* Optional, false when absent. */
static int get_bool(const json_t *o, const char *obj, const char *key, bool *ret, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	*ret = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(err, errlen, obj, key, "must be true or false");
	*ret = json_is_true(v);
	return 0;
}

/* An interface's own address: not all-zero, not multicast (a report of
 * either is a broken agent or a forged body, and would match nothing). */
static int get_mac(const json_t *o, const char *obj, const char *key, uint8_t mac[6], char *err, size_t errlen)
{
	static const uint8_t zero[6];
	const json_t *v = json_object_get(o, key);

	if (!v)
		return fail(err, errlen, obj, key, "required");
	if (!json_is_string(v) || json_string_length(v) != MAC_STRLEN - 1 || mac_parse(json_string_value(v), mac) < 0)
		return fail(err, errlen, obj, key, "not a MAC address");
	if (memcmp(mac, zero, sizeof(zero)) == 0)
		return fail(err, errlen, obj, key, "must not be all zero");
	if (mac[0] & 1)
		return fail(err, errlen, obj, key, "must not be a multicast address");
	return 0;
}

static bool is_token(const char *s, size_t n)
{
	if (n != INV_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int parse_purpose_token(const json_t *root, struct inventory *inv, char *err, size_t errlen)
{
	const json_t *p = json_object_get(root, "purpose"), *t = json_object_get(root, "token");

	if (!p)
		return fail(err, errlen, NULL, "purpose", "required");
	const char *ps = json_string_value(p);
	if (ps && strcmp(ps, "enlist") == 0)
		inv->purpose = INV_ENLIST;
	else if (ps && strcmp(ps, "commission") == 0)
		inv->purpose = INV_COMMISSION;
	else if (ps && strcmp(ps, "deploy") == 0)
		inv->purpose = INV_DEPLOY;
	else if (ps && strcmp(ps, "erase") == 0)
		inv->purpose = INV_ERASE;
	else
		return fail(err, errlen, NULL, "purpose", "must be enlist, commission, deploy or erase");

	if (t && !json_is_string(t))
		return fail(err, errlen, NULL, "token", "must be a string");
	const char *ts = t ? json_string_value(t) : "";
	size_t tn = t ? json_string_length(t) : 0;
	if (inv->purpose == INV_ENLIST) {
		if (tn != 0)
			return fail(err, errlen, NULL, "token", "must be empty for enlist");
		return 0;
	}
	if (tn == 0) {
		err_set(err, errlen, "token: required for %s", inventory_purpose_name(inv->purpose));
		return -EINVAL;
	}
	if (!is_token(ts, tn))
		return fail(err, errlen, NULL, "token", "must be 64 lowercase hex digits");
	memcpy(inv->token, ts, tn + 1);
	return 0;
}

static int parse_system_cpu(const json_t *root, struct inventory *inv, char *err, size_t errlen)
{
	const json_t *sys = json_object_get(root, "system"), *cpu = json_object_get(root, "cpu");
	uint64_t v;
	int r;

	if (sys && !json_is_object(sys))
		return fail(err, errlen, NULL, "system", "must be an object");
	if (sys && ((r = get_text(sys, "system", "vendor", false, inv->vendor, err, errlen)) < 0 ||
		    (r = get_text(sys, "system", "product", false, inv->product, err, errlen)) < 0 ||
		    (r = get_text(sys, "system", "serial", false, inv->serial, err, errlen)) < 0 ||
		    (r = get_text(sys, "system", "uuid", false, inv->uuid, err, errlen)) < 0))
		return r;

	if (!cpu)
		return fail(err, errlen, NULL, "cpu", "required");
	if (!json_is_object(cpu))
		return fail(err, errlen, NULL, "cpu", "must be an object");
	if ((r = get_uint(cpu, "cpu", "count", true, 1, CPU_COUNT_MAX, 0, &v, err, errlen)) < 0)
		return r;
	inv->cpu_count = (uint32_t)v;
	return get_text(cpu, "cpu", "model", false, inv->cpu_model, err, errlen);
}

static int parse_disk(const json_t *o, const char *at, struct inv_disk *d, char *err, size_t errlen)
{
	int r;

	if (!json_is_object(o))
		return fail(err, errlen, NULL, at, "must be an object");
	if ((r = get_name(o, at, "name", DISK_NAME_CHARS, sizeof(d->name) - 1, d->name,
			  "must be 1 to 31 of A-Z, a-z, 0-9, '.', '_' and '-'", err, errlen)) < 0 ||
	    (r = get_uint(o, at, "size_bytes", true, 0, DISK_SIZE_MAX, 0, &d->size_bytes, err, errlen)) < 0 ||
	    (r = get_text(o, at, "model", false, d->model, err, errlen)) < 0 ||
	    (r = get_text(o, at, "serial", false, d->serial, err, errlen)) < 0 ||
	    (r = get_bool(o, at, "rotational", &d->rotational, err, errlen)) < 0)
		return r;
	return 0;
}

static int parse_nic(const json_t *o, const char *at, struct inv_nic *n, char *err, size_t errlen)
{
	uint64_t speed;
	int r;

	if (!json_is_object(o))
		return fail(err, errlen, NULL, at, "must be an object");
	if ((r = get_name(o, at, "name", IFNAME_CHARS, sizeof(n->name) - 1, n->name,
			  "must be 1 to 15 of A-Z, a-z, 0-9, '.', '_', ':', '@' and '-'", err, errlen)) < 0 ||
	    (r = get_mac(o, at, "mac", n->mac, err, errlen)) < 0 ||
	    (r = get_text(o, at, "driver", false, n->driver, err, errlen)) < 0 ||
	    (r = get_uint(o, at, "speed_mbps", false, 0, NIC_SPEED_MAX, 0, &speed, err, errlen)) < 0 ||
	    (r = get_bool(o, at, "carrier", &n->carrier, err, errlen)) < 0)
		return r;
	n->speed_mbps = (uint32_t)speed;
	return 0;
}

/* The list under key: an array of at least min and at most max items
 * (-E2BIG past it, checked before anything is allocated). */
static int get_list(const json_t *root, const char *key, size_t min, size_t max, const json_t **ret, char *err,
		    size_t errlen)
{
	const json_t *a = json_object_get(root, key);

	if (!a)
		return fail(err, errlen, NULL, key, "required");
	if (!json_is_array(a))
		return fail(err, errlen, NULL, key, "must be an array");
	if (json_array_size(a) > max) {
		err_set(err, errlen, "%s: at most %zu", key, max);
		return -E2BIG;
	}
	if (json_array_size(a) < min)
		return fail(err, errlen, NULL, key, "at least one");
	*ret = a;
	return 0;
}

static int parse_lists(const json_t *root, struct inventory *inv, char *err, size_t errlen)
{
	const json_t *disks, *nics;
	char at[INV_AT_MAX];
	int r;

	if ((r = get_list(root, "disks", 0, INV_DISKS_MAX, &disks, err, errlen)) < 0)
		return r;
	inv->n_disks = json_array_size(disks);
	inv->disks = xcalloc(inv->n_disks ? inv->n_disks : 1, sizeof(*inv->disks));
	for (size_t i = 0; i < inv->n_disks; i++) {
		snprintf(at, sizeof(at), "disks[%zu]", i);
		if ((r = parse_disk(json_array_get(disks, i), at, &inv->disks[i], err, errlen)) < 0)
			return r;
	}

	if ((r = get_list(root, "nics", 1, INV_NICS_MAX, &nics, err, errlen)) < 0)
		return r;
	inv->n_nics = json_array_size(nics);
	inv->nics = xcalloc(inv->n_nics, sizeof(*inv->nics));
	for (size_t i = 0; i < inv->n_nics; i++) {
		snprintf(at, sizeof(at), "nics[%zu]", i);
		if ((r = parse_nic(json_array_get(nics, i), at, &inv->nics[i], err, errlen)) < 0)
			return r;
		/* At most 128 NICs: the quadratic check is 8,128 compares. */
		for (size_t j = 0; j < i; j++)
			if (memcmp(inv->nics[j].mac, inv->nics[i].mac, 6) == 0) {
				err_set(err, errlen, "nics[%zu].mac: the same MAC as nics[%zu]", i, j);
				return -EINVAL;
			}
	}
	return 0;
}

/* A failed step's error: kept whatever it holds (the failure matters
 * more than its spelling), made printable, trimmed and cut. */
static int get_error(const json_t *o, char out[INV_ERROR_MAX + 1], char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, "error");

	if (!v)
		return fail(err, errlen, NULL, "error", "required for a failed step");
	if (!json_is_string(v))
		return fail(err, errlen, NULL, "error", "must be a string");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), o_len = 0;
	while (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n == 0)
		return fail(err, errlen, NULL, "error", "must not be empty");
	bool cut = n > INV_ERROR_MAX;
	size_t keep = cut ? INV_ERROR_MAX - 3 : n;
	for (size_t i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o_len++] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	if (cut) {
		memcpy(out + o_len, "...", 3);
		o_len += 3;
	}
	out[o_len] = '\0';
	return 0;
}

static int parse_result(const json_t *o, struct inv_result *res, char *err, size_t errlen)
{
	const json_t *v;
	int r;

	if (!json_is_object(o))
		return fail(err, errlen, NULL, "result", "must be an object");
	if (json_object_get(o, "disk") &&
	    (r = get_name(o, "result", "disk", DISK_PATH_CHARS, sizeof(res->disk) - 1, res->disk,
			  "must be 1 to 63 of A-Z, a-z, 0-9, '/', '.', '_' and '-'", err, errlen)) < 0)
		return r;
	if ((r = get_uint(o, "result", "bytes", false, 0, STEP_BYTES_MAX, 0, &res->bytes, err, errlen)) < 0 ||
	    (r = get_uint(o, "result", "download_ms", false, 0, STEP_MS_MAX, 0, &res->download_ms, err, errlen)) < 0 ||
	    (r = get_uint(o, "result", "write_ms", false, 0, STEP_MS_MAX, 0, &res->write_ms, err, errlen)) < 0)
		return r;
	if ((v = json_object_get(o, "sha256")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) != 64 || strspn(json_string_value(v), HEX_CHARS) != 64)
			return fail(err, errlen, "result", "sha256", "must be 64 lowercase hex digits");
		memcpy(res->sha256, json_string_value(v), 65);
	}
	return 0;
}

/* A deploy or erase report: mac, step and what the step says. */
static int parse_step(const json_t *root, struct inventory *inv, char *err, size_t errlen)
{
	const json_t *v = json_object_get(root, "step");
	int r;

	if (json_object_get(root, "mac")) {
		if ((r = get_mac(root, NULL, "mac", inv->boot_mac, err, errlen)) < 0)
			return r;
		inv->has_boot_mac = true;
	}
	if (!v)
		return fail(err, errlen, NULL, "step", "required");
	const char *s = json_string_value(v);
	if (s && strcmp(s, "start") == 0)
		inv->step = INV_STEP_START;
	else if (s && strcmp(s, "done") == 0)
		inv->step = INV_STEP_DONE;
	else if (s && strcmp(s, "failed") == 0)
		inv->step = INV_STEP_FAILED;
	else
		return fail(err, errlen, NULL, "step", "must be start, done or failed");
	if (inv->step == INV_STEP_DONE && (v = json_object_get(root, "result")) != NULL) {
		if ((r = parse_result(v, &inv->result, err, errlen)) < 0)
			return r;
		inv->has_result = true;
	}
	if (inv->step != INV_STEP_FAILED)
		return 0;
	if ((r = get_name(root, NULL, "stage", STAGE_CHARS, sizeof(inv->stage) - 1, inv->stage,
			  "must be 1 to 15 of a-z, 0-9, '_' and '-'", err, errlen)) < 0)
		return r;
	return get_error(root, inv->error, err, errlen);
}

static int parse_root(const json_t *root, struct inventory *inv, char *err, size_t errlen)
{
	uint64_t mem;
	int r;

	if ((r = parse_purpose_token(root, inv, err, errlen)) < 0)
		return r;
	if (inventory_is_step(inv))
		return parse_step(root, inv, err, errlen);
	if (json_object_get(root, "boot_mac")) {
		if ((r = get_mac(root, NULL, "boot_mac", inv->boot_mac, err, errlen)) < 0)
			return r;
		inv->has_boot_mac = true;
	}
	if ((r = get_name(root, NULL, "arch", ARCH_CHARS, sizeof(inv->arch) - 1, inv->arch,
			  "must be 1 to 15 of a-z, 0-9 and _", err, errlen)) < 0)
		return r;
	if ((r = parse_system_cpu(root, inv, err, errlen)) < 0)
		return r;
	if ((r = get_uint(root, NULL, "memory_mib", true, 1, MEMORY_MIB_MAX, 0, &mem, err, errlen)) < 0)
		return r;
	inv->memory_mib = mem;
	return parse_lists(root, inv, err, errlen);
}

/* jansson's message may quote the body's bytes: keep it printable. */
static void err_json(char *err, size_t errlen, const json_error_t *je)
{
	err_set(err, errlen, "body: not JSON (line %d column %d: %s)", je->line, je->column, je->text);
	for (char *p = err; err && errlen > 0 && *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

int inventory_parse(const char *buf, size_t len, struct inventory *ret, char *err, size_t errlen)
{
	struct inventory inv;
	json_error_t je;
	int r;

	if (len > INV_BODY_MAX) {
		err_set(err, errlen, "body: larger than %d bytes", INV_BODY_MAX);
		return -E2BIG;
	}
	if (body_depth(buf, len, INV_DEPTH_MAX) > INV_DEPTH_MAX) {
		err_set(err, errlen, "body: nested deeper than %d", INV_DEPTH_MAX);
		return -EINVAL;
	}
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root) {
		err_json(err, errlen, &je);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		err_set(err, errlen, "body: must be an object");
		return -EINVAL;
	}
	memset(&inv, 0, sizeof(inv));
	r = parse_root(root, &inv, err, errlen);
	json_decref(root);
	if (r < 0) {
		inventory_free(&inv);
		return r;
	}
	*ret = inv;
	return 0;
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	free(inv->disks);
	free(inv->nics);
	inv->disks = NULL;
	inv->nics = NULL;
	inv->n_disks = 0;
	inv->n_nics = 0;
}

static json_t *checked(json_t *j)
{
	if (!j)
		oom_abort(0);
	return j;
}

static void append(json_t *a, json_t *v)
{
	if (json_array_append_new(a, checked(v)) < 0)
		oom_abort(0);
}

static void set_new(json_t *o, const char *key, json_t *v)
{
	if (json_object_set_new(o, key, checked(v)) < 0)
		oom_abort(0);
}

static json_t *step_to_json(const struct inventory *inv)
{
	char mac[MAC_STRLEN];
	json_t *j = checked(json_pack("{s:s, s:s}", "purpose", inventory_purpose_name(inv->purpose), "step",
				      inventory_step_name(inv->step)));

	if (inv->has_boot_mac)
		set_new(j, "mac", json_string(mac_format(inv->boot_mac, mac, sizeof(mac))));
	if (inv->step == INV_STEP_DONE && inv->has_result) {
		const struct inv_result *r = &inv->result;
		json_t *o = checked(json_pack("{s:I, s:I, s:I}", "bytes", (json_int_t)r->bytes, "download_ms",
					      (json_int_t)r->download_ms, "write_ms", (json_int_t)r->write_ms));
		if (r->disk[0])
			set_new(o, "disk", json_string(r->disk));
		if (r->sha256[0])
			set_new(o, "sha256", json_string(r->sha256));
		set_new(j, "result", o);
	}
	if (inv->step == INV_STEP_FAILED) {
		set_new(j, "stage", json_string(inv->stage));
		set_new(j, "error", json_string(inv->error));
	}
	return j;
}

json_t *inventory_to_json(const struct inventory *inv)
{
	if (inventory_is_step(inv))
		return step_to_json(inv);
	char mac[MAC_STRLEN];
	json_t *disks = checked(json_array()), *nics = checked(json_array());

	for (size_t i = 0; i < inv->n_disks; i++) {
		const struct inv_disk *d = &inv->disks[i];
		append(disks,
		       json_pack("{s:s, s:I, s:s, s:s, s:b}", "name", d->name, "size_bytes", (json_int_t)d->size_bytes,
				 "model", d->model, "serial", d->serial, "rotational", d->rotational));
	}
	for (size_t i = 0; i < inv->n_nics; i++) {
		const struct inv_nic *n = &inv->nics[i];
		append(nics, json_pack("{s:s, s:s, s:s, s:I, s:b}", "name", n->name, "mac",
				       mac_format(n->mac, mac, sizeof(mac)), "driver", n->driver, "speed_mbps",
				       (json_int_t)n->speed_mbps, "carrier", n->carrier));
	}
	json_t *j = checked(json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:I, s:s}, s:I, s:o, s:o}", "purpose",
				      inventory_purpose_name(inv->purpose), "arch", inv->arch, "system", "vendor",
				      inv->vendor, "product", inv->product, "serial", inv->serial, "uuid", inv->uuid,
				      "cpu", "count", (json_int_t)inv->cpu_count, "model", inv->cpu_model, "memory_mib",
				      (json_int_t)inv->memory_mib, "disks", disks, "nics", nics));
	if (inv->has_boot_mac &&
	    json_object_set_new(j, "boot_mac", checked(json_string(mac_format(inv->boot_mac, mac, sizeof(mac))))) < 0)
		oom_abort(0);
	return j;
}

uint64_t inventory_storage_bytes(const struct inventory *inv)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < inv->n_disks; i++) {
		if (inv->disks[i].size_bytes > UINT64_MAX - sum)
			return UINT64_MAX;
		sum += inv->disks[i].size_bytes;
	}
	return sum;
}

const char *inventory_purpose_name(enum inv_purpose p)
{
	switch (p) {
	case INV_ENLIST:
		return "enlist";
	case INV_COMMISSION:
		return "commission";
	case INV_DEPLOY:
		return "deploy";
	case INV_ERASE:
		return "erase";
	}
	return "unknown";
}

bool inventory_is_step(const struct inventory *inv)
{
	return inv->purpose == INV_DEPLOY || inv->purpose == INV_ERASE;
}

const char *inventory_step_name(enum inv_step s)
{
	switch (s) {
	case INV_STEP_NONE:
		return "";
	case INV_STEP_START:
		return "start";
	case INV_STEP_DONE:
		return "done";
	case INV_STEP_FAILED:
		return "failed";
	}
	return "";
}
