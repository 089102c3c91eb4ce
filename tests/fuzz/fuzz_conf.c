/* libFuzzer target for the configuration file parser (common/conf.c)
 * with the region's and the rack's real key tables (region/config.c,
 * rack/config.c): files, and command-line overrides.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_conf tests/fuzz/corpus/conf
 *
 * The input is a whole file, read through conf_load_file (so NUL bytes
 * and the length limit are seen as a file has them) and as text through
 * conf_load_buffer; and its first line as "key=value" for conf_set. Every
 * refusal names where; whatever was set is freed by conf_free (the leak
 * checker sees the rest). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/conf.h"
#include "rack/rack.h"
#include "region/region.h"
#include "tests/fuzz/fuzz.h"

struct table {
	const struct conf_key *keys;
	const size_t *n;
	size_t size; /* of the config struct */
};

static const struct table tables[] = {
    {region_conf_keys, &region_conf_keys_n, sizeof(struct region_conf)},
    {rack_conf_keys, &rack_conf_keys_n, sizeof(struct rack_conf)},
};

static int file_fd = -1;
static char file_path[64];

static void check_err(int r, const char *err, const char *where)
{
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		CHECK(strncmp(err, where, strlen(where)) == 0);
}

static void check_table(const struct table *t, const uint8_t *data, size_t size, const char *text)
{
	char err[512];
	void *target = calloc(1, t->size);

	if (!target)
		return;
	CHECK(conf_defaults(t->keys, *t->n, target, err, sizeof(err)) == 0);
	int r = conf_load_buffer("fuzz.conf", text, t->keys, *t->n, target, err, sizeof(err));
	check_err(r, err, "fuzz.conf:");
	conf_free(t->keys, *t->n, target);

	memset(target, 0, t->size);
	CHECK(conf_defaults(t->keys, *t->n, target, err, sizeof(err)) == 0);
	if (file_fd >= 0 && ftruncate(file_fd, 0) == 0 && pwrite(file_fd, data, size, 0) == (ssize_t)size) {
		r = conf_load_file(file_path, t->keys, *t->n, target, err, sizeof(err));
		CHECK(r != -ENOENT);
		check_err(r, err, file_path);
	}

	/* The first line as a command-line override, on top of the file. */
	char *eq = strchr(text, '=');
	char *nl = strchr(text, '\n');
	if (eq && (!nl || eq < nl)) {
		char *key = strndup(text, (size_t)(eq - text));
		char *value = nl ? strndup(eq + 1, (size_t)(nl - eq - 1)) : strdup(eq + 1);
		if (key && value) {
			r = conf_set(t->keys, *t->n, target, key, value, err, sizeof(err));
			CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
			if (r == -EINVAL)
				CHECK(err[0] != '\0');
		}
		free(key);
		free(value);
	}
	conf_free(t->keys, *t->n, target);
	free(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (file_fd < 0) {
		file_fd = memfd_create("fuzz.conf", 0);
		snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	}
	char *text = fuzz_text(data, size);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		check_table(&tables[i], data, size, text);
	free(text);
	return 0;
}
