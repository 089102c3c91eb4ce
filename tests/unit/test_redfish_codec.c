/* rack/power/redfish_codec.c: the Redfish documents the power driver
 * reads (shaped like the DMTF mockups and what real BMCs send), the
 * ResetType it picks, and the bodies it sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rack/power/redfish_codec.h"

#define DOC(s) (s), strlen(s)

/* DMTF public-rackmount1 mockup, service root. */
static const char root_dmtf[] =
    "{\n"
    "  \"@odata.type\": \"#ServiceRoot.v1_5_0.ServiceRoot\",\n"
    "  \"Id\": \"RootService\",\n"
    "  \"Name\": \"Root Service\",\n"
    "  \"RedfishVersion\": \"1.6.1\",\n"
    "  \"UUID\": \"92384634-2938-2342-8820-489239905423\",\n"
    "  \"Systems\": {\"@odata.id\": \"/redfish/v1/Systems\"},\n"
    "  \"Chassis\": {\"@odata.id\": \"/redfish/v1/Chassis\"},\n"
    "  \"Managers\": {\"@odata.id\": \"/redfish/v1/Managers\"},\n"
    "  \"SessionService\": {\"@odata.id\": \"/redfish/v1/SessionService\"},\n"
    "  \"AccountService\": {\"@odata.id\": \"/redfish/v1/AccountService\"},\n"
    "  \"Links\": {\"Sessions\": {\"@odata.id\": \"/redfish/v1/SessionService/Sessions\"}},\n"
    "  \"@odata.id\": \"/redfish/v1/\"\n"
    "}\n";

static const char systems_one[] = "{\n"
				  "  \"@odata.type\": \"#ComputerSystemCollection.ComputerSystemCollection\",\n"
				  "  \"Name\": \"Computer System Collection\",\n"
				  "  \"Members@odata.count\": 1,\n"
				  "  \"Members\": [{\"@odata.id\": \"/redfish/v1/Systems/437XR1138R2\"}],\n"
				  "  \"@odata.id\": \"/redfish/v1/Systems\"\n"
				  "}\n";

static const char systems_three[] = "{\"@odata.id\": \"/redfish/v1/Systems\",\n"
				    " \"Members@odata.count\": 3,\n"
				    " \"Members\": [{\"@odata.id\": \"/redfish/v1/Systems/Blade1\"},\n"
				    "               {\"@odata.id\": \"/redfish/v1/Systems/Blade2\"},\n"
				    "               {\"@odata.id\": \"/redfish/v1/Systems/Blade3\"}]}";

/* DMTF public-rackmount1 ComputerSystem, trimmed. */
static const char system_dmtf[] =
    "{\n"
    "  \"@odata.type\": \"#ComputerSystem.v1_13_0.ComputerSystem\",\n"
    "  \"Id\": \"437XR1138R2\",\n"
    "  \"Name\": \"WebFrontEnd483\",\n"
    "  \"SystemType\": \"Physical\",\n"
    "  \"Manufacturer\": \"Contoso\",\n"
    "  \"Status\": {\"State\": \"Enabled\", \"Health\": \"OK\"},\n"
    "  \"PowerState\": \"On\",\n"
    "  \"Boot\": {\n"
    "    \"BootSourceOverrideEnabled\": \"Once\",\n"
    "    \"BootSourceOverrideTarget\": \"Pxe\",\n"
    "    \"BootSourceOverrideTarget@Redfish.AllowableValues\": [\"None\", \"Pxe\", \"Cd\", \"Usb\", \"Hdd\",\n"
    "        \"BiosSetup\", \"Utilities\", \"Diags\", \"SDCard\", \"UefiTarget\"],\n"
    "    \"BootSourceOverrideMode\": \"UEFI\",\n"
    "    \"UefiTargetBootSourceOverride\": \"/0x31/0x33/0x01/0x01\"\n"
    "  },\n"
    "  \"Actions\": {\n"
    "    \"#ComputerSystem.Reset\": {\n"
    "      \"target\": \"/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset\",\n"
    "      \"ResetType@Redfish.AllowableValues\": [\"On\", \"ForceOff\", \"GracefulShutdown\",\n"
    "          \"GracefulRestart\", \"ForceRestart\", \"Nmi\", \"ForceOn\", \"PushPowerButton\"]\n"
    "    }\n"
    "  },\n"
    "  \"@odata.etag\": \"W/\\\"3a7b\\\"\",\n"
    "  \"@odata.id\": \"/redfish/v1/Systems/437XR1138R2\"\n"
    "}\n";

