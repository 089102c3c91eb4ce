/* common/bootres: resource names, manifests, the wanted/present diff,
 * Range headers, and the confined directory walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka.h needs the three above first */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bootres.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/boot/loaders.h"
#include "rack/boot/resources.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
/* sha256("abc") */
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_names(void **state)
{
	const char *why = NULL;
	assert_int_equal(bootres_name_check("vmlinuz", &why), 0);
	assert_null(why);
	assert_int_equal(bootres_name_check("ephemeral/amd64/initrd.img", NULL), 0);
	assert_int_equal(bootres_name_check("ubuntu/amd64/ga-22.04/squashfs_v2+x~1,a=b@c", NULL), 0);
	assert_int_equal(bootres_name_check("a.b/c..d", NULL), 0); /* dots inside are fine */

	assert_int_equal(bootres_name_check("", &why), -EINVAL);
	assert_int_equal(bootres_name_check("/etc/passwd", &why), -EINVAL);
	assert_string_equal(why, "absolute path");
	assert_int_equal(bootres_name_check("../tls/ca.key", &why), -EPERM);
	assert_int_equal(bootres_name_check("a/../../b", NULL), -EPERM);
	assert_int_equal(bootres_name_check("a/./b", NULL), -EPERM);
	assert_int_equal(bootres_name_check("..", NULL), -EPERM);
	assert_int_equal(bootres_name_check(".hidden", NULL), -EPERM);
	assert_int_equal(bootres_name_check("a//b", NULL), -EINVAL);
	assert_int_equal(bootres_name_check("a/", NULL), -EINVAL);
	assert_int_equal(bootres_name_check("a b", NULL), -EINVAL);
	assert_int_equal(bootres_name_check("a%2e", NULL), -EINVAL);
	assert_int_equal(bootres_name_check("a\\b", NULL), -EINVAL);
	assert_int_equal(bootres_name_check("tab\there", NULL), -EINVAL);
	assert_int_equal(bootres_name_check("nl\nx", NULL), -EINVAL);
	assert_int_equal(bootres_name_check("vmlinuz.part", NULL), -EPERM);
	assert_int_equal(bootres_name_check("caf\xc3\xa9", NULL), -EINVAL);

	char longname[BOOTRES_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(bootres_name_check(longname, NULL), -ENAMETOOLONG);
	longname[BOOTRES_NAME_MAX] = '\0';
	assert_int_equal(bootres_name_check(longname, NULL), 0);

	assert_true(bootres_sha256_valid(SHA_A));
	assert_false(bootres_sha256_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_false(bootres_sha256_valid(SHA_A "a"));
	assert_false(bootres_sha256_valid("abc"));
	assert_false(bootres_sha256_valid(""));
}

static struct bootres_entry entry(const char *name, uint64_t size, const char *sha)
{
	struct bootres_entry e = {
	    .size = size, .mtime_ns = 1700000000123456789, .ctime_ns = 1700000001000000000, .ino = 42};
	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.sha256, sizeof(e.sha256), "%s", sha);
	return e;
}

static void test_manifest_roundtrip(void **state)
{
	struct bootres_manifest m = {0}, back = {0};
	snprintf(m.origin, sizeof(m.origin), "/var/lib/ironrack-rack/boot");
	struct bootres_entry a = entry("ephemeral/amd64/vmlinuz", 20971520, SHA_A);
	struct bootres_entry b = entry("ephemeral/amd64/initrd.img", 0, SHA_B);
	assert_int_equal(bootres_manifest_put(&m, &a), 0);
	assert_int_equal(bootres_manifest_put(&m, &b), 0);
	char *text = bootres_manifest_format(&m);
	assert_non_null(strstr(text, "# origin /var/lib/ironrack-rack/boot\n"));
	assert_non_null(
	    strstr(text, "ephemeral/amd64/vmlinuz 20971520 1700000000123456789 1700000001000000000 42 " SHA_A "\n"));
	size_t bad = 99;
	assert_int_equal(bootres_manifest_parse(text, strlen(text), &back, &bad), 0);
	assert_int_equal(bad, 0);
	assert_string_equal(back.origin, m.origin);
	assert_int_equal(back.n, 2);
	const struct bootres_entry *v = bootres_manifest_find(&back, "ephemeral/amd64/vmlinuz");
	assert_non_null(v);
	assert_int_equal(v->size, 20971520);
	assert_true(v->mtime_ns == a.mtime_ns && v->ctime_ns == a.ctime_ns && v->ino == 42);
	assert_string_equal(v->sha256, SHA_A);

	/* put replaces by name; remove says whether there was one */
	struct bootres_entry a2 = entry("ephemeral/amd64/vmlinuz", 5, SHA_B);
	assert_int_equal(bootres_manifest_put(&back, &a2), 0);
	assert_int_equal(back.n, 2);
	assert_int_equal(bootres_manifest_find(&back, a2.name)->size, 5);
	assert_int_equal(bootres_manifest_remove(&back, "ephemeral/amd64/vmlinuz"), 1);
	assert_int_equal(bootres_manifest_remove(&back, "ephemeral/amd64/vmlinuz"), 0);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.e[0].name, "ephemeral/amd64/initrd.img");

	/* an entry without a hash is not written */
	struct bootres_entry c = entry("nohash", 1, "");
	bootres_manifest_put(&m, &c);
	free(text);
	text = bootres_manifest_format(&m);
	assert_null(strstr(text, "nohash"));
	free(text);
	bootres_manifest_done(&m);
	bootres_manifest_done(&back);
}

