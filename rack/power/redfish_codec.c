/* The Redfish JSON codec (redfish_codec.h): documents in, structs out;
 * structs in, request bodies out. */
#include "rack/power/redfish_codec.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

struct name_bit {
	const char *name;
	unsigned bit;
};

static const struct name_bit reset_names[] = {
    {"On", REDFISH_RESET_ON},
    {"ForceOff", REDFISH_RESET_FORCE_OFF},
    {"GracefulShutdown", REDFISH_RESET_GRACEFUL_SHUTDOWN},
    {"GracefulRestart", REDFISH_RESET_GRACEFUL_RESTART},
    {"ForceRestart", REDFISH_RESET_FORCE_RESTART},
    {"Nmi", REDFISH_RESET_NMI},
    {"ForceOn", REDFISH_RESET_FORCE_ON},
    {"PushPowerButton", REDFISH_RESET_PUSH_POWER_BUTTON},
    {"PowerCycle", REDFISH_RESET_POWER_CYCLE},
    {"Suspend", REDFISH_RESET_SUSPEND},
    {"Pause", REDFISH_RESET_PAUSE},
    {"Resume", REDFISH_RESET_RESUME},
    {"FullPowerCycle", REDFISH_RESET_FULL_POWER_CYCLE},
    {NULL, 0},
};

static const struct name_bit enabled_names[] = {
    {"Disabled", REDFISH_BOOT_ENABLED_DISABLED},
    {"Once", REDFISH_BOOT_ENABLED_ONCE},
    {"Continuous", REDFISH_BOOT_ENABLED_CONTINUOUS},
    {NULL, 0},
};

/* Anything else a target may be is REDFISH_BOOT_TARGET_OTHER. */
static const struct name_bit target_names[] = {
    {"None", REDFISH_BOOT_TARGET_NONE},
    {"Pxe", REDFISH_BOOT_TARGET_PXE},
    {"Hdd", REDFISH_BOOT_TARGET_HDD},
    {NULL, 0},
};

static const struct name_bit mode_names[] = {
    {"UEFI", REDFISH_BOOT_MODE_UEFI},
    {"Legacy", REDFISH_BOOT_MODE_LEGACY},
    {NULL, 0},
};

static const struct {
	const char *name;
	enum redfish_power power;
} power_names[] = {
    {"On", REDFISH_POWER_ON},
    {"Off", REDFISH_POWER_OFF},
    {"PoweringOn", REDFISH_POWER_POWERING_ON},
    {"PoweringOff", REDFISH_POWER_POWERING_OFF},
    {"Paused", REDFISH_POWER_PAUSED},
    {"Unknown", REDFISH_POWER_UNKNOWN},
};

static unsigned name_bit(const struct name_bit *t, const char *s)
{
	for (; t->name; t++)
		if (strcmp(t->name, s) == 0)
			return t->bit;
	return 0;
}

static const char *bit_name(const struct name_bit *t, unsigned bit)
{
	for (; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return "?";
}

/* The bits of an AllowableValues array's known strings; other entries
 * (unknown names, non-strings) add `other` (0: nothing). */
static unsigned allowable_bits(const json_t *arr, const struct name_bit *t, unsigned other)
{
	unsigned bits = 0;
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		unsigned b = json_is_string(v) ? name_bit(t, json_string_value(v)) : 0;
		bits |= b ? b : (json_is_string(v) ? other : 0);
	}
	return bits;
}

static json_t *doc_load(const char *text, size_t len, char *msg, size_t msg_len, int *ret_err)
{
	json_error_t jerr;

	if (!text) {
		err_set(msg, msg_len, "no body");
		*ret_err = -EBADMSG;
		return NULL;
	}
	json_t *j = json_loadb(text, len, 0, &jerr);
	if (!j) {
		err_set(msg, msg_len, "not JSON: %s (line %d)", jerr.text, jerr.line);
		*ret_err = -EBADMSG;
		return NULL;
	}
	if (!json_is_object(j)) {
		err_set(msg, msg_len, "not a JSON object");
		json_decref(j);
		*ret_err = -EBADMSG;
		return NULL;
	}
	return j;
}

