/* The NoCloud seed of one machine as the region renders it from IPAM
 * (nocloud_load + nocloud_build), for tests/system/test_nocloud.py:
 *
 *   nocloud_seed DSN MACHINE_ID HOSTNAME INSTANCE_ID [SSH_KEY...] < USER_DATA
 *
 * prints {"meta-data": ..., "user-data": ..., "network-config": ...} as
 * JSON; a refusal or a database error goes to stderr with exit status 1. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db.h"
#include "region/machine/nocloud.h"

static char *read_all(FILE *f)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2)
			buf = xrealloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: nocloud_seed DSN MACHINE_ID HOSTNAME INSTANCE_ID [SSH_KEY...] < USER_DATA\n");
		return 2;
	}
	char err[256];
	struct db *db;
	if (db_connect(argv[1], 10, &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "nocloud_seed: %s\n", err);
		return 1;
	}
	struct nocloud_model m = {0};
	snprintf(m.hostname, sizeof(m.hostname), "%s", argv[3]);
	snprintf(m.instance_id, sizeof(m.instance_id), "%s", argv[4]);
	char *user_data = read_all(stdin);
	m.user_data = user_data;
	m.ssh_keys = (const char *const *)(argv + 5);
	m.n_ssh_keys = (size_t)(argc - 5);
	int r = nocloud_load(db, strtoll(argv[2], NULL, 10), &m);
	if (r < 0) {
		fprintf(stderr, "nocloud_seed: load: %s %s\n", strerror(-r), db_last_error(db));
		db_close(db);
		return 1;
	}
	db_close(db);
	struct nocloud_seed s;
	r = nocloud_build(&m, &s, err, sizeof(err));
	nocloud_model_free(&m);
	free(user_data);
	if (r < 0) {
		fprintf(stderr, "nocloud_seed: %s\n", err);
		return 1;
	}
	json_t *o = json_pack("{s:s, s:s, s:s}", "meta-data", s.meta_data, "user-data", s.user_data, "network-config",
			      s.network_config);
	char *text = json_dumps(o, JSON_INDENT(1));
	puts(text);
	free(text);
	json_decref(o);
	nocloud_seed_free(&s);
	return 0;
}
