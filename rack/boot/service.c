/* The rack's boot-config service; see service.h. */
#include "rack/boot/service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/net.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/boot/http.h"
#include "rack/rack.h"
#include "rack/session.h"
#include "rack/tftp/server.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

#define HTTP_BOOT_DEFAULT_PORT 5248

/* One GetBootConfig in flight. Owned by its RPC callback, which always
 * runs (on shutdown too, from rpc_loop_free): b == NULL means the service
 * is gone and the callback only frees it. */
struct boot_fetch {
	struct rack_boot *b;
	struct boot_fetch *prev, *next;
	uint8_t mac[6];
	int64_t started_us;
};

struct rack_boot {
	struct rack *rack;
	struct boot_table *table;
	struct boot_cache *cache;
	struct boot_fetch *fetches;
	struct tftp_hook tftp_hook;
};

int rack_boot_init(struct rack *rack)
{
	struct rack_boot *b = xcalloc(1, sizeof(*b));
	int r;

	b->rack = rack;
	r = boot_table_build(NULL, 0, &b->table, NULL);
	if (r == 0)
		r = boot_cache_new(BOOT_CACHE_ANSWERS, BOOT_FETCH_MAX, BOOT_WAITERS_MAX, &b->cache);
	if (r < 0) {
		boot_table_free(b->table);
		free(b);
		return r;
	}
	rack->boot = b;
	return 0;
}

void rack_boot_done(struct rack *rack)
{
	struct rack_boot *b = rack->boot;

	if (!b)
		return;
	/* The RPC callbacks still to come free their fetch themselves. */
	for (struct boot_fetch *f = b->fetches; f; f = f->next)
		f->b = NULL;
	boot_cache_free(b->cache);
	boot_table_free(b->table);
	free(b);
	rack->boot = NULL;
}

int rack_boot_root(const struct rack *rack, char *buf, size_t len)
{
	int r;

	if (rack->conf.boot_root[0] && rack->conf.boot_root[0] != '/') {
		log_err("boot_root '%s' must be an absolute path", rack->conf.boot_root);
		return -EINVAL;
	}
	if (rack->conf.boot_root[0])
		r = snprintf(buf, len, "%s", rack->conf.boot_root) < (int)len ? 0 : -ENAMETOOLONG;
	else
		r = fs_path_join(buf, len, rack->conf.state_dir, "boot");
	if (r >= 0)
		r = fs_mkdir_p(buf, 0755);
	if (r < 0)
		log_err("cannot create the boot root: %s", strerror(-r));
	return r;
}

/* ---- snapshots ---- */

int rack_boot_prepare(const Ironrack__V1__RackConfig *cfg, struct boot_table **ret, char *msg, size_t len)
{
	size_t n = cfg->n_boot_configs;
	struct boot_config_text *in = xcalloc(n ? n : 1, sizeof(*in));
	struct boot_table_error err;

	for (size_t i = 0; i < n; i++) {
		const Ironrack__V1__BootConfig *bc = cfg->boot_configs[i];
		in[i] = (struct boot_config_text){bc->mac, bc->purpose, bc->kernel, bc->initrd, bc->cmdline};
	}
	int r = boot_table_build(in, n, ret, &err);
	free(in);
	if (r == -EINVAL || r == -E2BIG)
		boot_table_error_format(&err, msg, len);
	else if (r < 0)
		snprintf(msg, len, "cannot build the boot table: %s", strerror(-r));
	return r;
}

void rack_boot_commit(struct rack *rack, struct boot_table *t)
{
	struct rack_boot *b = rack->boot;

	boot_table_free(b->table);
	b->table = t;
	boot_cache_expire(b->cache);
}

static int boot_part_check(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void **ret_state, char *msg,
			   size_t msg_len)
{
	struct boot_table *t = NULL;
	if (rack_boot_prepare(cfg, &t, msg, msg_len) < 0)
		return RPC_INVALID_ARGUMENT;
	*ret_state = t;
	return RPC_OK;
}

static void boot_part_commit(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void *state)
{
	rack_boot_commit(rack, state);
}

static void boot_part_abort(struct rack *rack, void *state)
{
	boot_table_free(state);
}

const struct rack_config_part rack_boot_config_part = {
    .name = "boot",
    .check = boot_part_check,
    .commit = boot_part_commit,
    .abort = boot_part_abort,
};

