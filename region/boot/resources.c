/* The region's boot resources: the published list, directory scans on a
 * worker thread, and a new config version for every rack when the list
 * changes. See boot.h. */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bootres.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "common/work.h"
#include "region/boot/boot.h"
#include "region/boot/internal.h"
#include "region/rackcfg.h"
#include "region/region.h"

#define MANIFEST_MAX	(8u << 20)
#define SCAN_DEPTH_MAX	16
#define SETTLE_RESCAN_S 5 /* after a file was changing while hashed */

struct scan_job {
	struct region_bootres *rb;
	char dir[PATH_MAX];
	bool verbose;		       /* warn about skipped files (else debug) */
	struct bootres_manifest cache; /* the published list, to skip rehashing */
	struct bootres_manifest found;
	int err;	/* opening dir failed */
	bool unsettled; /* a file changed while it was hashed */
	size_t hashed;
	uint64_t hashed_bytes;
	size_t skipped;
};

static void scan_skip(struct scan_job *j, const char *name, const char *why)
{
	j->skipped++;
	log_msg(j->verbose ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, "boot resources: %s/%s not published: %s", j->dir, name,
		why);
}

static void scan_file(struct scan_job *j, int dirfd, const char *base, const char *name)
{
	const char *why = NULL;
	if (bootres_name_check(name, &why) < 0) {
		scan_skip(j, name, why);
		return;
	}
	struct bootres_entry e = {0};
	snprintf(e.name, sizeof(e.name), "%s", name);
	int fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat before, after;
	if (fd < 0 || fstat(fd, &before) < 0 || !S_ISREG(before.st_mode)) {
		scan_skip(j, name, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return;
	}
	const struct bootres_entry *old = bootres_manifest_find(&j->cache, name);
	if (old && bootres_entry_stat_matches(old, &before)) {
		close(fd);
		bootres_manifest_put(&j->found, old);
		return;
	}
	uint64_t size = 0;
	int rc = bootres_sha256_fd(fd, &j->rb->stop, e.sha256, &size);
	bootres_entry_set_stat(&e, &before);
	if (rc >= 0 && (fstat(fd, &after) < 0 || !bootres_entry_stat_matches(&e, &after) || size != e.size))
		rc = -EAGAIN;
	close(fd);
	if (rc == -EAGAIN) {
		/* Being written: publish what racks had, look again soon. */
		log_info("boot resources: %s changed while being hashed; looking again in %d s", name, SETTLE_RESCAN_S);
		j->unsettled = true;
		if (old)
			bootres_manifest_put(&j->found, old);
		return;
	}
	if (rc < 0) {
		if (rc != -ECANCELED)
			scan_skip(j, name, strerror(-rc));
		return;
	}
	j->hashed++;
	j->hashed_bytes += size;
	if (bootres_manifest_put(&j->found, &e) < 0)
		scan_skip(j, name, "more than 4096 files");
}

/* name holds the directory's path relative to the root (len bytes, "" for
 * the root itself); entries are appended to it in place. Takes fd. */
static void scan_dir(struct scan_job *j, int fd, char *name, size_t len, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL && !atomic_load(&j->rb->stop)) {
		if (de->d_name[0] == '.')
			continue; /* ".", "..", hidden files and temporaries */
		size_t n = strlen(de->d_name);
		if (len + n + 1 > BOOTRES_NAME_MAX) {
			scan_skip(j, de->d_name, "path too long");
			continue;
		}
		if (len)
			name[len] = '/';
		memcpy(name + len + (len ? 1 : 0), de->d_name, n + 1);
		size_t sublen = len + (len ? 1 : 0) + n;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* removed since readdir */
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (depth >= SCAN_DEPTH_MAX)
				scan_skip(j, name, "directories nested too deep");
			if (sub >= 0 && depth < SCAN_DEPTH_MAX)
				scan_dir(j, sub, name, sublen, depth + 1);
			else if (sub >= 0)
				close(sub);
		} else if (S_ISLNK(st.st_mode)) {
			scan_skip(j, name, "symbolic links are not published (copy or hard-link the file instead)");
		} else if (S_ISREG(st.st_mode)) {
			scan_file(j, dirfd(d), de->d_name, name);
		}
		name[len] = '\0';
	}
	closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct bootres_entry *)a)->name, ((const struct bootres_entry *)b)->name);
}

