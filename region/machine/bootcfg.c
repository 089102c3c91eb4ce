/* What a machine boots, from its state (GetBootConfig for a MAC the rack
 * has no pushed config for): the ephemeral environment to enlist (unknown
 * MACs, NEW machines) or to commission (with the machine's token on the
 * command line), else its local disk. See machine.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/machine_db.h"
#include "region/machine/machine.h"
#include "region/region.h"
#include "region/secret.h"

void region_machine_cmdline(const char *base, const char *purpose, const char *token, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	const char *p = base;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p && strncmp(p, "ironrack.purpose=", 17) != 0 && strncmp(p, "ironrack.token=", 15) != 0 &&
		    o + (size_t)(e - p) + 2 < len) {
			if (o)
				out[o++] = ' ';
			memcpy(out + o, p, (size_t)(e - p));
			o += (size_t)(e - p);
			out[o] = '\0';
		}
		p = e;
	}
	snprintf(out + o, len - o, "%sironrack.purpose=%s%s%s", o ? " " : "", purpose, token ? " ironrack.token=" : "",
		 token ? token : "");
}

int region_machine_boot_config(struct region *r, struct db *db, const char *mac, struct region_machine_boot *ret)
{
	int64_t id = 0;
	struct machine_db_row m;

	memset(ret, 0, sizeof(*ret));
	ret->purpose = BOOT_ENLIST;
	snprintf(ret->kernel, sizeof(ret->kernel), "%s", r->conf.enlist_kernel);
	snprintf(ret->initrd, sizeof(ret->initrd), "%s", r->conf.enlist_initrd);
	int rc = machine_db_by_mac(db, mac, &id);
	if (rc == -ENOENT) {
		region_machine_cmdline(r->conf.enlist_cmdline, "enlist", NULL, ret->cmdline, sizeof(ret->cmdline));
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = machine_db_get(db, id, false, &m);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	ret->machine_id = m.id;
	snprintf(ret->hostname, sizeof(ret->hostname), "%s", m.hostname);
	snprintf(ret->status, sizeof(ret->status), "%s", m.status);
	if (strcmp(m.status, "NEW") == 0) {
		region_machine_cmdline(r->conf.enlist_cmdline, "enlist", NULL, ret->cmdline, sizeof(ret->cmdline));
		return 0;
	}
	if (strcmp(m.status, "COMMISSIONING") == 0) {
		uint8_t *sealed = NULL;
		size_t len = 0;
		int64_t token_id;
		char aad[96], *token = NULL;
		snprintf(aad, sizeof(aad), "machine:%" PRId64 ":commission_token", m.id);
		rc = machine_db_token_sealed(db, m.id, "commission", &token_id, &sealed, &len);
		if (rc == 0)
			rc = secret_box_unseal(r->secrets, aad, sealed, len, &token);
		free(sealed);
		if (rc == 0) {
			ret->purpose = BOOT_COMMISSION;
			region_machine_cmdline(r->conf.enlist_cmdline, "commission", token, ret->cmdline,
					       sizeof(ret->cmdline));
			secret_free(token);
			return 0;
		}
		if (rc != -ENOENT && rc != -EIO)
			log_err("machines: %s is COMMISSIONING but its token cannot be opened (%s): it boots locally",
				m.hostname, strerror(-rc));
		else if (rc == -ENOENT)
			log_warn("machines: %s is COMMISSIONING without a live token: it boots locally", m.hostname);
		else
			return rc;
	}
	ret->purpose = BOOT_LOCAL;
	ret->kernel[0] = ret->initrd[0] = ret->cmdline[0] = '\0';
	return 0;
}
