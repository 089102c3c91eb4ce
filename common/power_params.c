/* The power drivers' parameter table and its decoder (common/power_params.h).
 *
 * Pure: no I/O, no globals beyond the constant table. One rule for empty
 * values throughout: "" means not given, so an API client clears a field
 * by sending "" and the driver's default applies again. Messages name the
 * API field ("power_" + name) and never quote a password. */
#include "common/power_params.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/net.h"
#include "common/util.h"

/* Indexes into power_param_defs: the order of the table below. */
enum {
	P_ADDRESS,
	P_USER,
	P_PASS,
	P_PORT,
	P_CIPHER_SUITE,
	P_PRIVILEGE,
	P_WORKAROUNDS,
	P_IPMI_VERSION,
	P_SYSTEM,
	P_VERIFY_TLS,
	P_AUTH,
	P_MAC,
	P_INTERFACE,
	P_BROADCAST,
	P__N,
};

const struct power_param_def power_param_defs[] = {
    [P_ADDRESS] = {"address", "ipmi,redfish", true, false, "",
		   "the BMC: host name or IP address (redfish: also https://HOST[:PORT])"},
    [P_USER] = {"user", "ipmi,redfish", false, false, "", "the BMC user (IPMI: at most 16 bytes)"},
    [P_PASS] = {"pass", "ipmi,redfish", false, true, "",
		"the BMC password; stored encrypted, never shown (IPMI 2.0: at most 20 bytes, 1.5: 16)"},
    [P_PORT] = {"port", "ipmi,redfish,wol", false, false, "623 (ipmi), 443 (redfish), 9 (wol)",
		"the BMC's port (wol: the UDP port of the magic packet), 1-65535"},
    [P_CIPHER_SUITE] = {"cipher_suite", "ipmi", false, false, "3",
			"IPMI 2.0 cipher suite: 0-3, 6-8, 11, 12, 15-17 (3 or 17 are the usual choices)"},
    [P_PRIVILEGE] = {"privilege", "ipmi", false, false, "admin", "session privilege: user, operator or admin"},
    [P_WORKAROUNDS] = {"workarounds", "ipmi", false, false, "",
		       "BMC quirks, a comma list of opensesspriv, authcap, intel20, supermicro20, sun20"},
    [P_IPMI_VERSION] = {"ipmi_version", "ipmi", false, false, "2.0", "2.0 (lanplus) or 1.5 (lan)"},
    [P_SYSTEM] = {"system", "redfish", false, false, "",
		  "the system's path, /redfish/v1/Systems/ID; empty: the service's only system"},
    [P_VERIFY_TLS] = {"verify_tls", "redfish", false, false, "true", "check the BMC's certificate: true or false"},
    [P_AUTH] = {"auth", "redfish", false, false, "session", "session (a Redfish session) or basic (HTTP basic)"},
    [P_MAC] = {"mac", "wol", false, false, "",
	       "the machine's MAC; empty: its first interface's, by name (filled in by the region)"},
    [P_INTERFACE] = {"interface", "wol", false, false, "",
		     "the rack interface to send from; empty: the one on the machine's VLAN (filled in by the region)"},
    [P_BROADCAST] = {"broadcast", "wol", false, false, "255.255.255.255", "the IPv4 address to send the packet to"},
};
const size_t power_param_defs_n = sizeof(power_param_defs) / sizeof(power_param_defs[0]);

static const char *const drivers[] = {"ipmi", "redfish", "wol", "manual"};
#define DRIVERS_TEXT "ipmi, redfish, wol or manual"

static const struct {
	const char *name;
	unsigned flag;
} workaround_names[] = {
    {"opensesspriv", POWER_IPMI_WA_OPENSESSPRIV},
    {"authcap", POWER_IPMI_WA_AUTHCAP},
    {"intel20", POWER_IPMI_WA_INTEL20},
    {"supermicro20", POWER_IPMI_WA_SUPERMICRO20},
    {"sun20", POWER_IPMI_WA_SUN20},
};

/* The cipher suites IPMI 2.0 defines (table 22-20). */
static const unsigned cipher_suites[] = {0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17};

static const char *const privilege_names[] = {
    [POWER_PRIV_USER] = "user", [POWER_PRIV_OPERATOR] = "operator", [POWER_PRIV_ADMIN] = "admin"};

