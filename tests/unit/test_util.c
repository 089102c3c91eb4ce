#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/util.h"

static void test_hex_digit_value(void **state)
{
	(void)state;
	assert_int_equal(hex_digit_value('0'), 0);
	assert_int_equal(hex_digit_value('9'), 9);
	assert_int_equal(hex_digit_value('a'), 10);
	assert_int_equal(hex_digit_value('f'), 15);
	assert_int_equal(hex_digit_value('A'), 10);
	assert_int_equal(hex_digit_value('F'), 15);
	assert_int_equal(hex_digit_value('g'), -1);
	assert_int_equal(hex_digit_value('G'), -1);
	assert_int_equal(hex_digit_value(':'), -1);
	assert_int_equal(hex_digit_value('\0'), -1);
}

static void test_hex_decode_cases(void **state)
{
	(void)state;
	uint8_t out[4];

	memset(out, 0, sizeof(out));
	assert_int_equal(hex_decode("deadBEEF", 8, out, sizeof(out)), 4);
	assert_int_equal(out[0], 0xde);
	assert_int_equal(out[1], 0xad);
	assert_int_equal(out[2], 0xbe);
	assert_int_equal(out[3], 0xef);

	memset(out, 0, sizeof(out));
	assert_int_equal(hex_decode("0A0b", 4, out, sizeof(out)), 2);
	assert_int_equal(out[0], 0x0a);
	assert_int_equal(out[1], 0x0b);

	/* Only len digits count: the rest of the string is not read. */
	assert_int_equal(hex_decode("01zz", 2, out, sizeof(out)), 1);
	assert_int_equal(out[0], 0x01);

	assert_int_equal(hex_decode("", 0, out, sizeof(out)), 0);
}

static void test_hex_decode_errors(void **state)
{
	(void)state;
	uint8_t out[2];

	assert_int_equal(hex_decode("abc", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("0g", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("g0", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("00 1", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("001122", 6, out, sizeof(out)), -ENOSPC);
	/* Exactly full is fine. */
	assert_int_equal(hex_decode("0011", 4, out, sizeof(out)), 2);
}

static void test_hex_encode_round_trip(void **state)
{
	(void)state;
	uint8_t in[256], back[256];
	char hex[2 * sizeof(in) + 1];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	hex_encode(in, sizeof(in), hex);
	assert_int_equal(strlen(hex), 2 * sizeof(in));
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 2 * 250, "fafbfcfdfeff"); /* lower case */
	assert_int_equal(hex_decode(hex, strlen(hex), back, sizeof(back)), (int)sizeof(in));
	assert_memory_equal(in, back, sizeof(in));

	hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
}

static void test_clocks(void **state)
{
	(void)state;
	int64_t us = clock_mono_us(), ms = clock_mono_ms();
	int64_t prev_us = us, prev_ms = ms;

	assert_true(us > 0);
	/* ms was read after us, so it is at least us / 1000, and not far past it. */
	assert_true(ms >= us / 1000);
	assert_true(ms - us / 1000 < 1000);
	for (int i = 0; i < 10000; i++) {
		int64_t u = clock_mono_us(), m = clock_mono_ms();
		assert_true(u >= prev_us);
		assert_true(m >= prev_ms);
		prev_us = u;
		prev_ms = m;
	}
	usleep(20000);
	assert_true(clock_mono_ms() - ms >= 20);
	assert_true(clock_mono_us() - us >= 20000);

	/* Wall clock in unix ms: after 2020-01-01, before 2100-01-01. */
	int64_t real = clock_real_ms();
	assert_true(real > INT64_C(1577836800000));
	assert_true(real < INT64_C(4102444800000));
}

static void test_err_set(void **state)
{
	(void)state;
	char err[8];

	err_set(err, sizeof(err), "%s %d", "abc", 42);
	assert_string_equal(err, "abc 42");

	err_set(err, sizeof(err), "a long message %d", 12345);
	assert_string_equal(err, "a long "); /* truncated, NUL-terminated */

	memset(err, 'x', sizeof(err));
	err_set(err, 0, "ignored");
	assert_int_equal(err[0], 'x');

	err_set(NULL, 0, "ignored %d", 1);
	err_set(NULL, 64, "ignored %d", 2);
}

static void test_sock_bound_port(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);

	int port = sock_bound_port(fd);
	assert_true(port > 0 && port < 65536);

	struct sockaddr_in got;
	socklen_t len = sizeof(got);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&got, &len), 0);
	assert_int_equal(port, ntohs(got.sin_port));
	close(fd);

	assert_int_equal(sock_bound_port(fd), -EBADF);
}

static char *read_text(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(fs_read_all(path, 4096, &data, &len), 0);
	return data;
}

static void test_port_file_write(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_util.XXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ports/api", dir);

	assert_int_equal(port_file_write(dir, "api", "127.0.0.1", 40001), 0);
	char *text = read_text(path);
	assert_string_equal(text, "127.0.0.1:40001\n");
	free(text);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	ino_t first = st.st_ino;

	/* Replaced whole, by rename: a new inode, no temporary left behind. */
	assert_int_equal(port_file_write(dir, "api", "::1", 5240), 0);
	text = read_text(path);
	assert_string_equal(text, "[::1]:5240\n");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_ino != first);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s/ports | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_xalloc(void **state)
{
	(void)state;
	char *s = xasprintf("%s-%d", "rack", 7);
	assert_string_equal(s, "rack-7");
	free(s);

	s = xasprintf("%s", "");
	assert_string_equal(s, "");
	free(s);

	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);

	s = xstrdup("x");
	assert_string_equal(s, "x");
	free(s);

	int *zero = xcalloc(16, sizeof(int));
	for (int i = 0; i < 16; i++)
		assert_int_equal(zero[i], 0);
	zero = xreallocarray(zero, 32, sizeof(int));
	zero[31] = 1;
	free(zero);

	/* Zero-byte requests still give a pointer free() accepts. */
	void *p = xmalloc(0);
	assert_non_null(p);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hex_digit_value),
	    cmocka_unit_test(test_hex_decode_cases),
	    cmocka_unit_test(test_hex_decode_errors),
	    cmocka_unit_test(test_hex_encode_round_trip),
	    cmocka_unit_test(test_clocks),
	    cmocka_unit_test(test_err_set),
	    cmocka_unit_test(test_sock_bound_port),
	    cmocka_unit_test(test_port_file_write),
	    cmocka_unit_test(test_xalloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
