/* See validate.h. The rows name fields as the .proto does; where a field
 * is, its type, whether it repeats or sits in a oneof come from the
 * protobuf-c descriptor, so a row cannot point at the wrong offset. */
#include "region/rpc/validate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/net.h"
#include "ironrack/v1/region.pb-c.h"

enum rpcv_kind {
	RPCV_NUM,    /* integers (enum, bool): min..max; max < min: any */
	RPCV_TEXT,   /* UTF-8 of at most max bytes */
	RPCV_LINE,   /* the same without control characters */
	RPCV_IFNAME, /* a kernel interface name */
	RPCV_MAC,    /* aa:bb:cc:dd:ee:ff */
	RPCV_IPV4,   /* dotted quad */
	RPCV_IP,     /* IPv4 or IPv6 address */
	RPCV_CIDR,   /* address/prefix */
	RPCV_CHOICE, /* one of choices */
	RPCV_BYTES,  /* at most max bytes */
	RPCV_MSG,    /* a message with its own table */
};

struct rpcv_row {
	const char *name;
	enum rpcv_kind kind;
	int64_t min, max;	    /* RPCV_NUM range; text/bytes: max length */
	size_t count_max;	    /* repeated fields: most elements */
	bool required;		    /* "" refused (syntax kinds) */
	const char *const *choices; /* RPCV_CHOICE, NULL-terminated */
};

struct rpcv_table {
	const ProtobufCMessageDescriptor *desc;
	const struct rpcv_row *rows;
	size_t n;
};

#define ROWS(d, r)                                                                                                     \
	{                                                                                                              \
		&(d), (r), sizeof(r) / sizeof((r)[0])                                                                  \
	}
/* Row makers: a number range, any number, text of at most max bytes. */
#define NUM(n, lo, hi)                                                                                                 \
	{                                                                                                              \
		.name = (n), .kind = RPCV_NUM, .min = (lo), .max = (hi)                                                \
	}
#define ANY(n)                                                                                                         \
	{                                                                                                              \
		.name = (n), .kind = RPCV_NUM, .min = 0, .max = -1                                                     \
	}
#define STR(n, k, mx)                                                                                                  \
	{                                                                                                              \
		.name = (n), .kind = (k), .max = (mx)                                                                  \
	}

static const char *const lease_reasons[] = {"", "decline", "arp", "icmp", "admin", NULL};
static const char *const power_actions[] = {"", "on", "off", "cycle", "query", NULL};
static const char *const power_states[] = {"", "on", "off", "unknown", "error", NULL};

/* ---- Enrol, Register, GetBootConfig ---- */

static const struct rpcv_row enrol_rows[] = {
    STR("secret", RPCV_LINE, RPCV_SECRET_MAX),
    STR("csr_pem", RPCV_TEXT, RPCV_CSR_MAX),
    STR("hostname", RPCV_LINE, RPCV_HOSTNAME_MAX),
    STR("version", RPCV_LINE, RPCV_VERSION_MAX),
};

static const struct rpcv_row interface_rows[] = {
    {.name = "name", .kind = RPCV_IFNAME, .required = true},
    {.name = "mac", .kind = RPCV_MAC},
    {.name = "addresses", .kind = RPCV_CIDR, .count_max = RPCV_ADDRESSES_MAX, .required = true},
    NUM("vlan", 0, 4094),
};

static const struct rpcv_row register_rows[] = {
    STR("hostname", RPCV_LINE, RPCV_HOSTNAME_MAX),
    {.name = "interfaces", .kind = RPCV_MSG, .count_max = RPCV_IFACES_MAX},
    STR("version", RPCV_LINE, RPCV_VERSION_MAX),
};

/* mac's syntax is checked (and a bad one logged) by GetBootConfig itself. */
static const struct rpcv_row boot_config_rows[] = {
    STR("mac", RPCV_TEXT, 64),
    STR("arch", RPCV_LINE, 32),
    {.name = "interface", .kind = RPCV_IFNAME},
};

/* ---- the Session: RackMessage and its bodies ---- */

static const struct rpcv_row status_rows[] = {
    NUM("code", 0, 16),
    STR("message", RPCV_TEXT, RPCV_STATUS_MSG_MAX),
};

static const struct rpcv_row hello_rows[] = {
    ANY("config_version"), STR("version", RPCV_LINE, RPCV_VERSION_MAX),
    STR("ha_endpoint", RPCV_LINE, 300), /* "host:port"; parsed by region/dhcp/ha.c */
};