#define IPMI_USER_MAX	16
#define IPMI20_PASS_MAX 20
#define IPMI15_PASS_MAX 16
#define IFNAME_MAX	15 /* IFNAMSIZ - 1 */
#define HOST_MAX	253
#define SYSTEMS_PREFIX	"/redfish/v1/Systems/"
#define KEY_QUOTE_MAX	64 /* of an unknown key or driver, in a message */

/* Is word one of the comma-separated items of list? */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && memcmp(p, word, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

bool power_driver_known(const char *driver)
{
	if (!driver)
		return false;
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(driver, drivers[i]) == 0)
			return true;
	return false;
}

const struct power_param_def *power_param_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < power_param_defs_n; i++)
		if (strcmp(power_param_defs[i].name, name) == 0)
			return &power_param_defs[i];
	return NULL;
}

bool power_param_applies(const char *name, const char *driver)
{
	const struct power_param_def *d = power_param_find(name);
	return d && power_driver_known(driver) && list_has(d->drivers, driver);
}

static unsigned default_port(const char *driver)
{
	if (strcmp(driver, "ipmi") == 0)
		return 623;
	if (strcmp(driver, "redfish") == 0)
		return 443;
	if (strcmp(driver, "wol") == 0)
		return 9;
	return 0;
}

const char *power_param_default(const char *name, const char *driver)
{
	if (!power_param_applies(name, driver))
		return "";
	if (strcmp(name, "port") == 0) {
		switch (default_port(driver)) {
		case 623:
			return "623";
		case 443:
			return "443";
		case 9:
			return "9";
		}
		return "";
	}
	return power_param_find(name)->def;
}

/* ---- error messages ---- */

struct errbuf {
	char *msg;
	size_t len;
};

/* Messages quote what a client sent and go back to it in JSON: only
 * printable ASCII, so they are always valid UTF-8 and one line. */
