/* The image registry's REST codec and upload rules (docs/deploy.md,
 * "Images"). Pure: no I/O, no libevent, no clock, no logging; every json_t
 * returned is a new reference owned by the caller. region/api/images.c is
 * the shell around it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "region/api/codec.h"
#include "region/db/image_db.h"

/* Largest image we take: far beyond any disk image, well inside int64. */
#define IMAGE_SIZE_MAX	      (1LL << 44)
#define IMAGE_DESCRIPTION_MAX 255

/* Is name an image name (the table's rule, also a boot-resource path
 * component): 1-63 of A-Z a-z 0-9 . _ + -, starting with a letter or digit,
 * not ending in ".part"? *ret_why (static text) says what is wrong. */
bool image_name_valid(const char *name, const char **ret_why);

/* POST /images: {name, format, sha256, size[, arch][, description]} and
 * nothing else into *ret (arch "amd64" when absent, sha256 lowercased).
 * -EINVAL with fail naming the field. */
int image_spec_parse(const json_t *body, struct image_row *ret, struct api_fail *fail);

/* An image as the API shows it, with "url": its path on a rack's HTTP boot
 * server ("/images/NAME"). NULL only when out of memory. */
json_t *image_row_json(const struct image_row *row);

/* A Content-Range request header (RFC 9110 14.4) of an upload:
 * "bytes FIRST-LAST/SIZE" carries bytes FIRST..LAST of SIZE, and
 * "bytes *\/SIZE" carries none: it asks to finish an upload whose bytes
 * have all arrived. */
struct image_range {
	bool finish; /* "*\/SIZE" */
	uint64_t first, last;
	uint64_t size;
};

/* 0; -EBADMSG for text that is not such a header (400); -ERANGE for a
 * well-formed one that cannot be (LAST < FIRST, LAST >= SIZE, SIZE 0:
 * 416). */
int image_range_parse(const char *value, struct image_range *ret);

/* What a PUT /images/NAME/data does with a range, given the image's row
 * and how many bytes its upload file holds. */
enum image_step_kind {
	IMAGE_STEP_REFUSE, /* answer status with message (nothing changes) */
	IMAGE_STEP_TRIM,   /* the file holds less than uploaded says: uploaded = resume_at, then 409 */
	IMAGE_STEP_WRITE,  /* write the chunk at first, uploaded = last + 1; verify if complete */
	IMAGE_STEP_VERIFY, /* every byte is here: check the SHA-256 */
	IMAGE_STEP_DONE,   /* already ready: answer the row */
};

struct image_step {
	enum image_step_kind kind;
	int status;	   /* for REFUSE and TRIM */
	const char *code;  /* the error code of REFUSE and TRIM */
	const char *field; /* NULL or the request part at fault */
	char message[300]; /* REFUSE, TRIM */
	int64_t resume_at; /* where the client goes on (REFUSE 409, TRIM); -1 none */
	bool complete;	   /* WRITE: the chunk is the last one */
};

/* body_len: the bytes the request carries. */
void image_upload_step(const struct image_row *row, const struct image_range *range, uint64_t body_len,
		       uint64_t file_size, struct image_step *ret);
