/* TFTP files on the rack: path confinement to the boot root
 * (rack/tftp/root) and the shared, reference-counted file cache
 * (rack/tftp/cache), in a temporary directory. One socketpair checks how the
 * kernel treats a mapping whose file was truncated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "rack/tftp/cache.h"
#include "rack/tftp/root.h"

/* ---- root ------------------------------------------------------------------ */

static char tmpdir[PATH_MAX];

static void write_file(const char *rel, const char *content)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void at(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, rel);
}

static int setup_tree(void **state)
{
	char p[PATH_MAX * 2], q[PATH_MAX * 2];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/irtftp-unit-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* tmpdir/root is the boot root; tmpdir/outside is not. */
	at("root", p, sizeof(p));
	mkdir(p, 0755);
	at("root/sub", p, sizeof(p));
	mkdir(p, 0755);
	at("outside", p, sizeof(p));
	mkdir(p, 0755);
	write_file("root/pxelinux.0", "nbp");
	write_file("root/sub/linux", "kernel");
	write_file("outside/secret", "secret");
	at("root/abs-out", p, sizeof(p));
	at("outside/secret", q, sizeof(q));
	if (symlink(q, p) < 0 || symlink("../outside/secret", (at("root/rel-out", p, sizeof(p)), p)) < 0 ||
	    symlink("../outside", (at("root/dir-out", p, sizeof(p)), p)) < 0 ||
	    symlink("sub/linux", (at("root/in", p, sizeof(p)), p)) < 0 ||
	    symlink("../pxelinux.0", (at("root/sub/up-in", p, sizeof(p)), p)) < 0 ||
	    symlink("/proc/self/root/etc/passwd", (at("root/magic", p, sizeof(p)), p)) < 0)
		return -1;
	at("root/fifo", p, sizeof(p));
	if (mkfifo(p, 0644) < 0)
		return -1;
	return 0;
}

