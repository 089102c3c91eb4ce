/* A machine's boot configuration (purpose, kernel, initrd, command line)
 * and the rules every one must pass. Both daemons use it: the region checks
 * a config before storing it (REST API, GetBootConfig answers), the rack
 * checks every config in a snapshot again before applying it, with the
 * same function, so the two can never disagree on what is valid.
 *
 * Pure: no I/O, no globals, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum boot_purpose {
	BOOT_ENLIST,
	BOOT_COMMISSION,
	BOOT_DEPLOY,
	BOOT_LOCAL,
	BOOT_POWEROFF,
	BOOT_ERASE, /* the ephemeral environment erasing the disks on release */
};

#define BOOT_FIELD_MAX	 1024  /* longest kernel, initrd or command line */
#define BOOT_CONFIGS_MAX 65536 /* boot configs in one rack configuration snapshot */

struct boot_config {
	uint8_t mac[6];
	bool has_mac; /* false: the default for unknown machines */
	enum boot_purpose purpose;
	const char *kernel; /* path under the boot root, e.g. "ephemeral/amd64/vmlinuz" */
	const char *initrd;
	const char *cmdline; /* kernel command line */
};

/* Check a config: fields present for the purpose (enlist, commission,
 * deploy and erase need a kernel), no control characters (a newline would inject
 * config lines), no ".." or absolute paths, no blanks or quotes in
 * kernel/initrd, lengths. 0, or -EINVAL with *ret_field ("purpose",
 * "kernel", "initrd", "cmdline") and *ret_why (static text). Either
 * pointer may be NULL. */
int boot_config_check(const struct boot_config *c, const char **ret_field, const char **ret_why);

/* boot_config_check without the field. */
int boot_config_validate(const struct boot_config *c, const char **ret_why);

const char *boot_purpose_name(enum boot_purpose p);
int boot_purpose_parse(const char *s, enum boot_purpose *ret);