static const struct rpcv_row heartbeat_rows[] = {
    ANY("sent_unix_ms"),
    ANY("config_version"),
    ANY("uptime_s"),
};

static const struct rpcv_row config_ack_rows[] = {
    ANY("version"),
};

static const struct rpcv_row pong_rows[] = {
    ANY("rack_unix_ms"),
};

static const struct rpcv_row command_result_rows[] = {
    {.name = "pong", .kind = RPCV_MSG},
};

static const struct rpcv_row lease_event_rows[] = {
    NUM("kind", 1, 4),
    {.name = "address", .kind = RPCV_IPV4, .required = true},
    {.name = "mac", .kind = RPCV_MAC},
    STR("hostname", RPCV_LINE, RPCV_HOSTNAME_MAX),
    ANY("subnet_id"),
    ANY("expiry_unix"),
    {.name = "interface", .kind = RPCV_IFNAME},
    {.name = "reason", .kind = RPCV_CHOICE, .choices = lease_reasons},
};

static const struct rpcv_row lease_report_rows[] = {
    {.name = "events", .kind = RPCV_MSG, .count_max = RPCV_LEASE_EVENTS},
    ANY("full"),
    NUM("full_part", 0, 65535),
    ANY("full_last"),
};

static const struct rpcv_row external_dhcp_rows[] = {
    {.name = "interface", .kind = RPCV_IFNAME},
    NUM("vid", 0, 4094),
    ANY("vlan_id"),
    {.name = "servers", .kind = RPCV_IPV4, .count_max = RPCV_EXT_SERVERS, .required = true},
};

static const struct rpcv_row power_result_rows[] = {
    ANY("machine_id"),
    ANY("action_id"),
    {.name = "action", .kind = RPCV_CHOICE, .choices = power_actions},
    ANY("ok"),
    {.name = "state", .kind = RPCV_CHOICE, .choices = power_states},
    STR("error", RPCV_TEXT, RPCV_STATUS_MSG_MAX),
    ANY("needs_person"),
    ANY("at_unix_ms"),
    ANY("attempts"),
    ANY("duration_ms"),
};

static const struct rpcv_row power_report_rows[] = {
    {.name = "results", .kind = RPCV_MSG, .count_max = RPCV_POWER_RESULTS},
    ANY("full"),
};

static const struct rpcv_row agent_report_rows[] = {
    STR("purpose", RPCV_LINE, 16),
    STR("token", RPCV_LINE, RPCV_TOKEN_MAX),
    {.name = "mac", .kind = RPCV_MAC},
    {.name = "client_address", .kind = RPCV_IP},
    {.name = "interface", .kind = RPCV_IFNAME},
    STR("inventory", RPCV_BYTES, RPCV_INVENTORY_MAX),
    ANY("received_unix_ms"),
};

/* Discovery (docs/discovery.md): what the rack's neighbour table saw. */
static const struct rpcv_row neighbour_event_rows[] = {
    NUM("kind", 1, 4),
    {.name = "interface", .kind = RPCV_IFNAME, .required = true},
    NUM("vid", 0, 4094),
    ANY("vlan_id"),
    {.name = "address", .kind = RPCV_IP, .required = true},
    {.name = "mac", .kind = RPCV_MAC},
    {.name = "old_mac", .kind = RPCV_MAC},
    STR("hostname", RPCV_LINE, RPCV_HOSTNAME_MAX),
    NUM("first_seen_unix_ms", 0, INT64_MAX),
    NUM("last_seen_unix_ms", 0, INT64_MAX),
};

static const struct rpcv_row neighbour_report_rows[] = {
    {.name = "events", .kind = RPCV_MSG, .count_max = RPCV_NEIGH_EVENTS},
    ANY("dropped"),
};

/* DHCP HA (docs/dhcp-ha.md): the rack's view of its pairs. "" from a
 * rack that predates pair states. */
static const char *const ha_states[] = {"",	  "recover", "normal", "communications-interrupted", "partner-down",
					"fenced", NULL};

