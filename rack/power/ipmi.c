/* The IPMI power driver: IPMI 2.0 lanplus (RMCP+), or IPMI 1.5 LAN when
 * the operator asks for it (power_ipmi_version=1.5), through libfreeipmi
 * in-process. run() blocks: the shell calls it on a worker thread with a
 * private power_op (rack/power/driver.h); it touches nothing else.
 *
 * One call is one session: open, at most a handful of commands, close.
 *   query   Get Chassis Status: "power is on" bit
 *   on      [boot flags,] Chassis Control power up, then a status
 *   off     Chassis Control power down, then a status
 *   cycle   Get Chassis Status first. Off: [boot flags,] power up, since a
 *           power cycle of a machine that is off does nothing on many BMCs
 *           (the spec leaves it to them), and the caller wants it running
 *           afterwards. On: [boot flags,] power cycle.
 * Boot flags are set when op->boot.dev != POWER_BOOT_KEEP, right before
 * the Chassis Control, in the order rack/power/ipmi_bootopt.h describes,
 * then read back: a BMC that reports another boot device than the one
 * just set fails the call rather than boot the wrong thing.
 *
 * The state reached is the status read after the action when it already
 * shows the target (on for on/cycle, off for off); else unknown: a BMC
 * may take seconds to switch, and the next poll will see it.
 *
 * Time: libfreeipmi takes a session timeout and a retransmission timeout.
 * It counts the session timeout from the last packet the BMC sent, for
 * every exchange, notices it only when a wait between retransmissions
 * ends (the waits grow: r, r, 2r, 2r, ...), and Close Session waits at
 * most one retransmission. From the time left we compute how long one
 * exchange can last with a silent BMC, and choose the session timeout so
 * that a silent open, one silent command and the close fit; a command
 * starts only while one silent exchange and the close still fit before
 * op->deadline_us. A BMC that never answers is so reported after a bit
 * less than half the time the caller allowed (12 s of 30 s). The one way
 * past the deadline: a BMC that answers the open's first packets only
 * late in the call and then falls silent.
 *
 * How a call ends (the scheduler retries TRANSIENT while time remains):
 *   FAIL       the BMC refused us: user name, password, K_g, privilege,
 *              cipher suite, IPMI version, a command it does not support,
 *              a completion code other than "busy"; or our parameters
 *              are unusable (host name, lengths)
 *   TIMEOUT    no answer to the session open (the BMC is down or
 *              unreachable: retrying within the same request would only
 *              wait again), or not enough time left for the next command
 *   TRANSIENT  the BMC said busy (completion code C0h), or the session
 *              was dropped after it was open (a timeout mid-session), or
 *              a socket error. A dropped Chassis Control may have been
 *              done: retrying a power up or down is harmless, a retried
 *              cycle may restart the machine twice. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <freeipmi/freeipmi.h>

#include "common/util.h"
#include "rack/power/driver.h"
#include "rack/power/ipmi_bootopt.h"

#define IPMI_DEFAULT_PORT   623
#define IPMI_MIN_CALL_MS    500 /* less than this left: do not start */
#define IPMI_RETRANSMIT_LO  100
#define IPMI_RETRANSMIT_HI  1000
#define IPMI_USER_MAX	    16 /* IPMI_MAX_USER_NAME_LENGTH */
#define IPMI15_PASSWORD_MAX 16
#define IPMI20_PASSWORD_MAX 20

struct ipmi_call {
	struct power_op *op;
	ipmi_ctx_t ctx;
	char host[320];	     /* as libfreeipmi takes it: "addr", "addr:port", "[v6]:port" */
	unsigned session_ms; /* libfreeipmi's session timeout */
	unsigned retransmit_ms;
	int64_t exchange_ms; /* the longest one exchange takes with a silent BMC */
	int64_t start_us;    /* when the session open began */
	bool open;	     /* the session is up: a timeout now is a dropped session */
	bool dead;	     /* the session timed out: send nothing more */
};