void rack_boot_load(struct rack *rack, const Ironrack__V1__RackConfig *cfg)
{
	struct boot_table *t;
	char msg[512];

	if (rack_boot_prepare(cfg, &t, msg, sizeof(msg)) < 0) {
		log_err("boot: stored config version %llu has invalid boot configs (%s); serving none until the "
			"region sends a new one",
			(unsigned long long)cfg->version, msg);
		return;
	}
	rack_boot_commit(rack, t);
	log_info("boot: %zu machine boot configs%s from config version %llu", boot_table_count(t),
		 boot_table_default(t) ? " and a default" : "", (unsigned long long)cfg->version);
}

/* ---- forgetting cached answers ---- */

void rack_boot_forget(struct rack *rack, const uint8_t (*macs)[6], size_t n)
{
	struct rack_boot *b = rack->boot;

	if (!b)
		return;
	if (n == 0) {
		boot_cache_expire(b->cache);
		return;
	}
	for (size_t i = 0; i < n; i++)
		boot_cache_forget(b->cache, macs[i]);
}

/* BootForget: a machine's state changed what it boots. */
static void boot_forget_run(struct rack *rack, const Ironrack__V1__RegionMessage *in)
{
	const Ironrack__V1__BootForget *bf = in->command->boot_forget;
	size_t n = bf ? bf->n_macs : 0;
	uint8_t(*macs)[6] = xcalloc(n ? n : 1, sizeof(*macs));
	size_t good = 0;

	for (size_t i = 0; i < n; i++) {
		if (mac_parse(bf->macs[i], macs[good]) == 0)
			good++;
		else
			log_warn("boot: BootForget: '%s' is not a MAC; ignored", bf->macs[i]);
	}
	/* Only bad MACs: forgetting too much is safe, too little is not. */
	rack_boot_forget(rack, macs, good);
	free(macs);
	if (good)
		log_info("boot: the region asked to forget the cached boot config answers of %zu MACs", good);
	else
		log_info("boot: the region asked to forget every cached boot config answer");
	rack_session_reply_status(rack, in->request_id, RPC_OK, "");
}

const struct rack_command rack_boot_forget_command = {IRONRACK__V1__COMMAND__COMMAND_BOOT_FORGET, boot_forget_run};

/* A BootForget sent while the session was down never arrived: nothing
 * cached from before may outlive the reconnection. */
static void boot_on_connected(struct rack *rack)
{
	if (rack->boot && boot_cache_count(rack->boot->cache))
		log_info("boot: session up: forgetting %zu cached boot config answers",
			 boot_cache_count(rack->boot->cache));
	rack_boot_forget(rack, NULL, 0);
}

const struct rack_session_hook rack_boot_session_hook = {
    .name = "boot",
    .on_connected = boot_on_connected,
    .on_disconnected = NULL,
};

/* ---- addresses ---- */

/* The port the HTTP boot server listens on: the bound one (port 0 in the
 * configuration asks the kernel), else the configured one. */
static uint16_t http_boot_port(const struct rack *rack)
{
	char host[256];
	uint16_t port = HTTP_BOOT_DEFAULT_PORT;

	if (rack->http && boot_http_port(rack->http) > 0)
		return (uint16_t)boot_http_port(rack->http);
	if (rack->conf.http_boot_listen[0] &&
	    endpoint_parse(rack->conf.http_boot_listen, HTTP_BOOT_DEFAULT_PORT, host, sizeof(host), &port) < 0)
		port = HTTP_BOOT_DEFAULT_PORT;
	return port;
}

int rack_boot_render(const struct rack *rack, enum boot_file_kind kind, const struct boot_config *c,
		     const struct sockaddr *local, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN], base[INET6_ADDRSTRLEN + 32];

	rack_addr_text(local, addr, sizeof(addr));
	snprintf(base, sizeof(base), strchr(addr, ':') ? "http://[%s]:%u" : "http://%s:%u", addr[0] ? addr : "0.0.0.0",
		 http_boot_port(rack));
	struct boot_server srv = {base};
	return boot_render(kind, c, &srv, buf, len);
}

void rack_boot_log_served(const char *proto, const char *client, const char *name, const struct boot_config *c,
			  const char *source)
{
	char mac[MAC_STRLEN] = "default";

	if (c->has_mac)
		mac_format(c->mac, mac, sizeof(mac));
	log_info("boot: %s %s '%s': %s config for %s (%s)", proto, client, name, boot_purpose_name(c->purpose), mac,
		 source);
}

/* ---- GetBootConfig ---- */

static const char *arch_of(enum boot_file_kind kind)
{
	switch (kind) {
	case BOOT_FILE_PXELINUX:
		return "bios";
	case BOOT_FILE_GRUB:
		return "uefi-x64";
	default:
		return "";
	}
}

