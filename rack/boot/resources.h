/* The rack's boot-resource cache: the files the region lists in its config
 * snapshots (BootResource: name, size, sha256, url), kept under the boot
 * root and served from there by TFTP and HTTP boot.
 *
 * On every applied snapshot, and at start from the stored one, a sync runs
 * on a worker thread (never on the loop: DHCP and TFTP keep serving):
 *   - state_dir/boot-resources.manifest says which files of the boot root
 *     are resources we installed, with their size, mtime, ctime, inode and
 *     SHA-256; a file whose stat data still match is trusted without
 *     rehashing;
 *   - files no longer listed are deleted — only those in the manifest, so
 *     loaders and anything an operator put there are never touched, and
 *     never a file the list still names;
 *   - missing or different files are fetched from the region (fetch.h),
 *     resumable, verified, renamed into place; a file already there with the
 *     listed size is hashed and kept when it matches.
 * One log line per file fetched (bytes, time, verified) and one per sync.
 * A failed fetch is retried with backoff (5 s doubling to 5 min); meanwhile,
 * and while the region is away, what is on disk keeps being served. A new
 * list stops a running sync (a partial download is resumed later). */
#pragma once

#include <stddef.h>

struct rack;
struct Ironrack__V1__RackConfig;
struct rack_config_part;

/* Boot resources' part of a RackConfig (rack/session.h). */
extern const struct rack_config_part rack_resources_config_part;

/* Set up rack->resources and start a sync for the stored snapshot's list. */
int rack_resources_start(struct rack *rack, const char *boot_root);
/* Stop the sync (a running download is interrupted) and free. */
void rack_resources_stop(struct rack *rack);

/* Check a snapshot's list before it is stored: names (common/bootres.h),
 * lowercase SHA-256, https URLs, no duplicates, at most BOOTRES_MAX. 0, or
 * -EINVAL with the reason in msg. */
int rack_resources_check(const struct Ironrack__V1__RackConfig *cfg, char *msg, size_t len);
/* The snapshot is stored: bring the boot root in line with its list. */
void rack_resources_apply(struct rack *rack, const struct Ironrack__V1__RackConfig *cfg);
