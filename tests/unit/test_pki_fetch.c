/* Unit tests for pki_fetch_server_ca (common/pki.c): it talks to a TLS
 * server on loopback run in a thread of this process. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/pki.h"
#include "pki_util.h"

/* ---- pki_fetch_server_ca against a TLS server in a thread -------------- */

struct tls_server {
	int lfd;
	uint16_t port;
	SSL_CTX *ctx; /* NULL: answer with plain text, not TLS */
	pthread_t thread;
	bool handshake_ok; /* set by the thread */
	bool alpn_h2;
};

enum {
	SERVER_CHAIN_CA = 1 << 0,     /* serve leaf + CA, as the region does */
	SERVER_REQUIRE_CERT = 1 << 1, /* refuse clients without a certificate */
	SERVER_TLS12 = 1 << 2,
};

static int alpn_select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
			  unsigned int inlen, void *arg)
{
	static const unsigned char h2[] = {2, 'h', '2'};
	unsigned char *sel;
	/* Like a gRPC server: no "h2", no handshake. */
	if (SSL_select_next_proto(&sel, outlen, h2, sizeof(h2), in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *server_ctx_new(const struct fixture *f, int flags, char **ret_key, char **ret_cert)
{
	const char *const sans[] = {"localhost", "127.0.0.1", "::1", NULL};
	assert_int_equal(pki_key_create(ret_key), 0);
	assert_int_equal(
	    pki_cert_issue(f->ca_key, f->ca_cert, *ret_key, "region", DAYS, PKI_SERVER, sans, 99, ret_cert), 0);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509 *cert = x509_parse(*ret_cert), *ca = x509_parse(f->ca_cert);
	EVP_PKEY *key = key_parse(*ret_key);
	assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	if (flags & SERVER_CHAIN_CA)
		assert_int_equal(SSL_CTX_add1_chain_cert(ctx, ca), 1);
	if (flags & SERVER_REQUIRE_CERT) {
		assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca), 1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	if (flags & SERVER_TLS12)
		assert_int_equal(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION), 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_h2, NULL);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(cert);
	return ctx;
}

static void *tls_server_run(void *arg)
{
	struct tls_server *s = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct pollfd p = {.fd = s->lfd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		return NULL;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!s->ctx) {
		static const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		if (write(fd, reply, sizeof(reply) - 1) < 0)
			perror("write");
		close(fd);
		return NULL;
	}
	SSL *ssl = SSL_new(s->ctx);
	SSL_set_fd(ssl, fd);
	s->handshake_ok = SSL_accept(ssl) == 1;
	if (s->handshake_ok) {
		const unsigned char *proto;
		unsigned int len;
		char buf[64];
		SSL_get0_alpn_selected(ssl, &proto, &len);
		s->alpn_h2 = len == 2 && memcmp(proto, "h2", 2) == 0;
		/* Until the client's close_notify or EOF. */
		while (SSL_read(ssl, buf, sizeof(buf)) > 0)
			;
	}
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return NULL;
}

/* Listen on a loopback address, port chosen by the kernel. */
static int listen_loopback(int family, uint16_t *ret_port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*ret_port =
	    ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void tls_server_start(struct tls_server *s, int family, SSL_CTX *ctx)
{
	*s = (struct tls_server){.ctx = ctx};
	s->lfd = listen_loopback(family, &s->port);
	assert_true(s->lfd >= 0);
	assert_int_equal(pthread_create(&s->thread, NULL, tls_server_run, s), 0);
}

static void tls_server_stop(struct tls_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
}

static void fetch_and_check(const struct fixture *f, int family, const char *host, int flags)
{
	char *key, *cert, *ca = NULL;
	struct tls_server s;
	tls_server_start(&s, family, server_ctx_new(f, SERVER_CHAIN_CA | flags, &key, &cert));
	assert_int_equal(pki_fetch_server_ca(host, s.port, 5000, &ca), 0);
	tls_server_stop(&s);
	assert_non_null(ca);
	assert_string_equal(ca, f->ca_cert);
	if (flags & SERVER_REQUIRE_CERT) {
		assert_false(s.handshake_ok);
	} else {
		assert_true(s.handshake_ok);
		assert_true(s.alpn_h2);
	}
	free(ca);
	free(cert);
	free(key);
}

static void test_fetch_server_ca(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", 0);
}

static void test_fetch_server_ca_tls12(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", SERVER_TLS12);
}

/* Servers that demand a client certificate: under TLS 1.3 our side of the
 * handshake completes first; under TLS 1.2 the server aborts it, but only
 * after sending its chain. */
static void test_fetch_client_cert_required(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", SERVER_REQUIRE_CERT);
}

static void test_fetch_client_cert_required_tls12(void **state)
{
	fetch_and_check(*state, AF_INET, "127.0.0.1", SERVER_REQUIRE_CERT | SERVER_TLS12);
}

static void test_fetch_server_ca_by_name(void **state)
{
	/* "localhost" may resolve to ::1 first, where nothing listens: the
	 * next address must be tried. */
	fetch_and_check(*state, AF_INET, "localhost", 0);
}

static void test_fetch_server_ca_ipv6(void **state)
{
	uint16_t port;
	int fd = listen_loopback(AF_INET6, &port);
	if (fd < 0) {
		print_message("skipped: no IPv6 loopback here (%s)\n", strerror(-fd));
		skip();
	}
	close(fd);
	fetch_and_check(*state, AF_INET6, "::1", 0);
}

static void test_fetch_chain_without_ca(void **state)
{
	char *key, *cert, *ca = NULL;
	struct tls_server s;
	tls_server_start(&s, AF_INET, server_ctx_new(*state, 0, &key, &cert));
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", s.port, 5000, &ca), -ENOENT);
	tls_server_stop(&s);
	assert_null(ca);
	free(cert);
	free(key);
}

static void test_fetch_not_tls(void **state)
{
	char *ca = NULL;
	struct tls_server s;
	tls_server_start(&s, AF_INET, NULL);
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", s.port, 5000, &ca), -EPROTO);
	tls_server_stop(&s);
	assert_null(ca);
}

static void test_fetch_refused(void **state)
{
	uint16_t port;
	int fd = listen_loopback(AF_INET, &port);
	assert_true(fd >= 0);
	close(fd); /* nothing listens there now */
	char *ca = NULL;
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", port, 2000, &ca), -ECONNREFUSED);
	assert_null(ca);
}

static void test_fetch_timeout(void **state)
{
	/* The kernel completes the TCP handshake from the backlog, but nobody
	 * ever answers the ClientHello. */
	uint16_t port;
	int fd = listen_loopback(AF_INET, &port);
	assert_true(fd >= 0);
	char *ca = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", port, 200, &ca), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 190 && ms < 2000);
	assert_null(ca);
	close(fd);
}

static void test_fetch_invalid(void **state)
{
	char *ca = NULL;
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", 0, 1000, &ca), -EINVAL);
	assert_int_equal(pki_fetch_server_ca("127.0.0.1", 443, 0, &ca), -EINVAL);
	assert_int_equal(pki_fetch_server_ca("", 443, 1000, &ca), -EINVAL);
	assert_null(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetch_server_ca),
	    cmocka_unit_test(test_fetch_server_ca_tls12),
	    cmocka_unit_test(test_fetch_client_cert_required),
	    cmocka_unit_test(test_fetch_client_cert_required_tls12),
	    cmocka_unit_test(test_fetch_server_ca_by_name),
	    cmocka_unit_test(test_fetch_server_ca_ipv6),
	    cmocka_unit_test(test_fetch_chain_without_ca),
	    cmocka_unit_test(test_fetch_not_tls),
	    cmocka_unit_test(test_fetch_refused),
	    cmocka_unit_test(test_fetch_timeout),
	    cmocka_unit_test(test_fetch_invalid),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
