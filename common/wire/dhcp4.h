/* BOOTP/DHCPv4 wire codec: RFC 951/2131 messages and RFC 2132 options,
 * with option overload (option 52), long options (RFC 3396), relay agent
 * information (RFC 3046/3527/5107), PXE options (RFC 4578) and user class
 * (RFC 3004).
 *
 * Pure: bytes <-> struct dhcp4_msg, no I/O, no clock, no logging, no
 * globals, no allocation. Whether a request makes sense (a REQUEST without
 * a server id, a lease time of 0) is the engine's decision
 * (rack/dhcp/engine.h); the codec checks syntax only.
 *
 * Representation:
 *   - ciaddr, yiaddr, siaddr, giaddr and every address an accessor returns
 *     are uint32_t in NETWORK byte order (as in struct in_addr.s_addr), so
 *     they can be memcpy'd to and from the wire and sockaddr_in.
 *     dhcp4_ip_to_ipaddr() converts to common/net.h's struct ipaddr.
 *   - xid, secs and flags are in HOST byte order.
 *   - sname and file are always NUL-terminated text (one spare byte), and
 *     every byte after the first NUL is zero: the decoder copies a field up
 *     to its first NUL. After overload handling they hold only their own
 *     text; a field that carried options decodes as "".
 *   - Options are a list in order of first appearance. Each code appears at
 *     most once: the instances of one code are concatenated as RFC 3396
 *     says (options field, then file, then sname), so a list entry may be
 *     longer than 255 bytes. Values live in the message's own arena
 *     (optbuf) and entries hold offsets, not pointers, so a struct
 *     dhcp4_msg is self-contained and may be copied with memcpy or
 *     assignment; decode never allocates. Option 52 is not in the list: the
 *     decoder consumes it (.overload says what it said) and the encoder
 *     writes it when it needs it. PAD (0) and END (255) are never in the
 *     list.
 *
 * Decoding rules, chosen so that every input has one meaning:
 *   - Under 240 bytes (236-byte header + magic cookie): -EBADMSG. op other
 *     than 1 or 2, hlen > 16, or a cookie other than 99.130.83.99: -EBADMSG.
 *   - An option whose length byte or value runs past the end of its field:
 *     -EBADMSG. END is required by RFC 2131 but many clients end the packet
 *     without one; a field that ends exactly after a complete option (or
 *     PAD) is accepted as if END followed. Bytes after END are ignored.
 *   - Option 52 must be in the options field, 1 byte (all its instances
 *     concatenated), value 1 (file), 2 (sname) or 3 (both); anything else
 *     is -EBADMSG. An option 52 inside file or sname is ignored: it never
 *     re-triggers overload, so there are no loops.
 *   - Concatenated option data above DHCP4_OPTBUF_MAX bytes: -EBADMSG.
 *   - Typed accessors check lengths: a known option with the wrong length
 *     is -EBADMSG from the accessor, not from decode, so one bad option does
 *     not hide the rest of the message from the engine.
 *
 * Encoding: options in list order; a value over 255 bytes is split into
 * consecutive instances (RFC 3396); when the options do not fit the size
 * limit and file and/or sname are empty, option 52 is added and the
 * remaining options continue in file, then sname (each ended with END);
 * the options field always ends with END; the message is zero-padded to
 * 300 bytes (BOOTP minimum, required by many PXE ROMs).
 *
 * For every message the encoder accepts, decode(encode(m)) equals m as
 * dhcp4_msg_equal() sees it (overload and arena layout ignored). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipaddr;

#define DHCP4_SERVER_PORT 67
#define DHCP4_CLIENT_PORT 68

#define DHCP4_HEADER_LEN     236 /* fixed BOOTP header, up to the cookie */
#define DHCP4_COOKIE_LEN     4
#define DHCP4_OPTIONS_OFFSET 240 /* header + cookie */
#define DHCP4_BOOTP_MIN_LEN  300 /* the encoder pads to this */
#define DHCP4_MIN_MAX_SIZE   576 /* smallest legal option 57 value (RFC 2132 9.10) */
#define DHCP4_IP_UDP_LEN     28	 /* option 57 counts IP + UDP headers too */
#define DHCP4_COOKIE	     0x63825363u

#define DHCP4_CHADDR_LEN 16
#define DHCP4_SNAME_LEN	 64
#define DHCP4_FILE_LEN	 128