static void test_manifest_bad_lines(void **state)
{
	const char text[] = "# ironrack boot resources v1\r\n"
			    "# a comment\n"
			    "\n"
			    "good 3 1 2 3 " SHA_ABC "\r\n"
			    "../escape 3 1 2 3 " SHA_ABC "\n"  /* bad name */
			    "/abs 3 1 2 3 " SHA_ABC "\n"       /* absolute */
			    "short 3 1 2 " SHA_ABC "\n"	       /* five fields */
			    "long 3 1 2 3 " SHA_ABC " extra\n" /* seven */
			    "neg -3 1 2 3 " SHA_ABC "\n"       /* negative size */
			    "hex 3 1 2 3 " SHA_ABC "0\n"       /* 65 digits */
			    "upper 3 1 2 3 BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\n"
			    "big 99999999999999999999999 1 2 3 " SHA_ABC "\n" /* overflows */
			    "good 4 1 2 3 " SHA_ABC "\n"		      /* duplicate */
			    "tabs\t7\t1\t2\t3\t" SHA_ABC "\n"
			    "last 1 1 1 1 " SHA_ABC; /* no final newline */
	struct bootres_manifest m = {0};
	size_t bad = 0;
	assert_int_equal(bootres_manifest_parse(text, sizeof(text) - 1, &m, &bad), 0);
	assert_int_equal(bad, 9);
	assert_int_equal(m.n, 3);
	assert_int_equal(bootres_manifest_find(&m, "good")->size, 3); /* the first one */
	assert_int_equal(bootres_manifest_find(&m, "tabs")->size, 7);
	assert_non_null(bootres_manifest_find(&m, "last"));
	assert_string_equal(m.origin, "");
	bootres_manifest_done(&m);

	/* NUL bytes inside a line make it bad, not a truncated good line */
	const char nul[] = "x 1 1 1 1 " SHA_ABC "\0junk\n";
	assert_int_equal(bootres_manifest_parse(nul, sizeof(nul) - 1, &m, &bad), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(m.n, 0);
	bootres_manifest_done(&m);
}

static bool has(const size_t *v, size_t n, size_t x)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] == x)
			return true;
	}
	return false;
}

