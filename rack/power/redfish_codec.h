/* The Redfish JSON the power driver reads and writes (DMTF DSP0266,
 * DSP8010 schemas): a pure codec on jansson, no I/O, no logging. The
 * driver (rack/power/redfish.c) does the HTTP; this file turns bodies into
 * structs, picks a ResetType the system advertises, and builds the bodies
 * it sends.
 *
 * Every decoder takes (text, len) as received from a BMC, which is
 * untrusted: any byte string is safe to pass (tests/fuzz/fuzz_redfish_json.c).
 * Decoders return 0, or -EBADMSG (not JSON, or not a JSON object) /
 * -EINVAL (an object, but a property it needs is missing or of the wrong
 * type) with a sentence in msg. Properties the driver can do without are
 * optional: a missing or wrongly typed one reads as absent.
 *
 * Strings taken from a document are bounded (REDFISH_URI_MAX etc.); a
 * longer link is refused as -EINVAL rather than truncated into a different
 * path. A link must be a path on the same service ("/..." without a
 * scheme, host, "//", backslash, space or control character): the driver
 * sends credentials to base URL + link, so a document must not be able to
 * point it at another host. Nothing here allocates except the body
 * builders, whose results the caller free()s. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "rack/power/driver.h"

#define REDFISH_URI_MAX	    512
#define REDFISH_MEMBERS_MAX 8 /* members kept for naming them; the count is exact */

/* ---- service root (/redfish/v1) ---- */

struct redfish_root {
	char systems[REDFISH_URI_MAX]; /* Systems.@odata.id; "" when absent */
	/* The sessions collection: Links.Sessions.@odata.id; else the
	 * SessionService's path + "/Sessions" (DSP0266 fixes that URI, so the
	 * SessionService resource itself, which needs authentication, is not
	 * fetched); "" when the root names neither. */
	char sessions[REDFISH_URI_MAX];
};

int redfish_root_decode(const char *text, size_t len, struct redfish_root *ret, char *msg, size_t msg_len);

/* ---- a resource collection (Systems) ---- */

struct redfish_collection {
	size_t n;	 /* entries in Members[] (each an object with a string @odata.id) */
	long long count; /* Members@odata.count; -1 when absent */
	size_t kept;	 /* min(n, REDFISH_MEMBERS_MAX) */
	char members[REDFISH_MEMBERS_MAX][REDFISH_URI_MAX];
};

int redfish_collection_decode(const char *text, size_t len, struct redfish_collection *ret, char *msg, size_t msg_len);

/* ---- a ComputerSystem ---- */

/* PowerState as the system says it. */
enum redfish_power {
	REDFISH_POWER_ABSENT, /* no PowerState, or not a string */
	REDFISH_POWER_ON,
	REDFISH_POWER_OFF,
	REDFISH_POWER_POWERING_ON,
	REDFISH_POWER_POWERING_OFF,
	REDFISH_POWER_PAUSED,
	REDFISH_POWER_UNKNOWN, /* "Unknown", or a value the schema does not define */
};

/* ResetType values (DSP8010 Resource.ResetType), as bits. */
enum {
	REDFISH_RESET_ON = 1u << 0,
	REDFISH_RESET_FORCE_OFF = 1u << 1,
	REDFISH_RESET_GRACEFUL_SHUTDOWN = 1u << 2,
	REDFISH_RESET_GRACEFUL_RESTART = 1u << 3,
	REDFISH_RESET_FORCE_RESTART = 1u << 4,
	REDFISH_RESET_NMI = 1u << 5,
	REDFISH_RESET_FORCE_ON = 1u << 6,
	REDFISH_RESET_PUSH_POWER_BUTTON = 1u << 7,
	REDFISH_RESET_POWER_CYCLE = 1u << 8,
	REDFISH_RESET_SUSPEND = 1u << 9,
	REDFISH_RESET_PAUSE = 1u << 10,
	REDFISH_RESET_RESUME = 1u << 11,
	REDFISH_RESET_FULL_POWER_CYCLE = 1u << 12,
};

/* Boot.BootSourceOverrideEnabled values, as bits. */
enum {
	REDFISH_BOOT_ENABLED_DISABLED = 1u << 0,
	REDFISH_BOOT_ENABLED_ONCE = 1u << 1,
	REDFISH_BOOT_ENABLED_CONTINUOUS = 1u << 2,
};
/* Boot.BootSourceOverrideTarget values the driver uses, as bits. */
enum {
	REDFISH_BOOT_TARGET_NONE = 1u << 0,
	REDFISH_BOOT_TARGET_PXE = 1u << 1,
	REDFISH_BOOT_TARGET_HDD = 1u << 2,
	REDFISH_BOOT_TARGET_OTHER = 1u << 3, /* any other value (Cd, Usb, BiosSetup, UefiHttp, ...) */
};
/* Boot.BootSourceOverrideMode values, as bits. */
enum {
	REDFISH_BOOT_MODE_UEFI = 1u << 0,
	REDFISH_BOOT_MODE_LEGACY = 1u << 1,
};

struct redfish_system {
	enum redfish_power power;
	char power_raw[32]; /* the PowerState string as sent (truncated), "" when absent */
	char etag[128];	    /* @odata.etag, "" when absent (the HTTP ETag header wins when the driver has one) */

