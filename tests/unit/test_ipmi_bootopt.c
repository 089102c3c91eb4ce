#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rack/power/ipmi_bootopt.h"

/* Encode a power_boot the way the driver does and compare with the bytes. */
static void check_power_encoding(enum power_boot_dev dev, bool persistent, bool efi, const uint8_t want[5])
{
	struct power_boot boot = {.dev = dev, .persistent = persistent, .efi = efi};
	struct ipmi_boot_flags f;
	uint8_t out[8];

	memset(out, 0xee, sizeof(out));
	assert_int_equal(ipmi_boot_flags_from_power(&boot, &f), 0);
	assert_int_equal(ipmi_boot_flags_encode(&f, out, sizeof(out)), IPMI_BOOTOPT_BOOT_FLAGS_LEN);
	assert_memory_equal(out, want, 5);
	assert_int_equal(out[5], 0xee); /* nothing written past the parameter */

	/* and back */
	struct ipmi_boot_flags back;
	assert_int_equal(ipmi_boot_flags_decode(out, 5, &back), 0);
	assert_true(back.valid);
	assert_int_equal(back.persistent, persistent);
	assert_int_equal(back.efi, efi);
	assert_int_equal(back.device, dev == POWER_BOOT_PXE ? IPMI_BOOT_DEV_PXE : IPMI_BOOT_DEV_DISK);
}

/* Every combination the driver can send: byte 1 = valid (80h) | persistent
 * (40h) | EFI (20h); byte 2 = selector << 2 (PXE 0001b -> 04h, disk 0010b
 * -> 08h); bytes 3-5 zero. ipmitool's "chassis bootdev pxe" sends the
 * first row, "bootdev disk options=persistent,efiboot" the last. */
