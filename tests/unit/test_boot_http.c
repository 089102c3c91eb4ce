/* rack/boot/http: the Range header (RFC 9110 byte ranges, one range), and a
 * listener on port 0 telling the port the kernel chose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/util.h"
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
	    NULL,	  "",
	    "bytes=",	  "bytes=-",
	    "items=0-1",  "bytes=0-1,5-6",
	    "bytes=5-1",  "bytes=a-b",
	    "bytes=1-2x", "bytes=99999999999999999999-",
	    "bytes 0-1",
	};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		assert_int_equal(parse(ignored[i], 1000, &off, &len), BOOT_RANGE_NONE);
		assert_int_equal(off, 12345); /* untouched */
	}
}

/* "ADDRESS:0": bound to a free port, which boot_http_port() reports. */
static void test_port_zero(void **state)
{
	char root[] = "/tmp/test_boot_http.XXXXXX";
	struct event_base *base = event_base_new();
	const char *listens[] = {"127.0.0.1:0", "[::1]:0"};

	assert_non_null(mkdtemp(root));
	for (size_t i = 0; i < 2; i++) {
		struct boot_http_conf conf = {.listen = listens[i], .root = root, .max_connections = 4, .nsfd = -1};
		struct boot_http *h = NULL;
		int r = boot_http_new(base, &conf, &h);
		if (r == -EADDRNOTAVAIL && i == 1)
			continue; /* no IPv6 loopback in this namespace */
		assert_int_equal(r, 0);
		assert_true(boot_http_port(h) > 0);
		boot_http_free(h);
	}
	/* A port is still required to be a port. */
	struct boot_http_conf bad = {.listen = "127.0.0.1:0x", .root = root, .max_connections = 4, .nsfd = -1};
	struct boot_http *h = NULL;
	assert_int_equal(boot_http_new(base, &bad, &h), -EINVAL);
	rmdir(root);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_ranges),
	    cmocka_unit_test(test_unsatisfiable),
	    cmocka_unit_test(test_ignored),
	    cmocka_unit_test(test_port_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
