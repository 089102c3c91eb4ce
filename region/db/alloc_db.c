/* Allocation in the database; see alloc_db.h. */
#include "region/db/alloc_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db_internal.h"
#include "region/db/machine_db.h"

#define MIB_PER_GIB  1024u
#define BYTES_PER_GB UINT64_C(1000000000)

/* The filter's tags as a PostgreSQL array literal: "{gpu,ssd}". Tags are
 * alloc_tag_valid() words, so nothing needs quoting. */
static void tags_literal(const struct alloc_filter *f, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "{");
	for (size_t i = 0; i < f->n_tags && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", f->tags[i]);
	if (off < len)
		snprintf(buf + off, len - off, "}");
}

/* The writes of READY → ALLOCATED, shared by both ways of picking: the
 * CTE "pick" names the machine. $1 owner, $2 status message, $3 actor,
 * $4 event. */
#define TAKE_SQL(pick)                                                                                                 \
	"WITH pick AS (" pick "), "                                                                                    \
	"u AS (UPDATE machine m SET status = 'ALLOCATED', status_previous = m.status, status_since = now(), "          \
	"status_deadline = NULL, status_message = $2, status_action_id = NULL, owner = $1, allocated_at = now() "      \
	"FROM pick WHERE m.id = pick.id AND m.status = 'READY' RETURNING m.id, m.hostname), "                          \
	"e AS (INSERT INTO machine_event (machine_id, kind, actor, description) "                                      \
	"SELECT u.id, 'status', $3, 'READY → ALLOCATED' || CASE WHEN $4 <> '' THEN ': ' || $4 ELSE '' END FROM u) "  \
	"SELECT id, hostname FROM u"

