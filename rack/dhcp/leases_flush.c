/* The commit thread's part of a flush: it touches only the token, never
 * the store (leases.h). The journal grown with zeros when the batch would
 * pass its end, the batch's write and fdatasync, then the writes of a
 * compaction riding on it. Why each step of the compaction is crash-safe
 * is in leases.h (seq comparison). */
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
			f->new_fd = open(p, O_WRONLY | O_CLOEXEC);
			if (f->new_fd < 0) {
				r = -errno;
				f->compact_poison = true;
			}
		}
	}
	f->compact_result = r;
	f->compact_us = clock_mono_us() - t0;
}

static int write_at(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int sync_data(int fd)
{
	while (fdatasync(fd) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Zeros from the file's end to past `need`, durable before any record is
 * written there: a crash then finds zeros, never blocks the file system
 * allocated and did not write. */
static int journal_grow(struct lease_flush *f, uint64_t need)
{
	static const uint8_t zeros[65536];
	uint64_t to = (need / LEASE_JOURNAL_PREZERO + 1) * LEASE_JOURNAL_PREZERO;

	for (uint64_t at = f->size; at < to;) {
		size_t n = to - at < sizeof(zeros) ? (size_t)(to - at) : sizeof(zeros);
		int r = write_at(f->fd, zeros, n, at);
		if (r < 0)
			return r;
		at += n;
	}
	int r = sync_data(f->fd);
	if (r == 0)
		f->size = to;
	return r;
}

int lease_flush_run(struct lease_flush *f)
{
	f->result = 0;
	if (f->fd < 0)
		return 0; /* in-memory store */
	if (f->len == 0)
		goto compact; /* a flush of only a compaction */
	if (f->off + f->len > f->size)
		f->result = journal_grow(f, f->off + f->len);
	if (f->result == 0)
		f->result = write_at(f->fd, f->buf, f->len, f->off);
	if (f->result == 0)
		f->result = sync_data(f->fd);
	if (f->result < 0)
		return f->result;
compact:
	if (f->snap)
		flush_compact(f);
	return 0;
}
