/* The RackConfig composed from its parts, and the config operations on
 * racks. Every database step is a job (region/rpc/dbjob.h); what reaches a
 * rack is composed and sent from the job's done callback, on the loop. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "region/boot/boot.h"
#include "region/db/db.h"
#include "region/dhcp/dhcp.h"
#include "region/rackcfg.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/session.h"

#define OFFER_TIMEOUT_MS 30000
#define ERR_LEN		 256

/* ---- the parts ---- */

/* settings_json: a JSON object of strings, validated by the API before it
 * was stored. */
static int part_settings_fill(struct region *r, const char *rack_id, const struct rack_config_row *row,
			      Ironrack__V1__RackConfig *cfg)
{
	json_error_t jerr;
	json_t *obj = json_loads(row->settings_json ? row->settings_json : "{}", 0, &jerr);
	if (!json_is_object(obj)) {
		json_decref(obj);
		log_err("rack %s: config version %llu: settings are not a JSON object; not sent", rack_id,
			(unsigned long long)row->version);
		return -EINVAL;
	}
	size_t n = json_object_size(obj), i = 0;
	if (n == 0) { /* no settings: nothing to allocate */
		json_decref(obj);
		return 0;
	}
	Ironrack__V1__RackConfig__SettingsEntry *entries = xcalloc(n, sizeof(*entries));
	cfg->settings = xcalloc(n, sizeof(*cfg->settings));
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val)
	{
		ironrack__v1__rack_config__settings_entry__init(&entries[i]);
		entries[i].key = xstrdup(key);
		entries[i].value = xstrdup(json_is_string(val) ? json_string_value(val) : "");
		cfg->settings[i] = &entries[i];
		i++;
	}
	cfg->n_settings = n;
	json_decref(obj);
	return 0;
}

static void part_settings_free(Ironrack__V1__RackConfig *cfg)
{
	for (size_t i = 0; i < cfg->n_settings; i++) {
		free(cfg->settings[i]->key);
		free(cfg->settings[i]->value);
	}
	if (cfg->settings)
		free(cfg->n_settings ? cfg->settings[0] : NULL);
	free(cfg->settings);
	cfg->settings = NULL;
	cfg->n_settings = 0;
}

/* boot_configs_json: a JSON array of objects of strings (validated by the
 * API); NULL: none. */
static int part_boot_configs_fill(struct region *r, const char *rack_id, const struct rack_config_row *row,
				  Ironrack__V1__RackConfig *cfg)
{
	static const char *const names[] = {"mac", "purpose", "kernel", "initrd", "cmdline"};
	json_error_t jerr;
	json_t *arr = row->boot_configs_json ? json_loads(row->boot_configs_json, 0, &jerr) : NULL;
	size_t n = json_array_size(arr);
	Ironrack__V1__BootConfig *items = xcalloc(n ? n : 1, sizeof(*items));
	cfg->boot_configs = xcalloc(n ? n : 1, sizeof(*cfg->boot_configs));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		char *f[5];
		for (int k = 0; k < 5; k++) {
			const char *v = json_string_value(json_object_get(e, names[k]));
			f[k] = xstrdup(v ? v : "");
		}
		ironrack__v1__boot_config__init(&items[i]);
		items[i].mac = f[0];
		items[i].purpose = f[1];
		items[i].kernel = f[2];
		items[i].initrd = f[3];
		items[i].cmdline = f[4];
		cfg->boot_configs[i] = &items[i];
	}
	cfg->n_boot_configs = n;
	if (!n)
		free(items);
	json_decref(arr);
	return 0;
}

static void part_boot_configs_free(Ironrack__V1__RackConfig *cfg)
{
	for (size_t i = 0; i < cfg->n_boot_configs; i++) {
		Ironrack__V1__BootConfig *b = cfg->boot_configs[i];
		free(b->mac);
		free(b->purpose);
		free(b->kernel);
		free(b->initrd);
		free(b->cmdline);
	}
	if (cfg->boot_configs)
		free(cfg->n_boot_configs ? cfg->boot_configs[0] : NULL);
	free(cfg->boot_configs);
	cfg->boot_configs = NULL;
	cfg->n_boot_configs = 0;
}