int alloc_db_take(struct db *db, const struct alloc_filter *f, const char *owner, const char *actor, const char *event,
		  int64_t *ret_id, char ret_hostname[64])
{
	char msg[ALLOC_DB_MESSAGE_MAX], cpu[16], mem[24], disk[24], ifaces[16];
	char tags[ALLOC_TAGS_MAX * (ALLOC_TAG_MAX + 1) + 3];
	PGresult *res;

	snprintf(msg, sizeof(msg), "allocated to %s", owner);
	snprintf(cpu, sizeof(cpu), "%" PRIu32, f->min_cpu);
	snprintf(mem, sizeof(mem), "%" PRIu64, (uint64_t)f->min_memory_gib * MIB_PER_GIB);
	snprintf(disk, sizeof(disk), "%" PRIu64, (uint64_t)f->min_disk_gb * BYTES_PER_GB);
	snprintf(ifaces, sizeof(ifaces), "%" PRIu32, f->min_interfaces);
	tags_literal(f, tags, sizeof(tags));
	const char *p[] = {owner, msg, actor, event, f->zone[0] ? f->zone : NULL, cpu, mem, disk, tags, ifaces};
	/* Best fit (alloc_fit_cmp's order); a row another transaction has
	 * locked is skipped rather than waited for, and the UPDATE checks the
	 * status again on the row it locked. */
	int r = db_query_row(
	    db,
	    TAKE_SQL("SELECT c.id FROM machine c WHERE c.status = 'READY' "
		     "AND ($5::text IS NULL OR c.zone_id = (SELECT z.id FROM zone z WHERE z.name = $5)) "
		     "AND c.cpu_count >= $6::int AND c.memory_mib >= $7::bigint "
		     "AND c.storage_bytes >= $8::bigint AND c.tags @> $9::text[] "
		     "AND ($10::int = 0 OR (SELECT count(*) FROM interface i WHERE i.machine_id = c.id) >= $10::int) "
		     "ORDER BY c.cpu_count, c.memory_mib, c.storage_bytes, c.id "
		     "LIMIT 1 FOR UPDATE OF c SKIP LOCKED"),
	    10, p, &res);
	if (r < 0)
		return r;
	*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(ret_hostname, 64, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

int alloc_db_take_id(struct db *db, int64_t id, const char *owner, const char *actor, const char *event)
{
	char msg[ALLOC_DB_MESSAGE_MAX], ids[24];
	PGresult *res;

	snprintf(msg, sizeof(msg), "allocated to %s", owner);
	snprintf(ids, sizeof(ids), "%" PRId64, id);
	const char *p[] = {owner, msg, actor, event, ids};
	int r = db_exec(db, TAKE_SQL("SELECT $5::bigint AS id"), 5, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	PQclear(res);
	if (n == 1)
		return 0;
	struct machine_db_row row;
	r = machine_db_get(db, id, false, &row);
	return r < 0 ? r : -EAGAIN;
}

int alloc_db_give_back(struct db *db, int64_t id, const char *actor, const char *event)
{
	char ids[24];
	const char *p[] = {ids};

	snprintf(ids, sizeof(ids), "%" PRId64, id);
	int r = machine_db_transition(db, id, "ALLOCATED", "RELEASING", 0, "releasing", actor, event, 0);
	if (r == 0)
		r = machine_db_transition(db, id, "RELEASING", "READY", 0, "", actor, event, 0);
	if (r == 0)
		r = db_exec(db, "UPDATE machine SET owner = '', allocated_at = NULL WHERE id = $1::bigint", 1, p, NULL);
	return r;
}

void alloc_db_set_done(struct alloc_db_set *s)
{
	for (size_t i = 0; s->tag_text && i < s->n; i++)
		free(s->tag_text[i]);
	free(s->tag_text);
	free(s->tag_ptrs);
	free(s->hostnames);
	free(s->zones);
	free(s->m);
	memset(s, 0, sizeof(*s));
}

/* Split a machine's tags ("a b c", as array_to_string gives them) in
 * place into at most ALLOC_TAGS_MAX pointers. */
static size_t tags_split(char *text, const char **ret)
{
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(text, " ", &save); t && n < ALLOC_TAGS_MAX;
	     t = strtok_r(NULL, " ", &save))
		ret[n++] = t;
	return n;
}

int alloc_db_ready(struct db *db, const char *zone, long limit, struct alloc_db_set *ret)
{
	char lim[24];
	PGresult *res;

	snprintf(lim, sizeof(lim), "%ld", limit);
	const char *p[] = {zone && zone[0] ? zone : NULL, lim};
	memset(ret, 0, sizeof(*ret));
	int r = db_exec(db,
			"SELECT m.id, m.hostname, z.name, m.cpu_count, m.memory_mib, m.storage_bytes, "
			"(SELECT count(*) FROM interface i WHERE i.machine_id = m.id), array_to_string(m.tags, ' ') "
			"FROM machine m JOIN zone z ON z.id = m.zone_id WHERE m.status = 'READY' "
			"AND ($1::text IS NULL OR z.name = $1) "
			"ORDER BY m.cpu_count, m.memory_mib, m.storage_bytes, m.id LIMIT $2::bigint",
			2, p, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	ret->m = xcalloc(n + 1, sizeof(*ret->m));
	ret->hostnames = xcalloc(n + 1, sizeof(*ret->hostnames));
	ret->zones = xcalloc(n + 1, sizeof(*ret->zones));
	ret->tag_text = xcalloc(n + 1, sizeof(*ret->tag_text));
	ret->tag_ptrs = xcalloc(n * ALLOC_TAGS_MAX + 1, sizeof(*ret->tag_ptrs));
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		struct alloc_machine *m = &ret->m[i];
		snprintf(ret->hostnames[i], sizeof(ret->hostnames[i]), "%s", PQgetvalue(res, row, 1));
		snprintf(ret->zones[i], sizeof(ret->zones[i]), "%s", PQgetvalue(res, row, 2));
		ret->tag_text[i] = xstrdup(PQgetvalue(res, row, 7));
		const char **tags = &ret->tag_ptrs[i * ALLOC_TAGS_MAX];
		*m = (struct alloc_machine){
		    .id = strtoll(PQgetvalue(res, row, 0), NULL, 10),
		    .hostname = ret->hostnames[i],
		    .zone = ret->zones[i],
		    .cpu_count = (uint32_t)strtoul(PQgetvalue(res, row, 3), NULL, 10),
		    .memory_mib = strtoull(PQgetvalue(res, row, 4), NULL, 10),
		    .storage_bytes = strtoull(PQgetvalue(res, row, 5), NULL, 10),
		    .interfaces = (uint32_t)strtoul(PQgetvalue(res, row, 6), NULL, 10),
		    .tags = tags,
		    .n_tags = tags_split(ret->tag_text[i], tags),
		};
	}
	ret->n = n;
	PQclear(res);
	return 0;
}

int alloc_db_zone_exists(struct db *db, const char *name)
{
	const char *p[] = {name};
	char *v = NULL;
	int r = db_query_value(db, "SELECT id FROM zone WHERE name = $1", 1, p, &v);
	free(v);
	return r == -ENOENT ? 0 : r < 0 ? r : 1;
}
