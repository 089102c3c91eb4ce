/* HTTP to the region's REST API with libcurl. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/util.h"
#include "common/version.h"
#include "region/cli/cli.h"
#include "region/cli/client.h"

struct sink {
	char *data;
	size_t len, cap;
	bool too_big;
};

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->len + n > CLI_RESPONSE_MAX) {
		s->too_big = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		s->data = xrealloc(s->data, cap);
		s->cap = cap;
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

/* libcurl's allocation failures follow our one out-of-memory policy. */
static struct curl_slist *header_add(struct curl_slist *h, const char *line)
{
	struct curl_slist *n = curl_slist_append(h, line);

	if (!n)
		oom_abort(0);
	return n;
}

static struct curl_slist *headers_build(const struct cli_target *t, const struct cli_body *body)
{
	struct curl_slist *h = NULL;
	char line[CLI_KEY_MAX + 64];

	h = header_add(h, "Accept: application/json");
	if (body) {
		snprintf(line, sizeof(line), "Content-Type: %s", body->type ? body->type : "application/json");
		h = header_add(h, line);
		/* Send the body at once instead of waiting for a "100
		 * Continue". */
		h = header_add(h, "Expect:");
		if (body->header)
			h = header_add(h, body->header);
	}
	if (t->key[0]) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", t->key);
		h = header_add(h, line);
		explicit_bzero(line, sizeof(line));
	}
	return h;
}

/* Trust the pinned region CA and nothing else: no system CA file or
 * directory. The host name is not checked: the region CA is private to
 * the region and issues server certificates only to it (racks' are for
 * clients only, which a TLS client refuses from a server), so a
 * certificate that chains to it is the region's whatever name or address
 * the URL uses. */
static void tls_setup(CURL *c, const struct cli_target *t)
{
	struct curl_blob ca = {.data = (void *)t->ca_pem, .len = strlen(t->ca_pem), .flags = CURL_BLOB_COPY};

	if (!t->ca_pem[0])
		return;
	curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

static void easy_setup(CURL *c, const struct cli_target *t, const char *url, const char *method,
		       const struct cli_body *body, long timeout_ms, struct curl_slist *h, struct sink *s, char *errbuf)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->len ? body->data : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CLI_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : CLI_TOTAL_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* The key goes in a header: never follow a redirect elsewhere, and
	 * never speak anything but HTTP(S). */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ironrack-cli/" IRONRACK_VERSION);
	tls_setup(c, t);
}

int cli_exchange(CURL *c, const struct cli_target *t, const char *method, const char *url, const struct cli_body *body,
		 long timeout_ms, struct cli_resp *ret, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct sink s = {0};
	struct curl_slist *h = headers_build(t, body);

	memset(ret, 0, sizeof(*ret));
	if (cli_url_is_https(url) && !t->ca_pem[0]) {
		/* Never send a key to a server nothing vouches for. */
		snprintf(err, errlen,
			 "no region CA to verify it with: run 'ironrack login URL KEY' (it pins the CA), "
			 "or pass --ca FILE");
		curl_slist_free_all(h);
		return -EIO;
	}
	easy_setup(c, t, url, method, body, timeout_ms, h, &s, errbuf);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		if (s.too_big)
			snprintf(err, errlen, "answer larger than %d bytes", CLI_RESPONSE_MAX);
		else
			snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		free(s.data);
		return s.too_big ? -EFBIG : -EIO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
	ret->body = s.data ? s.data : xstrdup("");
	ret->len = s.len;
	ret->json = ret->len ? json_loadb(ret->body, ret->len, 0, NULL) : NULL;
	return 0;
}

int cli_request(const struct cli_target *t, const char *method, const char *path, const char *body,
		struct cli_resp *ret)
{
	char url[CLI_URL_MAX + 512], err[CURL_ERROR_SIZE + 64];
	struct cli_body b = {.data = body, .len = body ? strlen(body) : 0};

	memset(ret, 0, sizeof(*ret));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", t->url, path) >= sizeof(url)) {
		fprintf(stderr, "error: URL too long: %s%s\n", t->url, path);
		return -ENAMETOOLONG;
	}
	CURL *c = curl_easy_init();
	if (!c)
		oom_abort(0);
	int r = cli_exchange(c, t, method, url, body ? &b : NULL, 0, ret, err, sizeof(err));
	curl_easy_cleanup(c);
	if (r == -EFBIG)
		fprintf(stderr, "error: %s %s: %s\n", method, url, err);
	else if (r < 0)
		fprintf(stderr, "error: cannot reach the region at %s: %s\n", url, err);
	return r < 0 ? -EIO : 0;
}

bool cli_url_is_https(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0;
}

/* "Cert:-----BEGIN CERTIFICATE-----..." among a certificate's fields. */
static const char *certinfo_pem(const struct curl_slist *fields)
{
	for (; fields; fields = fields->next)
		if (strncmp(fields->data, "Cert:", 5) == 0)
			return fields->data + 5;
	return NULL;
}

int cli_tls_peer_chain(const char *url, char ***ret_pems, size_t *ret_n, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_certinfo *info = NULL;
	CURL *c = curl_easy_init();
	if (!c)
		oom_abort(0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L); /* the handshake, no request */
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CLI_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(c, CURLINFO_CERTINFO, &info);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		curl_easy_cleanup(c);
		return -EIO;
	}
	size_t n = info && info->num_of_certs > 0 ? (size_t)info->num_of_certs : 0;
	char **pems = xcalloc(n ? n : 1, sizeof(char *));
	size_t got = 0;
	for (size_t i = 0; i < n; i++) {
		const char *pem = certinfo_pem(info->certinfo[i]);
		if (pem)
			pems[got++] = xstrdup(pem);
	}
	curl_easy_cleanup(c);
	*ret_pems = pems;
	*ret_n = got;
	return 0;
}

void cli_resp_done(struct cli_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

int cli_resp_error(const struct cli_target *t, const struct cli_resp *r)
{
	const json_t *err = json_object_get(r->json, "error");
	const char *msg = json_string_value(json_object_get(err, "message"));
	const char *code = json_string_value(json_object_get(err, "code"));

	if (msg && code) {
		char *m = xstrdup(msg), *c = xstrdup(code);
		cli_text_sanitize(m);
		cli_text_sanitize(c);
		fprintf(stderr, "error: %s (%s)\n", m, c);
		free(m);
		free(c);
	} else if (r->status == 413)
		fprintf(stderr, "error: request too large for the region at %s (HTTP 413)\n", t->url);
	else
		fprintf(stderr, "error: unexpected answer from the region at %s: HTTP %ld\n", t->url, r->status);
	return CLI_EXIT_FAIL;
}

char *cli_path_escape(const char *segment)
{
	char *e = curl_easy_escape(NULL, segment, 0);
	if (!e)
		oom_abort(0);
	char *copy = xstrdup(e);

	curl_free(e);
	return copy;
}
