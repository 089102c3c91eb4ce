#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"

struct tconf {
	char *name;
	char *state_dir;
	long workers;
	bool tls;
	long heartbeat_interval;
	long lease_time;
	enum log_level log_level;
	char *region;
	struct conf_list dns;
	long offset;
	char *motd;
};

#define F(x) offsetof(struct tconf, x)

static const struct conf_key table[] = {
    {"name", CONF_STRING, F(name), 0, 0, "ironrack", "instance name"},
    {"state_dir", CONF_PATH, F(state_dir), 0, 0, "/var/lib/ironrack", "state directory"},
    {"workers", CONF_INT, F(workers), 1, 64, "4", "worker threads"},
    {"tls", CONF_BOOL, F(tls), 0, 0, "yes", "use TLS"},
    {"heartbeat_interval", CONF_DURATION, F(heartbeat_interval), 1, 3600, "30s", "heartbeat period"},
    {"lease_time", CONF_DURATION, F(lease_time), 0, 0, "1h", "DHCP lease time"},
    {"log_level", CONF_LOGLEVEL, F(log_level), 0, 0, "info", "log verbosity"},
    {"region", CONF_ENDPOINT, F(region), 0, 0, NULL, "region endpoint"},
    {"dns", CONF_LIST, F(dns), 0, 0, "", "DNS servers"},
    {"offset", CONF_INT, F(offset), 0, 0, NULL, "unbounded integer"},
    {"motd", CONF_STRING, F(motd), 0, 0, NULL, NULL},
};

#define NKEYS (sizeof(table) / sizeof(table[0]))