static void scan_run(void *arg)
{
	struct scan_job *j = arg;
	char name[BOOTRES_NAME_MAX + 2] = "";
	int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		j->err = -errno;
		return;
	}
	scan_dir(j, fd, name, 0, 0);
	if (j->found.n > 1)
		qsort(j->found.e, j->found.n, sizeof(j->found.e[0]), cmp_entry);
}

/* ---- the published list ---- */

static void list_build_pb(struct region_bootres *rb)
{
	for (size_t i = 0; rb->urls && rb->urls[i]; i++)
		free(rb->urls[i]);
	free(rb->urls);
	free(rb->pb);
	free(rb->pb_ptrs);
	size_t n = rb->list.n;
	rb->pb = xcalloc(n + 1, sizeof(*rb->pb));
	rb->pb_ptrs = xcalloc(n + 1, sizeof(*rb->pb_ptrs));
	rb->urls = xcalloc(n + 1, sizeof(*rb->urls));
	for (size_t i = 0; i < n; i++) {
		struct bootres_entry *e = &rb->list.e[i];
		rb->urls[i] = xasprintf("%s" BOOTRES_URL_PATH "%s", rb->url_base, e->name);
		ironrack__v1__boot_resource__init(&rb->pb[i]);
		rb->pb[i].name = e->name;
		rb->pb[i].sha256 = e->sha256;
		rb->pb[i].size = e->size;
		rb->pb[i].url = rb->urls[i];
		rb->pb_ptrs[i] = &rb->pb[i];
	}
}

static void list_save(struct region_bootres *rb)
{
	char *text = bootres_manifest_format(&rb->list);
	int rc = fs_write_atomic(rb->manifest_path, text, strlen(text), 0600);
	if (rc < 0)
		log_warn("boot resources: cannot write %s: %s", rb->manifest_path, strerror(-rc));
	free(text);
}

/* What racks see: names, sizes, hashes and where to fetch them. */
static bool list_differs(const struct bootres_manifest *a, const struct bootres_manifest *b)
{
	/* Where nothing is published, a new URL changes nothing for racks. */
	if (a->n != b->n || (a->n && strcmp(a->origin, b->origin) != 0))
		return true;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->e[i].name, b->e[i].name) || a->e[i].size != b->e[i].size ||
		    strcmp(a->e[i].sha256, b->e[i].sha256))
			return true;
	}
	return false;
}

/* Anything a scan would find different, including the hash cache's stat data. */
static bool list_identical(const struct bootres_manifest *a, const struct bootres_manifest *b)
{
	if (list_differs(a, b) || strcmp(a->origin, b->origin) != 0)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (a->e[i].mtime_ns != b->e[i].mtime_ns || a->e[i].ctime_ns != b->e[i].ctime_ns ||
		    a->e[i].ino != b->e[i].ino)
			return false;
	}
	return true;
}

static void list_publish(struct region_bootres *rb, struct scan_job *j)
{
	snprintf(j->found.origin, sizeof(j->found.origin), "%s", rb->url_base);
	if (list_identical(&rb->list, &j->found))
		return;
	bool differs = list_differs(&rb->list, &j->found);
	if (differs) {
		size_t added = 0, changed = 0, removed = 0;
		uint64_t bytes = 0;
		for (size_t i = 0; i < j->found.n; i++) {
			const struct bootres_entry *o = bootres_manifest_find(&rb->list, j->found.e[i].name);
			added += !o;
			changed += o && strcmp(o->sha256, j->found.e[i].sha256) != 0;
			bytes += j->found.e[i].size;
		}
		for (size_t i = 0; i < rb->list.n; i++)
			removed += !bootres_manifest_find(&j->found, rb->list.e[i].name);
		log_info("boot resources: publishing %zu files (%llu bytes) from %s: %zu new, %zu changed, %zu gone",
			 j->found.n, (unsigned long long)bytes, rb->dir, added, changed, removed);
	}
	bootres_manifest_done(&rb->list);
	rb->list = j->found;
	memset(&j->found, 0, sizeof(j->found));
	list_build_pb(rb);
	list_save(rb); /* also when only sizes/times changed: the hash cache */
	/* Every rack gets a new config version (same settings, new list), so
	 * racks that are away now get it when they return. */
	if (differs)
		region_racks_config_renew(rb->r, "boot resources");
}