#define DHCP4_OPTIONS_MAX 254	/* one entry per code 1..254 at most */
#define DHCP4_OPTBUF_MAX  16384 /* concatenated option data per message */

#define DHCP4_BOOTREQUEST 1
#define DHCP4_BOOTREPLY	  2

#define DHCP4_HTYPE_ETHER    1
#define DHCP4_FLAG_BROADCAST 0x8000

/* Option 52 values, and bits of struct dhcp4_msg .overload. */
#define DHCP4_OVERLOAD_FILE  1
#define DHCP4_OVERLOAD_SNAME 2

/* Option 53. */
enum dhcp4_msg_type {
	DHCP4_DISCOVER = 1,
	DHCP4_OFFER = 2,
	DHCP4_REQUEST = 3,
	DHCP4_DECLINE = 4,
	DHCP4_ACK = 5,
	DHCP4_NAK = 6,
	DHCP4_RELEASE = 7,
	DHCP4_INFORM = 8,
	DHCP4_FORCERENEW = 9,
	DHCP4_LEASEQUERY = 10,
	DHCP4_LEASEUNASSIGNED = 11,
	DHCP4_LEASEUNKNOWN = 12,
	DHCP4_LEASEACTIVE = 13,
	DHCP4_BULKLEASEQUERY = 14,
	DHCP4_LEASEQUERYDONE = 15,
	DHCP4_ACTIVELEASEQUERY = 16,
	DHCP4_LEASEQUERYSTATUS = 17,
	DHCP4_TLS = 18,
};

enum dhcp4_option_code {
	DHCP4_OPT_PAD = 0,
	DHCP4_OPT_SUBNET_MASK = 1,
	DHCP4_OPT_TIME_OFFSET = 2,
	DHCP4_OPT_ROUTER = 3,
	DHCP4_OPT_DNS = 6,
	DHCP4_OPT_HOSTNAME = 12,
	DHCP4_OPT_DOMAIN_NAME = 15,
	DHCP4_OPT_MTU = 26,
	DHCP4_OPT_BROADCAST = 28,
	DHCP4_OPT_STATIC_ROUTES = 33,
	DHCP4_OPT_NTP = 42,
	DHCP4_OPT_VENDOR_INFO = 43,
	DHCP4_OPT_REQUESTED_IP = 50,
	DHCP4_OPT_LEASE_TIME = 51,
	DHCP4_OPT_OVERLOAD = 52,
	DHCP4_OPT_MSG_TYPE = 53,
	DHCP4_OPT_SERVER_ID = 54,
	DHCP4_OPT_PARAM_LIST = 55,
	DHCP4_OPT_MESSAGE = 56,
	DHCP4_OPT_MAX_SIZE = 57,
	DHCP4_OPT_RENEWAL_TIME = 58,
	DHCP4_OPT_REBINDING_TIME = 59,
	DHCP4_OPT_VENDOR_CLASS = 60,
	DHCP4_OPT_CLIENT_ID = 61,
	DHCP4_OPT_TFTP_SERVER = 66,
	DHCP4_OPT_BOOTFILE = 67,
	DHCP4_OPT_USER_CLASS = 77,
	DHCP4_OPT_RAPID_COMMIT = 80,
	DHCP4_OPT_FQDN = 81,
	DHCP4_OPT_RELAY_INFO = 82,
	DHCP4_OPT_CLIENT_ARCH = 93,
	DHCP4_OPT_CLIENT_NDI = 94,
	DHCP4_OPT_UUID = 97,
	DHCP4_OPT_DOMAIN_SEARCH = 119,
	DHCP4_OPT_CLASSLESS_ROUTES = 121,
	DHCP4_OPT_END = 255,
};

/* Option 82 sub-options. */
#define DHCP4_RAI_CIRCUIT_ID	     1
#define DHCP4_RAI_REMOTE_ID	     2
#define DHCP4_RAI_LINK_SELECTION     5	/* RFC 3527 */
#define DHCP4_RAI_SERVER_ID_OVERRIDE 11 /* RFC 5107 */

/* Option 93 client system architecture types (RFC 4578, IANA registry). */
#define DHCP4_ARCH_BIOS		  0
#define DHCP4_ARCH_EFI_IA32	  6
#define DHCP4_ARCH_EFI_X64	  7
#define DHCP4_ARCH_EFI_BC	  9 /* often sent by x86-64 UEFI firmware */
#define DHCP4_ARCH_EFI_ARM32	  10
#define DHCP4_ARCH_EFI_ARM64	  11
#define DHCP4_ARCH_EFI_X64_HTTP	  16
#define DHCP4_ARCH_EFI_ARM64_HTTP 19

