/* The image registry (docs/deploy.md, "Images"; migration 0009): rows of
 * the image table. Each function runs one statement, or one transaction,
 * on the caller's connection (a database job). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

#define IMAGE_NAME_MAX 63

struct image_row {
	int64_t id;
	char name[IMAGE_NAME_MAX + 1];
	char arch[17];
	char format[8];	 /* raw | gzip | zstd */
	char sha256[65]; /* of the file as stored and served */
	int64_t size;
	char status[12]; /* uploading | ready */
	int64_t uploaded;
	char description[256];
	char created[40]; /* ISO 8601 */
};

/* 0, -ENOENT, -EIO (logged). */
int image_db_get(struct db *db, const char *name, struct image_row *ret);
