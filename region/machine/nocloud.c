/* The NoCloud seed: meta-data, user-data and network-config version 2
 * rendered from a model (see nocloud.h). Pure: no I/O.
 *
 * The YAML is written by hand, so every value that is a string is written
 * double-quoted: YAML 1.1 readers (PyYAML, so cloud-init) read an
 * unquoted 00:11:22:33:44:55 as a base-60 number, 802.3ad as a float and
 * an interface called "on" or "yes" as a boolean. Everything quoted is
 * checked before (names, MACs, addresses) or is printable ASCII escaped
 * for double quotes (instance id, SSH keys). */
#include "region/machine/nocloud.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/net.h"
#include "common/util.h"

/* ---- an output buffer ---- */

struct out {
	char *p;
	size_t len, cap;
};

static void out_add(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 512;
		while (o->len + n + 1 > cap)
			cap *= 2;
		o->p = xrealloc(o->p, cap);
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) out_printf(struct out *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Only short fixed texts and checked values go through here. */
	if (n >= 0)
		out_add(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* s as a YAML double-quoted scalar. Callers pass printable ASCII. */
static void out_quoted(struct out *o, const char *s)
{
	out_add(o, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			char e[2] = {'\\', *s};
			out_add(o, e, 2);
		} else {
			out_add(o, s, 1);
		}
	}
	out_add(o, "\"", 1);
}

/* "PREFIX"quoted"\n" */
static void out_line_q(struct out *o, const char *prefix, const char *value)
{
	out_str(o, prefix);
	out_quoted(o, value);
	out_add(o, "\n", 1);
}

/* ---- checks ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A Linux interface name we are willing to write: 1-15 characters, no
 * ':' (the kernel refuses it), '/', '@' or spaces. */
static bool ifname_ok(const char *s)
{
	size_t n = strnlen(s, 16);
	if (n == 0 || n > 15 || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* One DNS label. */
static bool hostname_ok(const char *s)
{
	size_t n = strnlen(s, 64);
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static const char *const bond_modes[] = {"balance-rr", "active-backup", "balance-xor", "broadcast",
					 "802.3ad",    "balance-tlb",	"balance-alb"};

static bool bond_mode_ok(const char *s)
{
	if (!s[0])
		return true;
	for (size_t i = 0; i < sizeof(bond_modes) / sizeof(bond_modes[0]); i++)
		if (strcmp(s, bond_modes[i]) == 0)
			return true;
	return false;
}

/* A unicast, non-zero MAC in canonical lower-case text. */
static int mac_canon(const char *s, char out[MAC_STRLEN])
{
	uint8_t mac[6];
	if (mac_parse(s, mac) < 0 || (mac[0] & 1))
		return -EINVAL;
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	mac_format(mac, out, MAC_STRLEN);
	return 0;
}

/* "ADDRESS/LEN" (host bits kept), canonical. */
static int addr_canon(const char *s, char out[IPPREFIX_STRLEN])
{
	char a[IPADDR_STRLEN];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	struct ipaddr ip;
	if (ipaddr_parse(a, &ip) < 0)
		return -EINVAL;
	const char *l = slash + 1;
	size_t nl = strlen(l);
	if (nl == 0 || nl > 3 || strspn(l, "0123456789") != nl || (nl > 1 && l[0] == '0'))
		return -EINVAL;
	unsigned len = (unsigned)atoi(l);
	if (len == 0 || len > ipaddr_bits(&ip))
		return -EINVAL;
	char buf[IPADDR_STRLEN];
	snprintf(out, IPPREFIX_STRLEN, "%s/%u", ipaddr_format(&ip, buf, sizeof(buf)), len);
	return 0;
}

/* An address, of family fam (0 = either), canonical. */
static int ip_canon(const char *s, int fam, char out[IPADDR_STRLEN])
{
	struct ipaddr ip;
	if (ipaddr_parse(s, &ip) < 0 || (fam && ip.family != fam))
		return -EINVAL;
	ipaddr_format(&ip, out, IPADDR_STRLEN);
	return 0;
}

static const struct nocloud_iface *find_iface(const struct nocloud_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_ifaces; i++)
		if (strcmp(m->ifaces[i].name, name) == 0)
			return &m->ifaces[i];
	return NULL;
}

/* The bond holding ethernet name, NULL if none. */
static const struct nocloud_iface *bond_of(const struct nocloud_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_ifaces; i++) {
		const struct nocloud_iface *b = &m->ifaces[i];
		if (b->kind != NOCLOUD_BOND)
			continue;
		for (size_t j = 0; j < b->n_members && j < NOCLOUD_MEMBERS_MAX; j++)
			if (strcmp(b->members[j], name) == 0)
				return b;
	}
	return NULL;
}

static bool has_ip_config(const struct nocloud_iface *f)
{
	return f->dhcp4 || f->dhcp6 || f->n_addrs || f->gateway4[0] || f->gateway6[0] || f->n_dns || f->n_routes;
}

/* What every kind of interface carries: addresses, gateways, DNS, routes. */
static int check_ip_config(const struct nocloud_iface *f, char *msg, size_t msg_len)
{
	char buf[IPPREFIX_STRLEN];
	if (f->n_addrs > NOCLOUD_ADDRS_MAX || f->n_dns > NOCLOUD_DNS_MAX || f->n_routes > NOCLOUD_ROUTES_MAX) {
		err_set(msg, msg_len, "interface %s: more addresses, DNS servers or routes than a seed holds", f->name);
		return -EINVAL;
	}
	if (f->mtu && (f->mtu < 68 || f->mtu > 65535)) {
		err_set(msg, msg_len, "interface %s: MTU %u is not within 68-65535", f->name, f->mtu);
		return -EINVAL;
	}
	for (size_t i = 0; i < f->n_addrs; i++)
		if (addr_canon(f->addrs[i], buf) < 0) {
			err_set(msg, msg_len, "interface %s: address '%.50s' is not ADDRESS/PREFIXLEN", f->name,
				f->addrs[i]);
			return -EINVAL;
		}
	if (f->gateway4[0] && ip_canon(f->gateway4, AF_INET, buf) < 0) {
		err_set(msg, msg_len, "interface %s: gateway4 '%.46s' is not an IPv4 address", f->name, f->gateway4);
		return -EINVAL;
	}
	if (f->gateway6[0] && ip_canon(f->gateway6, AF_INET6, buf) < 0) {
		err_set(msg, msg_len, "interface %s: gateway6 '%.46s' is not an IPv6 address", f->name, f->gateway6);
		return -EINVAL;
	}
	/* cloud-init drops a gateway6 on an interface without a static
	 * IPv6 address, silently. */
	bool has_v6 = false;
	for (size_t i = 0; i < f->n_addrs; i++)
		has_v6 |= strchr(f->addrs[i], ':') != NULL;
	if (f->gateway6[0] && !has_v6) {
		err_set(msg, msg_len, "interface %s: gateway6 without an IPv6 address of its own", f->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < f->n_dns; i++)
		if (ip_canon(f->dns[i], 0, buf) < 0) {
			err_set(msg, msg_len, "interface %s: DNS server '%.46s' is not an address", f->name, f->dns[i]);
			return -EINVAL;
		}
	for (size_t i = 0; i < f->n_routes; i++) {
		const struct nocloud_route *r = &f->routes[i];
		struct ipprefix to;
		if (ipprefix_parse(r->to, true, &to) < 0 || !strchr(r->to, '/') || to.len == 0 ||
		    ip_canon(r->via, to.addr.family, buf) < 0) {
			err_set(msg, msg_len,
				"interface %s: route to '%.50s' via '%.46s' is not NETWORK/LEN (not /0: "
				"default routes come from the gateways) via an address of its family",
				f->name, r->to, r->via);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_iface(const struct nocloud_model *m, size_t idx, char *msg, size_t msg_len)
{
	const struct nocloud_iface *f = &m->ifaces[idx];
	char mac[MAC_STRLEN];

	if (!ifname_ok(f->name)) {
		err_set(msg, msg_len, "interface '%.16s' is not a Linux interface name (1-15 of A-Z a-z 0-9 . _ -)",
			f->name);
		return -EINVAL;
	}
	for (size_t j = 0; j < idx; j++)
		if (strcmp(m->ifaces[j].name, f->name) == 0) {
			err_set(msg, msg_len, "two interfaces are called %s", f->name);
			return -EINVAL;
		}
	switch (f->kind) {
	case NOCLOUD_ETHERNET:
		if (mac_canon(f->mac, mac) < 0) {
			err_set(msg, msg_len, "interface %s: MAC '%.18s' is not a unicast aa:bb:cc:dd:ee:ff", f->name,
				f->mac);
			return -EINVAL;
		}
		for (size_t j = 0; j < idx; j++) {
			char other[MAC_STRLEN];
			const struct nocloud_iface *g = &m->ifaces[j];
			if (g->kind == NOCLOUD_ETHERNET && mac_canon(g->mac, other) == 0 && strcmp(mac, other) == 0) {
				err_set(msg, msg_len, "interfaces %s and %s have one MAC %s", g->name, f->name, mac);
				return -EINVAL;
			}
		}
		if (bond_of(m, f->name) && has_ip_config(f)) {
			err_set(msg, msg_len,
				"interface %s is a member of bond %s and cannot have addresses of its own", f->name,
				bond_of(m, f->name)->name);
			return -EINVAL;
		}
		break;
	case NOCLOUD_VLAN: {
		const struct nocloud_iface *p = find_iface(m, f->parent);
		if (f->vlan_id < 1 || f->vlan_id > 4094) {
			err_set(msg, msg_len, "VLAN %s: id %u is not within 1-4094", f->name, f->vlan_id);
			return -EINVAL;
		}
		if (!p || p->kind == NOCLOUD_VLAN || (p->kind == NOCLOUD_ETHERNET && bond_of(m, p->name))) {
			err_set(msg, msg_len, "VLAN %s: its link '%.16s' is not an ethernet or bond of the machine",
				f->name, f->parent);
			return -EINVAL;
		}
		break;
	}
	case NOCLOUD_BOND:
		if (f->mac[0] && mac_canon(f->mac, mac) < 0) {
			err_set(msg, msg_len, "bond %s: MAC '%.18s' is not a unicast aa:bb:cc:dd:ee:ff", f->name,
				f->mac);
			return -EINVAL;
		}
		if (!bond_mode_ok(f->bond_mode)) {
			err_set(msg, msg_len,
				"bond %s: mode '%.24s' is not one of balance-rr, active-backup, "
				"balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb",
				f->name, f->bond_mode);
			return -EINVAL;
		}
		if (f->n_members == 0 || f->n_members > NOCLOUD_MEMBERS_MAX) {
			err_set(msg, msg_len, "bond %s needs 1-%d members", f->name, NOCLOUD_MEMBERS_MAX);
			return -EINVAL;
		}
		for (size_t j = 0; j < f->n_members; j++) {
			const struct nocloud_iface *e = find_iface(m, f->members[j]);
			if (!e || e->kind != NOCLOUD_ETHERNET) {
				err_set(msg, msg_len, "bond %s: member '%.16s' is not an ethernet of the machine",
					f->name, f->members[j]);
				return -EINVAL;
			}
			if (bond_of(m, e->name) != f) {
				err_set(msg, msg_len, "interface %s is a member of two bonds", e->name);
				return -EINVAL;
			}
			for (size_t k = 0; k < j; k++)
				if (strcmp(f->members[k], f->members[j]) == 0) {
					err_set(msg, msg_len, "bond %s names member %s twice", f->name, e->name);
					return -EINVAL;
				}
		}
		break;
	default:
		err_set(msg, msg_len, "interface %s: unknown kind %d", f->name, (int)f->kind);
		return -EINVAL;
	}
	return check_ip_config(f, msg, msg_len);
}

static int check_model(const struct nocloud_model *m, char *msg, size_t msg_len)
{
	if (!hostname_ok(m->hostname)) {
		err_set(msg, msg_len, "hostname '%.64s' is not one DNS label", m->hostname);
		return -EINVAL;
	}
	if (!printable_ascii(m->instance_id, sizeof(m->instance_id) - 1) || strchr(m->instance_id, ' ')) {
		err_set(msg, msg_len, "instance id '%.80s' is empty or not printable ASCII without spaces",
			m->instance_id);
		return -EINVAL;
	}
	if (m->n_ifaces > NOCLOUD_IFACES_MAX) {
		err_set(msg, msg_len, "%zu interfaces: a seed holds at most %d", m->n_ifaces, NOCLOUD_IFACES_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < m->n_ifaces; i++) {
		int r = check_iface(m, i, msg, msg_len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- network-config ---- */

/* Which interfaces hold the default routes: the first with a gateway of
 * each family (one default route per family on a host). */
struct defaults {
	const struct nocloud_iface *v4, *v6;
};

static void render_ip_config(struct out *o, const struct nocloud_iface *f, const struct defaults *d)
{
	char buf[IPPREFIX_STRLEN], via[IPADDR_STRLEN];

	if (f->mtu)
		out_printf(o, "    mtu: %u\n", f->mtu);
	if (f->dhcp4)
		out_str(o, "    dhcp4: true\n");
	if (f->dhcp6)
		out_str(o, "    dhcp6: true\n");
	if (f->n_addrs) {
		out_str(o, "    addresses:\n");
		for (size_t i = 0; i < f->n_addrs; i++) {
			addr_canon(f->addrs[i], buf);
			out_line_q(o, "      - ", buf);
		}
	}
	/* The IPv4 default route as "to: 0.0.0.0/0": "to: default" is taken
	 * by netplan only from 0.103 and by cloud-init's own parser (used
	 * where netplan is not the renderer: Debian's ifupdown, networkd)
	 * only from 25.3; gateway4 is deprecated. The IPv6 one as gateway6,
	 * deprecated but read by all: cloud-init before 23.1 (Debian 12's
	 * 22.4.2) turns "to: ::/0" into a route to ::/64. */
	bool gw4 = d->v4 == f;
	if (d->v6 == f) {
		ip_canon(f->gateway6, AF_INET6, via);
		out_line_q(o, "    gateway6: ", via);
	}
	if (gw4 || f->n_routes) {
		out_str(o, "    routes:\n");
		if (gw4) {
			ip_canon(f->gateway4, AF_INET, via);
			out_line_q(o, "      - to: ", "0.0.0.0/0");
			out_line_q(o, "        via: ", via);
		}
		for (size_t i = 0; i < f->n_routes; i++) {
			struct ipprefix to;
			ipprefix_parse(f->routes[i].to, true, &to);
			ip_canon(f->routes[i].via, to.addr.family, via);
			out_line_q(o, "      - to: ", ipprefix_format(&to, buf, sizeof(buf)));
			out_line_q(o, "        via: ", via);
			if (f->routes[i].metric)
				out_printf(o, "        metric: %u\n", f->routes[i].metric);
		}
	}
	if (f->n_dns) {
		out_str(o, "    nameservers:\n      addresses:\n");
		for (size_t i = 0; i < f->n_dns; i++) {
			ip_canon(f->dns[i], 0, via);
			out_line_q(o, "        - ", via);
		}
	}
}

static void render_section(struct out *o, const struct nocloud_model *m, enum nocloud_iface_kind kind,
			   const char *title, const struct defaults *d)
{
	char mac[MAC_STRLEN];
	bool any = false;

	for (size_t i = 0; i < m->n_ifaces; i++) {
		const struct nocloud_iface *f = &m->ifaces[i];
		if (f->kind != kind)
			continue;
		if (!any)
			out_printf(o, "%s:\n", title);
		any = true;
		out_str(o, "  ");
		out_quoted(o, f->name);
		out_str(o, ":\n");
		switch (kind) {
		case NOCLOUD_ETHERNET:
			mac_canon(f->mac, mac);
			out_line_q(o, "    match:\n      macaddress: ", mac);
			out_line_q(o, "    set-name: ", f->name);
			break;
		case NOCLOUD_VLAN:
			out_printf(o, "    id: %u\n", f->vlan_id);
			out_line_q(o, "    link: ", f->parent);
			break;
		case NOCLOUD_BOND:
			out_str(o, "    interfaces:\n");
			for (size_t j = 0; j < f->n_members; j++)
				out_line_q(o, "      - ", f->members[j]);
			if (f->mac[0]) {
				mac_canon(f->mac, mac);
				out_line_q(o, "    macaddress: ", mac);
			}
			if (f->bond_mode[0])
				out_line_q(o, "    parameters:\n      mode: ", f->bond_mode);
			break;
		}
		render_ip_config(o, f, d);
	}
	if (!any && kind == NOCLOUD_ETHERNET)
		out_printf(o, "%s: {}\n", title);
}

static char *render_network(const struct nocloud_model *m)
{
	struct out o = {0};
	struct defaults d = {0};

	for (size_t i = 0; i < m->n_ifaces; i++) {
		if (!d.v4 && m->ifaces[i].gateway4[0])
			d.v4 = &m->ifaces[i];
		if (!d.v6 && m->ifaces[i].gateway6[0])
			d.v6 = &m->ifaces[i];
	}
	out_str(&o, "version: 2\n");
	render_section(&o, m, NOCLOUD_ETHERNET, "ethernets", &d);
	render_section(&o, m, NOCLOUD_BOND, "bonds", &d);
	render_section(&o, m, NOCLOUD_VLAN, "vlans", &d);
	return o.p;
}

/* ---- user-data ---- */

static bool ssh_key_ok(const char *k)
{
	if (!printable_ascii(k, NOCLOUD_SSH_KEY_MAX))
		return false;
	/* A key type among the fields (options may come first): catches a
	 * file name or a private key passed by mistake. */
	for (const char *p = k; p; p = strchr(p, ' ')) {
		p += *p == ' ';
		if (strncmp(p, "ssh-", 4) == 0 || strncmp(p, "ecdsa-sha2-", 11) == 0 || strncmp(p, "sk-", 3) == 0)
			return true;
	}
	return false;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

/* Length of the line at s, without its end ("\n" or "\r\n"). */
static size_t line_len(const char *s)
{
	size_t n = strcspn(s, "\n");
	return n && s[n - 1] == '\r' ? n - 1 : n;
}

static const char *next_line(const char *s)
{
	const char *nl = strchr(s, '\n');
	return nl ? nl + 1 : NULL;
}

/* The first line is #cloud-config (trailing blanks allowed): what
 * cloud-init takes as cloud-config ("#cloud-config-archive" is another
 * type). */
static bool is_cloud_config(const char *ud)
{
	size_t n = line_len(ud);
	while (n && (ud[n - 1] == ' ' || ud[n - 1] == '\t'))
		n--;
	return n == 13 && strncmp(ud, "#cloud-config", 13) == 0;
}

/* A top-level "ssh_authorized_keys:" line: its start, NULL if none. */
static const char *find_keys_line(const char *ud)
{
	for (const char *l = ud; l; l = next_line(l)) {
		if (strncmp(l, "ssh_authorized_keys", 19) != 0)
			continue;
		const char *p = l + 19;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ':')
			return l;
	}
	return NULL;
}

/* The keys to add: those not in the user-data already (anywhere in it:
 * the text is not parsed) and not given twice. */
static size_t new_keys(const struct nocloud_model *m, const char *ud, const char **ret)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_ssh_keys; i++) {
		bool dup = strstr(ud, m->ssh_keys[i]) != NULL;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(m->ssh_keys[i], ret[j]) == 0;
		if (!dup)
			ret[n++] = m->ssh_keys[i];
	}
	return n;
}

static void out_keys(struct out *o, const char *const *keys, size_t n, const char *indent)
{
	for (size_t i = 0; i < n; i++) {
		out_str(o, indent);
		out_line_q(o, "- ", keys[i]);
	}
}

/* The keys go into an existing top-level ssh_authorized_keys: right after
 * its line, as items indented like the list's own (a null value becomes a
 * list). A value on the key's line (a flow list or a scalar) is refused:
 * rewriting it is guesswork. */
static int merge_keys(struct out *o, const char *const *keys, size_t n, const char *ud, const char *key_line, char *msg,
		      size_t msg_len)
{
	const char *p = key_line + 19;
	while (*p == ' ' || *p == '\t')
		p++;
	p++; /* the colon */
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\n' && *p != '\r' && *p != '#' && *p) {
		err_set(msg, msg_len,
			"the user-data's ssh_authorized_keys has its value on the key's line; write it "
			"as a block list (one '- KEY' per line) or give no SSH keys with the deploy");
		return -EINVAL;
	}
	char indent[64] = "  ";
	for (const char *l = next_line(key_line); l; l = next_line(l)) {
		size_t sp = strspn(l, " ");
		char c = l[sp];
		if (c == '\n' || c == '\r' || c == '#')
			continue;
		if (c == '-' && (l[sp + 1] == ' ' || l[sp + 1] == '\n' || l[sp + 1] == '\r') && sp < sizeof(indent)) {
			memset(indent, ' ', sp);
			indent[sp] = '\0';
		}
		break;
	}
	const char *after = next_line(key_line);
	size_t head = after ? (size_t)(after - ud) : strlen(ud);
	out_add(o, ud, head);
	if (!after)
		out_str(o, "\n");
	out_keys(o, keys, n, indent);
	if (after)
		out_str(o, after);
	return 0;
}

static int render_user_data(const struct nocloud_model *m, char **ret, char *msg, size_t msg_len)
{
	const char *ud = m->user_data ? m->user_data : "";
	struct out o = {0};

	for (size_t i = 0; i < m->n_ssh_keys; i++)
		if (!m->ssh_keys[i] || !ssh_key_ok(m->ssh_keys[i])) {
			err_set(msg, msg_len,
				"SSH key %zu is not one authorized_keys line of printable ASCII with a key "
				"type (ssh-*, ecdsa-sha2-*, sk-*)",
				i + 1);
			return -EINVAL;
		}
	if (m->n_ssh_keys == 0) {
		*ret = xstrdup(ud);
		return 0;
	}
	if (blank(ud)) {
		const char **keys = xcalloc(m->n_ssh_keys, sizeof(*keys));
		size_t n = new_keys(m, "", keys);
		out_str(&o, "#cloud-config\nssh_authorized_keys:\n");
		out_keys(&o, keys, n, "  ");
		free(keys);
		*ret = o.p;
		return 0;
	}
	if (!is_cloud_config(ud)) {
		err_set(msg, msg_len,
			"SSH keys can only be added to user-data that is #cloud-config (its first "
			"line); put the keys in the user-data yourself or leave them out");
		return -EINVAL;
	}
	const char **keys = xcalloc(m->n_ssh_keys, sizeof(*keys));
	size_t n = new_keys(m, ud, keys);
	const char *key_line = find_keys_line(ud);
	int r = 0;
	if (n == 0) {
		out_str(&o, ud);
	} else if (key_line) {
		r = merge_keys(&o, keys, n, ud, key_line, msg, msg_len);
	} else {
		out_str(&o, ud);
		if (ud[strlen(ud) - 1] != '\n')
			out_str(&o, "\n");
		out_str(&o, "ssh_authorized_keys:\n");
		out_keys(&o, keys, n, "  ");
	}
	free(keys);
	if (r < 0) {
		free(o.p);
		return r;
	}
	*ret = o.p;
	return 0;
}

/* ---- the seed ---- */

int nocloud_build(const struct nocloud_model *m, struct nocloud_seed *ret, char *msg, size_t msg_len)
{
	char *user_data;
	int r = check_model(m, msg, msg_len);
	if (r < 0)
		return r;
	r = render_user_data(m, &user_data, msg, msg_len);
	if (r < 0)
		return r;
	struct out meta = {0};
	out_line_q(&meta, "instance-id: ", m->instance_id);
	out_line_q(&meta, "local-hostname: ", m->hostname);
	ret->meta_data = meta.p;
	ret->user_data = user_data;
	ret->network_config = render_network(m);
	return 0;
}

void nocloud_seed_free(struct nocloud_seed *s)
{
	if (!s)
		return;
	free(s->meta_data);
	free(s->user_data);
	free(s->network_config);
	s->meta_data = s->user_data = s->network_config = NULL;
}
