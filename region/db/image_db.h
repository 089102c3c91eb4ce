/* The image registry (docs/deploy.md, "Images"; migration 0009): rows of
 * the image table. Each function runs one statement, or one transaction,
 * on the caller's connection (a database job). The bytes are not here:
 * region/api/images.c keeps them under boot_resources_dir/images/. */
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
/* The same, locking the row (FOR UPDATE) for the caller's transaction. */
int image_db_lock(struct db *db, const char *name, struct image_row *ret);
/* Every image by name: *ret malloc'd (free() it), *ret_n rows. */
int image_db_list(struct db *db, struct image_row **ret, size_t *ret_n);
/* A new image from name, arch ("" = amd64), format, sha256, size and
 * description of in, status uploading with nothing uploaded; *ret is the
 * row stored. -EEXIST: the name is taken; -EINVAL: a value the table's
 * checks refuse. */
int image_db_create(struct db *db, const struct image_row *in, struct image_row *ret);
/* uploaded = to, only while the image is uploading with uploaded = from
 * (appending a chunk: to > from; starting over or trimming to the bytes
 * really on disk: to < from). -EAGAIN: it is not (any more); -ENOENT: no
 * such image. */
int image_db_set_uploaded(struct db *db, int64_t id, int64_t from, int64_t to);
/* status ready, only while uploading with every byte uploaded. -EAGAIN
 * otherwise, -ENOENT no such image. */
int image_db_mark_ready(struct db *db, int64_t id);
/* Delete the image, unless a machine in DEPLOYING is being deployed with
 * it: then -EBUSY and ret_host (len bytes) names one such machine. Deploy
 * records of other machines keep its name and sha256 (image_id becomes
 * NULL). -ENOENT no such image. Call inside a transaction. */
int image_db_delete(struct db *db, int64_t id, char *ret_host, size_t len);
