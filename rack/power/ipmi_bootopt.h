/* IPMI "Set/Get System Boot Options" parameter data (chassis netfn,
 * commands 08h/09h; IPMI 2.0 section 28.12-28.13, table 28-14): the bytes
 * that tell a machine's firmware what to boot from next.
 *
 * Pure: parameter data bytes <-> structs, no I/O, no library. The command
 * framing (parameter selector byte, "parameter valid" bit, the Get
 * response's version byte) is libfreeipmi's; this codec owns only the
 * parameter data, so the bytes the driver sends are the ones the unit
 * tests check.
 *
 * Boot flags (parameter 5), five bytes:
 *   byte 1  bit 7  boot flags valid
 *           bit 6  1 = persistent, 0 = next boot only
 *           bit 5  1 = EFI boot, 0 = PC compatible (legacy) boot
 *           4:0    reserved (0)
 *   byte 2  bit 7 CMOS clear, bit 6 lock keyboard,
 *           5:2    boot device selector (IPMI_BOOT_DEV_*)
 *           bit 1 screen blank, bit 0 lock out reset button
 *   byte 3  BIOS verbosity, console redirection, lock-outs
 *   byte 4  BIOS shared mode / mux override
 *   byte 5  device instance selector
 * The encoder sets only the first three fields and the device; every
 * other bit is 0 ("system default", nothing locked, no CMOS clear).
 *
 * The sequence the spec suggests for a boot initiator, which the driver
 * follows (rack/power/ipmi.c):
 *   1. parameter 0 (set in progress) <- "set in progress"; optional in
 *      practice: a BMC that refuses it (ipmi_sim does) is used without it
 *   2. parameter 4 (boot info acknowledge) <- mask 01h, data 01h: "BIOS/POST
 *      has not handled the boot info yet", as ipmitool writes it, so the
 *      firmware does not skip flags it believes it already handled
 *   3. parameter 5 (boot flags) with the valid bit set
 *   4. parameter 0 <- "set complete" (only if step 1 was accepted)
 * then a Chassis Control within 60 s: the BMC clears the valid bit by
 * itself 60 s after it was set if no restart follows (section 28.13). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rack/power/driver.h"

/* Parameter selectors (table 28-14). */
#define IPMI_BOOTOPT_PARAM_SET_IN_PROGRESS 0
#define IPMI_BOOTOPT_PARAM_INFO_ACK	   4
#define IPMI_BOOTOPT_PARAM_BOOT_FLAGS	   5

/* Parameter data lengths. */
#define IPMI_BOOTOPT_INFO_ACK_LEN   2
#define IPMI_BOOTOPT_BOOT_FLAGS_LEN 5

/* Parameter 0, data byte 1 bits 1:0. libfreeipmi encodes this one itself
 * (its generic Set System Boot Options refuses selector 0). */
enum ipmi_bootopt_progress {
	IPMI_BOOTOPT_SET_COMPLETE = 0,
	IPMI_BOOTOPT_SET_IN_PROGRESS = 1,
	IPMI_BOOTOPT_COMMIT_WRITE = 2, /* optional in the spec */
};

/* Parameter 4: who has handled the boot info; a 0 bit in the data byte
 * means "has handled it", 1 "has not yet". */
enum {
	IPMI_BOOTOPT_ACK_BIOS = 1u << 0,
	IPMI_BOOTOPT_ACK_OS_LOADER = 1u << 1,
	IPMI_BOOTOPT_ACK_OS = 1u << 2, /* OS / service partition */
	IPMI_BOOTOPT_ACK_SMS = 1u << 3,
	IPMI_BOOTOPT_ACK_OEM = 1u << 4,
	IPMI_BOOTOPT_ACK_ALL = 0x1f,
};

/* Boot device selector, byte 2 bits 5:2. 0Ah and 0Ch-0Eh are reserved. */
enum ipmi_boot_dev {
	IPMI_BOOT_DEV_NONE = 0x0, /* no override */
	IPMI_BOOT_DEV_PXE = 0x1,
	IPMI_BOOT_DEV_DISK = 0x2, /* default hard drive */
	IPMI_BOOT_DEV_DISK_SAFE = 0x3,
	IPMI_BOOT_DEV_DIAG = 0x4,
	IPMI_BOOT_DEV_CDROM = 0x5,
	IPMI_BOOT_DEV_BIOS_SETUP = 0x6,
	IPMI_BOOT_DEV_REMOTE_FLOPPY = 0x7,
	IPMI_BOOT_DEV_REMOTE_CDROM = 0x8,
	IPMI_BOOT_DEV_REMOTE_PRIMARY = 0x9,
	IPMI_BOOT_DEV_REMOTE_DISK = 0xb,
	IPMI_BOOT_DEV_FLOPPY = 0xf,
};

struct ipmi_boot_flags {
	bool valid;
	bool persistent; /* false: the next boot only */
	bool efi;	 /* false: PC compatible (legacy) */
	uint8_t device;	 /* the selector, 0..15, as sent or received */
};

/* Boot flags for a power action's boot request: valid, the device (PXE or
 * disk), persistent and EFI as asked. -EINVAL for POWER_BOOT_KEEP (there is
 * nothing to set) or a device this codec does not know. */
int ipmi_boot_flags_from_power(const struct power_boot *boot, struct ipmi_boot_flags *ret);

/* Parameter 5 data into out (outlen >= IPMI_BOOTOPT_BOOT_FLAGS_LEN).
 * Returns the length written (5); -EINVAL for a selector above 15 or a
 * reserved one; -ENOSPC if out is too small. */
int ipmi_boot_flags_encode(const struct ipmi_boot_flags *f, uint8_t *out, size_t outlen);

/* Parameter 5 data as a Get System Boot Options answer carries it. Exactly
 * IPMI_BOOTOPT_BOOT_FLAGS_LEN bytes, else -EBADMSG. A reserved selector is
 * decoded as it is (ipmi_boot_dev_known() says false), not refused: a query
 * reports what the BMC holds. Bits this codec does not model are ignored. */
int ipmi_boot_flags_decode(const uint8_t *data, size_t len, struct ipmi_boot_flags *ret);

/* Whether the selector is one table 28-14 defines. */
bool ipmi_boot_dev_known(uint8_t device);
/* "pxe", "disk", ... ; "reserved" for a selector the spec reserves. */
const char *ipmi_boot_dev_name(uint8_t device);

/* Parameter 4 data (two bytes: write mask, then the acknowledge bits).
 * -EINVAL if either has a bit above IPMI_BOOTOPT_ACK_ALL. */
int ipmi_bootopt_info_ack_encode(uint8_t mask, uint8_t data, uint8_t *out, size_t outlen);
