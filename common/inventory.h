/* A machine's inventory as its ephemeral agent posts it (docs/machines.md,
 * "The agent's report"): the codec both daemons use. The rack checks a
 * post with it before forwarding it; the region checks it again before it
 * stores anything (it never trusts the rack's check). Pure: no I/O, no
 * clock, no logging; re-entrant. Fuzzed by tests/fuzz/fuzz_inventory.c.
 *
 * The JSON (one object; fields not listed here are ignored):
 *
 *   {"purpose": "enlist" | "commission",            required
 *    "token": "64 lowercase hex",                   commission: required; enlist: absent or ""
 *    "boot_mac": "aa:bb:cc:dd:ee:ff",               optional
 *    "arch": "amd64",                               required, [a-z0-9_]{1,15}
 *    "system": {"vendor": S, "product": S,          optional, each optional
 *               "serial": S, "uuid": S},
 *    "cpu": {"count": N, "model": S},               required; count 1..65536
 *    "memory_mib": N,                               required; 1..2^40
 *    "disks": [{"name": "vda", "size_bytes": N,     required (may be empty), at most INV_DISKS_MAX
 *               "model": S, "serial": S,            name: [A-Za-z0-9._-]{1,31}; size 0..2^62
 *               "rotational": bool}],               model/serial optional, rotational default false
 *    "nics": [{"name": "eth0", "mac": "aa:..",      required, 1..INV_NICS_MAX; MACs distinct, not
 *              "driver": S, "speed_mbps": N,        all-zero, not multicast; name like a kernel
 *              "carrier": bool}]}                   interface name (1..15 of [A-Za-z0-9._:@-]);
 *                                                   speed 0..10^7 (0 = unknown)
 *
 * A deploy or erase report (docs/deploy.md, "The agent's protocol") has
 * another shape; the hardware fields above are not read:
 *
 *   {"purpose": "deploy" | "erase",                 required
 *    "token": "64 lowercase hex",                   required
 *    "mac": "aa:bb:cc:dd:ee:ff",                    optional: the boot MAC (boot_mac above)
 *    "step": "start" | "done" | "failed",           required
 *    "result": {"disk": "/dev/vda", "bytes": N,     done: optional, each field optional; disk
 *               "download_ms": N, "write_ms": N,    1..63 of A-Za-z0-9/._-; bytes 0..2^62;
 *               "sha256": "64 lowercase hex"},      the times 0..2^40
 *    "stage": "download",                           failed: required, 1..15 of a-z0-9_-
 *                                                   (deploy: download, verify, write, seed;
 *                                                   erase: erase)
 *    "error": S}                                    failed: required, 1.. bytes; unlike S it is
 *                                                   never refused: bytes outside printable
 *                                                   ASCII become '?', blanks are trimmed, and
 *                                                   past INV_ERROR_MAX it is cut, ending "..."
 *
 * S: a string of at most INV_STR_MAX bytes of printable ASCII (0x20..0x7e;
 * DMI and sysfs text is ASCII). Leading and trailing blanks are trimmed.
 * Integers are JSON integers (not reals, not strings).
 *
 * Errors name the field as a path, e.g. "disks[2].size_bytes: must be an
 * integer from 0 to 4611686018427387904", "nics: at most 128", "cpu.count:
 * required", "body: not JSON (line 1 column 7: ...)". */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INV_BODY_MAX  (256 * 1024) /* bytes of one post */
#define INV_STR_MAX   256
#define INV_DISKS_MAX 256
#define INV_NICS_MAX  128
#define INV_TOKEN_LEN 64  /* hex digits */
#define INV_ERROR_MAX 480 /* bytes of a failed step's error, as kept */

enum inv_purpose {
	INV_ENLIST,
	INV_COMMISSION,
	INV_DEPLOY,
	INV_ERASE,
};

/* A deploy or erase report's step; INV_STEP_NONE for enlist and commission. */
enum inv_step {
	INV_STEP_NONE,
	INV_STEP_START,
	INV_STEP_DONE,
	INV_STEP_FAILED,
};

/* What a done step says it did. */
struct inv_result {
	char disk[64]; /* "" = not said */
	uint64_t bytes;
	uint64_t download_ms;
	uint64_t write_ms;
	char sha256[65]; /* "" = not said */
};

struct inv_disk {
	char name[32];
	uint64_t size_bytes;
	char model[INV_STR_MAX + 1];
	char serial[INV_STR_MAX + 1];
	bool rotational;
};

struct inv_nic {
	char name[16];
	uint8_t mac[6];
	char driver[INV_STR_MAX + 1];
	uint32_t speed_mbps;
	bool carrier;
};

struct inventory {
	enum inv_purpose purpose;
	char token[INV_TOKEN_LEN + 1]; /* "" for enlist */
	bool has_boot_mac;
	uint8_t boot_mac[6];
	char arch[16];
	char vendor[INV_STR_MAX + 1];
	char product[INV_STR_MAX + 1];
	char serial[INV_STR_MAX + 1];
	char uuid[INV_STR_MAX + 1];
	uint32_t cpu_count;
	char cpu_model[INV_STR_MAX + 1];
	uint64_t memory_mib;
	struct inv_disk *disks; /* malloc'd */
	size_t n_disks;
	struct inv_nic *nics; /* malloc'd */
	size_t n_nics;
	/* deploy and erase (the hardware fields above stay empty) */
	enum inv_step step;
	bool has_result; /* done: a result object was posted */
	struct inv_result result;
	char stage[16];		       /* failed */
	char error[INV_ERROR_MAX + 1]; /* failed */
};

/* Parse and check len bytes (not NUL-terminated necessarily). 0, or
 * -EINVAL with err naming the field ("field: what is wrong"), -E2BIG when
 * len > INV_BODY_MAX or a list is too long. *ret is filled only on
 * success; free it with inventory_free. */
int inventory_parse(const char *buf, size_t len, struct inventory *ret, char *err, size_t errlen);
void inventory_free(struct inventory *inv);

/* The inventory as the region stores and shows it: the same shape as
 * the input, normalised (trimmed strings, MACs lowercase, token left
 * out). A deploy or erase report: {"purpose", "step", "mac"?, "result"?,
 * "stage"?, "error"?}. New reference. */
json_t *inventory_to_json(const struct inventory *inv);

/* Sum of the disks' sizes. */
uint64_t inventory_storage_bytes(const struct inventory *inv);

/* Is it a report of a deploy or erase step (purpose deploy or erase)? */
bool inventory_is_step(const struct inventory *inv);

const char *inventory_purpose_name(enum inv_purpose p);
/* "start", "done", "failed"; "" for INV_STEP_NONE. */
const char *inventory_step_name(enum inv_step s);