static void test_diff(void **state)
{
	struct bootres_entry want[] = {
	    entry("k/vmlinuz", 10, SHA_A), /* 0: present, same */
	    entry("k/initrd", 20, SHA_B),  /* 1: present, other hash */
	    entry("k/new", 30, SHA_A),	   /* 2: missing */
	    entry("k/resized", 41, SHA_A), /* 3: present, other size */
	    entry("k/unknown", 50, SHA_A), /* 4: present, file changed (hash cleared) */
	};
	struct bootres_entry have[] = {
	    entry("old/gone", 1, SHA_A),   /* 0: no longer wanted */
	    entry("k/initrd", 20, SHA_A),  /* 1 */
	    entry("k/vmlinuz", 10, SHA_A), /* 2 */
	    entry("k/resized", 40, SHA_A), /* 3 */
	    entry("k/unknown", 50, ""),	   /* 4 */
	    entry("zzz", 1, ""),	   /* 5: no longer wanted, unverified */
	};
	struct bootres_diff d;
	assert_int_equal(bootres_diff(want, 5, have, 6, &d), 0);
	assert_int_equal(d.n_keep, 1);
	assert_true(has(d.keep, d.n_keep, 0));
	assert_int_equal(d.n_fetch, 4);
	assert_true(has(d.fetch, d.n_fetch, 1) && has(d.fetch, d.n_fetch, 2) && has(d.fetch, d.n_fetch, 3) &&
		    has(d.fetch, d.n_fetch, 4));
	assert_int_equal(d.n_remove, 2);
	assert_true(has(d.remove, d.n_remove, 0) && has(d.remove, d.n_remove, 5));
	bootres_diff_done(&d);

	/* nothing wanted: everything held goes; nothing held: everything is fetched */
	assert_int_equal(bootres_diff(NULL, 0, have, 6, &d), 0);
	assert_int_equal(d.n_remove, 6);
	assert_int_equal(d.n_keep + d.n_fetch, 0);
	bootres_diff_done(&d);
	assert_int_equal(bootres_diff(want, 5, NULL, 0, &d), 0);
	assert_int_equal(d.n_fetch, 5);
	assert_int_equal(d.n_remove, 0);
	bootres_diff_done(&d);

	/* a name wanted twice is refused; a name held twice is still kept, never removed */
	struct bootres_entry twice[] = {entry("a", 1, SHA_A), entry("b", 1, SHA_A), entry("a", 2, SHA_B)};
	assert_int_equal(bootres_diff(twice, 3, NULL, 0, &d), -EINVAL);
	struct bootres_entry held[] = {entry("a", 1, SHA_A), entry("a", 1, SHA_A)};
	assert_int_equal(bootres_diff(twice, 2, held, 2, &d), 0);
	assert_int_equal(d.n_keep, 1);
	assert_int_equal(d.n_remove, 0);
	bootres_diff_done(&d);
}

static void range(const char *h, uint64_t size, int rc, uint64_t first, uint64_t len)
{
	uint64_t f = 12345, l = 12345;
	assert_int_equal(bootres_range_parse(h, size, &f, &l), rc);
	if (rc == 1) {
		assert_int_equal(f, first);
		assert_int_equal(l, len);
	}
}

static void test_range(void **state)
{
	range(NULL, 100, 0, 0, 0);
	range("bytes=0-9", 100, 1, 0, 10);
	range("bytes=90-", 100, 1, 90, 10);
	range("bytes=90-1000", 100, 1, 90, 10); /* clamped */
	range("bytes=-10", 100, 1, 90, 10);
	range("bytes=-1000", 100, 1, 0, 100);
	range("bytes=99-99", 100, 1, 99, 1);
	range(" bytes= 5-6 ", 100, 1, 5, 2);
	range("bytes=100-", 100, -ERANGE, 0, 0);
	range("bytes=100-200", 100, -ERANGE, 0, 0);
	range("bytes=-0", 100, -ERANGE, 0, 0);
	range("bytes=0-", 0, -ERANGE, 0, 0);
	range("bytes=-5", 0, -ERANGE, 0, 0);
	/* what we do not understand gets the whole file */
	range("bytes=5-4", 100, 0, 0, 0);
	range("bytes=0-1,5-6", 100, 0, 0, 0);
	range("items=0-1", 100, 0, 0, 0);
	range("bytes=", 100, 0, 0, 0);
	range("bytes=x-1", 100, 0, 0, 0);
	range("bytes=1-x", 100, 0, 0, 0);
	range("bytes=99999999999999999999999-", 100, 0, 0, 0);
}

