/* The region is multi-threaded (gRPC), so children are started with
 * fork+exec only: everything the child needs is prepared before fork(),
 * and between fork and exec it makes only async-signal-safe calls. */
#include "region/db/pgproc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/util.h"

#define PGPROC_DEFAULT_USER "ironrack"

/* Everything the child needs between fork and exec. */
struct pgproc_child {
	const char *const *argv;
	int logfd;
	int nullfd;
	const struct pgproc_user *user;
	sigset_t empty_mask;
	struct sigaction dfl;
};

static int pgproc_user_self(struct pgproc_user *u, char *err, size_t errlen)
{
	char buf[16384];
	struct passwd pw, *res = NULL;

	int r = getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res);
	if (!res) {
		snprintf(err, errlen, "uid %u has no user name (%s)", (unsigned)geteuid(),
			 r ? strerror(r) : "not in passwd");
		return -ENOENT;
	}
	snprintf(u->name, sizeof(u->name), "%s", pw.pw_name);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 0;
}

int pgproc_user_resolve(const char *run_as, struct pgproc_user *u, char *err, size_t errlen)
{
	char buf[16384];
	struct passwd pw, *res = NULL;

	if (geteuid() != 0)
		return pgproc_user_self(u, err, errlen);
	const char *name = run_as && *run_as ? run_as : PGPROC_DEFAULT_USER;
	int r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (!res) {
		snprintf(err, errlen,
			 "user '%s' does not exist: create it with `useradd --system --home-dir /nonexistent "
			 "--shell /usr/sbin/nologin %s` or set pg_user",
			 name, name);
		return r ? -r : -ENOENT;
	}
	if (pw.pw_uid == 0) {
		snprintf(err, errlen, "pg_user '%s' is root, and PostgreSQL refuses to run as root", name);
		return -EPERM;
	}
	if (snprintf(u->name, sizeof(u->name), "%s", pw.pw_name) >= (int)sizeof(u->name)) {
		snprintf(err, errlen, "pg_user name is too long");
		return -ENAMETOOLONG;
	}
	u->drop = true;
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	/* The group list the user would get from a login, as initgroups()
	 * would set it; that call is not allowed after fork(). */
	int n = 0;
	getgrouplist(u->name, u->gid, NULL, &n);
	u->groups = xcalloc((size_t)n + 1, sizeof(gid_t));
	u->ngroups = n + 1;
	if (getgrouplist(u->name, u->gid, u->groups, &u->ngroups) < 0) {
		u->groups[0] = u->gid;
		u->ngroups = 1;
	}
	return 0;
}

void pgproc_user_done(struct pgproc_user *u)
{
	free(u->groups);
	u->groups = NULL;
	u->ngroups = 0;
}

bool pgproc_user_can_search(const struct pgproc_user *u, const struct stat *st)
{
	if (st->st_uid == u->uid)
		return st->st_mode & S_IXUSR;
	for (int i = 0; i < u->ngroups; i++)
		if (st->st_gid == u->groups[i])
			return st->st_mode & S_IXGRP;
	if (st->st_gid == u->gid)
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

int pgproc_fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int saved = errno;
	close(fd);
	errno = saved;
	return nfd;
}

static void __attribute__((noreturn)) pgproc_child_fail(const char *msg, int status)
{
	ssize_t n = write(2, msg, strlen(msg));
	(void)n;
	_exit(status);
}

/* Runs in the forked child: async-signal-safe calls only. */
static void __attribute__((noreturn)) pgproc_child_exec(const struct pgproc_child *c)
{
	static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};

	if (dup2(c->logfd, 1) < 0 || dup2(c->logfd, 2) < 0 || dup2(c->nullfd, 0) < 0)
		_exit(126);
	/* Nothing of the region (listening sockets, TLS keys) may live on
	 * in a postmaster that keeps running after the region crashed. */
	if (close_range(3, ~0U, 0) < 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	/* Ignored signals and the signal mask survive exec, and the
	 * region's threads may block or ignore the very signals used to
	 * stop the cluster. */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &c->dfl, NULL);
	sigprocmask(SIG_SETMASK, &c->empty_mask, NULL);
	/* Own session: a Ctrl-C meant for the region must not reach the
	 * cluster, which the region stops itself. */
	setsid();
	if (c->user->drop) {
		if (setgroups((size_t)c->user->ngroups, c->user->groups) < 0)
			pgproc_child_fail("ironrack-regiond: setgroups failed before exec\n", 126);
		if (setgid(c->user->gid) < 0)
			pgproc_child_fail("ironrack-regiond: setgid failed before exec\n", 126);
		if (setuid(c->user->uid) < 0)
			pgproc_child_fail("ironrack-regiond: setuid failed before exec\n", 126);
	}
	/* PostgreSQL's tools resolve their own path through the cwd, which
	 * may be a directory the cluster's user cannot read. */
	if (chdir("/") < 0)
		pgproc_child_fail("ironrack-regiond: chdir / failed before exec\n", 126);
	execv(c->argv[0], (char *const *)c->argv);
	pgproc_child_fail("ironrack-regiond: exec failed\n", 127);
}

int pgproc_spawn(const char *const *argv, int logfd, int nullfd, const struct pgproc_user *u, pid_t *ret)
{
	struct pgproc_child c = {.argv = argv, .logfd = logfd, .nullfd = nullfd, .user = u};

	sigemptyset(&c.empty_mask);
	c.dfl.sa_handler = SIG_DFL;
	sigemptyset(&c.dfl.sa_mask);
	log_debug("pgembed: starting %s", argv[0]);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		pgproc_child_exec(&c);
	*ret = pid;
	return 0;
}

/* Zombies still answer kill(pid, 0); an adopted postmaster is reaped by
 * whoever inherited it, which may be slow or never (a minimal init). */
static bool pgproc_pid_is_zombie(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

bool pgproc_pid_alive(pid_t pid)
{
	if (pid <= 0)
		return false;
	return (kill(pid, 0) == 0 || errno == EPERM) && !pgproc_pid_is_zombie(pid);
}

bool pgproc_pid_is_postgres(pid_t pid)
{
	char path[64], *comm = NULL;
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if (fs_read_all(path, 64, &comm, NULL) < 0)
		return false;
	bool yes = strncmp(comm, "postgres", 8) == 0;
	free(comm);
	return yes;
}

bool pgproc_exited(pid_t pid, bool *is_child, int *ret_status)
{
	int st = -1;
	*ret_status = -1;
	if (!*is_child)
		return !pgproc_pid_alive(pid);
	pid_t w = waitpid(pid, &st, WNOHANG);
	if (w == pid) {
		*ret_status = st;
		*is_child = false;
		return true;
	}
	/* ECHILD: a SIGCHLD handler elsewhere in the process reaped it. */
	if (w < 0 && errno == ECHILD) {
		*is_child = false;
		return true;
	}
	return false;
}

void pgproc_status_describe(int status, char *buf, size_t len)
{
	if (status == -1)
		snprintf(buf, len, "exited");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "stopped");
}
