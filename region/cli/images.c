/* The image commands: list and show the region's images, upload one in
 * chunks (resuming an interrupted upload of the same file), delete one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/bootres.h"
#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/images_cli.h"
#include "region/cli/net_cli.h"

#define PATH_LEN 1024
/* Tries of one chunk through network errors and 503s before giving up
 * (the upload can be resumed later: the region keeps what it has). */
#define CHUNK_TRIES 5
/* 409s in a row that move us nowhere: someone else is uploading too. */
#define RESYNC_MAX 8
/* The last chunk waits while the region hashes the whole image: allow
 * for a slow disk (MB/s) on top of the usual limit. */
#define VERIFY_MIN_BPS (20u << 20)

static int usage(const char *msg)
{
	fprintf(stderr, "error: %s\n", msg);
	return CLI_EXIT_USAGE;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* "/api/v1/images/<name><tail>" */
static int image_path(const char *name, const char *tail, char *buf, size_t len)
{
	char *esc = cli_path_escape(name);
	int n = snprintf(buf, len, "/api/v1/images/%s%s", esc, tail);
	free(esc);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* ---- list, show, delete ---- */

int cli_cmd_images_list(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	int rc = cli_net_request(cli, "GET", "/api/v1/images", NULL, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	const json_t *items = json_object_get(resp.json, "images");
	if (cli->args->given & CLI_OPT_JSON)
		rc = cli_net_json_print(resp.json);
	else if (json_array_size(items) == 0)
		printf("No images.\n");
	else
		rc = cli_images_list_print(items, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_images_show(struct cli *cli, char **argv, size_t argc)
{
	char path[PATH_LEN];
	struct cli_resp resp;

	if (image_path(argv[0], "", path, sizeof(path)) < 0)
		return usage("the image's name is too long");
	int rc = cli_net_request(cli, "GET", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = cli_net_json_print(resp.json);
	else
		rc = cli_images_show_print(resp.json, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_images_delete(struct cli *cli, char **argv, size_t argc)
{
	char path[PATH_LEN];
	struct cli_resp resp;

	if (image_path(argv[0], "", path, sizeof(path)) < 0)
		return usage("the image's name is too long");
	int rc = cli_net_request(cli, "DELETE", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = cli_net_json_print(resp.json);
	else
		printf("Deleted image %s.\n", argv[0]);
	cli_resp_done(&resp);
	return rc;
}

/* ---- add: the chunks ---- */

/* One connection for every chunk of an upload. */
struct uploader {
	CURL *c;
	const struct cli_target *t;
	char url[CLI_URL_MAX + PATH_LEN];
	const char *name;
	uint64_t size;
};

/* PUT len bytes of data at first (len 0: finish). 0 with *status and
 * *ret (the answer as JSON, or NULL) once the region answered; -EIO with
 * the transfer's error in err. */
static int chunk_put(struct uploader *u, uint64_t first, const void *data, size_t len, long *status, json_t **ret,
		     char *err, size_t errlen)
{
	char line[128], range[96];
	struct cli_resp resp;

	cli_images_range_format(first, len, u->size, range, sizeof(range));
	snprintf(line, sizeof(line), "Content-Range: %s", range);
	struct cli_body body = {.data = data, .len = len, .type = "application/octet-stream", .header = line};
	/* The last chunk waits for the region's hash of the whole image. */
	bool last = len == 0 || first + len == u->size;
	long timeout = CLI_TOTAL_TIMEOUT_MS + (last ? (long)(u->size / VERIFY_MIN_BPS) * 1000L : 0L);
	int r = cli_exchange(u->c, u->t, "PUT", u->url, &body, timeout, &resp, err, errlen);
	if (r < 0)
		return -EIO;
	*status = resp.status;
	*ret = json_incref(resp.json);
	cli_resp_done(&resp);
	return 0;
}

/* "error: message (code)" from an answer, as cli_resp_error prints it. */
static void answer_error(const char *url, long status, const json_t *j)
{
	const json_t *e = json_object_get(j, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *code = json_string_value(json_object_get(e, "code"));

	if (msg && code) {
		char *m = xstrdup(msg), *c = xstrdup(code);
		cli_text_sanitize(m);
		cli_text_sanitize(c);
		fprintf(stderr, "error: %s (%s)\n", m, c);
		free(m);
		free(c);
	} else {
		fprintf(stderr, "error: unexpected answer from the region at %s: HTTP %ld\n", url, status);
	}
}

static int read_full(int fd, char *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Send the file from byte at; *ret the image as the region answered the
 * last chunk (ready). */
static int upload_run(struct uploader *u, int fd, uint64_t at, json_t **ret)
{
	size_t chunk = CLI_IMAGES_CHUNK;
	char *buf = xmalloc(chunk), err[CURL_ERROR_SIZE + 64];
	struct cli_images_progress prog = {.last_ms = clock_mono_ms(), .last_bytes = at};
	int64_t t0 = clock_mono_ms();
	unsigned tries = 0, resyncs = 0;
	int rc = CLI_EXIT_FAIL;

	for (;;) {
		size_t len = u->size - at < chunk ? (size_t)(u->size - at) : chunk;
		if (len && read_full(fd, buf, len, at) < 0) {
			fprintf(stderr, "error: cannot read the file at byte %" PRIu64 ": %s\n", at, strerror(errno));
			break;
		}
		long status = 0;
		json_t *j = NULL;
		if (chunk_put(u, at, buf, len, &status, &j, err, sizeof(err)) < 0 || status == 503) {
			json_decref(j);
			if (++tries < CHUNK_TRIES) {
				sleep_ms(1000L * tries);
				continue;
			}
			fprintf(stderr,
				"error: upload of %s stopped at byte %" PRIu64 ": %s; run the same command again to "
				"resume\n",
				u->name, at, status == 503 ? "the region is unavailable" : err);
			break;
		}
		tries = 0;
		const json_t *e = json_object_get(j, "error");
		const json_t *where = json_object_get(e, "uploaded");
		if (status == 413 && chunk / 2 >= CLI_IMAGES_CHUNK_MIN) {
			chunk /= 2; /* the region takes smaller bodies than we thought */
		} else if (status == 409 && json_is_integer(where) && json_integer_value(where) >= 0 &&
			   (uint64_t)json_integer_value(where) <= u->size && ++resyncs <= RESYNC_MAX) {
			at = (uint64_t)json_integer_value(where); /* go on where the region is */
			fprintf(stderr, "%s: the region has %" PRIu64 " bytes; going on from there\n", u->name, at);
		} else if (status >= 200 && status <= 299 && json_is_object(j)) {
			resyncs = 0;
			at = json_integer_value(json_object_get(j, "uploaded"));
			const char *st = json_string_value(json_object_get(j, "status"));
			if (st && strcmp(st, "ready") == 0) {
				*ret = j;
				rc = CLI_EXIT_OK;
				break;
			}
			if (cli_images_progress_due(&prog, at, u->size, clock_mono_ms())) {
				char line[160];
				cli_images_progress_format(u->name, at, u->size, clock_mono_ms() - t0, line,
							   sizeof(line));
				fprintf(stderr, "%s\n", line);
			}
		} else {
			answer_error(u->t->url, status, j);
			json_decref(j);
			break;
		}
		json_decref(j);
	}
	free(buf);
	return rc;
}

/* ---- add ---- */

/* The file's size, sha256 and format. */
struct local_image {
	int fd;
	uint64_t size;
	char sha256[BOOTRES_SHA256_HEX];
	const char *format;
};

static int local_open(const struct cli *cli, const char *file, struct local_image *ret)
{
	uint8_t head[4];
	char err[256];
	struct stat st;

	ret->fd = open(file, O_RDONLY | O_CLOEXEC);
	if (ret->fd < 0 || fstat(ret->fd, &st) < 0) {
		fprintf(stderr, "error: %s: %s\n", file, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		fprintf(stderr, "error: %s: %s\n", file, S_ISREG(st.st_mode) ? "empty file" : "not a regular file");
		return CLI_EXIT_FAIL;
	}
	ssize_t n = pread(ret->fd, head, sizeof(head), 0);
	if (cli_images_format_pick(cli_opt_value(cli->args, CLI_OPT_FORMAT), head, n > 0 ? (size_t)n : 0, &ret->format,
				   err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s: %s\n", file, err);
		return CLI_EXIT_FAIL;
	}
	int rc = bootres_sha256_fd(ret->fd, NULL, ret->sha256, &ret->size);
	if (rc < 0 || ret->size != (uint64_t)st.st_size) {
		fprintf(stderr, "error: %s: %s\n", file, rc < 0 ? strerror(-rc) : "changed while being read");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* The region's image of that name (new reference) into *ret, NULL when
 * it has none. */
static int existing_get(struct cli *cli, const char *path, json_t **ret)
{
	struct cli_resp resp;

	*ret = NULL;
	if (cli_request(&cli->target, "GET", path, NULL, &resp) < 0)
		return CLI_EXIT_FAIL;
	int rc = CLI_EXIT_OK;
	if (resp.status == 200 && json_is_object(resp.json))
		*ret = json_incref(resp.json);
	else if (resp.status != 404)
		rc = cli_resp_error(&cli->target, &resp);
	cli_resp_done(&resp);
	return rc;
}

static int image_create(struct cli *cli, const char *name, const struct local_image *img, json_t **ret)
{
	const char *arch = cli_opt_value(cli->args, CLI_OPT_ARCH);
	const char *desc = cli_opt_value(cli->args, CLI_OPT_DESCRIPTION);
	struct cli_resp resp;
	json_t *body = json_pack("{s:s, s:s, s:s, s:I}", "name", name, "format", img->format, "sha256", img->sha256,
				 "size", (json_int_t)img->size);

	if (!body)
		oom_abort(0);
	if (arch)
		json_object_set_new(body, "arch", json_string(arch));
	if (desc)
		json_object_set_new(body, "description", json_string(desc));
	int rc = cli_net_request(cli, "POST", "/api/v1/images", body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	*ret = json_incref(resp.json);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}

static int result_print(const struct cli *cli, const json_t *img)
{
	if (cli->args->given & CLI_OPT_JSON)
		return cli_net_json_print(img);
	json_t *one = json_pack("[O]", img);
	int rc = cli_images_list_print(one, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	json_decref(one);
	return rc;
}

int cli_cmd_images_add(struct cli *cli, char **argv, size_t argc)
{
	const char *name = cli_opt_value(cli->args, CLI_OPT_NAME);
	struct local_image img = {.fd = -1};
	char path[PATH_LEN], err[512];
	json_t *existing = NULL, *done = NULL;
	uint64_t from = 0;

	if (!name || !*name)
		return usage("images add needs --name NAME (the image's name in the region)");
	if (image_path(name, "", path, sizeof(path)) < 0)
		return usage("the image's name is too long");
	int rc = cli_target_resolve(cli, true);
	if (rc == CLI_EXIT_OK)
		rc = local_open(cli, argv[0], &img);
	if (rc == CLI_EXIT_OK)
		rc = existing_get(cli, path, &existing);
	if (rc != CLI_EXIT_OK)
		goto out;
	switch (cli_images_plan(existing, img.sha256, img.size, &from, err, sizeof(err))) {
	case CLI_IMAGES_CLASH:
		fprintf(stderr, "error: %s\n", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	case CLI_IMAGES_DONE:
		fprintf(stderr, "%s: already in the region (same sha256)\n", name);
		rc = result_print(cli, existing);
		goto out;
	case CLI_IMAGES_RESUME:
		fprintf(stderr, "%s: resuming the upload at byte %" PRIu64 " of %" PRIu64 "\n", name, from, img.size);
		break;
	case CLI_IMAGES_CREATE:
		rc = image_create(cli, name, &img, &existing);
		if (rc != CLI_EXIT_OK)
			goto out;
		break;
	}
	struct uploader u = {.t = &cli->target, .name = name, .size = img.size};
	if (image_path(name, "/data", path, sizeof(path)) < 0 ||
	    (size_t)snprintf(u.url, sizeof(u.url), "%s%s", cli->target.url, path) >= sizeof(u.url)) {
		rc = usage("the region's URL is too long");
		goto out;
	}
	u.c = curl_easy_init();
	if (!u.c)
		oom_abort(0);
	rc = upload_run(&u, img.fd, from, &done);
	curl_easy_cleanup(u.c);
	if (rc == CLI_EXIT_OK)
		rc = result_print(cli, done);
out:
	json_decref(existing);
	json_decref(done);
	if (img.fd >= 0)
		close(img.fd);
	return rc;
}
