/* The rack's boot-resource cache; see resources.h. The loop side keeps the
 * wanted list and starts syncs; a sync runs on the module's one worker
 * thread and alone owns the manifest file while it runs. */
#include "rack/boot/resources.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bootres.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "common/work.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/boot/fetch.h"
#include "rack/boot/loaders.h"
#include "rack/rack.h"
#include "rack/session.h"

#define MANIFEST_MAX  (8u << 20)
#define RETRY_FIRST_S 5
#define RETRY_MAX_S   300

struct res_list {
	struct bootres_entry *e;
	char **url;
	size_t n;
};

struct sync_job {
	struct rack_resources *rr; /* loop side only (sync_done) */
	atomic_bool cancel;
	char root[PATH_MAX];
	char manifest_path[PATH_MAX];
	struct res_list list;
	struct boot_fetch_tls tls; /* copies, owned */
	size_t kept, fetched, removed, failed, skipped;
	uint64_t bytes;
};

struct rack_resources {
	struct rack *rack;
	char root[PATH_MAX];
	char manifest_path[PATH_MAX];
	struct work_pool *pool;
	struct res_list wanted;
	bool have_list;		  /* false until a snapshot said what to hold */
	struct sync_job *running; /* NULL when idle */
	bool again;		  /* a newer list came while running */
	struct event *retry;
	unsigned backoff_s;
};

/* ---- lists ---- */

static void res_list_free(struct res_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->url[i]);
	free(l->url);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static void res_list_alloc(struct res_list *l, size_t n)
{
	l->n = n;
	l->e = xcalloc(n ? n : 1, sizeof(*l->e));
	l->url = xcalloc(n ? n : 1, sizeof(*l->url));
}

static int res_list_from_pb(const Ironrack__V1__RackConfig *cfg, struct res_list *ret, char *msg, size_t len)
{
	size_t n = cfg->n_boot_resources;
	if (n > BOOTRES_MAX) {
		snprintf(msg, len, "%zu boot resources listed, at most %d", n, BOOTRES_MAX);
		return -EINVAL;
	}
	struct res_list l;
	res_list_alloc(&l, n);
	for (size_t i = 0; i < n; i++) {
		const Ironrack__V1__BootResource *b = cfg->boot_resources[i];
		const char *why = NULL;
		if (bootres_name_check(b->name, &why) < 0) {
			snprintf(msg, len, "boot resource '%.80s': %s", b->name, why);
		} else if (!bootres_sha256_valid(b->sha256)) {
			snprintf(msg, len, "boot resource %s: sha256 is not 64 lowercase hex digits", b->name);
		} else if (strncmp(b->url, "https://", 8) != 0) {
			snprintf(msg, len, "boot resource %s: url is not https://", b->name);
		} else {
			snprintf(l.e[i].name, sizeof(l.e[i].name), "%s", b->name);
			snprintf(l.e[i].sha256, sizeof(l.e[i].sha256), "%s", b->sha256);
			l.e[i].size = b->size;
			l.url[i] = xstrdup(b->url);
			continue;
		}
		res_list_free(&l);
		return -EINVAL;
	}
	struct bootres_diff d;
	if (bootres_diff(l.e, l.n, NULL, 0, &d) < 0) {
		snprintf(msg, len, "a boot resource is listed twice");
		res_list_free(&l);
		return -EINVAL;
	}
	bootres_diff_done(&d);
	*ret = l;
	return 0;
}

static bool res_list_equal(const struct res_list *a, const struct res_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->e[i].name, b->e[i].name) || strcmp(a->e[i].sha256, b->e[i].sha256) ||
		    a->e[i].size != b->e[i].size || strcmp(a->url[i], b->url[i]))
			return false;
	}
	return true;
}

static void res_list_copy(const struct res_list *src, struct res_list *dst)
{
	res_list_alloc(dst, src->n);
	for (size_t i = 0; i < src->n; i++) {
		dst->e[i] = src->e[i];
		dst->url[i] = xstrdup(src->url[i]);
	}
}

/* ---- the sync, on the worker thread ---- */