static void msg_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static int fail(struct errbuf *e, int param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct errbuf *e, int param, const char *fmt, ...)
{
	if (!e->msg || e->len == 0)
		return -EINVAL;
	int n = snprintf(e->msg, e->len, "power_%s: ", power_param_defs[param].name);
	if (n >= 0 && (size_t)n < e->len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg + n, e->len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	msg_sanitize(e->msg);
	return -EINVAL;
}

/* "address, user, pass, ..." for the parameters driver takes. */
static void driver_params_text(const char *driver, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < power_param_defs_n; i++) {
		if (!list_has(power_param_defs[i].drivers, driver))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", power_param_defs[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
	if (!used)
		snprintf(buf, len, "nothing");
}

/* ---- value checks ---- */

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Decimal digits only (no sign, no spaces), value <= max. */
static bool parse_uint(const char *s, unsigned max, unsigned *ret)
{
	unsigned long v = 0;
	if (!*s || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner
 * hyphens, 1-63 bytes each, an optional final dot. */
static bool hostname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n > HOST_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return s[n - 1] != '-';
}

/* Only digits and dots: meant as an IPv4 address, never a host name. */
static bool looks_numeric(const char *s)
{
	return *s && strspn(s, "0123456789.") == strlen(s);
}

/* A host name or an IP address ("[v6]" too) into out, IPv6 without
 * brackets. */
static int check_host(struct errbuf *e, const char *host, char *out, size_t outlen)
{
	char buf[POWER_PARAM_VALUE_MAX];
	struct ipaddr a;
	size_t n = strlen(host);

	if (n >= sizeof(buf))
		return fail(e, P_ADDRESS, "longer than %d bytes", POWER_PARAM_VALUE_MAX - 1);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		if (ipaddr_parse(buf, &a) < 0 || a.family != AF_INET6)
			return fail(e, P_ADDRESS, "'%s' is not an IPv6 address", host);
	} else {
		snprintf(buf, sizeof(buf), "%s", host);
		if (ipaddr_parse(buf, &a) == 0) {
			/* an IP address */
		} else if (strchr(buf, ':')) {
			return fail(e, P_ADDRESS, "'%s' is not an IPv6 address", host);
		} else if (looks_numeric(buf)) {
			return fail(e, P_ADDRESS, "'%s' is not an IPv4 address", host);
		} else if (!hostname_ok(buf)) {
			return fail(e, P_ADDRESS, "'%s' is not a host name or IP address", host);
		}
	}
	snprintf(out, outlen, "%s", buf);
	return 0;
}

/* Redfish's https://HOST[:PORT][/]: host into out, the port (0 = none)
 * into *ret_port. */
static int check_url(struct errbuf *e, const char *url, char *out, size_t outlen, unsigned *ret_port)
{
	const char *auth = url + strlen("https://");
	size_t alen = strcspn(auth, "/?#");
	char host[POWER_PARAM_VALUE_MAX];

	if (auth[alen] && strcmp(auth + alen, "/") != 0)
		return fail(e, P_ADDRESS, "'%s': give the BMC's URL without a path (https://HOST[:PORT])", url);
	if (memchr(auth, '@', alen))
		return fail(e, P_ADDRESS, "'%s': give the user as power_user, not in the URL", url);
	memcpy(host, auth, alen);
	host[alen] = '\0';
	*ret_port = 0;
	char *colon = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
	if (colon) {
		if (*colon == ']')
			colon++;
		*colon = '\0';
		unsigned port;
		if (!parse_uint(colon + 1, 65535, &port) || port == 0)
			return fail(e, P_ADDRESS, "'%s': the port is not 1-65535", url);
		*ret_port = port;
	}
	if (!host[0])
		return fail(e, P_ADDRESS, "'%s' names no host", url);
	return check_host(e, host, out, outlen);
}

static int check_address(struct errbuf *e, const char *driver, const char *v, char *out, size_t outlen,
			 unsigned *ret_port)
{
	*ret_port = 0;
	if (strncasecmp(v, "https://", 8) == 0) {
		if (strcmp(driver, "redfish") != 0)
			return fail(e, P_ADDRESS, "a URL is for redfish; give the BMC's host name or IP address");
		return check_url(e, v, out, outlen, ret_port);
	}
	if (strstr(v, "://")) {
		if (strcmp(driver, "redfish") == 0)
			return fail(e, P_ADDRESS, "'%s': Redfish is reached over https://", v);
		return fail(e, P_ADDRESS, "a URL is for redfish; give the BMC's host name or IP address");
	}
	return check_host(e, v, out, outlen);
}

static int check_mac(struct errbuf *e, int param, const char *v, uint8_t mac[6])
{
	static const uint8_t zero[6];
	if (mac_parse(v, mac) < 0)
		return fail(e, param, "'%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", v);
	if (mac[0] & 1)
		return fail(e, param, "%s is a multicast address, not a machine's", v);
	if (memcmp(mac, zero, 6) == 0)
		return fail(e, param, "%s is not a machine's MAC", v);
	return 0;
}

static int check_workarounds(struct errbuf *e, const char *v, unsigned *ret)
{
	unsigned flags = 0;
	for (const char *p = v; *p;) {
		p += strspn(p, " ,");
		size_t n = strcspn(p, " ,");
		if (!n)
			break;
		size_t i;
		for (i = 0; i < sizeof(workaround_names) / sizeof(workaround_names[0]); i++)
			if (strlen(workaround_names[i].name) == n && strncasecmp(p, workaround_names[i].name, n) == 0)
				break;
		if (i == sizeof(workaround_names) / sizeof(workaround_names[0]))
			return fail(e, P_WORKAROUNDS,
				    "'%.*s' is not one of opensesspriv, authcap, intel20, supermicro20, sun20", (int)n,
				    p);
		flags |= workaround_names[i].flag;
		p += n;
	}
	*ret = flags;
	return 0;
}

static int check_system(struct errbuf *e, const char *v)
{
	size_t plen = strlen(SYSTEMS_PREFIX);
	if (strncmp(v, SYSTEMS_PREFIX, plen) != 0 || !v[plen])
		return fail(e, P_SYSTEM, "'%s' is not a Redfish system path (" SYSTEMS_PREFIX "ID)", v);
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("?#\\\"", *p))
			return fail(e, P_SYSTEM, "'%s' holds a character a path cannot", v);
	if (strstr(v, "//") || strstr(v, "/../") || strstr(v, "/./") || strcmp(v + strlen(v) - 3, "/..") == 0)
		return fail(e, P_SYSTEM, "'%s' is not a plain path", v);
	return 0;
}

static bool ifname_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > IFNAME_MAX || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		return false;
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '/' || *p == ':')
			return false;
	return true;
}

static bool parse_bool(const char *v, bool *ret)
{
	if (strcasecmp(v, "true") == 0)
		*ret = true;
	else if (strcasecmp(v, "false") == 0)
		*ret = false;
	else
		return false;
	return true;
}

/* ---- decode ---- */

