/* Giving up privileges the daemon does not need (docs/operations.md,
 * "Privileges"). Linux capabilities without libcap: the raw capget/capset
 * calls and PR_CAPBSET_DROP. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* The user a daemon runs as (config key `user`). */
struct privs_user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

/* Looks up name in the user database. 0, or -errno with err saying what
 * failed and, for a missing user, how to create it. */
int privs_user_lookup(const char *name, struct privs_user *u, char *err, size_t errlen);

/* Gives path and everything under it (not following symbolic links; not
 * crossing into other file systems) to u and u's group, the top last: the
 * whole tree is walked each time, so what a command run as root left in it
 * is given too. The number of entries changed, or -errno with err naming
 * the path that failed. */
long privs_give_tree(const char *path, const struct privs_user *u, char *err, size_t errlen);

/* A root process becomes u: u's groups, group and user, keeping only the
 * capabilities in keep (effective and permitted; the bounding set holds
 * only them; ambient and inheritable empty), and no exec can gain more
 * (no_new_privs). 0, or -errno with what failed in err; on failure the
 * process may be part way and must exit. */
int privs_become(const struct privs_user *u, uint64_t keep, char *err, size_t errlen);

/* What a daemon does at start. Started as root with user set (not "root"):
 * gives user the directories in dirs that exist (the daemon's own:
 * privs_give_tree), becomes it keeping keep, and checks it can use each of
 * those directories. As root with user "root" (or empty): stays root with
 * keep_root only. Not started as root: narrows its sets to keep. Logs what
 * it did (the directories given; the user and capabilities when announce);
 * 0, or -errno with err. */
int privs_drop(const char *user, const char *const *dirs, size_t ndirs, uint64_t keep, uint64_t keep_root,
	       bool announce, char *err, size_t errlen);