/* ---- set-up ---- */

/* libgcrypt's initialisation must run once before threads use it
 * (ipmi_rmcpplus_init in ipmi-rmcpplus-interface.h). */
static pthread_once_t ipmi_crypt_once = PTHREAD_ONCE_INIT;
static int ipmi_crypt_status;

static void ipmi_crypt_init_once(void)
{
	ipmi_crypt_status = ipmi_rmcpplus_init() < 0 ? -EIO : 0;
}

static int ipmi_init(struct event_base *base, void **ret_ctx)
{
	*ret_ctx = NULL;
	/* A failure is reported by each call (ipmi_run), not at start-up: the
	 * rack's other drivers and services work without it. */
	pthread_once(&ipmi_crypt_once, ipmi_crypt_init_once);
	return 0;
}

static void ipmi_host_format(const struct power_params *p, char *out, size_t outlen)
{
	struct in6_addr a6;

	if (p->port == 0 || p->port == IPMI_DEFAULT_PORT)
		snprintf(out, outlen, "%s", p->address);
	else if (inet_pton(AF_INET6, p->address, &a6) == 1)
		snprintf(out, outlen, "[%s]:%u", p->address, p->port);
	else
		snprintf(out, outlen, "%s:%u", p->address, p->port);
}

/* How long one exchange lasts when the BMC falls silent: libfreeipmi
 * waits r, r, 2r, 2r, 3r, ... between retransmissions (its backoff count
 * is 2) and notices the session timeout only when a wait ends. */
static int64_t ipmi_exchange_worst_ms(int64_t session, int64_t retransmit)
{
	int64_t t = 0;

	for (int64_t n = 0; t <= session; n++)
		t += retransmit * (n / 2 + 1);
	return t;
}

/* Timeouts from the time left; false (and op->result set) if too little.
 * The retransmission interval is a tenth of the time (0.1 to 1 s), and the
 * session timeout as long as a silent open, one silent command and the
 * close (one retransmission) still fit. */
static bool ipmi_call_budget(struct ipmi_call *c)
{
	int64_t left_ms = (c->op->deadline_us - clock_mono_us()) / 1000;
	int64_t retransmit, session;

	if (left_ms < IPMI_MIN_CALL_MS) {
		power_result_set(&c->op->result, POWER_TIMEOUT, "BMC %s: not started: %lld ms left before the deadline",
				 c->host, (long long)left_ms);
		return false;
	}
	if (left_ms > 3600 * 1000)
		left_ms = 3600 * 1000;
	retransmit = left_ms / 10;
	if (retransmit < IPMI_RETRANSMIT_LO)
		retransmit = IPMI_RETRANSMIT_LO;
	if (retransmit > IPMI_RETRANSMIT_HI)
		retransmit = IPMI_RETRANSMIT_HI;
	session = (left_ms - retransmit) / 2;
	while (session > retransmit + 1 && 2 * ipmi_exchange_worst_ms(session, retransmit) + retransmit > left_ms)
		session -= session / 8 + 1;
	if (session <= retransmit)
		session = retransmit + 1; /* libfreeipmi wants it longer */
	c->retransmit_ms = (unsigned)retransmit;
	c->session_ms = (unsigned)session;
	c->exchange_ms = ipmi_exchange_worst_ms(session, retransmit);
	return true;
}

/* Whether the next command may start: a silent BMC keeps it for up to
 * exchange_ms, and the close for one retransmission. */
static bool ipmi_may_send(struct ipmi_call *c, const char *what, bool report)
{
	if (c->dead)
		return false;
	int64_t left_ms = (c->op->deadline_us - clock_mono_us()) / 1000;
	if (left_ms >= c->exchange_ms + c->retransmit_ms)
		return true;
	if (report)
		power_result_set(&c->op->result, POWER_TIMEOUT,
				 "BMC %s: too slow: %lld ms left before the deadline, not enough for %s", c->host,
				 (long long)left_ms, what);
	return false;
}