/* A path on the same service (see the header). */
static bool link_ok(const char *s)
{
	if (s[0] != '/' || s[1] == '/')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '\\')
			return false;
	return true;
}

/* obj.@odata.id into out: 0; -ENOENT when absent or not a string (obj
 * may be NULL or not an object); -EINVAL with msg when present but not a
 * usable path. what names it for msg. */
static int link_copy(const json_t *obj, const char *what, char *out, size_t out_len, char *msg, size_t msg_len)
{
	const char *s = json_string_value(json_object_get(obj, "@odata.id"));

	out[0] = '\0';
	if (!s)
		return -ENOENT;
	if (strlen(s) >= out_len) {
		err_set(msg, msg_len, "%s link is longer than %zu bytes", what, out_len - 1);
		return -EINVAL;
	}
	if (!link_ok(s)) {
		err_set(msg, msg_len, "%s link is not a path on this service", what);
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

int redfish_root_decode(const char *text, size_t len, struct redfish_root *ret, char *msg, size_t msg_len)
{
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	json_t *j = doc_load(text, len, msg, msg_len, &r);
	if (!j)
		return r;

	r = link_copy(json_object_get(j, "Systems"), "Systems", ret->systems, sizeof(ret->systems), msg, msg_len);
	if (r == -EINVAL)
		goto out;
	r = link_copy(json_object_get(json_object_get(j, "Links"), "Sessions"), "Links.Sessions", ret->sessions,
		      sizeof(ret->sessions), msg, msg_len);
	if (r == -EINVAL)
		goto out;
	if (r == -ENOENT) {
		char service[REDFISH_URI_MAX];
		r = link_copy(json_object_get(j, "SessionService"), "SessionService", service,
			      sizeof(service) - strlen("/Sessions"), msg, msg_len);
		if (r == -EINVAL)
			goto out;
		if (r == 0) {
			size_t n = strlen(service);
			while (n > 0 && service[n - 1] == '/')
				service[--n] = '\0';
			snprintf(ret->sessions, sizeof(ret->sessions), "%s/Sessions", service);
		}
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

int redfish_collection_decode(const char *text, size_t len, struct redfish_collection *ret, char *msg, size_t msg_len)
{
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	ret->count = -1;
	json_t *j = doc_load(text, len, msg, msg_len, &r);
	if (!j)
		return r;

	json_t *count = json_object_get(j, "Members@odata.count");
	if (json_is_integer(count) && json_integer_value(count) >= 0)
		ret->count = json_integer_value(count);
	json_t *members = json_object_get(j, "Members");
	if (!json_is_array(members)) {
		err_set(msg, msg_len, "collection without a Members array");
		r = -EINVAL;
		goto out;
	}
	size_t i;
	json_t *m;
	json_array_foreach(members, i, m)
	{
		char tmp[REDFISH_URI_MAX];
		char *out = ret->kept < REDFISH_MEMBERS_MAX ? ret->members[ret->kept] : tmp;
		r = link_copy(m, "member", out, REDFISH_URI_MAX, msg, msg_len);
		if (r == -ENOENT) {
			err_set(msg, msg_len, "collection member %zu has no @odata.id", i);
			r = -EINVAL;
		}
		if (r < 0)
			goto out;
		ret->n++;
		if (ret->kept < REDFISH_MEMBERS_MAX)
			ret->kept++;
	}
out:
	json_decref(j);
	return r;
}

static void system_reset_decode(const json_t *action, struct redfish_system *ret)
{
	if (!json_is_object(action))
		return;
	ret->has_reset = true;
	/* A target that is not a path on this service reads as absent: the
	 * driver then uses DSP0266's default URI, a path it builds itself. */
	const char *target = json_string_value(json_object_get(action, "target"));
	if (target && strlen(target) < sizeof(ret->reset_target) && link_ok(target))
		strcpy(ret->reset_target, target);
	const char *info = json_string_value(json_object_get(action, "@Redfish.ActionInfo"));
	if (info && strlen(info) < sizeof(ret->action_info) && link_ok(info))
		strcpy(ret->action_info, info);
	json_t *allow = json_object_get(action, "ResetType@Redfish.AllowableValues");
	if (json_is_array(allow)) {
		ret->reset_advertised = true;
		ret->reset_types = allowable_bits(allow, reset_names, 0);
	}
}

static unsigned value_bit(const json_t *obj, const char *key, const struct name_bit *t, unsigned other)
{
	const char *s = json_string_value(json_object_get(obj, key));
	unsigned b;

	if (!s)
		return 0;
	b = name_bit(t, s);
	return b ? b : other;
}

static void system_boot_decode(const json_t *boot, struct redfish_system *ret)
{
	json_t *a;

	if (!json_is_object(boot))
		return;
	ret->has_boot = true;
	ret->boot_enabled = value_bit(boot, "BootSourceOverrideEnabled", enabled_names, 0);
	if (json_is_array(a = json_object_get(boot, "BootSourceOverrideEnabled@Redfish.AllowableValues"))) {
		ret->boot_enabled_advertised = true;
		ret->boot_enabled_allowed = allowable_bits(a, enabled_names, 0);
	}
	ret->boot_target = value_bit(boot, "BootSourceOverrideTarget", target_names, REDFISH_BOOT_TARGET_OTHER);
	if (json_is_array(a = json_object_get(boot, "BootSourceOverrideTarget@Redfish.AllowableValues"))) {
		ret->boot_target_advertised = true;
		ret->boot_target_allowed = allowable_bits(a, target_names, REDFISH_BOOT_TARGET_OTHER);
	}
	/* The mode is a property of the system when present, even as null
	 * (some BMCs report null until the first boot). */
	ret->has_boot_mode = json_object_get(boot, "BootSourceOverrideMode") != NULL;
	ret->boot_mode = value_bit(boot, "BootSourceOverrideMode", mode_names, 0);
	if (json_is_array(a = json_object_get(boot, "BootSourceOverrideMode@Redfish.AllowableValues"))) {
		ret->boot_mode_advertised = true;
		ret->boot_mode_allowed = allowable_bits(a, mode_names, 0);
	}
}

int redfish_system_decode(const char *text, size_t len, struct redfish_system *ret, char *msg, size_t msg_len)
{
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	json_t *j = doc_load(text, len, msg, msg_len, &r);
	if (!j)
		return r;

	const char *ps = json_string_value(json_object_get(j, "PowerState"));
	if (ps) {
		ret->power = REDFISH_POWER_UNKNOWN;
		for (size_t i = 0; i < sizeof(power_names) / sizeof(power_names[0]); i++)
			if (strcmp(ps, power_names[i].name) == 0)
				ret->power = power_names[i].power;
		snprintf(ret->power_raw, sizeof(ret->power_raw), "%s", ps);
		for (char *p = ret->power_raw; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
	}
	const char *etag = json_string_value(json_object_get(j, "@odata.etag"));
	/* An ETag goes back into an If-Match header: refuse what a header
	 * cannot carry rather than send a broken one. */
	if (etag && strlen(etag) < sizeof(ret->etag) && !strpbrk(etag, "\r\n"))
		strcpy(ret->etag, etag);
	system_reset_decode(json_object_get(json_object_get(j, "Actions"), "#ComputerSystem.Reset"), ret);
	system_boot_decode(json_object_get(j, "Boot"), ret);
	json_decref(j);
	return 0;
}

enum power_state redfish_power_state(enum redfish_power p)
{
	switch (p) {
	case REDFISH_POWER_ON:
	case REDFISH_POWER_POWERING_ON:
	case REDFISH_POWER_PAUSED:
		return POWER_STATE_ON;
	case REDFISH_POWER_OFF:
	case REDFISH_POWER_POWERING_OFF:
		return POWER_STATE_OFF;
	default:
		return POWER_STATE_UNKNOWN;
	}
}

int redfish_action_info_decode(const char *text, size_t len, struct redfish_system *sys, char *msg, size_t msg_len)
{
	int r = 0;
	json_t *j = doc_load(text, len, msg, msg_len, &r);
	if (!j)
		return r;

	json_t *params = json_object_get(j, "Parameters");
	if (!json_is_array(params)) {
		err_set(msg, msg_len, "ActionInfo without a Parameters array");
		json_decref(j);
		return -EINVAL;
	}
	size_t i;
	json_t *p;
	json_array_foreach(params, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "Name"));
		json_t *allow = json_object_get(p, "AllowableValues");
		if (name && strcmp(name, "ResetType") == 0 && json_is_array(allow)) {
			sys->reset_advertised = true;
			sys->reset_types = allowable_bits(allow, reset_names, 0);
		}
	}
	json_decref(j);
	return 0;
}

/* Append s to out (at *pos), control characters as spaces; truncates,
 * and then not inside a UTF-8 sequence (the text travels in protobuf
 * strings, which must be UTF-8; jansson has checked the input is). */
static void out_append(char *out, size_t out_len, size_t *pos, const char *s)
{
	for (; *s && *pos + 1 < out_len; s++)
		out[(*pos)++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
	if (*s && *pos > 0) {
		size_t start = *pos - 1;
		while (start > 0 && ((unsigned char)out[start] & 0xc0) == 0x80)
			start--;
		unsigned char lead = (unsigned char)out[start];
		size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
		if (*pos - start < need)
			*pos = start;
	}
	out[*pos] = '\0';
}

int redfish_error_decode(const char *text, size_t len, char *out, size_t out_len)
{
	int r = 0;
	size_t pos = 0;

	if (out_len == 0)
		return -EINVAL;
	out[0] = '\0';
	json_t *j = doc_load(text, len, NULL, 0, &r);
	if (!j)
		return r;
	json_t *e = json_object_get(j, "error");
	if (!json_is_object(e)) {
		json_decref(j);
		return -EINVAL;
	}
	size_t i;
	json_t *info;
	json_array_foreach(json_object_get(e, "@Message.ExtendedInfo"), i, info)
	{
		const char *s = json_string_value(json_object_get(info, "Message"));
		if (!s || !*s)
			s = json_string_value(json_object_get(info, "MessageId"));
		if (!s || !*s)
			continue;
		if (pos)
			out_append(out, out_len, &pos, "; ");
		out_append(out, out_len, &pos, s);
	}
	const char *fallback[] = {"message", "code"};
	for (size_t k = 0; k < 2 && pos == 0; k++) {
		const char *s = json_string_value(json_object_get(e, fallback[k]));
		if (s)
			out_append(out, out_len, &pos, s);
	}
	json_decref(j);
	return pos ? 0 : -EINVAL;
}

void redfish_reset_types_format(unsigned types, char *out, size_t out_len)
{
	size_t pos = 0;

	if (out_len == 0)
		return;
	out[0] = '\0';
	for (const struct name_bit *t = reset_names; t->name; t++) {
		if (!(types & t->bit))
			continue;
		if (pos)
			out_append(out, out_len, &pos, ", ");
		out_append(out, out_len, &pos, t->name);
	}
	if (pos == 0)
		out_append(out, out_len, &pos, "none");
}

const char *redfish_reset_choose(enum power_action action, const struct redfish_system *sys, bool *ret_guessed,
				 char *msg, size_t msg_len)
{
	static const unsigned on_chain[] = {REDFISH_RESET_ON, REDFISH_RESET_FORCE_ON, 0};
	static const unsigned off_chain[] = {REDFISH_RESET_FORCE_OFF, REDFISH_RESET_GRACEFUL_SHUTDOWN, 0};
	static const unsigned cycle_chain[] = {REDFISH_RESET_POWER_CYCLE, REDFISH_RESET_FORCE_RESTART,
					       REDFISH_RESET_GRACEFUL_RESTART, 0};
	const unsigned *chain;
	static const char *const names[] = {"query", "on", "off", "cycle"};
	const char *what = (unsigned)action < 4 ? names[action] : "?";

	*ret_guessed = false;
	switch (action) {
	case POWER_ON:
		chain = on_chain;
		break;
	case POWER_OFF:
		chain = off_chain;
		break;
	case POWER_CYCLE:
		chain = sys->power == REDFISH_POWER_OFF ? on_chain : cycle_chain;
		break;
	default:
		err_set(msg, msg_len, "no reset for %s", what);
		return NULL;
	}
	if (!sys->reset_advertised) {
		*ret_guessed = true;
		/* ForceRestart rather than PowerCycle: the one implemented most widely. */
		if (chain == cycle_chain)
			return bit_name(reset_names, REDFISH_RESET_FORCE_RESTART);
		return bit_name(reset_names, chain[0]);
	}
	for (const unsigned *c = chain; *c; c++)
		if (sys->reset_types & *c)
			return bit_name(reset_names, *c);

	char have[256], want[128];
	unsigned want_bits = 0;
	for (const unsigned *c = chain; *c; c++)
		want_bits |= *c;
	redfish_reset_types_format(sys->reset_types, have, sizeof(have));
	redfish_reset_types_format(want_bits, want, sizeof(want));
	err_set(msg, msg_len, "the system allows no ResetType for %s (wanted one of %s; it allows %s)", what, want,
		have);
	return NULL;
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!s)
		oom_abort(0);
	return s;
}

static json_t *jstr(const char *s)
{
	json_t *v = json_string(s);

	if (!v)
		oom_abort(0);
	return v;
}

static json_t *jobj(void)
{
	json_t *v = json_object();

	if (!v)
		oom_abort(0);
	return v;
}

char *redfish_boot_body(const struct power_boot *boot, const struct redfish_system *sys, bool *ret_unchanged,
			bool *ret_mode_skipped, char *msg, size_t msg_len)
{
	unsigned target = boot->dev == POWER_BOOT_PXE ? REDFISH_BOOT_TARGET_PXE : REDFISH_BOOT_TARGET_HDD;
	unsigned enabled = boot->persistent ? REDFISH_BOOT_ENABLED_CONTINUOUS : REDFISH_BOOT_ENABLED_ONCE;
	unsigned mode = boot->efi ? REDFISH_BOOT_MODE_UEFI : REDFISH_BOOT_MODE_LEGACY;
	const char *tname = bit_name(target_names, target);
	const char *ename = bit_name(enabled_names, enabled);

	*ret_unchanged = false;
	*ret_mode_skipped = false;
	if (boot->dev == POWER_BOOT_KEEP) {
		err_set(msg, msg_len, "no boot device to set");
		return NULL;
	}
	if (!sys->has_boot) {
		err_set(msg, msg_len, "the system has no Boot properties: it cannot set the boot device");
		return NULL;
	}
	if (sys->boot_target_advertised && !(sys->boot_target_allowed & target)) {
		err_set(msg, msg_len, "the system does not allow BootSourceOverrideTarget %s", tname);
		return NULL;
	}
	if (sys->boot_enabled_advertised && !(sys->boot_enabled_allowed & enabled)) {
		err_set(msg, msg_len, "the system does not allow BootSourceOverrideEnabled %s%s", ename,
			boot->persistent ? " (a persistent boot device)" : "");
		return NULL;
	}
	bool send_mode = sys->has_boot_mode && (!sys->boot_mode_advertised || (sys->boot_mode_allowed & mode));
	*ret_mode_skipped = !send_mode;
	*ret_unchanged =
	    sys->boot_target == target && sys->boot_enabled == enabled && (!send_mode || sys->boot_mode == mode);

	json_t *b = jobj();
	json_object_set_new(b, "BootSourceOverrideEnabled", jstr(ename));
	json_object_set_new(b, "BootSourceOverrideTarget", jstr(tname));
	if (send_mode)
		json_object_set_new(b, "BootSourceOverrideMode", jstr(bit_name(mode_names, mode)));
	json_t *j = jobj();
	json_object_set_new(j, "Boot", b);
	return dump(j);
}

char *redfish_reset_body(const char *type)
{
	json_t *j = jobj();

	json_object_set_new(j, "ResetType", jstr(type));
	return dump(j);
}

char *redfish_login_body(const char *user, const char *password)
{
	/* json_string refuses what is not UTF-8: NULL then, not an abort. */
	json_t *u = json_string(user ? user : "");
	json_t *p = json_string(password ? password : "");
	if (!u || !p) {
		json_decref(u);
		json_decref(p);
		return NULL;
	}
	json_t *j = jobj();
	json_object_set_new(j, "UserName", u);
	json_object_set_new(j, "Password", p);
	return dump(j);
}
