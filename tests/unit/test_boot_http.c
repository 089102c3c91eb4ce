/* rack/boot/http: the Range header (RFC 9110 byte ranges, one range). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>

#include "rack/boot/http.h"

static enum boot_range parse(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	*off = *len = 12345;
	return boot_http_range_parse(h, size, off, len);
}

static void test_single_ranges(void **state)
{
	uint64_t off, len;

	assert_int_equal(parse("bytes=0-99", 1000, &off, &len), BOOT_RANGE_PARTIAL);
	assert_int_equal(off, 0);
	assert_int_equal(len, 100);
	assert_int_equal(parse("bytes=100-", 1000, &off, &len), BOOT_RANGE_PARTIAL);
	assert_int_equal(off, 100);
	assert_int_equal(len, 900);
	assert_int_equal(parse("bytes=-10", 1000, &off, &len), BOOT_RANGE_PARTIAL);
	assert_int_equal(off, 990);
	assert_int_equal(len, 10);
	assert_int_equal(parse("bytes=-5000", 1000, &off, &len), BOOT_RANGE_PARTIAL); /* whole file */
	assert_int_equal(off, 0);
	assert_int_equal(len, 1000);
	assert_int_equal(parse("bytes=990-5000", 1000, &off, &len), BOOT_RANGE_PARTIAL); /* clipped */
	assert_int_equal(off, 990);
	assert_int_equal(len, 10);
	assert_int_equal(parse("Bytes= 5-5 ", 1000, &off, &len), BOOT_RANGE_PARTIAL);
	assert_int_equal(off, 5);
	assert_int_equal(len, 1);
	/* past 4 GiB */
	assert_int_equal(parse("bytes=5000000000-", 6000000000ull, &off, &len), BOOT_RANGE_PARTIAL);
	assert_int_equal(off, 5000000000ull);
	assert_int_equal(len, 1000000000ull);
}

static void test_unsatisfiable(void **state)
{
	uint64_t off, len;

	assert_int_equal(parse("bytes=1000-", 1000, &off, &len), BOOT_RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=2000-3000", 1000, &off, &len), BOOT_RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=-0", 1000, &off, &len), BOOT_RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=0-", 0, &off, &len), BOOT_RANGE_UNSATISFIABLE);
	assert_int_equal(parse("bytes=-1", 0, &off, &len), BOOT_RANGE_UNSATISFIABLE);
}

static void test_ignored(void **state)
{
	uint64_t off, len;
	const char *ignored[] = {
		NULL, "", "bytes=", "bytes=-", "items=0-1", "bytes=0-1,5-6", "bytes=5-1", "bytes=a-b",
		"bytes=1-2x", "bytes=99999999999999999999-", "bytes 0-1",
	};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		assert_int_equal(parse(ignored[i], 1000, &off, &len), BOOT_RANGE_NONE);
		assert_int_equal(off, 12345); /* untouched */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_ranges),
		cmocka_unit_test(test_unsatisfiable),
		cmocka_unit_test(test_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
