#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static const char *esc(char *buf, size_t size, const char *s, unsigned flags)
{
	log_escape(buf, size, s, strlen(s), flags);
	return buf;
}

static void test_log_escape_controls(void **state)
{
	(void)state;
	char b[256];

	assert_string_equal(esc(b, sizeof(b), "plain text: rack-1 10.0.0.1", 0), "plain text: rack-1 10.0.0.1");
	assert_string_equal(esc(b, sizeof(b), "a\nb\rc\td", 0), "a\\nb\\rc\\td");
	assert_string_equal(esc(b, sizeof(b), "\x1b[31mred", 0), "\\x1b[31mred");
	assert_string_equal(esc(b, sizeof(b), "\x01\x1f\x7f", 0), "\\x01\\x1f\\x7f");
	/* Quotes and backslashes pass in a whole line, are escaped when quoted. */
	assert_string_equal(esc(b, sizeof(b), "a\"b\\c", 0), "a\"b\\c");
	assert_string_equal(esc(b, sizeof(b), "a\"b\\c", LOG_ESCAPE_QUOTED), "a\\\"b\\\\c");
}

static void test_log_escape_utf8(void **state)
{
	(void)state;
	char b[256];

	/* Valid UTF-8 text is kept as it is. */
	assert_string_equal(esc(b, sizeof(b), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0),
			    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* C1 controls: raw bytes (not UTF-8) and as UTF-8 (U+0085 NEL, U+009B CSI). */
	assert_string_equal(esc(b, sizeof(b), "\x85\x9b", 0), "\\x85\\x9b");
	assert_string_equal(esc(b, sizeof(b), "a\xc2\x85z\xc2\x9b", 0), "a\\xc2\\x85z\\xc2\\x9b");
	/* Line/paragraph separators and a right-to-left override. */
	assert_string_equal(esc(b, sizeof(b), "\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xae", 0),
			    "\\xe2\\x80\\xa8\\xe2\\x80\\xa9\\xe2\\x80\\xae");
	/* Invalid: overlong '/', a surrogate, a sequence cut short, stray continuation, beyond U+10FFFF. */
	assert_string_equal(esc(b, sizeof(b), "\xc0\xaf", 0), "\\xc0\\xaf");
	assert_string_equal(esc(b, sizeof(b), "\xed\xa0\x80", 0), "\\xed\\xa0\\x80");
	assert_string_equal(esc(b, sizeof(b), "x\xe2\x82", 0), "x\\xe2\\x82");
	assert_string_equal(esc(b, sizeof(b), "\x80", 0), "\\x80");
	assert_string_equal(esc(b, sizeof(b), "\xf4\x90\x80\x80", 0), "\\xf4\\x90\\x80\\x80");
	/* A cut-short sequence followed by a newline: the newline is still escaped. */
	assert_string_equal(esc(b, sizeof(b), "\xe2\n", 0), "\\xe2\\n");
}

static void test_log_escape_truncation(void **state)
{
	(void)state;
	char b[8];

	/* An escape is never cut in half and dst is always terminated. */
	assert_int_equal(log_escape(b, sizeof(b), "abc\ndef", 7, 0), 6);
	assert_string_equal(b, "abc\\nde");
	assert_int_equal(log_escape(b, 6, "abcd\x1b", 5, 0), 4);
	assert_string_equal(b, "abcd");
	assert_int_equal(log_escape(b, 1, "abc", 3, 0), 0);
	assert_string_equal(b, "");
	assert_int_equal(log_escape(b, 0, "abc", 3, 0), 0);
	/* A NUL inside the input is escaped, not an end. */
	assert_int_equal(log_escape(b, sizeof(b), "a\0b", 3, 0), 3);
	assert_string_equal(b, "a\\x00b");
}

/* Whatever the input, the output holds no byte a line could be split or
 * coloured by, and is valid UTF-8 free of unsafe code points. */
static void test_log_escape_any_bytes(void **state)
{
	(void)state;
	unsigned char in[512];
	char out[4 * sizeof(in) + 1];
	unsigned seed = 12345;

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round % (int)sizeof(in));
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (unsigned char)(seed >> 16);
		}
		size_t used = log_escape(out, sizeof(out), (const char *)in, n, round & 1 ? LOG_ESCAPE_QUOTED : 0);
		assert_int_equal(used, n);
		for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
			assert_true(*p >= 0x20 && *p != 0x7f);
			if (*p == 0xc2)
				assert_true(p[1] >= 0xa0);
			if (*p == 0xe2 && p[1] == 0x80)
				assert_true(p[2] < 0xa8 || p[2] > 0xae);
		}
		/* Escaping escaped text changes nothing but backslashes. */
		char again[sizeof(out) * 2];
		log_escape(again, sizeof(again), out, strlen(out), 0);
		assert_string_equal(again, out);
	}
}

static void test_log_quote(void **state)
{
	(void)state;
	char q[LOG_QUOTE_SIZE];
	char big[1000];

	assert_string_equal(log_quote(q, sizeof(q), "rack-1"), "\"rack-1\"");
	assert_string_equal(log_quote(q, sizeof(q), "x\" enrolled rack \"y\nz"), "\"x\\\" enrolled rack \\\"y\\nz\"");
	assert_string_equal(log_quote(q, sizeof(q), NULL), "(null)");
	assert_string_equal(log_quote(q, sizeof(q), ""), "\"\"");
	assert_string_equal(log_quote_n(q, sizeof(q), "opt\0x", 5), "\"opt\\x00x\"");
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_quote(q, sizeof(q), big);
	assert_int_equal(strlen(q), sizeof(q) - 1);
	assert_memory_equal(q + strlen(q) - 4, "\"...", 4);
	/* A small buffer still gives a terminated string. */
	assert_string_equal(log_quote(q, 4, "abc"), "");
	assert_string_equal(log_quote(q, 10, "abcdefghij"), "\"abcd\"...");
}

/* The whole path: a message with a forged line in it stays one line. */
static void test_log_line_not_split(void **state)
{
	(void)state;
	char path[] = "/tmp/test_log_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);

	log_setup("testd", LOG_LEVEL_INFO);
	log_warn("enrol refused for %s", "evil\n2024-01-01T00:00:00.000Z regiond[1] info: enrolled rack \x1b[2K");

	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "testd["));
	assert_non_null(strstr(buf, "evil\\n2024-01-01T00:00:00.000Z regiond[1] info: enrolled rack \\x1b[2K\n"));
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_escape_controls),
	    cmocka_unit_test(test_log_escape_utf8),
	    cmocka_unit_test(test_log_escape_truncation),
	    cmocka_unit_test(test_log_escape_any_bytes),
	    cmocka_unit_test(test_log_quote),
	    cmocka_unit_test(test_log_line_not_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
