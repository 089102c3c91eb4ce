/* The OS of an infrastructure's machines (docs/deploy.md,
 * "Infrastructures"): the images its arrays name are checked before a plan
 * or deploy changes anything, and after a deploy commits the instances
 * whose machines are still ALLOCATED are listed for a machine deploy each
 * (region/api/infra.c runs them, region/machine/deploy.c does them). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/image_db.h"
#include "region/db/infra_internal.h"

int infra_images_check(struct infra_deploy *d)
{
	const struct infra_design_rows *stg = &d->row.staged;

	for (size_t i = 0; i < stg->n_arrays; i++) {
		const struct infra_array_row *a = &stg->arrays[i];
		struct image_row img;
		if (!a->image || !a->image[0])
			continue;
		int r = image_db_get(d->db, a->image, &img);
		if (r == -ENOENT)
			return infra_fail(d->err, -EBUSY, "image",
					  "instance array \"%s\": no image named %s (ironrack images list shows them)",
					  a->name, a->image);
		if (r < 0)
			return r;
		if (strcmp(img.status, "ready") != 0)
			return infra_fail(d->err, -EBUSY, "image",
					  "instance array \"%s\": image %s is not ready: %s, %" PRId64 " of %" PRId64
					  " bytes uploaded (ironrack images add resumes it)",
					  a->name, img.name, img.status, img.uploaded, img.size);
	}
	return 0;
}

void db_infra_os_jobs_free(struct infra_os_job *jobs, size_t n)
{
	for (size_t i = 0; jobs && i < n; i++) {
		free(jobs[i].array);
		free(jobs[i].machine);
		free(jobs[i].image);
		free(jobs[i].user_data);
		free(jobs[i].ssh_keys);
	}
	free(jobs);
}

int db_infra_os_jobs(struct db *db, const char *infra, struct infra_os_job **ret, size_t *ret_n)
{
	const char *p[] = {infra};
	PGresult *res;

	*ret = NULL;
	*ret_n = 0;
	int r = db_exec(db,
			"SELECT a.d_name, i.idx, m.id, m.hostname, a.d_image, a.d_user_data, a.d_ssh_keys "
			"FROM infrastructure x JOIN infra_array a ON a.infrastructure_id = x.id "
			"JOIN infra_instance i ON i.array_id = a.id JOIN machine m ON m.id = i.machine_id "
			"WHERE x.name = $1 AND a.d_name IS NOT NULL AND a.d_image <> '' AND m.status = 'ALLOCATED' "
			"ORDER BY a.d_name, i.idx",
			1, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	struct infra_os_job *jobs = xcalloc((size_t)n + 1, sizeof(*jobs));
	for (int k = 0; k < n; k++) {
		jobs[k].array = xstrdup(infra_val(res, k, 0));
		jobs[k].index = (uint32_t)strtoul(PQgetvalue(res, k, 1), NULL, 10);
		jobs[k].machine_id = strtoll(PQgetvalue(res, k, 2), NULL, 10);
		jobs[k].machine = xstrdup(infra_val(res, k, 3));
		jobs[k].image = xstrdup(infra_val(res, k, 4));
		jobs[k].user_data = xstrdup(infra_val(res, k, 5));
		jobs[k].ssh_keys = xstrdup(PQgetisnull(res, k, 6) ? "[]" : PQgetvalue(res, k, 6));
	}
	PQclear(res);
	*ret = jobs;
	*ret_n = (size_t)n;
	return 0;
}

int db_infra_history_append(struct db *db, const char *infra, int64_t revision, const char *op, const char *object,
			    const char *subject, const char *detail)
{
	char rev[24];
	const char *p[] = {infra, rev, op, object, subject, detail};

	snprintf(rev, sizeof(rev), "%" PRId64, revision);
	/* One statement: the next seq of that deploy. */
	return db_exec(db,
		       "INSERT INTO infra_deploy_step (deploy_id, seq, op, object, subject, detail) "
		       "SELECT d.id, coalesce((SELECT max(s.seq) + 1 FROM infra_deploy_step s WHERE s.deploy_id = "
		       "d.id), 0), $3, $4, $5, $6 FROM infra_deploy d JOIN infrastructure x ON x.id = "
		       "d.infrastructure_id WHERE x.name = $1 AND d.revision = $2::bigint",
		       6, p, NULL);
}
