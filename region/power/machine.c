/* A machine's power parameters as the API writes and shows them, and as a
 * rack gets them. See power.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/power_params.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/power_db.h"
#include "region/power/power.h"
#include "region/region.h"
#include "region/secret.h"

#define OPTIONS_MAX 16

static int perr_set(struct region_power_err *err, int rc, int status, const char *code, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int perr_set(struct region_power_err *err, int rc, int status, const char *code, const char *field,
		    const char *fmt, ...)
{
	va_list ap;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

static const struct power_param_def *param_def(const char *name)
{
	for (size_t i = 0; i < power_param_defs_n; i++)
		if (strcmp(power_param_defs[i].name, name) == 0)
			return &power_param_defs[i];
	return NULL;
}

/* Is name a parameter of driver? (drivers is "ipmi,redfish") */
static bool param_of(const struct power_param_def *d, const char *driver)
{
	size_t n = strlen(driver);
	for (const char *p = d->drivers; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncmp(p, driver, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

bool region_power_key(const char *key)
{
	return strncmp(key, "power_", 6) == 0 && strcmp(key, "power_state") != 0 &&
	       strcmp(key, "power_state_at") != 0 && strcmp(key, "power_error") != 0 &&
	       strcmp(key, "power_rack") != 0 && strcmp(key, "power_pass_set") != 0;
}

/* What a machine's power parameters are while being merged. */
struct merged {
	char type[POWER_DRIVER_NAME_MAX];
	char *address, *user;
	char *password; /* new one given in this write, else NULL */
	bool password_given;
	bool has_secret; /* stored or new */
	const char *keys[OPTIONS_MAX];
	char *vals[OPTIONS_MAX];
	size_t n;
};

static void merged_done(struct merged *m)
{
	free(m->address);
	free(m->user);
	if (m->password) {
		explicit_bzero(m->password, strlen(m->password));
		free(m->password);
	}
	for (size_t i = 0; i < m->n; i++)
		free(m->vals[i]);
	memset(m, 0, sizeof(*m));
}

static void option_set(struct merged *m, const struct power_param_def *d, const char *val)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->keys[i], d->name) != 0)
			continue;
		free(m->vals[i]);
		if (val && *val) {
			m->vals[i] = xstrdup(val);
		} else { /* removed */
			m->keys[i] = m->keys[m->n - 1];
			m->vals[i] = m->vals[m->n - 1];
			m->n--;
		}
		return;
	}
	if (val && *val && m->n < OPTIONS_MAX) {
		m->keys[m->n] = d->name;
		m->vals[m->n++] = xstrdup(val);
	}
}

/* A JSON value as the parameter's text: strings as they are, numbers and
 * booleans spelled out; null = remove. */
static int value_text(json_t *v, char *buf, size_t len, const char **ret)
{
	if (json_is_null(v)) {
		*ret = NULL;
	} else if (json_is_string(v)) {
		*ret = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*ret = buf;
	} else if (json_is_boolean(v)) {
		*ret = json_is_true(v) ? "true" : "false";
	} else {
		return -EINVAL;
	}
	return 0;
}

static void merged_from_stored(struct merged *m, const struct power_db_machine *row)
{
	json_t *p = json_loads(row->params_json ? row->params_json : "{}", 0, NULL);
	snprintf(m->type, sizeof(m->type), "%s", row->type);
	m->address = xstrdup(json_string_value(json_object_get(p, "address")) ?: "");
	m->user = xstrdup(json_string_value(json_object_get(p, "user")) ?: "");
	m->has_secret = row->secret != NULL;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(p, "options"), k, v)
	{
		const struct power_param_def *d = param_def(k);
		if (d && json_is_string(v))
			option_set(m, d, json_string_value(v));
	}
	json_decref(p);
}