struct dhcp4_option {
	uint8_t code;
	uint16_t len; /* concatenated length; may exceed 255 */
	uint16_t off; /* value at msg->optbuf + off */
};

struct dhcp4_msg {
	uint8_t op; /* DHCP4_BOOTREQUEST or DHCP4_BOOTREPLY */
	uint8_t htype;
	uint8_t hlen; /* <= DHCP4_CHADDR_LEN */
	uint8_t hops;
	uint32_t xid;				 /* host order */
	uint16_t secs;				 /* host order */
	uint16_t flags;				 /* host order; DHCP4_FLAG_BROADCAST */
	uint32_t ciaddr, yiaddr, siaddr, giaddr; /* network order */
	uint8_t chaddr[DHCP4_CHADDR_LEN];
	char sname[DHCP4_SNAME_LEN + 1]; /* NUL-terminated, zero after the NUL */
	char file[DHCP4_FILE_LEN + 1];	 /* NUL-terminated, zero after the NUL */
	/* Decode only: DHCP4_OVERLOAD_* bits of the option 52 received.
	 * The encoder ignores it and decides for itself. */
	uint8_t overload;
	uint16_t n_options;
	struct dhcp4_option options[DHCP4_OPTIONS_MAX];
	uint16_t optbuf_used;
	uint8_t optbuf[DHCP4_OPTBUF_MAX];
};

/* An empty message (all zero, no options). */
void dhcp4_msg_init(struct dhcp4_msg *m);

/* A reply to req: op BOOTREPLY; htype, hlen, xid, flags, giaddr and chaddr
 * copied from req; everything else zero; option 53 = type (first option). */
void dhcp4_msg_reply_init(struct dhcp4_msg *reply, const struct dhcp4_msg *req, uint8_t type);

/* Decode one BOOTP/DHCP message. 0 on success; -EBADMSG when malformed,
 * with *ret_why (if ret_why is not NULL) set to a short static reason such
 * as "bad magic cookie". *ret is overwritten either way. */
int dhcp4_msg_decode(const uint8_t *buf, size_t len, struct dhcp4_msg *ret, const char **ret_why);

/* Encode m into buf. max_size is the largest message the receiver accepts,
 * counted as option 57 counts it (IP and UDP headers included); values
 * below 576 are taken as 576 (use dhcp4_msg_reply_max_size() for a reply).
 * Returns the length written (>= 300); -ENOSPC if buf is too small;
 * -EMSGSIZE if the options do not fit max_size even with overload;
 * -EINVAL if m cannot be encoded (hlen > 16, sname or file text too long,
 * an option 0, 52 or 255 in the list, the same code twice). */
int dhcp4_msg_encode(const struct dhcp4_msg *m, size_t max_size, uint8_t *buf, size_t len);
/* The length dhcp4_msg_encode() would return for m and max_size with a
 * large enough buffer (-EMSGSIZE, -EINVAL alike), without writing: to
 * decide which options a reply can carry (RFC 2131 4.3.1). */
int dhcp4_msg_encoded_len(const struct dhcp4_msg *m, size_t max_size);

/* Equal field by field and option by option (same codes, order and
 * values)? .overload and the layout of optbuf are not compared. */
bool dhcp4_msg_equal(const struct dhcp4_msg *a, const struct dhcp4_msg *b);

/* ---- options: raw access and building ---------------------------------- */

/* The value of option code, or NULL if absent (a present zero-length
 * option gives a non-NULL pointer and *ret_len 0). Points into m->optbuf:
 * valid while m lives and its options are not changed. */
const uint8_t *dhcp4_msg_option(const struct dhcp4_msg *m, uint8_t code, size_t *ret_len);
bool dhcp4_msg_has_option(const struct dhcp4_msg *m, uint8_t code);

/* Set option code to len bytes of data (copied), replacing its value in
 * place if present (keeping its position), appending it otherwise.
 * -EINVAL for code 0, 52 or 255; -ENOSPC when the arena or option table is
 * full (m unchanged). len may exceed 255; the encoder splits it. */
int dhcp4_msg_option_set(struct dhcp4_msg *m, uint8_t code, const void *data, size_t len);
/* Remove option code; 0, or -ENOENT if absent. */
int dhcp4_msg_option_remove(struct dhcp4_msg *m, uint8_t code);

