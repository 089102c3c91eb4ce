/* The region's private PostgreSQL cluster: layout under the state
 * directory, initdb, start or adopt, stop. Processes: pgproc.c. */
#include "region/db/pgembed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/util.h"
#include "region/db/pgproc.h"

/* The socket lives in a private directory, so a fixed port cannot clash
 * with another cluster on the host. */
#define PG_PORT	     "5432"
#define PG_DBNAME    "ironrack"
#define PG_PKGLIBDIR "/usr/lib/postgresql"
#define PG_READY_MS  30000
#define PG_STOP_MS   30000
#define PG_INITDB_MS 300000
#define PG_POLL_MS   100
/* pg.log holds what the server says before its logging collector runs
 * (and initdb's output); it is appended to across restarts and beyond this
 * it is rotated once at start so it cannot fill the disk over months of
 * restarts. Once running, the server writes <state>/pg/log/ itself. */
#define PG_LOG_ROTATE_BYTES (16L * 1024 * 1024)
#define PG_LOG_TAIL_LINES   6
/* Written to pg.log before each child, so an error quotes only this run. */
#define PG_LOG_MARK "---- ironrack-regiond: "
/* The region's own sessions: a refused request (a constraint or a rule of
 * the model, SQLSTATE 23xxx or IRxxx) is an ERROR the region answers and
 * logs itself, so its sessions log from LOG up (FATAL, PANIC and LOG lines
 * such as checkpoints) and never echo a statement. Background processes
 * keep the server's defaults. */
#define PG_SESSION_OPTIONS "-c log_min_messages=log -c log_min_error_statement=panic"

