/* Unit tests for the image registry's pure parts
 * (region/api/images_codec.c): image names, the POST body, the image as
 * JSON, Content-Range of an upload and the upload's next step. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/api/images_codec.h"

#define SHA "9821a32346fc76fc4f4a82f76de7a3c20526881e03e98f42e7da7f479cdea7fd"

static void test_names(void **state)
{
	const char *why = NULL;
	assert_true(image_name_valid("debian-12", &why));
	assert_null(why);
	assert_true(image_name_valid("ubuntu_24.04+x", NULL));
	assert_true(image_name_valid("0", NULL));
	char longest[IMAGE_NAME_MAX + 2];
	memset(longest, 'a', IMAGE_NAME_MAX);
	longest[IMAGE_NAME_MAX] = '\0';
	assert_true(image_name_valid(longest, NULL));
	longest[IMAGE_NAME_MAX] = 'a';
	longest[IMAGE_NAME_MAX + 1] = '\0';
	assert_false(image_name_valid(longest, &why));
	assert_string_equal(why, "longer than 63 characters");

	static const char *const bad[] = {"", ".hidden", "-x", "a/b", "../x", "a b", "x.part", "é", "a\\b", "a:b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_false(image_name_valid(bad[i], &why));
		assert_non_null(why);
	}
	assert_false(image_name_valid("x.part", &why));
	assert_string_equal(why, "must not end in .part");
	assert_true(image_name_valid("x.parts", NULL));
}

static int spec(const char *text, struct image_row *row, struct api_fail *fail)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	memset(fail, 0, sizeof(*fail));
	int rc = image_spec_parse(j, row, fail);
	json_decref(j);
	return rc;
}

static void test_spec(void **state)
{
	struct image_row row;
	struct api_fail fail;

	assert_int_equal(
	    spec("{\"name\": \"deb\", \"format\": \"gzip\", \"sha256\": \"" SHA "\", \"size\": 12345}", &row, &fail),
	    0);
	assert_string_equal(row.name, "deb");
	assert_string_equal(row.arch, "amd64");
	assert_string_equal(row.format, "gzip");
	assert_string_equal(row.sha256, SHA);
	assert_int_equal(row.size, 12345);
	assert_string_equal(row.description, "");
	assert_string_equal(row.status, "uploading");

	/* Upper-case hex is taken, stored lower-case. */
	assert_int_equal(spec("{\"name\": \"deb\", \"format\": \"raw\", \"arch\": \"arm64\", \"description\": \"d\", "
			      "\"sha256\": \"9821A32346FC76FC4F4A82F76DE7A3C20526881E03E98F42E7DA7F479CDEA7FD\", "
			      "\"size\": 1}",
			      &row, &fail),
			 0);
	assert_string_equal(row.sha256, SHA);
	assert_string_equal(row.arch, "arm64");
	assert_string_equal(row.description, "d");

	static const struct {
		const char *body, *field, *message;
	} bad[] = {
	    {"[]", "", "the body must be a JSON object"},
	    {"{\"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 1}", "name", "name is required"},
	    {"{\"name\": \"a\", \"sha256\": \"" SHA "\", \"size\": 1}", "format", "format is required"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"size\": 1}", "sha256", "sha256 is required"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA "\"}", "size", "size is required"},
	    {"{\"name\": \"a/b\", \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 1}", "name",
	     "name 'a/b': only A-Z a-z 0-9 . _ + - are allowed"},
	    {"{\"name\": 7, \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 1}", "name",
	     "name must be a string"},
	    {"{\"name\": \"a\", \"format\": \"qcow2\", \"sha256\": \"" SHA "\", \"size\": 1}", "format",
	     "format must be raw, gzip or zstd, not 'qcow2'"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"abc\", \"size\": 1}", "sha256",
	     "sha256 must be 64 hex digits (of the file as uploaded)"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 0}", "size",
	     "size must be an integer from 1 to 17592186044416 (bytes)"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 17592186044417}", "size",
	     "size must be an integer from 1 to 17592186044416 (bytes)"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": \"1\"}", "size",
	     "size must be an integer from 1 to 17592186044416 (bytes)"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 1, \"arch\": \"X86\"}", "arch",
	     "arch must be 1-16 of a-z 0-9 _ (e.g. amd64, arm64)"},
	    {"{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 1, \"status\": \"ready\"}",
	     "status", "unknown field 'status'; an image has name, arch, format, sha256, size and description"},
	    {"{\"name\": \"a\\u0000b\", \"format\": \"raw\", \"sha256\": \"" SHA "\", \"size\": 1}", "name",
	     "name must not contain NUL characters"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_error_t e;
		json_t *j = json_loads(bad[i].body, JSON_ALLOW_NUL, &e);
		assert_non_null(j);
		memset(&fail, 0, sizeof(fail));
		assert_int_equal(image_spec_parse(j, &row, &fail), -EINVAL);
		assert_string_equal(fail.field, bad[i].field);
		assert_string_equal(fail.message, bad[i].message);
		json_decref(j);
	}

	char body[600];
	char desc[IMAGE_DESCRIPTION_MAX + 2];
	memset(desc, 'd', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	snprintf(body, sizeof(body),
		 "{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA
		 "\", \"size\": 1, \"description\": \"%s\"}",
		 desc);
	assert_int_equal(spec(body, &row, &fail), -EINVAL);
	assert_string_equal(fail.field, "description");
	desc[IMAGE_DESCRIPTION_MAX] = '\0';
	snprintf(body, sizeof(body),
		 "{\"name\": \"a\", \"format\": \"raw\", \"sha256\": \"" SHA
		 "\", \"size\": 1, \"description\": \"%s\"}",
		 desc);
	assert_int_equal(spec(body, &row, &fail), 0);
	assert_int_equal(strlen(row.description), IMAGE_DESCRIPTION_MAX);
}