/* Typed setters (same rules as dhcp4_msg_option_set). ip and ips are
 * network order; u16/u32/i32 are written big-endian; string without its
 * NUL. */
int dhcp4_msg_set_u8(struct dhcp4_msg *m, uint8_t code, uint8_t v);
int dhcp4_msg_set_u16(struct dhcp4_msg *m, uint8_t code, uint16_t v);
int dhcp4_msg_set_u32(struct dhcp4_msg *m, uint8_t code, uint32_t v);
int dhcp4_msg_set_ip(struct dhcp4_msg *m, uint8_t code, uint32_t ip);
int dhcp4_msg_set_ips(struct dhcp4_msg *m, uint8_t code, const uint32_t *ips, size_t n);
int dhcp4_msg_set_string(struct dhcp4_msg *m, uint8_t code, const char *s);

/* Typed getters: 0, -ENOENT when absent, -EBADMSG when the length is
 * wrong (u8 1, u16 2, u32 and ip 4). ip in network order. */
int dhcp4_msg_get_u8(const struct dhcp4_msg *m, uint8_t code, uint8_t *ret);
int dhcp4_msg_get_u16(const struct dhcp4_msg *m, uint8_t code, uint16_t *ret);
int dhcp4_msg_get_u32(const struct dhcp4_msg *m, uint8_t code, uint32_t *ret);
int dhcp4_msg_get_ip(const struct dhcp4_msg *m, uint8_t code, uint32_t *ret);

/* ---- convenience accessors for what the server reads -------------------- */

/* Option 53: the type (1..255), -ENOENT (plain BOOTP), -EBADMSG. */
int dhcp4_msg_type(const struct dhcp4_msg *m);
const char *dhcp4_msg_type_name(unsigned type); /* "DISCOVER", ..., "?" */

int dhcp4_msg_requested_ip(const struct dhcp4_msg *m, uint32_t *ret); /* 50 */
int dhcp4_msg_server_id(const struct dhcp4_msg *m, uint32_t *ret);    /* 54 */
int dhcp4_msg_lease_time(const struct dhcp4_msg *m, uint32_t *ret);   /* 51, seconds */
/* Option 57 as sent; -EBADMSG also when below 576. */
int dhcp4_msg_max_size(const struct dhcp4_msg *m, uint16_t *ret);
/* The max_size to pass to dhcp4_msg_encode() for a reply to req: req's
 * option 57 when valid, else 576. */
size_t dhcp4_msg_reply_max_size(const struct dhcp4_msg *req);

/* Byte-string options; NULL when absent. Same lifetime as
 * dhcp4_msg_option(). Text is not NUL-terminated. */
const uint8_t *dhcp4_msg_client_id(const struct dhcp4_msg *m, size_t *ret_len);	 /* 61 */
const uint8_t *dhcp4_msg_param_list(const struct dhcp4_msg *m, size_t *ret_len); /* 55 */
const char *dhcp4_msg_vendor_class(const struct dhcp4_msg *m, size_t *ret_len);	 /* 60 */
const char *dhcp4_msg_hostname(const struct dhcp4_msg *m, size_t *ret_len);	 /* 12 */
const uint8_t *dhcp4_msg_fqdn(const struct dhcp4_msg *m, size_t *ret_len);	 /* 81, raw */
/* Does the parameter request list (55) ask for code? */
bool dhcp4_msg_requests(const struct dhcp4_msg *m, uint8_t code);
/* Does option 60 start with prefix (e.g. "PXEClient", "HTTPClient")? */
bool dhcp4_msg_vendor_class_has_prefix(const struct dhcp4_msg *m, const char *prefix);

/* Option 77 (RFC 3004): a list of (length, data) instances. Iterate with
 * *pos starting at 0: 1 and the next instance, 0 at the end, -EBADMSG if
 * an instance runs past the end or has length 0. */
int dhcp4_user_class_next(const uint8_t *data, size_t len, size_t *pos, const uint8_t **ret, size_t *ret_len);
/* Is name one of the user classes? True when an RFC 3004 instance equals
 * name, or when the whole option equals name: iPXE and some other clients
 * send plain text ("iPXE") rather than RFC 3004 format. */
bool dhcp4_msg_has_user_class(const struct dhcp4_msg *m, const char *name);

