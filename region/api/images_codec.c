/* The image registry's codec and upload rules; see images_codec.h. */
#include "region/api/images_codec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '+' || c == '-';
}

bool image_name_valid(const char *name, const char **ret_why)
{
	size_t len = strlen(name);
	const char *why = NULL;

	if (len == 0)
		why = "empty";
	else if (len > IMAGE_NAME_MAX)
		why = "longer than 63 characters";
	else if (!isalnum((unsigned char)name[0]))
		why = "must start with a letter or a digit";
	else if (len >= 5 && strcmp(name + len - 5, ".part") == 0)
		why = "must not end in .part";
	for (size_t i = 0; !why && i < len; i++)
		if (!name_char(name[i]))
			why = "only A-Z a-z 0-9 . _ + - are allowed";
	if (ret_why)
		*ret_why = why;
	return why == NULL;
}

static bool arch_valid(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 16)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool format_valid(const char *s)
{
	return strcmp(s, "raw") == 0 || strcmp(s, "gzip") == 0 || strcmp(s, "zstd") == 0;
}

/* 64 hex digits, either case, into lowercase out. */
static bool sha256_take(const char *s, char out[65])
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[64] = '\0';
	return true;
}

static int string_member(const json_t *v, const char *key, const char **ret, struct api_fail *fail)
{
	if (!json_is_string(v))
		return api_fail_set(fail, key, "%s must be a string", key);
	*ret = json_string_value(v);
	if (strlen(*ret) != json_string_length(v))
		return api_fail_set(fail, key, "%s must not contain NUL characters", key);
	return 0;
}

static int spec_member(const char *key, const json_t *v, struct image_row *r, unsigned *seen, struct api_fail *fail)
{
	const char *s = NULL, *why = NULL;

	if (strcmp(key, "size") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > IMAGE_SIZE_MAX)
			return api_fail_set(fail, key, "size must be an integer from 1 to %lld (bytes)",
					    (long long)IMAGE_SIZE_MAX);
		r->size = (int64_t)json_integer_value(v);
		*seen |= 1u << 0;
		return 0;
	}
	if (strcmp(key, "name") && strcmp(key, "arch") && strcmp(key, "format") && strcmp(key, "sha256") &&
	    strcmp(key, "description"))
		return api_fail_set(fail, key,
				    "unknown field '%.64s'; an image has name, arch, format, sha256, size and "
				    "description",
				    key);
	if (string_member(v, key, &s, fail) < 0)
		return -EINVAL;
	if (strcmp(key, "name") == 0) {
		if (!image_name_valid(s, &why))
			return api_fail_set(fail, key, "name '%.80s': %s", s, why);
		snprintf(r->name, sizeof(r->name), "%s", s);
		*seen |= 1u << 1;
	} else if (strcmp(key, "arch") == 0) {
		if (!arch_valid(s))
			return api_fail_set(fail, key, "arch must be 1-16 of a-z 0-9 _ (e.g. amd64, arm64)");
		snprintf(r->arch, sizeof(r->arch), "%s", s);
	} else if (strcmp(key, "format") == 0) {
		if (!format_valid(s))
			return api_fail_set(fail, key, "format must be raw, gzip or zstd, not '%.32s'", s);
		snprintf(r->format, sizeof(r->format), "%s", s);
		*seen |= 1u << 2;
	} else if (strcmp(key, "sha256") == 0) {
		if (!sha256_take(s, r->sha256))
			return api_fail_set(fail, key, "sha256 must be 64 hex digits (of the file as uploaded)");
		*seen |= 1u << 3;
	} else {
		if (strlen(s) > IMAGE_DESCRIPTION_MAX)
			return api_fail_set(fail, key, "description: at most %d bytes", IMAGE_DESCRIPTION_MAX);
		snprintf(r->description, sizeof(r->description), "%s", s);
	}
	return 0;
}

int image_spec_parse(const json_t *body, struct image_row *ret, struct api_fail *fail)
{
	static const char *const required[] = {"size", "name", "format", "sha256"};
	unsigned seen = 0;
	const char *key;
	const json_t *v;

	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(body))
		return api_fail_set(fail, "", "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v)
	{
		if (spec_member(key, v, ret, &seen, fail) < 0)
			return -EINVAL;
	}
	for (unsigned i = 0; i < 4; i++)
		if (!(seen & (1u << i)))
			return api_fail_set(fail, required[i], "%s is required", required[i]);
	if (!ret->arch[0])
		snprintf(ret->arch, sizeof(ret->arch), "amd64");
	snprintf(ret->status, sizeof(ret->status), "uploading");
	return 0;
}