static const struct rpcv_row ha_pair_status_rows[] = {
    ANY("vlan_id"),
    NUM("vid", 0, 4094),
    NUM("role", 1, 2),
    STR("partner_rack_id", RPCV_LINE, 64),
    ANY("link_up"),
    NUM("since_unix_ms", 0, INT64_MAX),
    NUM("last_contact_unix_ms", 0, INT64_MAX),
    ANY("refused"),
    STR("last_error", RPCV_LINE, 256),
    {.name = "state", .kind = RPCV_CHOICE, .choices = ha_states},
    NUM("state_since_unix_ms", 0, INT64_MAX),
    ANY("unacked"),
    ANY("free_own"),
    ANY("free_partner"),
    ANY("conflicts"),
    {.name = "recent_conflicts", .kind = RPCV_MSG, .count_max = 16},
};

static const struct rpcv_row ha_conflict_rows[] = {
    {.name = "ip", .kind = RPCV_IPV4, .required = true},
    STR("kept_client", RPCV_LINE, 64),
    STR("lost_client", RPCV_LINE, 64),
    NUM("at_unix_ms", 0, INT64_MAX),
    NUM("kind", 1, 2),
};

static const struct rpcv_row ha_status_report_rows[] = {
    {.name = "pairs", .kind = RPCV_MSG, .count_max = 4096},
};

static const struct rpcv_row rack_message_rows[] = {
    ANY("request_id"),
    ANY("deadline_unix_ms"),
    {.name = "status", .kind = RPCV_MSG},
    {.name = "hello", .kind = RPCV_MSG},
    {.name = "heartbeat", .kind = RPCV_MSG},
    {.name = "config_ack", .kind = RPCV_MSG},
    {.name = "result", .kind = RPCV_MSG},
    {.name = "lease_report", .kind = RPCV_MSG},
    {.name = "external_dhcp", .kind = RPCV_MSG},
    {.name = "power_report", .kind = RPCV_MSG},
    {.name = "agent_report", .kind = RPCV_MSG},
    {.name = "neighbour_report", .kind = RPCV_MSG},
    {.name = "ha_status", .kind = RPCV_MSG},
};

static const struct rpcv_table rpcv_tables[] = {
    ROWS(ironrack__v1__enrol_request__descriptor, enrol_rows),
    ROWS(ironrack__v1__interface__descriptor, interface_rows),
    ROWS(ironrack__v1__register_request__descriptor, register_rows),
    ROWS(ironrack__v1__boot_config_request__descriptor, boot_config_rows),
    ROWS(ironrack__v1__status__descriptor, status_rows),
    ROWS(ironrack__v1__hello__descriptor, hello_rows),
    ROWS(ironrack__v1__heartbeat__descriptor, heartbeat_rows),
    ROWS(ironrack__v1__config_ack__descriptor, config_ack_rows),
    ROWS(ironrack__v1__pong__descriptor, pong_rows),
    ROWS(ironrack__v1__command_result__descriptor, command_result_rows),
    ROWS(ironrack__v1__lease_event__descriptor, lease_event_rows),
    ROWS(ironrack__v1__lease_report__descriptor, lease_report_rows),
    ROWS(ironrack__v1__external_dhcp_report__descriptor, external_dhcp_rows),
    ROWS(ironrack__v1__power_result__descriptor, power_result_rows),
    ROWS(ironrack__v1__power_report__descriptor, power_report_rows),
    ROWS(ironrack__v1__agent_report__descriptor, agent_report_rows),
    ROWS(ironrack__v1__neighbour_event__descriptor, neighbour_event_rows),
    ROWS(ironrack__v1__neighbour_report__descriptor, neighbour_report_rows),
    ROWS(ironrack__v1__ha_pair_status__descriptor, ha_pair_status_rows),
    ROWS(ironrack__v1__ha_conflict__descriptor, ha_conflict_rows),
    ROWS(ironrack__v1__ha_status_report__descriptor, ha_status_report_rows),
    ROWS(ironrack__v1__rack_message__descriptor, rack_message_rows),
};

static const struct rpcv_table *rpcv_table_of(const ProtobufCMessageDescriptor *desc)
{
	for (size_t i = 0; i < sizeof(rpcv_tables) / sizeof(rpcv_tables[0]); i++) {
		if (rpcv_tables[i].desc == desc)
			return &rpcv_tables[i];
	}
	return NULL;
}

/* ---- single values ---- */

