/* Giving up privileges the daemon does not need (docs/operations.md,
 * "Privileges"). Linux capabilities without libcap: the raw capget/capset
 * calls and PR_CAPBSET_DROP. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A set of capabilities: bit N is capability N (CAP_NET_RAW is 13). */
#define PRIVS_CAP(n) (UINT64_C(1) << (n))

/* Keep only the capabilities in keep: the bounding set loses every other
 * one (so nothing this process execs can regain them; needs CAP_SETPCAP,
 * which goes last), the permitted and effective sets become keep (as far
 * as they held it), the inheritable and ambient sets empty. 0, or -errno
 * with what failed in err. A process without CAP_SETPCAP (not root)
 * still narrows its own sets; its bounding set stays as it was. */
int privs_keep_caps(uint64_t keep, char *err, size_t errlen);

/* The process's effective set now. */
int privs_effective(uint64_t *ret);

/* keep as names ("net_admin,net_raw"), for a log line. */
void privs_caps_format(uint64_t caps, char *buf, size_t len);
