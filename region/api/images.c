/* REST handlers of the image registry (docs/deploy.md, "Images"): the
 * rows (region/db/image_db.c) and their bytes under
 * boot_resources_dir/images/, which region/boot publishes to racks.
 *
 * An upload goes to the hidden file images/.NAME.upload (region/boot never
 * publishes hidden names), one chunk per PUT at exactly the byte the row
 * says it has. When every byte is there, the file is hashed on a database
 * reader (never on the loop, never holding the one writer), then on the
 * writer it is either renamed to images/NAME and the row marked ready, or
 * emptied for a new start; back on the loop, a boot-resource rescan
 * publishes it. Every step that touches a row and the file runs on the one
 * database writer, so two requests about one image never interleave. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/bootres.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/util.h"
#include "region/api/codec.h"
#include "region/api/images_api.h"
#include "region/api/images_codec.h"
#include "region/api/internal.h"
#include "region/boot/boot.h"
#include "region/db/db.h"
#include "region/db/image_db.h"
#include "region/db/pool.h"
#include "region/region.h"

#define IMAGES_SUBDIR "images"
/* ".NAME.upload" */
#define UPLOAD_NAME_MAX (IMAGE_NAME_MAX + 9)

/* boot_resources_dir/images (boot_resources_dir defaults to
 * state_dir/boot-resources, as region/boot has it). */
static int images_dir(const struct region *r, char *buf, size_t len)
{
	char base[PATH_MAX];
	const char *dir = r->conf.boot_resources_dir;
	int rc = 0;

	if (dir[0])
		rc = snprintf(base, sizeof(base), "%s", dir) < (int)sizeof(base) ? 0 : -ENAMETOOLONG;
	else
		rc = fs_path_join(base, sizeof(base), r->conf.state_dir, "boot-resources");
	return rc < 0 ? rc : fs_path_join(buf, len, base, IMAGES_SUBDIR);
}

static void upload_name(const char *name, char buf[UPLOAD_NAME_MAX + 1])
{
	snprintf(buf, UPLOAD_NAME_MAX + 1, ".%s.upload", name);
}