static void test_fs(void **state)
{
	char root[] = "/tmp/irbootres-XXXXXX";
	assert_non_null(mkdtemp(root));
	int rootfd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(rootfd >= 0);

	/* create makes the directories; the base points into the name */
	const char *base = NULL;
	int d = bootres_dir_open(rootfd, "a/b/file", true, &base);
	assert_true(d >= 0);
	assert_string_equal(base, "file");
	int fd = openat(d, base, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	close(d);

	/* hash through the walk */
	d = bootres_dir_open(rootfd, "a/b/file", false, &base);
	assert_true(d >= 0);
	fd = openat(d, base, O_RDONLY);
	char hex[BOOTRES_SHA256_HEX];
	uint64_t size = 0;
	assert_int_equal(bootres_sha256_fd(fd, NULL, hex, &size), 0);
	assert_string_equal(hex, SHA_ABC);
	assert_int_equal(size, 3);
	atomic_bool stop = true;
	assert_int_equal(bootres_sha256_fd(fd, &stop, hex, &size), -ECANCELED);
	close(fd);
	close(d);

	/* a symlinked directory is refused, whether it points in or out */
	assert_int_equal(symlinkat("/etc", rootfd, "out"), 0);
	assert_int_equal(symlinkat("a", rootfd, "in"), 0);
	assert_int_equal(bootres_dir_open(rootfd, "out/passwd", false, &base), -ELOOP);
	assert_int_equal(bootres_dir_open(rootfd, "out/x", true, &base), -ELOOP);
	assert_int_equal(bootres_dir_open(rootfd, "in/b/file", false, &base), -ELOOP);
	/* a file where a directory should be; a missing one without create */
	assert_int_equal(bootres_dir_open(rootfd, "a/b/file/x", false, &base), -ENOTDIR);
	assert_int_equal(bootres_dir_open(rootfd, "nope/x", false, &base), -ENOENT);
	/* names are checked first */
	assert_int_equal(bootres_dir_open(rootfd, "../x", true, &base), -EINVAL);
	assert_int_equal(bootres_dir_open(rootfd, "/etc/passwd", false, &base), -EINVAL);

	/* a top-level name's directory is the root itself */
	d = bootres_dir_open(rootfd, "top", false, &base);
	assert_true(d >= 0);
	assert_string_equal(base, "top");
	close(d);

	/* stat data tell whether a file is still the one hashed */
	struct stat st;
	assert_int_equal(fstatat(rootfd, "a/b/file", &st, 0), 0);
	struct bootres_entry e = entry("a/b/file", 0, SHA_ABC);
	bootres_entry_set_stat(&e, &st);
	assert_true(bootres_entry_stat_matches(&e, &st));
	st.st_size++;
	assert_false(bootres_entry_stat_matches(&e, &st));
	st.st_size--;
	st.st_ctim.tv_nsec ^= 1;
	assert_false(bootres_entry_stat_matches(&e, &st));

	close(rootfd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

/* The rack's check of a snapshot's list, before it is stored. */
static int check_list(const char **names, const char **shas, const char **urls, size_t n, char *msg, size_t len)
{
	Ironrack__V1__BootResource res[4], *ptrs[4];
	Ironrack__V1__RackConfig cfg = IRONRACK__V1__RACK_CONFIG__INIT;
	for (size_t i = 0; i < n; i++) {
		ironrack__v1__boot_resource__init(&res[i]);
		res[i].name = (char *)names[i];
		res[i].sha256 = (char *)shas[i];
		res[i].url = (char *)urls[i];
		res[i].size = 10;
		ptrs[i] = &res[i];
	}
	cfg.version = 1;
	cfg.n_boot_resources = n;
	cfg.boot_resources = ptrs;
	return rack_resources_check(&cfg, msg, len);
}

static void test_rack_check(void **state)
{
	char msg[256] = "";
	const char *url = "https://region:5241/boot-resources/x";
	const char *names[] = {"ephemeral/amd64/vmlinuz", "ephemeral/amd64/initrd.img"};
	const char *shas[] = {SHA_A, SHA_B};
	const char *urls[] = {url, url};
	assert_int_equal(check_list(names, shas, urls, 2, msg, sizeof(msg)), 0);
	assert_int_equal(check_list(NULL, NULL, NULL, 0, msg, sizeof(msg)), 0);

	const char *dup[] = {"a", "a"};
	assert_int_equal(check_list(dup, shas, urls, 2, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "listed twice"));
	const char *bad_name[] = {"../../etc/cron.d/x"};
	assert_int_equal(check_list(bad_name, shas, urls, 1, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "../../etc/cron.d/x"));
	const char *bad_sha[] = {"ABC"};
	assert_int_equal(check_list(names, bad_sha, urls, 1, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "sha256"));
	const char *http[] = {"http://region:5241/boot-resources/x"};
	assert_int_equal(check_list(names, shas, http, 1, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "https"));

	/* loader names are the rack's own, never a resource's */
	assert_true(rack_loader_name_reserved("pxelinux.0"));
	assert_true(rack_loader_name_reserved("undionly.kpxe"));
	assert_false(rack_loader_name_reserved("ephemeral/amd64/vmlinuz"));
	assert_false(rack_loader_name_reserved("sub/pxelinux.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_manifest_roundtrip),
	    cmocka_unit_test(test_manifest_bad_lines),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_range),
	    cmocka_unit_test(test_fs),
	    cmocka_unit_test(test_rack_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