static void test_json(void **state)
{
	struct image_row row = {.id = 7, .size = 3145851, .uploaded = 1048576};
	snprintf(row.name, sizeof(row.name), "deb");
	snprintf(row.arch, sizeof(row.arch), "amd64");
	snprintf(row.format, sizeof(row.format), "raw");
	snprintf(row.sha256, sizeof(row.sha256), SHA);
	snprintf(row.status, sizeof(row.status), "uploading");
	snprintf(row.created, sizeof(row.created), "2024-05-01T12:00:00.000Z");
	json_t *j = image_row_json(&row);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text,
			    "{\"arch\":\"amd64\",\"created\":\"2024-05-01T12:00:00.000Z\",\"description\":\"\","
			    "\"format\":\"raw\",\"id\":7,\"name\":\"deb\",\"sha256\":\"" SHA "\","
			    "\"size\":3145851,\"status\":\"uploading\",\"uploaded\":1048576,\"url\":\"/images/deb\"}");
	free(text);
	json_decref(j);
}

static void test_range(void **state)
{
	struct image_range r;

	assert_int_equal(image_range_parse("bytes 0-1048575/3145851", &r), 0);
	assert_false(r.finish);
	assert_int_equal(r.first, 0);
	assert_int_equal(r.last, 1048575);
	assert_int_equal(r.size, 3145851);
	assert_int_equal(image_range_parse("  Bytes 3145850-3145850/3145851 ", &r), 0);
	assert_int_equal(r.first, 3145850);
	assert_int_equal(r.last, 3145850);
	assert_int_equal(image_range_parse("bytes */3145851", &r), 0);
	assert_true(r.finish);
	assert_int_equal(r.size, 3145851);
	assert_int_equal(image_range_parse("bytes 0-0/17592186044416", &r), 0);

	static const char *const malformed[] = {
	    "",
	    "bytes",
	    "bytes ",
	    "bytes=0-1/2",
	    "bits 0-1/2",
	    "bytes 0-1",
	    "bytes 0-1/",
	    "bytes 0-1/*",
	    "bytes -1/2",
	    "bytes 0-/2",
	    "bytes 0--1/2",
	    "bytes +0-1/2",
	    "bytes 0-1/2x",
	    "bytes 0-1/2, 3-4/5",
	    "bytes 0x0-1/2",
	    "bytes */",
	    "bytes 1-*/2",
	    "bytes 00000000000000000001-2/3", /* 20 digits */
	    "bytes 0-1 /2",
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		assert_int_equal(image_range_parse(malformed[i], &r), -EBADMSG);
	assert_int_equal(image_range_parse(NULL, &r), -EBADMSG);
	/* Well formed, but no range of an upload. */
	static const char *const impossible[] = {
	    "bytes 5-4/10",
	    "bytes 0-10/10",
	    "bytes 0-0/0",
	    "bytes */0",
	    "bytes 0-0/17592186044417",
	    "bytes 9999999999999999999-9999999999999999999/9999999999999999999",
	};
	for (size_t i = 0; i < sizeof(impossible) / sizeof(impossible[0]); i++)
		assert_int_equal(image_range_parse(impossible[i], &r), -ERANGE);
}

static struct image_row row_at(const char *status, int64_t size, int64_t uploaded)
{
	struct image_row row = {.id = 1, .size = size, .uploaded = uploaded};
	snprintf(row.name, sizeof(row.name), "deb");
	snprintf(row.status, sizeof(row.status), "%s", status);
	return row;
}

static struct image_range chunk(uint64_t first, uint64_t last, uint64_t size)
{
	return (struct image_range){.first = first, .last = last, .size = size};
}

static void test_steps(void **state)
{
	struct image_step s;
	struct image_row row = row_at("uploading", 3000, 1000);
	struct image_range r = chunk(1000, 1999, 3000);

	/* The next chunk at the byte the region has: written. */
	image_upload_step(&row, &r, 1000, 1000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_WRITE);
	assert_false(s.complete);
	r = chunk(1000, 2999, 3000);
	image_upload_step(&row, &r, 2000, 1000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_WRITE);
	assert_true(s.complete);
	/* Stray bytes past uploaded (a write that never committed) are no
	 * reason to refuse. */
	image_upload_step(&row, &r, 2000, 1500, &s);
	assert_int_equal(s.kind, IMAGE_STEP_WRITE);

	/* A chunk elsewhere: 409 with where to resume. */
	r = chunk(0, 999, 3000);
	image_upload_step(&row, &r, 1000, 1000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_REFUSE);
	assert_int_equal(s.status, 409);
	assert_int_equal(s.resume_at, 1000);
	assert_string_equal(s.message, "image deb has 1000 bytes: resume at byte 1000 (Content-Range: bytes "
				       "1000-LAST/3000)");
	r = chunk(2000, 2999, 3000);
	image_upload_step(&row, &r, 1000, 1000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_REFUSE);
	assert_int_equal(s.resume_at, 1000);

	/* The body must be the range's length, and the size the image's. */
	r = chunk(1000, 1999, 3000);
	image_upload_step(&row, &r, 999, 1000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_REFUSE);
	assert_int_equal(s.status, 400);
	assert_string_equal(s.field, "Content-Range");
	assert_string_equal(s.message, "the body holds 999 bytes, Content-Range says 1000");
	r = chunk(1000, 1999, 3001);
	image_upload_step(&row, &r, 1000, 1000, &s);
	assert_int_equal(s.status, 400);
	assert_string_equal(s.message, "Content-Range says 3001 bytes in all; image deb has 3000");

	/* The file lost bytes the row counts: trim, and say where to go on. */
	r = chunk(1000, 1999, 3000);
	image_upload_step(&row, &r, 1000, 600, &s);
	assert_int_equal(s.kind, IMAGE_STEP_TRIM);
	assert_int_equal(s.status, 409);
	assert_int_equal(s.resume_at, 600);

	/* Finishing: only with every byte there. */
	struct image_range fin = {.finish = true, .size = 3000};
	image_upload_step(&row, &fin, 0, 1000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_REFUSE);
	assert_int_equal(s.status, 409);
	assert_int_equal(s.resume_at, 1000);
	image_upload_step(&row, &fin, 1, 1000, &s);
	assert_int_equal(s.status, 400);
	row = row_at("uploading", 3000, 3000);
	image_upload_step(&row, &fin, 0, 3000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_VERIFY);
	r = chunk(2000, 2999, 3000);
	image_upload_step(&row, &r, 1000, 3000, &s);
	assert_int_equal(s.kind, IMAGE_STEP_REFUSE);
	assert_string_equal(s.message, "image deb has all 3000 bytes: finish it with Content-Range: bytes */3000");

	/* A ready image takes no chunk; finishing it again is fine. */
	row = row_at("ready", 3000, 3000);
	image_upload_step(&row, &fin, 0, 0, &s);
	assert_int_equal(s.kind, IMAGE_STEP_DONE);
	image_upload_step(&row, &r, 1000, 0, &s);
	assert_int_equal(s.kind, IMAGE_STEP_REFUSE);
	assert_int_equal(s.status, 409);
	assert_int_equal(s.resume_at, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names), cmocka_unit_test(test_spec),	cmocka_unit_test(test_json),
	    cmocka_unit_test(test_range), cmocka_unit_test(test_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