/* Answer every waiter of a finished fetch. A snapshot applied while the
 * call was out may know the MAC by now: the table wins. */
static void fetch_answer(struct rack_boot *b, const uint8_t mac[6], const struct boot_config *answer)
{
	bool kept;
	struct boot_wait *w = boot_cache_finish(b->cache, mac, answer, &kept);
	const struct boot_config *known = boot_table_lookup(b->table, mac);
	const struct boot_config *c = known ? known : answer ? answer : boot_table_default(b->table);
	const char *source = known    ? "pushed"
			     : answer ? (kept ? "region" : "region, not cached")
			     : c      ? "default, region unavailable"
				      : "no default, region unavailable";

	while (w) {
		struct boot_wait *next = w->next;
		struct rack_boot_wait *rw = container_of(w, struct rack_boot_wait, link);
		rw->done(rw, c, source); /* may free rw */
		w = next;
	}
}

static void fetch_done(void *arg, int status, const char *message, ProtobufCMessage *msg)
{
	struct boot_fetch *f = arg;
	struct rack_boot *b = f->b;
	char mac[MAC_STRLEN];
	const char *why = NULL;

	if (!b) {
		free(f);
		return;
	}
	if (f->prev)
		f->prev->next = f->next;
	else
		b->fetches = f->next;
	if (f->next)
		f->next->prev = f->prev;
	mac_format(f->mac, mac, sizeof(mac));
	double secs = (double)(clock_mono_us() - f->started_us) / 1e6;

	struct boot_config c = {.has_mac = true};
	memcpy(c.mac, f->mac, 6);
	if (status == RPC_OK) {
		const Ironrack__V1__BootConfigResponse *resp = (const Ironrack__V1__BootConfigResponse *)msg;
		c.kernel = resp->kernel;
		c.initrd = resp->initrd;
		c.cmdline = resp->cmdline;
		if (boot_purpose_parse(resp->purpose, &c.purpose) < 0)
			why = "unknown purpose";
		else
			boot_config_validate(&c, &why); /* why = NULL when valid */
	}
	bool ok = status == RPC_OK && !why;
	const struct boot_config *def = boot_table_default(b->table);
	if (ok) {
		log_info("boot: GetBootConfig %s: %s, kernel '%s' (%.3f s)", mac, boot_purpose_name(c.purpose),
			 c.kernel ? c.kernel : "", secs);
	} else if (status == RPC_OK) {
		log_warn("boot: GetBootConfig %s: the region's answer is invalid (%s); %s", mac, why,
			 def ? "serving the default config" : "no default config to serve");
	} else {
		log_warn("boot: GetBootConfig %s failed after %.3f s: %s%s%s; %s", mac, secs, rpc_status_name(status),
			 message[0] ? ": " : "", message,
			 def ? "serving the default config" : "no default config to serve");
	}
	free(f);
	/* The cache keeps a copy; the waiters get c, which lives until we return. */
	fetch_answer(b, c.mac, ok ? &c : NULL);
}

/* Start a GetBootConfig for w->mac with w as its first waiter. false: not
 * started (logged); the caller answers with the default. */
static bool fetch_start(struct rack_boot *b, const struct boot_request *r, const struct sockaddr *local,
			struct rack_boot_wait *w)
{
	struct rack *rack = b->rack;
	char mac[MAC_STRLEN], iface[32];

	mac_format(r->mac, mac, sizeof(mac));
	if (!rack->channel) {
		log_warn("boot: GetBootConfig %s not sent: no connection to a region; %s", mac,
			 boot_table_default(b->table) ? "serving the default config" : "no default config to serve");
		return false;
	}
	int rc = boot_cache_begin(b->cache, r->mac, &w->link);
	if (rc < 0) {
		log_warn("boot: GetBootConfig %s not sent: %s; %s", mac,
			 rc == -EBUSY ? "too many calls in flight" : strerror(-rc),
			 boot_table_default(b->table) ? "serving the default config" : "no default config to serve");
		return false;
	}
	struct boot_fetch *f = xcalloc(1, sizeof(*f));
	f->b = b;
	memcpy(f->mac, r->mac, 6);
	f->started_us = clock_mono_us();
	rack_iface_of(rack, local, iface, sizeof(iface));
	Ironrack__V1__BootConfigRequest req = IRONRACK__V1__BOOT_CONFIG_REQUEST__INIT;
	req.mac = mac;
	req.arch = (char *)arch_of(r->kind);
	req.interface = iface;
	rc = rpc_unary(rack->channel, "/ironrack.v1.Region/GetBootConfig", &req.base,
		       &ironrack__v1__boot_config_response__descriptor, BOOT_FETCH_TIMEOUT_MS, fetch_done, f);
	if (rc < 0) {
		free(f);
		struct boot_wait *ws = boot_cache_finish(b->cache, r->mac, NULL, NULL);
		(void)ws; /* only w, which the caller answers */
		log_warn("boot: GetBootConfig %s not sent: %s", mac, strerror(-rc));
		return false;
	}
	f->next = b->fetches;
	if (b->fetches)
		b->fetches->prev = f;
	b->fetches = f;
	return true;
}

