/* A boot resource over HTTPS into the boot root; see fetch.h. */
#include "rack/boot/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/util.h"
#include "common/version.h"

#define REGION_TLS_NAME	  "ironrack-region"
#define CONNECT_TIMEOUT_S 15
#define LOW_SPEED_BPS	  1024
#define LOW_SPEED_TIME_S  60

struct xfer {
	CURL *c;
	int fd;		 /* the .part file */
	uint64_t have;	 /* bytes in it */
	uint64_t expect; /* the resource's size */
	struct bootres_hash *h;
	bool started;
	const atomic_bool *stop;
	int err;
};

/* Start the hash over from the bytes already in the .part file. */
static int xfer_hash_part(struct xfer *x)
{
	char *buf = xmalloc(1u << 20);
	int rc = 0;
	for (uint64_t off = 0; off < x->have && rc == 0;) {
		size_t want = x->have - off > (1u << 20) ? (1u << 20) : (size_t)(x->have - off);
		ssize_t n = pread(x->fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		bootres_hash_update(x->h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	return rc;
}

static size_t xfer_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	if (!x->started) {
		long code = 0;
		x->started = true;
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200 && x->have > 0) {
			/* The server sent the whole file, not the range: start over. */
			if (ftruncate(x->fd, 0) < 0) {
				x->err = -errno;
				return 0;
			}
			x->have = 0;
			bootres_hash_free(x->h);
			x->h = bootres_hash_new();
		} else if (code != 200 && code != 206) {
			x->err = -EPROTO;
			return 0;
		}
	}
	if (x->have + n > x->expect) {
		x->err = -EFBIG;
		return 0;
	}
	int rc = fs_pwrite_full(x->fd, ptr, n, x->have);
	if (rc < 0) {
		x->err = rc;
		return 0;
	}
	bootres_hash_update(x->h, ptr, n);
	x->have += n;
	return n;
}

static int xfer_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;
	return x->stop && atomic_load(x->stop) ? 1 : 0;
}

/* url with its host replaced by REGION_TLS_NAME, and the CONNECT_TO entry
 * that sends the connection to the real host. */
static int fetch_target(const char *url, char **ret_url, struct curl_slist **ret_connect, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL, line[600];
	int rc = -EINVAL;
	if (!u)
		oom_abort(0); /* a library's NULL: out of memory */
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcmp(scheme, "https") != 0 ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, REGION_TLS_NAME, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
		snprintf(err, errlen, "not an https URL: %.200s", url);
		goto out;
	}
	snprintf(line, sizeof(line), "%s:%s:%s:%s", REGION_TLS_NAME, port, host, port);
	*ret_connect = curl_slist_append(NULL, line);
	if (!*ret_connect)
		oom_abort(0); /* a library's NULL: out of memory */
	*ret_url = xstrdup(out);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(out);
	curl_url_cleanup(u);
	return rc;
}

static void blob(CURL *c, CURLoption opt, const char *pem)
{
	struct curl_blob b = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
	curl_easy_setopt(c, opt, &b);
}

/* Run the transfer into x; 0 or -errno with err filled. */
static int fetch_transfer(struct xfer *x, const char *url, struct curl_slist *connect, const struct boot_fetch_tls *tls,
			  char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	CURL *c = x->c = curl_easy_init();
	if (!c)
		oom_abort(0); /* a library's NULL: out of memory */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ironrack-rackd/" IRONRACK_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	blob(c, CURLOPT_CAINFO_BLOB, tls->ca_pem);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL); /* the pinned CA only */
	blob(c, CURLOPT_SSLCERT_BLOB, tls->cert_pem);
	curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	blob(c, CURLOPT_SSLKEY_BLOB, tls->key_pem);
	curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BPS);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_TIME_S);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->expect);
	curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)x->have);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	CURLcode cc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	x->c = NULL;
	if (cc == CURLE_OK)
		return 0;
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(err, errlen, "stopped");
		return -ECANCELED;
	}
	if (x->err == -EFBIG || x->err == -EPROTO) {
		snprintf(err, errlen,
			 x->err == -EFBIG ? "more data than the listed size" : "unexpected HTTP status %ld", code);
		return -EBADMSG;
	}
	if (code == 416) {
		snprintf(err, errlen, "the region's file is shorter than listed (HTTP 416)");
		return -EBADMSG;
	}
	snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
	return x->err < 0 ? x->err : -EIO;
}

int boot_fetch(int dirfd, const char *base, const struct bootres_entry *want, const char *url,
	       const struct boot_fetch_tls *tls, const atomic_bool *stop, struct boot_fetch_result *ret)
{
	char part[NAME_MAX + 16], sha[BOOTRES_SHA256_HEX];
	char *target = NULL;
	struct curl_slist *connect = NULL;
	struct xfer x = {.fd = -1, .expect = want->size, .stop = stop};
	memset(ret, 0, sizeof(*ret));
	int rc = fetch_target(url, &target, &connect, ret->error, sizeof(ret->error));
	if (rc < 0)
		return rc;
	if (snprintf(part, sizeof(part), "%s.part", base) >= (int)sizeof(part)) {
		snprintf(ret->error, sizeof(ret->error), "name too long");
		rc = -ENAMETOOLONG;
		goto out;
	}
	x.fd = openat(dirfd, part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	struct stat st;
	if (x.fd < 0 || fstat(x.fd, &st) < 0) {
		rc = -errno;
		snprintf(ret->error, sizeof(ret->error), "%.200s: %s", part, strerror(-rc));
		goto out;
	}
	x.have = (uint64_t)st.st_size;
	if (x.have > x.expect) {
		if (ftruncate(x.fd, 0) < 0) {
			rc = -errno;
			goto out;
		}
		x.have = 0;
	}
	x.h = bootres_hash_new();
	ret->resumed_at = x.have;
	rc = xfer_hash_part(&x);
	int64_t t0 = clock_mono_us();
	if (rc >= 0 && x.have < x.expect)
		rc = fetch_transfer(&x, target, connect, tls, ret->error, sizeof(ret->error));
	ret->seconds = (double)(clock_mono_us() - t0) / 1e6;
	ret->received = x.have - ret->resumed_at;
	if (rc < 0)
		goto out;
	bootres_hash_final(x.h, sha);
	x.h = NULL;
	if (x.have != want->size || strcmp(sha, want->sha256) != 0) {
		snprintf(ret->error, sizeof(ret->error), "got %llu bytes with sha256 %s, expected %llu bytes with %s",
			 (unsigned long long)x.have, sha, (unsigned long long)want->size, want->sha256);
		unlinkat(dirfd, part, 0);
		rc = -EBADMSG;
		goto out;
	}
	if (fsync(x.fd) < 0 || renameat(dirfd, part, dirfd, base) < 0 || fsync(dirfd) < 0 ||
	    fstat(x.fd, &ret->st) < 0) {
		rc = -errno;
		snprintf(ret->error, sizeof(ret->error), "cannot install %s: %s", base, strerror(-rc));
	}
out:
	if (rc == -EBADMSG && x.fd >= 0)
		unlinkat(dirfd, part, 0);
	if (x.fd >= 0)
		close(x.fd);
	bootres_hash_free(x.h);
	curl_slist_free_all(connect);
	free(target);
	return rc;
}
