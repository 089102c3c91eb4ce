/* Boot resources: names, manifests, diff, Range headers. Pure; see bootres.h. */
#include "common/bootres.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '+' || c == '~' || c == ',' || c == '=' || c == '@';
}

int bootres_name_check(const char *name, const char **ret_why)
{
	const char *why = NULL;
	int rc = 0;
	size_t len = strlen(name);

	if (len == 0) {
		why = "empty name";
		rc = -EINVAL;
	} else if (len > BOOTRES_NAME_MAX) {
		why = "name too long";
		rc = -ENAMETOOLONG;
	} else if (len >= 5 && strcmp(name + len - 5, ".part") == 0) {
		why = "name ends in .part";
		rc = -EPERM;
	}
	for (size_t i = 0; rc == 0 && i < len; i++) {
		bool start = i == 0 || name[i - 1] == '/';
		if (name[i] == '/') {
			if (start || i + 1 == len) {
				why = name[0] == '/' ? "absolute path" : "empty path component";
				rc = -EINVAL;
			}
		} else if (start && name[i] == '.') {
			why = "a path component starts with '.'";
			rc = -EPERM;
		} else if (!name_char_ok(name[i])) {
			why = "character outside A-Z a-z 0-9 . _ - + ~ , = @";
			rc = -EINVAL;
		}
	}
	if (ret_why)
		*ret_why = why;
	return rc;
}

bool bootres_sha256_valid(const char *hex)
{
	size_t i = 0;
	for (; hex[i]; i++) {
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	}
	return i == 64;
}

/* ---- manifest ---- */

void bootres_manifest_done(struct bootres_manifest *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

struct bootres_entry *bootres_manifest_find(const struct bootres_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->e[i].name, name) == 0)
			return &m->e[i];
	}
	return NULL;
}

int bootres_manifest_put(struct bootres_manifest *m, const struct bootres_entry *e)
{
	struct bootres_entry *old = bootres_manifest_find(m, e->name);
	if (old) {
		*old = *e;
		return 0;
	}
	if (m->n >= BOOTRES_MAX)
		return -ENOSPC;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		m->e = xreallocarray(m->e, cap, sizeof(*m->e));
		m->cap = cap;
	}
	m->e[m->n++] = *e;
	return 0;
}

int bootres_manifest_remove(struct bootres_manifest *m, const char *name)
{
	struct bootres_entry *e = bootres_manifest_find(m, name);
	if (!e)
		return 0;
	size_t i = (size_t)(e - m->e);
	memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
	m->n--;
	return 1;
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	if (*s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

static bool parse_i64(const char *s, int64_t *ret)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v > INT64_MAX)
		return false;
	*ret = (int64_t)v;
	return true;
}

/* "NAME SIZE MTIME_NS CTIME_NS INODE SHA256" (single blanks or tabs). */
static bool manifest_line(char *line, struct bootres_entry *e)
{
	char *f[7];
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 7)
			return false;
		f[n++] = t;
	}
	if (n != 6 || strlen(f[0]) > BOOTRES_NAME_MAX || bootres_name_check(f[0], NULL) < 0)
		return false;
	memset(e, 0, sizeof(*e));
	strcpy(e->name, f[0]);
	if (!parse_u64(f[1], &e->size) || !parse_i64(f[2], &e->mtime_ns) || !parse_i64(f[3], &e->ctime_ns) ||
	    !parse_u64(f[4], &e->ino) || !bootres_sha256_valid(f[5]))
		return false;
	strcpy(e->sha256, f[5]);
	return true;
}

int bootres_manifest_parse(const char *text, size_t len, struct bootres_manifest *m, size_t *ret_bad)
{
	size_t bad = 0;
	char line[BOOTRES_ORIGIN_MAX + 16];

	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
		const char *l = text + pos;
		pos = end + 1;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (n >= sizeof(line) || memchr(l, '\0', n)) {
			bad++;
			continue;
		}
		memcpy(line, l, n);
		line[n] = '\0';
		if (line[0] == '#') {
			if (strncmp(line, "# origin ", 9) == 0 && strlen(line + 9) < sizeof(m->origin))
				memcpy(m->origin, line + 9, strlen(line + 9) + 1);
			continue;
		}
		struct bootres_entry e;
		if (!manifest_line(line, &e) || bootres_manifest_find(m, e.name) || bootres_manifest_put(m, &e) < 0)
			bad++;
	}
	if (ret_bad)
		*ret_bad = bad;
	return 0;
}

