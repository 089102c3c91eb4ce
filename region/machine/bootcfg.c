/* What a machine boots, from its state (GetBootConfig for a MAC the rack
 * has no pushed config for): the ephemeral environment to enlist (unknown
 * MACs, NEW machines), to commission, to deploy (until its agent reported
 * done) or to erase on release (with the machine's token for that purpose
 * on the command line), else its local disk. See machine.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/deploy_db.h"
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

/* The ephemeral environment for purpose with the machine's live token of
 * that purpose: 0; -ENOENT (logged) when there is none or it cannot be
 * opened (the machine then boots locally); -EIO. */
static int ephemeral(struct region *r, struct db *db, const struct machine_db_row *m, enum boot_purpose purpose,
		     struct region_machine_boot *ret)
{
	const char *name = boot_purpose_name(purpose);
	uint8_t *sealed = NULL;
	size_t len = 0;
	int64_t token_id;
	char aad[96], *token = NULL;

	snprintf(aad, sizeof(aad), "machine:%" PRId64 ":%s_token", m->id, name);
	int rc = machine_db_token_sealed(db, m->id, name, &token_id, &sealed, &len);
	if (rc == 0)
		rc = secret_box_unseal(r->secrets, aad, sealed, len, &token);
	free(sealed);
	if (rc == 0) {
		ret->purpose = purpose;
		region_machine_cmdline(r->conf.enlist_cmdline, name, token, ret->cmdline, sizeof(ret->cmdline));
		secret_free(token);
		return 0;
	}
	if (rc == -EIO)
		return rc;
	if (rc == -ENOENT)
		log_warn("machines: %s is %s without a live %s token: it boots locally", m->hostname, m->status, name);
	else
		log_err("machines: %s is %s but its %s token cannot be opened (%s): it boots locally", m->hostname,
			m->status, name, strerror(-rc));
	return -ENOENT;
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
	enum boot_purpose purpose = BOOT_LOCAL;
	if (strcmp(m.status, "COMMISSIONING") == 0) {
		purpose = BOOT_COMMISSION;
	} else if (strcmp(m.status, "DEPLOYING") == 0 || strcmp(m.status, "RELEASING") == 0) {
		char step[16], erase[8];
		rc = deploy_db_boot_state(db, m.id, step, erase);
		if (rc < 0)
			return rc == -ENOENT ? 0 : rc;
		/* After the agent's done the machine boots its disk. */
		if (m.status[0] == 'D' && (strcmp(step, "pending") == 0 || strcmp(step, "started") == 0))
			purpose = BOOT_DEPLOY;
		else if (m.status[0] == 'R' && erase[0])
			purpose = BOOT_ERASE;
	}
	if (purpose != BOOT_LOCAL) {
		rc = ephemeral(r, db, &m, purpose, ret);
		if (rc != -ENOENT)
			return rc;
	}
	ret->purpose = BOOT_LOCAL;
	ret->kernel[0] = ret->initrd[0] = ret->cmdline[0] = '\0';
	return 0;
}