/* Gather the values by parameter: the arguments, then the options. */
static int gather(struct errbuf *e, const char *driver, const char *address, const char *user, const char *password,
		  const char *const *keys, const char *const *vals, size_t n, const char *val[P__N])
{
	val[P_ADDRESS] = address && *address ? address : NULL;
	val[P_USER] = user && *user ? user : NULL;
	val[P_PASS] = password && *password ? password : NULL;
	for (size_t i = 0; i < n; i++) {
		const char *key = keys[i] ? keys[i] : "";
		const struct power_param_def *d = power_param_find(key);
		if (!d) {
			char list[256];
			driver_params_text(driver, list, sizeof(list));
			if (e->msg && e->len) {
				snprintf(e->msg, e->len, "power_%.*s: no such parameter; the %s driver takes %s",
					 KEY_QUOTE_MAX, key, driver, list);
				msg_sanitize(e->msg);
			}
			return -EINVAL;
		}
		int id = (int)(d - power_param_defs);
		const char *v = vals[i] ? vals[i] : "";
		if (!*v)
			continue;
		if (val[id])
			return fail(e, id, "given twice");
		val[id] = v;
	}
	for (int id = 0; id < P__N; id++) {
		if (!val[id])
			continue;
		if (strlen(val[id]) >= POWER_PARAM_VALUE_MAX)
			return fail(e, id, "longer than %d bytes", POWER_PARAM_VALUE_MAX - 1);
		/* wol's MAC may come as the address (PowerTarget.address). */
		if (id == P_ADDRESS && strcmp(driver, "wol") == 0)
			continue;
		if (!list_has(power_param_defs[id].drivers, driver))
			return fail(e, id, "not a parameter of the %s driver", driver);
	}
	for (int id = 0; id < P__N; id++)
		if (power_param_defs[id].required && list_has(power_param_defs[id].drivers, driver) && !val[id])
			return fail(e, id, "required by the %s driver", driver);
	return 0;
}

static int decode_ipmi(struct errbuf *e, const char *const val[P__N], struct power_params *p)
{
	if (val[P_IPMI_VERSION]) {
		if (strcmp(val[P_IPMI_VERSION], "1.5") == 0)
			p->ipmi15 = true;
		else if (strcmp(val[P_IPMI_VERSION], "2.0") != 0)
			return fail(e, P_IPMI_VERSION, "'%s' is not 2.0 or 1.5", val[P_IPMI_VERSION]);
	}
	if (strlen(p->user) > IPMI_USER_MAX)
		return fail(e, P_USER, "IPMI user names are at most %d bytes", IPMI_USER_MAX);
	if (strlen(p->password) > (p->ipmi15 ? IPMI15_PASS_MAX : IPMI20_PASS_MAX))
		return fail(e, P_PASS, "IPMI %s passwords are at most %d bytes", p->ipmi15 ? "1.5" : "2.0",
			    p->ipmi15 ? IPMI15_PASS_MAX : IPMI20_PASS_MAX);
	p->cipher_suite = 3;
	if (val[P_CIPHER_SUITE]) {
		const char *v = val[P_CIPHER_SUITE];
		unsigned cs;
		bool known = false;
		if (!parse_uint(v, 255, &cs))
			return fail(e, P_CIPHER_SUITE, "'%s' is not a number; use 3 or 17", v);
		for (size_t i = 0; i < sizeof(cipher_suites) / sizeof(cipher_suites[0]); i++)
			known |= cipher_suites[i] == cs;
		if (!known)
			return fail(e, P_CIPHER_SUITE, "%u is not a cipher suite IPMI 2.0 defines; use 3 or 17", cs);
		if (p->ipmi15)
			return fail(e, P_CIPHER_SUITE,
				    "IPMI 1.5 has no cipher suites; drop it or use "
				    "power_ipmi_version=2.0");
		p->cipher_suite = cs;
	}
	p->privilege = POWER_PRIV_ADMIN;
	if (val[P_PRIVILEGE]) {
		const char *v = val[P_PRIVILEGE];
		if (strcasecmp(v, "user") == 0)
			p->privilege = POWER_PRIV_USER;
		else if (strcasecmp(v, "operator") == 0)
			p->privilege = POWER_PRIV_OPERATOR;
		else if (strcasecmp(v, "admin") == 0)
			p->privilege = POWER_PRIV_ADMIN;
		else
			return fail(e, P_PRIVILEGE, "'%s' is not user, operator or admin", v);
	}
	if (val[P_WORKAROUNDS])
		return check_workarounds(e, val[P_WORKAROUNDS], &p->workarounds);
	return 0;
}