/* One row per part; a feature adds its part here. */
static const struct rackcfg_part rackcfg_parts[] = {
    {"settings", part_settings_fill, part_settings_free},
    {"boot configs", part_boot_configs_fill, part_boot_configs_free},
    {"boot resources", region_bootres_rackcfg_fill, NULL},
    {"dhcp", region_dhcp_rackcfg_fill, region_dhcp_rackcfg_free},
};

int rackcfg_compose(struct region *r, const char *rack_id, const struct rack_config_row *row,
		    Ironrack__V1__RackConfig *ret)
{
	ironrack__v1__rack_config__init(ret);
	ret->version = row->version;
	ret->generated_unix_ms = clock_real_ms();
	for (size_t i = 0; i < sizeof(rackcfg_parts) / sizeof(rackcfg_parts[0]); i++) {
		int rc = rackcfg_parts[i].fill(r, rack_id, row, ret);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void rackcfg_done(Ironrack__V1__RackConfig *cfg)
{
	for (size_t i = 0; i < sizeof(rackcfg_parts) / sizeof(rackcfg_parts[0]); i++) {
		if (rackcfg_parts[i].free)
			rackcfg_parts[i].free(cfg);
	}
}

/* ---- sending a snapshot ---- */

struct rackcfg_wait {
	char rack_id[64];
	uint64_t version;
	region_reply_cb cb; /* NULL: an offer nobody waits on */
	void *arg;
};

static void rackcfg_answered(void *arg, int status, const char *message, const Ironrack__V1__RackMessage *reply,
			     int64_t rtt_us)
{
	struct rackcfg_wait *w = arg;
	if (w->cb) {
		uint64_t v = reply && reply->body_case == IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK
				 ? reply->config_ack->version
				 : w->version;
		w->cb(w->arg, status, status == 0 ? "stored" : message, rtt_us, v);
	} else if (status == -EREMOTEIO) {
		/* A snapshot pushed without an API caller waiting (a DHCP
		 * rebuild, the offer on connect): the rack keeps the old one. */
		log_err("rack %s refused a configuration (%s): %s; it keeps serving its stored one", w->rack_id,
			rpc_status_name(reply && reply->status ? reply->status->code : RPC_UNKNOWN), message);
	}
	free(w);
}

/* Send the snapshot row to the rack's session; cb (if any) gets the
 * rack's answer. */
static void rackcfg_send(struct rack_session *s, const struct rack_config_row *row, int timeout_ms, region_reply_cb cb,
			 void *arg)
{
	struct region *r = region_session_region(s);
	const char *rack_id = region_session_rack_id(s);
	Ironrack__V1__RackConfig cfg;
	if (rackcfg_compose(r, rack_id, row, &cfg) < 0) {
		rackcfg_done(&cfg);
		if (cb)
			cb(arg, -EIO, "the stored config cannot be sent", 0, row->version);
		return;
	}
	struct rackcfg_wait *w = xcalloc(1, sizeof(*w));
	snprintf(w->rack_id, sizeof(w->rack_id), "%s", rack_id);
	w->version = row->version;
	w->cb = cb;
	w->arg = arg;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_CONFIG;
	m.config = &cfg;
	/* From now on the rack may report on what this config serves. */
	region_session_scope_sent(s, row->version, cfg.dhcp);
	region_session_request(s, &m, timeout_ms, rackcfg_answered, w);
	rackcfg_done(&cfg);
}

/* ---- offering the latest snapshot ---- */

struct offer_job {
	struct region *r;
	char rack_id[64];
	bool first; /* none stored yet: store an empty one (boot resources) */
	bool storing_first;
	struct rack_config_row row;
	char err[ERR_LEN];
};

static int offer_read(struct db *db, void *arg)
{
	struct offer_job *j = arg;
	int rc = db_rack_config_get_full(db, j->rack_id, 0, &j->row);
	if (rc < 0 && rc != -ENOENT)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

static int offer_store_first(struct db *db, void *arg)
{
	struct offer_job *j = arg;
	uint64_t version = 0;
	int rc = db_rack_config_put(db, j->rack_id, "{}", &version);
	if (rc >= 0)
		rc = db_rack_config_get_full(db, j->rack_id, version, &j->row);
	if (rc < 0 && rc != -ENOENT)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

static void offer_done(void *arg, int status)
{
	struct offer_job *j = arg;
	if (status == -ENOENT && j->first && !j->storing_first) {
		j->storing_first = true;
		region_dbjob_submit(j->r, DB_LANE_WRITE, offer_store_first, offer_done, j);
		return;
	}
	struct rack_session *s = status >= 0 ? region_session_of_rack(j->r, j->rack_id) : NULL;
	if (status < 0 && status != -ENOENT && status != -ECANCELED)
		log_err("rack %s: cannot read its latest config: %s", j->rack_id,
			j->err[0] ? j->err : strerror(-status));
	if (s && j->row.version > region_session_config_version(s)) {
		log_info("rack %s has config version %llu, sending version %llu", j->rack_id,
			 (unsigned long long)region_session_config_version(s), (unsigned long long)j->row.version);
		rackcfg_send(s, &j->row, OFFER_TIMEOUT_MS, NULL, NULL);
	}
	db_rack_config_row_done(&j->row);
	free(j);
}

void region_rack_offer_config(struct region *r, const char *rack_id)
{
	if (!region_session_of_rack(r, rack_id))
		return;
	Ironrack__V1__BootResource **res;
	struct offer_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	snprintf(j->rack_id, sizeof(j->rack_id), "%s", rack_id);
	/* A rack that never had a config still needs the boot resources. */
	j->first = region_bootres_snapshot(r, &res) > 0;
	region_dbjob_submit(r, DB_LANE_READ, offer_read, offer_done, j);
}

/* ---- storing and pushing a new snapshot ---- */

struct push_job {
	struct region *r;
	char rack_id[64];
	char *settings_json;
	char *boot_configs_json; /* NULL: keep the previous version's */
	int timeout_ms;
	region_reply_cb cb;
	void *arg;
	uint64_t version;
	bool stored;
	struct rack_config_row row;
	char err[ERR_LEN];
};

static int push_store(struct db *db, void *arg)
{
	struct push_job *j = arg;
	int rc = db_rack_config_put_boot(db, j->rack_id, j->settings_json, j->boot_configs_json, &j->version, NULL);
	if (rc >= 0) {
		j->stored = true;
		/* What was stored, with the DHCP config carried over unchanged. */
		rc = db_rack_config_get_full(db, j->rack_id, j->version, &j->row);
	}
	if (rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

static void push_job_free(struct push_job *j)
{
	db_rack_config_row_done(&j->row);
	free(j->settings_json);
	free(j->boot_configs_json);
	free(j);
}

static void push_done(void *arg, int status)
{
	struct push_job *j = arg;
	if (status == -ECANCELED) {
		push_job_free(j); /* the region is stopping */
		return;
	}
	if (status < 0 && !j->stored) {
		if (region_dbjob_is_outage(status))
			log_err("rack %s: cannot store a config: %s", j->rack_id,
				j->err[0] ? j->err : "database unavailable");
		j->cb(j->arg, region_dbjob_is_outage(status) ? -EIO : status,
		      status == -ENOENT		       ? "no such rack"
		      : region_dbjob_is_outage(status) ? "region database unavailable"
						       : "cannot store the config",
		      0, 0);
	} else if (status < 0) {
		j->cb(j->arg, -EIO, "cannot read the stored config back", 0, j->version);
	} else {
		log_info("rack %s: stored config version %llu", j->rack_id, (unsigned long long)j->version);
		struct rack_session *s = region_session_of_rack(j->r, j->rack_id);
		if (!s)
			j->cb(j->arg, -ENOTCONN, "rack is not connected; it gets the config when it connects", 0,
			      j->version);
		else
			rackcfg_send(s, &j->row, j->timeout_ms, j->cb, j->arg);
	}
	push_job_free(j);
}

void region_rack_push_config_boot(struct region *r, const char *rack_id, const char *settings_json,
				  const char *boot_configs_json, int timeout_ms, region_reply_cb cb, void *arg)
{
	struct push_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	snprintf(j->rack_id, sizeof(j->rack_id), "%s", rack_id);
	j->settings_json = xstrdup(settings_json);
	j->boot_configs_json = boot_configs_json ? xstrdup(boot_configs_json) : NULL;
	j->timeout_ms = timeout_ms;
	j->cb = cb;
	j->arg = arg;
	region_dbjob_submit(r, DB_LANE_WRITE, push_store, push_done, j);
}

void region_rack_push_config(struct region *r, const char *rack_id, const char *settings_json, int timeout_ms,
			     region_reply_cb cb, void *arg)
{
	region_rack_push_config_boot(r, rack_id, settings_json, NULL, timeout_ms, cb, arg);
}

/* ---- renewing every rack's snapshot ---- */

struct renew_job {
	struct region *r;
	char why[64];
	char **renewed; /* rack ids with a new version */
	size_t n_renewed;
	size_t failed;
	char err[ERR_LEN];
};

static void renew_fail(struct renew_job *j, struct db *db, const char *rack_id)
{
	if (!j->failed++)
		snprintf(j->err, sizeof(j->err), "rack %s: %s", rack_id ? rack_id : "list", db_last_error(db));
}

static int renew_run(struct db *db, void *arg)
{
	struct renew_job *j = arg;
	struct rack_row *rows = NULL;
	size_t n = 0;
	if (db_rack_list(db, &rows, &n) < 0) {
		renew_fail(j, db, NULL);
		return -EIO;
	}
	j->renewed = xcalloc(n ? n : 1, sizeof(*j->renewed));
	for (size_t i = 0; i < n; i++) {
		uint64_t version = 0;
		char *settings = NULL;
		int rc = db_rack_config_get(db, rows[i].id, &version, &settings);
		if (rc == -ENOENT)
			settings = xstrdup("{}");
		if (rc >= 0 || rc == -ENOENT)
			rc = db_rack_config_put(db, rows[i].id, settings, &version);
		free(settings);
		if (rc < 0 && rc != -ENOENT)
			renew_fail(j, db, rows[i].id);
		else if (rc >= 0)
			j->renewed[j->n_renewed++] = xstrdup(rows[i].id);
	}
	db_rack_rows_free(rows, n);
	return 0;
}

static void renew_done(void *arg, int status)
{
	struct renew_job *j = arg;
	if (status != -ECANCELED && (status < 0 || j->failed))
		log_err("%s: cannot give %s racks a new config version: %s", j->why,
			status < 0 && !j->failed ? "the" : "some", j->err[0] ? j->err : strerror(-status));
	for (size_t i = 0; i < j->n_renewed; i++) {
		if (status != -ECANCELED)
			region_rack_offer_config(j->r, j->renewed[i]);
		free(j->renewed[i]);
	}
	free(j->renewed);
	free(j);
}

void region_racks_config_renew(struct region *r, const char *why)
{
	struct renew_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	snprintf(j->why, sizeof(j->why), "%s", why);
	region_dbjob_submit(r, DB_LANE_WRITE, renew_run, renew_done, j);
}

/* ---- the session rows ---- */

static void rackcfg_on_hello(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	region_session_config_version_set(s, m->hello->config_version);
	region_dhcp_ha_hello(s, m->hello->ha_endpoint);
	region_rack_offer_config(region_session_region(s), region_session_rack_id(s));
}

struct ack_job {
	char rack_id[64];
	uint64_t version;
	char err[ERR_LEN];
};

static int ack_store(struct db *db, void *arg)
{
	struct ack_job *j = arg;
	int rc = db_rack_config_acked(db, j->rack_id, j->version);
	if (rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

static void ack_done(void *arg, int status)
{
	struct ack_job *j = arg;
	if (status < 0 && status != -ECANCELED)
		log_err("rack %s: cannot record config ack: %s", j->rack_id, j->err[0] ? j->err : strerror(-status));
	free(j);
}

static void rackcfg_on_ack(struct rack_session *s, const Ironrack__V1__RackMessage *m)
{
	struct ack_job *j = xcalloc(1, sizeof(*j));
	snprintf(j->rack_id, sizeof(j->rack_id), "%s", region_session_rack_id(s));
	j->version = m->config_ack->version;
	region_session_config_version_set(s, j->version);
	log_info("rack %s stored config version %llu", j->rack_id, (unsigned long long)j->version);
	region_dbjob_submit(region_session_region(s), DB_LANE_WRITE, ack_store, ack_done, j);
}

static const struct region_session_handler rackcfg_handlers[] = {
    {IRONRACK__V1__RACK_MESSAGE__BODY_HELLO, rackcfg_on_hello},
    {IRONRACK__V1__RACK_MESSAGE__BODY_CONFIG_ACK, rackcfg_on_ack},
};

const struct region_session_feature region_rackcfg_session = {
    .name = "config",
    .handlers = rackcfg_handlers,
    .n_handlers = sizeof(rackcfg_handlers) / sizeof(rackcfg_handlers[0]),
};
