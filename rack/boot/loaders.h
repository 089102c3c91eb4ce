/* Boot loaders in the rack's boot root, from the Debian packages installed
 * on the rack host: pxelinux.0, lpxelinux.0 (pxelinux), ldlinux.c32 and the
 * usual COM32 modules (syslinux-common), undionly.kpxe, ipxe.efi and
 * snponly.efi (ipxe), grubx64.efi (grub-efi-amd64-signed) and bootx64.efi
 * (shim-signed).
 *
 * Each is copied into the boot root when missing there or different (size,
 * then SHA-256), through a temporary file renamed into place, so a TFTP
 * transfer in flight keeps the version it started with. Copies, not hard
 * links: a hard link would share the package's inode, and anything that
 * rewrote or chmod'ed the boot root's file would change the package's.
 * The loaders are a few hundred KiB; they are checked at start, before the
 * loop runs.
 *
 * Boot resources from the region never overwrite these names
 * (rack_loader_name_reserved). */
#pragma once

#include <stdbool.h>

struct rack;

/* Install or refresh the loaders (config key loaders = auto), or do nothing
 * (loaders = off). Logs what it installed and one line naming the packages
 * that are missing. -EINVAL for an unknown loaders value; a missing package
 * is not an error. */
int rack_loaders_install(struct rack *rack, const char *boot_root);

/* Is name (a boot-root-relative path) one of the loader files? */
bool rack_loader_name_reserved(const char *name);