static uint8_t ipmi_privilege(enum power_privilege p)
{
	switch (p) {
	case POWER_PRIV_USER:
		return IPMI_PRIVILEGE_LEVEL_USER;
	case POWER_PRIV_OPERATOR:
		return IPMI_PRIVILEGE_LEVEL_OPERATOR;
	default: /* POWER_PRIV_ADMIN; 0 in zeroed parameters: the default */
		return IPMI_PRIVILEGE_LEVEL_ADMIN;
	}
}

static const char *ipmi_privilege_name(enum power_privilege p)
{
	return p == POWER_PRIV_USER ? "user" : p == POWER_PRIV_OPERATOR ? "operator" : "admin";
}

static unsigned ipmi_workarounds_2_0(unsigned wa)
{
	unsigned f = 0;

	if (wa & POWER_IPMI_WA_OPENSESSPRIV)
		f |= IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE;
	if (wa & POWER_IPMI_WA_AUTHCAP)
		f |= IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_AUTHENTICATION_CAPABILITIES;
	if (wa & POWER_IPMI_WA_INTEL20)
		f |= IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_INTEL_2_0_SESSION;
	if (wa & POWER_IPMI_WA_SUPERMICRO20)
		f |= IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUPERMICRO_2_0_SESSION;
	if (wa & POWER_IPMI_WA_SUN20)
		f |= IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUN_2_0_SESSION;
	return f;
}

/* IPMI 1.5 has only the authentication capabilities quirk of ours; the
 * others are 2.0 session quirks and do not apply. */
static unsigned ipmi_workarounds_1_5(unsigned wa)
{
	return (wa & POWER_IPMI_WA_AUTHCAP) ? IPMI_WORKAROUND_FLAGS_OUTOFBAND_AUTHENTICATION_CAPABILITIES : 0;
}

/* ---- errors ---- */

static enum power_status ipmi_classify(int errnum, bool open)
{
	switch (errnum) {
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_CONNECTION_TIMEOUT:
		return open ? POWER_TRANSIENT : POWER_TIMEOUT;
	case IPMI_ERR_BMC_BUSY:
	case IPMI_ERR_DRIVER_BUSY:
	case IPMI_ERR_MESSAGE_TIMEOUT:
	case IPMI_ERR_SYSTEM_ERROR:
		return POWER_TRANSIENT;
	case IPMI_ERR_OUT_OF_MEMORY:
		oom_abort(0);
	default:
		return POWER_FAIL;
	}
}

/* What to add to the library's words so an operator knows what to change. */
static const char *ipmi_hint(const struct power_params *p, int errnum, bool open, char *buf, size_t len)
{
	switch (errnum) {
	case IPMI_ERR_BAD_RMCPPLUS_STATUS_CODE:
	case IPMI_ERR_IPMI_ERROR:
		if (open || p->ipmi15)
			return "";
		/* ipmi_sim answers an unknown cipher suite like this */
		snprintf(buf, len, " (the BMC refused the RMCP+ session: does it support power_cipher_suite=%u?)",
			 p->cipher_suite);
		return buf;
	case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
		snprintf(buf, len, " (power_privilege=%s%s)", ipmi_privilege_name(p->privilege),
			 p->ipmi15 || (p->workarounds & POWER_IPMI_WA_OPENSESSPRIV)
			     ? ""
			     : "; some BMCs need power_workarounds=opensesspriv");
		return buf;
	case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
		snprintf(buf, len, " (session privilege %s)", ipmi_privilege_name(p->privilege));
		return buf;
	case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
		snprintf(buf, len, " (power_cipher_suite=%u)", p->cipher_suite);
		return buf;
	case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
		return " (power_ipmi_version=1.5 uses IPMI 1.5 LAN)";
	case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
		return " (often a wrong password)";
	default:
		return "";
	}
}