struct fixture {
	struct tconf c;
	char err[512];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	if (conf_defaults(table, NKEYS, &fx->c, fx->err, sizeof(fx->err)) < 0) {
		fprintf(stderr, "conf_defaults: %s\n", fx->err);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	conf_free(table, NKEYS, &fx->c);
	free(fx);
	return 0;
}

static int load(struct fixture *fx, const char *text)
{
	fx->err[0] = '\0';
	return conf_load_buffer("test.conf", text, table, NKEYS, &fx->c, fx->err, sizeof(fx->err));
}

/* Loading text must fail with -EINVAL and exactly this message. */
static void check_load_error(struct fixture *fx, const char *text, const char *want)
{
	int r = load(fx, text);
	if (r != -EINVAL)
		fail_msg("load(\"%s\") = %d, want -EINVAL", text, r);
	assert_string_equal(fx->err, want);
}

static void check_set_error(struct fixture *fx, const char *key, const char *value, const char *want)
{
	fx->err[0] = '\0';
	int r = conf_set(table, NKEYS, &fx->c, key, value, fx->err, sizeof(fx->err));
	if (r != -EINVAL)
		fail_msg("conf_set(%s, \"%s\") = %d, want -EINVAL", key, value, r);
	assert_string_equal(fx->err, want);
}

static void set_ok(struct fixture *fx, const char *key, const char *value)
{
	int r = conf_set(table, NKEYS, &fx->c, key, value, fx->err, sizeof(fx->err));
	if (r != 0)
		fail_msg("conf_set(%s, \"%s\") = %d: %s", key, value, r, fx->err);
}

static void load_ok(struct fixture *fx, const char *text)
{
	int r = load(fx, text);
	if (r != 0)
		fail_msg("load = %d: %s", r, fx->err);
}

static void test_defaults(void **state)
{
	struct fixture *fx = *state;

	assert_string_equal(fx->c.name, "ironrack");
	assert_string_equal(fx->c.state_dir, "/var/lib/ironrack");
	assert_int_equal(fx->c.workers, 4);
	assert_true(fx->c.tls);
	assert_int_equal(fx->c.heartbeat_interval, 30);
	assert_int_equal(fx->c.lease_time, 3600);
	assert_int_equal(fx->c.log_level, LOG_LEVEL_INFO);
	assert_null(fx->c.region);
	assert_int_equal(fx->c.dns.n, 0);
	assert_null(fx->c.dns.items);
	assert_int_equal(fx->c.offset, 0);
	assert_null(fx->c.motd);
}

static void test_defaults_bad_row(void **state)
{
	struct tconf c = {0};
	char err[256];
	const struct conf_key bad[] = {
	    {"name", CONF_STRING, F(name), 0, 0, "x", ""},
	    {"workers", CONF_INT, F(workers), 1, 64, "many", ""},
	};

	assert_int_equal(conf_defaults(bad, 2, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "default: bad value for 'workers': 'many' is not an integer");
	/* The row before the bad one was applied and is owned by c. */
	assert_string_equal(c.name, "x");
	conf_free(bad, 2, &c);
	assert_null(c.name);
}

static void test_load_every_type(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "# ironrack rack daemon\n"
		    "\n"
		    "name = rack-1\n"
		    "state_dir = /srv/ironrack\n"
		    "workers = 64\n"
		    "tls = off\n"
		    "heartbeat_interval = 5m\n"
		    "lease_time = 2d\n"
		    "log_level = debug\n"
		    "region = grpcs://region.example:5250\n"
		    "dns = 192.0.2.53, 192.0.2.54 2001:db8::53\n"
		    "offset = -12\n"
		    "motd = hello world\n");
	assert_string_equal(fx->c.name, "rack-1");
	assert_string_equal(fx->c.state_dir, "/srv/ironrack");
	assert_int_equal(fx->c.workers, 64);
	assert_false(fx->c.tls);
	assert_int_equal(fx->c.heartbeat_interval, 300);
	assert_int_equal(fx->c.lease_time, 2 * 86400);
	assert_int_equal(fx->c.log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(fx->c.region, "grpcs://region.example:5250");
	assert_int_equal(fx->c.dns.n, 3);
	assert_string_equal(fx->c.dns.items[0], "192.0.2.53");
	assert_string_equal(fx->c.dns.items[1], "192.0.2.54");
	assert_string_equal(fx->c.dns.items[2], "2001:db8::53");
	assert_int_equal(fx->c.offset, -12);
	assert_string_equal(fx->c.motd, "hello world");
}

static void test_int(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "workers = 1\n");
	assert_int_equal(fx->c.workers, 1);
	check_load_error(fx, "workers = 0\n", "test.conf:1: value for 'workers' out of range 1..64");
	check_load_error(fx, "workers = 65\n", "test.conf:1: value for 'workers' out of range 1..64");
	check_load_error(fx, "workers = -1\n", "test.conf:1: value for 'workers' out of range 1..64");
	check_load_error(fx, "workers = abc\n", "test.conf:1: bad value for 'workers': 'abc' is not an integer");
	check_load_error(fx, "workers = 4x\n", "test.conf:1: bad value for 'workers': '4x' is not an integer");
	check_load_error(fx, "workers = 0x10\n", "test.conf:1: bad value for 'workers': '0x10' is not an integer");
	check_load_error(fx, "workers = 1.5\n", "test.conf:1: bad value for 'workers': '1.5' is not an integer");
	check_load_error(fx, "workers =\n", "test.conf:1: bad value for 'workers': '' is not an integer");
	assert_int_equal(fx->c.workers, 1); /* failed sets leave the value */

	/* Unbounded rows take anything that fits a long, and no more. */
	load_ok(fx, "offset = 9223372036854775807\n");
	assert_true(fx->c.offset == 9223372036854775807L);
	load_ok(fx, "offset = -9223372036854775808\n");
	assert_true(fx->c.offset == (-9223372036854775807L - 1));
	check_load_error(fx, "offset = 9223372036854775808\n", "test.conf:1: value for 'offset' out of range");
}

static void test_bool(void **state)
{
	struct fixture *fx = *state;
	static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes", "ON"};
	static const char *const no[] = {"false", "no", "off", "0", "False", "NO", "Off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		fx->c.tls = false;
		set_ok(fx, "tls", yes[i]);
		assert_true(fx->c.tls);
		fx->c.tls = true;
		set_ok(fx, "tls", no[i]);
		assert_false(fx->c.tls);
	}
	check_load_error(
	    fx, "tls = maybe\n",
	    "test.conf:1: bad value for 'tls': 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)");
	check_load_error(fx, "tls = 2\n",
			 "test.conf:1: bad value for 'tls': '2' is not a boolean (true/false, yes/no, on/off, 1/0)");
	check_load_error(fx, "tls =\n",
			 "test.conf:1: bad value for 'tls': '' is not a boolean (true/false, yes/no, on/off, 1/0)");
}

static void test_duration(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *text;
		long secs;
	} ok[] = {
	    {"30", 30}, {"30s", 30}, {"5m", 300}, {"3h", 10800}, {"1d", 86400}, {"0", 0}, {"0s", 0},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		set_ok(fx, "lease_time", ok[i].text);
		assert_int_equal(fx->c.lease_time, ok[i].secs);
	}
	set_ok(fx, "heartbeat_interval", "1h");
	assert_int_equal(fx->c.heartbeat_interval, 3600);

