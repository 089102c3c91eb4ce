#include "rack/boot/render.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

/* "aa-bb-cc-dd-ee-ff" with a given separator, exactly. */
static bool parse_mac_sep(const char *s, char sep, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit_value(s[0]), lo = hi < 0 ? -1 : hex_digit_value(s[1]);
		if (lo < 0)
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != sep)
			return false;
	}
	return *s == '\0';
}

static bool is_hex_ip_fallback(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (hex_digit_value(s[i]) < 0 || islower((unsigned char)s[i]))
			return false;
	}
	return true;
}

void boot_path_classify(const char *path, struct boot_request *ret)
{
	memset(ret, 0, sizeof(*ret));
	while (*path == '/')
		path++;
	const char *rest;
	if (strncmp(path, "pxelinux.cfg/", 13) == 0) {
		rest = path + 13;
		if (strcmp(rest, "default") == 0 || is_hex_ip_fallback(rest)) {
			ret->kind = BOOT_FILE_PXELINUX;
		} else if (strncmp(rest, "01-", 3) == 0 && parse_mac_sep(rest + 3, '-', ret->mac)) {
			ret->kind = BOOT_FILE_PXELINUX;
			ret->has_mac = true;
		}
	} else if (strncmp(path, "grub/grub.cfg", 13) == 0) {
		rest = path + 13;
		if (*rest == '\0') {
			ret->kind = BOOT_FILE_GRUB;
		} else if (*rest == '-' && parse_mac_sep(rest + 1, ':', ret->mac)) {
			ret->kind = BOOT_FILE_GRUB;
			ret->has_mac = true;
		}
	} else if (strncmp(path, "ipxe/", 5) == 0) {
		rest = path + 5;
		size_t n = strlen(rest);
		char mac[18];
		if (strcmp(rest, "default.ipxe") == 0) {
			ret->kind = BOOT_FILE_IPXE;
		} else if (n == 22 && strcmp(rest + 17, ".ipxe") == 0) {
			memcpy(mac, rest, 17);
			mac[17] = '\0';
			if (parse_mac_sep(mac, ':', ret->mac)) {
				ret->kind = BOOT_FILE_IPXE;
				ret->has_mac = true;
			}
		}
	}
}

struct out {
	char *buf;
	size_t len, used;
	bool overflow;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->used < o->len ? o->len - o->used : 0;
	int n = vsnprintf(o->buf + (room ? o->used : 0), room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		o->overflow = true;
	else
		o->used += (size_t)n;
}

static void render_pxelinux(struct out *o, const struct boot_config *c, const char *cmdline)
{
	out_printf(o, "# ironrack: %s\nDEFAULT %s\nPROMPT 0\nTIMEOUT 0\n", boot_purpose_name(c->purpose),
		   boot_purpose_name(c->purpose));
	out_printf(o, "SAY ironrack: %s\n", boot_purpose_name(c->purpose));
	out_printf(o, "LABEL %s\n", boot_purpose_name(c->purpose));
	switch (c->purpose) {
	case BOOT_LOCAL:
		out_printf(o, "  LOCALBOOT 0\n");
		break;
	case BOOT_POWEROFF:
		out_printf(o, "  COM32 poweroff.c32\n");
		break;
	default:
		out_printf(o, "  KERNEL %s\n", c->kernel);
		if (c->initrd && c->initrd[0])
			out_printf(o, "  INITRD %s\n", c->initrd);
		out_printf(o, "  APPEND %s\n", cmdline);
		out_printf(o, "  IPAPPEND 2\n"); /* BOOTIF=01-<mac>: the kernel knows which NIC booted */
	}
}

static void render_grub(struct out *o, const struct boot_config *c, const struct boot_server *srv, const char *cmdline)
{
	out_printf(o, "# ironrack: %s\nset default=0\nset timeout=0\n", boot_purpose_name(c->purpose));
	out_printf(o, "echo 'ironrack: %s'\n", boot_purpose_name(c->purpose));
	out_printf(o, "menuentry '%s' {\n", boot_purpose_name(c->purpose));
	switch (c->purpose) {
	case BOOT_LOCAL:
		out_printf(o, "  exit\n");
		break;
	case BOOT_POWEROFF:
		out_printf(o, "  halt\n");
		break;
	default:
		out_printf(o, "  linux (http,%s)/%s %s BOOTIF=01-${net_default_mac}\n", srv->http_base + 7, c->kernel,
			   cmdline);
		if (c->initrd && c->initrd[0])
			out_printf(o, "  initrd (http,%s)/%s\n", srv->http_base + 7, c->initrd);
	}
	out_printf(o, "}\n");
}

static void render_ipxe(struct out *o, const struct boot_config *c, const struct boot_server *srv, const char *cmdline)
{
	out_printf(o, "#!ipxe\n# ironrack: %s\necho ironrack: %s\n", boot_purpose_name(c->purpose),
		   boot_purpose_name(c->purpose));
	switch (c->purpose) {
	case BOOT_LOCAL:
		out_printf(o, "exit\n");
		break;
	case BOOT_POWEROFF:
		/* Debian's iPXE ROM has no poweroff: fall back to leaving PXE */
		out_printf(o, "poweroff || exit\n");
		break;
	default:
		out_printf(o, "kernel %s/%s %s BOOTIF=01-${net0/mac:hexhyp}\n", srv->http_base, c->kernel, cmdline);
		if (c->initrd && c->initrd[0])
			out_printf(o, "initrd %s/%s\n", srv->http_base, c->initrd);
		out_printf(o, "boot\n");
	}
}

/* Whether the command line has parameter name ("ironrack.url") as a word
 * of its own, with or without a value. */
static bool cmdline_has(const char *cmdline, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = cmdline; (p = strstr(p, name)) != NULL; p += n) {
		if ((p == cmdline || p[-1] == ' ' || p[-1] == '\t') &&
		    (p[n] == '=' || p[n] == '\0' || p[n] == ' ' || p[n] == '\t'))
			return true;
	}
	return false;
}

