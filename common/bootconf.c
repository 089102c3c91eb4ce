/* Boot configuration rules shared by region and rack; see bootconf.h. */
#include "common/bootconf.h"

#include <errno.h>
#include <string.h>

static const char *const purpose_names[] = {"enlist", "commission", "deploy", "local", "poweroff", "erase"};

const char *boot_purpose_name(enum boot_purpose p)
{
	return (unsigned)p < sizeof(purpose_names) / sizeof(purpose_names[0]) ? purpose_names[p] : "?";
}

int boot_purpose_parse(const char *s, enum boot_purpose *ret)
{
	for (size_t i = 0; i < sizeof(purpose_names) / sizeof(purpose_names[0]); i++) {
		if (strcmp(s, purpose_names[i]) == 0) {
			*ret = (enum boot_purpose)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool field_ok(const char *s, bool path)
{
	if (!s || strlen(s) > BOOT_FIELD_MAX)
		return false;
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
		if (path && (*p == ' ' || *p == '"' || *p == '\''))
			return false;
	}
	if (path && (s[0] == '/' || strstr(s, "..") || s[0] == '\0'))
		return false;
	return true;
}

int boot_config_check(const struct boot_config *c, const char **ret_field, const char **ret_why)
{
	const char *why = NULL, *field = NULL;
	bool needs_kernel = c->purpose == BOOT_ENLIST || c->purpose == BOOT_COMMISSION || c->purpose == BOOT_DEPLOY ||
			    c->purpose == BOOT_ERASE;

	if ((unsigned)c->purpose > BOOT_ERASE) {
		field = "purpose";
		why = "unknown purpose";
	} else if (needs_kernel && (!c->kernel || !field_ok(c->kernel, true))) {
		field = "kernel";
		why = "kernel must be a relative path under the boot root without spaces, quotes or '..'";
	} else if (needs_kernel && c->initrd && c->initrd[0] && !field_ok(c->initrd, true)) {
		field = "initrd";
		why = "initrd must be a relative path under the boot root without spaces, quotes or '..'";
	} else if (c->cmdline && !field_ok(c->cmdline, false)) {
		field = "cmdline";
		why = "command line must be printable and at most 1024 characters";
	}
	if (ret_field)
		*ret_field = field;
	if (ret_why)
		*ret_why = why;
	return why ? -EINVAL : 0;
}

int boot_config_validate(const struct boot_config *c, const char **ret_why)
{
	return boot_config_check(c, NULL, ret_why);
}