	static const char *const bad[] = {"abc", "5x", "30ss", "-5", "1.5h", "h", "5 m", "5M", "1h30m", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[64], want[256];
		snprintf(text, sizeof(text), "heartbeat_interval = %s\n", bad[i]);
		snprintf(want, sizeof(want),
			 "test.conf:1: bad value for 'heartbeat_interval': '%s' is not a duration (e.g. 30s, 5m, 1h)",
			 bad[i]);
		check_load_error(fx, text, want);
	}
	check_load_error(fx, "heartbeat_interval = 0s\n",
			 "test.conf:1: value for 'heartbeat_interval' out of range 1..3600");
	check_load_error(fx, "heartbeat_interval = 61m\n",
			 "test.conf:1: value for 'heartbeat_interval' out of range 1..3600");
	check_load_error(fx, "heartbeat_interval = 3601\n",
			 "test.conf:1: value for 'heartbeat_interval' out of range 1..3600");
	/* Overflow in the digits or in the unit multiplication. */
	check_load_error(fx, "lease_time = 99999999999999999999\n", "test.conf:1: value for 'lease_time' out of range");
	check_load_error(fx, "lease_time = 9223372036854775807d\n", "test.conf:1: value for 'lease_time' out of range");
	assert_int_equal(fx->c.heartbeat_interval, 3600);
}

static void test_loglevel(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "log_level = warn\n");
	assert_int_equal(fx->c.log_level, LOG_LEVEL_WARN);
	set_ok(fx, "log-level", "error");
	assert_int_equal(fx->c.log_level, LOG_LEVEL_ERR);
	check_load_error(
	    fx, "log_level = loud\n",
	    "test.conf:1: bad value for 'log_level': 'loud' is not a log level (error, warn, info, debug)");
	assert_int_equal(fx->c.log_level, LOG_LEVEL_ERR);
}

static void test_path(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "state_dir = /\n");
	assert_string_equal(fx->c.state_dir, "/");
	check_load_error(fx, "state_dir = var/lib\n", "test.conf:1: 'state_dir' must be an absolute path");
	check_load_error(fx, "state_dir = ./x\n", "test.conf:1: 'state_dir' must be an absolute path");
	check_load_error(fx, "state_dir = ~/x\n", "test.conf:1: 'state_dir' must be an absolute path");
	check_load_error(fx, "state_dir =\n", "test.conf:1: 'state_dir' must be an absolute path");
	assert_string_equal(fx->c.state_dir, "/");
}

static void test_endpoint(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "region = [2001:db8::1]:5250\n");
	assert_string_equal(fx->c.region, "[2001:db8::1]:5250");
	set_ok(fx, "region", "region.example:1");
	assert_string_equal(fx->c.region, "region.example:1");
	check_load_error(fx, "region = region.example\n",
			 "test.conf:1: bad value for 'region': 'region.example' has no port (expected host:port)");
	check_load_error(fx, "region = https://h\n",
			 "test.conf:1: bad value for 'region': 'https://h' has no port (expected host:port)");
	check_load_error(fx, "region = ::1\n",
			 "test.conf:1: bad value for 'region': '::1' has no port (expected host:port)");
	check_load_error(fx, "region = h:0\n",
			 "test.conf:1: bad value for 'region': 'h:0' has port 0 (only a listen address may ask for any "
			 "free port)");
	check_load_error(fx, "region = h:http\n",
			 "test.conf:1: bad value for 'region': 'h:http' is not an endpoint (expected host:port)");
	check_load_error(fx, "region =\n",
			 "test.conf:1: bad value for 'region': '' is not an endpoint (expected host:port)");
	assert_string_equal(fx->c.region, "region.example:1");
}