struct pgembed {
	char state[PATH_MAX];
	char datadir[PATH_MAX];
	char initdir[PATH_MAX]; /* initdb target, renamed to datadir when done */
	char sockdir[PATH_MAX];
	char logpath[PATH_MAX];
	char bindir[PATH_MAX];
	char dsn[2 * PATH_MAX];
	char admin_dsn[2 * PATH_MAX]; /* database "postgres", to create ours */
	pid_t pid;		      /* postmaster; 0 = unknown */
	bool is_child;		      /* ours to reap with waitpid() */
	bool adopted;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool is_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	return fs_path_join(path, sizeof(path), dir, name) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool bindir_usable(const char *dir)
{
	char path[PATH_MAX];
	return fs_path_join(path, sizeof(path), dir, "initdb") == 0 && access(path, X_OK) == 0 &&
	       fs_path_join(path, sizeof(path), dir, "postgres") == 0 && access(path, X_OK) == 0;
}

/* Last few lines of pg.log, joined with " | ", for error messages. */
static void pg_log_tail(const char *path, char *buf, size_t len)
{
	char tail[4096], *lines[PG_LOG_TAIL_LINES] = {0};
	size_t nlines = 0;

	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t start = end > (off_t)sizeof(tail) - 1 ? end - (off_t)sizeof(tail) + 1 : 0;
	ssize_t n = pread(fd, tail, sizeof(tail) - 1, start);
	close(fd);
	if (n <= 0)
		return;
	tail[n] = '\0';
	char *p = tail, *mark;
	if (start > 0 && (p = strchr(tail, '\n')) == NULL)
		return; /* skip the partial first line */
	while ((mark = strstr(p, PG_LOG_MARK)) != NULL)
		p = mark + strcspn(mark, "\n");
	for (char *save = NULL, *l = strtok_r(p, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		lines[nlines++ % PG_LOG_TAIL_LINES] = l;
	size_t first = nlines > PG_LOG_TAIL_LINES ? nlines - PG_LOG_TAIL_LINES : 0, o = 0;
	for (size_t i = first; i < nlines && o + 1 < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", o ? " | " : "", lines[i % PG_LOG_TAIL_LINES]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static void pg_err_with_log(const struct pgembed *pg, char *err, size_t errlen, const char *what)
{
	char tail[1024];
	pg_log_tail(pg->logpath, tail, sizeof(tail));
	err_set(err, errlen, "%s; see %s%s%s", what, pg->logpath, tail[0] ? ": " : "", tail);
}

/* As root, the cluster's user must be able to reach <state>/pg through
 * every directory above it; postgres would only say "permission denied"
 * without naming the directory. Mode bits only: a search right granted by
 * an ACL alone is not seen (use the mode bits for these directories). */
static int pg_state_reachable(const char *state, const struct pgproc_user *u, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s", state);
	for (char *p = path;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		const char *dir = path[0] ? path : "/";
		if (stat(dir, &st) < 0) {
			err_set(err, errlen, "stat %s: %s", dir, strerror(errno));
			return -errno;
		}
		bool own_state = c == '\0' && st.st_uid == geteuid();
		/* The state directory itself is ours: grant search (not read)
		 * so the cluster can reach pg/ and pg-run/ and nothing else. */
		if (!pgproc_user_can_search(u, &st) && own_state && chmod(dir, (st.st_mode & 07777) | S_IXOTH) == 0) {
			log_debug("pgembed: added o+x to %s for user '%s'", dir, u->name);
		} else if (!pgproc_user_can_search(u, &st)) {
			err_set(err, errlen,
				"directory %s (owner uid %u, mode %04o) is not traversable by user '%s', so "
				"PostgreSQL cannot reach %s/pg; allow search on it (e.g. chmod o+x %s) or choose "
				"another state_dir",
				dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), u->name, state, dir);
			return -EACCES;
		}
		if (c == '\0')
			return 0;
		*p = c;
	}
}

/* Own directory (mode 0700) for the cluster's user: data, socket, initdb. */
static int pg_dir_own(const char *path, const struct pgproc_user *u, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		err_set(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -errno;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_set(err, errlen, "%s is not a directory", path);
		return -ENOTDIR;
	}
	if (u->drop && (st.st_uid != u->uid || st.st_gid != u->gid) && chown(path, u->uid, u->gid) < 0) {
		err_set(err, errlen, "chown %s to '%s': %s", path, u->name, strerror(errno));
		return -errno;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0) {
		err_set(err, errlen, "chmod %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static int pg_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

/* Read PG_VERSION ("15") of an existing cluster into buf; 0 if none. */
static int pg_data_version(const char *datadir, char *buf, size_t len)
{
	char path[PATH_MAX], *data = NULL;
	if (fs_path_join(path, sizeof(path), datadir, "PG_VERSION") < 0 || fs_read_all(path, 64, &data, NULL) < 0)
		return 0;
	snprintf(buf, len, "%.*s", (int)strcspn(data, " \r\n"), data);
	free(data);
	return buf[0] ? 1 : 0;
}

/* An existing cluster must be run by its own major version (after an
 * upgrade of the OS packages the newest one would refuse its files), so
 * that one is preferred; a new cluster gets the newest installed. */
static int pg_bindir_resolve(struct pgembed *pg, const char *want, char *err, size_t errlen)
{
	char ver[32], best[NAME_MAX + 1] = "";
	size_t len = sizeof(pg->bindir);

	if (want && *want) {
		snprintf(pg->bindir, len, "%s", want);
	} else if (pg_data_version(pg->datadir, ver, sizeof(ver)) > 0) {
		snprintf(pg->bindir, len, PG_PKGLIBDIR "/%s/bin", ver);
		if (!bindir_usable(pg->bindir)) {
			err_set(err, errlen,
				"%s was created by PostgreSQL %s but %s has no initdb and postgres; install "
				"PostgreSQL %s or set pg_bindir",
				pg->datadir, ver, pg->bindir, ver);
			return -ENOENT;
		}
		return 0;
	} else {
		DIR *d = opendir(PG_PKGLIBDIR);
		for (struct dirent *de; d && (de = readdir(d));) {
			snprintf(pg->bindir, len, PG_PKGLIBDIR "/%s/bin", de->d_name);
			if (de->d_name[0] != '.' && bindir_usable(pg->bindir) &&
			    (!best[0] || strverscmp(de->d_name, best) > 0))
				snprintf(best, sizeof(best), "%s", de->d_name);
		}
		if (d)
			closedir(d);
		if (!best[0]) {
			err_set(err, errlen,
				"no PostgreSQL server found (looked for " PG_PKGLIBDIR
				"/<version>/bin with initdb and postgres); install it or set pg_bindir");
			return -ENOENT;
		}
		snprintf(pg->bindir, len, PG_PKGLIBDIR "/%s/bin", best);
	}
	if (!bindir_usable(pg->bindir)) {
		err_set(err, errlen, "pg_bindir %s has no executable initdb and postgres", pg->bindir);
		return -ENOENT;
	}
	return 0;
}

/* libpq keyword=value with the value always quoted. */
static int dsn_append(char *buf, size_t len, const char *key, const char *val)
{
	size_t o = strlen(buf);
	int n = snprintf(buf + o, len - o, "%s%s='", o ? " " : "", key);
	if (n < 0 || (size_t)n >= len - o)
		return -ENAMETOOLONG;
	o += (size_t)n;
	for (const char *c = val; *c; c++) {
		if (o + 3 >= len)
			return -ENAMETOOLONG;
		if (*c == '\'' || *c == '\\')
			buf[o++] = '\\';
		buf[o++] = *c;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return 0;
}

static int pg_dsn_build(char *buf, size_t len, const char *sockdir, const char *dbname, const char *user,
			const char *options)
{
	buf[0] = '\0';
	int r = dsn_append(buf, len, "host", sockdir);
	if (r == 0)
		r = dsn_append(buf, len, "port", PG_PORT);
	if (r == 0)
		r = dsn_append(buf, len, "dbname", dbname);
	if (r == 0)
		r = dsn_append(buf, len, "user", user);
	if (r == 0 && options)
		r = dsn_append(buf, len, "options", options);
	return r;
}

static int pg_paths_init(struct pgembed *pg, const char *state_dir, const struct pgproc_user *u, char *err,
			 size_t errlen)
{
	/* 0711: directories we create must let the cluster's user pass
	 * through to pg/ and pg-run/ without letting anyone list them. */
	int r = fs_mkdir_p(state_dir, 0711);
	if (r < 0 || !realpath(state_dir, pg->state)) {
		r = r < 0 ? r : -errno;
		err_set(err, errlen, "state directory %s: %s", state_dir, strerror(-r));
		return r;
	}
	if (fs_path_join(pg->datadir, PATH_MAX, pg->state, "pg") < 0 ||
	    fs_path_join(pg->initdir, PATH_MAX, pg->state, "pg.initdb") < 0 ||
	    fs_path_join(pg->sockdir, PATH_MAX, pg->state, "pg-run") < 0 ||
	    fs_path_join(pg->logpath, PATH_MAX, pg->state, "pg.log") < 0) {
		err_set(err, errlen, "state directory path %s is too long", pg->state);
		return -ENAMETOOLONG;
	}
	/* A unix socket path must fit sockaddr_un.sun_path. */
	if (strlen(pg->sockdir) + strlen("/.s.PGSQL." PG_PORT) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		err_set(err, errlen, "socket directory %s is too long for a unix socket path; use a shorter state_dir",
			pg->sockdir);
		return -ENAMETOOLONG;
	}
	if (pg_dsn_build(pg->dsn, sizeof(pg->dsn), pg->sockdir, PG_DBNAME, u->name, PG_SESSION_OPTIONS) < 0 ||
	    pg_dsn_build(pg->admin_dsn, sizeof(pg->admin_dsn), pg->sockdir, "postgres", u->name, NULL) < 0) {
		err_set(err, errlen, "connection string too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

static int pg_log_open(const struct pgembed *pg, const struct pgproc_user *u)
{
	struct stat st;
	char old[PATH_MAX + 8];

	if (stat(pg->logpath, &st) == 0 && st.st_size > PG_LOG_ROTATE_BYTES) {
		snprintf(old, sizeof(old), "%s.old", pg->logpath);
		rename(pg->logpath, old);
	}
	int fd = open(pg->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0 && u->drop && fchown(fd, u->uid, u->gid) < 0)
		log_debug("pgembed: chown %s: %s", pg->logpath, strerror(errno));
	return pgproc_fd_above_stdio(fd);
}

static void pg_log_mark(int logfd, const char *what)
{
	char line[256];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	int n = snprintf(line, sizeof(line), PG_LOG_MARK "%s at %04d-%02d-%02d %02d:%02d:%02d UTC\n", what,
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n > 0 && write(logfd, line, (size_t)n) < 0)
		log_debug("pgembed: writing pg.log: %s", strerror(errno));
}

static int pg_wait_ready(struct pgembed *pg, char *err, size_t errlen)
{
	int64_t deadline = clock_mono_ms() + PG_READY_MS;
	char what[256], how[64];
	int st;

	for (;;) {
		PGPing p = PQping(pg->admin_dsn);
		if (p == PQPING_OK)
			return 0;
		if (p == PQPING_NO_ATTEMPT) {
			err_set(err, errlen, "invalid connection string %s", pg->admin_dsn);
			return -EINVAL;
		}
		if (pgproc_exited(pg->pid, &pg->is_child, &st)) {
			pgproc_status_describe(st, how, sizeof(how));
			snprintf(what, sizeof(what), "postgres (pid %ld) %s during start-up", (long)pg->pid, how);
			pg->pid = 0;
			pg_err_with_log(pg, err, errlen, what);
			return -ESRCH;
		}
		if (clock_mono_ms() > deadline) {
			snprintf(what, sizeof(what), "postgres (pid %ld) did not accept connections within %d s",
				 (long)pg->pid, PG_READY_MS / 1000);
			pg_err_with_log(pg, err, errlen, what);
			return -ETIMEDOUT;
		}
		sleep_ms(PG_POLL_MS);
	}
}

/* Wait for the postmaster to be gone; true if it is. */
static bool pg_wait_gone(struct pgembed *pg, long timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int st;
	while (!pgproc_exited(pg->pid, &pg->is_child, &st)) {
		if (clock_mono_ms() > deadline)
			return false;
		sleep_ms(PG_POLL_MS / 2);
	}
	return true;
}

static void pg_server_stop(struct pgembed *pg)
{
	if (pg->pid <= 0)
		return;
	log_debug("pgembed: stopping postgres pid %ld", (long)pg->pid);
	/* SIGINT is PostgreSQL's "fast" shutdown: abort sessions, checkpoint. */
	if (kill(pg->pid, SIGINT) == 0 && !pg_wait_gone(pg, PG_STOP_MS)) {
		log_debug("pgembed: postgres pid %ld ignored SIGINT; killing it", (long)pg->pid);
		kill(pg->pid, SIGKILL);
		pg_wait_gone(pg, 5000);
	} else if (pg->is_child) {
		/* kill() failed: reap it if it already exited. */
		pg_wait_gone(pg, 0);
	}
	pg->pid = 0;
}

static pid_t pg_pidfile_read(const struct pgembed *pg)
{
	char path[PATH_MAX], *data = NULL;
	if (fs_path_join(path, sizeof(path), pg->datadir, "postmaster.pid") < 0 ||
	    fs_read_all(path, 4096, &data, NULL) < 0)
		return -1;
	long pid = strtol(data, NULL, 10);
	free(data);
	return pid > 0 ? (pid_t)pid : 0;
}

/* 1 if a postmaster from an earlier run is serving our socket (adopted),
 * 0 if one should be started, <0 on error. */
static int pg_adopt(struct pgembed *pg, char *err, size_t errlen)
{
	pid_t pid = pg_pidfile_read(pg);
	if (pid < 0)
		return 0;
	PGPing p = PQping(pg->admin_dsn);
	if (p != PQPING_OK) {
		if (pid == 0 || !pgproc_pid_alive(pid))
			return 0; /* stale: postgres replaces the file itself */
		if (p != PQPING_REJECT && !pgproc_pid_is_postgres(pid)) {
			/* The pid was reused (e.g. after a reboot); postgres
			 * would refuse to start while that process lives. */
			char path[PATH_MAX];
			if (fs_path_join(path, sizeof(path), pg->datadir, "postmaster.pid") == 0)
				unlink(path);
			log_debug("pgembed: removed stale postmaster.pid (pid %ld is not postgres)", (long)pid);
			return 0;
		}
		/* Still starting up (crash recovery) or in the middle of a
		 * restart: wait for it rather than race it. */
		pg->pid = pid;
		int r = pg_wait_ready(pg, err, errlen);
		if (r < 0) {
			pg->pid = 0; /* not ours to stop */
			return r == -ESRCH ? 0 : r;
		}
	}
	pg->pid = pid;
	pg->adopted = true;
	log_debug("pgembed: adopted running postgres pid %ld", (long)pid);
	return 1;
}

static int pg_initdb(struct pgembed *pg, const struct pgproc_user *u, int logfd, int nullfd, char *err, size_t errlen)
{
	char initdb[PATH_MAX + 16], what[PATH_MAX + 128], how[64];
	/* trust is safe: only the cluster's user and root can reach the
	 * socket (see pg_server_start). */
	const char *argv[] = {initdb, "-D",   pg->initdir,	   "-U",	 u->name, "--auth=trust",
			      "-E",   "UTF8", "--no-instructions", "--locale=C", NULL};
	pid_t pid;
	int st = -1;

	if (is_file(pg->datadir, "PG_VERSION"))
		return 0;
	/* Only a cluster initdb finished is ever at <state>/pg: an empty
	 * directory is fine to replace, anything else is not ours to delete. */
	if (rmdir(pg->datadir) < 0 && errno != ENOENT) {
		err_set(err, errlen, "%s exists but is not a PostgreSQL data directory (no PG_VERSION); move it away",
			pg->datadir);
		return -EEXIST;
	}
	int r = pg_rm_rf(pg->initdir); /* left by an interrupted initdb */
	if (r == 0)
		r = pg_dir_own(pg->initdir, u, err, errlen);
	if (r < 0)
		return r;
	snprintf(initdb, sizeof(initdb), "%s/initdb", pg->bindir);
	pg_log_mark(logfd, "running initdb");
	r = pgproc_spawn(argv, logfd, nullfd, u, &pid);
	if (r < 0) {
		err_set(err, errlen, "fork: %s", strerror(-r));
		return r;
	}
	int64_t deadline = clock_mono_ms() + PG_INITDB_MS;
	pid_t w;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 && clock_mono_ms() < deadline)
		sleep_ms(PG_POLL_MS);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		snprintf(what, sizeof(what), "initdb took longer than %d s", PG_INITDB_MS / 1000);
		pg_err_with_log(pg, err, errlen, what);
		return -ETIMEDOUT;
	}
	/* ECHILD: a SIGCHLD handler elsewhere reaped it; judge by result. */
	bool ok = w == pid ? WIFEXITED(st) && WEXITSTATUS(st) == 0 : is_file(pg->initdir, "PG_VERSION");
	if (!ok) {
		pgproc_status_describe(w == pid ? st : -1, how, sizeof(how));
		snprintf(what, sizeof(what), "initdb of %s %s", pg->initdir, how);
		pg_err_with_log(pg, err, errlen, what);
		return -EIO;
	}
	if (rename(pg->initdir, pg->datadir) < 0) {
		err_set(err, errlen, "rename %s to %s: %s", pg->initdir, pg->datadir, strerror(errno));
		return -errno;
	}
	log_debug("pgembed: initialised cluster in %s", pg->datadir);
	return 0;
}

static int pg_datadir_check(const struct pgembed *pg, const struct pgproc_user *u, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(pg->datadir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_set(err, errlen, "%s is not a directory", pg->datadir);
		return -ENOTDIR;
	}
	if (st.st_uid != u->uid) {
		err_set(err, errlen, "data directory %s belongs to uid %u, not to user '%s' (uid %u)", pg->datadir,
			(unsigned)st.st_uid, u->name, (unsigned)u->uid);
		return -EPERM;
	}
	return 0;
}

static int pg_server_start(struct pgembed *pg, const struct pgproc_user *u, char *err, size_t errlen)
{
	char postgres[PATH_MAX + 16];
	/* No TCP at all; the socket directory is 0700, and so is the socket,
	 * which is why trust authentication is safe. */
	const char *argv[] = {postgres, "-D", pg->datadir, "-k", pg->sockdir, "-p", PG_PORT, "-c",
			      "listen_addresses=", "-c", "unix_socket_permissions=0700",
			      /* The server's log rotates: one file per hour of
			       * the day in <state>/pg/log, each emptied when its
			       * hour comes round again, so at most a day is kept. */
			      "-c", "logging_collector=on", "-c", "log_directory=log", "-c",
			      "log_filename=postgresql-%H.log", "-c", "log_truncate_on_rotation=on", "-c",
			      "log_rotation_age=60", "-c", "log_rotation_size=0", NULL};

	snprintf(postgres, sizeof(postgres), "%s/postgres", pg->bindir);
	int logfd = pg_log_open(pg, u);
	if (logfd < 0) {
		err_set(err, errlen, "open %s: %s", pg->logpath, strerror(errno));
		return -errno;
	}
	int nullfd = pgproc_fd_above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
	int r = nullfd < 0 ? -errno : 0;
	if (r < 0)
		err_set(err, errlen, "open /dev/null: %s", strerror(errno));
	if (r == 0)
		r = pg_initdb(pg, u, logfd, nullfd, err, errlen);
	if (r == 0)
		r = pg_datadir_check(pg, u, err, errlen);
	if (r == 0)
		r = pg_dir_own(pg->sockdir, u, err, errlen);
	if (r == 0)
		pg_log_mark(logfd, "starting postgres");
	if (r == 0 && (r = pgproc_spawn(argv, logfd, nullfd, u, &pg->pid)) < 0)
		err_set(err, errlen, "fork: %s", strerror(-r));
	if (nullfd >= 0)
		close(nullfd);
	close(logfd);
	if (r < 0)
		return r;
	pg->is_child = true;
	return pg_wait_ready(pg, err, errlen);
}

static int pg_db_ensure(struct pgembed *pg, char *err, size_t errlen)
{
	const char *params[1] = {PG_DBNAME};
	PGconn *c = PQconnectdb(pg->admin_dsn);
	PGresult *res = NULL;
	int r = -EIO;

	if (PQstatus(c) != CONNECTION_OK)
		goto out;
	res = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	if (PQntuples(res) == 1) {
		r = 0;
		goto out;
	}
	PQclear(res);
	/* An identifier cannot be a parameter; this one is a constant. */
	res = PQexecParams(c, "CREATE DATABASE " PG_DBNAME, 0, NULL, NULL, NULL, NULL, 0);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_COMMAND_OK || (state && strcmp(state, "42P04") == 0))
		r = 0;
out:
	if (r < 0)
		err_set(err, errlen, "creating database " PG_DBNAME ": %.*s", (int)strcspn(PQerrorMessage(c), "\n"),
			PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	return r;
}

int pgembed_start(const char *state_dir, const char *bindir, const char *run_as, struct pgembed **ret, char *err,
		  size_t errlen)
{
	struct pgproc_user u = {0};
	struct pgembed *pg = xcalloc(1, sizeof(*pg));
	int r = pgproc_user_resolve(run_as, &u, err, errlen);
	if (r == 0)
		r = pg_paths_init(pg, state_dir, &u, err, errlen);
	if (r == 0)
		r = pg_bindir_resolve(pg, bindir, err, errlen);
	if (r == 0 && u.drop)
		r = pg_state_reachable(pg->state, &u, err, errlen);
	if (r == 0)
		r = pg_adopt(pg, err, errlen);
	if (r == 0)
		r = pg_server_start(pg, &u, err, errlen);
	if (r >= 0)
		r = pg_db_ensure(pg, err, errlen);
	pgproc_user_done(&u);
	if (r < 0) {
		/* Do not leave a half-started server behind; one we adopted
		 * was running before us and is not ours to stop. */
		if (!pg->adopted)
			pg_server_stop(pg);
		free(pg);
		return r;
	}
	*ret = pg;
	return 0;
}

const char *pgembed_dsn(const struct pgembed *pg)
{
	return pg->dsn;
}

void pgembed_stop(struct pgembed *pg)
{
	if (!pg)
		return;
	pg_server_stop(pg);
	free(pg);
}

void pgembed_detach(struct pgembed *pg)
{
	free(pg);
}

int pgembed_was_adopted(const struct pgembed *pg)
{
	return pg->adopted ? 1 : 0;
}
