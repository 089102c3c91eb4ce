/* REST codec for the network model (see net_codec.h). */
#include "region/api/net_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/machine/alloc.h"

/* Largest integer every JSON reader holds exactly. */
#define API_JSON_INT_EXACT ((u128)1 << 53)
#define API_NET_REF_MAX	   128
#define API_NET_TIME_MAX   64

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* The rules of the ir_name and ir_hostname SQL domains, for messages. */
static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63 || !is_alnum(s[0]) || all_digits(s))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static bool hostname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]) || all_digits(s))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* "2024-05-01T12:00:00Z", optional fraction, "Z" or "+hh:mm". */
static bool time_valid(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i = 0;

	if (strlen(s) > API_NET_TIME_MAX)
		return false;
	for (; shape[i]; i++) {
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return false;
	}
	s += i;
	if (*s == '.') {
		size_t d = strspn(s + 1, "0123456789");
		if (d == 0)
			return false;
		s += 1 + d;
	}
	if (strcmp(s, "Z") == 0)
		return true;
	return (s[0] == '+' || s[0] == '-') && strlen(s) == 6 && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
	       s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9';
}

/* Descriptions and comments may run over several lines; every other text
 * value (names above all) is one line. */
static bool text_multiline(const struct net_field *f)
{
	return strcmp(f->name, "description") == 0 || strcmp(f->name, "comment") == 0;
}

/* A control character in UTF-8 text: C0 (tab and line breaks allowed in
 * multi-line text), DEL, or C1 (U+0080-U+009F, encoded C2 80-C2 9F). */
static bool text_has_control(const char *s, bool multiline)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 && !(multiline && (*p == '\t' || *p == '\n' || *p == '\r')))
			return true;
		if (*p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return true;
	}
	return false;
}

static int dup_out(const char *s, char **ret)
{
	*ret = xstrdup(s);
	return 0;
}

static int inet_parse(const char *name, const char *s, char **ret, struct api_fail *fail)
{
	struct ipaddr a;
	char buf[IPADDR_STRLEN];

	if (strchr(s, '/'))
		return api_fail_set(fail, name, "%s: give an address without a prefix length, not '%.64s'", name, s);
	if (ipaddr_parse(s, &a) < 0)
		return api_fail_set(fail, name, "%s: '%.64s' is not an IPv4 or IPv6 address", name, s);
	return dup_out(ipaddr_format(&a, buf, sizeof(buf)), ret);
}

static int cidr_parse(const char *name, const char *s, char **ret, struct api_fail *fail)
{
	struct ipprefix p;
	char buf[IPPREFIX_STRLEN];

	if (!strchr(s, '/'))
		return api_fail_set(
		    fail, name, "%s: '%.64s' has no prefix length; write it as a CIDR such as 10.0.0.0/24", name, s);
	int r = ipprefix_parse(s, true, &p);
	if (r < 0 && ipprefix_parse(s, false, &p) == 0)
		return api_fail_set(fail, name, "%s: %.64s has host bits set; did you mean %s?", name, s,
				    ipprefix_format(&p, buf, sizeof(buf)));
	if (r < 0)
		return api_fail_set(fail, name, "%s: '%.64s' is not a CIDR (such as 10.0.0.0/24 or 2001:db8::/64)",
				    name, s);
	return dup_out(ipprefix_format(&p, buf, sizeof(buf)), ret);
}

static int mac_text_parse(const char *name, const char *s, char **ret, struct api_fail *fail)
{
	uint8_t mac[6];
	char buf[MAC_STRLEN];

	if (mac_parse(s, mac) < 0)
		return api_fail_set(fail, name, "%s: '%.64s' is not a MAC address (aa:bb:cc:dd:ee:ff)", name, s);
	return dup_out(mac_format(mac, buf, sizeof(buf)), ret);
}