static void manifest_load(struct sync_job *j, struct bootres_manifest *m)
{
	char *text = NULL;
	size_t len = 0, bad = 0;
	int rc = fs_read_all(j->manifest_path, MANIFEST_MAX, &text, &len);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_warn("boot resources: cannot read %s: %s", j->manifest_path, strerror(-rc));
		return;
	}
	bootres_manifest_parse(text, len, m, &bad);
	free(text);
	if (bad)
		log_warn("boot resources: %s: %zu unreadable lines ignored", j->manifest_path, bad);
	if (m->n && strcmp(m->origin, j->root) != 0) {
		/* Its files are in another directory: none of ours to delete here. */
		log_warn("boot resources: %s describes boot root '%s', not %s: starting afresh", j->manifest_path,
			 m->origin, j->root);
		m->n = 0;
	}
}

static void manifest_save(struct sync_job *j, struct bootres_manifest *m)
{
	snprintf(m->origin, sizeof(m->origin), "%s", j->root);
	char *text = bootres_manifest_format(m);
	int rc = fs_write_atomic(j->manifest_path, text, strlen(text), 0600);
	if (rc < 0)
		log_warn("boot resources: cannot write %s: %s", j->manifest_path, strerror(-rc));
	free(text);
}

/* Is e's file still the one that was hashed? */
static bool entry_on_disk(int rootfd, const struct bootres_entry *e)
{
	const char *base;
	int dfd = bootres_dir_open(rootfd, e->name, false, &base);
	if (dfd < 0)
		return false;
	struct stat st;
	bool ok = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && bootres_entry_stat_matches(e, &st);
	close(dfd);
	return ok;
}

/* Delete a file no longer listed, and directories it leaves empty. */
static void sync_remove(struct sync_job *j, int rootfd, struct bootres_manifest *m, const char *name)
{
	char path[BOOTRES_NAME_MAX + 1];
	const char *base;
	snprintf(path, sizeof(path), "%s", name);
	if (!rack_loader_name_reserved(name)) {
		int dfd = bootres_dir_open(rootfd, name, false, &base);
		struct stat st;
		if (dfd >= 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    unlinkat(dfd, base, 0) == 0)
			log_info("boot resources: removed %s (no longer listed)", name);
		if (dfd >= 0)
			close(dfd);
		for (char *slash = strrchr(path, '/'); slash; slash = strrchr(path, '/')) {
			*slash = '\0';
			dfd = bootres_dir_open(rootfd, path, false, &base);
			int gone = dfd >= 0 && unlinkat(dfd, base, AT_REMOVEDIR) == 0;
			if (dfd >= 0)
				close(dfd);
			if (!gone)
				break;
		}
	}
	bootres_manifest_remove(m, name);
	j->removed++;
}

/* The file is already there with the listed content (hashed to be sure). */
static bool sync_adopt(struct sync_job *j, int dfd, const char *base, const struct bootres_entry *w,
		       struct bootres_manifest *m)
{
	struct stat st;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != w->size)
		return false;
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char sha[BOOTRES_SHA256_HEX];
	bool same = fd >= 0 && bootres_sha256_fd(fd, &j->cancel, sha, NULL) == 0 && strcmp(sha, w->sha256) == 0 &&
		    fstat(fd, &st) == 0;
	if (fd >= 0)
		close(fd);
	if (same) {
		struct bootres_entry e = *w;
		bootres_entry_set_stat(&e, &st);
		bootres_manifest_put(m, &e);
		log_info("boot resources: %s already present, sha256 verified", w->name);
	}
	return same;
}