/* ---- scans ---- */

static void scan_start(struct region_bootres *rb, bool verbose);

static void scan_done(void *arg, bool cancelled)
{
	struct scan_job *j = arg;
	struct region_bootres *rb = j->rb;
	if (!cancelled) {
		rb->scanning = false;
		if (j->err < 0)
			log_warn("boot resources: cannot read %s: %s; still publishing the last list (%zu files)",
				 rb->dir, strerror(-j->err), rb->list.n);
		else
			list_publish(rb, j);
		if (j->hashed)
			log_info("boot resources: hashed %zu files (%llu bytes)", j->hashed,
				 (unsigned long long)j->hashed_bytes);
		if (j->unsettled) {
			struct timeval tv = {SETTLE_RESCAN_S, 0};
			evtimer_add(rb->soon, &tv);
		}
		if (rb->scan_again) {
			rb->scan_again = false;
			scan_start(rb, true);
		}
	}
	bootres_manifest_done(&j->cache);
	bootres_manifest_done(&j->found);
	free(j);
}

static void scan_start(struct region_bootres *rb, bool verbose)
{
	if (rb->scanning) {
		rb->scan_again = true;
		return;
	}
	struct scan_job *j = xcalloc(1, sizeof(*j));
	j->rb = rb;
	j->verbose = verbose;
	snprintf(j->dir, sizeof(j->dir), "%s", rb->dir);
	for (size_t i = 0; i < rb->list.n; i++)
		bootres_manifest_put(&j->cache, &rb->list.e[i]);
	rb->scanning = true;
	work_submit(rb->pool, scan_run, scan_done, j);
}

static void scan_timer(evutil_socket_t fd, short what, void *arg)
{
	scan_start(arg, false);
}

void region_bootres_rescan(struct region *r)
{
	if (!r->bootres)
		return;
	log_info("boot resources: rescanning %s", r->bootres->dir);
	scan_start(r->bootres, true);
}

int region_bootres_rackcfg_fill(struct region *r, const char *rack_id, const struct rack_config_row *row,
				Ironrack__V1__RackConfig *cfg)
{
	/* The region's current list, not part of the stored snapshot; a
	 * change of list stores a new version per rack. */
	cfg->n_boot_resources = region_bootres_snapshot(r, &cfg->boot_resources);
	return 0;
}

size_t region_bootres_snapshot(struct region *r, Ironrack__V1__BootResource ***ret)
{
	if (!r->bootres) {
		*ret = NULL;
		return 0;
	}
	*ret = r->bootres->pb_ptrs;
	return r->bootres->list.n;
}

/* ---- start and stop ---- */

static bool host_is_wildcard(const char *h)
{
	return !h[0] || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "*") == 0;
}

/* boot_resources_url, or https://<grpc_listen host, else region name>:PORT */
static int url_base_set(struct region_bootres *rb, unsigned port)
{
	struct region *r = rb->r;
	const char *url = r->conf.boot_resources_url;
	if (url[0]) {
		if (strncmp(url, "https://", 8) != 0 || strlen(url) >= sizeof(rb->url_base)) {
			log_err("boot_resources_url '%s' must be an https:// URL", url);
			return -EINVAL;
		}
		snprintf(rb->url_base, sizeof(rb->url_base), "%s", url);
		size_t n = strlen(rb->url_base);
		while (n > 8 && rb->url_base[n - 1] == '/')
			rb->url_base[--n] = '\0';
		return 0;
	}
	char host[256];
	uint16_t p;
	const char *h = r->name;
	if (endpoint_parse(r->conf.grpc_listen, 5250, host, sizeof(host), &p) == 0 && !host_is_wildcard(host))
		h = host;
	snprintf(rb->url_base, sizeof(rb->url_base), strchr(h, ':') ? "https://[%s]:%u" : "https://%s:%u", h, port);
	return 0;
}