/* One key of the request body onto m. */
static int merge_key(struct merged *m, const char *key, json_t *v, struct region_power_err *err)
{
	char buf[32];
	const char *text;

	if (strcmp(key, "power_options") == 0) {
		if (!json_is_object(v) && !json_is_null(v))
			return perr_set(err, -EINVAL, 400, "invalid_argument", key,
					"power_options must be an object of parameter names and values");
		const char *k;
		json_t *o;
		json_object_foreach(v, k, o)
		{
			char name[80];
			snprintf(name, sizeof(name), "power_%s", k);
			int r = merge_key(m, name, o, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (value_text(v, buf, sizeof(buf), &text) < 0)
		return perr_set(err, -EINVAL, 400, "invalid_argument", key, "%s must be a string", key);
	const char *name = key + 6;
	if (strcmp(name, "type") == 0) {
		if (text && strlen(text) >= sizeof(m->type))
			snprintf(m->type, sizeof(m->type), "%s", "?"); /* refused by the check, naming it */
		else
			snprintf(m->type, sizeof(m->type), "%.15s", text ? text : "");
	} else if (strcmp(name, "address") == 0) {
		free(m->address);
		m->address = xstrdup(text ? text : "");
	} else if (strcmp(name, "user") == 0) {
		free(m->user);
		m->user = xstrdup(text ? text : "");
	} else if (strcmp(name, "pass") == 0) {
		if (m->password) {
			explicit_bzero(m->password, strlen(m->password));
			free(m->password);
		}
		m->password = xstrdup(text ? text : "");
		m->password_given = true;
		m->has_secret = m->password[0] != '\0';
	} else {
		const struct power_param_def *d = param_def(name);
		if (!d || d->secret || strcmp(name, "address") == 0)
			return perr_set(err, -EINVAL, 400, "invalid_argument", key,
					"%s is not a power parameter (see docs/power.md)", key);
		option_set(m, d, text);
	}
	return 0;
}

/* Options the driver does not take are dropped when the driver changes;
 * given in the same request they are refused by the check. */
static void drop_foreign(struct merged *m, const char *old_type)
{
	if (strcmp(old_type, m->type) == 0)
		return;
	for (size_t i = 0; i < m->n;) {
		const struct power_param_def *d = param_def(m->keys[i]);
		if (d && param_of(d, m->type)) {
			i++;
			continue;
		}
		free(m->vals[i]);
		m->keys[i] = m->keys[m->n - 1];
		m->vals[i] = m->vals[m->n - 1];
		m->n--;
	}
}

static int merge_body(struct merged *m, json_t *body, struct region_power_err *err)
{
	char old_type[POWER_DRIVER_NAME_MAX];
	snprintf(old_type, sizeof(old_type), "%s", m->type);
	json_t *t = json_object_get(body, "power_type");
	if (t) {
		int r = merge_key(m, "power_type", t, err);
		if (r < 0)
			return r;
		drop_foreign(m, old_type);
	}
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v)
	{
		if (!region_power_key(k) || strcmp(k, "power_type") == 0)
			continue;
		int r = merge_key(m, k, v, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The merged parameters checked as a rack will decode them, and the
 * address normalised. */
static int merged_check(struct merged *m, struct region_power_err *err)
{
	if (!m->type[0]) {
		if (m->address[0] || m->user[0] || m->n || (m->password_given && m->password[0]))
			return perr_set(err, -EINVAL, 400, "invalid_argument", "power_type",
					"power parameters need a power_type (ipmi, redfish, wol or manual)");
		return 0;
	}
	struct power_params p;
	char msg[512] = "";
	/* A new password is checked as the rack will (its length); a stored
	 * one only for being there, through a placeholder. */
	const char *pass = m->password_given && m->password[0] ? m->password : m->has_secret ? "x" : "";
	int r = power_params_decode(m->type, m->address, m->user, pass, (const char *const *)m->keys,
				    (const char *const *)m->vals, m->n, &p, msg, sizeof(msg));
	if (r < 0) {
		char field[64] = "";
		const char *colon = strchr(msg, ':');
		if (strncmp(msg, "power_", 6) == 0 && colon && (size_t)(colon - msg) < sizeof(field))
			snprintf(field, sizeof(field), "%.*s", (int)(colon - msg), msg);
		return perr_set(err, -EINVAL, 400, "invalid_argument", field[0] ? field : NULL, "%s", msg);
	}
	/* Stored as the rack will use it: a Redfish https://HOST:PORT/ is
	 * the host and a port, so that the rack that reaches HOST can be
	 * found (power_rack_for reads a bare address). */
	if (p.address && strcmp(p.address, m->address) != 0) {
		free(m->address);
		m->address = xstrdup(p.address);
		bool has_port = false;
		for (size_t i = 0; i < m->n; i++)
			has_port = has_port || strcmp(m->keys[i], "port") == 0;
		if (p.port && !has_port) {
			char port[16];
			snprintf(port, sizeof(port), "%u", p.port);
			option_set(m, param_def("port"), port);
		}
	}
	power_params_free(&p);
	return 0;
}

int region_power_machine_check(json_t *body, struct region_power_err *err)
{
	struct merged m = {.address = xstrdup(""), .user = xstrdup("")};
	int r = merge_body(&m, body, err);
	if (r == 0)
		r = merged_check(&m, err);
	merged_done(&m);
	return r;
}

static char *aad_of(int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "machine:%" PRId64 ":power_pass", id);
	return buf;
}

int region_power_machine_write(struct region *r, struct db *db, int64_t id, json_t *body, bool store,
			       struct region_power_err *err)
{
	struct power_db_machine row;
	struct merged m = {0};
	bool any = false;
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v) any = any || region_power_key(k);
	if (!any)
		return 0;
	int rc = power_db_machine_get(db, id, false, &row);
	if (rc < 0)
		return perr_set(err, rc, rc == -ENOENT ? 404 : 503, rc == -ENOENT ? "not_found" : "unavailable", NULL,
				"%s", rc == -ENOENT ? "no such machine" : db_last_error(db));
	merged_from_stored(&m, &row);
	rc = merge_body(&m, body, err);
	if (rc == 0)
		rc = merged_check(&m, err);
	if (rc < 0 || !store) {
		rc = rc < 0 ? rc : 1;
		goto out;
	}

	json_t *params = json_object();
	json_t *opts = json_object();
	if (m.type[0]) {
		json_object_set_new(params, "address", json_string(m.address));
		json_object_set_new(params, "user", json_string(m.user));
		for (size_t i = 0; i < m.n; i++)
			json_object_set_new(opts, m.keys[i], json_string(m.vals[i]));
	}
	json_object_set_new(params, "options", opts);
	char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(params);

	uint8_t *blob = NULL;
	size_t blob_len = 0;
	bool set_secret = m.password_given || !m.type[0];
	if (m.type[0] && m.password_given && m.password[0]) {
		char aad[64];
		rc = secret_box_seal(r->secrets, aad_of(id, aad, sizeof(aad)), m.password, &blob, &blob_len);
		if (rc < 0) {
			free(text);
			rc = perr_set(err, rc, 500, "internal", "power_pass", "cannot encrypt the password: %s",
				      strerror(-rc));
			goto out;
		}
	}
	rc = power_db_params_set(db, id, m.type, text, blob, blob_len, set_secret);
	free(text);
	free(blob);
	if (rc < 0)
		perr_set(err, rc, rc == -ENOENT ? 404 : 503, rc == -ENOENT ? "not_found" : "unavailable", NULL, "%s",
			 rc == -ENOENT ? "no such machine" : db_last_error(db));
	else
		rc = 1;
out:
	merged_done(&m);
	power_db_machine_done(&row);
	return rc;
}

int region_power_machine_json(struct db *db, int64_t id, json_t *obj)
{
	struct power_db_machine row;
	int rc = power_db_machine_get(db, id, false, &row);
	if (rc < 0)
		return rc;
	json_t *p = json_loads(row.params_json ? row.params_json : "{}", 0, NULL);
	json_t *opts = json_object_get(p, "options");
	json_object_set_new(obj, "power_address", json_string(json_string_value(json_object_get(p, "address")) ?: ""));
	json_object_set_new(obj, "power_user", json_string(json_string_value(json_object_get(p, "user")) ?: ""));
	json_object_set_new(obj, "power_pass_set", json_boolean(row.secret != NULL));
	json_object_set(obj, "power_options", json_is_object(opts) ? opts : json_object());
	json_decref(p);
	power_db_machine_done(&row);
	return 0;
}

void region_power_target_free(Ironrack__V1__PowerTarget *t)
{
	if (!t)
		return;
	free(t->hostname);
	free(t->driver);
	free(t->address);
	free(t->user);
	if (t->password) {
		explicit_bzero(t->password, strlen(t->password));
		free(t->password);
	}
	for (size_t i = 0; i < t->n_options; i++) {
		free(t->options[i]->key);
		free(t->options[i]->value);
		free(t->options[i]);
	}
	free(t->options);
	free(t);
}

static void target_option(Ironrack__V1__PowerTarget *t, const char *k, const char *v)
{
	Ironrack__V1__PowerTarget__OptionsEntry *e = xcalloc(1, sizeof(*e));
	ironrack__v1__power_target__options_entry__init(e);
	e->key = xstrdup(k);
	e->value = xstrdup(v);
	t->options = xrealloc(t->options, (t->n_options + 1) * sizeof(*t->options));
	t->options[t->n_options++] = e;
}

static bool target_has_option(const Ironrack__V1__PowerTarget *t, const char *k)
{
	for (size_t i = 0; i < t->n_options; i++)
		if (strcmp(t->options[i]->key, k) == 0)
			return true;
	return false;
}

int region_power_target(struct region *r, const struct power_db_machine *m, const char *iface,
			Ironrack__V1__PowerTarget **ret, char *msg, size_t msg_len)
{
	Ironrack__V1__PowerTarget *t = xcalloc(1, sizeof(*t));
	ironrack__v1__power_target__init(t);
	json_t *p = json_loads(m->params_json ? m->params_json : "{}", 0, NULL);
	t->machine_id = (uint64_t)m->id;
	t->hostname = xstrdup(m->hostname);
	t->driver = xstrdup(m->type);
	t->address = xstrdup(json_string_value(json_object_get(p, "address")) ?: "");
	t->user = xstrdup(json_string_value(json_object_get(p, "user")) ?: "");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(p, "options"), k, v)
	{
		if (json_is_string(v))
			target_option(t, k, json_string_value(v));
	}
	json_decref(p);
	/* Wake-on-LAN: the machine's MAC and the rack's interface on its
	 * VLAN unless the operator set them. */
	if (strcmp(m->type, "wol") == 0) {
		if (!target_has_option(t, "mac") && m->mac[0])
			target_option(t, "mac", m->mac);
		if (!target_has_option(t, "interface") && iface && iface[0])
			target_option(t, "interface", iface);
	}
	char *plain = NULL;
	t->password = NULL; /* not protobuf-c's static "": freed on the way out */
	if (m->secret) {
		char aad[64];
		int rc =
		    secret_box_unseal(r->secrets, aad_of(m->id, aad, sizeof(aad)), m->secret, m->secret_len, &plain);
		if (rc < 0) {
			snprintf(msg, msg_len, "machine %s: the stored BMC password cannot be decrypted (%s)",
				 m->hostname,
				 rc == -EBADMSG	 ? "tampered with, or sealed for another machine"
				 : rc == -ENOKEY ? "sealed with a key this region does not have"
						 : strerror(-rc));
			region_power_target_free(t);
			return -EINVAL;
		}
	}
	t->password = plain ? plain : xstrdup("");
	*ret = t;
	return 0;
}
