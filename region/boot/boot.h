/* region/boot: the boot resources the region publishes to its racks.
 *
 * Files under boot_resources_dir (kernels, initrds: ephemeral/amd64/vmlinuz)
 * are scanned on a worker thread — at start, on SIGHUP and every
 * boot_resources_rescan — and each is listed with its size and SHA-256 in
 * every RackConfig snapshot the region pushes. When the list changes, every
 * rack gets a new config version. The files are served over HTTPS on
 * boot_resources_listen to racks only (mutual TLS, client certificates of
 * the region CA, enrolled racks).
 *
 * The last published list is kept in state_dir/boot-resources.manifest: it
 * is what racks were last told, so a region restart publishes it at once
 * and racks see a change only when the files really changed. It also lets a
 * scan skip hashing files whose size, mtime, ctime and inode are the same.
 *
 * Names follow common/bootres.h; symbolic links, hidden files and other
 * names outside those rules are not published (a log line says which). */
#pragma once

#include <stddef.h>

#include "ironrack/v1/region.pb-c.h"

struct region;
struct rack_config_row;

/* Load the last published list, start the HTTPS listener (unless
 * boot_resources_listen is empty) and the first scan. Logs its errors. */
int region_bootres_start(struct region *r);
/* Stop serving and scanning; waits for a running scan to notice. */
void region_bootres_stop(struct region *r);
/* Scan again now (SIGHUP). */
void region_bootres_rescan(struct region *r);
/* The published list for a RackConfig snapshot. *ret points to n messages
 * owned by region/boot, valid until control returns to the loop. */
size_t region_bootres_snapshot(struct region *r, Ironrack__V1__BootResource ***ret);
/* The boot-resource part of a RackConfig (region/rackcfg.c): the
 * published list, borrowed like region_bootres_snapshot's. */
int region_bootres_rackcfg_fill(struct region *r, const char *rack_id, const struct rack_config_row *row,
				Ironrack__V1__RackConfig *cfg);
