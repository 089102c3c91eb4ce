/* Shared read-only file contents for TFTP transfers.
 *
 * Each distinct file is mapped once and shared by every transfer that sends
 * it; entries are reference-counted and unmapped when the last transfer
 * puts them back, so the cache holds exactly the files in flight (the page
 * cache keeps them warm between boots).
 *
 * The key is name + device + inode + mtime + size (+ mode): a file
 * replaced by rename gets a new inode, a file rewritten in place a new
 * mtime, so new transfers pick up the new content while running ones
 * finish with the version they started with.
 *
 * netascii transfers get a converted private copy (LF -> CR LF, CR -> CR
 * NUL, RFC 1350/RFC 764), built once per file version with pread(), up to
 * TFTP_NETASCII_MAX bytes of source.
 *
 * A mapping of a file that someone truncates afterwards faults (SIGBUS) when
 * read beyond the new end. The shell therefore never reads an octet file's
 * data itself: it passes pointers into the mapping to sendmsg(), and the
 * kernel reports such a page as EFAULT instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define TFTP_NETASCII_MAX (16u << 20)

struct tftp_cache;

struct tftp_file {
	const uint8_t *data; /* size bytes; NULL when size is 0. Owned by the cache. */
	uint64_t size;
	/* Private to the cache. */
	struct tftp_file *next;
	unsigned refs;
	bool netascii;
	bool mapped; /* data is an mmap (else malloc'd) */
	bool memory; /* from tftp_cache_memory(): one transfer's own, not shared */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	uint64_t file_size; /* size on disk */
	char name[];
};

int tftp_cache_new(struct tftp_cache **ret);
/* Every file must have been put back. NULL is fine. */
void tftp_cache_free(struct tftp_cache *c);

/* A reference to the contents of fd (open read-only on the regular file
 * called name, st its fstat()). The cache does not keep fd; the caller
 * closes it. -EFBIG: too large for netascii; -ENOMEM; mmap/pread errors. */
int tftp_cache_get(struct tftp_cache *c, const char *name, int fd, const struct stat *st, bool netascii,
		   struct tftp_file **ret);
/* An in-memory file, such as a boot config rendered for one request:
 * data is copied (converted when netascii). It is not shared: the one
 * reference belongs to the caller, and putting it back frees it. -EFBIG
 * over TFTP_NETASCII_MAX for netascii; -ENOMEM. */
int tftp_cache_memory(struct tftp_cache *c, const char *name, const void *data, size_t len, bool netascii,
		      struct tftp_file **ret);

/* Drop a reference; the last one unmaps the file. */
void tftp_cache_put(struct tftp_cache *c, struct tftp_file *f);

/* Files currently held (for tests and statistics). */
size_t tftp_cache_count(const struct tftp_cache *c);