bool rpcv_is_text(const char *s, size_t max, bool line)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	while (p[n]) {
		if (n >= max)
			return false;
		unsigned char c = p[n];
		size_t len = c < 0x80			? 1
			     : (c >= 0xc2 && c <= 0xdf) ? 2
			     : (c >= 0xe0 && c <= 0xef) ? 3
			     : (c >= 0xf0 && c <= 0xf4) ? 4
							: 0;
		if (len == 0)
			return false;
		uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[n + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[n + k] & 0x3fu);
		}
		static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if (line && (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)))
			return false;
		n += len;
	}
	return n <= max;
}

/* What the kernel takes (dev_valid_name): 1..15 bytes, not "." or "..",
 * no '/', ':' or whitespace; here also printable ASCII only. */
bool rpcv_is_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > RPCV_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == ':')
			return false;
	}
	return true;
}

bool rpcv_is_mac(const char *s)
{
	uint8_t mac[6];
	return strlen(s) == 17 && mac_parse(s, mac) == 0;
}

bool rpcv_is_ipv4(const char *s)
{
	struct in_addr a;
	return strlen(s) < INET_ADDRSTRLEN && inet_pton(AF_INET, s, &a) == 1;
}

bool rpcv_is_ip(const char *s)
{
	struct in6_addr a;
	return rpcv_is_ipv4(s) || (strlen(s) < INET6_ADDRSTRLEN && inet_pton(AF_INET6, s, &a) == 1);
}

bool rpcv_is_cidr(const char *s)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	const char *len = slash + 1;
	size_t digits = strspn(len, "0123456789");
	if (digits == 0 || digits > 3 || len[digits] != '\0' || (digits > 1 && len[0] == '0'))
		return false;
	long prefix = strtol(len, NULL, 10);
	if (rpcv_is_ipv4(addr))
		return prefix <= 32;
	return rpcv_is_ip(addr) && prefix <= 128;
}

/* ---- the walk ---- */

struct rpcv_walk {
	struct rpcv_error *err;
	char path[128];
};

static int rpcv_fail(struct rpcv_walk *w, const char *message)
{
	snprintf(w->err->field, sizeof(w->err->field), "%s", w->path);
	snprintf(w->err->message, sizeof(w->err->message), "%s", message);
	return -EINVAL;
}

static int rpcv_message(struct rpcv_walk *w, const ProtobufCMessage *msg);

static int rpcv_string(struct rpcv_walk *w, const struct rpcv_row *row, const char *s)
{
	char why[96];
	if (!s)
		s = "";
	switch (row->kind) {
	case RPCV_TEXT:
	case RPCV_LINE:
		if (!rpcv_is_text(s, (size_t)row->max, false)) {
			snprintf(why, sizeof(why), "%s", strlen(s) > (size_t)row->max ? "" : "not valid UTF-8");
			if (!why[0])
				snprintf(why, sizeof(why), "longer than %lld bytes", (long long)row->max);
			return rpcv_fail(w, why);
		}
		if (row->kind == RPCV_LINE && !rpcv_is_text(s, (size_t)row->max, true))
			return rpcv_fail(w, "holds control characters");
		return 0;
	case RPCV_CHOICE:
		for (const char *const *c = row->choices; *c; c++) {
			if (strcmp(*c, s) == 0)
				return 0;
		}
		return rpcv_fail(w, "not one of the values the contract names");
	default:
		break;
	}
	if (!s[0])
		return row->required ? rpcv_fail(w, "must not be empty") : 0;
	switch (row->kind) {
	case RPCV_IFNAME:
		return rpcv_is_ifname(s) ? 0
					 : rpcv_fail(w, "not an interface name (1-15 characters, no '/', ':', space)");
	case RPCV_MAC:
		return rpcv_is_mac(s) ? 0 : rpcv_fail(w, "not aa:bb:cc:dd:ee:ff");
	case RPCV_IPV4:
		return rpcv_is_ipv4(s) ? 0 : rpcv_fail(w, "not an IPv4 address");
	case RPCV_IP:
		return rpcv_is_ip(s) ? 0 : rpcv_fail(w, "not an IP address");
	case RPCV_CIDR:
		return rpcv_is_cidr(s) ? 0 : rpcv_fail(w, "not an address/prefix");
	default:
		return rpcv_fail(w, "not a string field in the contract");
	}
}

static int64_t rpcv_int_of(const ProtobufCFieldDescriptor *f, const void *p, bool *ret_unsigned_big)
{
	*ret_unsigned_big = false;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int32_t *)p;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return *(const uint32_t *)p;
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return *(const int64_t *)p;
	default: {
		uint64_t u = *(const uint64_t *)p;
		*ret_unsigned_big = u > INT64_MAX;
		return (int64_t)u;
	}
	}
}

