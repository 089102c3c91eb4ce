/* Boot configurations rendered on the rack: pxelinux, GRUB and iPXE files
 * for one machine (by MAC) or the default for unknown machines. Pure: text
 * in, text out; the TFTP and HTTP shells call it per request.
 *
 * The region pushes boot configs ahead of time (kernel, initrd, command
 * line, purpose); only an unknown MAC leads to a GetBootConfig call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bootconf.h" /* struct boot_config, boot_config_validate, purposes */

/* Where the rack serves files from, as the client sees it. */
struct boot_server {
	const char *http_base; /* "http://192.0.2.1:5248" — iPXE and GRUB fetch kernels over HTTP */
};

enum boot_file_kind {
	BOOT_FILE_NONE,	    /* not a boot config path: a plain file */
	BOOT_FILE_PXELINUX, /* pxelinux.cfg/01-aa-bb-cc-dd-ee-ff or pxelinux.cfg/default */
	BOOT_FILE_GRUB,	    /* grub/grub.cfg-aa:bb:cc:dd:ee:ff or grub/grub.cfg */
	BOOT_FILE_IPXE,	    /* ipxe/aa:bb:cc:dd:ee:ff.ipxe or ipxe/default.ipxe */
};

struct boot_request {
	enum boot_file_kind kind;
	bool has_mac;
	uint8_t mac[6];
};

/* Classify a requested path (leading '/' ignored). A path that looks like a
 * boot config but carries a malformed MAC is BOOT_FILE_NONE (served, if at
 * all, as a plain file). pxelinux's fallbacks for an IP in hex
 * (pxelinux.cfg/C000020A, ...) are answered with the default. */
void boot_path_classify(const char *path, struct boot_request *ret);

/* The kernel command line a rendered config carries: the config's own,
 * and for purposes that boot a kernel (enlist, commission, deploy) what
 * only the rack knows (docs/machines.md, "Kernel command line"):
 * " ironrack.url=HTTP_BASE" (when srv has an http:// base) and, for a
 * config chosen for a MAC (c->has_mac), " ironrack.mac=aa:bb:cc:dd:ee:ff";
 * a parameter the config's command line has already is not added again.
 * Returns the length written, -ENOSPC if buf is too small. */
#define BOOT_CMDLINE_MAX (BOOT_FIELD_MAX + 128)
int boot_cmdline_build(const struct boot_config *c, const struct boot_server *srv, char *buf, size_t len);

/* Render the file of the given kind into buf. Returns the length written
 * (without NUL), -ENOSPC if buf is too small, -EINVAL for a bad config. */
int boot_render(enum boot_file_kind kind, const struct boot_config *c, const struct boot_server *srv, char *buf,
		size_t len);