/* Option 93: the architecture types (up to n stored in ret). Returns how
 * many the option holds (possibly more than n), -ENOENT, or -EBADMSG for
 * an empty or odd-length option. */
int dhcp4_msg_client_arch(const struct dhcp4_msg *m, uint16_t *ret, size_t n);

/* Option 94 (RFC 4578): interface type (1 = UNDI) and version. */
struct dhcp4_ndi {
	uint8_t type, major, minor;
};
int dhcp4_msg_client_ndi(const struct dhcp4_msg *m, struct dhcp4_ndi *ret); /* len must be 3 */

/* Option 97: type 0 followed by the 16-byte GUID (len must be 17). */
int dhcp4_msg_uuid(const struct dhcp4_msg *m, uint8_t ret[16]);

/* Option 82. Pointers point into the option value (same lifetime as
 * dhcp4_msg_option()); NULL when the sub-option is absent. Unknown
 * sub-options are skipped; a repeated sub-option: the first wins. */
struct dhcp4_relay_info {
	const uint8_t *circuit_id; /* 1 */
	size_t circuit_id_len;
	const uint8_t *remote_id; /* 2 */
	size_t remote_id_len;
	bool has_link_selection;     /* 5, RFC 3527 */
	uint32_t link_selection;     /* network order */
	bool has_server_id_override; /* 11, RFC 5107 */
	uint32_t server_id_override; /* network order */
};
/* 0, -ENOENT, or -EBADMSG (a sub-option past the end; 5 or 11 not 4 bytes). */
int dhcp4_relay_info_parse(const uint8_t *data, size_t len, struct dhcp4_relay_info *ret);
int dhcp4_msg_relay_info(const struct dhcp4_msg *m, struct dhcp4_relay_info *ret);

/* ---- option value encoders ---------------------------------------------- */

/* Option 121 (RFC 3442) / 33-like routes: destination and gateway in
 * network order, prefix length 0..32. */
struct dhcp4_route {
	uint32_t dest;
	uint8_t prefix_len;
	uint32_t gateway;
};
/* Encode n routes as an option 121 value. Host bits of dest beyond
 * prefix_len are not encoded (RFC 3442 significant octets only). Returns
 * the length, -EINVAL (prefix_len > 32), -ENOSPC. */
int dhcp4_routes_encode(const struct dhcp4_route *routes, size_t n, uint8_t *buf, size_t len);
/* Decode an option 121 value: the number of routes (up to n stored),
 * or -EBADMSG. */
int dhcp4_routes_decode(const uint8_t *data, size_t len, struct dhcp4_route *ret, size_t n);

/* Option 119 (RFC 3397): names ("example.com", trailing dot optional) as
 * DNS wire format, uncompressed. Returns the length, -EINVAL (empty label,
 * label over 63, name over 255), -ENOSPC. */
int dhcp4_domain_search_encode(const char *const *names, size_t n, uint8_t *buf, size_t len);

/* ---- DHCP snippets --------------------------------------------------------- */

#define DHCP4_SNIPPET_MAX 1024 /* longest encoded snippet value */

/* Encode a snippet value given as text: type is one of
 *   "u8" "u16" "u32" "i32"  decimal (or 0x hex) integer in range
 *   "bool"                  true/false, yes/no, on/off, 1/0 -> 1 byte
 *   "ip"                    dotted quad
 *   "ips"                   dotted quads separated by commas and/or spaces
 *   "string"                the text as is (no NUL, not empty)
 *   "hex"                   bytes as hex, optionally separated by ':' or ' '
 *   "routes"                "PREFIX[ via] GATEWAY" entries separated by
 *                           commas, e.g. "10.0.0.0/8 via 192.0.2.1"
 *                           (option 121 encoding; host bits must be 0)
 * code must be 1..254 and not one the server owns (52 overload, 53 type).
 * Writes the option value (no code/length header; the encoder splits long
 * values) to buf and returns its length; -EINVAL with *ret_why a short
 * static reason; -ENOSPC if buf is too small. Pure: the region validates
 * snippets with it and the rack encodes them with it. */
int dhcp4_snippet_encode(unsigned code, const char *type, const char *value, uint8_t *buf, size_t len,
			 const char **ret_why);

/* ---- misc ----------------------------------------------------------------- */

/* A network-order v4 address as a struct ipaddr (common/net.h). */
void dhcp4_ip_to_ipaddr(uint32_t ip, struct ipaddr *ret);