/* A BMC that advertises nothing: no AllowableValues anywhere, no mode. */
static const char system_bare[] =
    "{\"@odata.id\": \"/redfish/v1/Systems/1\", \"PowerState\": \"Off\",\n"
    " \"Boot\": {\"BootSourceOverrideEnabled\": \"Disabled\", \"BootSourceOverrideTarget\": \"None\"},\n"
    " \"Actions\": {\"#ComputerSystem.Reset\": {\"target\": \"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset\"}}}";

/* OpenBMC-style: everything advertised, Legacy not allowed, PowerCycle. */
static const char system_full[] =
    "{\"@odata.id\": \"/redfish/v1/Systems/system\", \"PowerState\": \"PoweringOff\",\n"
    " \"Boot\": {\"BootSourceOverrideEnabled\": \"Disabled\",\n"
    "   \"BootSourceOverrideEnabled@Redfish.AllowableValues\": [\"Disabled\", \"Once\"],\n"
    "   \"BootSourceOverrideTarget\": \"None\",\n"
    "   \"BootSourceOverrideTarget@Redfish.AllowableValues\": [\"None\", \"Pxe\", \"Hdd\", \"Cd\"],\n"
    "   \"BootSourceOverrideMode\": \"UEFI\",\n"
    "   \"BootSourceOverrideMode@Redfish.AllowableValues\": [\"UEFI\"]},\n"
    " \"Actions\": {\"#ComputerSystem.Reset\": {\n"
    "   \"target\": \"/redfish/v1/Systems/system/Actions/ComputerSystem.Reset\",\n"
    "   \"@Redfish.ActionInfo\": \"/redfish/v1/Systems/system/ResetActionInfo\",\n"
    "   \"ResetType@Redfish.AllowableValues\": [\"On\", \"ForceOff\", \"ForceRestart\", \"PowerCycle\",\n"
    "       \"GracefulShutdown\", \"GracefulRestart\", \"FutureType\", 7]}}}";

