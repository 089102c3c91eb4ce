/* Capabilities kept and dropped; see privs.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privs.h"

/* The names of the capabilities a daemon of ours may keep; others print
 * as their number. */
static const struct {
	int cap;
	const char *name;
} cap_names[] = {
    {CAP_CHOWN, "chown"},
    {CAP_DAC_OVERRIDE, "dac_override"},
    {CAP_KILL, "kill"},
    {CAP_SETGID, "setgid"},
    {CAP_SETUID, "setuid"},
    {CAP_SETPCAP, "setpcap"},
    {CAP_NET_BIND_SERVICE, "net_bind_service"},
    {CAP_NET_BROADCAST, "net_broadcast"},
    {CAP_NET_ADMIN, "net_admin"},
    {CAP_NET_RAW, "net_raw"},
    {CAP_SYS_ADMIN, "sys_admin"},
};

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = CAP_LAST_CAP;
	if (f) {
		if (fscanf(f, "%d", &n) != 1 || n < 0 || n > 63)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &h, data) < 0 ? -errno : 0;
}

static uint64_t caps_join(uint32_t lo, uint32_t hi)
{
	return (uint64_t)lo | (uint64_t)hi << 32;
}

int privs_effective(uint64_t *ret)
{
	struct __user_cap_data_struct d[2];
	int r = caps_get(d);
	if (r == 0)
		*ret = caps_join(d[0].effective, d[1].effective);
	return r;
}

/* The bounding set becomes bound (when we may change it), the permitted
 * and effective sets what they held of keep. */
static int caps_narrow(uint64_t bound, uint64_t keep, char *err, size_t errlen)
{
	struct __user_cap_data_struct d[2];
	int r = caps_get(d);
	if (r < 0) {
		snprintf(err, errlen, "capget: %s", strerror(-r));
		return r;
	}
	uint64_t permitted = caps_join(d[0].permitted, d[1].permitted);
	uint64_t effective = caps_join(d[0].effective, d[1].effective);
	int last = last_cap();

	/* The bounding set first: dropping from it needs CAP_SETPCAP, which
	 * the sets below may no longer hold. */
	if (effective & PRIVS_CAP(CAP_SETPCAP)) {
		for (int c = 0; c <= last; c++) {
			if (bound & PRIVS_CAP(c))
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
				r = -errno;
				snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", c,
					 strerror(errno));
				return r;
			}
		}
	}
	/* Nothing inherited across exec by way of the ambient set. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		r = -errno;
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		return r;
	}
	uint64_t now = permitted & keep;
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct s[2] = {
	    {.effective = (uint32_t)now, .permitted = (uint32_t)now, .inheritable = 0},
	    {.effective = (uint32_t)(now >> 32), .permitted = (uint32_t)(now >> 32), .inheritable = 0},
	};
	if (syscall(SYS_capset, &h, s) < 0) {
		r = -errno;
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return r;
	}
	return 0;
}

int privs_keep_caps(uint64_t keep, char *err, size_t errlen)
{
	return caps_narrow(keep, keep, err, errlen);
}

int privs_user_lookup(const char *name, struct privs_user *u, char *err, size_t errlen)
{
	char buf[16384];
	struct passwd pw, *res = NULL;
	int r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (!res) {
		snprintf(err, errlen,
			 "user '%s' does not exist: create it with `useradd --system --home-dir /nonexistent "
			 "--shell /usr/sbin/nologin %s` (deploy/install does), or set user = root",
			 name, name);
		return r ? -r : -ENOENT;
	}
	if (snprintf(u->name, sizeof(u->name), "%s", pw.pw_name) >= (int)sizeof(u->name)) {
		snprintf(err, errlen, "user name '%s' is too long", name);
		return -ENAMETOOLONG;
	}
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 0;
}

static long give_dir(int dfd, const char *path, dev_t dev, const struct privs_user *u, int depth, char *err,
		     size_t errlen);

/* The directory name in the one open at dfd (which is path). */
static long give_subdir(int dfd, const char *path, const char *name, dev_t dev, const struct privs_user *u, int depth,
			char *err, size_t errlen)
{
	char sub[4096];
	if (snprintf(sub, sizeof(sub), "%s/%s", path, name) >= (int)sizeof(sub)) {
		snprintf(err, errlen, "%s/%s: %s", path, name, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		snprintf(err, errlen, "%s: %s", sub, strerror(-r));
		return r;
	}
	return give_dir(fd, sub, dev, u, depth + 1, err, errlen); /* closes fd */
}

/* Everything in the directory open at dfd (which is path), depth first. */
static long give_dir(int dfd, const char *path, dev_t dev, const struct privs_user *u, int depth, char *err,
		     size_t errlen)
{
	if (depth > 64) {
		snprintf(err, errlen, "%s: more than 64 directories deep", path);
		return -ELOOP;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	long n = 0;
	struct dirent *e;
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			n = -errno;
			snprintf(err, errlen, "%s/%s: %s", path, e->d_name, strerror(errno));
			break;
		}
		if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
			long m = give_subdir(dirfd(d), path, e->d_name, dev, u, depth, err, errlen);
			if (m < 0) {
				n = m;
				break;
			}
			n += m;
		}
		if ((st.st_uid != u->uid || st.st_gid != u->gid) &&
		    fchownat(dirfd(d), e->d_name, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0) {
			n = -errno;
			snprintf(err, errlen, "%s/%s: %s", path, e->d_name, strerror(errno));
			break;
		}
		n += st.st_uid != u->uid || st.st_gid != u->gid;
	}
	if (n >= 0 && errno) {
		n = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	}
	closedir(d);
	return n;
}

