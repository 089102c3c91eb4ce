#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/privs.h"

static void format_names_what_a_daemon_keeps(void **state)
{
	(void)state;
	char buf[256];
	privs_caps_format(PRIVS_CAP(CAP_NET_RAW) | PRIVS_CAP(CAP_NET_BIND_SERVICE) | PRIVS_CAP(CAP_NET_ADMIN) |
			      PRIVS_CAP(CAP_SYS_ADMIN),
			  buf, sizeof(buf));
	assert_string_equal(buf, "net_bind_service,net_admin,net_raw,sys_admin");
	privs_caps_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	privs_caps_format(PRIVS_CAP(CAP_SYS_MODULE) | PRIVS_CAP(CAP_KILL), buf, sizeof(buf));
	assert_string_equal(buf, "kill,16");
	char small[8];
	privs_caps_format(PRIVS_CAP(CAP_NET_BIND_SERVICE), small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
}

/* In a child (the test process keeps its own): after keeping net_raw,
 * the effective set is at most net_raw, and it is net_raw exactly when the
 * child had it before. */
static void keep_narrows_the_sets(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t before = 0, after = 0;
		char err[256];
		if (privs_effective(&before) < 0 || privs_keep_caps(PRIVS_CAP(CAP_NET_RAW), err, sizeof(err)) < 0 ||
		    privs_effective(&after) < 0)
			_exit(2);
		_exit(after == (before & PRIVS_CAP(CAP_NET_RAW)) ? 0 : 3);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void lookup_says_how_to_create_a_missing_user(void **state)
{
	(void)state;
	struct privs_user u;
	char err[512];
	assert_int_equal(privs_user_lookup("root", &u, err, sizeof(err)), 0);
	assert_int_equal(u.uid, 0);
	assert_int_equal(privs_user_lookup("no-such-user-ironrack", &u, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "useradd --system"));
	assert_non_null(strstr(err, "user = root"));
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

/* A tree of files, directories and a link given to nobody: everything in
 * it changes owner, what the link points to does not; a second call finds
 * the top already given and does nothing. Needs root. */
static void give_tree_changes_owners_but_not_link_targets(void **state)
{
	(void)state;
	struct privs_user u;
	char err[512], dir[] = "/tmp/test_privs.XXXXXX", p[256], target[256];
	if (geteuid() != 0 || privs_user_lookup("nobody", &u, err, sizeof(err)) < 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(target, sizeof(target), "%s.target", dir);
	touch(target);
	snprintf(p, sizeof(p), "%s/a", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/a/b", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/a/b/file", dir);
	touch(p);
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(target, p), 0);
	/* top, a, a/b, a/b/file, link */
	assert_int_equal(privs_give_tree(dir, &u, err, sizeof(err)), 5);
	struct stat st;
	snprintf(p, sizeof(p), "%s/a/b/file", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, u.uid);
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_uid, u.uid);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(privs_give_tree(dir, &u, err, sizeof(err)), 0);
	/* what root adds later inside a tree already given is given next time */
	snprintf(p, sizeof(p), "%s/a/later", dir);
	touch(p);
	assert_int_equal(privs_give_tree(dir, &u, err, sizeof(err)), 1);
	assert_true(privs_give_tree("/nonexistent/x", &u, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/x"));
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, target);
	assert_int_equal(system(cmd), 0);
}

/* In a child: root becomes nobody keeping net_raw only — in every set,
 * the bounding one too — and cannot gain more by exec. Needs root. */
static void become_switches_user_and_keeps_only_keep(void **state)
{
	(void)state;
	struct privs_user u;
	char err[512];
	if (geteuid() != 0 || privs_user_lookup("nobody", &u, err, sizeof(err)) < 0)
		skip();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t eff = 0;
		if (privs_become(&u, PRIVS_CAP(CAP_NET_RAW), err, sizeof(err)) < 0)
			_exit(2);
		if (getuid() != u.uid || geteuid() != u.uid || getgid() != u.gid || getegid() != u.gid)
			_exit(3);
		if (privs_effective(&eff) < 0 || eff != PRIVS_CAP(CAP_NET_RAW))
			_exit(4);
		if (prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) != 0 ||
		    prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) != 1)
			_exit(5);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(6);
		if (setuid(0) == 0)
			_exit(7);
		_exit(0);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(format_names_what_a_daemon_keeps),
	    cmocka_unit_test(keep_narrows_the_sets),
	    cmocka_unit_test(lookup_says_how_to_create_a_missing_user),
	    cmocka_unit_test(give_tree_changes_owners_but_not_link_targets),
	    cmocka_unit_test(become_switches_user_and_keeps_only_keep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