static void test_root(void **state)
{
	struct redfish_root r;
	char msg[256];

	assert_int_equal(redfish_root_decode(DOC(root_dmtf), &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.systems, "/redfish/v1/Systems");
	assert_string_equal(r.sessions, "/redfish/v1/SessionService/Sessions");

	/* No Links.Sessions: the SessionService's path + /Sessions. */
	const char *svc = "{\"Systems\": {\"@odata.id\": \"/redfish/v1/Systems\"},"
			  " \"SessionService\": {\"@odata.id\": \"/redfish/v1/SessionService/\"}}";
	assert_int_equal(redfish_root_decode(DOC(svc), &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.sessions, "/redfish/v1/SessionService/Sessions");

	/* A SessionService at "/" (found by the fuzzer): "/Sessions", never "//Sessions". */
	assert_int_equal(redfish_root_decode(DOC("{\"SessionService\": {\"@odata.id\": \"/\"}}"), &r, msg, sizeof(msg)),
			 0);
	assert_string_equal(r.sessions, "/Sessions");

	/* Neither: empty, not an error (the driver falls back to DSP0266's path). */
	assert_int_equal(redfish_root_decode(DOC("{\"Name\": \"Root\"}"), &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.systems, "");
	assert_string_equal(r.sessions, "");

	/* A link of the wrong type reads as absent. */
	assert_int_equal(
	    redfish_root_decode(DOC("{\"Systems\": {\"@odata.id\": 5}, \"Links\": []}"), &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.systems, "");
}

static void test_root_refuses_foreign_links(void **state)
{
	struct redfish_root r;
	char msg[256];

	/* The driver sends credentials to base + link: another host must not be reachable. */
	const char *bad[] = {
	    "{\"Systems\": {\"@odata.id\": \"https://evil.example/redfish/v1/Systems\"}}",
	    "{\"Systems\": {\"@odata.id\": \"//evil.example/x\"}}",
	    "{\"Systems\": {\"@odata.id\": \"redfish/v1/Systems\"}}",
	    "{\"Systems\": {\"@odata.id\": \"/redfish/v1/Sys tems\"}}",
	    "{\"Systems\": {\"@odata.id\": \"/redfish\\r\\nHost: x\"}}",
	    "{\"Links\": {\"Sessions\": {\"@odata.id\": \"@evil/x\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		assert_int_equal(redfish_root_decode(DOC(bad[i]), &r, msg, sizeof(msg)), -EINVAL);
		assert_non_null(strstr(msg, "not a path on this service"));
	}
	/* Too long a link is refused, not cut into another path. */
	char doc[1200];
	char longpath[700];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	snprintf(doc, sizeof(doc), "{\"Systems\": {\"@odata.id\": \"%s\"}}", longpath);
	assert_int_equal(redfish_root_decode(DOC(doc), &r, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "longer than"));
}

static void test_collection(void **state)
{
	struct redfish_collection c;
	char msg[256];

	assert_int_equal(redfish_collection_decode(DOC(systems_one), &c, msg, sizeof(msg)), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.count, 1);
	assert_string_equal(c.members[0], "/redfish/v1/Systems/437XR1138R2");

	assert_int_equal(redfish_collection_decode(DOC(systems_three), &c, msg, sizeof(msg)), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.kept, 3);
	assert_int_equal(c.count, 3);
	assert_string_equal(c.members[2], "/redfish/v1/Systems/Blade3");

	/* Empty, and no count. */
	assert_int_equal(redfish_collection_decode(DOC("{\"Members\": []}"), &c, msg, sizeof(msg)), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.count, -1);

	/* More members than are kept: the number is exact. */
	char doc[4096] = "{\"Members\": [";
	for (int i = 0; i < 20; i++)
		snprintf(doc + strlen(doc), sizeof(doc) - strlen(doc), "%s{\"@odata.id\": \"/redfish/v1/Systems/%d\"}",
			 i ? "," : "", i);
	strcat(doc, "], \"Members@odata.count\": 20}");
	assert_int_equal(redfish_collection_decode(DOC(doc), &c, msg, sizeof(msg)), 0);
	assert_int_equal(c.n, 20);
	assert_int_equal(c.kept, REDFISH_MEMBERS_MAX);
	assert_string_equal(c.members[REDFISH_MEMBERS_MAX - 1], "/redfish/v1/Systems/7");
}

static void test_collection_wrong_shapes(void **state)
{
	struct redfish_collection c;
	char msg[256];

	assert_int_equal(redfish_collection_decode(DOC("{\"Members\": {}}"), &c, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "Members"));
	assert_int_equal(redfish_collection_decode(DOC("{\"Name\": \"x\"}"), &c, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(
	    redfish_collection_decode(DOC("{\"Members\": [\"/redfish/v1/Systems/1\"]}"), &c, msg, sizeof(msg)),
	    -EINVAL);
	assert_non_null(strstr(msg, "member 0"));
	assert_int_equal(
	    redfish_collection_decode(DOC("{\"Members\": [{\"@odata.id\": \"/a\"}, {}]}"), &c, msg, sizeof(msg)),
	    -EINVAL);
	assert_non_null(strstr(msg, "member 1"));
	assert_int_equal(redfish_collection_decode(DOC("[1, 2]"), &c, msg, sizeof(msg)), -EBADMSG);
	/* A negative or non-integer count reads as absent. */
	assert_int_equal(
	    redfish_collection_decode(DOC("{\"Members\": [], \"Members@odata.count\": -4}"), &c, msg, sizeof(msg)), 0);
	assert_int_equal(c.count, -1);
	assert_int_equal(
	    redfish_collection_decode(DOC("{\"Members\": [], \"Members@odata.count\": \"1\"}"), &c, msg, sizeof(msg)),
	    0);
	assert_int_equal(c.count, -1);
}

static void test_system_dmtf(void **state)
{
	struct redfish_system s;
	char msg[256];

	assert_int_equal(redfish_system_decode(DOC(system_dmtf), &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.power, REDFISH_POWER_ON);
	assert_string_equal(s.power_raw, "On");
	assert_int_equal(redfish_power_state(s.power), POWER_STATE_ON);
	assert_string_equal(s.etag, "W/\"3a7b\"");
	assert_true(s.has_reset);
	assert_string_equal(s.reset_target, "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset");
	assert_true(s.reset_advertised);
	assert_int_equal(s.reset_types, REDFISH_RESET_ON | REDFISH_RESET_FORCE_OFF | REDFISH_RESET_GRACEFUL_SHUTDOWN |
					    REDFISH_RESET_GRACEFUL_RESTART | REDFISH_RESET_FORCE_RESTART |
					    REDFISH_RESET_NMI | REDFISH_RESET_FORCE_ON |
					    REDFISH_RESET_PUSH_POWER_BUTTON);
	assert_string_equal(s.action_info, "");
	assert_true(s.has_boot);
	assert_int_equal(s.boot_enabled, REDFISH_BOOT_ENABLED_ONCE);
	assert_false(s.boot_enabled_advertised);
	assert_int_equal(s.boot_target, REDFISH_BOOT_TARGET_PXE);
	assert_true(s.boot_target_advertised);
	assert_int_equal(s.boot_target_allowed, REDFISH_BOOT_TARGET_NONE | REDFISH_BOOT_TARGET_PXE |
						    REDFISH_BOOT_TARGET_HDD | REDFISH_BOOT_TARGET_OTHER);
	assert_true(s.has_boot_mode);
	assert_int_equal(s.boot_mode, REDFISH_BOOT_MODE_UEFI);
	assert_false(s.boot_mode_advertised);
}

static void test_system_bare(void **state)
{
	struct redfish_system s;
	char msg[256];

	assert_int_equal(redfish_system_decode(DOC(system_bare), &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.power, REDFISH_POWER_OFF);
	assert_int_equal(redfish_power_state(s.power), POWER_STATE_OFF);
	assert_true(s.has_reset);
	assert_false(s.reset_advertised);
	assert_int_equal(s.reset_types, 0);
	assert_string_equal(s.etag, "");
	assert_true(s.has_boot);
	assert_int_equal(s.boot_enabled, REDFISH_BOOT_ENABLED_DISABLED);
	assert_int_equal(s.boot_target, REDFISH_BOOT_TARGET_NONE);
	assert_false(s.boot_target_advertised);
	assert_false(s.has_boot_mode);

	/* Nothing at all but an id: every part reads as absent. */
	assert_int_equal(redfish_system_decode(DOC("{\"@odata.id\": \"/redfish/v1/Systems/1\"}"), &s, msg, sizeof(msg)),
			 0);
	assert_int_equal(s.power, REDFISH_POWER_ABSENT);
	assert_int_equal(redfish_power_state(s.power), POWER_STATE_UNKNOWN);
	assert_false(s.has_reset);
	assert_false(s.has_boot);
}

static void test_system_power_states(void **state)
{
	static const struct {
		const char *doc;
		enum redfish_power power;
		enum power_state state;
	} cases[] = {
	    {"{\"PowerState\": \"On\"}", REDFISH_POWER_ON, POWER_STATE_ON},
	    {"{\"PowerState\": \"Off\"}", REDFISH_POWER_OFF, POWER_STATE_OFF},
	    {"{\"PowerState\": \"PoweringOn\"}", REDFISH_POWER_POWERING_ON, POWER_STATE_ON},
	    {"{\"PowerState\": \"PoweringOff\"}", REDFISH_POWER_POWERING_OFF, POWER_STATE_OFF},
	    {"{\"PowerState\": \"Paused\"}", REDFISH_POWER_PAUSED, POWER_STATE_ON},
	    {"{\"PowerState\": \"Unknown\"}", REDFISH_POWER_UNKNOWN, POWER_STATE_UNKNOWN},
	    {"{\"PowerState\": \"on\"}", REDFISH_POWER_UNKNOWN, POWER_STATE_UNKNOWN},
	    {"{\"PowerState\": \"Standby\"}", REDFISH_POWER_UNKNOWN, POWER_STATE_UNKNOWN},
	    {"{\"PowerState\": null}", REDFISH_POWER_ABSENT, POWER_STATE_UNKNOWN},
	    {"{\"PowerState\": 1}", REDFISH_POWER_ABSENT, POWER_STATE_UNKNOWN},
	    {"{\"PowerState\": [\"On\"]}", REDFISH_POWER_ABSENT, POWER_STATE_UNKNOWN},
	};
	struct redfish_system s;
	char msg[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(redfish_system_decode(DOC(cases[i].doc), &s, msg, sizeof(msg)), 0);
		assert_int_equal(s.power, cases[i].power);
		assert_int_equal(redfish_power_state(s.power), cases[i].state);
	}
	/* Control characters in a reported state never reach a log line raw. */
	assert_int_equal(redfish_system_decode(DOC("{\"PowerState\": \"Odd\\nstate\"}"), &s, msg, sizeof(msg)), 0);
	assert_string_equal(s.power_raw, "Odd state");
}

static void test_system_wrong_types(void **state)
{
	struct redfish_system s;
	char msg[256];

	/* Wrong types read as absent; the document is still a system. */
	const char *doc = "{\"PowerState\": true, \"@odata.etag\": 12,"
			  " \"Boot\": {\"BootSourceOverrideTarget\": 3,"
			  "   \"BootSourceOverrideTarget@Redfish.AllowableValues\": \"Pxe\","
			  "   \"BootSourceOverrideEnabled\": [\"Once\"]},"
			  " \"Actions\": {\"#ComputerSystem.Reset\": {\"target\": 42,"
			  "   \"ResetType@Redfish.AllowableValues\": {\"On\": true}}}}";
	assert_int_equal(redfish_system_decode(DOC(doc), &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.power, REDFISH_POWER_ABSENT);
	assert_string_equal(s.etag, "");
	assert_true(s.has_boot);
	assert_int_equal(s.boot_target, 0);
	assert_false(s.boot_target_advertised);
	assert_int_equal(s.boot_enabled, 0);
	assert_true(s.has_reset);
	assert_string_equal(s.reset_target, "");
	assert_false(s.reset_advertised);

	/* Actions / Boot that are not objects. */
	assert_int_equal(redfish_system_decode(DOC("{\"Actions\": [], \"Boot\": \"Pxe\"}"), &s, msg, sizeof(msg)), 0);
	assert_false(s.has_reset);
	assert_false(s.has_boot);

	/* A reset target on another host reads as absent. */
	doc = "{\"Actions\": {\"#ComputerSystem.Reset\": {\"target\": \"http://evil/x\"}}}";
	assert_int_equal(redfish_system_decode(DOC(doc), &s, msg, sizeof(msg)), 0);
	assert_true(s.has_reset);
	assert_string_equal(s.reset_target, "");

	/* An ETag that a header cannot carry is dropped. */
	assert_int_equal(
	    redfish_system_decode(DOC("{\"@odata.etag\": \"\\\"a\\\"\\r\\nX-Evil: 1\"}"), &s, msg, sizeof(msg)), 0);
	assert_string_equal(s.etag, "");
}

static void test_system_malformed(void **state)
{
	struct redfish_system s;
	char msg[256];
	const char *docs[] = {"",
			      "{",
			      "{\"PowerState\": \"On\"",
			      "PowerState: On",
			      "null",
			      "\"On\"",
			      "[]",
			      "{\"a\":1}{\"b\":2}",
			      "<html><body>502 Bad Gateway</body></html>"};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		msg[0] = '\0';
		assert_int_equal(redfish_system_decode(DOC(docs[i]), &s, msg, sizeof(msg)), -EBADMSG);
		assert_true(msg[0] != '\0');
	}
	/* NUL inside the length, and no NUL at the end. */
	const char with_nul[] = "{\"PowerState\": \"On\"}\0garbage";
	assert_int_equal(redfish_system_decode(with_nul, sizeof(with_nul) - 1, &s, msg, sizeof(msg)), -EBADMSG);
	char unterminated[4] = {'{', '}', '{', '{'};
	assert_int_equal(redfish_system_decode(unterminated, 2, &s, msg, sizeof(msg)), 0);
	assert_int_equal(redfish_system_decode(NULL, 0, &s, msg, sizeof(msg)), -EBADMSG);
	/* Deep nesting is refused by the parser, not a stack overflow. */
	size_t depth = 100000;
	char *deep = malloc(depth * 2 + 1);
	assert_non_null(deep);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	assert_int_equal(redfish_system_decode(deep, depth * 2, &s, msg, sizeof(msg)), -EBADMSG);
	free(deep);
}

static void test_action_info(void **state)
{
	struct redfish_system s;
	char msg[256];

	assert_int_equal(redfish_system_decode(DOC(system_full), &s, msg, sizeof(msg)), 0);
	assert_string_equal(s.action_info, "/redfish/v1/Systems/system/ResetActionInfo");

	const char *info = "{\"@odata.id\": \"/redfish/v1/Systems/system/ResetActionInfo\","
			   " \"Parameters\": [{\"Name\": \"Other\", \"AllowableValues\": [\"On\"]},"
			   "   {\"Name\": \"ResetType\", \"Required\": true, \"DataType\": \"String\","
			   "    \"AllowableValues\": [\"On\", \"ForceOff\"]}]}";
	s.reset_advertised = false;
	s.reset_types = 0;
	assert_int_equal(redfish_action_info_decode(DOC(info), &s, msg, sizeof(msg)), 0);
	assert_true(s.reset_advertised);
	assert_int_equal(s.reset_types, REDFISH_RESET_ON | REDFISH_RESET_FORCE_OFF);

	/* No ResetType parameter: what the system said stays. */
	s.reset_advertised = false;
	assert_int_equal(redfish_action_info_decode(DOC("{\"Parameters\": []}"), &s, msg, sizeof(msg)), 0);
	assert_false(s.reset_advertised);
	assert_int_equal(redfish_action_info_decode(DOC("{\"Parameters\": 1}"), &s, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(redfish_action_info_decode(DOC("{"), &s, msg, sizeof(msg)), -EBADMSG);
}

static void test_error_bodies(void **state)
{
	char out[512];

	/* DSP0266 example: ExtendedInfo says what was wrong. */
	const char *ext =
	    "{\"error\": {\"code\": \"Base.1.8.GeneralError\","
	    " \"message\": \"A general error has occurred. See ExtendedInfo for more information.\","
	    " \"@Message.ExtendedInfo\": ["
	    "  {\"@odata.type\": \"#Message.v1_0_0.Message\", \"MessageId\": \"Base.1.8.PropertyValueNotInList\","
	    "   \"Message\": \"The value Floppy for the property BootSourceOverrideTarget is not in the list of "
	    "acceptable values.\", \"Severity\": \"Warning\"},"
	    "  {\"MessageId\": \"Base.1.8.PropertyMissing\"},"
	    "  {\"Message\": \"\"}, 7]}}";
	assert_int_equal(redfish_error_decode(DOC(ext), out, sizeof(out)), 0);
	assert_string_equal(out, "The value Floppy for the property BootSourceOverrideTarget is not in the list of "
				 "acceptable values.; Base.1.8.PropertyMissing");

	/* No ExtendedInfo: the message; no message: the code. */
	assert_int_equal(redfish_error_decode(DOC("{\"error\": {\"code\": \"Base.1.8.InsufficientPrivilege\","
						  " \"message\": \"There are insufficient privileges.\"}}"),
					      out, sizeof(out)),
			 0);
	assert_string_equal(out, "There are insufficient privileges.");
	assert_int_equal(
	    redfish_error_decode(DOC("{\"error\": {\"code\": \"Base.1.8.ResourceInUse\"}}"), out, sizeof(out)), 0);
	assert_string_equal(out, "Base.1.8.ResourceInUse");

	/* Control characters become spaces; a long message is cut to the buffer. */
	assert_int_equal(
	    redfish_error_decode(DOC("{\"error\": {\"message\": \"line1\\nline2\\u001b[31m\"}}"), out, sizeof(out)), 0);
	assert_string_equal(out, "line1 line2 [31m");
	char small[8];
	assert_int_equal(redfish_error_decode(DOC("{\"error\": {\"message\": \"0123456789\"}}"), small, sizeof(small)),
			 0);
	assert_string_equal(small, "0123456");
	/* Cut where a UTF-8 sequence would be split: before it. */
	assert_int_equal(
	    redfish_error_decode(DOC("{\"error\": {\"message\": \"12345\u00e9x\"}}"), small, sizeof(small)), 0);
	assert_string_equal(small, "12345\xc3\xa9");
	assert_int_equal(
	    redfish_error_decode(DOC("{\"error\": {\"message\": \"123456\u00e9x\"}}"), small, sizeof(small)), 0);
	assert_string_equal(small, "123456");
	assert_int_equal(
	    redfish_error_decode(DOC("{\"error\": {\"message\": \"12345\u20acx\"}}"), small, sizeof(small)), 0);
	assert_string_equal(small, "12345");

	/* Not an error body. */
	assert_int_equal(redfish_error_decode(DOC("{\"error\": \"bad\"}"), out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(redfish_error_decode(DOC("{\"error\": {}}"), out, sizeof(out)), -EINVAL);
	assert_int_equal(redfish_error_decode(DOC("{\"error\": {\"message\": 5, \"code\": null}}"), out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(redfish_error_decode(DOC("Service Unavailable"), out, sizeof(out)), -EBADMSG);
	assert_int_equal(redfish_error_decode(DOC(""), out, sizeof(out)), -EBADMSG);
}

static const char *choose(enum power_action a, const struct redfish_system *s, bool *guessed)
{
	char msg[256];

	return redfish_reset_choose(a, s, guessed, msg, sizeof(msg));
}

static void test_reset_choose(void **state)
{
	struct redfish_system s;
	char msg[256];
	bool guessed;

	/* DMTF mockup: On, ForceOff, ..., no PowerCycle. */
	assert_int_equal(redfish_system_decode(DOC(system_dmtf), &s, msg, sizeof(msg)), 0);
	assert_string_equal(choose(POWER_ON, &s, &guessed), "On");
	assert_false(guessed);
	assert_string_equal(choose(POWER_OFF, &s, &guessed), "ForceOff");
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "ForceRestart");
	assert_null(choose(POWER_QUERY, &s, &guessed));

	/* OpenBMC-like: PowerCycle first when on (PoweringOff counts as not off). */
	assert_int_equal(redfish_system_decode(DOC(system_full), &s, msg, sizeof(msg)), 0);
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "PowerCycle");
	/* A system that is off is turned on by a cycle. */
	s.power = REDFISH_POWER_OFF;
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "On");

	/* Fallbacks down each chain. */
	s.reset_types = REDFISH_RESET_FORCE_ON | REDFISH_RESET_GRACEFUL_SHUTDOWN | REDFISH_RESET_GRACEFUL_RESTART;
	assert_string_equal(choose(POWER_ON, &s, &guessed), "ForceOn");
	assert_string_equal(choose(POWER_OFF, &s, &guessed), "GracefulShutdown");
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "ForceOn");
	s.power = REDFISH_POWER_ON;
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "GracefulRestart");
	s.power = REDFISH_POWER_ABSENT;
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "GracefulRestart");

	/* Nothing fits: the message lists what is advertised. */
	s.reset_types = REDFISH_RESET_NMI | REDFISH_RESET_PUSH_POWER_BUTTON;
	assert_null(redfish_reset_choose(POWER_OFF, &s, &guessed, msg, sizeof(msg)));
	assert_string_equal(msg, "the system allows no ResetType for off (wanted one of ForceOff, GracefulShutdown; it "
				 "allows Nmi, PushPowerButton)");
	s.reset_types = 0; /* advertised, but empty */
	assert_null(redfish_reset_choose(POWER_ON, &s, &guessed, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "it allows none"));

	/* Not advertised: the first of each chain, flagged as a guess. */
	assert_int_equal(redfish_system_decode(DOC(system_bare), &s, msg, sizeof(msg)), 0);
	assert_string_equal(choose(POWER_ON, &s, &guessed), "On");
	assert_true(guessed);
	assert_string_equal(choose(POWER_OFF, &s, &guessed), "ForceOff");
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "On"); /* it is Off */
	s.power = REDFISH_POWER_ON;
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "ForceRestart");
	assert_true(guessed);

	/* ActionInfo fills in what the system did not say inline. */
	const char *info = "{\"Parameters\": [{\"Name\": \"ResetType\", \"AllowableValues\": [\"PowerCycle\"]}]}";
	assert_int_equal(redfish_action_info_decode(DOC(info), &s, msg, sizeof(msg)), 0);
	assert_string_equal(choose(POWER_CYCLE, &s, &guessed), "PowerCycle");
	assert_false(guessed);
}

static void test_reset_types_format(void **state)
{
	char out[64];

	redfish_reset_types_format(REDFISH_RESET_ON | REDFISH_RESET_POWER_CYCLE, out, sizeof(out));
	assert_string_equal(out, "On, PowerCycle");
	redfish_reset_types_format(0, out, sizeof(out));
	assert_string_equal(out, "none");
	char tiny[5];
	redfish_reset_types_format(REDFISH_RESET_GRACEFUL_SHUTDOWN, tiny, sizeof(tiny));
	assert_string_equal(tiny, "Grac");
}

/* The body's Boot object, parsed back. */
static json_t *boot_of(const char *body)
{
	json_t *j = json_loads(body, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 1);
	json_t *b = json_incref(json_object_get(j, "Boot"));
	json_decref(j);
	assert_non_null(b);
	return b;
}

static void test_boot_body(void **state)
{
	struct redfish_system s;
	char msg[256];
	bool unchanged, skipped;

	/* DMTF mockup: UEFI mode property, targets advertised, Once+Pxe+UEFI already set. */
	assert_int_equal(redfish_system_decode(DOC(system_dmtf), &s, msg, sizeof(msg)), 0);
	struct power_boot pxe_once_efi = {POWER_BOOT_PXE, false, true};
	char *body = redfish_boot_body(&pxe_once_efi, &s, &unchanged, &skipped, msg, sizeof(msg));
	assert_non_null(body);
	assert_true(unchanged);
	assert_false(skipped);
	json_t *b = boot_of(body);
	assert_string_equal(json_string_value(json_object_get(b, "BootSourceOverrideEnabled")), "Once");
	assert_string_equal(json_string_value(json_object_get(b, "BootSourceOverrideTarget")), "Pxe");
	assert_string_equal(json_string_value(json_object_get(b, "BootSourceOverrideMode")), "UEFI");
	assert_int_equal(json_object_size(b), 3);
	json_decref(b);
	free(body);

	struct power_boot disk_cont_legacy = {POWER_BOOT_DISK, true, false};
	body = redfish_boot_body(&disk_cont_legacy, &s, &unchanged, &skipped, msg, sizeof(msg));
	assert_non_null(body);
	assert_false(unchanged);
	assert_string_equal(body, "{\"Boot\":{\"BootSourceOverrideEnabled\":\"Continuous\","
				  "\"BootSourceOverrideTarget\":\"Hdd\",\"BootSourceOverrideMode\":\"Legacy\"}}");
	free(body);

	/* No mode property: no mode sent. */
	assert_int_equal(redfish_system_decode(DOC(system_bare), &s, msg, sizeof(msg)), 0);
	body = redfish_boot_body(&pxe_once_efi, &s, &unchanged, &skipped, msg, sizeof(msg));
	assert_string_equal(body,
			    "{\"Boot\":{\"BootSourceOverrideEnabled\":\"Once\",\"BootSourceOverrideTarget\":\"Pxe\"}}");
	assert_false(unchanged);
	assert_true(skipped);
	free(body);

	/* UEFI-only system asked for Legacy: its own mode stays, and it says so. */
	assert_int_equal(redfish_system_decode(DOC(system_full), &s, msg, sizeof(msg)), 0);
	struct power_boot pxe_once_legacy = {POWER_BOOT_PXE, false, false};
	body = redfish_boot_body(&pxe_once_legacy, &s, &unchanged, &skipped, msg, sizeof(msg));
	assert_non_null(body);
	assert_true(skipped);
	assert_null(strstr(body, "Mode"));
	free(body);

	/* Continuous not among the advertised values: refused, saying why. */
	struct power_boot pxe_cont = {POWER_BOOT_PXE, true, true};
	assert_null(redfish_boot_body(&pxe_cont, &s, &unchanged, &skipped, msg, sizeof(msg)));
	assert_string_equal(msg, "the system does not allow BootSourceOverrideEnabled Continuous (a persistent boot "
				 "device)");

	/* Target not advertised. */
	s.boot_target_allowed = REDFISH_BOOT_TARGET_HDD;
	assert_null(redfish_boot_body(&pxe_once_efi, &s, &unchanged, &skipped, msg, sizeof(msg)));
	assert_string_equal(msg, "the system does not allow BootSourceOverrideTarget Pxe");

	/* No Boot object. */
	s.has_boot = false;
	assert_null(redfish_boot_body(&disk_cont_legacy, &s, &unchanged, &skipped, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "no Boot"));
	struct power_boot keep = {POWER_BOOT_KEEP, false, false};
	s.has_boot = true;
	assert_null(redfish_boot_body(&keep, &s, &unchanged, &skipped, msg, sizeof(msg)));
}

static void test_reset_and_login_bodies(void **state)
{
	char *b = redfish_reset_body("ForceRestart");
	assert_string_equal(b, "{\"ResetType\":\"ForceRestart\"}");
	free(b);

	b = redfish_login_body("admin", "p\"a\\ss");
	assert_string_equal(b, "{\"UserName\":\"admin\",\"Password\":\"p\\\"a\\\\ss\"}");
	free(b);
	b = redfish_login_body(NULL, NULL);
	assert_string_equal(b, "{\"UserName\":\"\",\"Password\":\"\"}");
	free(b);
	/* Not UTF-8: JSON cannot carry it. */
	assert_null(redfish_login_body("admin", "\xff\xfe"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root),
	    cmocka_unit_test(test_root_refuses_foreign_links),
	    cmocka_unit_test(test_collection),
	    cmocka_unit_test(test_collection_wrong_shapes),
	    cmocka_unit_test(test_system_dmtf),
	    cmocka_unit_test(test_system_bare),
	    cmocka_unit_test(test_system_power_states),
	    cmocka_unit_test(test_system_wrong_types),
	    cmocka_unit_test(test_system_malformed),
	    cmocka_unit_test(test_action_info),
	    cmocka_unit_test(test_error_bodies),
	    cmocka_unit_test(test_reset_choose),
	    cmocka_unit_test(test_reset_types_format),
	    cmocka_unit_test(test_boot_body),
	    cmocka_unit_test(test_reset_and_login_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
