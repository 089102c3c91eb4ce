/* `ironrack images list|show|add|delete`: the region's registry of
 * deployable OS images (docs/deploy.md, "Images"). images_format.c is pure
 * (unit-tested by tests/unit/test_images_cli.c); images.c talks to the
 * region. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "region/cli/cli.h"

struct cli;

/* The chunk a PUT carries: the region's default max_body_bytes (1 MiB).
 * A region that answers 413 gets halves of it, down to the minimum. */
#define CLI_IMAGES_CHUNK     (1u << 20)
#define CLI_IMAGES_CHUNK_MIN (16u << 10)

/* The format of an image file from its first bytes: "gzip" (1f 8b),
 * "zstd" (28 b5 2f fd) or "raw". */
const char *cli_images_format_sniff(const uint8_t *head, size_t n);
/* --format (NULL or "auto": sniffed) for a file starting with head. An
 * explicit gzip or zstd must match the file's magic bytes. *ret is static
 * text. -EINVAL with err set. */
int cli_images_format_pick(const char *opt, const uint8_t *head, size_t n, const char **ret, char *err, size_t errlen);
/* "bytes FIRST-LAST/SIZE" for len bytes at first (len 0: "bytes *\/SIZE",
 * which asks the region to finish an upload whose bytes are all there). */
void cli_images_range_format(uint64_t first, uint64_t len, uint64_t size, char *buf, size_t buflen);

/* What `images add` does about the image of that name the region has
 * (NULL: none). */
enum cli_images_plan {
	CLI_IMAGES_CREATE, /* no such image: create it, upload from 0 */
	CLI_IMAGES_RESUME, /* uploading with our sha256 and size: upload from *ret_from */
	CLI_IMAGES_DONE,   /* ready with our sha256 and size: nothing to do */
	CLI_IMAGES_CLASH,  /* another image under that name: refuse (err says why) */
};
enum cli_images_plan cli_images_plan(const json_t *existing, const char *sha256, uint64_t size, uint64_t *ret_from,
				     char *err, size_t errlen);

/* Progress lines on stderr, sparingly: when at least 2 s and 10 % of the
 * image have passed since the last one. */
struct cli_images_progress {
	int64_t last_ms;
	uint64_t last_bytes;
};
bool cli_images_progress_due(struct cli_images_progress *p, uint64_t done, uint64_t size, int64_t now_ms);
/* "debian-12: 120 MiB of 400 MiB (30%), 85.0 MiB/s" (rate over elapsed_ms;
 * none when it is 0). */
void cli_images_progress_format(const char *name, uint64_t done, uint64_t size, int64_t elapsed_ms, char *buf,
				size_t len);

/* GET /images' array as a table: NAME ARCH FORMAT SIZE STATUS SHA256
 * DESCRIPTION (status "uploading 42%" while uploading, sha256 cut to 16
 * digits). */
int cli_images_list_print(const json_t *images, FILE *out);
/* One image as "Key: value" lines, the full sha256 included. */
int cli_images_show_print(const json_t *image, FILE *out);

/* images.c: the run functions of the command table */
int cli_cmd_images_list(struct cli *cli, char **argv, size_t argc);
int cli_cmd_images_show(struct cli *cli, char **argv, size_t argc);
int cli_cmd_images_add(struct cli *cli, char **argv, size_t argc);
int cli_cmd_images_delete(struct cli *cli, char **argv, size_t argc);

#define CLI_IMAGES_ADD_OPTS                                                                                            \
	(CLI_OPT_URL | CLI_OPT_KEY | CLI_OPT_JSON | CLI_OPT_NAME | CLI_OPT_ARCH | CLI_OPT_FORMAT | CLI_OPT_DESCRIPTION)