static int decode_redfish(struct errbuf *e, const char *const val[P__N], struct power_params *p)
{
	p->verify_tls = true;
	p->session = true;
	if (val[P_SYSTEM]) {
		int r = check_system(e, val[P_SYSTEM]);
		if (r < 0)
			return r;
		free(p->system);
		p->system = xstrdup(val[P_SYSTEM]);
	}
	if (val[P_VERIFY_TLS] && !parse_bool(val[P_VERIFY_TLS], &p->verify_tls))
		return fail(e, P_VERIFY_TLS, "'%s' is not true or false", val[P_VERIFY_TLS]);
	if (val[P_AUTH]) {
		if (strcasecmp(val[P_AUTH], "session") == 0)
			p->session = true;
		else if (strcasecmp(val[P_AUTH], "basic") == 0)
			p->session = false;
		else
			return fail(e, P_AUTH, "'%s' is not session or basic", val[P_AUTH]);
	}
	return 0;
}

static int decode_wol(struct errbuf *e, const char *const val[P__N], struct power_params *p)
{
	int r;
	if (val[P_MAC] && (r = check_mac(e, P_MAC, val[P_MAC], p->mac)) < 0)
		return r;
	if (val[P_ADDRESS]) {
		uint8_t mac[6];
		if ((r = check_mac(e, P_ADDRESS, val[P_ADDRESS], mac)) < 0)
			return r;
		if (val[P_MAC] && memcmp(mac, p->mac, 6) != 0)
			return fail(e, P_MAC, "%s, but power_address says %s", val[P_MAC], val[P_ADDRESS]);
		memcpy(p->mac, mac, 6);
	}
	if (val[P_INTERFACE]) {
		if (!ifname_ok(val[P_INTERFACE]))
			return fail(e, P_INTERFACE, "'%s' is not an interface name", val[P_INTERFACE]);
		free(p->interface);
		p->interface = xstrdup(val[P_INTERFACE]);
	}
	if (val[P_BROADCAST]) {
		struct ipaddr a;
		if (ipaddr_parse(val[P_BROADCAST], &a) < 0 || a.family != AF_INET)
			return fail(e, P_BROADCAST, "'%s' is not an IPv4 address", val[P_BROADCAST]);
		free(p->broadcast);
		p->broadcast = xstrdup(val[P_BROADCAST]);
	}
	return 0;
}

/* Address and port, which several drivers share. */
static int decode_endpoint(struct errbuf *e, const char *const val[P__N], struct power_params *p)
{
	unsigned url_port = 0;
	if (val[P_ADDRESS] && strcmp(p->driver, "wol") != 0) {
		char host[POWER_PARAM_VALUE_MAX];
		int r = check_address(e, p->driver, val[P_ADDRESS], host, sizeof(host), &url_port);
		if (r < 0)
			return r;
		free(p->address);
		p->address = xstrdup(host);
	}
	p->port = url_port ? url_port : default_port(p->driver);
	if (val[P_PORT]) {
		unsigned port;
		if (!parse_uint(val[P_PORT], 65535, &port) || port == 0)
			return fail(e, P_PORT, "'%s' is not a port (1-65535)", val[P_PORT]);
		if (url_port && port != url_port)
			return fail(e, P_PORT, "%u, but power_address says port %u", port, url_port);
		p->port = port;
	}
	return 0;
}

int power_params_decode(const char *driver, const char *address, const char *user, const char *password,
			const char *const *keys, const char *const *vals, size_t n, struct power_params *ret, char *msg,
			size_t msg_len)
{
	struct errbuf e = {msg, msg_len};
	const char *val[P__N] = {0};
	int r;

	memset(ret, 0, sizeof(*ret));
	if (msg && msg_len)
		msg[0] = '\0';
	if (!driver || !*driver) {
		if (msg && msg_len)
			snprintf(msg, msg_len, "power_type: missing; use " DRIVERS_TEXT);
		return -EINVAL;
	}
	if (!power_driver_known(driver)) {
		if (msg && msg_len) {
			snprintf(msg, msg_len, "power_type: '%.*s' is not a power driver; use " DRIVERS_TEXT,
				 KEY_QUOTE_MAX, driver);
			msg_sanitize(msg);
		}
		return -EINVAL;
	}
	if ((r = gather(&e, driver, address, user, password, keys, vals, n, val)) < 0)
		return r;

	snprintf(ret->driver, sizeof(ret->driver), "%s", driver);
	ret->address = xstrdup("");
	ret->user = xstrdup(val[P_USER] ? val[P_USER] : "");
	ret->password = xstrdup(val[P_PASS] ? val[P_PASS] : "");
	ret->system = xstrdup("");
	ret->interface = xstrdup("");
	ret->broadcast = xstrdup(strcmp(driver, "wol") == 0 ? power_param_defs[P_BROADCAST].def : "");
	if (val[P_USER] && has_control(val[P_USER])) {
		r = fail(&e, P_USER, "holds a control character");
		goto fail;
	}
	if ((r = decode_endpoint(&e, val, ret)) < 0)
		goto fail;
	if (strcmp(driver, "ipmi") == 0)
		r = decode_ipmi(&e, val, ret);
	else if (strcmp(driver, "redfish") == 0)
		r = decode_redfish(&e, val, ret);
	else if (strcmp(driver, "wol") == 0)
		r = decode_wol(&e, val, ret);
	if (r >= 0)
		return 0;
fail:
	power_params_free(ret);
	return r;
}