/* Record why what failed, from the library's error and, when the BMC
 * answered, the completion code in rs (NULL: none). */
static void ipmi_fail(struct ipmi_call *c, fiid_obj_t rs, const char *what)
{
	struct power_op *op = c->op;
	int errnum = ipmi_ctx_errnum(c->ctx);
	enum power_status status = ipmi_classify(errnum, c->open);
	char hint[160], cc[160] = "";
	uint64_t code = 0;

	if (rs && FIID_OBJ_GET(rs, "comp_code", &code) == 1 && code != 0) {
		char desc[128];
		/* libfreeipmi names the codes it maps to an error of its own;
		 * the others are "bad completion code", so say which */
		if (errnum != IPMI_ERR_BAD_COMPLETION_CODE)
			snprintf(cc, sizeof(cc), " (completion code 0x%02x)", (unsigned)code);
		else if (ipmi_completion_code_strerror_cmd_r(rs, IPMI_NET_FN_CHASSIS_RQ, desc, sizeof(desc)) == 0)
			snprintf(cc, sizeof(cc), " 0x%02x: %s", (unsigned)code, desc);
		else
			snprintf(cc, sizeof(cc), " 0x%02x", (unsigned)code);
		if (code == 0xc0)
			status = POWER_TRANSIENT; /* node busy */
	}
	if (errnum == IPMI_ERR_SESSION_TIMEOUT || errnum == IPMI_ERR_CONNECTION_TIMEOUT) {
		c->dead = true;
		if (!c->open)
			power_result_set(&op->result, status, "BMC %s: no answer within %.1f s (%s)", c->host,
					 (clock_mono_us() - c->start_us) / 1e6, ipmi_ctx_errormsg(c->ctx));
		else
			power_result_set(&op->result, status,
					 "BMC %s: dropped the session: no answer to %s within %.1f s", c->host, what,
					 c->session_ms / 1000.0);
		return;
	}
	power_result_set(&op->result, status, "BMC %s: %s%s%s%s%s", c->host, what ? what : "", what ? ": " : "",
			 ipmi_ctx_errormsg(c->ctx), cc, ipmi_hint(&op->params, errnum, c->open, hint, sizeof(hint)));
}

static fiid_obj_t ipmi_obj(fiid_template_t tmpl)
{
	fiid_obj_t obj = fiid_obj_create(tmpl);
	if (!obj)
		oom_abort(0);
	return obj;
}

/* ---- the session ---- */

static int ipmi_open(struct ipmi_call *c)
{
	const struct power_params *p = &c->op->params;
	const char *user = p->user && *p->user ? p->user : NULL;
	const char *pass = p->password && *p->password ? p->password : NULL;
	size_t pass_max = p->ipmi15 ? IPMI15_PASSWORD_MAX : IPMI20_PASSWORD_MAX;
	/* as decoded: the table's default is 3; 0 (no authentication) only if asked for */
	unsigned suite = p->cipher_suite;
	int r;

	if (user && strlen(user) > IPMI_USER_MAX) {
		power_result_set(&c->op->result, POWER_FAIL, "BMC %s: power_user: longer than the %d bytes IPMI allows",
				 c->host, IPMI_USER_MAX);
		return -1;
	}
	if (pass && strlen(pass) > pass_max) {
		power_result_set(&c->op->result, POWER_FAIL,
				 "BMC %s: power_pass: longer than the %zu bytes IPMI %s allows", c->host, pass_max,
				 p->ipmi15 ? "1.5" : "2.0");
		return -1;
	}
	if (!p->ipmi15 && !IPMI_CIPHER_SUITE_ID_SUPPORTED(suite)) {
		power_result_set(&c->op->result, POWER_FAIL,
				 "BMC %s: power_cipher_suite=%u is not one libfreeipmi supports", c->host, suite);
		return -1;
	}
	c->start_us = clock_mono_us();
	if (p->ipmi15)
		r = ipmi_ctx_open_outofband(c->ctx, c->host, user, pass, IPMI_AUTHENTICATION_TYPE_MD5,
					    ipmi_privilege(p->privilege), c->session_ms, c->retransmit_ms,
					    ipmi_workarounds_1_5(p->workarounds), IPMI_FLAGS_DEFAULT);
	else
		r = ipmi_ctx_open_outofband_2_0(c->ctx, c->host, user, pass, NULL, 0, ipmi_privilege(p->privilege),
						(uint8_t)suite, c->session_ms, c->retransmit_ms,
						ipmi_workarounds_2_0(p->workarounds), IPMI_FLAGS_DEFAULT);
	if (r < 0) {
		ipmi_fail(c, NULL, NULL);
		return -1;
	}
	c->open = true;
	return 0;
}

