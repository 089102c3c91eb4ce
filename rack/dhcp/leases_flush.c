/* The commit thread's part of a flush: it touches only the token, never
 * the store (leases.h). The batch's write and fdatasync, then the writes of
 * a compaction riding on it. Why each step of the compaction is
 * crash-safe is in leases.h (seq comparison). */
#include "rack/dhcp/leases_internal.h"

#include "common/fsutil.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is the file at path no longer the one fd has open (a rename replaced it)? */
static bool replaced(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && (stat(path, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev);
}

/* After the batch is durable: the snapshot, then a fresh journal. */
static void flush_compact(struct lease_flush *f)
{
	char p[PATH_MAX];
	uint8_t hdr[LEASE_FILE_HEADER_LEN];
	int64_t t0 = clock_mono_us();

	int r = fs_path_join(p, sizeof(p), f->dir, SNAP_NAME);
	if (r == 0)
		r = fs_write_atomic(p, f->snap, f->snap_len, 0600);
	/* The snapshot (seq = f->seq, the batch written just before) is in
	 * place. From here a crash, or a failure below, leaves the old
	 * journal: its records are all <= f->seq and are skipped at replay,
	 * and appending to it stays correct. */
	if (r == 0)
		r = fs_path_join(p, sizeof(p), f->dir, JOURNAL_NAME);
	if (r == 0) {
		lease_file_header_encode(hdr, LEASE_FILE_JOURNAL, f->seq);
		r = fs_write_atomic(p, hdr, sizeof(hdr), 0600);
		/* Failing after its rename (the directory's fsync), the fresh
		 * journal is in place all the same: the old fd must go. */
		if (r == 0 || replaced(f->fd, p)) {
			f->new_fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
			if (f->new_fd < 0) {
				r = -errno;
				f->compact_poison = true;
			}
		}
	}
	f->compact_result = r;
	f->compact_us = clock_mono_us() - t0;
}

int lease_flush_run(struct lease_flush *f)
{
	const uint8_t *p = f->buf;
	size_t left = f->len;

	f->result = 0;
	if (f->fd < 0)
		return 0; /* in-memory store */
	if (left == 0)
		goto compact; /* a flush of only a compaction */
	while (left > 0) {
		ssize_t n = write(f->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->result = n < 0 ? -errno : -EIO;
			return f->result;
		}
		p += n;
		left -= (size_t)n;
	}
	while (fdatasync(f->fd) < 0) {
		if (errno != EINTR) {
			f->result = -errno;
			return f->result;
		}
	}
compact:
	if (f->snap)
		flush_compact(f);
	return 0;
}
