/* rack/boot/render: path classification, validation, rendered configs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rack/boot/render.h"

static const struct boot_server srv = {"http://192.0.2.1:5248"};

static struct boot_config deploy_cfg(void)
{
	struct boot_config c = {.purpose = BOOT_DEPLOY,
				.kernel = "ephemeral/amd64/vmlinuz",
				.initrd = "ephemeral/amd64/initrd.img",
				.cmdline = "console=ttyS0 ro",
				.has_mac = true,
				.mac = {0x02, 0, 0, 0, 0, 0x01}};
	return c;
}

static void test_classify(void **state)
{
	struct boot_request r;
	boot_path_classify("pxelinux.cfg/01-02-00-00-00-00-0a", &r);
	assert_int_equal(r.kind, BOOT_FILE_PXELINUX);
	assert_true(r.has_mac);
	assert_int_equal(r.mac[5], 0x0a);
	boot_path_classify("/pxelinux.cfg/default", &r);
	assert_int_equal(r.kind, BOOT_FILE_PXELINUX);
	assert_false(r.has_mac);
	boot_path_classify("pxelinux.cfg/C000020A", &r); /* IP-in-hex fallback */
	assert_int_equal(r.kind, BOOT_FILE_PXELINUX);
	assert_false(r.has_mac);
	boot_path_classify("pxelinux.cfg/01-02-00-00-00-00", &r); /* short MAC */
	assert_int_equal(r.kind, BOOT_FILE_NONE);
	boot_path_classify("pxelinux.cfg/01-02:00:00:00:00:0a", &r); /* wrong separator */
	assert_int_equal(r.kind, BOOT_FILE_NONE);
	boot_path_classify("grub/grub.cfg-02:00:00:00:00:0B", &r);
	assert_int_equal(r.kind, BOOT_FILE_GRUB);
	assert_true(r.has_mac);
	assert_int_equal(r.mac[5], 0x0b);
	boot_path_classify("grub/grub.cfg", &r);
	assert_int_equal(r.kind, BOOT_FILE_GRUB);
	assert_false(r.has_mac);
	boot_path_classify("ipxe/02:00:00:00:00:0c.ipxe", &r);
	assert_int_equal(r.kind, BOOT_FILE_IPXE);
	assert_int_equal(r.mac[5], 0x0c);
	boot_path_classify("ipxe/default.ipxe", &r);
	assert_int_equal(r.kind, BOOT_FILE_IPXE);
	boot_path_classify("undionly.kpxe", &r);
	assert_int_equal(r.kind, BOOT_FILE_NONE);
	boot_path_classify("ipxe/02:00:00:00:00:0c.ipxeX", &r);
	assert_int_equal(r.kind, BOOT_FILE_NONE);
}

static void test_validate(void **state)
{
	struct boot_config c = deploy_cfg();
	const char *why;
	assert_int_equal(boot_config_validate(&c, &why), 0);
	c.cmdline = "ro\nLABEL evil";
	assert_int_equal(boot_config_validate(&c, &why), -EINVAL);
	assert_non_null(strstr(why, "command line"));
	c = deploy_cfg();
	c.kernel = "../../etc/shadow";
	assert_int_equal(boot_config_validate(&c, &why), -EINVAL);
	c.kernel = "/boot/vmlinuz";
	assert_int_equal(boot_config_validate(&c, &why), -EINVAL);
	c.kernel = "a b";
	assert_int_equal(boot_config_validate(&c, &why), -EINVAL);
	c.kernel = NULL;
	assert_int_equal(boot_config_validate(&c, &why), -EINVAL);
	/* local boot needs no kernel */
	c.purpose = BOOT_LOCAL;
	assert_int_equal(boot_config_validate(&c, &why), 0);
	c.purpose = (enum boot_purpose)42;
	assert_int_equal(boot_config_validate(&c, &why), -EINVAL);
}

static void test_render_pxelinux(void **state)
{
	struct boot_config c = deploy_cfg();
	char buf[2048];
	int n = boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, "KERNEL ephemeral/amd64/vmlinuz\n"));
	assert_non_null(strstr(buf, "INITRD ephemeral/amd64/initrd.img\n"));
	assert_non_null(
	    strstr(buf, "APPEND console=ttyS0 ro ironrack.url=http://192.0.2.1:5248 ironrack.mac=02:00:00:00:00:01\n"));
	assert_non_null(strstr(buf, "SAY ironrack: deploy\n"));
	c.purpose = BOOT_LOCAL;
	n = boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf));
	assert_non_null(strstr(buf, "LOCALBOOT 0"));
	assert_null(strstr(buf, "KERNEL"));
	c.purpose = BOOT_POWEROFF;
	boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf));
	assert_non_null(strstr(buf, "poweroff.c32"));
}

static void test_render_grub_ipxe(void **state)
{
	struct boot_config c = deploy_cfg();
	char buf[2048];
	assert_true(boot_render(BOOT_FILE_GRUB, &c, &srv, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "linux (http,192.0.2.1:5248)/ephemeral/amd64/vmlinuz console=ttyS0 ro "
				    "ironrack.url=http://192.0.2.1:5248 ironrack.mac=02:00:00:00:00:01 BOOTIF=01-"));
	assert_non_null(strstr(buf, "initrd (http,192.0.2.1:5248)/ephemeral/amd64/initrd.img"));
	assert_true(boot_render(BOOT_FILE_IPXE, &c, &srv, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "#!ipxe\n", 7) == 0);
	assert_non_null(strstr(buf, "kernel http://192.0.2.1:5248/ephemeral/amd64/vmlinuz console=ttyS0 ro "
				    "ironrack.url=http://192.0.2.1:5248 ironrack.mac=02:00:00:00:00:01 BOOTIF=01-"));
	assert_non_null(strstr(buf, "\nboot\n"));
	c.purpose = BOOT_LOCAL;
	boot_render(BOOT_FILE_IPXE, &c, &srv, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\nexit\n"));
	/* grub and iPXE need an http base */
	struct boot_server bad = {"tftp://x"};
	assert_int_equal(boot_render(BOOT_FILE_IPXE, &c, &bad, buf, sizeof(buf)), -EINVAL);
}

static void test_render_errors(void **state)
{
	struct boot_config c = deploy_cfg();
	char small[16];
	assert_int_equal(boot_render(BOOT_FILE_PXELINUX, &c, &srv, small, sizeof(small)), -ENOSPC);
	assert_int_equal(boot_render(BOOT_FILE_NONE, &c, &srv, small, sizeof(small)), -EINVAL);
	c.cmdline = "x\r";
	char buf[512];
	assert_int_equal(boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf)), -EINVAL);
}