static void test_encode_every_combination(void **state)
{
	(void)state;
	static const struct {
		enum power_boot_dev dev;
		bool persistent, efi;
		uint8_t bytes[5];
	} rows[] = {
	    {POWER_BOOT_PXE, false, false, {0x80, 0x04, 0, 0, 0}},
	    {POWER_BOOT_PXE, false, true, {0xa0, 0x04, 0, 0, 0}},
	    {POWER_BOOT_PXE, true, false, {0xc0, 0x04, 0, 0, 0}},
	    {POWER_BOOT_PXE, true, true, {0xe0, 0x04, 0, 0, 0}},
	    {POWER_BOOT_DISK, false, false, {0x80, 0x08, 0, 0, 0}},
	    {POWER_BOOT_DISK, false, true, {0xa0, 0x08, 0, 0, 0}},
	    {POWER_BOOT_DISK, true, false, {0xc0, 0x08, 0, 0, 0}},
	    {POWER_BOOT_DISK, true, true, {0xe0, 0x08, 0, 0, 0}},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_power_encoding(rows[i].dev, rows[i].persistent, rows[i].efi, rows[i].bytes);
}

static void test_keep_is_not_encodable(void **state)
{
	(void)state;
	struct power_boot keep = {.dev = POWER_BOOT_KEEP, .persistent = true};
	struct power_boot bogus = {.dev = (enum power_boot_dev)7};
	struct ipmi_boot_flags f;

	assert_int_equal(ipmi_boot_flags_from_power(&keep, &f), -EINVAL);
	assert_int_equal(ipmi_boot_flags_from_power(&bogus, &f), -EINVAL);
}

static void test_encode_other_selectors(void **state)
{
	(void)state;
	uint8_t out[5];
	struct ipmi_boot_flags f = {.valid = false, .device = IPMI_BOOT_DEV_NONE};

	/* "clear the override": valid bit off, no override */
	assert_int_equal(ipmi_boot_flags_encode(&f, out, sizeof(out)), 5);
	assert_memory_equal(out, ((uint8_t[]){0x00, 0x00, 0, 0, 0}), 5);

	f = (struct ipmi_boot_flags){.valid = true, .device = IPMI_BOOT_DEV_BIOS_SETUP};
	assert_int_equal(ipmi_boot_flags_encode(&f, out, sizeof(out)), 5);
	assert_memory_equal(out, ((uint8_t[]){0x80, 0x18, 0, 0, 0}), 5);

	f.device = IPMI_BOOT_DEV_FLOPPY; /* 1111b: the top of the field */
	assert_int_equal(ipmi_boot_flags_encode(&f, out, sizeof(out)), 5);
	assert_memory_equal(out, ((uint8_t[]){0x80, 0x3c, 0, 0, 0}), 5);

	f.device = IPMI_BOOT_DEV_REMOTE_DISK;
	assert_int_equal(ipmi_boot_flags_encode(&f, out, sizeof(out)), 5);
	assert_memory_equal(out, ((uint8_t[]){0x80, 0x2c, 0, 0, 0}), 5);
}

static void test_encode_refuses_reserved_and_short(void **state)
{
	(void)state;
	uint8_t out[5] = {0x11, 0x22, 0x33, 0x44, 0x55};
	struct ipmi_boot_flags f = {.valid = true};

	static const uint8_t reserved[] = {0xa, 0xc, 0xd, 0xe, 0x10, 0xff};
	for (size_t i = 0; i < sizeof(reserved); i++) {
		f.device = reserved[i];
		assert_int_equal(ipmi_boot_flags_encode(&f, out, sizeof(out)), -EINVAL);
	}
	f.device = IPMI_BOOT_DEV_PXE;
	assert_int_equal(ipmi_boot_flags_encode(&f, out, 4), -ENOSPC);
	assert_int_equal(ipmi_boot_flags_encode(&f, out, 0), -ENOSPC);
	/* a refused encode leaves the buffer alone */
	assert_memory_equal(out, ((uint8_t[]){0x11, 0x22, 0x33, 0x44, 0x55}), 5);
}

/* What BMCs answer to Get System Boot Options parameter 5. */
static void test_decode_examples(void **state)
{
	(void)state;
	struct ipmi_boot_flags f;

	/* ipmi_sim after "bootdev pxe": valid bit clear, PXE ("0004000000"
	 * in ipmitool's "chassis bootparam get 5") */
	assert_int_equal(ipmi_boot_flags_decode((uint8_t[]){0x00, 0x04, 0x00, 0x00, 0x00}, 5, &f), 0);
	assert_false(f.valid);
	assert_false(f.persistent);
	assert_false(f.efi);
	assert_int_equal(f.device, IPMI_BOOT_DEV_PXE);
	assert_string_equal(ipmi_boot_dev_name(f.device), "pxe");

	/* persistent EFI disk, with every bit we do not model set: CMOS
	 * clear, lock keyboard, screen blank, lock reset; verbose BIOS,
	 * console redirection, mux override, device instance 1 */
	assert_int_equal(ipmi_boot_flags_decode((uint8_t[]){0xff, 0xcb, 0xff, 0x0f, 0x01}, 5, &f), 0);
	assert_true(f.valid);
	assert_true(f.persistent);
	assert_true(f.efi);
	assert_int_equal(f.device, IPMI_BOOT_DEV_DISK);
	assert_string_equal(ipmi_boot_dev_name(f.device), "disk");

	/* valid, next boot, legacy, BIOS setup */
	assert_int_equal(ipmi_boot_flags_decode((uint8_t[]){0x80, 0x18, 0, 0, 0}, 5, &f), 0);
	assert_true(f.valid);
	assert_false(f.persistent);
	assert_int_equal(f.device, IPMI_BOOT_DEV_BIOS_SETUP);
	assert_string_equal(ipmi_boot_dev_name(f.device), "bios-setup");

	/* no override */
	assert_int_equal(ipmi_boot_flags_decode((uint8_t[]){0x80, 0x00, 0, 0, 0}, 5, &f), 0);
	assert_int_equal(f.device, IPMI_BOOT_DEV_NONE);
	assert_string_equal(ipmi_boot_dev_name(f.device), "none");
}

static void test_decode_reserved_selectors(void **state)
{
	(void)state;
	struct ipmi_boot_flags f;

	/* 1010b: reserved; decoded, named as such, not refused */
	assert_int_equal(ipmi_boot_flags_decode((uint8_t[]){0x80, 0x28, 0, 0, 0}, 5, &f), 0);
	assert_int_equal(f.device, 0xa);
	assert_false(ipmi_boot_dev_known(f.device));
	assert_string_equal(ipmi_boot_dev_name(f.device), "reserved");

	for (uint8_t d = 0xc; d <= 0xe; d++) {
		assert_int_equal(ipmi_boot_flags_decode((uint8_t[]){0x80, (uint8_t)(d << 2), 0, 0, 0}, 5, &f), 0);
		assert_int_equal(f.device, d);
		assert_false(ipmi_boot_dev_known(d));
	}
	for (uint8_t d = 0; d <= 0xf; d++)
		assert_int_equal(ipmi_boot_dev_known(d), !(d == 0xa || (d >= 0xc && d <= 0xe)));
	assert_false(ipmi_boot_dev_known(0x10));
	assert_string_equal(ipmi_boot_dev_name(0xff), "reserved");
}

static void test_decode_bad_lengths(void **state)
{
	(void)state;
	static const uint8_t six[6] = {0x80, 0x04, 0, 0, 0, 0};
	struct ipmi_boot_flags f = {.valid = true, .device = 3};

	for (size_t len = 0; len <= sizeof(six); len++) {
		if (len == 5)
			continue;
		assert_int_equal(ipmi_boot_flags_decode(six, len, &f), -EBADMSG);
		/* a refused answer says nothing */
		assert_false(f.valid);
		assert_int_equal(f.device, 0);
	}
}

static void test_info_ack(void **state)
{
	(void)state;
	uint8_t out[3] = {0xee, 0xee, 0xee};

	/* what the driver writes: BIOS/POST has not handled the boot info */
	assert_int_equal(ipmi_bootopt_info_ack_encode(IPMI_BOOTOPT_ACK_BIOS, IPMI_BOOTOPT_ACK_BIOS, out, sizeof(out)),
			 2);
	assert_memory_equal(out, ((uint8_t[]){0x01, 0x01, 0xee}), 3);
	/* everyone, unhandled */
	assert_int_equal(ipmi_bootopt_info_ack_encode(IPMI_BOOTOPT_ACK_ALL, IPMI_BOOTOPT_ACK_ALL, out, sizeof(out)), 2);
	assert_memory_equal(out, ((uint8_t[]){0x1f, 0x1f, 0xee}), 3);
	/* bits 7:5 are reserved */
	assert_int_equal(ipmi_bootopt_info_ack_encode(0x20, 0x00, out, sizeof(out)), -EINVAL);
	assert_int_equal(ipmi_bootopt_info_ack_encode(0x01, 0x80, out, sizeof(out)), -EINVAL);
	assert_int_equal(ipmi_bootopt_info_ack_encode(0x01, 0x01, out, 1), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_every_combination), cmocka_unit_test(test_keep_is_not_encodable),
	    cmocka_unit_test(test_encode_other_selectors),   cmocka_unit_test(test_encode_refuses_reserved_and_short),
	    cmocka_unit_test(test_decode_examples),	     cmocka_unit_test(test_decode_reserved_selectors),
	    cmocka_unit_test(test_decode_bad_lengths),	     cmocka_unit_test(test_info_ack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