static int teardown_tree(void **state)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_root_lexical(void **state)
{
	const char *rel;
	size_t len;
	assert_int_equal(tftp_root_check_name("a\0b", 3, &rel, &len), -EILSEQ);
	assert_int_equal(tftp_root_check_name("..", 2, &rel, &len), -EPERM);
	assert_int_equal(tftp_root_check_name("../etc/passwd", 13, &rel, &len), -EPERM);
	assert_int_equal(tftp_root_check_name("/../x", 5, &rel, &len), -EPERM);
	assert_int_equal(tftp_root_check_name("a/../b", 6, &rel, &len), -EPERM);
	assert_int_equal(tftp_root_check_name("a/..", 4, &rel, &len), -EPERM);
	assert_int_equal(tftp_root_check_name("a//../b", 7, &rel, &len), -EPERM);
	/* Names that only look like "..". */
	assert_int_equal(tftp_root_check_name("...", 3, &rel, &len), 0);
	assert_int_equal(tftp_root_check_name("..a/b..", 7, &rel, &len), 0);
	assert_int_equal(tftp_root_check_name("./x", 3, &rel, &len), 0);
	/* Leading '/'s are dropped: names are relative to the root. */
	assert_int_equal(tftp_root_check_name("/pxelinux.0", 11, &rel, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(rel, "pxelinux.0", 10);
	assert_int_equal(tftp_root_check_name("//etc/passwd", 12, &rel, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(rel, "etc/passwd", 10);
	static char big[TFTP_ROOT_NAME_MAX + 1];
	memset(big, 'a', sizeof(big));
	for (size_t i = 100; i < sizeof(big); i += 100)
		big[i] = '/';
	assert_int_equal(tftp_root_check_name(big, TFTP_ROOT_NAME_MAX, &rel, &len), 0);
	assert_int_equal(tftp_root_check_name(big, TFTP_ROOT_NAME_MAX + 1, &rel, &len), -ENAMETOOLONG);
	memset(big, 'a', NAME_MAX + 1);
	assert_int_equal(tftp_root_check_name(big, NAME_MAX + 1, &rel, &len), -ENAMETOOLONG);
	assert_int_equal(tftp_root_check_name(big, NAME_MAX, &rel, &len), 0);
}

static int open_in(const struct tftp_root *r, const char *name, char *content, size_t len)
{
	int fd;
	struct stat st;
	int rc = tftp_root_open_file(r, name, strlen(name), &fd, &st);
	if (rc < 0)
		return rc;
	ssize_t n = read(fd, content, len - 1);
	content[n > 0 ? n : 0] = '\0';
	close(fd);
	return 0;
}

static void check_root(bool use_openat2)
{
	struct tftp_root r;
	char path[PATH_MAX * 2], buf[64];
	at("root", path, sizeof(path));
	assert_int_equal(tftp_root_open(&r, path), 0);
	if (use_openat2 && !r.use_openat2) {
		tftp_root_close(&r);
		skip(); /* kernel without openat2(2) */
	}
	r.use_openat2 = use_openat2;
	assert_int_equal(open_in(&r, "pxelinux.0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "nbp");
	assert_int_equal(open_in(&r, "/pxelinux.0", buf, sizeof(buf)), 0);
	assert_int_equal(open_in(&r, "sub/linux", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "kernel");
	assert_int_equal(open_in(&r, "/sub//linux", buf, sizeof(buf)), 0);
	assert_int_equal(open_in(&r, "missing", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(open_in(&r, "/etc/passwd", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(open_in(&r, "//etc/passwd", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(open_in(&r, "pxelinux.0/x", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(open_in(&r, "../outside/secret", buf, sizeof(buf)), -EPERM);
	assert_int_equal(open_in(&r, "sub", buf, sizeof(buf)), -EISDIR);
	assert_int_equal(open_in(&r, "", buf, sizeof(buf)), -EISDIR);
	assert_int_equal(open_in(&r, "/", buf, sizeof(buf)), -EISDIR);
	/* A FIFO with no writer: refused at once, not a hang. */
	assert_int_equal(open_in(&r, "fifo", buf, sizeof(buf)), -ENODEV);
	/* Symlinks leaving the root. */
	int out = use_openat2 ? -EXDEV : -ELOOP;
	assert_int_equal(open_in(&r, "abs-out", buf, sizeof(buf)), out);
	assert_int_equal(open_in(&r, "rel-out", buf, sizeof(buf)), out);
	assert_int_equal(open_in(&r, "dir-out/secret", buf, sizeof(buf)), out);
	int magic = open_in(&r, "magic", buf, sizeof(buf));
	assert_true(magic == -EXDEV || magic == -ELOOP);
	/* Symlinks that stay inside are followed with openat2 only. */
	assert_int_equal(open_in(&r, "in", buf, sizeof(buf)), use_openat2 ? 0 : -ELOOP);
	if (use_openat2)
		assert_string_equal(buf, "kernel");
	assert_int_equal(open_in(&r, "sub/up-in", buf, sizeof(buf)), use_openat2 ? 0 : -ELOOP);
	/* NUL inside the name. */
	int fd;
	struct stat st;
	assert_int_equal(tftp_root_open_file(&r, "pxelinux.0\0x", 12, &fd, &st), -EILSEQ);
	tftp_root_close(&r);
	/* Every refusal has words for the log. */
	const int errs[] = {-EILSEQ, -ENAMETOOLONG, -EPERM, -EXDEV, -ELOOP, -EISDIR, -ENODEV, -ENOENT, -EACCES};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(tftp_root_strerror(errs[i]), tftp_root_strerror(errs[j]));
		assert_int_equal(tftp_root_error_code(errs[i]), errs[i] == -ENOENT ? 1 : 2);
	}
}

static void test_root_openat2(void **state)
{
	check_root(true);
}

static void test_root_nofollow_walk(void **state)
{
	check_root(false);
}

static void test_root_not_a_directory(void **state)
{
	struct tftp_root r;
	char path[PATH_MAX * 2];
	at("root/pxelinux.0", path, sizeof(path));
	assert_int_equal(tftp_root_open(&r, path), -ENOTDIR);
	at("nonexistent", path, sizeof(path));
	assert_int_equal(tftp_root_open(&r, path), -ENOENT);
}

/* ---- cache ------------------------------------------------------------------ */

static int open_file(const char *rel, struct stat *st)
{
	char path[PATH_MAX * 2];
	at(rel, path, sizeof(path));
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, st), 0);
	return fd;
}

static struct tftp_file *cache_get(struct tftp_cache *c, const char *rel, bool netascii)
{
	struct stat st;
	struct tftp_file *f;
	int fd = open_file(rel, &st);
	assert_int_equal(tftp_cache_get(c, rel, fd, &st, netascii, &f), 0);
	close(fd);
	return f;
}

static void test_cache_shared_and_released(void **state)
{
	struct tftp_cache *c;
	assert_int_equal(tftp_cache_new(&c), 0);
	write_file("root/shared", "0123456789");
	struct tftp_file *a = cache_get(c, "root/shared", false);
	struct tftp_file *b = cache_get(c, "root/shared", false);
	assert_ptr_equal(a, b);
	assert_ptr_equal(a->data, b->data);
	assert_int_equal(a->size, 10);
	assert_memory_equal(a->data, "0123456789", 10);
	assert_int_equal(tftp_cache_count(c), 1);
	/* Another name is another entry. */
	struct tftp_file *k = cache_get(c, "root/sub/linux", false);
	assert_int_equal(tftp_cache_count(c), 2);
	tftp_cache_put(c, a);
	assert_int_equal(tftp_cache_count(c), 2);
	tftp_cache_put(c, b);
	assert_int_equal(tftp_cache_count(c), 1);
	tftp_cache_put(c, k);
	assert_int_equal(tftp_cache_count(c), 0);
	tftp_cache_put(c, NULL);
	tftp_cache_free(c);
}

static void test_cache_replaced_file(void **state)
{
	struct tftp_cache *c;
	char tmp[PATH_MAX * 2], dst[PATH_MAX * 2];
	assert_int_equal(tftp_cache_new(&c), 0);
	write_file("root/kernel", "old kernel");
	struct tftp_file *old = cache_get(c, "root/kernel", false);
	/* Replaced by rename: new inode. */
	write_file("root/kernel.new", "new kernel!");
	at("root/kernel.new", tmp, sizeof(tmp));
	at("root/kernel", dst, sizeof(dst));
	assert_int_equal(rename(tmp, dst), 0);
	struct tftp_file *cur = cache_get(c, "root/kernel", false);
	assert_ptr_not_equal(old, cur);
	assert_int_equal(cur->size, 11);
	assert_memory_equal(cur->data, "new kernel!", 11);
	/* The running transfer still has its version. */
	assert_memory_equal(old->data, "old kernel", 10);
	assert_int_equal(tftp_cache_count(c), 2);
	/* Rewritten in place with a new mtime: a new entry as well. */
	struct timespec ts[2] = {{0, UTIME_OMIT}, {1000, 0}};
	assert_int_equal(utimensat(AT_FDCWD, dst, ts, 0), 0);
	struct tftp_file *touched = cache_get(c, "root/kernel", false);
	assert_ptr_not_equal(touched, cur);
	assert_int_equal(tftp_cache_count(c), 3);
	tftp_cache_put(c, old);
	tftp_cache_put(c, cur);
	tftp_cache_put(c, touched);
	assert_int_equal(tftp_cache_count(c), 0);
	tftp_cache_free(c);
}

/* In-memory files (rendered boot configs): private to one transfer, never
 * listed, freed by their one put. */
static void test_cache_memory(void **state)
{
	struct tftp_cache *c;
	struct tftp_file *m, *n, *e;
	char text[] = "DEFAULT x\nLABEL x\n";

	assert_int_equal(tftp_cache_new(&c), 0);
	assert_int_equal(tftp_cache_memory(c, "pxelinux.cfg/default", text, strlen(text), false, &m), 0);
	assert_int_equal(tftp_cache_memory(c, "pxelinux.cfg/default", text, strlen(text), true, &n), 0);
	assert_int_equal(tftp_cache_count(c), 0);
	assert_ptr_not_equal(m, n);
	assert_int_equal(m->size, strlen(text));
	assert_memory_equal(m->data, text, strlen(text));
	assert_ptr_not_equal(m->data, text); /* a copy */
	assert_int_equal(n->size, strlen(text) + 2);
	assert_memory_equal(n->data, "DEFAULT x\r\nLABEL x\r\n", strlen(text) + 2);
	assert_int_equal(tftp_cache_memory(c, "empty", "", 0, false, &e), 0);
	assert_int_equal(e->size, 0);
	tftp_cache_put(c, m);
	tftp_cache_put(c, n);
	tftp_cache_put(c, e);
	assert_int_equal(tftp_cache_count(c), 0);
	tftp_cache_free(c);
}

static void test_cache_netascii_and_empty(void **state)
{
	struct tftp_cache *c;
	assert_int_equal(tftp_cache_new(&c), 0);
	write_file("root/text", "a\nb\rc\r\n");
	struct tftp_file *t = cache_get(c, "root/text", true);
	assert_int_equal(t->size, 11);
	assert_memory_equal(t->data, "a\r\nb\r\0c\r\0\r\n", 11);
	/* The octet view of the same file is separate and unconverted. */
	struct tftp_file *o = cache_get(c, "root/text", false);
	assert_ptr_not_equal(t, o);
	assert_int_equal(o->size, 7);
	write_file("root/empty", "");
	struct tftp_file *e = cache_get(c, "root/empty", false);
	assert_int_equal(e->size, 0);
	assert_null(e->data);
	tftp_cache_put(c, t);
	tftp_cache_put(c, o);
	tftp_cache_put(c, e);
	tftp_cache_free(c);
}

/* The shell relies on this: sending from a mapping whose file was
 * truncated underneath fails with EFAULT instead of killing the daemon
 * with SIGBUS. */
static void test_cache_truncated_file_is_efault(void **state)
{
	struct tftp_cache *c;
	char path[PATH_MAX * 2];
	static char big[3 * 4096];
	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(tftp_cache_new(&c), 0);
	write_file("root/shrinks", big);
	struct tftp_file *f = cache_get(c, "root/shrinks", false);
	at("root/shrinks", path, sizeof(path));
	assert_int_equal(truncate(path, 10), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	struct iovec iov = {(void *)(f->data + 2 * 4096), 100};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	errno = 0;
	assert_int_equal(sendmsg(sv[0], &mh, 0), -1);
	assert_int_equal(errno, EFAULT);
	close(sv[0]);
	close(sv[1]);
	tftp_cache_put(c, f);
	tftp_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_lexical),
	    cmocka_unit_test(test_root_openat2),
	    cmocka_unit_test(test_root_nofollow_walk),
	    cmocka_unit_test(test_root_not_a_directory),
	    cmocka_unit_test(test_cache_shared_and_released),
	    cmocka_unit_test(test_cache_replaced_file),
	    cmocka_unit_test(test_cache_netascii_and_empty),
	    cmocka_unit_test(test_cache_memory),
	    cmocka_unit_test(test_cache_truncated_file_is_efault),
	};
	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