static void test_endpoint_host_too_long(void **state)
{
	struct fixture *fx = *state;
	char text[400], want[512];

	/* 253 characters is a valid name; 254 is not. */
	strcpy(text, "region = ");
	memset(text + 9, 'a', 253);
	strcpy(text + 9 + 253, ":80\n");
	load_ok(fx, text);
	assert_int_equal(strlen(fx->c.region), 256);
	memset(text + 9, 'a', 254);
	strcpy(text + 9 + 254, ":80\n");
	/* The value is cut short in the message so the message stays readable. */
	snprintf(want, sizeof(want),
		 "test.conf:1: bad value for 'region': '%.64s...' is not an endpoint (expected host:port)", text + 9);
	check_load_error(fx, text, want);
}

static void test_list(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "dns = a,b,,c\n");
	assert_int_equal(fx->c.dns.n, 3);
	assert_string_equal(fx->c.dns.items[2], "c");
	/* A later set replaces the list (the old items are freed: ASan). */
	set_ok(fx, "dns", " x\ty , ");
	assert_int_equal(fx->c.dns.n, 2);
	assert_string_equal(fx->c.dns.items[0], "x");
	assert_string_equal(fx->c.dns.items[1], "y");
	/* Empty resets the list. */
	load_ok(fx, "dns =\n");
	assert_int_equal(fx->c.dns.n, 0);
	assert_null(fx->c.dns.items);
	set_ok(fx, "dns", "one");
	assert_int_equal(fx->c.dns.n, 1);
	load_ok(fx, "dns = \"\"\n");
	assert_int_equal(fx->c.dns.n, 0);
	set_ok(fx, "dns", " , ,, ");
	assert_int_equal(fx->c.dns.n, 0);

	/* Many items: the array grows. */
	char text[1024] = "dns =";
	for (int i = 0; i < 100; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), " s%d", i);
	load_ok(fx, text);
	assert_int_equal(fx->c.dns.n, 100);
	assert_string_equal(fx->c.dns.items[0], "s0");
	assert_string_equal(fx->c.dns.items[99], "s99");
}

static void test_string_empty_and_twice(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "name =\n");
	assert_string_equal(fx->c.name, "");
	/* Set again and again: every old value is freed (ASan leak check). */
	load_ok(fx, "name = one\nmotd = m1\n");
	load_ok(fx, "name = two\nmotd = m2\n");
	set_ok(fx, "name", "three");
	set_ok(fx, "motd", "m3");
	assert_string_equal(fx->c.name, "three");
	assert_string_equal(fx->c.motd, "m3");
	/* '=' in the value belongs to the value. */
	load_ok(fx, "motd = a=b = c\n");
	assert_string_equal(fx->c.motd, "a=b = c");
}

static void test_unknown_key(void **state)
{
	struct fixture *fx = *state;

	check_load_error(fx, "name = x\n\n# c\nfoo = 1\n", "test.conf:4: unknown key 'foo'");
	/* Files use the table's spelling; a dashed key gets a hint. */
	check_load_error(fx, "heartbeat-interval = 5s\n",
			 "test.conf:1: unknown key 'heartbeat-interval' (did you mean 'heartbeat_interval'?)");
	check_load_error(fx, "Name = x\n", "test.conf:1: unknown key 'Name'");
}

static void test_syntax_errors(void **state)
{
	struct fixture *fx = *state;

	check_load_error(fx, "name x\n", "test.conf:1: expected 'key = value'");
	check_load_error(fx, "name\n", "test.conf:1: expected 'key = value'");
	check_load_error(fx, "= x\n", "test.conf:1: expected 'key = value'");
	check_load_error(fx, "  = x\n", "test.conf:1: expected 'key = value'");
	check_load_error(fx, "na me = x\n", "test.conf:1: expected 'key = value'");
	check_load_error(fx, "name = x\nworkers 3\n", "test.conf:2: expected 'key = value'");
	check_load_error(fx, "[section]\n", "test.conf:1: expected 'key = value'");
}