static void sync_fetch(struct sync_job *j, int rootfd, struct bootres_manifest *m, size_t idx)
{
	const struct bootres_entry *w = &j->list.e[idx];
	if (rack_loader_name_reserved(w->name)) {
		log_warn("boot resources: %s is the name of a boot loader: not fetched", w->name);
		j->skipped++;
		return;
	}
	const char *base;
	int dfd = bootres_dir_open(rootfd, w->name, true, &base);
	if (dfd < 0) {
		log_err("boot resources: cannot make a place for %s in %s: %s", w->name, j->root, strerror(-dfd));
		j->failed++;
		return;
	}
	if (sync_adopt(j, dfd, base, w, m)) {
		close(dfd);
		manifest_save(j, m);
		j->kept++;
		return;
	}
	struct boot_fetch_result res;
	int rc = boot_fetch(dfd, base, w, j->list.url[idx], &j->tls, &j->cancel, &res);
	close(dfd);
	if (rc == -ECANCELED)
		return;
	if (rc < 0) {
		j->failed++;
		if (rc == -EBADMSG)
			log_err("boot resources: %s from %s rejected, not installed: %s", w->name, j->list.url[idx],
				res.error);
		else
			log_warn("boot resources: cannot fetch %s from %s: %s", w->name, j->list.url[idx], res.error);
		return;
	}
	struct bootres_entry e = *w;
	bootres_entry_set_stat(&e, &res.st);
	bootres_manifest_put(m, &e);
	manifest_save(j, m);
	j->fetched++;
	j->bytes += res.received;
	char resumed[64] = "";
	if (res.resumed_at)
		snprintf(resumed, sizeof(resumed), " (resumed at %llu)", (unsigned long long)res.resumed_at);
	log_info("boot resources: fetched %s: %llu bytes in %.2f s%s, sha256 verified", w->name,
		 (unsigned long long)res.received, res.seconds, resumed);
}

static void sync_run(void *arg)
{
	struct sync_job *j = arg;
	int rootfd = open(j->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		log_err("boot resources: cannot open the boot root %s: %s", j->root, strerror(errno));
		j->failed = j->list.n;
		return;
	}
	struct bootres_manifest m = {0};
	manifest_load(j, &m);
	/* What we hold: the manifest, minus files changed behind our back. */
	struct bootres_entry *have = xmalloc((m.n ? m.n : 1) * sizeof(*have));
	for (size_t i = 0; i < m.n; i++) {
		have[i] = m.e[i];
		if (!entry_on_disk(rootfd, &have[i]))
			have[i].sha256[0] = '\0';
	}
	struct bootres_diff d;
	if (bootres_diff(j->list.e, j->list.n, have, m.n, &d) == 0) {
		j->kept = d.n_keep;
		for (size_t i = 0; i < d.n_remove && !atomic_load(&j->cancel); i++)
			sync_remove(j, rootfd, &m, have[d.remove[i]].name);
		if (d.n_remove)
			manifest_save(j, &m);
		for (size_t i = 0; i < d.n_fetch && !atomic_load(&j->cancel); i++)
			sync_fetch(j, rootfd, &m, d.fetch[i]);
		bootres_diff_done(&d);
	}
	free(have);
	bootres_manifest_done(&m);
	close(rootfd);
}

/* ---- the loop side ---- */

static void job_free(struct sync_job *j)
{
	res_list_free(&j->list);
	free((char *)j->tls.ca_pem);
	free((char *)j->tls.cert_pem);
	free((char *)j->tls.key_pem);
	free(j);
}

static void sync_start(struct rack_resources *rr);

static void sync_done(void *arg, bool cancelled)
{
	struct sync_job *j = arg;
	struct rack_resources *rr = j->rr;
	if (cancelled) {
		job_free(j);
		return;
	}
	rr->running = NULL;
	if (!atomic_load(&j->cancel) && j->failed) {
		log_warn("boot resources: %zu of %zu listed files missing (%zu present, %zu fetched); serving what is "
			 "on disk, retrying in %u s",
			 j->failed, j->list.n, j->kept, j->fetched, rr->backoff_s);
		struct timeval tv = {rr->backoff_s, 0};
		evtimer_add(rr->retry, &tv);
		rr->backoff_s = rr->backoff_s * 2 > RETRY_MAX_S ? RETRY_MAX_S : rr->backoff_s * 2;
	} else if (!atomic_load(&j->cancel)) {
		rr->backoff_s = RETRY_FIRST_S;
		log_info("boot resources: in sync, %zu listed: %zu present, %zu fetched (%llu bytes), %zu removed%s",
			 j->list.n, j->kept, j->fetched, (unsigned long long)j->bytes, j->removed,
			 j->skipped ? ", some skipped" : "");
	}
	job_free(j);
	if (rr->again) {
		rr->again = false;
		sync_start(rr);
	}
}