/* What the rack appends to the kernel command line (docs/machines.md,
 * "Kernel command line"). */
static void test_cmdline_appended(void **state)
{
	struct boot_config c = deploy_cfg();
	char buf[2048];

	/* enlist and commission too; the default (no MAC) gets only the URL */
	c.purpose = BOOT_ENLIST;
	c.has_mac = false;
	c.cmdline = "console=ttyS0 ironrack.purpose=enlist";
	assert_true(boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf)) > 0);
	assert_non_null(
	    strstr(buf, "APPEND console=ttyS0 ironrack.purpose=enlist ironrack.url=http://192.0.2.1:5248\n"));
	assert_null(strstr(buf, "ironrack.mac="));
	c.purpose = BOOT_COMMISSION;
	c.has_mac = true;
	c.mac[0] = 0xAA; /* lowercase in the output */
	assert_true(boot_render(BOOT_FILE_IPXE, &c, &srv, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " ironrack.url=http://192.0.2.1:5248 ironrack.mac=aa:00:00:00:00:01 BOOTIF="));

	/* an IPv6 base as the shell writes it, in brackets */
	const struct boot_server srv6 = {"http://[2001:db8::1]:5248"};
	assert_true(boot_render(BOOT_FILE_GRUB, &c, &srv6, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " ironrack.url=http://[2001:db8::1]:5248 ironrack.mac=aa:00:00:00:00:01 "));

	/* an empty command line: no leading blank */
	c.cmdline = NULL;
	assert_true(boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "  APPEND ironrack.url=http://192.0.2.1:5248 ironrack.mac=aa:00:00:00:00:01\n"));

	/* parameters the config sets already are not duplicated; a longer
	 * name that only begins the same is not the parameter */
	c.cmdline = "ironrack.url=http://203.0.113.9:80 ironrack.macx=1";
	assert_true(boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "APPEND ironrack.url=http://203.0.113.9:80 ironrack.macx=1 "
				    "ironrack.mac=aa:00:00:00:00:01\n"));
	assert_null(strstr(buf, "192.0.2.1"));
	c.cmdline = "ro ironrack.mac=02:00:00:00:00:99 xironrack.url=1";
	assert_true(boot_render(BOOT_FILE_PXELINUX, &c, &srv, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "APPEND ro ironrack.mac=02:00:00:00:00:99 xironrack.url=1 "
				    "ironrack.url=http://192.0.2.1:5248\n"));

	/* pxelinux without a server base: the MAC only */
	c.cmdline = "ro";
	assert_true(boot_render(BOOT_FILE_PXELINUX, &c, NULL, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "APPEND ro ironrack.mac=aa:00:00:00:00:01\n"));

	/* erase boots the ephemeral kernel like commission, with the same words */
	c.purpose = BOOT_ERASE;
	c.cmdline = "ro ironrack.purpose=erase";
	assert_true(boot_render(BOOT_FILE_IPXE, &c, &srv, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "# ironrack: erase\n"));
	assert_non_null(strstr(buf, "ro ironrack.purpose=erase ironrack.url=http://192.0.2.1:5248 "
				    "ironrack.mac=aa:00:00:00:00:01 BOOTIF="));
	const char *kernel = c.kernel;
	c.kernel = NULL;
	assert_int_equal(boot_render(BOOT_FILE_IPXE, &c, &srv, buf, sizeof(buf)), -EINVAL);
	c.kernel = kernel;
	c.cmdline = "ro";

	/* local boot and power-off carry no kernel and nothing appended */
	c.purpose = BOOT_LOCAL;
	assert_true(boot_render(BOOT_FILE_IPXE, &c, &srv, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "ironrack."));

	/* the longest command line a config may have still fits */
	static char longest[BOOT_FIELD_MAX + 1];
	memset(longest, 'x', BOOT_FIELD_MAX);
	c.purpose = BOOT_DEPLOY;
	c.cmdline = longest;
	char big[BOOT_FIELD_MAX * 2 + 512];
	assert_true(boot_render(BOOT_FILE_GRUB, &c, &srv6, big, sizeof(big)) > 0);
	assert_non_null(strstr(big, "x ironrack.url=http://[2001:db8::1]:5248 ironrack.mac=aa:00:00:00:00:01 "));
}

static void test_purpose_names(void **state)
{
	enum boot_purpose p;
	for (int i = BOOT_ENLIST; i <= BOOT_ERASE; i++) {
		assert_int_equal(boot_purpose_parse(boot_purpose_name((enum boot_purpose)i), &p), 0);
		assert_int_equal(p, i);
	}
	assert_int_equal(boot_purpose_parse("reboot", &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify),	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_render_pxelinux), cmocka_unit_test(test_render_grub_ipxe),
	    cmocka_unit_test(test_render_errors),   cmocka_unit_test(test_cmdline_appended),
	    cmocka_unit_test(test_purpose_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