static void test_duplicate(void **state)
{
	struct fixture *fx = *state;

	check_load_error(fx, "# header\n\nworkers = 2\nname = a\nworkers = 3\n",
			 "test.conf:5: duplicate key 'workers' (first set on line 3)");
	/* Duplicates are per load: a second file may set the key again. */
	load_ok(fx, "workers = 7\n");
	load_ok(fx, "workers = 8\n");
	assert_int_equal(fx->c.workers, 8);
	/* A failed first setting does not count as set. */
	check_load_error(fx, "workers = 100\n", "test.conf:1: value for 'workers' out of range 1..64");
}

static void test_quotes(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "motd = \"  padded  \"\n");
	assert_string_equal(fx->c.motd, "  padded  ");
	load_ok(fx, "motd = \"a # not a comment\"  # but this is\n");
	assert_string_equal(fx->c.motd, "a # not a comment");
	load_ok(fx, "motd = \"\"\n");
	assert_string_equal(fx->c.motd, "");
	load_ok(fx, "motd = \"'single' inside\"\n");
	assert_string_equal(fx->c.motd, "'single' inside");
	/* Quotes inside an unquoted value are literal. */
	load_ok(fx, "motd = say \"hi\"\n");
	assert_string_equal(fx->c.motd, "say \"hi\"");
	/* Quoted values are validated like any other. */
	load_ok(fx, "workers = \"12\"\n");
	assert_int_equal(fx->c.workers, 12);
	check_load_error(fx, "workers = \" 12\"\n", "test.conf:1: bad value for 'workers': ' 12' is not an integer");

	check_load_error(fx, "motd = \"open\n", "test.conf:1: unterminated quote");
	check_load_error(fx, "motd = \"a\" b\n", "test.conf:1: unexpected text after closing quote");
	check_load_error(fx, "motd = \"a\"\"b\"\n", "test.conf:1: unexpected text after closing quote");
	check_load_error(fx, "motd = \"a\"#b\n", "test.conf:1: unexpected text after closing quote");
}

static void test_comments(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "# full line\n"
		    "   # indented\n"
		    "\t# tab-indented\n"
		    "#name = ignored\n"
		    "workers = 3 # trailing\n"
		    "name = a#b\n"
		    "motd = #fff\n"
		    "region = h:1\t# tab before\n");
	assert_int_equal(fx->c.workers, 3);
	assert_string_equal(fx->c.name, "a#b");
	assert_string_equal(fx->c.motd, "#fff");
	assert_string_equal(fx->c.region, "h:1");
	load_ok(fx, "motd = x # y # z\n");
	assert_string_equal(fx->c.motd, "x");
	load_ok(fx, "motd = http://h/#frag\n");
	assert_string_equal(fx->c.motd, "http://h/#frag");
}

static void test_whitespace_and_line_endings(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "  \t name\t=\t  spaced out \t \r\n"
		    "\r\n"
		    "# comment\r\n"
		    "workers = 9\r\n"
		    "motd = \"q\"\r\n"
		    "   \t  \n"
		    "tls = no");
	assert_string_equal(fx->c.name, "spaced out");
	assert_int_equal(fx->c.workers, 9);
	assert_string_equal(fx->c.motd, "q");
	assert_false(fx->c.tls);
	/* Line numbers still count CRLF lines. */
	check_load_error(fx, "name = a\r\n\r\nbogus = 1\r\n", "test.conf:3: unknown key 'bogus'");
	/* A UTF-8 byte order mark before the first key. */
	load_ok(fx, "\xef\xbb\xbfworkers = 5\n");
	assert_int_equal(fx->c.workers, 5);
	/* Empty input is a valid, empty file. */
	load_ok(fx, "");
	load_ok(fx, "\n\n\n");
}

static void test_line_too_long(void **state)
{
	struct fixture *fx = *state;
	size_t n = 4096;
	char *text = malloc(2 * n + 16);

	assert_non_null(text);
	/* Exactly 4096 bytes (plus CRLF) is allowed. */
	strcpy(text, "motd = ");
	memset(text + 7, 'x', n - 7);
	strcpy(text + n, "\r\n");
	load_ok(fx, text);
	assert_int_equal(strlen(fx->c.motd), n - 7);
	/* One more byte is not, and the error names the line. */
	strcpy(text, "name = a\n");
	memset(text + 9, '#', n + 1);
	strcpy(text + 9 + n + 1, "\n");
	check_load_error(fx, text, "test.conf:2: line too long (more than 4096 bytes)");
	free(text);
}

