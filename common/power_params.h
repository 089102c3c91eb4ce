/* The power drivers' parameters: which exist, which driver takes which,
 * their defaults and how they are checked. One table for both daemons:
 * the region validates a machine's parameters on write with it (errors
 * name the API field, "power_cipher_suite: ..."), the rack decodes what
 * the region sends in a PowerTarget with it (ironrack.v1.PowerTarget:
 * driver, address, user, password, options map).
 *
 * API field names are "power_" + the parameter name: power_type (the
 * driver), power_address, power_user, power_pass (secret: write-only),
 * and the options below (power_cipher_suite=17, power_verify_tls=false).
 * docs/power.md is the operator's version of this table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POWER_DRIVER_NAME_MAX 16

/* IPMI workaround flags (FreeIPMI's names; power_workarounds=a,b). */
enum {
	POWER_IPMI_WA_OPENSESSPRIV = 1u << 0, /* RMCP+ Open Session privilege quirk (ipmi_sim, many BMCs) */
	POWER_IPMI_WA_AUTHCAP = 1u << 1,      /* bad Get Channel Authentication Capabilities answers */
	POWER_IPMI_WA_INTEL20 = 1u << 2,      /* Intel 2.0 session quirks */
	POWER_IPMI_WA_SUPERMICRO20 = 1u << 3, /* Supermicro 2.0 session quirks */
	POWER_IPMI_WA_SUN20 = 1u << 4,	      /* Sun/Oracle 2.0 session quirks */
};

enum power_privilege { POWER_PRIV_USER = 2, POWER_PRIV_OPERATOR = 3, POWER_PRIV_ADMIN = 4 };

struct power_params {
	char driver[POWER_DRIVER_NAME_MAX]; /* ipmi | redfish | wol | manual */
	char *address;			    /* ipmi, redfish: BMC host name or IP; "" otherwise */
	char *user;			    /* "" = none */
	char *password;			    /* "" = none */
	unsigned port;			    /* 0 = the driver's (623, 443, 9) */

	/* ipmi */
	unsigned cipher_suite;		/* default 3 */
	enum power_privilege privilege; /* default admin */
	unsigned workarounds;		/* POWER_IPMI_WA_* */
	bool ipmi15;			/* power_ipmi_version=1.5: IPMI 1.5 LAN instead of 2.0 lanplus */

	/* redfish */
	char *system;	 /* power_system: "/redfish/v1/Systems/X"; "" = discover (the only member) */
	bool verify_tls; /* power_verify_tls, default true */
	bool session;	 /* power_auth=session (default) | basic */

	/* wol */
	uint8_t mac[6];	 /* power_mac: the machine's MAC (the region fills in the boot interface's) */
	char *interface; /* power_interface: the rack interface on the machine's VLAN (the region fills it in) */
	char *broadcast; /* power_broadcast, default 255.255.255.255 */
};

/* One parameter: for --help, docs and the API. */
struct power_param_def {
	const char *name;    /* without "power_" */
	const char *drivers; /* "ipmi,redfish" */
	bool required;
	bool secret;
	const char *def; /* default as text, "" if none */
	const char *help;
};
extern const struct power_param_def power_param_defs[];
extern const size_t power_param_defs_n;

/* The row of a parameter (name without "power_"), NULL if there is none. */
const struct power_param_def *power_param_find(const char *name);
/* Does driver take the parameter? false for unknown names or drivers. The
 * region drops the old driver's options with it when power_type changes. */
bool power_param_applies(const char *name, const char *driver);
/* The driver's default for the parameter as text ("623" for ipmi's port),
 * "" when it has none or the driver does not take it. */
const char *power_param_default(const char *name, const char *driver);

/* Known driver names: "ipmi", "redfish", "wol", "manual". */
bool power_driver_known(const char *driver);

/* Check and decode one machine's parameters. keys/vals are the options
 * (parameter names without "power_"; a key another driver takes, or no
 * driver takes, is an error naming it). address/user/password may be
 * NULL. On error: -EINVAL and msg says which field and why, with its
 * "power_" API name ("power_cipher_suite: 5 is not a cipher suite IPMI
 * 2.0 defines; use 3 or 17"). ret is zeroed first and freed on error. */
int power_params_decode(const char *driver, const char *address, const char *user, const char *password,
			const char *const *keys, const char *const *vals, size_t n, struct power_params *ret, char *msg,
			size_t msg_len);
void power_params_free(struct power_params *p);
int power_params_copy(struct power_params *dst, const struct power_params *src);

/* What decode makes of its input, beyond the field comments above: on
 * success every string is set ("" when none, never NULL); port holds the
 * driver's default when none was given (0 for manual); a Redfish address
 * given as a URL ("https://bmc:8443/") is reduced to its host (IPv6
 * without brackets) and its port; wol takes the MAC as power_mac or, as
 * PowerTarget carries it, as the address (address is then ""); mac all
 * zero means not given (the region fills in the boot interface's).
 * keys may also carry "address" and "user" instead of the arguments.
 * Every value is at most POWER_PARAM_VALUE_MAX - 1 bytes. */
#define POWER_PARAM_VALUE_MAX 256
#define POWER_PARAMS_KV_MAX   16 /* more than any driver has parameters */

/* One parameter as text, for the API's answers and the region's jsonb. */
struct power_param_kv {
	const char *name; /* without "power_"; points into power_param_defs */
	char value[POWER_PARAM_VALUE_MAX];
};

/* The non-secret parameters of p as text, in table order: address and
 * user when set, then the driver's options; with_defaults false leaves
 * out options at their driver's default. Returns how many were written
 * to ret (at most max). Decoding them again with the same driver and
 * password gives p back. */
size_t power_params_render(const struct power_params *p, bool with_defaults, struct power_param_kv *ret, size_t max);