json_t *image_row_json(const struct image_row *r)
{
	char url[sizeof(r->name) + 16];
	snprintf(url, sizeof(url), "/images/%s", r->name);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:s}", "id", (json_int_t)r->id, "name",
			 r->name, "arch", r->arch, "format", r->format, "sha256", r->sha256, "size",
			 (json_int_t)r->size, "status", r->status, "uploaded", (json_int_t)r->uploaded, "description",
			 r->description, "created", r->created, "url", url);
}

/* ---- Content-Range ---- */

/* Digits from *p into *ret (at most 19, no sign); *p moves past them. */
static bool digits(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 19)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (n == 0)
		return false;
	*p = s;
	*ret = v;
	return true;
}

int image_range_parse(const char *value, struct image_range *ret)
{
	const char *p = value;

	memset(ret, 0, sizeof(*ret));
	if (!p)
		return -EBADMSG;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "bytes", 5) != 0 || p[5] != ' ')
		return -EBADMSG;
	p += 6;
	while (*p == ' ')
		p++;
	if (*p == '*') {
		ret->finish = true;
		p++;
	} else if (!digits(&p, &ret->first) || *p++ != '-' || !digits(&p, &ret->last)) {
		return -EBADMSG;
	}
	if (*p++ != '/' || !digits(&p, &ret->size))
		return -EBADMSG;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return -EBADMSG;
	if (ret->size == 0 || ret->size > (uint64_t)IMAGE_SIZE_MAX)
		return -ERANGE;
	if (!ret->finish && (ret->last < ret->first || ret->last >= ret->size))
		return -ERANGE;
	return 0;
}

/* ---- the upload's next step ---- */

static void step_set(struct image_step *s, enum image_step_kind kind, int status, const char *code, const char *field,
		     int64_t resume_at, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void step_set(struct image_step *s, enum image_step_kind kind, int status, const char *code, const char *field,
		     int64_t resume_at, const char *fmt, ...)
{
	va_list ap;
	s->kind = kind;
	s->status = status;
	s->code = code;
	s->field = field;
	s->resume_at = resume_at;
	va_start(ap, fmt);
	vsnprintf(s->message, sizeof(s->message), fmt, ap);
	va_end(ap);
}

void image_upload_step(const struct image_row *row, const struct image_range *range, uint64_t body_len,
		       uint64_t file_size, struct image_step *ret)
{
	uint64_t size = (uint64_t)row->size, at = (uint64_t)row->uploaded;

	memset(ret, 0, sizeof(*ret));
	ret->resume_at = -1;
	uint64_t want = range->finish ? 0 : range->last - range->first + 1;
	if (body_len != want) {
		step_set(ret, IMAGE_STEP_REFUSE, 400, "invalid_argument", "Content-Range", -1,
			 "the body holds %" PRIu64 " bytes, Content-Range says %" PRIu64, body_len, want);
	} else if (range->size != size) {
		step_set(ret, IMAGE_STEP_REFUSE, 400, "invalid_argument", "Content-Range", -1,
			 "Content-Range says %" PRIu64 " bytes in all; image %s has %" PRIu64, range->size, row->name,
			 size);
	} else if (strcmp(row->status, "ready") == 0) {
		if (range->finish)
			ret->kind = IMAGE_STEP_DONE;
		else
			step_set(ret, IMAGE_STEP_REFUSE, 409, "conflict", NULL, -1,
				 "image %s is complete (ready): nothing more to upload", row->name);
	} else if (file_size < at) {
		step_set(ret, IMAGE_STEP_TRIM, 409, "conflict", NULL, (int64_t)file_size,
			 "image %s: the region holds %" PRIu64 " of its bytes (not %" PRIu64
			 "): resume at byte %" PRIu64,
			 row->name, file_size, at, file_size);
	} else if (range->finish && at != size) {
		step_set(ret, IMAGE_STEP_REFUSE, 409, "conflict", NULL, (int64_t)at,
			 "image %s has %" PRIu64 " of %" PRIu64 " bytes: resume at byte %" PRIu64, row->name, at, size,
			 at);
	} else if (range->finish) {
		ret->kind = IMAGE_STEP_VERIFY;
	} else if (range->first != at && at == size) {
		step_set(ret, IMAGE_STEP_REFUSE, 409, "conflict", NULL, (int64_t)at,
			 "image %s has all %" PRIu64 " bytes: finish it with Content-Range: bytes */%" PRIu64,
			 row->name, size, size);
	} else if (range->first != at) {
		step_set(ret, IMAGE_STEP_REFUSE, 409, "conflict", NULL, (int64_t)at,
			 "image %s has %" PRIu64 " bytes: resume at byte %" PRIu64 " (Content-Range: bytes %" PRIu64
			 "-LAST/%" PRIu64 ")",
			 row->name, at, at, at, size);
	} else {
		ret->kind = IMAGE_STEP_WRITE;
		ret->complete = range->last + 1 == size;
	}
}
