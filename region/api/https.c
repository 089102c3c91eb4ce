/* HTTPS for the REST API (region/api/https.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "common/util.h"
#include "region/api/https.h"
#include "region/region.h"

int api_tls_mode_parse(const char *text, enum api_tls_mode *ret)
{
	static const struct {
		const char *name;
		enum api_tls_mode mode;
	} modes[] = {{"auto", API_TLS_AUTO}, {"on", API_TLS_ON}, {"off", API_TLS_OFF}};

	for (size_t i = 0; text && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(text, modes[i].name) == 0) {
			*ret = modes[i].mode;
			return 0;
		}
	return -EINVAL;
}

int api_tls_conf_check(const char *text, char *err, size_t errlen)
{
	enum api_tls_mode mode;
	if (api_tls_mode_parse(text, &mode) == 0)
		return 0;
	snprintf(err, errlen, "http_tls must be auto, on or off, not '%.64s'", text ? text : "");
	return -EINVAL;
}

bool api_tls_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

int api_tls_plan(const char *text, const char *host, struct api_tls_plan *ret)
{
	enum api_tls_mode mode;
	int rc = api_tls_mode_parse(text, &mode);
	if (rc < 0)
		return rc;
	bool loopback = api_tls_host_is_loopback(host);
	ret->tls = mode == API_TLS_ON || (mode == API_TLS_AUTO && !loopback);
	ret->warn_cleartext = !ret->tls && !loopback;
	return 0;
}

static X509 *pem_cert(BIO *b)
{
	return PEM_read_bio_X509(b, NULL, NULL, NULL);
}

/* The leaf first, then every certificate after it (the CA) as the chain
 * the server sends. */
static bool ctx_use_chain(SSL_CTX *ctx, const char *chain_pem)
{
	BIO *b = BIO_new_mem_buf(chain_pem, -1);
	X509 *c = b ? pem_cert(b) : NULL;
	bool ok = c && SSL_CTX_use_certificate(ctx, c) == 1;
	X509_free(c);
	while (ok && (c = pem_cert(b)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, c) != 1) {
			X509_free(c);
			ok = false;
		}
	}
	BIO_free(b);
	return ok;
}

static bool ctx_use_key(SSL_CTX *ctx, const char *key_pem)
{
	BIO *b = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	bool ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(key);
	BIO_free(b);
	return ok;
}

SSL_CTX *api_tls_ctx_new(const struct region_tls *t)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 && ctx_use_chain(ctx, t->server_chain) &&
		  ctx_use_key(ctx, t->server_key);
	ERR_clear_error();
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Callers authenticate with bearer keys, not certificates. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

struct bufferevent *api_tls_transport_new(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);
	if (!ssl)
		oom_abort(sizeof(SSL *));
	/* With no descriptor yet, its only failure is an allocation. */
	struct bufferevent *bev =
	    bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		oom_abort(sizeof(struct bufferevent *));
	/* Clients close without close_notify all the time; that is not an
	 * error worth a log line. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}
