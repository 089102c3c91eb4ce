/* Shared, reference-counted file contents for TFTP; see cache.h. */
#include "rack/tftp/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"

#define CACHE_BUCKETS 256

struct tftp_cache {
	struct tftp_file *buckets[CACHE_BUCKETS];
	size_t count;
};

int tftp_cache_new(struct tftp_cache **ret)
{
	struct tftp_cache *c = xcalloc(1, sizeof(*c));

	*ret = c;
	return 0;
}

static void file_release(struct tftp_file *f)
{
	if (f->mapped)
		munmap((void *)f->data, (size_t)f->size);
	else
		free((void *)f->data);
	free(f);
}

void tftp_cache_free(struct tftp_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		while (c->buckets[i]) {
			struct tftp_file *f = c->buckets[i];
			c->buckets[i] = f->next;
			file_release(f);
		}
	}
	free(c);
}

static size_t bucket_of(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;
	return (size_t)(h >> 32) % CACHE_BUCKETS;
}

static bool file_matches(const struct tftp_file *f, const char *name, const struct stat *st, bool netascii)
{
	return f->ino == st->st_ino && f->dev == st->st_dev && f->mtime.tv_sec == st->st_mtim.tv_sec &&
	       f->mtime.tv_nsec == st->st_mtim.tv_nsec && f->file_size == (uint64_t)st->st_size &&
	       f->netascii == netascii && strcmp(f->name, name) == 0;
}

static int load_mapped(struct tftp_file *f, int fd)
{
	if (f->size == 0)
		return 0;
	void *p = mmap(NULL, (size_t)f->size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	f->data = p;
	f->mapped = true;
	return 0;
}

/* netascii: LF -> CR LF, CR -> CR NUL, into a new buffer. */
static int netascii_convert(const uint8_t *src, size_t n, uint8_t **ret, size_t *ret_len)
{
	uint8_t *dst = xmalloc(n ? 2 * n : 1);
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (src[i] == '\n') {
			dst[out++] = '\r';
			dst[out++] = '\n';
		} else if (src[i] == '\r') {
			dst[out++] = '\r';
			dst[out++] = '\0';
		} else {
			dst[out++] = src[i];
		}
	}
	*ret = dst;
	*ret_len = out;
	return 0;
}

/* Read with pread, not through a mapping, so a concurrent truncation is a
 * short read, not a SIGBUS. */
static int load_netascii(struct tftp_file *f, int fd)
{
	size_t n = (size_t)f->file_size, got = 0, out;
	uint8_t *src, *dst;

	if (f->file_size > TFTP_NETASCII_MAX)
		return -EFBIG;
	src = xmalloc(n ? n : 1);
	while (got < n) {
		ssize_t r = pread(fd, src + got, n - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;
			free(src);
			return err;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	int r = netascii_convert(src, got, &dst, &out);
	free(src);
	if (r < 0)
		return r;
	f->data = dst;
	f->size = out;
	return 0;
}

int tftp_cache_memory(struct tftp_cache *c, const char *name, const void *data, size_t len, bool netascii,
		      struct tftp_file **ret)
{
	size_t name_len = strlen(name), out = len;
	uint8_t *copy;
	int r = 0;

	if (netascii && len > TFTP_NETASCII_MAX)
		return -EFBIG;
	struct tftp_file *f = xcalloc(1, sizeof(*f) + name_len + 1);
	if (netascii) {
		r = netascii_convert(data, len, &copy, &out);
	} else {
		copy = xmalloc(len ? len : 1);
		if (len)
			memcpy(copy, data, len);
	}
	if (r < 0) {
		free(f);
		return r;
	}
	memcpy(f->name, name, name_len + 1);
	f->data = copy;
	f->size = out;
	f->file_size = len;
	f->netascii = netascii;
	f->memory = true;
	f->refs = 1;
	*ret = f;
	return 0;
}

int tftp_cache_get(struct tftp_cache *c, const char *name, int fd, const struct stat *st, bool netascii,
		   struct tftp_file **ret)
{
	size_t b = bucket_of(st->st_dev, st->st_ino);
	struct tftp_file *f;
	int r;

	for (f = c->buckets[b]; f; f = f->next) {
		if (file_matches(f, name, st, netascii)) {
			f->refs++;
			*ret = f;
			return 0;
		}
	}
	size_t name_len = strlen(name);
	f = xcalloc(1, sizeof(*f) + name_len + 1);
	memcpy(f->name, name, name_len + 1);
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->mtime = st->st_mtim;
	f->file_size = (uint64_t)st->st_size;
	f->size = f->file_size;
	f->netascii = netascii;
	r = netascii ? load_netascii(f, fd) : load_mapped(f, fd);
	if (r < 0) {
		free(f);
		return r;
	}
	f->refs = 1;
	f->next = c->buckets[b];
	c->buckets[b] = f;
	c->count++;
	*ret = f;
	return 0;
}

void tftp_cache_put(struct tftp_cache *c, struct tftp_file *f)
{
	if (!f || --f->refs > 0)
		return;
	if (f->memory) {
		file_release(f);
		return;
	}
	struct tftp_file **pp = &c->buckets[bucket_of(f->dev, f->ino)];
	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
	c->count--;
	file_release(f);
}

size_t tftp_cache_count(const struct tftp_cache *c)
{
	return c->count;
}
