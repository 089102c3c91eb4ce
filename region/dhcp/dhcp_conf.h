/* regiond.conf keys of region/dhcp, checked before the region starts. */
#pragma once

#include <stddef.h>

struct region_conf;

/* 0, or -EINVAL with err saying which dhcp_boot_files item is bad (no
 * file:line: the caller knows where the value came from). */
int region_dhcp_conf_check(const struct region_conf *conf, char *err, size_t errlen);
