#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region/secret.h"

#define AAD "machine:42:power_pass"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	char *dir = strdup("/tmp/ironrack-test-secret.XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static void key_path(char *buf, size_t len, const char *state_dir, const char *name)
{
	snprintf(buf, len, "%s/secrets/%s", state_dir, name);
}

static struct secret_box *box_open(const char *dir)
{
	struct secret_box *b = NULL;
	char err[512] = "";
	int r = secret_box_open(dir, &b, err, sizeof(err));
	if (r < 0)
		fail_msg("secret_box_open: %d %s", r, err);
	return b;
}

static void assert_opens(struct secret_box *b, const char *aad, const uint8_t *blob, size_t len, const char *want)
{
	char *plain = NULL;
	assert_int_equal(secret_box_unseal(b, aad, blob, len, &plain), 0);
	assert_string_equal(plain, want);
	secret_free(plain);
}

static void test_round_trip(void **state)
{
	const char *dir = *state;
	struct secret_box *b = box_open(dir);
	assert_int_equal(secret_box_current(b), 1);

	uint8_t *blob = NULL, *blob2 = NULL;
	size_t len = 0, len2 = 0;
	assert_int_equal(secret_box_seal(b, AAD, "hunter2", &blob, &len), 0);
	assert_int_equal(len, SECRET_BLOB_OVERHEAD + 7);
	assert_int_equal(blob[0], SECRET_BLOB_V1);
	uint32_t id = 0;
	assert_int_equal(secret_blob_key_id(blob, len, &id), 0);
	assert_int_equal(id, 1);
	/* The plaintext does not appear in the blob. */
	assert_null(memmem(blob, len, "hunter2", 7));
	assert_opens(b, AAD, blob, len, "hunter2");

	/* A random nonce: the same secret seals differently each time. */
	assert_int_equal(secret_box_seal(b, AAD, "hunter2", &blob2, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_not_equal(blob + SECRET_BLOB_HEADER, blob2 + SECRET_BLOB_HEADER, len - SECRET_BLOB_HEADER);
	assert_opens(b, AAD, blob2, len2, "hunter2");
	free(blob);
	free(blob2);

	/* Empty and longest secrets; one longer is refused. */
	assert_int_equal(secret_box_seal(b, AAD, "", &blob, &len), 0);
	assert_int_equal(len, SECRET_BLOB_OVERHEAD);
	assert_opens(b, AAD, blob, len, "");
	free(blob);
	char *big = malloc(SECRET_PLAIN_MAX + 2);
	memset(big, 'x', SECRET_PLAIN_MAX);
	big[SECRET_PLAIN_MAX] = '\0';
	assert_int_equal(secret_box_seal(b, AAD, big, &blob, &len), 0);
	assert_opens(b, AAD, blob, len, big);
	free(blob);
	big[SECRET_PLAIN_MAX] = 'x';
	big[SECRET_PLAIN_MAX + 1] = '\0';
	assert_int_equal(secret_box_seal(b, AAD, big, &blob, &len), -EMSGSIZE);
	assert_null(blob);
	free(big);

	/* A second keyring on the same directory opens what the first sealed. */
	assert_int_equal(secret_box_seal(b, AAD, "s3cr3t", &blob, &len), 0);
	secret_box_free(b);
	b = box_open(dir);
	assert_int_equal(secret_box_current(b), 1);
	assert_opens(b, AAD, blob, len, "s3cr3t");
	free(blob);
	secret_box_free(b);
	secret_box_free(NULL);
	secret_free(NULL);
}

static void assert_refused(struct secret_box *b, const char *aad, const uint8_t *blob, size_t len, int want,
			   const char *what, size_t i)
{
	char *plain = (char *)"untouched";
	int r = secret_box_unseal(b, aad, blob, len, &plain);
	if (r != want)
		fail_msg("%s %zu: got %d, want %d", what, i, r, want);
	assert_null(plain);
}

static void test_tamper(void **state)
{
	struct secret_box *b = box_open(*state);
	uint8_t *blob = NULL;
	size_t len = 0;
	assert_int_equal(secret_box_seal(b, AAD, "correct horse", &blob, &len), 0);
	uint8_t *t = malloc(len + 1);

	/* Every bit of the version, nonce, ciphertext and tag matters. */
	for (size_t i = 0; i < len; i++) {
		if (i >= 1 && i < SECRET_BLOB_HEADER)
			continue; /* the key id: below */
		for (int bit = 0; bit < 8; bit++) {
			memcpy(t, blob, len);
			t[i] ^= (uint8_t)(1u << bit);
			assert_refused(b, AAD, t, len, -EBADMSG, "flipped byte", i);
		}
	}
	/* A key id that names no key; one that names another key. */
	memcpy(t, blob, len);
	t[4] ^= 0x40;
	assert_refused(b, AAD, t, len, -ENOKEY, "unknown key", 0);
	uint32_t id2;
	assert_int_equal(secret_box_rotate(b, &id2, NULL, 0), 0);
	assert_int_equal(id2, 2);
	memcpy(t, blob, len);
	t[4] = 2;
	assert_refused(b, AAD, t, len, -EBADMSG, "other key", 0);

	/* Another row, another field, no aad. */
	assert_refused(b, "machine:43:power_pass", blob, len, -EBADMSG, "aad", 0);
	assert_refused(b, "machine:42:power_user", blob, len, -EBADMSG, "aad", 1);
	assert_refused(b, "", blob, len, -EBADMSG, "aad", 2);

	/* Truncated anywhere, or a byte added. */
	for (size_t n = 0; n < len; n++)
		assert_refused(b, AAD, blob, n, -EBADMSG, "truncated to", n);
	memcpy(t, blob, len);
	t[len] = 0;
	assert_refused(b, AAD, t, len + 1, -EBADMSG, "extended", 0);
	assert_refused(b, AAD, NULL, 0, -EBADMSG, "null", 0);

	/* An unknown version, even with everything else intact. */
	memcpy(t, blob, len);
	t[0] = SECRET_BLOB_V1 + 1;
	assert_refused(b, AAD, t, len, -EBADMSG, "version", 0);
	assert_int_equal(secret_blob_key_id(t, len, &id2), -EBADMSG);

	/* The original still opens. */
	assert_opens(b, AAD, blob, len, "correct horse");
	free(t);
	free(blob);
	secret_box_free(b);
}

static void test_permissions(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX], err[512];
	struct stat st;
	struct secret_box *b = box_open(dir);
	secret_box_free(b);

	snprintf(path, sizeof(path), "%s/secrets", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	key_path(path, sizeof(path), dir, "key-1");
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SECRET_KEY_LEN);

	/* Rotation creates its keys the same way, and leaves no temporary file. */
	b = box_open(dir);
	assert_int_equal(secret_box_rotate(b, NULL, NULL, 0), 0);
	secret_box_free(b);
	key_path(path, sizeof(path), dir, "key-2");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SECRET_KEY_LEN);
	snprintf(path, sizeof(path), "%s/secrets", dir);
	int entries = 0;
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", path);
	FILE *ls = popen(cmd, "r");
	assert_non_null(ls);
	assert_int_equal(fscanf(ls, "%d", &entries), 1);
	pclose(ls);
	assert_int_equal(entries, 2);

	/* Files that are not keys are left alone. */
	int fd;
	const char *others[] = {"README", "key-01", "key-", "key-x", ".key-new.abcdef", "key-99999999999"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		key_path(path, sizeof(path), dir, others[i]);
		fd = open(path, O_WRONLY | O_CREAT, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	b = box_open(dir);
	assert_int_equal(secret_box_current(b), 2);
	secret_box_free(b);

	/* A key others can read is refused, naming it. */
	key_path(path, sizeof(path), dir, "key-1");
	assert_int_equal(chmod(path, 0640), 0);
	b = (struct secret_box *)1;
	assert_int_equal(secret_box_open(dir, &b, err, sizeof(err)), -EACCES);
	assert_null(b);
	assert_non_null(strstr(err, "key-1 can be read by others (mode 0640)"));
	assert_int_equal(chmod(path, 0600), 0);

	/* So is a key directory others can enter. */
	snprintf(path, sizeof(path), "%s/secrets", dir);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(secret_box_open(dir, &b, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "secrets can be read by others (mode 0755)"));
	assert_int_equal(chmod(path, 0700), 0);

	/* A key file of the wrong size. */
	key_path(path, sizeof(path), dir, "key-3");
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	assert_int_equal(secret_box_open(dir, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key-3 holds 5 bytes"));
	unlink(path);
	b = box_open(dir);
	assert_int_equal(secret_box_current(b), 2);
	secret_box_free(b);
}

static void test_rotation(void **state)
{
	const char *dir = *state;
	struct secret_box *b = box_open(dir);
	uint8_t *old = NULL, *new = NULL;
	size_t old_len = 0, new_len = 0;
	uint32_t id = 0;

	assert_int_equal(secret_box_seal(b, AAD, "before", &old, &old_len), 0);
	assert_int_equal(secret_box_rotate(b, &id, NULL, 0), 0);
	assert_int_equal(id, 2);
	assert_int_equal(secret_box_current(b), 2);
	assert_int_equal(secret_box_seal(b, AAD, "after", &new, &new_len), 0);
	assert_int_equal(secret_blob_key_id(old, old_len, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(secret_blob_key_id(new, new_len, &id), 0);
	assert_int_equal(id, 2);
	assert_opens(b, AAD, old, old_len, "before");
	assert_opens(b, AAD, new, new_len, "after");

	uint32_t *ids = NULL;
	size_t n = 0;
	secret_box_key_ids(b, &ids, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 2);
	free(ids);

	/* The current key cannot be removed; an old one can, and what it
	 * sealed no longer opens, in this keyring or a new one. */
	assert_int_equal(secret_box_remove_key(b, 2), -EBUSY);
	assert_int_equal(secret_box_remove_key(b, 7), -ENOENT);
	assert_int_equal(secret_box_remove_key(b, 1), 0);
	char path[PATH_MAX];
	key_path(path, sizeof(path), dir, "key-1");
	assert_int_equal(access(path, F_OK), -1);
	char *plain = NULL;
	assert_int_equal(secret_box_unseal(b, AAD, old, old_len, &plain), -ENOKEY);
	assert_opens(b, AAD, new, new_len, "after");
	secret_box_free(b);
	b = box_open(dir);
	assert_int_equal(secret_box_current(b), 2);
	assert_int_equal(secret_box_unseal(b, AAD, old, old_len, &plain), -ENOKEY);
	assert_opens(b, AAD, new, new_len, "after");
	/* Ids keep counting up from the highest. */
	assert_int_equal(secret_box_rotate(b, &id, NULL, 0), 0);
	assert_int_equal(id, 3);
	secret_box_free(b);
	free(old);
	free(new);
}

/* Two processes' keyrings on one directory. */
static void test_other_keyring(void **state)
{
	const char *dir = *state;
	struct secret_box *a = box_open(dir);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/secrets", dir);
	/* Back-date the directory so the change below shows whatever the
	 * file system's time granularity. */
	const struct timespec past[2] = {{.tv_sec = 946684800}, {.tv_sec = 946684800}};
	assert_int_equal(utimensat(AT_FDCWD, path, past, 0), 0);
	struct secret_box *b = box_open(dir);

	uint32_t id = 0;
	assert_int_equal(secret_box_rotate(a, &id, NULL, 0), 0);
	assert_int_equal(id, 2);
	uint8_t *blob = NULL;
	size_t len = 0;
	assert_int_equal(secret_box_seal(a, AAD, "from a", &blob, &len), 0);
	assert_int_equal(secret_box_current(b), 1);
	/* b does not know key 2 yet: -ENOKEY at first, then it reloads. */
	assert_opens(b, AAD, blob, len, "from a");
	free(blob);

	/* b seals with the newest key on disk, not the one it started with. */
	assert_int_equal(utimensat(AT_FDCWD, path, past, 0), 0);
	struct secret_box *c = box_open(dir);
	assert_int_equal(secret_box_rotate(a, &id, NULL, 0), 0);
	assert_int_equal(id, 3);
	assert_int_equal(secret_box_seal(c, AAD, "from c", &blob, &len), 0);
	assert_int_equal(secret_blob_key_id(blob, len, &id), 0);
	assert_int_equal(id, 3);
	assert_opens(a, AAD, blob, len, "from c");
	free(blob);

	/* Rotating from two keyrings never reuses an id. */
	assert_int_equal(secret_box_rotate(b, &id, NULL, 0), 0);
	assert_int_equal(id, 4);
	assert_int_equal(secret_box_rotate(a, &id, NULL, 0), 0);
	assert_int_equal(id, 5);
	secret_box_free(a);
	secret_box_free(b);
	secret_box_free(c);
}

#define THREADS	   4
#define ITERATIONS 300

struct worker {
	struct secret_box *box;
	int n;
	int failures;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < ITERATIONS; i++) {
		char aad[64], plain[64];
		secret_aad_format(aad, sizeof(aad), "machine", w->n * 1000 + i, "power_pass");
		snprintf(plain, sizeof(plain), "password-%d-%d", w->n, i);
		uint8_t *blob = NULL;
		size_t len = 0;
		char *out = NULL;
		if (secret_box_seal(w->box, aad, plain, &blob, &len) < 0 ||
		    secret_box_unseal(w->box, aad, blob, len, &out) < 0 || strcmp(out, plain) != 0)
			w->failures++;
		secret_free(out);
		free(blob);
	}
	return NULL;
}

/* Seal and open on several threads while the same keyring rotates and
 * another process's keyring adds keys. */
static void test_threads(void **state)
{
	struct secret_box *b = box_open(*state), *other = box_open(*state);
	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.box = b, .n = i};
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(secret_box_rotate(b, NULL, NULL, 0), 0);
		assert_int_equal(secret_box_rotate(other, NULL, NULL, 0), 0);
		usleep(1000);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(secret_box_rotate(b, NULL, NULL, 0), 0);
	assert_int_equal(secret_box_current(b), 12);
	secret_box_free(b);
	secret_box_free(other);
}

static void test_aad_format(void **state)
{
	(void)state;
	char buf[SECRET_AAD_MAX];
	secret_aad_format(buf, sizeof(buf), "machine", 42, "power_pass");
	assert_string_equal(buf, AAD);
	secret_aad_format(buf, sizeof(buf), "machine", 9007199254740993LL, "power_pass");
	assert_string_equal(buf, "machine:9007199254740993:power_pass");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_keyring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test(test_aad_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