static bool purpose_runs_kernel(enum boot_purpose p)
{
	return p == BOOT_ENLIST || p == BOOT_COMMISSION || p == BOOT_DEPLOY || p == BOOT_ERASE;
}

int boot_cmdline_build(const struct boot_config *c, const struct boot_server *srv, char *buf, size_t len)
{
	const char *base = c->cmdline ? c->cmdline : "";
	struct out o = {buf, len, 0, false};

	out_printf(&o, "%s", base);
	if (purpose_runs_kernel(c->purpose)) {
		if (srv && srv->http_base && strncmp(srv->http_base, "http://", 7) == 0 &&
		    !cmdline_has(base, "ironrack.url"))
			out_printf(&o, "%sironrack.url=%s", o.used ? " " : "", srv->http_base);
		if (c->has_mac && !cmdline_has(base, "ironrack.mac")) {
			const uint8_t *m = c->mac;
			out_printf(&o, "%sironrack.mac=%02x:%02x:%02x:%02x:%02x:%02x", o.used ? " " : "", m[0], m[1],
				   m[2], m[3], m[4], m[5]);
		}
	}
	if (o.overflow)
		return -ENOSPC;
	return (int)o.used;
}

int boot_render(enum boot_file_kind kind, const struct boot_config *c, const struct boot_server *srv, char *buf,
		size_t len)
{
	if (boot_config_validate(c, NULL) < 0)
		return -EINVAL;
	if ((kind == BOOT_FILE_GRUB || kind == BOOT_FILE_IPXE) &&
	    (!srv || !srv->http_base || strncmp(srv->http_base, "http://", 7) != 0))
		return -EINVAL;
	struct out o = {buf, len, 0, false};
	char cmdline[BOOT_CMDLINE_MAX];
	if (boot_cmdline_build(c, srv, cmdline, sizeof(cmdline)) < 0)
		return -ENOSPC;
	switch (kind) {
	case BOOT_FILE_PXELINUX:
		render_pxelinux(&o, c, cmdline);
		break;
	case BOOT_FILE_GRUB:
		render_grub(&o, c, srv, cmdline);
		break;
	case BOOT_FILE_IPXE:
		render_ipxe(&o, c, srv, cmdline);
		break;
	default:
		return -EINVAL;
	}
	if (o.overflow)
		return -ENOSPC;
	return (int)o.used;
}
