/* Unit tests for the image commands' pure text handling
 * (region/cli/images_format.c): formats from magic bytes, Content-Range
 * of a chunk, what `images add` does about an existing image, progress
 * lines, the list and `images show`. region/cli/ is its own binary, so the
 * files under test are included here directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/cli/args.c"
#include "region/cli/format.c"
#include "region/cli/images_format.c"
#include "region/cli/machines_format.c"
#include "region/cli/table.c"

#define SHA "9821a32346fc76fc4f4a82f76de7a3c20526881e03e98f42e7da7f479cdea7fd"

static void test_formats(void **state)
{
	static const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00}, zst[] = {0x28, 0xb5, 0x2f, 0xfd},
			     mbr[] = {0xeb, 0x63, 0x90, 0x10}, half_gz[] = {0x1f};
	const char *f = NULL;
	char err[256];

	assert_string_equal(cli_images_format_sniff(gz, sizeof(gz)), "gzip");
	assert_string_equal(cli_images_format_sniff(zst, sizeof(zst)), "zstd");
	assert_string_equal(cli_images_format_sniff(zst, 3), "raw");
	assert_string_equal(cli_images_format_sniff(mbr, sizeof(mbr)), "raw");
	assert_string_equal(cli_images_format_sniff(half_gz, sizeof(half_gz)), "raw");
	assert_string_equal(cli_images_format_sniff(NULL, 0), "raw");

	assert_int_equal(cli_images_format_pick(NULL, gz, sizeof(gz), &f, err, sizeof(err)), 0);
	assert_string_equal(f, "gzip");
	assert_int_equal(cli_images_format_pick("auto", zst, sizeof(zst), &f, err, sizeof(err)), 0);
	assert_string_equal(f, "zstd");
	/* raw is the operator's word: a disk image may start with anything. */
	assert_int_equal(cli_images_format_pick("raw", gz, sizeof(gz), &f, err, sizeof(err)), 0);
	assert_string_equal(f, "raw");
	assert_int_equal(cli_images_format_pick("zstd", zst, sizeof(zst), &f, err, sizeof(err)), 0);
	assert_string_equal(f, "zstd");
	assert_int_equal(cli_images_format_pick("gzip", mbr, sizeof(mbr), &f, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the file is not gzip: it does not start with gzip's magic bytes (1f 8b)");
	assert_int_equal(cli_images_format_pick("zstd", gz, sizeof(gz), &f, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the file is not zstd: it does not start with zstd's magic bytes (28 b5 2f fd)");
	assert_int_equal(cli_images_format_pick("qcow2", mbr, sizeof(mbr), &f, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--format wants auto, raw, gzip or zstd, not \"qcow2\"");
}

static void test_range_text(void **state)
{
	char buf[96];

	cli_images_range_format(0, 1048576, 3145851, buf, sizeof(buf));
	assert_string_equal(buf, "bytes 0-1048575/3145851");
	cli_images_range_format(3145728, 123, 3145851, buf, sizeof(buf));
	assert_string_equal(buf, "bytes 3145728-3145850/3145851");
	cli_images_range_format(3145851, 0, 3145851, buf, sizeof(buf));
	assert_string_equal(buf, "bytes */3145851");
}

static void test_plan(void **state)
{
	char err[512] = "";
	uint64_t from = 99;

	assert_int_equal(cli_images_plan(NULL, SHA, 100, &from, err, sizeof(err)), CLI_IMAGES_CREATE);
	assert_int_equal(from, 0);

	json_t *img = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", "deb", "status", "uploading", "sha256", SHA,
				"size", (json_int_t)100, "uploaded", (json_int_t)40);
	assert_int_equal(cli_images_plan(img, SHA, 100, &from, err, sizeof(err)), CLI_IMAGES_RESUME);
	assert_int_equal(from, 40);
	/* Another size or sha256 is another image. */
	assert_int_equal(cli_images_plan(img, SHA, 101, &from, err, sizeof(err)), CLI_IMAGES_CLASH);
	assert_string_equal(err, "an image named 'deb' exists with another content (uploading, 100 bytes, sha256 "
				 "9821a32346fc76fc...); delete it first ('ironrack images delete deb') or choose "
				 "another --name");
	assert_int_equal(cli_images_plan(img, "1821a32346fc76fc4f4a82f76de7a3c20526881e03e98f42e7da7f479cdea7fd", 100,
					 &from, err, sizeof(err)),
			 CLI_IMAGES_CLASH);
	/* A region claiming more than the size: start from 0. */
	json_object_set_new(img, "uploaded", json_integer(1000));
	assert_int_equal(cli_images_plan(img, SHA, 100, &from, err, sizeof(err)), CLI_IMAGES_RESUME);
	assert_int_equal(from, 0);
	json_object_set_new(img, "status", json_string("ready"));
	assert_int_equal(cli_images_plan(img, SHA, 100, &from, err, sizeof(err)), CLI_IMAGES_DONE);
	json_decref(img);
}

static void test_progress(void **state)
{
	struct cli_images_progress p = {.last_ms = 0, .last_bytes = 0};
	char line[160];

	/* Neither 2 s nor 10 % is enough alone. */
	assert_false(cli_images_progress_due(&p, 50, 100, 1999));
	assert_false(cli_images_progress_due(&p, 5, 100, 5000));
	assert_true(cli_images_progress_due(&p, 50, 100, 2000));
	assert_false(cli_images_progress_due(&p, 55, 100, 9000));
	assert_false(cli_images_progress_due(&p, 60, 100, 3999));
	assert_true(cli_images_progress_due(&p, 60, 100, 4000));
	/* The end has its own line (the image). */
	assert_false(cli_images_progress_due(&p, 100, 100, 60000));

	cli_images_progress_format("deb", 120u << 20, 400u << 20, 2000, line, sizeof(line));
	assert_string_equal(line, "deb: 120 MiB of 400 MiB (30%), 60.0 MiB/s");
	cli_images_progress_format("deb", 0, 400u << 20, 0, line, sizeof(line));
	assert_string_equal(line, "deb: 0 B of 400 MiB (0%)");
}

static char *printed(int (*print)(const json_t *, FILE *), const json_t *j)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(print(j, f), 0);
	fclose(f);
	return text;
}

static void test_list_and_show(void **state)
{
	json_t *imgs =
	    json_pack("[{s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:s}, {s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:s}]", "name",
		      "deb-12", "arch", "amd64", "format", "gzip", "size", (json_int_t)(400u << 20), "status",
		      "uploading", "uploaded", (json_int_t)(100u << 20), "sha256", SHA, "description",
		      "Debian\x1b[2J 12", "name", "alpine", "arch", "arm64", "format", "raw", "size", (json_int_t)2048,
		      "status", "ready", "uploaded", (json_int_t)2048, "sha256", SHA, "description", "");
	char *text = printed(cli_images_list_print, imgs);
	assert_string_equal(text, "NAME    ARCH   FORMAT  SIZE     STATUS         SHA256            DESCRIPTION\n"
				  "deb-12  amd64  gzip    400 MiB  uploading 25%  9821a32346fc76fc  Debian?[2J 12\n"
				  "alpine  arm64  raw     2.0 KiB  ready          9821a32346fc76fc  -\n");
	free(text);

	json_t *one = json_array_get(imgs, 0);
	json_object_set_new(one, "created", json_string("2024-05-01T12:00:00.000Z"));
	json_object_set_new(one, "url", json_string("/images/deb-12"));
	text = printed(cli_images_show_print, one);
	assert_string_equal(text, "Name:          deb-12\n"
				  "Status:        uploading 25%\n"
				  "Architecture:  amd64\n"
				  "Format:        gzip\n"
				  "Size:          400 MiB (419430400 bytes)\n"
				  "Uploaded:      104857600 bytes\n"
				  "SHA-256:       " SHA "\n"
				  "Description:   Debian?[2J 12\n"
				  "Created:       2024-05-01T12:00:00.000Z\n"
				  "On racks:      /images/deb-12\n");
	free(text);
	/* A ready image does not need its byte count twice. */
	text = printed(cli_images_show_print, json_array_get(imgs, 1));
	assert_null(strstr(text, "Uploaded:"));
	assert_non_null(strstr(text, "Status:        ready\n"));
	free(text);
	json_decref(imgs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formats),  cmocka_unit_test(test_range_text),	   cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_progress), cmocka_unit_test(test_list_and_show),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
