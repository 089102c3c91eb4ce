/* libFuzzer target for the image registry's codec
 * (region/api/images_codec.c): what a client sends an image upload — the
 * Content-Range header of PUT /images/NAME/data and the POST /images body
 * — and the upload step decided from a parsed range.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_images_codec tests/fuzz/corpus/images_codec
 *
 * The input as NUL-terminated text is a Content-Range value; the same
 * bytes as a request body go through json_loadb and the body check. What
 * is accepted must be what the headers promise: a range inside its size,
 * a size inside the limit, an image whose fields the table would take. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region/api/images_codec.h"
#include "tests/fuzz/fuzz.h"

static void check_range(const char *text, size_t size)
{
	struct image_range r;
	int rc = image_range_parse(text, &r);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -ERANGE);
	if (rc != 0)
		return;
	CHECK(r.size >= 1 && r.size <= (uint64_t)IMAGE_SIZE_MAX);
	CHECK(r.finish || (r.first <= r.last && r.last < r.size));
	/* The canonical form parses to the same range. */
	char canon[96];
	struct image_range again;
	if (r.finish)
		snprintf(canon, sizeof(canon), "bytes */%" PRIu64, r.size);
	else
		snprintf(canon, sizeof(canon), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r.first, r.last, r.size);
	CHECK(image_range_parse(canon, &again) == 0);
	CHECK(again.finish == r.finish && again.first == r.first && again.last == r.last && again.size == r.size);

	/* Whatever the row says, the step is one of the kinds, a refusal
	 * says why, and only a chunk at the byte the row has is written. */
	struct image_row row = {.id = 1, .size = (int64_t)r.size};
	snprintf(row.name, sizeof(row.name), "x");
	snprintf(row.status, sizeof(row.status), "%s", size % 3 ? "uploading" : "ready");
	row.uploaded = (int64_t)(size % (r.size + 1));
	uint64_t want = r.finish ? 0 : r.last - r.first + 1;
	struct image_step s;
	image_upload_step(&row, &r, size % 2 ? want : want + 1, (uint64_t)size, &s);
	switch (s.kind) {
	case IMAGE_STEP_WRITE:
		CHECK(!r.finish && r.first == (uint64_t)row.uploaded && strcmp(row.status, "uploading") == 0);
		CHECK(s.complete == (r.last + 1 == r.size));
		break;
	case IMAGE_STEP_VERIFY:
		CHECK(r.finish && row.uploaded == row.size);
		break;
	case IMAGE_STEP_DONE:
		CHECK(r.finish && strcmp(row.status, "ready") == 0);
		break;
	case IMAGE_STEP_TRIM:
		CHECK(s.resume_at >= 0 && s.resume_at < row.uploaded);
		/* fall through */
	case IMAGE_STEP_REFUSE:
		CHECK(s.status >= 400 && s.status < 500 && s.code && s.message[0]);
		break;
	default:
		CHECK(0);
	}
}

static void check_spec(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!body)
		return;
	struct image_row row;
	struct api_fail fail;
	memset(&fail, 0, sizeof(fail));
	int rc = image_spec_parse(body, &row, &fail);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		CHECK(image_name_valid(row.name, NULL));
		CHECK(row.size >= 1 && row.size <= IMAGE_SIZE_MAX);
		CHECK(strlen(row.sha256) == 64 && strspn(row.sha256, "0123456789abcdef") == 64);
		CHECK(!strcmp(row.format, "raw") || !strcmp(row.format, "gzip") || !strcmp(row.format, "zstd"));
		CHECK(row.arch[0] && strlen(row.description) <= IMAGE_DESCRIPTION_MAX);
		json_t *j = image_row_json(&row);
		CHECK(j != NULL);
		json_decref(j);
	} else {
		CHECK(memchr(fail.message, '\0', sizeof(fail.message)) && fail.message[0]);
	}
	json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	check_range(text, size);
	image_name_valid(text, NULL);
	free(text);
	check_spec(data, size);
	return 0;
}