static int ipmi_power_get(struct ipmi_call *c, enum power_state *ret)
{
	fiid_obj_t rs = ipmi_obj(tmpl_cmd_get_chassis_status_rs);
	uint64_t on;
	int r = -1;

	if (!ipmi_may_send(c, "chassis status", true))
		goto out;
	if (ipmi_cmd_get_chassis_status(c->ctx, rs) < 0) {
		ipmi_fail(c, rs, "chassis status");
		goto out;
	}
	if (FIID_OBJ_GET(rs, "current_power_state.power_is_on", &on) != 1) {
		power_result_set(&c->op->result, POWER_FAIL, "BMC %s: chassis status: no power state in the answer",
				 c->host);
		goto out;
	}
	*ret = on ? POWER_STATE_ON : POWER_STATE_OFF;
	r = 0;
out:
	fiid_obj_destroy(rs);
	return r;
}

static int ipmi_chassis_control(struct ipmi_call *c, uint8_t control, const char *what)
{
	fiid_obj_t rs = ipmi_obj(tmpl_cmd_chassis_control_rs);
	int r = -1;

	if (!ipmi_may_send(c, what, true))
		goto out;
	if (ipmi_cmd_chassis_control(c->ctx, control, rs) < 0) {
		ipmi_fail(c, rs, what);
		goto out;
	}
	r = 0;
out:
	fiid_obj_destroy(rs);
	return r;
}

/* The end of a Set System Boot Options: 0 done; 1 skipped (optional, and
 * the BMC answered with an error completion code other than busy); -1
 * failed, op->result says why. */
static int ipmi_bootopt_done(struct ipmi_call *c, int rc, fiid_obj_t rs, const char *what, bool optional)
{
	uint64_t code = 0;

	if (rc == 0)
		return 0;
	if (optional && FIID_OBJ_GET(rs, "comp_code", &code) == 1 && code != 0 && code != 0xc0)
		return 1;
	ipmi_fail(c, rs, what);
	return -1;
}

/* Parameter 0: libfreeipmi's generic call refuses selector 0. Optional. */
static int ipmi_bootopt_progress(struct ipmi_call *c, enum ipmi_bootopt_progress state, const char *what, bool optional)
{
	fiid_obj_t rs = ipmi_obj(tmpl_cmd_set_system_boot_options_rs);
	int r = -1;

	if (ipmi_may_send(c, what, true))
		r = ipmi_bootopt_done(
		    c,
		    ipmi_cmd_set_system_boot_options_set_in_progress(
			c->ctx, IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED, (uint8_t)state, rs),
		    rs, what, optional);
	fiid_obj_destroy(rs);
	return r;
}

