/* Capabilities kept and dropped; see privs.h. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int privs_keep_caps(uint64_t keep, char *err, size_t errlen)
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
			if (keep & PRIVS_CAP(c))
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