static int dir_open(const char *dir)
{
	int rc = fs_mkdir_p(dir, 0755);
	if (rc < 0)
		return rc;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The image's path parameter, or false with the 404 recorded. */
static bool name_param(struct api_call *call, const char **ret)
{
	const char *name = call->match->params[0];
	if (!image_name_valid(name, NULL)) {
		api_reply_error(call, 404, "not_found", NULL, "no image named '%.80s'", name);
		return false;
	}
	*ret = name;
	return true;
}

/* ---- GET /images, GET /images/{name} ---- */

static void images_list(struct api_call *call)
{
	struct image_row *rows;
	size_t n;
	int rc = image_db_list(call->db, &rows, &n);
	if (rc < 0) {
		api_reply_db_error(call, rc);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, image_row_json(&rows[i]));
	free(rows);
	api_reply_json(call, 200, json_pack("{s:o, s:I}", "images", arr, "total", (json_int_t)n));
}

static void image_show(struct api_call *call, const char *name)
{
	struct image_row row;
	int rc = image_db_get(call->db, name, &row);
	if (rc == -ENOENT)
		api_reply_error(call, 404, "not_found", NULL, "no image named '%s'", name);
	else if (rc < 0)
		api_reply_db_error(call, rc);
	else
		api_reply_json(call, 200, image_row_json(&row));
}

/* ---- POST /images ---- */

static int upload_file_create(int dfd, const char *name)
{
	char up[UPLOAD_NAME_MAX + 1];
	upload_name(name, up);
	int fd = openat(dfd, up, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Refuse an image the file system cannot hold now (507), before a client
 * spends an hour uploading it. */
static bool space_check(struct api_call *call, int dfd, const char *dir, int64_t size)
{
	struct statvfs vfs;
	if (fstatvfs(dfd, &vfs) < 0)
		return true;
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail >= (uint64_t)size)
		return true;
	api_reply_error(call, 507, "insufficient_storage", "size", "%s has %llu bytes free; the image needs %lld", dir,
			(unsigned long long)avail, (long long)size);
	return false;
}

static void image_create(struct api_call *call)
{
	struct image_row spec, row;
	struct api_fail fail = {0};
	char dir[PATH_MAX];
	json_t *body;

	if (api_body_json(call, &body) < 0)
		return;
	int rc = image_spec_parse(body, &spec, &fail);
	json_decref(body);
	if (rc < 0) {
		api_reply_error(call, 400, "invalid_argument", fail.field, "%s", fail.message);
		return;
	}
	int dfd = images_dir(call->r, dir, sizeof(dir));
	if (dfd >= 0)
		dfd = dir_open(dir);
	if (dfd < 0) {
		api_reply_error(call, 500, "internal", NULL, "cannot open %s: %s", dir, strerror(-dfd));
		return;
	}
	if (!space_check(call, dfd, dir, spec.size)) {
		close(dfd);
		return;
	}
	rc = db_begin(call->db);
	if (rc >= 0)
		rc = image_db_create(call->db, &spec, &row);
	if (rc >= 0) {
		rc = upload_file_create(dfd, row.name);
		if (rc < 0) {
			api_reply_error(call, 500, "internal", NULL, "cannot create the upload file in %s: %s", dir,
					strerror(-rc));
			close(dfd);
			db_rollback(call->db, rc);
			return;
		}
		rc = db_commit(call->db);
	}
	close(dfd);
	if (rc < 0)
		db_rollback(call->db, rc);
	if (rc == -EEXIST)
		api_reply_error(call, 409, "exists", "name", "an image named '%s' exists", spec.name);
	else if (rc == -EINVAL)
		api_reply_error(call, 400, "invalid_argument", NULL, "the image was refused: %s",
				db_last_error(call->db));
	else if (rc < 0)
		api_reply_db_error(call, rc);
	else
		api_reply_json(call, 201, image_row_json(&row));
}

/* ---- DELETE /images/{name} ---- */

struct delete_state {
	struct region *r;
	bool rescan; /* its file was published */
	int status;
	json_t *obj;
};

static void delete_state_free(void *arg)
{
	struct delete_state *st = arg;
	/* Also when the client went away: the file is gone either way. */
	if (st->rescan && !st->r->stopping)
		region_bootres_rescan(st->r);
	json_decref(st->obj);
	free(st);
}

static void delete_send(struct api_call *call)
{
	struct delete_state *st = call->state;
	api_reply_json(call, st->status, st->obj);
	st->obj = NULL;
}

static void file_remove(int dfd, const char *dir, const char *base)
{
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
		log_warn("images: cannot remove %s/%s: %s", dir, base, strerror(errno));
}

static void image_delete(struct api_call *call, const char *name)
{
	struct image_row row;
	char host[256] = "", dir[PATH_MAX], up[UPLOAD_NAME_MAX + 1];

	int rc = db_begin(call->db);
	if (rc >= 0)
		rc = image_db_lock(call->db, name, &row);
	if (rc >= 0)
		rc = image_db_delete(call->db, row.id, host, sizeof(host));
	if (rc >= 0)
		rc = db_commit(call->db);
	if (rc < 0)
		db_rollback(call->db, rc);
	if (rc == -ENOENT) {
		api_reply_error(call, 404, "not_found", NULL, "no image named '%s'", name);
		return;
	}
	if (rc == -EBUSY) {
		api_reply_error(call, 409, "in_use", NULL,
				"image %s is being deployed to %s (DEPLOYING): wait until the deploy ends, or abort it",
				name, host);
		return;
	}
	if (rc < 0) {
		api_reply_db_error(call, rc);
		return;
	}
	int dfd = images_dir(call->r, dir, sizeof(dir));
	if (dfd >= 0)
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		upload_name(name, up);
		file_remove(dfd, dir, up);
		file_remove(dfd, dir, name);
		close(dfd);
	}
	log_info("images: %s deleted by %s", name, call->who[0] ? call->who : call->peer);
	struct delete_state *st = xcalloc(1, sizeof(*st));
	st->r = call->r;
	st->rescan = strcmp(row.status, "ready") == 0;
	st->status = 200;
	st->obj = image_row_json(&row);
	call->state = st;
	call->state_free = delete_state_free;
	call->then = delete_send;
}

void api_images(struct api_call *call)
{
	if (call->method & (API_GET | API_HEAD))
		images_list(call);
	else
		image_create(call);
}

void api_image(struct api_call *call)
{
	const char *name;
	if (!name_param(call, &name))
		return;
	if (call->method & (API_GET | API_HEAD))
		image_show(call, name);
	else
		image_delete(call, name);
}

/* ---- PUT /images/{name}/data ---- */

/* One upload request on its way: append (writer) → hash (a reader, when
 * complete) → finish (writer) → reply and publish (loop). */
struct upload {
	struct region *r;
	struct api_pending *p;
	char name[IMAGE_NAME_MAX + 1];
	char dir[PATH_MAX];
	struct image_range range;
	char *body;
	size_t body_len;
	struct image_row row; /* as the last job saw it */
	bool verify;	      /* every byte is here: hash */
	char sha[BOOTRES_SHA256_HEX];
	uint64_t hashed; /* bytes the hash read */
	int hash_err;
	int64_t hash_ms;
	bool published; /* renamed into place: rescan */
	/* The reply (status 0 until decided). */
	int status;
	json_t *reply;
	char db_error[256];
};

static void upload_free(struct upload *u)
{
	api_pending_free(u->p);
	json_decref(u->reply);
	free(u->body);
	free(u);
}

static void upload_fail(struct upload *u, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void upload_fail(struct upload *u, int status, const char *code, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(u->reply);
	u->status = status;
	u->reply = api_error_new(code, msg, field);
}

/* A 409 that says where the upload stands ("uploaded" in the error). */
static void upload_conflict(struct upload *u, const struct image_step *s)
{
	upload_fail(u, s->status, s->code, s->field, "%s", s->message);
	json_t *err = json_object_get(u->reply, "error");
	if (err && s->resume_at >= 0)
		json_object_set_new(err, "uploaded", json_integer(s->resume_at));
}

static void upload_ok(struct upload *u)
{
	json_decref(u->reply);
	u->status = 200;
	u->reply = image_row_json(&u->row);
}

static int upload_db_fail(struct upload *u, struct db *db, int rc)
{
	snprintf(u->db_error, sizeof(u->db_error), "%s", db_last_error(db));
	db_rollback(db, rc);
	upload_fail(u, 503, "unavailable", NULL, "database unavailable (%s)", strerror(-rc));
	return 0;
}

static void upload_send(struct upload *u)
{
	struct evhttp_request *req = api_pending_release(u->p);
	if (u->db_error[0])
		log_warn("images: %s: database error: %s", u->name, u->db_error);
	if (req) {
		if (u->status == 503)
			evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		api_send_json(req, u->status ? u->status : 500, u->reply);
		u->reply = NULL;
	}
	upload_free(u);
}

static void upload_refused(struct upload *u, int rc)
{
	upload_fail(u, 503, rc == -EAGAIN ? "busy" : "unavailable", NULL,
		    rc == -EAGAIN ? "too many requests waiting on the database; retry later"
				  : "database unavailable; retry later");
}

/* The chunk into the file at first, then the row's uploaded after it. */
static int upload_write(struct upload *u, struct db *db, int fd, const struct image_step *s)
{
	uint64_t end = u->range.last + 1;
	int rc = fs_pwrite_full(fd, u->body, u->body_len, u->range.first);
	/* Bytes past the chunk are from a request that never committed. */
	if (rc >= 0 && ftruncate(fd, (off_t)end) < 0)
		rc = -errno;
	if (rc < 0) {
		db_rollback(db, rc);
		upload_fail(u, rc == -ENOSPC || rc == -EDQUOT ? 507 : 500,
			    rc == -ENOSPC || rc == -EDQUOT ? "insufficient_storage" : "internal", NULL,
			    "cannot write to %s/.%s.upload: %s", u->dir, u->name, strerror(-rc));
		return 0;
	}
	rc = image_db_set_uploaded(db, u->row.id, u->row.uploaded, (int64_t)end);
	if (rc >= 0)
		rc = db_commit(db);
	if (rc < 0)
		return upload_db_fail(u, db, rc);
	u->row.uploaded = (int64_t)end;
	if (s->complete)
		u->verify = true;
	else
		upload_ok(u);
	return 0;
}

static int upload_append_job(struct db *db, void *arg)
{
	struct upload *u = arg;
	char up[UPLOAD_NAME_MAX + 1];
	struct image_step s;
	struct stat st;

	int rc = db_begin(db);
	if (rc >= 0)
		rc = image_db_lock(db, u->name, &u->row);
	if (rc == -ENOENT) {
		db_rollback(db, rc);
		upload_fail(u, 404, "not_found", NULL, "no image named '%s'", u->name);
		return 0;
	}
	if (rc < 0)
		return upload_db_fail(u, db, rc);
	upload_name(u->name, up);
	/* A ready image has no upload file: nothing to open. */
	bool ready = strcmp(u->row.status, "ready") == 0;
	int dfd = ready ? -1 : dir_open(u->dir), fd = -1;
	if (dfd >= 0)
		fd = openat(dfd, up, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (!ready && (dfd < 0 || fd < 0 || fstat(fd, &st) < 0)) {
		rc = dfd < 0 ? dfd : -errno;
		upload_fail(u, 500, "internal", NULL, "cannot open %s/%s: %s", u->dir, up, strerror(-rc));
		db_rollback(db, rc);
		goto out;
	}
	image_upload_step(&u->row, &u->range, u->body_len, ready ? 0 : (uint64_t)st.st_size, &s);
	switch (s.kind) {
	case IMAGE_STEP_REFUSE:
		db_rollback(db, 0);
		upload_conflict(u, &s);
		break;
	case IMAGE_STEP_TRIM:
		rc = image_db_set_uploaded(db, u->row.id, u->row.uploaded, s.resume_at);
		if (rc >= 0)
			rc = db_commit(db);
		if (rc < 0)
			upload_db_fail(u, db, rc);
		else
			upload_conflict(u, &s);
		break;
	case IMAGE_STEP_DONE:
		db_rollback(db, 0);
		upload_ok(u);
		break;
	case IMAGE_STEP_VERIFY:
		db_rollback(db, 0);
		u->verify = true;
		break;
	case IMAGE_STEP_WRITE:
		upload_write(u, db, fd, &s);
		break;
	}
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return 0;
}

/* On a database reader: it only reads the file, and the one writer must
 * not wait seconds for a big image. */
static int upload_hash_job(struct db *db, void *arg)
{
	struct upload *u = arg;
	char path[PATH_MAX + UPLOAD_NAME_MAX + 2], up[UPLOAD_NAME_MAX + 1];

	upload_name(u->name, up);
	int64_t t0 = clock_mono_ms();
	u->hash_err = fs_path_join(path, sizeof(path), u->dir, up);
	int fd = u->hash_err < 0 ? -1 : open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (u->hash_err >= 0 && fd < 0)
		u->hash_err = -errno;
	if (fd >= 0) {
		u->hash_err = bootres_sha256_fd(fd, NULL, u->sha, &u->hashed);
		close(fd);
	}
	u->hash_ms = clock_mono_ms() - t0;
	return 0;
}

/* The hash is in: into place and ready, or emptied for a new start. */
static int upload_finish_job(struct db *db, void *arg)
{
	struct upload *u = arg;
	struct image_row row;
	char up[UPLOAD_NAME_MAX + 1];

	upload_name(u->name, up);
	int rc = db_begin(db);
	if (rc >= 0)
		rc = image_db_lock(db, u->name, &row);
	if (rc == -ENOENT || (rc >= 0 && row.id != u->row.id)) {
		db_rollback(db, 0);
		upload_fail(u, 404, "not_found", NULL, "image %s was deleted while its upload was being checked",
			    u->name);
		return 0;
	}
	if (rc < 0)
		return upload_db_fail(u, db, rc);
	u->row = row;
	if (strcmp(row.status, "ready") == 0) { /* another request finished it */
		db_rollback(db, 0);
		upload_ok(u);
		return 0;
	}
	if (row.uploaded != row.size) {
		struct image_step s = {.status = 409, .code = "conflict", .resume_at = row.uploaded};
		snprintf(s.message, sizeof(s.message), "image %s has %lld of %lld bytes: resume at byte %lld", row.name,
			 (long long)row.uploaded, (long long)row.size, (long long)row.uploaded);
		db_rollback(db, 0);
		upload_conflict(u, &s);
		return 0;
	}
	int dfd = open(u->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool good = u->hash_err >= 0 && u->hashed == (uint64_t)row.size && strcmp(u->sha, row.sha256) == 0;
	if (dfd < 0 || (u->hash_err < 0 && u->hash_err != -ENOENT)) {
		rc = dfd < 0 ? -errno : u->hash_err;
		db_rollback(db, rc);
		upload_fail(u, 500, "internal", NULL, "cannot read %s/%s: %s", u->dir, up, strerror(-rc));
	} else if (!good) {
		/* Start over: which of its bytes are wrong cannot be told. */
		int fd = openat(dfd, up, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		rc = image_db_set_uploaded(db, row.id, row.uploaded, 0);
		if (rc >= 0)
			rc = db_commit(db);
		if (rc < 0) {
			upload_db_fail(u, db, rc);
		} else {
			if (u->hash_err == -ENOENT)
				upload_fail(u, 409, "conflict", NULL,
					    "the upload file of %s is gone: send the image again from byte 0",
					    row.name);
			else
				upload_fail(u, 422, "checksum_mismatch", "sha256",
					    "checksum: expected %s, got %s (%llu bytes); the upload was reset: send "
					    "the image again from byte 0",
					    row.sha256, u->sha, (unsigned long long)u->hashed);
			u->row.uploaded = 0;
			json_object_set_new(json_object_get(u->reply, "error"), "uploaded", json_integer(0));
		}
	} else {
		int fd = openat(dfd, up, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		rc = fd >= 0 && fsync(fd) == 0 ? 0 : -errno;
		if (fd >= 0)
			close(fd);
		if (rc >= 0)
			rc = image_db_mark_ready(db, row.id);
		if (rc >= 0 && renameat(dfd, up, dfd, row.name) < 0)
			rc = -errno;
		if (rc >= 0) {
			fsync(dfd);
			rc = db_commit(db);
			if (rc < 0) /* the row says uploading: so must the file */
				renameat(dfd, row.name, dfd, up);
		}
		if (rc == -EIO || rc == -ENOTCONN) {
			upload_db_fail(u, db, rc);
		} else if (rc < 0) {
			db_rollback(db, rc);
			upload_fail(u, 500, "internal", NULL, "cannot put %s/%s in place: %s", u->dir, row.name,
				    strerror(-rc));
		} else {
			snprintf(u->row.status, sizeof(u->row.status), "ready");
			u->published = true;
			upload_ok(u);
		}
	}
	if (dfd >= 0)
		close(dfd);
	return 0;
}

static void upload_finish_done(void *arg, int status)
{
	struct upload *u = arg;
	if (status == -ECANCELED) {
		upload_free(u);
		return;
	}
	if (status < 0)
		upload_refused(u, status);
	if (u->published) {
		log_info("images: %s ready: %lld bytes, sha256 %s verified in %lld ms; publishing it", u->name,
			 (long long)u->row.size, u->row.sha256, (long long)u->hash_ms);
		if (!u->r->stopping)
			region_bootres_rescan(u->r);
	} else if (u->status == 422) {
		log_warn("images: %s: checksum mismatch (expected %s, got %s); upload reset", u->name, u->row.sha256,
			 u->sha);
	}
	upload_send(u);
}

static void upload_hash_done(void *arg, int status)
{
	struct upload *u = arg;
	if (status == -ECANCELED) {
		upload_free(u);
		return;
	}
	int rc =
	    status < 0 ? status : db_pool_submit(u->r->dbpool, DB_LANE_WRITE, upload_finish_job, upload_finish_done, u);
	if (rc >= 0)
		return;
	upload_refused(u, rc);
	upload_send(u);
}

static void upload_append_done(void *arg, int status)
{
	struct upload *u = arg;
	if (status == -ECANCELED) {
		upload_free(u);
		return;
	}
	if (status < 0) {
		upload_refused(u, status);
	} else if (u->verify && !u->status) {
		int rc = db_pool_submit(u->r->dbpool, DB_LANE_READ, upload_hash_job, upload_hash_done, u);
		if (rc >= 0)
			return;
		upload_refused(u, rc);
	}
	upload_send(u);
}

void api_image_data(struct api_call *call)
{
	const char *name, *hdr;
	struct image_range range;

	if (!name_param(call, &name))
		return;
	hdr = evhttp_find_header(evhttp_request_get_input_headers(call->req), "Content-Range");
	if (!hdr) {
		api_reply_error(call, 400, "invalid_argument", "Content-Range",
				"Content-Range: bytes FIRST-LAST/SIZE is required (bytes */SIZE finishes an upload)");
		return;
	}
	int rc = image_range_parse(hdr, &range);
	if (rc == -EBADMSG) {
		api_reply_error(call, 400, "invalid_argument", "Content-Range",
				"Content-Range '%.80s' is neither bytes FIRST-LAST/SIZE nor bytes */SIZE", hdr);
		return;
	}
	if (rc < 0) {
		api_reply_error(call, 416, "range_not_satisfiable", "Content-Range",
				"Content-Range '%.80s': SIZE must be from 1 to %lld and FIRST <= LAST < SIZE", hdr,
				(long long)IMAGE_SIZE_MAX);
		return;
	}
	struct upload *u = xcalloc(1, sizeof(*u));
	u->r = call->r;
	u->range = range;
	memcpy(u->name, name, strlen(name) + 1); /* checked: at most IMAGE_NAME_MAX */
	if (images_dir(call->r, u->dir, sizeof(u->dir)) < 0) {
		api_reply_error(call, 500, "internal", NULL, "boot_resources_dir is too long");
		upload_free(u);
		return;
	}
	u->p = api_pending_start(call, name, 0);
	if (!u->p) { /* too many waiting: the 503 is recorded */
		upload_free(u);
		return;
	}
	/* The body is the job's (the call is freed when we return). */
	u->body = call->body;
	u->body_len = call->body_len;
	call->body = NULL;
	call->body_len = 0;
	rc = db_pool_submit(call->r->dbpool, DB_LANE_WRITE, upload_append_job, upload_append_done, u);
	if (rc < 0) {
		upload_free(u);
		call->retry_after_s = 1;
		api_reply_error(call, 503, rc == -EAGAIN ? "busy" : "unavailable", NULL,
				rc == -EAGAIN ? "too many requests waiting on the database; retry later"
					      : "database unavailable; retry later");
		return;
	}
}
