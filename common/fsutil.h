/* Small file-system helpers shared by both daemons. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* write(2) all of data, through short writes and EINTR; 0 or -errno. */
int fs_write_full(int fd, const void *data, size_t len);
/* pwrite(2) all of data at off, through short writes and EINTR. */
int fs_pwrite_full(int fd, const void *data, size_t len, uint64_t off);
/* Write data to path atomically and durably: write a temporary file in the
 * same directory, fsync it, rename it over path, fsync the directory. A crash
 * at any point leaves either the old or the new content. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Read a whole file (at most max bytes) into a malloc'd, NUL-terminated
 * buffer. -ENOENT if missing, -EFBIG if larger than max. */
int fs_read_all(const char *path, size_t max, char **ret_data, size_t *ret_len);

/* mkdir -p with mode for every component created. */
int fs_mkdir_p(const char *path, mode_t mode);

/* Join dir and name into buf; -ENAMETOOLONG if it does not fit. */
int fs_path_join(char *buf, size_t len, const char *dir, const char *name);

/* Tell whoever started the daemon where a listener really is (a test
 * that asked for port 0, a supervisor): writes "host:port\n" atomically
 * to state_dir/ports/name, creating the directory. host is the
 * configured host as the operator wrote it. */
int port_file_write(const char *state_dir, const char *name, const char *host, int port);
