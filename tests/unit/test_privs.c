#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(format_names_what_a_daemon_keeps),
	    cmocka_unit_test(keep_narrows_the_sets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