	/* Actions.#ComputerSystem.Reset */
	bool has_reset;			    /* the action is listed */
	char reset_target[REDFISH_URI_MAX]; /* its target; "" when absent */
	bool reset_advertised;		    /* ResetType@Redfish.AllowableValues given */
	unsigned reset_types;		    /* REDFISH_RESET_* advertised (0 when not advertised) */
	char action_info[REDFISH_URI_MAX];  /* @Redfish.ActionInfo, "" when absent */

	/* Boot */
	bool has_boot;		       /* a Boot object */
	unsigned boot_enabled;	       /* current REDFISH_BOOT_ENABLED_* (one bit), 0 when absent */
	bool boot_enabled_advertised;  /* BootSourceOverrideEnabled@Redfish.AllowableValues */
	unsigned boot_enabled_allowed; /* REDFISH_BOOT_ENABLED_* */
	unsigned boot_target;	       /* current REDFISH_BOOT_TARGET_* (one bit), 0 when absent */
	bool boot_target_advertised;   /* BootSourceOverrideTarget@Redfish.AllowableValues */
	unsigned boot_target_allowed;  /* REDFISH_BOOT_TARGET_* */
	bool has_boot_mode;	       /* BootSourceOverrideMode is a property of this system */
	unsigned boot_mode;	       /* current REDFISH_BOOT_MODE_* (one bit), 0 when absent or unknown */
	bool boot_mode_advertised;     /* BootSourceOverrideMode@Redfish.AllowableValues */
	unsigned boot_mode_allowed;    /* REDFISH_BOOT_MODE_* */
};

int redfish_system_decode(const char *text, size_t len, struct redfish_system *ret, char *msg, size_t msg_len);

/* PowerState as the rack reports it: On and Paused (power applied) and
 * PoweringOn are on; Off and PoweringOff are off (a transition is reported
 * as where it goes); Unknown, absent or anything else is unknown. */
enum power_state redfish_power_state(enum redfish_power p);

/* An ActionInfo resource (@Redfish.ActionInfo): Parameters[] whose Name
 * is "ResetType" gives AllowableValues. Sets sys->reset_advertised and
 * sys->reset_types when it does; leaves them alone when it does not. */
int redfish_action_info_decode(const char *text, size_t len, struct redfish_system *sys, char *msg, size_t msg_len);

/* ---- error bodies ---- */

/* {"error": {"code", "message", "@Message.ExtendedInfo": [{"Message"}]}}
 * as one readable string: the ExtendedInfo messages joined by "; " (they
 * say what was wrong; error.message is usually the generic "A general
 * error has occurred. See ExtendedInfo ..."), else error.message, else
 * error.code; an ExtendedInfo entry without Message contributes its
 * MessageId. Control characters become spaces. -EBADMSG/-EINVAL when
 * the body has no such error object (out is then ""). */
int redfish_error_decode(const char *text, size_t len, char *out, size_t out_len);

/* ---- choosing a ResetType ---- */

/* The ResetType for a power action, from what the system advertises
 * (sys->reset_types when sys->reset_advertised) and its current state:
 *
 *   on:    On, else ForceOn.
 *   off:   ForceOff, else GracefulShutdown (the BMC accepts it at once;
 *          the OS may take its time, or refuse, to shut down).
 *   cycle: a system that is off (PowerState Off) is turned on (the on
 *          chain): it boots afresh either way, and several BMCs refuse
 *          PowerCycle or ForceRestart on a system that is off. Otherwise
 *          PowerCycle, else ForceRestart, else GracefulRestart.
 *
 * When the system does not advertise AllowableValues, nothing is known:
 * the first of each chain is used (On, ForceOff; for cycle ForceRestart,
 * the one BMCs implement most widely, or On when off) and *ret_guessed
 * is set so that an error can say the type was not advertised.
 *
 * Returns the ResetType string (static), or NULL for a query or when
 * nothing advertised fits; then msg names the action and lists what the
 * system does advertise. */
const char *redfish_reset_choose(enum power_action action, const struct redfish_system *sys, bool *ret_guessed,
				 char *msg, size_t msg_len);

/* The advertised ResetType values as "On, ForceOff, ..." into out. */
void redfish_reset_types_format(unsigned types, char *out, size_t out_len);

/* ---- bodies the driver sends ---- */

/* The boot override PATCH body for boot (dev != KEEP), as a NUL-terminated
 * JSON string the caller free()s:
 *   {"Boot": {"BootSourceOverrideEnabled": "Once"|"Continuous",
 *             "BootSourceOverrideTarget": "Pxe"|"Hdd",
 *             "BootSourceOverrideMode": "UEFI"|"Legacy"}}
 * The mode is sent only when the system has the property and allows the
 * wanted mode (when it advertises modes); otherwise the system boots in
 * the mode it has and *ret_mode_skipped says so. Returns NULL with msg
 * when the system advertises values that exclude the wanted target or
 * enabled value (or has no Boot object at all). *ret_unchanged is set
 * (and a body still built) when the system already holds exactly this
 * override, so the PATCH may be skipped. */
char *redfish_boot_body(const struct power_boot *boot, const struct redfish_system *sys, bool *ret_unchanged,
			bool *ret_mode_skipped, char *msg, size_t msg_len);

/* {"ResetType": type}; free() it. */
char *redfish_reset_body(const char *type);

/* {"UserName": user, "Password": password}; free() it (after clearing it:
 * it holds the password). NULL when either is not UTF-8 (JSON cannot
 * carry it). */
char *redfish_login_body(const char *user, const char *password);
