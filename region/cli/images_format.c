/* The image commands' text: a file's format from its magic bytes, the
 * Content-Range of a chunk, what to do about an image of the same name,
 * progress lines, the list and `images show`. Pure apart from writing to
 * the FILE it is given. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/images_cli.h"
#include "region/cli/machines_cli.h"

#define PROGRESS_EVERY_MS 2000
#define PROGRESS_PERCENT  10

static const uint8_t gzip_magic[] = {0x1f, 0x8b};
static const uint8_t zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};

static bool starts_with(const uint8_t *head, size_t n, const uint8_t *magic, size_t m)
{
	return n >= m && memcmp(head, magic, m) == 0;
}

const char *cli_images_format_sniff(const uint8_t *head, size_t n)
{
	if (starts_with(head, n, gzip_magic, sizeof(gzip_magic)))
		return "gzip";
	if (starts_with(head, n, zstd_magic, sizeof(zstd_magic)))
		return "zstd";
	return "raw";
}

int cli_images_format_pick(const char *opt, const uint8_t *head, size_t n, const char **ret, char *err, size_t errlen)
{
	const char *found = cli_images_format_sniff(head, n);

	if (!opt || strcmp(opt, "auto") == 0) {
		*ret = found;
		return 0;
	}
	if (strcmp(opt, "raw") == 0) {
		*ret = "raw"; /* a raw disk image may start with anything */
		return 0;
	}
	if (strcmp(opt, "gzip") != 0 && strcmp(opt, "zstd") != 0) {
		snprintf(err, errlen, "--format wants auto, raw, gzip or zstd, not \"%s\"", opt);
		return -EINVAL;
	}
	if (strcmp(opt, found) != 0) {
		snprintf(err, errlen, "the file is not %s: it does not start with %s's magic bytes (%s)", opt, opt,
			 strcmp(opt, "gzip") == 0 ? "1f 8b" : "28 b5 2f fd");
		return -EINVAL;
	}
	*ret = strcmp(opt, "gzip") == 0 ? "gzip" : "zstd";
	return 0;
}

void cli_images_range_format(uint64_t first, uint64_t len, uint64_t size, char *buf, size_t buflen)
{
	if (len == 0)
		snprintf(buf, buflen, "bytes */%" PRIu64, size);
	else
		snprintf(buf, buflen, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, first + len - 1, size);
}

static const char *img_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static uint64_t img_uint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

enum cli_images_plan cli_images_plan(const json_t *existing, const char *sha256, uint64_t size, uint64_t *ret_from,
				     char *err, size_t errlen)
{
	*ret_from = 0;
	if (!existing)
		return CLI_IMAGES_CREATE;
	const char *name = img_str(existing, "name"), *status = img_str(existing, "status");
	if (strcmp(img_str(existing, "sha256"), sha256) != 0 || img_uint(existing, "size") != size) {
		snprintf(err, errlen,
			 "an image named '%s' exists with another content (%s, %" PRIu64
			 " bytes, sha256 %.16s...); delete it first ('ironrack images delete %s') or choose another "
			 "--name",
			 name, status, img_uint(existing, "size"), img_str(existing, "sha256"), name);
		return CLI_IMAGES_CLASH;
	}
	if (strcmp(status, "ready") == 0)
		return CLI_IMAGES_DONE;
	uint64_t at = img_uint(existing, "uploaded");
	*ret_from = at <= size ? at : 0;
	return CLI_IMAGES_RESUME;
}

bool cli_images_progress_due(struct cli_images_progress *p, uint64_t done, uint64_t size, int64_t now_ms)
{
	if (done >= size || now_ms - p->last_ms < PROGRESS_EVERY_MS ||
	    (done - p->last_bytes) * 100 < (uint64_t)PROGRESS_PERCENT * size)
		return false;
	p->last_ms = now_ms;
	p->last_bytes = done;
	return true;
}

void cli_images_progress_format(const char *name, uint64_t done, uint64_t size, int64_t elapsed_ms, char *buf,
				size_t len)
{
	char d[32], s[32], rate[48] = "";

	cli_machines_size_format(done, d, sizeof(d));
	cli_machines_size_format(size, s, sizeof(s));
	if (done == 0)
		snprintf(d, sizeof(d), "0 B");
	if (elapsed_ms > 0)
		snprintf(rate, sizeof(rate), ", %.1f MiB/s", (double)done / 1048576.0 / ((double)elapsed_ms / 1000.0));
	snprintf(buf, len, "%s: %s of %s (%u%%)%s", name, d, s, size ? (unsigned)(done * 100 / size) : 0, rate);
}

/* "ready", or "uploading 42%". */
static void status_text(const json_t *img, char *buf, size_t len)
{
	uint64_t size = img_uint(img, "size"), at = img_uint(img, "uploaded");
	const char *status = img_str(img, "status");

	if (strcmp(status, "uploading") == 0 && size)
		snprintf(buf, len, "uploading %u%%", (unsigned)(at * 100 / size));
	else
		snprintf(buf, len, "%s", *status ? status : "-");
}

int cli_images_list_print(const json_t *images, FILE *out)
{
	static const char *const head[] = {"NAME", "ARCH", "FORMAT", "SIZE", "STATUS", "SHA256", "DESCRIPTION"};
	struct cli_table t;
	size_t i;
	const json_t *img;

	cli_table_init(&t, head, sizeof(head) / sizeof(head[0]));
	json_array_foreach(images, i, img)
	{
		char size[32], status[32], sha[17];
		cli_machines_size_format(img_uint(img, "size"), size, sizeof(size));
		status_text(img, status, sizeof(status));
		snprintf(sha, sizeof(sha), "%s", img_str(img, "sha256"));
		const char *desc = img_str(img, "description");
		const char *row[] = {
		    img_str(img, "name"), img_str(img, "arch"), img_str(img, "format"), size, status, sha,
		    *desc ? desc : "-"};
		cli_table_add(&t, row);
	}
	int rc = cli_table_print(&t, out);
	cli_table_done(&t);
	return rc;
}

int cli_images_show_print(const json_t *img, FILE *out)
{
	struct cli_table t;
	char size[64], human[32], status[32], uploaded[64];
	uint64_t bytes = img_uint(img, "size");

	cli_machines_size_format(bytes, human, sizeof(human));
	snprintf(size, sizeof(size), "%s (%" PRIu64 " bytes)", human, bytes);
	status_text(img, status, sizeof(status));
	snprintf(uploaded, sizeof(uploaded), "%" PRIu64 " bytes", img_uint(img, "uploaded"));
	const char *desc = img_str(img, "description");
	const char *rows[][2] = {
	    {"Name:", img_str(img, "name")},
	    {"Status:", status},
	    {"Architecture:", img_str(img, "arch")},
	    {"Format:", img_str(img, "format")},
	    {"Size:", size},
	    {"Uploaded:", uploaded},
	    {"SHA-256:", img_str(img, "sha256")},
	    {"Description:", *desc ? desc : "-"},
	    {"Created:", img_str(img, "created")},
	    {"On racks:", img_str(img, "url")},
	};
	cli_table_init(&t, NULL, 2);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		/* Only an upload in progress needs its byte count. */
		if (strcmp(rows[i][0], "Uploaded:") == 0 && strcmp(img_str(img, "status"), "uploading") != 0)
			continue;
		cli_table_add(&t, rows[i]);
	}
	int rc = cli_table_print(&t, out);
	cli_table_done(&t);
	return rc;
}