/* One value of field f at p (the field itself, or one array element). */
static int rpcv_value(struct rpcv_walk *w, const struct rpcv_row *row, const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return rpcv_string(w, row, *(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		if (row->kind != RPCV_BYTES)
			return rpcv_fail(w, "not a bytes field in the contract");
		return b->len > (size_t)row->max ? rpcv_fail(w, "too long") : 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;
		if (row->kind != RPCV_MSG)
			return rpcv_fail(w, "not a message field in the contract");
		return m ? rpcv_message(w, m) : 0;
	}
	default: {
		bool big;
		int64_t v = rpcv_int_of(f, p, &big);
		if (row->kind != RPCV_NUM)
			return rpcv_fail(w, "not a number field in the contract");
		if (row->max < row->min)
			return 0;
		if (big || v < row->min || v > row->max) {
			char why[96];
			snprintf(why, sizeof(why), "must be %lld..%lld", (long long)row->min, (long long)row->max);
			return rpcv_fail(w, why);
		}
		return 0;
	}
	}
}

static size_t rpcv_elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	default:
		return 4;
	}
}

static int rpcv_field(struct rpcv_walk *w, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
		      const struct rpcv_row *row)
{
	const char *base = (const char *)msg;
	size_t plen = strlen(w->path);
	int rc = 0;

	snprintf(w->path + plen, sizeof(w->path) - plen, "%s%s", plen ? "." : "", f->name);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
			goto done;
	}
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		const char *arr = *(const char *const *)(base + f->offset);
		size_t here = strlen(w->path);
		if (n > row->count_max) {
			char why[96];
			snprintf(why, sizeof(why), "more than %zu elements", row->count_max);
			rc = rpcv_fail(w, why);
			goto done;
		}
		for (size_t i = 0; rc == 0 && i < n; i++) {
			snprintf(w->path + here, sizeof(w->path) - here, "[%zu]", i);
			rc = rpcv_value(w, row, f, arr + i * rpcv_elem_size(f));
		}
	} else {
		rc = rpcv_value(w, row, f, base + f->offset);
	}
done:
	if (rc == 0)
		w->path[plen] = '\0';
	return rc;
}

static int rpcv_message(struct rpcv_walk *w, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const struct rpcv_table *t = rpcv_table_of(d);
	if (!t)
		return 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const struct rpcv_row *row = NULL;
		for (size_t k = 0; k < t->n && !row; k++) {
			if (strcmp(t->rows[k].name, f->name) == 0)
				row = &t->rows[k];
		}
		/* A field added to the contract without a row is refused
		 * when set; the unit test lists every field without one. */
		static const struct rpcv_row none = NUM("", 0, 0);
		int rc = rpcv_field(w, msg, f, row ? row : &none);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int rpc_validate(const ProtobufCMessage *msg, struct rpcv_error *err)
{
	struct rpcv_walk w = {.err = err};
	memset(err, 0, sizeof(*err));
	return rpcv_message(&w, msg);
}

int rpc_validate_packed(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, struct rpcv_error *err)
{
	memset(err, 0, sizeof(*err));
	if (!rpcv_table_of(desc))
		return -ENOENT;
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, data);
	if (!m)
		return -EBADMSG;
	int rc = rpc_validate(m, err);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

const char *rpcv_error_text(const struct rpcv_error *err, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", err->field, err->field[0] ? ": " : "", err->message);
	return buf;
}

size_t rpcv_rows_missing(char *buf, size_t size)
{
	size_t missing = 0, o = 0;
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(rpcv_tables) / sizeof(rpcv_tables[0]); i++) {
		const ProtobufCMessageDescriptor *d = rpcv_tables[i].desc;
		for (unsigned k = 0; k < d->n_fields; k++) {
			bool found = false;
			for (size_t r = 0; r < rpcv_tables[i].n && !found; r++)
				found = strcmp(rpcv_tables[i].rows[r].name, d->fields[k].name) == 0;
			if (d->fields[k].type == PROTOBUF_C_TYPE_MESSAGE && !rpcv_table_of(d->fields[k].descriptor))
				found = false;
			if (!found) {
				missing++;
				if (o < size)
					o += (size_t)snprintf(buf + o, size - o, "%s.%s ", d->short_name,
							      d->fields[k].name);
			}
		}
	}
	return missing;
}