static void free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void power_params_free(struct power_params *p)
{
	if (!p)
		return;
	free(p->address);
	free(p->user);
	free_secret(p->password);
	free(p->system);
	free(p->interface);
	free(p->broadcast);
	explicit_bzero(p, sizeof(*p));
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

int power_params_copy(struct power_params *dst, const struct power_params *src)
{
	*dst = *src;
	dst->address = dup_or_empty(src->address);
	dst->user = dup_or_empty(src->user);
	dst->password = dup_or_empty(src->password);
	dst->system = dup_or_empty(src->system);
	dst->interface = dup_or_empty(src->interface);
	dst->broadcast = dup_or_empty(src->broadcast);
	return 0;
}

/* ---- render ---- */

static void workarounds_text(unsigned flags, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(workaround_names) / sizeof(workaround_names[0]); i++) {
		if (!(flags & workaround_names[i].flag))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", workaround_names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

/* The value of one parameter of p as text ("" = not set). */
static void param_text(const struct power_params *p, int id, char *buf, size_t len)
{
	static const uint8_t zero[6];
	buf[0] = '\0';
	switch (id) {
	case P_ADDRESS:
		snprintf(buf, len, "%s", p->address ? p->address : "");
		break;
	case P_USER:
		snprintf(buf, len, "%s", p->user ? p->user : "");
		break;
	case P_PORT:
		snprintf(buf, len, "%u", p->port ? p->port : default_port(p->driver));
		break;
	case P_CIPHER_SUITE:
		if (!p->ipmi15) /* 1.5 has none, and decode refuses one */
			snprintf(buf, len, "%u", p->cipher_suite);
		break;
	case P_PRIVILEGE:
		if (p->privilege >= POWER_PRIV_USER && p->privilege <= POWER_PRIV_ADMIN)
			snprintf(buf, len, "%s", privilege_names[p->privilege]);
		break;
	case P_WORKAROUNDS:
		workarounds_text(p->workarounds, buf, len);
		break;
	case P_IPMI_VERSION:
		snprintf(buf, len, "%s", p->ipmi15 ? "1.5" : "2.0");
		break;
	case P_SYSTEM:
		snprintf(buf, len, "%s", p->system ? p->system : "");
		break;
	case P_VERIFY_TLS:
		snprintf(buf, len, "%s", p->verify_tls ? "true" : "false");
		break;
	case P_AUTH:
		snprintf(buf, len, "%s", p->session ? "session" : "basic");
		break;
	case P_MAC:
		if (memcmp(p->mac, zero, 6) != 0)
			mac_format(p->mac, buf, len);
		break;
	case P_INTERFACE:
		snprintf(buf, len, "%s", p->interface ? p->interface : "");
		break;
	case P_BROADCAST:
		snprintf(buf, len, "%s", p->broadcast ? p->broadcast : "");
		break;
	}
}

size_t power_params_render(const struct power_params *p, bool with_defaults, struct power_param_kv *ret, size_t max)
{
	size_t n = 0;
	if (!power_driver_known(p->driver))
		return 0;
	for (int id = 0; id < P__N && n < max; id++) {
		const struct power_param_def *d = &power_param_defs[id];
		if (d->secret || !list_has(d->drivers, p->driver))
			continue;
		param_text(p, id, ret[n].value, sizeof(ret[n].value));
		if (!ret[n].value[0])
			continue;
		if (!with_defaults && id != P_ADDRESS && id != P_USER &&
		    strcmp(ret[n].value, power_param_default(d->name, p->driver)) == 0)
			continue;
		ret[n].name = d->name;
		n++;
	}
	return n;
}
