/* Boot resources: the kernels and initrds the region publishes and racks
 * keep in their boot root, each named by a relative path and identified by
 * size + SHA-256.
 *
 * The pure parts (no I/O) are here: resource names, the manifest text
 * format, the wanted-versus-present diff, HTTP Range headers. The small
 * file helpers both daemons use (hashing a descriptor, opening a name's
 * directory without following symlinks) are at the end (bootres_fs.c).
 *
 * Names. A resource name is a relative path of 1..BOOTRES_NAME_MAX bytes:
 * components separated by single '/', none empty, none starting with '.'
 * (so no ".", "..", hidden files or our own temporaries), only the
 * characters A-Z a-z 0-9 and . _ - + ~ , = @, and not ending in ".part".
 * Such a name never needs quoting in a URL, a manifest line or a log line.
 *
 * Manifest. A text file of one line per file
 *     NAME SIZE MTIME_NS CTIME_NS INODE SHA256
 * (SHA256 lowercase hex) plus '#' comment lines; "# origin VALUE" records
 * what the entries belong to (the rack's boot root, the region's URL base).
 * It lets a daemon trust a file whose size, mtime, ctime and inode are what
 * they were when it was hashed, instead of hashing it again. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define BOOTRES_NAME_MAX   255
#define BOOTRES_MAX	   4096 /* resources in one list or manifest */
#define BOOTRES_ORIGIN_MAX 4096
#define BOOTRES_SHA256_HEX 65 /* 64 hex digits + NUL */

struct bootres_entry {
	char name[BOOTRES_NAME_MAX + 1];
	uint64_t size;
	int64_t mtime_ns; /* of the file when it was hashed; 0 = unknown */
	int64_t ctime_ns;
	uint64_t ino;
	char sha256[BOOTRES_SHA256_HEX]; /* "" = unknown */
};

/* 0, or -EINVAL / -ENAMETOOLONG / -EPERM with *ret_why (static text). */
int bootres_name_check(const char *name, const char **ret_why);
/* 64 lowercase hex digits? */
bool bootres_sha256_valid(const char *hex);

/* ---- manifest ---- */

struct bootres_manifest {
	char origin[BOOTRES_ORIGIN_MAX]; /* "" = none recorded */
	struct bootres_entry *e;	 /* malloc'd, n used of cap */
	size_t n, cap;
};

/* Parse manifest text into an empty (zeroed) m. Malformed lines, bad
 * names, duplicates and lines past BOOTRES_MAX are skipped and counted in
 * *ret_bad (may be NULL); they do not fail the parse. */
int bootres_manifest_parse(const char *text, size_t len, struct bootres_manifest *m, size_t *ret_bad);
/* The text of m, malloc'd and NUL-terminated. */
char *bootres_manifest_format(const struct bootres_manifest *m);
void bootres_manifest_done(struct bootres_manifest *m);
struct bootres_entry *bootres_manifest_find(const struct bootres_manifest *m, const char *name);
/* Add e, or replace the entry of the same name. -ENOSPC past BOOTRES_MAX. */
int bootres_manifest_put(struct bootres_manifest *m, const struct bootres_entry *e);
/* 1 if removed, 0 if there was no such entry. */
int bootres_manifest_remove(struct bootres_manifest *m, const char *name);

/* Does st still describe the file e was hashed from (size, mtime, ctime,
 * inode)? Record st in e. */
bool bootres_entry_stat_matches(const struct bootres_entry *e, const struct stat *st);
void bootres_entry_set_stat(struct bootres_entry *e, const struct stat *st);

/* ---- wanted versus present ---- */

/* Indexes: keep and fetch into want, remove into have. */
struct bootres_diff {
	size_t *keep, n_keep;	  /* present with the wanted size and sha256 */
	size_t *fetch, n_fetch;	  /* missing, different, or of unknown content */
	size_t *remove, n_remove; /* present but no longer wanted */
};

/* want: the list the region publishes (name, size, sha256). have: what the
 * rack holds, an entry's sha256 "" when its file is no longer known to be
 * the one hashed. A name in both lists is never in remove. Duplicate names
 * in want: -EINVAL. */
int bootres_diff(const struct bootres_entry *want, size_t n_want, const struct bootres_entry *have, size_t n_have,
		 struct bootres_diff *ret);
void bootres_diff_done(struct bootres_diff *d);

/* ---- HTTP Range (RFC 9110 14.2) ---- */

/* One "bytes=" range of a representation of size bytes. 0: serve the whole
 * file (no header, a header we do not understand, several ranges); 1: serve
 * *ret_first and *ret_len bytes as 206; -ERANGE: answer 416. */
int bootres_range_parse(const char *value, uint64_t size, uint64_t *ret_first, uint64_t *ret_len);

/* ---- file helpers (bootres_fs.c) ---- */

/* SHA-256 of everything in fd (pread from offset 0) as lowercase hex, and
 * the number of bytes read. -ECANCELED when *stop became true. */
int bootres_sha256_fd(int fd, const atomic_bool *stop, char ret_hex[BOOTRES_SHA256_HEX], uint64_t *ret_size);

/* An incremental SHA-256 (OpenSSL EVP underneath). */
struct bootres_hash;
struct bootres_hash *bootres_hash_new(void);
void bootres_hash_update(struct bootres_hash *h, const void *data, size_t len);
/* Final digest as hex; h is freed. */
void bootres_hash_final(struct bootres_hash *h, char ret_hex[BOOTRES_SHA256_HEX]);
void bootres_hash_free(struct bootres_hash *h);

/* The directory holding a checked name, opened below rootfd without
 * following any symlink (-ELOOP if one is in the way, -ENOTDIR for a file).
 * create: make missing directories (0755). Returns the new descriptor (the
 * caller closes it) and *ret_base, the last component, pointing into name. */
int bootres_dir_open(int rootfd, const char *name, bool create, const char **ret_base);
