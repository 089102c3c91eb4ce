/* The TFTP boot root: turning a file name from the wire into an open file
 * that is certainly inside the root directory.
 *
 * Rules (each refusal has its own error, so the shell can say why):
 *   - A NUL byte inside the name:                      -EILSEQ
 *   - Longer than TFTP_ROOT_NAME_MAX bytes, or a
 *     component longer than NAME_MAX:                   -ENAMETOOLONG
 *   - A ".." component anywhere:                       -EPERM
 *   - Leading '/'s are dropped: PXE and UEFI clients ask for "/pxelinux.0"
 *     meaning the root's pxelinux.0. A name is always relative to the root,
 *     as with tftpd-hpa -s (chroot): "/etc/passwd" and "//etc/passwd" are
 *     the root's etc/passwd, normally "no such file".
 *   - Resolution leaving the root through a symlink (absolute targets, or
 *     relative ones climbing out):                     -EXDEV
 *     With openat2(2) (Linux 5.6) this is RESOLVE_BENEATH |
 *     RESOLVE_NO_MAGICLINKS and symlinks that stay inside the root work.
 *     Without it every component is opened with O_NOFOLLOW, so no symlink
 *     is followed at all:                               -ELOOP
 *   - Not a regular file (directory, device, FIFO, socket): -EISDIR for a
 *     directory, -ENODEV for the others. FIFOs are opened non-blocking, so
 *     asking for one never stalls the daemon.
 *   - Missing: -ENOENT; unreadable: -EACCES.
 *
 * Lexical checks need no file system and are their own function, which the
 * fuzz target exercises. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define TFTP_ROOT_NAME_MAX 1024

struct tftp_root {
	int dirfd;	  /* O_PATH descriptor of the root directory */
	bool use_openat2; /* false: the O_NOFOLLOW walk (old kernels, tests) */
};

/* Open the root directory. -ENOTDIR if path is not a directory. */
int tftp_root_open(struct tftp_root *r, const char *path);
void tftp_root_close(struct tftp_root *r);

/* Check a wire name and return the root-relative path (the name without
 * its leading '/'s); "" means the root itself. *ret_rel points into name. */
int tftp_root_check_name(const char *name, size_t len, const char **ret_rel, size_t *ret_rel_len);

/* Open name read-only inside the root. On success *ret_fd is an O_RDONLY
 * descriptor of a regular file (the caller closes it) and *ret_st its
 * fstat(). */
int tftp_root_open_file(const struct tftp_root *r, const char *name, size_t len, int *ret_fd, struct stat *ret_st);

/* Words for an error from the functions above, for log lines. */
const char *tftp_root_strerror(int err);

/* The TFTP error code to answer with: 1 (file not found) for -ENOENT,
 * 2 (access violation) otherwise. */
unsigned tftp_root_error_code(int err);
