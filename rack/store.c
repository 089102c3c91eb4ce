/* The rack's copy of its configuration: state_dir/config/current.pb, the
 * serialized ironrack.v1.RackConfig last acknowledged to the region. It is
 * written atomically (temp, fsync, rename, fsync dir) before the ack, so a
 * rack killed at any moment restarts with the version it acknowledged. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/boot/service.h"
#include "rack/rack.h"

#define STORE_MAX (64u << 20)

static int store_path(const struct rack *rack, char *buf, size_t len, bool dir)
{
	int n = snprintf(buf, len, dir ? "%s/config" : "%s/config/current.pb", rack->conf.state_dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int rack_store_load(struct rack *rack)
{
	char path[PATH_MAX], *data = NULL;
	size_t len = 0;
	int rc = store_path(rack, path, sizeof(path), false);
	if (rc >= 0)
		rc = fs_read_all(path, STORE_MAX, &data, &len);
	if (rc == -ENOENT) {
		rack->config_version = 0;
		return 0;
	}
	if (rc < 0) {
		log_err("cannot read stored config %s: %s", path, strerror(-rc));
		return rc;
	}
	Ironrack__V1__RackConfig *cfg = ironrack__v1__rack_config__unpack(NULL, len, (const uint8_t *)data);
	free(data);
	if (!cfg) {
		log_err("stored config %s does not decode; waiting for the region to send one", path);
		rack->config_version = 0;
		return -EBADMSG;
	}
	rack->config_version = cfg->version;
	rack_boot_load(rack, cfg);
	log_info("loaded config version %llu (%zu settings) from %s", (unsigned long long)cfg->version, cfg->n_settings,
		 path);
	ironrack__v1__rack_config__free_unpacked(cfg, NULL);
	return 0;
}

int rack_store_save(struct rack *rack, uint64_t version, const uint8_t *data, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int rc = store_path(rack, dir, sizeof(dir), true);
	if (rc >= 0)
		rc = store_path(rack, path, sizeof(path), false);
	if (rc >= 0)
		rc = fs_mkdir_p(dir, 0700);
	if (rc >= 0)
		rc = fs_write_atomic(path, data, len, 0600);
	if (rc < 0)
		return rc;
	rack->config_version = version;
	return 0;
}

int rack_store_read(const struct rack *rack, Ironrack__V1__RackConfig **ret)
{
	char path[PATH_MAX], *data = NULL;
	size_t len = 0;
	int rc = store_path(rack, path, sizeof(path), false);
	if (rc >= 0)
		rc = fs_read_all(path, STORE_MAX, &data, &len);
	if (rc < 0)
		return rc;
	*ret = ironrack__v1__rack_config__unpack(NULL, len, (const uint8_t *)data);
	free(data);
	return *ret ? 0 : -EBADMSG;
}
