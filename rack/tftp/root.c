/* Path confinement to the TFTP boot root; see root.h. */
#include "rack/tftp/root.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/wire/tftp.h"

#define ROOT_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

static bool openat2_works(int dirfd)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC | O_DIRECTORY, .resolve = RESOLVE_BENEATH};
	long fd = syscall(SYS_openat2, dirfd, ".", &how, sizeof(how));

	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

int tftp_root_open(struct tftp_root *r, const char *path)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	r->dirfd = fd;
	r->use_openat2 = openat2_works(fd);
	return 0;
}

void tftp_root_close(struct tftp_root *r)
{
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
}

int tftp_root_check_name(const char *name, size_t len, const char **ret_rel, size_t *ret_rel_len)
{
	if (len > 0 && memchr(name, '\0', len))
		return -EILSEQ;
	if (len > TFTP_ROOT_NAME_MAX)
		return -ENAMETOOLONG;
	while (len > 0 && name[0] == '/') {
		name++;
		len--;
	}
	for (size_t i = 0; i < len;) {
		size_t n = 0;
		while (i + n < len && name[i + n] != '/')
			n++;
		if (n == 2 && name[i] == '.' && name[i + 1] == '.')
			return -EPERM;
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		i += n + 1;
	}
	*ret_rel = name;
	*ret_rel_len = len;
	return 0;
}

/* Without openat2: walk the components with O_NOFOLLOW, so a symlink at
 * any point fails with ELOOP. ".." was refused lexically, so the walk can
 * only go down. */
static int walk_nofollow(int dirfd, char *path)
{
	int cur = dirfd;
	char *p = path;

	for (;;) {
		char *slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		if (*p) {
			int next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int err = errno;
			struct stat st;
			/* O_DIRECTORY wins over O_NOFOLLOW: a symlink says ENOTDIR. */
			if (next < 0 && err == ENOTDIR && fstatat(cur, p, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				err = ELOOP;
			if (cur != dirfd)
				close(cur);
			if (next < 0)
				return -err;
			cur = next;
		}
		p = slash + 1;
	}
	int fd = openat(cur, *p ? p : ".", ROOT_OPEN_FLAGS | O_NOFOLLOW);
	int err = errno;
	if (cur != dirfd)
		close(cur);
	return fd < 0 ? -err : fd;
}

static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
	    .flags = ROOT_OPEN_FLAGS,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int tftp_root_open_file(const struct tftp_root *r, const char *name, size_t len, int *ret_fd, struct stat *ret_st)
{
	char path[TFTP_ROOT_NAME_MAX + 2];
	const char *rel;
	size_t rel_len;
	int fd, err = tftp_root_check_name(name, len, &rel, &rel_len);

	if (err < 0)
		return err;
	memcpy(path, rel, rel_len);
	path[rel_len] = '\0';
	fd = r->use_openat2 ? open_beneath(r->dirfd, path) : walk_nofollow(r->dirfd, path);
	if (fd == -ENOTDIR)
		fd = -ENOENT; /* "file/x": no such file */
	if (fd < 0)
		return fd;
	if (fstat(fd, ret_st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(ret_st->st_mode)) {
		close(fd);
		return S_ISDIR(ret_st->st_mode) ? -EISDIR : -ENODEV;
	}
	*ret_fd = fd;
	return 0;
}

const char *tftp_root_strerror(int err)
{
	switch (err) {
	case -EILSEQ:
		return "NUL byte in file name";
	case -ENAMETOOLONG:
		return "file name too long";
	case -EPERM:
		return "'..' in file name";
	case -EXDEV:
		return "path leaves the boot root";
	case -ELOOP:
		return "symbolic link refused";
	case -EISDIR:
		return "is a directory";
	case -ENODEV:
		return "not a regular file";
	case -ENOENT:
		return "no such file";
	case -EACCES:
		return "permission denied";
	default:
		return strerror(-err);
	}
}

unsigned tftp_root_error_code(int err)
{
	return err == -ENOENT ? TFTP_ERR_NOT_FOUND : TFTP_ERR_ACCESS;
}