/* Any other parameter, its data from the codec. */
static int ipmi_bootopt_set(struct ipmi_call *c, uint8_t param, const uint8_t *data, size_t len, const char *what,
			    bool optional)
{
	fiid_obj_t rs = ipmi_obj(tmpl_cmd_set_system_boot_options_rs);
	int r = -1;

	if (ipmi_may_send(c, what, true))
		r = ipmi_bootopt_done(
		    c,
		    ipmi_cmd_set_system_boot_options(c->ctx, param, IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED,
						     data, (unsigned)len, rs),
		    rs, what, optional);
	fiid_obj_destroy(rs);
	return r;
}

/* Read parameter 5 back; 1 if the BMC does not answer it usefully. */
static int ipmi_boot_flags_get(struct ipmi_call *c, struct ipmi_boot_flags *ret)
{
	fiid_obj_t rs = ipmi_obj(tmpl_cmd_get_system_boot_options_rs);
	uint8_t data[32];
	uint64_t code = 0;
	int r = -1, n;

	if (!ipmi_may_send(c, "reading the boot flags back", true))
		goto out;
	if (ipmi_cmd_get_system_boot_options(c->ctx, IPMI_BOOTOPT_PARAM_BOOT_FLAGS,
					     IPMI_SYSTEM_BOOT_OPTIONS_NO_SET_SELECTOR,
					     IPMI_SYSTEM_BOOT_OPTIONS_NO_BLOCK_SELECTOR, rs) < 0) {
		if (FIID_OBJ_GET(rs, "comp_code", &code) == 1 && code != 0 && code != 0xc0)
			r = 1; /* answered, but will not tell */
		else
			ipmi_fail(c, rs, "reading the boot flags back");
		goto out;
	}
	n = fiid_obj_get_data(rs, "configuration_parameter_data", data, sizeof(data));
	r = n < 0 || ipmi_boot_flags_decode(data, (size_t)n, ret) < 0 ? 1 : 0;
out:
	fiid_obj_destroy(rs);
	return r;
}

/* Boot flags before a power up or cycle (ipmi_bootopt.h has the order). */
static int ipmi_boot_set(struct ipmi_call *c)
{
	struct ipmi_boot_flags want, got;
	uint8_t flags[IPMI_BOOTOPT_BOOT_FLAGS_LEN], ack[IPMI_BOOTOPT_INFO_ACK_LEN];
	int in_progress, r;

	if (ipmi_boot_flags_from_power(&c->op->boot, &want) < 0 ||
	    ipmi_boot_flags_encode(&want, flags, sizeof(flags)) < 0) {
		power_result_set(&c->op->result, POWER_FAIL, "BMC %s: boot device %d is not one the driver can set",
				 c->host, (int)c->op->boot.dev);
		return -1;
	}
	in_progress = ipmi_bootopt_progress(c, IPMI_BOOTOPT_SET_IN_PROGRESS, "boot options: set in progress", true);
	if (in_progress < 0)
		return -1;
	ipmi_bootopt_info_ack_encode(IPMI_BOOTOPT_ACK_BIOS, IPMI_BOOTOPT_ACK_BIOS, ack, sizeof(ack));
	r = ipmi_bootopt_set(c, IPMI_BOOTOPT_PARAM_INFO_ACK, ack, sizeof(ack), "boot options: boot info acknowledge",
			     true);
	if (r >= 0)
		r = ipmi_bootopt_set(c, IPMI_BOOTOPT_PARAM_BOOT_FLAGS, flags, sizeof(flags), "boot options: boot flags",
				     false);
	if (in_progress == 0 && !c->dead) {
		/* Whatever happened, do not leave the parameters locked; after
		 * a failure, that failure is the one to report. */
		struct power_result first = c->op->result;
		int done = ipmi_bootopt_progress(c, IPMI_BOOTOPT_SET_COMPLETE, "boot options: set complete", false);
		if (r < 0)
			c->op->result = first;
		else if (done < 0)
			r = -1;
	}
	if (r < 0)
		return -1;

	/* The valid bit and the other flags are not compared: some BMCs
	 * (ipmi_sim among them) report only the device. */
	r = ipmi_boot_flags_get(c, &got);
	if (r < 0)
		return -1;
	if (r == 0 && got.device != want.device) {
		power_result_set(&c->op->result, POWER_FAIL,
				 "BMC %s: boot device reads back as %s (0x%x) after setting %s; the BMC ignored it",
				 c->host, ipmi_boot_dev_name(got.device), got.device, ipmi_boot_dev_name(want.device));
		return -1;
	}
	return 0;
}