/* A JSON array of addresses as a PostgreSQL array literal "{a,b}". */
static int list_parse(const struct net_field *f, const json_t *v, char **ret, struct api_fail *fail)
{
	size_t i, n = json_array_size(v), used = 0, cap = 3 + n * IPADDR_STRLEN;
	const json_t *e;

	if (!json_is_array(v))
		return api_fail_set(fail, f->name, "%s must be an array of IP addresses", f->name);
	if (f->max > 0 && n > (size_t)f->max)
		return api_fail_set(fail, f->name, "%s takes at most %ld addresses", f->name, f->max);
	char *out = xmalloc(cap);
	out[used++] = '{';
	json_array_foreach(v, i, e)
	{
		char *a = NULL;
		int r = json_is_string(e)
			    ? inet_parse(f->name, json_string_value(e), &a, fail)
			    : api_fail_set(fail, f->name, "%s must be an array of IP address strings", f->name);
		if (r < 0) {
			free(out);
			return r;
		}
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "," : "", a);
		free(a);
	}
	snprintf(out + used, cap - used, "}");
	*ret = out;
	return 0;
}

/* Machine tags: an array of alloc_tag_valid() words, as "{a,b}" (the
 * words need no quoting). */
static int tags_parse(const struct net_field *f, const json_t *v, char **ret, struct api_fail *fail)
{
	size_t i, n = json_array_size(v), used = 0, cap = 3 + n * (ALLOC_TAG_MAX + 1);
	const json_t *e;

	if (!json_is_array(v))
		return api_fail_set(fail, f->name, "%s must be an array of strings", f->name);
	if (f->max > 0 && n > (size_t)f->max)
		return api_fail_set(fail, f->name, "%s takes at most %ld tags", f->name, f->max);
	char *out = xmalloc(cap);
	out[used++] = '{';
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || !alloc_tag_valid(json_string_value(e))) {
			free(out);
			return api_fail_set(fail, f->name,
					    "%s: \"%.64s\" is not a tag (1-%d letters, digits, '.', '_', ':' or '-', "
					    "starting with a letter or digit)",
					    f->name, json_is_string(e) ? json_string_value(e) : "?", ALLOC_TAG_MAX);
		}
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "," : "", json_string_value(e));
	}
	snprintf(out + used, cap - used, "}");
	*ret = out;
	return 0;
}

static int ints_parse(const struct net_field *f, const json_t *v, char **ret, struct api_fail *fail)
{
	size_t i, n = json_array_size(v), used = 0, cap = 3 + n * 24;
	const json_t *e;

	if (!json_is_array(v))
		return api_fail_set(fail, f->name, "%s must be an array of integers", f->name);
	if (n > 64)
		return api_fail_set(fail, f->name, "%s takes at most 64 values", f->name);
	char *out = xmalloc(cap);
	out[used++] = '{';
	json_array_foreach(v, i, e)
	{
		if (!json_is_integer(e) || json_integer_value(e) < f->min || json_integer_value(e) > f->max) {
			free(out);
			return api_fail_set(fail, f->name, "%s must be an array of integers from %ld to %ld", f->name,
					    f->min, f->max);
		}
		used += (size_t)snprintf(out + used, cap - used, "%s%" JSON_INTEGER_FORMAT, i ? "," : "",
					 json_integer_value(e));
	}
	snprintf(out + used, cap - used, "}");
	*ret = out;
	return 0;
}

static int int_parse(const struct net_field *f, const json_t *v, char **ret, struct api_fail *fail)
{
	char buf[24];

	if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
		return api_fail_set(fail, f->name, "%s must be an integer from %ld to %ld", f->name, f->min, f->max);
	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return dup_out(buf, ret);
}

