/* Boot loaders from Debian packages into the boot root; see loaders.h. */
#include "rack/boot/loaders.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bootres.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/util.h"
#include "rack/rack.h"

struct loader {
	const char *pkg;
	const char *src;
	const char *dst; /* name in the boot root */
};

#define BIOS "/usr/lib/syslinux/modules/bios/"

static const struct loader loaders[] = {
    {"pxelinux", "/usr/lib/PXELINUX/pxelinux.0", "pxelinux.0"},
    {"pxelinux", "/usr/lib/PXELINUX/lpxelinux.0", "lpxelinux.0"},
    {"syslinux-common", BIOS "ldlinux.c32", "ldlinux.c32"},
    {"syslinux-common", BIOS "libcom32.c32", "libcom32.c32"},
    {"syslinux-common", BIOS "libutil.c32", "libutil.c32"},
    {"syslinux-common", BIOS "menu.c32", "menu.c32"},
    {"syslinux-common", BIOS "vesamenu.c32", "vesamenu.c32"},
    {"syslinux-common", BIOS "chain.c32", "chain.c32"},
    {"syslinux-common", BIOS "reboot.c32", "reboot.c32"},
    {"syslinux-common", BIOS "poweroff.c32", "poweroff.c32"},
    {"ipxe", "/usr/lib/ipxe/undionly.kpxe", "undionly.kpxe"},
    {"ipxe", "/usr/lib/ipxe/ipxe.efi", "ipxe.efi"},
    {"ipxe", "/usr/lib/ipxe/snponly.efi", "snponly.efi"},
    {"grub-efi-amd64-signed", "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed", "grubx64.efi"},
    {"shim-signed", "/usr/lib/shim/shimx64.efi.signed", "bootx64.efi"},
};

#define N_LOADERS  (sizeof(loaders) / sizeof(loaders[0]))
#define LOADER_MAX (64u << 20) /* no loader is anywhere near this */

bool rack_loader_name_reserved(const char *name)
{
	for (size_t i = 0; i < N_LOADERS; i++) {
		if (strcmp(loaders[i].dst, name) == 0)
			return true;
	}
	return false;
}

/* Copy src (open, st) to rootfd/dst through rootfd/.dst.tmp.PID. */
static int loader_copy(int srcfd, const struct stat *st, int rootfd, const char *dst)
{
	char tmp[NAME_MAX + 1], *buf = xmalloc(1u << 20);
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", dst, (long)getpid());
	int fd = openat(rootfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : 0;
	for (off_t off = 0; rc == 0 && off < st->st_size;) {
		ssize_t n = pread(srcfd, buf, 1u << 20, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		rc = fs_write_full(fd, buf, (size_t)n);
		off += n;
	}
	free(buf);
	if (rc == 0 && fchmod(fd, 0644) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(rootfd, tmp, rootfd, dst) < 0)
		rc = -errno;
	if (rc < 0 && fd >= 0)
		unlinkat(rootfd, tmp, 0);
	return rc;
}

/* 1 if rootfd/dst already has src's content, 0 if not, -errno. */
static int loader_same(int srcfd, const struct stat *sst, int rootfd, const char *dst)
{
	struct stat dst_st;
	if (fstatat(rootfd, dst, &dst_st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(dst_st.st_mode) || dst_st.st_size != sst->st_size)
		return 0;
	int fd = openat(rootfd, dst, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char a[BOOTRES_SHA256_HEX], b[BOOTRES_SHA256_HEX];
	int rc = bootres_sha256_fd(fd, NULL, a, NULL);
	close(fd);
	if (rc >= 0)
		rc = bootres_sha256_fd(srcfd, NULL, b, NULL);
	if (rc < 0)
		return rc;
	return strcmp(a, b) == 0;
}

/* 1 installed, 0 up to date, -ENOENT source missing, else -errno. */
static int loader_install(const struct loader *l, int rootfd)
{
	int srcfd = open(l->src, O_RDONLY | O_CLOEXEC);
	if (srcfd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(srcfd, &st) < 0 ? -errno : S_ISREG(st.st_mode) && st.st_size <= LOADER_MAX ? 0 : -EINVAL;
	if (rc == 0)
		rc = loader_same(srcfd, &st, rootfd, l->dst);
	if (rc == 0) {
		rc = loader_copy(srcfd, &st, rootfd, l->dst);
		rc = rc < 0 ? (rc == -ENOENT ? -EIO : rc) : 1;
	} else if (rc == 1) {
		rc = 0;
	}
	close(srcfd);
	return rc;
}

int rack_loaders_install(struct rack *rack, const char *boot_root)
{
	const char *mode = rack->conf.loaders;
	if (strcmp(mode, "off") == 0) {
		log_info("loaders: not managed (loaders = off)");
		return 0;
	}
	if (strcmp(mode, "auto") != 0) {
		log_err("loaders '%s': expected auto or off", mode);
		return -EINVAL;
	}
	int rootfd = open(boot_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		log_err("loaders: cannot open the boot root %s: %s", boot_root, strerror(errno));
		return -errno;
	}
	char missing[256] = "", installed[512] = "";
	size_t n_installed = 0, n_current = 0;
	for (size_t i = 0; i < N_LOADERS; i++) {
		const struct loader *l = &loaders[i];
		int rc = loader_install(l, rootfd);
		if (rc == 1) {
			size_t len = strlen(installed);
			snprintf(installed + len, sizeof(installed) - len, "%s%s", len ? " " : "", l->dst);
			n_installed++;
		} else if (rc == 0) {
			n_current++;
		} else if (rc == -ENOENT) {
			size_t len = strlen(missing), n = strlen(l->pkg);
			/* list each package once: entries of one package are adjacent */
			if (len < n || strcmp(missing + len - n, l->pkg) != 0)
				snprintf(missing + len, sizeof(missing) - len, "%s%s", len ? " " : "", l->pkg);
		} else {
			log_warn("loaders: cannot install %s from %s into %s: %s", l->dst, l->src, boot_root,
				 strerror(-rc));
		}
	}
	close(rootfd);
	if (n_installed)
		log_info("loaders: installed %s into %s", installed, boot_root);
	log_info("loaders: %zu installed, %zu up to date in %s", n_installed, n_current, boot_root);
	if (missing[0])
		log_info("loaders: packages not installed on this host (their loaders are not served): %s", missing);
	return 0;
}
