/* The PXE boot-file map of regiond.conf (dhcp_boot_files). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/util.h"
#include "region/dhcp/dhcp_conf.h"
#include "region/dhcp/internal.h"
#include "region/region.h"

/* The BOOTP file field holds 128 bytes with its NUL; a URL is built by the
 * rack from the file and its own address, so keep both short. */
#define DHCP_BOOT_FILE_MAX 100

static bool dhcp_boot_file_ok(const char *f)
{
	size_t n = strlen(f);
	if (n == 0 || n > DHCP_BOOT_FILE_MAX || f[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)f[i];
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' || c == '?' || c == '#')
			return false;
	}
	return strstr(f, "..") == NULL;
}

static int dhcp_boot_file_parse(const char *item, struct dhcp_boot_file *ret, char *err, size_t errlen)
{
	const char *eq = strchr(item, '=');
	char *end;
	if (!eq || eq == item) {
		snprintf(err, errlen, "dhcp_boot_files: '%s' is not ARCH=FILE or ARCH=http:FILE", item);
		return -EINVAL;
	}
	long arch = strtol(item, &end, 10);
	if (end != eq || arch < 0 || arch > 65535) {
		snprintf(err, errlen, "dhcp_boot_files: '%s': the architecture must be a number 0..65535 (option 93)",
			 item);
		return -EINVAL;
	}
	const char *file = eq + 1;
	bool http = strncmp(file, "http:", 5) == 0;
	if (http)
		file += 5;
	if (!dhcp_boot_file_ok(file)) {
		snprintf(err, errlen,
			 "dhcp_boot_files: '%s': the file must be a relative path of 1..%d printable characters "
			 "without blanks, quotes, '?', '#' or '..'",
			 item, DHCP_BOOT_FILE_MAX);
		return -EINVAL;
	}
	ret->arch = (uint32_t)arch;
	ret->http = http;
	ret->file = xstrdup(file);
	return 0;
}

void dhcp_boot_files_free(struct dhcp_boot_file *files, size_t n)
{
	for (size_t i = 0; files && i < n; i++)
		free(files[i].file);
	free(files);
}

int dhcp_boot_files_parse(const struct conf_list *l, struct dhcp_boot_file **ret, size_t *ret_n, char *err,
			  size_t errlen)
{
	struct dhcp_boot_file *files = xcalloc(l->n ? l->n : 1, sizeof(*files));
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++) {
		int rc = dhcp_boot_file_parse(l->items[i], &files[n], err, errlen);
		for (size_t j = 0; rc == 0 && j < n; j++) {
			if (files[j].arch == files[n].arch) {
				snprintf(err, errlen, "dhcp_boot_files: architecture %u is listed twice",
					 files[n].arch);
				free(files[n].file);
				rc = -EINVAL;
			}
		}
		if (rc < 0) {
			dhcp_boot_files_free(files, n);
			return rc;
		}
		n++;
	}
	*ret = files;
	*ret_n = n;
	return 0;
}

int region_dhcp_conf_check(const struct region_conf *conf, char *err, size_t errlen)
{
	struct dhcp_boot_file *files;
	size_t n;
	int rc = dhcp_boot_files_parse(&conf->dhcp_boot_files, &files, &n, err, errlen);
	if (rc == 0)
		dhcp_boot_files_free(files, n);
	return rc;
}