static void sync_start(struct rack_resources *rr)
{
	struct rack *rack = rr->rack;
	struct sync_job *j = xcalloc(1, sizeof(*j));
	j->rr = rr;
	snprintf(j->root, sizeof(j->root), "%s", rr->root);
	snprintf(j->manifest_path, sizeof(j->manifest_path), "%s", rr->manifest_path);
	res_list_copy(&rr->wanted, &j->list);
	j->tls.ca_pem = xstrdup(rack->id.ca ? rack->id.ca : "");
	j->tls.cert_pem = xstrdup(rack->id.cert ? rack->id.cert : "");
	j->tls.key_pem = xstrdup(rack->id.key ? rack->id.key : "");
	evtimer_del(rr->retry);
	rr->running = j;
	work_submit(rr->pool, sync_run, sync_done, j);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rack_resources *rr = arg;
	if (!rr->running)
		sync_start(rr);
}

int rack_resources_check(const Ironrack__V1__RackConfig *cfg, char *msg, size_t len)
{
	struct res_list l;
	int rc = res_list_from_pb(cfg, &l, msg, len);
	if (rc >= 0)
		res_list_free(&l);
	return rc;
}

void rack_resources_apply(struct rack *rack, const Ironrack__V1__RackConfig *cfg)
{
	struct rack_resources *rr = rack->resources;
	char msg[256];
	struct res_list l;
	if (!rr)
		return;
	if (res_list_from_pb(cfg, &l, msg, sizeof(msg)) < 0) {
		log_err("boot resources: %s; keeping the files as they are", msg);
		return;
	}
	bool same = rr->have_list && res_list_equal(&rr->wanted, &l);
	res_list_free(&rr->wanted);
	rr->wanted = l;
	rr->have_list = true;
	if (!same)
		rr->backoff_s = RETRY_FIRST_S;
	if (rr->running) {
		if (!same) {
			atomic_store(&rr->running->cancel, true);
			rr->again = true;
		}
		return;
	}
	sync_start(rr);
}

static int resources_part_check(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void **ret_state, char *msg,
				size_t msg_len)
{
	return rack_resources_check(cfg, msg, msg_len) < 0 ? RPC_INVALID_ARGUMENT : RPC_OK;
}

static void resources_part_commit(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void *state)
{
	rack_resources_apply(rack, cfg); /* fetches on a worker thread */
}

const struct rack_config_part rack_resources_config_part = {
    .name = "boot-resources",
    .check = resources_part_check,
    .commit = resources_part_commit,
};

int rack_resources_start(struct rack *rack, const char *boot_root)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct rack_resources *rr = xcalloc(1, sizeof(*rr));
	rr->rack = rack;
	rr->backoff_s = RETRY_FIRST_S;
	snprintf(rr->root, sizeof(rr->root), "%s", boot_root);
	int rc =
	    fs_path_join(rr->manifest_path, sizeof(rr->manifest_path), rack->conf.state_dir, "boot-resources.manifest");
	if (rc >= 0)
		rc = work_pool_new(rack->base, 1, &rr->pool);
	if (rc < 0) {
		log_err("boot resources: cannot start: %s", strerror(-rc));
		free(rr);
		return rc;
	}
	rr->retry = evtimer_new(rack->base, retry_cb, rr);
	rack->resources = rr;
	Ironrack__V1__RackConfig *cfg = NULL;
	if (rack_store_read(rack, &cfg) == 0) {
		rack_resources_apply(rack, cfg);
		ironrack__v1__rack_config__free_unpacked(cfg, NULL);
	}
	return 0;
}

void rack_resources_stop(struct rack *rack)
{
	struct rack_resources *rr = rack->resources;
	if (!rr)
		return;
	if (rr->running)
		atomic_store(&rr->running->cancel, true);
	work_pool_free(rr->pool); /* waits for the sync; its done() frees it */
	event_free(rr->retry);
	res_list_free(&rr->wanted);
	free(rr);
	rack->resources = NULL;
	curl_global_cleanup();
}
