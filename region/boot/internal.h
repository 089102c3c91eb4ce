/* region/boot internals shared by resources.c (list, scans, publishing)
 * and serve.c (the HTTPS listener). Loop thread only, unless noted. */
#pragma once

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/bootres.h"
#include "ironrack/v1/region.pb-c.h"

struct event;
struct region;
struct work_pool;
struct bootres_server;

#define BOOTRES_URL_PATH "/boot-resources/"

struct region_bootres {
	struct region *r;
	char dir[PATH_MAX];	      /* boot_resources_dir */
	char manifest_path[PATH_MAX]; /* state_dir/boot-resources.manifest */
	char url_base[512];	      /* "https://host:port", no trailing '/' */
	struct work_pool *pool;	      /* one thread: scans */
	atomic_bool stop;	      /* read by the scan thread */

	/* The published list (origin = url_base) and its protobuf form. */
	struct bootres_manifest list;
	Ironrack__V1__BootResource *pb;
	Ironrack__V1__BootResource **pb_ptrs;
	char **urls;

	bool scanning;
	bool scan_again;     /* a rescan was asked for while one ran */
	struct event *timer; /* periodic rescan; NULL when disabled */
	struct event *soon;  /* a quick rescan after a file was changing */

	struct bootres_server *srv; /* NULL when boot_resources_listen is empty */
};

/* serve.c */
int bootres_server_new(struct region_bootres *rb, const char *listen, struct bootres_server **ret, unsigned *ret_port);
void bootres_server_free(struct bootres_server *s);
