/* IPMI boot option parameter data; see ipmi_bootopt.h for the layout. */
#include "rack/power/ipmi_bootopt.h"

#include <errno.h>
#include <string.h>

#define FLAGS_VALID	 0x80 /* byte 1 */
#define FLAGS_PERSISTENT 0x40
#define FLAGS_EFI	 0x20
#define DEV_SHIFT	 2 /* byte 2 bits 5:2 */
#define DEV_MASK	 0x0f

static const char *const dev_names[16] = {
    [IPMI_BOOT_DEV_NONE] = "none",
    [IPMI_BOOT_DEV_PXE] = "pxe",
    [IPMI_BOOT_DEV_DISK] = "disk",
    [IPMI_BOOT_DEV_DISK_SAFE] = "disk-safe-mode",
    [IPMI_BOOT_DEV_DIAG] = "diagnostic",
    [IPMI_BOOT_DEV_CDROM] = "cdrom",
    [IPMI_BOOT_DEV_BIOS_SETUP] = "bios-setup",
    [IPMI_BOOT_DEV_REMOTE_FLOPPY] = "remote-floppy",
    [IPMI_BOOT_DEV_REMOTE_CDROM] = "remote-cdrom",
    [IPMI_BOOT_DEV_REMOTE_PRIMARY] = "remote-primary",
    [IPMI_BOOT_DEV_REMOTE_DISK] = "remote-disk",
    [IPMI_BOOT_DEV_FLOPPY] = "floppy",
};

bool ipmi_boot_dev_known(uint8_t device)
{
	return device <= DEV_MASK && dev_names[device] != NULL;
}

const char *ipmi_boot_dev_name(uint8_t device)
{
	return ipmi_boot_dev_known(device) ? dev_names[device] : "reserved";
}

int ipmi_boot_flags_from_power(const struct power_boot *boot, struct ipmi_boot_flags *ret)
{
	memset(ret, 0, sizeof(*ret));
	switch (boot->dev) {
	case POWER_BOOT_PXE:
		ret->device = IPMI_BOOT_DEV_PXE;
		break;
	case POWER_BOOT_DISK:
		ret->device = IPMI_BOOT_DEV_DISK;
		break;
	default:
		return -EINVAL;
	}
	ret->valid = true;
	ret->persistent = boot->persistent;
	ret->efi = boot->efi;
	return 0;
}

int ipmi_boot_flags_encode(const struct ipmi_boot_flags *f, uint8_t *out, size_t outlen)
{
	if (!ipmi_boot_dev_known(f->device))
		return -EINVAL;
	if (outlen < IPMI_BOOTOPT_BOOT_FLAGS_LEN)
		return -ENOSPC;
	memset(out, 0, IPMI_BOOTOPT_BOOT_FLAGS_LEN);
	out[0] = (f->valid ? FLAGS_VALID : 0) | (f->persistent ? FLAGS_PERSISTENT : 0) | (f->efi ? FLAGS_EFI : 0);
	out[1] = (uint8_t)(f->device << DEV_SHIFT);
	return IPMI_BOOTOPT_BOOT_FLAGS_LEN;
}

int ipmi_boot_flags_decode(const uint8_t *data, size_t len, struct ipmi_boot_flags *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (len != IPMI_BOOTOPT_BOOT_FLAGS_LEN)
		return -EBADMSG;
	ret->valid = data[0] & FLAGS_VALID;
	ret->persistent = data[0] & FLAGS_PERSISTENT;
	ret->efi = data[0] & FLAGS_EFI;
	ret->device = (data[1] >> DEV_SHIFT) & DEV_MASK;
	return 0;
}

int ipmi_bootopt_info_ack_encode(uint8_t mask, uint8_t data, uint8_t *out, size_t outlen)
{
	if ((mask | data) & ~IPMI_BOOTOPT_ACK_ALL)
		return -EINVAL;
	if (outlen < IPMI_BOOTOPT_INFO_ACK_LEN)
		return -ENOSPC;
	out[0] = mask;
	out[1] = data;
	return IPMI_BOOTOPT_INFO_ACK_LEN;
}