static char *write_tmp(const char *data, size_t len)
{
	char *path = strdup("/tmp/test_conf.XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_load_file(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = "workers = 11\nname = from-file\n";
	char *path = write_tmp(text, sizeof(text) - 1);
	char want[256];

	assert_int_equal(conf_load_file(path, table, NKEYS, &fx->c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->c.workers, 11);
	assert_string_equal(fx->c.name, "from-file");
	unlink(path);
	free(path);

	path = write_tmp("workers = 2\nnope = 1\n", 21);
	assert_int_equal(conf_load_file(path, table, NKEYS, &fx->c, fx->err, sizeof(fx->err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown key 'nope'", path);
	assert_string_equal(fx->err, want);
	unlink(path);
	free(path);
}

static void test_load_file_missing(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(conf_load_file("/nonexistent/ironrack.conf", table, NKEYS, &fx->c, fx->err, sizeof(fx->err)),
			 -ENOENT);
	assert_string_equal(fx->err, "/nonexistent/ironrack.conf: No such file or directory");
	assert_int_equal(conf_load_file("/tmp", table, NKEYS, &fx->c, fx->err, sizeof(fx->err)), -EISDIR);
	assert_string_equal(fx->err, "/tmp: Is a directory");
}

static void test_load_file_nul(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = "workers = 2\nname = a\0b\n";
	char *path = write_tmp(text, sizeof(text) - 1);
	char want[256];

	assert_int_equal(conf_load_file(path, table, NKEYS, &fx->c, fx->err, sizeof(fx->err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	assert_string_equal(fx->err, want);
	unlink(path);
	free(path);
}

static void test_load_file_size_limit(void **state)
{
	struct fixture *fx = *state;
	size_t max = 1024 * 1024;
	char *data = malloc(max + 1);
	char want[256];

	assert_non_null(data);
	/* Exactly 1 MiB of comment lines loads. */
	memset(data, '#', max + 1);
	for (size_t i = 99; i < max + 1; i += 100)
		data[i] = '\n';
	char *path = write_tmp(data, max);
	assert_int_equal(conf_load_file(path, table, NKEYS, &fx->c, fx->err, sizeof(fx->err)), 0);
	unlink(path);
	free(path);

	path = write_tmp(data, max + 1);
	assert_int_equal(conf_load_file(path, table, NKEYS, &fx->c, fx->err, sizeof(fx->err)), -EFBIG);
	snprintf(want, sizeof(want), "%s: file too large (more than 1048576 bytes)", path);
	assert_string_equal(fx->err, want);
	unlink(path);
	free(path);
	free(data);
}

static void test_set_override(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "heartbeat_interval = 10s\nstate_dir = /a\n");
	/* The command line wins over the file, in either spelling. */
	set_ok(fx, "heartbeat-interval", "2m");
	assert_int_equal(fx->c.heartbeat_interval, 120);
	set_ok(fx, "heartbeat_interval", "45");
	assert_int_equal(fx->c.heartbeat_interval, 45);
	set_ok(fx, "state-dir", "/b");
	assert_string_equal(fx->c.state_dir, "/b");

	check_set_error(
	    fx, "heartbeat-interval", "abc",
	    "--heartbeat-interval: bad value for 'heartbeat_interval': 'abc' is not a duration (e.g. 30s, 5m, 1h)");
	check_set_error(fx, "heartbeat_interval", "2h",
			"--heartbeat-interval: value for 'heartbeat_interval' out of range 1..3600");
	check_set_error(fx, "state-dir", "rel", "--state-dir: 'state_dir' must be an absolute path");
	check_set_error(fx, "no-such-key", "1", "--no-such-key: unknown key 'no-such-key'");
	/* Values from the command line are not trimmed or unquoted. */
	check_set_error(fx, "workers", " 5", "--workers: bad value for 'workers': ' 5' is not an integer");
	check_set_error(fx, "workers", "5 ", "--workers: bad value for 'workers': '5 ' is not an integer");
	set_ok(fx, "motd", "\"as is\"");
	assert_string_equal(fx->c.motd, "\"as is\"");
	assert_int_equal(fx->c.heartbeat_interval, 45);
	assert_string_equal(fx->c.state_dir, "/b");
}

static void test_find(void **state)
{
	const struct conf_key *k = conf_find(table, NKEYS, "heartbeat_interval");

	assert_non_null(k);
	assert_int_equal(k->type, CONF_DURATION);
	assert_ptr_equal(conf_find(table, NKEYS, "motd"), &table[NKEYS - 1]);
	assert_null(conf_find(table, NKEYS, "heartbeat-interval"));
	assert_null(conf_find(table, NKEYS, "heartbeat"));
	assert_null(conf_find(table, NKEYS, "heartbeat_interval_"));
	assert_null(conf_find(table, NKEYS, ""));
	assert_null(conf_find(table, 0, "name"));
}

static void test_err_buffer_optional(void **state)
{
	struct fixture *fx = *state;
	char tiny[8];

	/* No error buffer: still fails cleanly. */
	assert_int_equal(conf_load_buffer("x", "foo = 1\n", table, NKEYS, &fx->c, NULL, 0), -EINVAL);
	assert_int_equal(conf_set(table, NKEYS, &fx->c, "workers", "0", NULL, 0), -EINVAL);
	assert_int_equal(conf_load_file("/nonexistent", table, NKEYS, &fx->c, NULL, 0), -ENOENT);
	/* A small one is truncated, not overrun. */
	assert_int_equal(conf_load_buffer("x", "foo = 1\n", table, NKEYS, &fx->c, tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "x:1: un");
}

static void test_conf_free(void **state)
{
	struct tconf c = {0};
	char err[128];

	assert_int_equal(conf_defaults(table, NKEYS, &c, err, sizeof(err)), 0);
	assert_int_equal(
	    conf_load_buffer("t", "region = h:1\ndns = a b c\nmotd = m\n", table, NKEYS, &c, err, sizeof(err)), 0);
	conf_free(table, NKEYS, &c);
	assert_null(c.name);
	assert_null(c.state_dir);
	assert_null(c.region);
	assert_null(c.motd);
	assert_null(c.dns.items);
	assert_int_equal(c.dns.n, 0);
	/* Scalars are left alone; a second free is harmless. */
	assert_int_equal(c.workers, 4);
	conf_free(table, NKEYS, &c);
}

static void test_print_help(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const struct conf_key small[] = {
	    {"state_dir", CONF_PATH, F(state_dir), 0, 0, "/var/lib/ironrack", "state directory"},
	    {"heartbeat_interval", CONF_DURATION, F(heartbeat_interval), 1, 3600, "30s", "heartbeat period"},
	    {"region", CONF_ENDPOINT, F(region), 0, 0, NULL, "region endpoint"},
	    {"dns", CONF_LIST, F(dns), 0, 0, "", "DNS servers"},
	    {"motd", CONF_STRING, F(motd), 0, 0, "hi", NULL},
	};

	assert_non_null(f);
	conf_print_help(small, sizeof(small) / sizeof(small[0]), f);
	fclose(f);
	assert_string_equal(buf, "  --state-dir VALUE           state directory (default: /var/lib/ironrack)\n"
				 "  --heartbeat-interval VALUE  heartbeat period (default: 30s)\n"
				 "  --region VALUE              region endpoint\n"
				 "  --dns VALUE                 DNS servers (default: \"\")\n"
				 "  --motd VALUE                (default: hi)\n");
	free(buf);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_defaults),
	    cmocka_unit_test(test_defaults_bad_row),
	    T(test_load_every_type),
	    T(test_int),
	    T(test_bool),
	    T(test_duration),
	    T(test_loglevel),
	    T(test_path),
	    T(test_endpoint),
	    T(test_endpoint_host_too_long),
	    T(test_list),
	    T(test_string_empty_and_twice),
	    T(test_unknown_key),
	    T(test_syntax_errors),
	    T(test_duplicate),
	    T(test_quotes),
	    T(test_comments),
	    T(test_whitespace_and_line_endings),
	    T(test_line_too_long),
	    T(test_load_file),
	    T(test_load_file_missing),
	    T(test_load_file_nul),
	    T(test_load_file_size_limit),
	    T(test_set_override),
	    cmocka_unit_test(test_find),
	    T(test_err_buffer_optional),
	    cmocka_unit_test(test_conf_free),
	    cmocka_unit_test(test_print_help),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
