/* See alloc.h. */
#include "region/machine/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define MIB_PER_GIB   1024u
#define BYTES_PER_GB  UINT64_C(1000000000)
#define CRITERIA_MAX  (4 + ALLOC_TAGS_MAX)
#define CRITERION_LEN 96

bool alloc_tag_valid(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;
	if (n == 0 || n > ALLOC_TAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != ':' && c != '-')))
			return false;
	}
	return true;
}

int alloc_filter_tag_add(struct alloc_filter *f, const char *tag, char *msg, size_t msg_len)
{
	if (!alloc_tag_valid(tag)) {
		err_set(
		    msg, msg_len,
		    "tag \"%.64s\" is not 1-%d letters, digits, '.', '_', ':' or '-' starting with a letter or digit",
		    tag ? tag : "", ALLOC_TAG_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < f->n_tags; i++)
		if (strcmp(f->tags[i], tag) == 0)
			return 0;
	if (f->n_tags >= ALLOC_TAGS_MAX) {
		err_set(msg, msg_len, "at most %d tags", ALLOC_TAGS_MAX);
		return -E2BIG;
	}
	snprintf(f->tags[f->n_tags++], ALLOC_TAG_MAX + 1, "%s", tag);
	return 0;
}

static bool has_tag(const struct alloc_machine *m, const char *tag)
{
	for (size_t i = 0; i < m->n_tags; i++)
		if (m->tags[i] && strcmp(m->tags[i], tag) == 0)
			return true;
	return false;
}

static bool zone_ok(const struct alloc_filter *f, const struct alloc_machine *m)
{
	return !f->zone[0] || (m->zone && strcmp(m->zone, f->zone) == 0);
}

/* The conditions other than the zone, one by one. */
enum criterion { C_CPU, C_MEMORY, C_DISK, C_INTERFACES, C_TAG };

static bool criterion_ok(const struct alloc_filter *f, enum criterion c, size_t tag, const struct alloc_machine *m)
{
	switch (c) {
	case C_CPU:
		return m->cpu_count >= f->min_cpu;
	case C_MEMORY:
		return m->memory_mib >= (uint64_t)f->min_memory_gib * MIB_PER_GIB;
	case C_DISK:
		return m->storage_bytes >= (uint64_t)f->min_disk_gb * BYTES_PER_GB;
	case C_INTERFACES:
		return m->interfaces >= f->min_interfaces;
	case C_TAG:
		return has_tag(m, f->tags[tag]);
	}
	return false;
}

bool alloc_match(const struct alloc_filter *f, const struct alloc_machine *m)
{
	if (!zone_ok(f, m))
		return false;
	for (int c = C_CPU; c < C_TAG; c++)
		if (!criterion_ok(f, (enum criterion)c, 0, m))
			return false;
	for (size_t i = 0; i < f->n_tags; i++)
		if (!has_tag(m, f->tags[i]))
			return false;
	return true;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

int alloc_fit_cmp(const struct alloc_machine *a, const struct alloc_machine *b)
{
	int r = cmp_u64(a->cpu_count, b->cpu_count);
	if (r == 0)
		r = cmp_u64(a->memory_mib, b->memory_mib);
	if (r == 0)
		r = cmp_u64(a->storage_bytes, b->storage_bytes);
	if (r == 0)
		r = a->id < b->id ? -1 : a->id > b->id;
	return r;
}

long alloc_pick(const struct alloc_filter *f, const struct alloc_machine *m, size_t n, const bool *taken)
{
	long best = -1;
	for (size_t i = 0; i < n; i++) {
		if ((taken && taken[i]) || !alloc_match(f, &m[i]))
			continue;
		if (best < 0 || alloc_fit_cmp(&m[i], &m[best]) < 0)
			best = (long)i;
	}
	return best;
}

/* ---- words ---- */

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static void memory_text(uint64_t mib, char *buf, size_t len)
{
	if (mib % MIB_PER_GIB == 0)
		snprintf(buf, len, "%" PRIu64 " GiB", mib / MIB_PER_GIB);
	else
		snprintf(buf, len, "%.1f GiB", (double)mib / MIB_PER_GIB);
}

/* The criteria f asks for, as words, in a fixed order; tags one each. */
struct criteria {
	enum criterion c[CRITERIA_MAX];
	size_t tag[CRITERIA_MAX];
	char text[CRITERIA_MAX][CRITERION_LEN];
	size_t n;
};

static void criteria_add(struct criteria *cr, enum criterion c, size_t tag, const char *fmt, uint64_t v)
{
	cr->c[cr->n] = c;
	cr->tag[cr->n] = tag;
	snprintf(cr->text[cr->n], CRITERION_LEN, fmt, v, plural(v));
	cr->n++;
}

static void criteria_of(const struct alloc_filter *f, struct criteria *cr)
{
	memset(cr, 0, sizeof(*cr));
	if (f->min_cpu)
		criteria_add(cr, C_CPU, 0, "at least %" PRIu64 " CPU%s", f->min_cpu);
	if (f->min_memory_gib)
		criteria_add(cr, C_MEMORY, 0, "at least %" PRIu64 " GiB of memory%.0s", f->min_memory_gib);
	if (f->min_disk_gb)
		criteria_add(cr, C_DISK, 0, "at least %" PRIu64 " GB of disk%.0s", f->min_disk_gb);
	if (f->min_interfaces)
		criteria_add(cr, C_INTERFACES, 0, "at least %" PRIu64 " interface%s", f->min_interfaces);
	for (size_t i = 0; i < f->n_tags; i++) {
		cr->c[cr->n] = C_TAG;
		cr->tag[cr->n] = i;
		snprintf(cr->text[cr->n], CRITERION_LEN, "tag %s", f->tags[i]);
		cr->n++;
	}
}

/* Append to buf at *off, never past len. */
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	if (*off >= len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

static const char *list_sep(size_t i, size_t n)
{
	return i == 0 ? "" : i + 1 == n ? " and " : ", ";
}

void alloc_filter_text(const struct alloc_filter *f, char *buf, size_t len)
{
	struct criteria cr;
	size_t off = 0;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	criteria_of(f, &cr);
	if (f->zone[0])
		put(buf, len, &off, "in zone %s", f->zone);
	if (cr.n)
		put(buf, len, &off, "%swith ", off ? " " : "");
	for (size_t i = 0; i < cr.n; i++)
		put(buf, len, &off, "%s%s", list_sep(i, cr.n), cr.text[i]);
}

/* What the best machine in scope has of criterion c, for "the largest
 * has 4 CPUs" (tags: "none is tagged gpu"). */
static void best_text(const struct alloc_filter *f, const struct criteria *cr, size_t k,
		      const struct alloc_machine *ready, size_t n, size_t in_scope, char *buf, size_t len)
{
	uint64_t best = 0;
	char mem[32];
	const char *who = in_scope == 1 ? "it has" : "the largest has";

	for (size_t i = 0; i < n; i++) {
		const struct alloc_machine *m = &ready[i];
		uint64_t v = cr->c[k] == C_CPU	    ? m->cpu_count
			     : cr->c[k] == C_MEMORY ? m->memory_mib
			     : cr->c[k] == C_DISK   ? m->storage_bytes
						    : m->interfaces;
		if (zone_ok(f, m) && v > best)
			best = v;
	}
	switch (cr->c[k]) {
	case C_CPU:
		snprintf(buf, len, "%s %" PRIu64 " CPU%s", who, best, plural(best));
		break;
	case C_MEMORY:
		memory_text(best, mem, sizeof(mem));
		snprintf(buf, len, "%s %s of memory", who, mem);
		break;
	case C_DISK:
		snprintf(buf, len, "%s %" PRIu64 " GB of disk", who, best / BYTES_PER_GB);
		break;
	case C_INTERFACES:
		snprintf(buf, len, "%s %" PRIu64 " interface%s", who, best, plural(best));
		break;
	case C_TAG:
		snprintf(buf, len, "%s tagged %s", in_scope == 1 ? "it is not" : "none is", f->tags[cr->tag[k]]);
		break;
	}
}

void alloc_explain(const struct alloc_filter *f, const struct alloc_machine *ready, size_t n, char *buf, size_t len)
{
	struct criteria cr;
	char cond[512], why[128];
	size_t off = 0, in_scope = 0, counts[CRITERIA_MAX] = {0};

	if (!buf || !len)
		return;
	buf[0] = '\0';
	alloc_filter_text(f, cond, sizeof(cond));
	criteria_of(f, &cr);
	put(buf, len, &off, "no READY machine%s%s: ", cond[0] ? " " : "", cond);
	for (size_t i = 0; i < n; i++) {
		if (!zone_ok(f, &ready[i]))
			continue;
		in_scope++;
		for (size_t k = 0; k < cr.n; k++)
			counts[k] += criterion_ok(f, cr.c[k], cr.tag[k], &ready[i]);
	}
	if (n == 0) {
		put(buf, len, &off, "there are no READY machines at all");
		return;
	}
	if (in_scope == 0) {
		put(buf, len, &off, "no READY machines there (%zu in other zones)", n);
		return;
	}
	put(buf, len, &off, "%zu READY machine%s %s", in_scope, plural(in_scope), f->zone[0] ? "there" : "in all");
	/* Conditions that no machine meets even alone: say what the best has. */
	size_t alone = 0;
	for (size_t k = 0; k < cr.n; k++) {
		if (counts[k])
			continue;
		best_text(f, &cr, k, ready, n, in_scope, why, sizeof(why));
		put(buf, len, &off, "%s%s", alone++ ? "; " : ", ", why);
	}
	if (alone || cr.n == 0)
		return;
	/* Each condition is met by some, never all by one. */
	put(buf, len, &off, ": ");
	for (size_t k = 0; k < cr.n; k++)
		put(buf, len, &off, "%zu with %s, ", counts[k], cr.text[k]);
	put(buf, len, &off, "but none with all of them");
}