/* The last published list, sorted by name. */
static void list_load(struct region_bootres *rb)
{
	char *text = NULL;
	size_t len = 0, bad = 0;
	int rc = fs_read_all(rb->manifest_path, MANIFEST_MAX, &text, &len);
	if (rc == -ENOENT)
		return;
	if (rc < 0) {
		log_warn("boot resources: cannot read %s: %s; rescanning everything", rb->manifest_path, strerror(-rc));
		return;
	}
	bootres_manifest_parse(text, len, &rb->list, &bad);
	free(text);
	if (bad)
		log_warn("boot resources: %s: %zu unreadable lines ignored", rb->manifest_path, bad);
	if (rb->list.n > 1)
		qsort(rb->list.e, rb->list.n, sizeof(rb->list.e[0]), cmp_entry);
}

static int dirs_set(struct region_bootres *rb)
{
	struct region *r = rb->r;
	const char *dir = r->conf.boot_resources_dir;
	int rc;
	if (dir[0] && dir[0] != '/') {
		log_err("boot_resources_dir '%s' must be an absolute path", dir);
		return -EINVAL;
	}
	if (dir[0])
		rc = snprintf(rb->dir, sizeof(rb->dir), "%s", dir) < (int)sizeof(rb->dir) ? 0 : -ENAMETOOLONG;
	else
		rc = fs_path_join(rb->dir, sizeof(rb->dir), r->conf.state_dir, "boot-resources");
	if (rc >= 0)
		rc = fs_path_join(rb->manifest_path, sizeof(rb->manifest_path), r->conf.state_dir,
				  "boot-resources.manifest");
	if (rc >= 0)
		rc = fs_mkdir_p(rb->dir, 0755);
	if (rc < 0)
		log_err("boot resources: cannot create %s: %s", rb->dir, strerror(-rc));
	return rc;
}

int region_bootres_start(struct region *r)
{
	struct region_bootres *rb = xcalloc(1, sizeof(*rb));
	rb->r = r;
	r->bootres = rb;
	unsigned port = 5241;
	int rc = dirs_set(rb);
	if (rc >= 0 && r->conf.boot_resources_listen[0])
		rc = bootres_server_new(rb, r->conf.boot_resources_listen, &rb->srv, &port);
	if (rc >= 0)
		rc = url_base_set(rb, port);
	if (rc >= 0)
		rc = work_pool_new(r->base, 1, &rb->pool);
	if (rc < 0) {
		region_bootres_stop(r);
		return rc;
	}
	list_load(rb);
	/* The list racks were last told, at today's URL; the first scan
	 * compares origins too, so a new URL reaches the racks as a change. */
	list_build_pb(rb);
	rb->soon = evtimer_new(r->base, scan_timer, rb);
	if (r->conf.boot_resources_rescan > 0) {
		struct timeval tv = {r->conf.boot_resources_rescan, 0};
		rb->timer = event_new(r->base, -1, EV_PERSIST, scan_timer, rb);
		event_add(rb->timer, &tv);
	}
	log_info("boot resources: %zu published from %s at %s" BOOTRES_URL_PATH "%s", rb->list.n, rb->dir, rb->url_base,
		 rb->srv ? "" : " (served elsewhere: boot_resources_listen is empty)");
	scan_start(rb, true);
	return 0;
}

void region_bootres_stop(struct region *r)
{
	struct region_bootres *rb = r->bootres;
	if (!rb)
		return;
	atomic_store(&rb->stop, true);
	bootres_server_free(rb->srv);
	work_pool_free(rb->pool);
	if (rb->timer)
		event_free(rb->timer);
	if (rb->soon)
		event_free(rb->soon);
	for (size_t i = 0; rb->urls && rb->urls[i]; i++)
		free(rb->urls[i]);
	free(rb->urls);
	free(rb->pb);
	free(rb->pb_ptrs);
	bootres_manifest_done(&rb->list);
	free(rb);
	r->bootres = NULL;
}