/* ---- actions ---- */

static void ipmi_state_after(struct ipmi_call *c, enum power_state target)
{
	struct power_result saved = c->op->result;
	enum power_state now;

	/* Cheap and optional: the action is done whatever this says. */
	if (!ipmi_may_send(c, "chassis status", false))
		return;
	if (ipmi_power_get(c, &now) == 0 && now == target)
		saved.state = now;
	c->op->result = saved;
}

static void ipmi_act(struct ipmi_call *c)
{
	struct power_op *op = c->op;
	bool boot = op->boot.dev != POWER_BOOT_KEEP;
	enum power_state before;

	switch (op->action) {
	case POWER_QUERY:
		if (ipmi_power_get(c, &op->result.state) < 0)
			op->result.state = POWER_STATE_UNKNOWN;
		return;
	case POWER_ON:
		if ((boot && ipmi_boot_set(c) < 0) ||
		    ipmi_chassis_control(c, IPMI_CHASSIS_CONTROL_POWER_UP, "chassis control (power up)") < 0)
			return;
		ipmi_state_after(c, POWER_STATE_ON);
		return;
	case POWER_OFF:
		if (ipmi_chassis_control(c, IPMI_CHASSIS_CONTROL_POWER_DOWN, "chassis control (power down)") < 0)
			return;
		ipmi_state_after(c, POWER_STATE_OFF);
		return;
	case POWER_CYCLE:
		if (ipmi_power_get(c, &before) < 0 || (boot && ipmi_boot_set(c) < 0))
			return;
		if (before == POWER_STATE_OFF) {
			if (ipmi_chassis_control(c, IPMI_CHASSIS_CONTROL_POWER_UP,
						 "chassis control (power up: the machine was off)") < 0)
				return;
		} else if (ipmi_chassis_control(c, IPMI_CHASSIS_CONTROL_POWER_CYCLE, "chassis control (power cycle)") <
			   0) {
			return;
		}
		ipmi_state_after(c, POWER_STATE_ON);
		return;
	}
	power_result_set(&op->result, POWER_FAIL, "BMC %s: unknown action %d", c->host, (int)op->action);
}

static void ipmi_run(struct power_op *op)
{
	struct ipmi_call c = {.op = op};

	op->result.state = POWER_STATE_UNKNOWN;
	op->result.needs_person = false;
	power_result_set(&op->result, POWER_OK, "%s", "");
	if (!op->params.address || !*op->params.address) {
		power_result_set(&op->result, POWER_FAIL, "power_address: no BMC address");
		return;
	}
	ipmi_host_format(&op->params, c.host, sizeof(c.host));
	pthread_once(&ipmi_crypt_once, ipmi_crypt_init_once);
	if (ipmi_crypt_status < 0) {
		power_result_set(&op->result, POWER_FAIL, "BMC %s: libfreeipmi could not initialise its crypto library",
				 c.host);
		return;
	}
	if (!ipmi_call_budget(&c))
		return;
	c.ctx = ipmi_ctx_create();
	if (!c.ctx)
		oom_abort(0);
	if (ipmi_open(&c) == 0)
		ipmi_act(&c);
	/* Close Session waits at most one retransmission for its answer;
	 * on a context whose open failed it does nothing. */
	ipmi_ctx_close(c.ctx);
	ipmi_ctx_destroy(c.ctx);
}

const struct power_driver power_driver_ipmi = {
    .name = "ipmi",
    .init = ipmi_init,
    .run = ipmi_run,
};
