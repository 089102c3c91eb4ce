/* Processes of the embedded cluster, for region/db/pgembed.c only: the
 * identity the cluster runs as, fork+exec of initdb and postgres from a
 * multi-threaded process, and watching a pid. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Resolved before fork(), so the child needs no passwd or group lookups. */
struct pgproc_user {
	bool drop; /* we are root: switch to uid/gid/groups in the child */
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* owned; pgproc_user_done frees */
	int ngroups;
	char name[256];
};

/* As root: run_as (NULL or "" = "ironrack"), which must exist and not be
 * root. Otherwise: ourselves. err says how to fix a missing user. */
int pgproc_user_resolve(const char *run_as, struct pgproc_user *u, char *err, size_t errlen);
void pgproc_user_done(struct pgproc_user *u);
/* Mode bits only (ACLs are not consulted). */
bool pgproc_user_can_search(const struct pgproc_user *u, const struct stat *st);

/* fd moved to a number above 2 (close-on-exec), the original closed; the
 * child dup2()s onto 0-2 and must not overwrite one it still needs. */
int pgproc_fd_above_stdio(int fd);

/* fork+exec argv[0] (an absolute path) with stdin from nullfd, stdout and
 * stderr to logfd (both > 2), in a new session, every other descriptor
 * closed, default signal state, as u. -errno if fork fails; an exec
 * failure shows as exit status 126/127 with a line in the log. */
int pgproc_spawn(const char *const *argv, int logfd, int nullfd, const struct pgproc_user *u, pid_t *ret);

/* Has pid exited? *is_child: we forked it and may waitpid() it; set to
 * false once reaped. *ret_status: wait status, or -1 when unknown. */
bool pgproc_exited(pid_t pid, bool *is_child, int *ret_status);
/* Running (not a zombie), whoever's it is. */
bool pgproc_pid_alive(pid_t pid);
bool pgproc_pid_is_postgres(pid_t pid);
/* "exited with status 1", "was killed by signal 9", "exited" (-1). */
void pgproc_status_describe(int status, char *buf, size_t len);