long privs_give_tree(const char *path, const struct privs_user *u, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	long n = give_dir(fd, path, st.st_dev, u, 0, err, errlen); /* closes fd */
	if (n < 0 || (st.st_uid == u->uid && st.st_gid == u->gid))
		return n;
	if (chown(path, u->uid, u->gid) < 0) {
		int r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	return n + 1;
}

int privs_become(const struct privs_user *u, uint64_t keep, char *err, size_t errlen)
{
	int n = 0, r;
	getgrouplist(u->name, u->gid, NULL, &n);
	gid_t *groups = calloc((size_t)n + 1, sizeof(gid_t));
	if (!groups) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int ngroups = n + 1;
	if (getgrouplist(u->name, u->gid, groups, &ngroups) < 0) {
		groups[0] = u->gid;
		ngroups = 1;
	}
	/* setuid and setgid only until the switch below. */
	uint64_t id = PRIVS_CAP(CAP_SETUID) | PRIVS_CAP(CAP_SETGID);
	if ((r = caps_narrow(keep, keep | id, err, errlen)) < 0)
		goto out;
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot keep capabilities across the user change: %s", strerror(errno));
		goto out;
	}
	if (setgroups((size_t)ngroups, groups) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
	    setresuid(u->uid, u->uid, u->uid) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot become user '%s' (uid %ld): %s", u->name, (long)u->uid, strerror(errno));
		goto out;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if ((r = caps_narrow(keep, keep, err, errlen)) < 0)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
	}
out:
	free(groups);
	return r;
}

static void log_caps(const char *who)
{
	uint64_t eff = 0;
	char caps[256];
	privs_effective(&eff);
	privs_caps_format(eff, caps, sizeof(caps));
	log_info("running as %s, capabilities: %s", who, caps);
}

int privs_drop(const char *user, const char *const *dirs, size_t ndirs, uint64_t keep, uint64_t keep_root,
	       bool announce, char *err, size_t errlen)
{
	struct privs_user u;
	char who[128];
	int r;
	if (geteuid() != 0 || !user || !*user || !strcmp(user, "root")) {
		bool root = geteuid() == 0;
		if ((r = privs_keep_caps(root ? keep_root : keep, err, errlen)) < 0)
			return r;
		snprintf(who, sizeof(who), "%s (uid %ld)", root ? "root" : "an unprivileged user", (long)geteuid());
		if (announce)
			log_caps(who);
		return 0;
	}
	if ((r = privs_user_lookup(user, &u, err, errlen)) < 0)
		return r;
	for (size_t i = 0; i < ndirs; i++) {
		char why[512];
		long n = dirs[i] && *dirs[i] ? privs_give_tree(dirs[i], &u, why, sizeof(why)) : 0;
		if (n == -ENOENT)
			continue; /* made later, by the daemon as u */
		if (n < 0) {
			snprintf(err, errlen, "cannot give %s to user '%s': %s", dirs[i], u.name, why);
			return (int)n;
		}
		if (n > 0)
			log_info("gave %s (%ld entries) to user '%s'", dirs[i], n, u.name);
	}
	if ((r = privs_become(&u, keep, err, errlen)) < 0)
		return r;
	for (size_t i = 0; i < ndirs; i++) {
		if (dirs[i] && *dirs[i] && access(dirs[i], R_OK | W_OK | X_OK) < 0 && errno != ENOENT) {
			r = -errno;
			snprintf(
			    err, errlen,
			    "user '%s' cannot use %s: %s (each directory above it must be searchable by that user)",
			    u.name, dirs[i], strerror(errno));
			return r;
		}
	}
	snprintf(who, sizeof(who), "user '%s' (uid %ld)", u.name, (long)u.uid);
	if (announce)
		log_caps(who);
	return 0;
}

void privs_caps_format(uint64_t caps, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = '\0';
	for (int c = 0; c < 64 && at < len; c++) {
		if (!(caps & PRIVS_CAP(c)))
			continue;
		const char *name = NULL;
		for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
			if (cap_names[i].cap == c)
				name = cap_names[i].name;
		int n = name ? snprintf(buf + at, len - at, "%s%s", at ? "," : "", name)
			     : snprintf(buf + at, len - at, "%s%d", at ? "," : "", c);
		if (n < 0)
			break;
		at += (size_t)n;
	}
	if (at == 0)
		snprintf(buf, len, "none");
}