int rack_boot_resolve(struct rack *rack, const struct boot_request *r, const struct sockaddr *local,
		      struct rack_boot_wait *w, const struct boot_config **ret, const char **ret_source)
{
	struct rack_boot *b = rack->boot;
	const struct boot_config *c;

	if (!r->has_mac) {
		*ret = boot_table_default(b->table);
		*ret_source = "default";
		return 1;
	}
	c = boot_table_lookup(b->table, r->mac);
	if (c) {
		*ret = c;
		*ret_source = "pushed";
		return 1;
	}
	memcpy(w->mac, r->mac, 6);
	switch (boot_cache_lookup(b->cache, r->mac, &c)) {
	case BOOT_CACHE_HIT:
		*ret = c;
		*ret_source = "region, cached";
		return 1;
	case BOOT_CACHE_PENDING:
		if (boot_cache_wait(b->cache, r->mac, &w->link) == 0)
			return 0;
		break; /* too many waiting already: the default */
	case BOOT_CACHE_MISS:
		if (fetch_start(b, r, local, w))
			return 0;
		break;
	}
	*ret = boot_table_default(b->table);
	*ret_source = *ret ? "default, region not asked" : "no default, region not asked";
	return 1;
}

void rack_boot_cancel(struct rack *rack, struct rack_boot_wait *w)
{
	if (rack->boot)
		boot_cache_cancel(rack->boot->cache, w->mac, &w->link);
}

/* ---- the TFTP hook ---- */

struct tftp_boot_req {
	struct rack_boot_wait w;
	struct rack *rack;
	struct tftp_held *h;
	enum boot_file_kind kind;
};

/* Serve c rendered, or the plain file when there is none. */
static void tftp_boot_answer(struct rack *rack, struct tftp_held *h, enum boot_file_kind kind,
			     const struct boot_config *c, const char *source)
{
	char buf[BOOT_RENDER_MAX];
	int n = c ? rack_boot_render(rack, kind, c, tftp_held_local(h), buf, sizeof(buf)) : -ENOENT;

	if (n < 0) {
		if (c)
			log_err("boot: cannot render '%s' for %s: %s", tftp_held_name(h), tftp_held_peer(h),
				strerror(-n));
		tftp_held_serve_root(h);
		return;
	}
	rack_boot_log_served("tftp", tftp_held_peer(h), tftp_held_name(h), c, source);
	tftp_held_serve_data(h, buf, (size_t)n);
}

static void tftp_boot_done(struct rack_boot_wait *w, const struct boot_config *c, const char *source)
{
	struct tftp_boot_req *t = container_of(w, struct tftp_boot_req, w);

	tftp_boot_answer(t->rack, t->h, t->kind, c, source);
	free(t);
}

static int tftp_boot_take(void *arg, struct tftp_held *h)
{
	struct rack *rack = arg;
	struct boot_request r;
	const struct boot_config *c;
	const char *source;

	boot_path_classify(tftp_held_name(h), &r);
	if (r.kind == BOOT_FILE_NONE)
		return 0;
	struct tftp_boot_req *t = xcalloc(1, sizeof(*t));
	t->w.done = tftp_boot_done;
	t->rack = rack;
	t->h = h;
	t->kind = r.kind;
	if (rack_boot_resolve(rack, &r, tftp_held_local(h), &t->w, &c, &source) == 0) {
		tftp_held_set_ctx(h, t);
		return 1;
	}
	free(t);
	tftp_boot_answer(rack, h, r.kind, c, source);
	return 1;
}

static void tftp_boot_cancel(void *arg, struct tftp_held *h)
{
	struct tftp_boot_req *t = tftp_held_ctx(h);

	if (!t)
		return;
	rack_boot_cancel(t->rack, &t->w);
	free(t);
}

const struct tftp_hook *rack_boot_tftp_hook(struct rack *rack)
{
	if (!rack->boot)
		return NULL;
	rack->boot->tftp_hook = (struct tftp_hook){tftp_boot_take, tftp_boot_cancel, rack};
	return &rack->boot->tftp_hook;
}