static int ref_parse(const struct net_field *f, const json_t *v, char **ret, struct api_fail *fail)
{
	char buf[24];

	if (json_is_integer(v) && json_integer_value(v) > 0) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return dup_out(buf, ret);
	}
	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= API_NET_REF_MAX &&
	    strlen(json_string_value(v)) == json_string_length(v)) {
		char key[API_NET_REF_MAX + 1];
		/* A subnet is also named as in a path: 10.0.0.0-24. */
		if (f->ref == NET_SUBNET)
			api_net_subnet_key(json_string_value(v), key, sizeof(key));
		else
			snprintf(key, sizeof(key), "%s", json_string_value(v));
		return dup_out(key, ret);
	}
	return api_fail_set(fail, f->name, "%s must be an id (a positive integer) or a name", f->name);
}

static int string_get(const struct net_field *f, const json_t *v, const char **ret, struct api_fail *fail)
{
	if (!json_is_string(v))
		return api_fail_set(fail, f->name, "%s must be a string", f->name);
	/* An embedded NUL would cut the text short without anyone noticing. */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return api_fail_set(fail, f->name, "%s must not contain NUL characters", f->name);
	*ret = json_string_value(v);
	return 0;
}

static int enum_parse(const struct net_field *f, const char *s, char **ret, struct api_fail *fail)
{
	char list[200];
	size_t used = 0;

	for (const char *const *c = f->choices; c && *c; c++)
		if (strcmp(*c, s) == 0)
			return dup_out(s, ret);
	list[0] = '\0';
	for (const char *const *c = f->choices; c && *c && used < sizeof(list); c++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", *c);
	return api_fail_set(fail, f->name, "%s must be one of: %s", f->name, list);
}

int api_net_value_parse(const struct net_field *f, const json_t *v, char **ret, struct api_fail *fail)
{
	const char *s = NULL;

	*ret = NULL;
	if (json_is_null(v)) {
		if (f->flags & NET_F_NULLABLE)
			return 0;
		return api_fail_set(fail, f->name, "%s must not be null", f->name);
	}
	switch (f->type) {
	case NET_T_INT:
		return int_parse(f, v, ret, fail);
	case NET_T_BOOL:
		if (!json_is_boolean(v))
			return api_fail_set(fail, f->name, "%s must be true or false", f->name);
		return dup_out(json_is_true(v) ? "true" : "false", ret);
	case NET_T_LIST:
		return list_parse(f, v, ret, fail);
	case NET_T_INTS:
		return ints_parse(f, v, ret, fail);
	case NET_T_TAGS:
		return tags_parse(f, v, ret, fail);
	case NET_T_REF:
		return ref_parse(f, v, ret, fail);
	default:
		break;
	}
	if (string_get(f, v, &s, fail) < 0)
		return -EINVAL;
	switch (f->type) {
	case NET_T_NAME:
		if (!name_valid(s))
			return api_fail_set(
			    fail, f->name,
			    "%s '%.64s' is not valid: use 1-63 letters, digits, '.', '_' and '-', starting "
			    "with a letter or digit, not all digits",
			    f->name, s);
		return dup_out(s, ret);
	case NET_T_HOST:
		if (!hostname_valid(s))
			return api_fail_set(
			    fail, f->name,
			    "%s '%.64s' is not valid: use one DNS label of 1-63 letters, digits and '-', "
			    "not starting or ending with '-', not all digits",
			    f->name, s);
		return dup_out(s, ret);
	case NET_T_INET:
		return inet_parse(f->name, s, ret, fail);
	case NET_T_CIDR:
		return cidr_parse(f->name, s, ret, fail);
	case NET_T_MAC:
		return mac_text_parse(f->name, s, ret, fail);
	case NET_T_TIME:
		if (!time_valid(s))
			return api_fail_set(fail, f->name, "%s must be an RFC 3339 time such as 2024-05-01T12:00:00Z",
					    f->name);
		return dup_out(s, ret);
	case NET_T_ENUM:
		return enum_parse(f, s, ret, fail);
	default:
		break;
	}
	size_t n = strlen(s);
	if ((long)n < f->min || (f->max > 0 && (long)n > f->max))
		return api_fail_set(fail, f->name, "%s must be %ld to %ld characters long", f->name, f->min, f->max);
	if (text_has_control(s, text_multiline(f)))
		return api_fail_set(fail, f->name, "%s must not contain control characters%s", f->name,
				    text_multiline(f) ? " other than tabs and line breaks" : "");
	return dup_out(s, ret);
}

void api_net_body_done(struct api_net_body *b)
{
	for (size_t i = 0; i < NET_FIELDS_MAX; i++)
		free(b->owned[i]);
	memset(b, 0, sizeof(*b));
}

static int field_list(const struct net_kind_info *k, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < k->n_fields && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", k->fields[i].name);
	return 0;
}

int api_net_body_parse(const struct net_kind_info *k, const json_t *body, bool create, struct api_net_body *ret,
		       struct api_fail *fail)
{
	const char *key;
	json_t *v;
	char names[300];

	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(body))
		return api_fail_set(fail, "", "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v)
	{
		int i = -1;
		for (size_t f = 0; f < k->n_fields; f++)
			if (strcmp(k->fields[f].name, key) == 0)
				i = (int)f;
		if (i < 0) {
			field_list(k, names, sizeof(names));
			api_net_body_done(ret);
			return api_fail_set(fail, key, "unknown field '%.64s'; a %s has: %s", key, k->name, names);
		}
		int r = api_net_value_parse(&k->fields[i], v, &ret->owned[i], fail);
		if (r < 0) {
			api_net_body_done(ret);
			return r;
		}
		ret->in.given |= 1u << i;
		ret->in.val[i] = ret->owned[i];
	}
	for (size_t f = 0; create && f < k->n_fields; f++) {
		if ((k->fields[f].flags & NET_F_REQUIRED) && !ret->in.val[f]) {
			api_net_body_done(ret);
			return api_fail_set(fail, k->fields[f].name, "%s is required", k->fields[f].name);
		}
	}
	for (size_t f = 0; !create && f < k->n_fields; f++) {
		if ((k->fields[f].flags & NET_F_CREATE) && (ret->in.given & (1u << f))) {
			api_net_body_done(ret);
			return api_fail_set(fail, k->fields[f].name, "the %s of a %s cannot be changed",
					    k->fields[f].name, k->name);
		}
	}
	if (!create && ret->in.given == 0) {
		field_list(k, names, sizeof(names));
		return api_fail_set(fail, "", "nothing to change: give at least one of %s", names);
	}
	return 0;
}

int api_net_filter_parse(const struct net_filter_def *f, const char *text, char **ret, struct api_fail *fail)
{
	struct net_field fld = {.name = f->name, .type = f->type, .choices = f->choices, .ref = f->ref};
	json_t *v;

	switch (f->type) {
	case NET_T_INT: {
		char *end;
		long n = strtol(text, &end, 10);
		if (!*text || *end || n < 0 || n > 0x7fffffffL)
			return api_fail_set(fail, f->name, "%s must be a non-negative integer", f->name);
		v = json_integer(n);
		fld.max = 0x7fffffffL;
		break;
	}
	case NET_T_BOOL:
		if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
			return api_fail_set(fail, f->name, "%s must be true or false", f->name);
		v = json_boolean(strcmp(text, "true") == 0);
		break;
	default:
		fld.max = 1024;
		/* NULL for text that is not UTF-8 (a %ff in the query). */
		v = json_string(text);
		if (!v)
			return api_fail_set(fail, f->name, "%s must be UTF-8 text", f->name);
		break;
	}
	if (!v)
		oom_abort(0);
	int r = api_net_value_parse(&fld, v, ret, fail);
	json_decref(v);
	return r;
}

void api_net_subnet_key(const char *segment, char *buf, size_t len)
{
	snprintf(buf, len, "%s", segment);
	char *dash = strrchr(buf, '-');
	if (dash && dash[1] && strspn(dash + 1, "0123456789") == strlen(dash + 1) && strpbrk(buf, ".:"))
		*dash = '/';
}

static json_t *list_json(const char *text)
{
	json_t *arr = json_array();

	for (const char *p = text; arr && p && *p;) {
		size_t n = strcspn(p, " ");
		if (n && json_array_append_new(arr, json_stringn(p, n)) < 0) {
			json_decref(arr);
			return NULL;
		}
		p += n;
		p += *p == ' ';
	}
	return arr;
}

static json_t *ints_json(const char *text)
{
	json_t *arr = json_array();

	for (const char *p = text; arr && p && *p;) {
		char *end;
		long long n = strtoll(p, &end, 10);
		if (end == p || json_array_append_new(arr, json_integer((json_int_t)n)) < 0) {
			json_decref(arr);
			return NULL;
		}
		p = end + (*end == ' ');
	}
	return arr;
}

static json_t *value_json(enum net_type t, const char *v)
{
	if (!v)
		return json_null();
	switch (t) {
	case NET_T_INT:
		return json_integer((json_int_t)strtoll(v, NULL, 10));
	case NET_T_BOOL:
		return json_boolean(v[0] == 't');
	case NET_T_TIME:
		return api_time_json(strtoll(v, NULL, 10));
	case NET_T_LIST:
	case NET_T_TAGS:
		return list_json(v);
	case NET_T_INTS:
		return ints_json(v);
	case NET_T_JSON: {
		json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
		return j ? j : json_null();
	}
	default:
		return json_string(v);
	}
}

json_t *api_net_row_json(const struct net_kind_info *k, const struct net_rows *rows, size_t row)
{
	json_t *o = json_object();

	for (size_t c = 0; o && c < k->n_cols; c++) {
		if (json_object_set_new(o, k->cols[c].name, value_json(k->cols[c].type, net_rows_get(rows, row, c))) <
		    0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *api_net_u128_json(u128 v)
{
	char buf[IPAM_U128_STRLEN];

	if (v < API_JSON_INT_EXACT)
		return json_integer((json_int_t)v);
	return json_string(ipam_u128_format(v, buf, sizeof(buf)));
}

json_t *api_net_addr_json(uint8_t family, u128 a)
{
	struct ipaddr x;
	char buf[IPADDR_STRLEN];

	ipaddr_from_u128(family, a, &x);
	return json_string(ipaddr_format(&x, buf, sizeof(buf)));
}

static json_t *block_json(uint8_t family, const struct ipam_block *b)
{
	if (b->size == 0)
		return json_null();
	return json_pack("{s:o, s:o, s:o}", "start", api_net_addr_json(family, b->first), "end",
			 api_net_addr_json(family, b->last), "size", api_net_u128_json(b->size));
}

json_t *api_net_utilisation_json(const struct ipam_view *v, const char *cidr, const struct ipam_utilisation *u)
{
	uint8_t fam = v->prefix.addr.family;

	return json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:f, s:o, s:o, s:o}", "cidr", cidr, "managed", v->managed,
			 "total", api_net_u128_json(u->total), "used", api_net_u128_json(u->used), "reserved",
			 api_net_u128_json(u->reserved), "available", api_net_u128_json(u->available), "unavailable",
			 api_net_u128_json(u->unavailable), "used_pct", u->used_pct, "dhcp_total",
			 api_net_u128_json(u->dhcp_total), "dhcp_available", api_net_u128_json(u->dhcp_available),
			 "largest_free", block_json(fam, &u->largest_free));
}

json_t *api_net_suggestion_json(const struct ipam_view *v, const struct ipam_suggestion *s)
{
	uint8_t fam = v->prefix.addr.family;
	json_t *dyn = s->has_dynamic ? json_pack("{s:o, s:o}", "start", api_net_addr_json(fam, s->dynamic_first), "end",
						 api_net_addr_json(fam, s->dynamic_last))
				     : json_null();

	return json_pack("{s:o, s:o}", "gateway", s->has_gateway ? api_net_addr_json(fam, s->gateway) : json_null(),
			 "dynamic_range", dyn);
}