char *bootres_manifest_format(const struct bootres_manifest *m)
{
	/* name + 4 numbers of at most 20 digits + hash + blanks */
	size_t cap = 128 + strlen(m->origin) + m->n * (BOOTRES_NAME_MAX + 4 * 21 + 64 + 8);
	char *buf = xmalloc(cap);
	size_t len = (size_t)snprintf(buf, cap, "# ironrack boot resources v1\n");
	if (m->origin[0])
		len += (size_t)snprintf(buf + len, cap - len, "# origin %s\n", m->origin);
	for (size_t i = 0; i < m->n; i++) {
		const struct bootres_entry *e = &m->e[i];
		if (!e->sha256[0])
			continue; /* nothing to remember */
		len += (size_t)snprintf(buf + len, cap - len, "%s %" PRIu64 " %" PRId64 " %" PRId64 " %" PRIu64 " %s\n",
					e->name, e->size, e->mtime_ns, e->ctime_ns, e->ino, e->sha256);
	}
	return buf;
}

bool bootres_entry_stat_matches(const struct bootres_entry *e, const struct stat *st)
{
	return S_ISREG(st->st_mode) && e->size == (uint64_t)st->st_size && e->ino == (uint64_t)st->st_ino &&
	       e->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec &&
	       e->ctime_ns == (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

void bootres_entry_set_stat(struct bootres_entry *e, const struct stat *st)
{
	e->size = (uint64_t)st->st_size;
	e->ino = (uint64_t)st->st_ino;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* ---- diff ---- */

static int cmp_name_idx(const void *a, const void *b, void *arg)
{
	const struct bootres_entry *v = arg;
	return strcmp(v[*(const size_t *)a].name, v[*(const size_t *)b].name);
}

/* Indexes of v sorted by name. */
static size_t *sorted_idx(const struct bootres_entry *v, size_t n)
{
	size_t *idx = xreallocarray(NULL, n, sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_name_idx, (void *)v);
	return idx;
}

int bootres_diff(const struct bootres_entry *want, size_t n_want, const struct bootres_entry *have, size_t n_have,
		 struct bootres_diff *ret)
{
	struct bootres_diff d = {0};
	size_t *w = sorted_idx(want, n_want), *h = sorted_idx(have, n_have);
	for (size_t i = 1; i < n_want; i++) {
		if (strcmp(want[w[i - 1]].name, want[w[i]].name) == 0) {
			free(w);
			free(h);
			return -EINVAL;
		}
	}
	d.keep = xreallocarray(NULL, n_want, sizeof(size_t));
	d.fetch = xreallocarray(NULL, n_want, sizeof(size_t));
	d.remove = xreallocarray(NULL, n_have, sizeof(size_t));
	/* A merge of the two sorted lists. */
	size_t i = 0, j = 0;
	while (i < n_want || j < n_have) {
		int c = i == n_want ? 1 : j == n_have ? -1 : strcmp(want[w[i]].name, have[h[j]].name);
		if (c < 0) {
			d.fetch[d.n_fetch++] = w[i++];
		} else if (c > 0) {
			d.remove[d.n_remove++] = h[j++];
		} else {
			const struct bootres_entry *a = &want[w[i]], *b = &have[h[j]];
			/* A duplicate in have (not from our manifests) still names a wanted file. */
			while (j + 1 < n_have && strcmp(have[h[j + 1]].name, a->name) == 0)
				j++;
			if (b->sha256[0] && a->size == b->size && strcmp(a->sha256, b->sha256) == 0)
				d.keep[d.n_keep++] = w[i];
			else
				d.fetch[d.n_fetch++] = w[i];
			i++;
			j++;
		}
	}
	free(w);
	free(h);
	*ret = d;
	return 0;
}

void bootres_diff_done(struct bootres_diff *d)
{
	free(d->keep);
	free(d->fetch);
	free(d->remove);
	memset(d, 0, sizeof(*d));
}

/* ---- Range ---- */

static bool range_num(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*ret = v;
	return true;
}

int bootres_range_parse(const char *value, uint64_t size, uint64_t *ret_first, uint64_t *ret_len)
{
	if (!value)
		return 0;
	while (*value == ' ')
		value++;
	if (strncmp(value, "bytes=", 6) != 0)
		return 0;
	const char *p = value + 6;
	while (*p == ' ')
		p++;
	uint64_t first = 0, last = 0;
	bool suffix = *p == '-';
	if (suffix) {
		p++;
		if (!range_num(&p, &last))
			return 0;
	} else {
		if (!range_num(&p, &first) || *p++ != '-')
			return 0;
		if (*p >= '0' && *p <= '9') {
			if (!range_num(&p, &last) || last < first)
				return 0;
		} else {
			last = UINT64_MAX;
		}
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return 0; /* several ranges or junk: the whole file is a valid answer */
	if (suffix) {
		if (last == 0 || size == 0)
			return -ERANGE;
		first = last >= size ? 0 : size - last;
		last = size - 1;
	} else {
		if (first >= size)
			return -ERANGE;
		if (last >= size)
			last = size - 1;
	}
	*ret_first = first;
	*ret_len = last - first + 1;
	return 1;
}
