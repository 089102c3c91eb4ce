/* pki_fetch_server_ca (common/pki.h): the one part of common/pki that
 * touches the network. It connects to the server, completes a TLS handshake
 * without verifying anything, and returns the self-signed CA in the chain
 * the server presented, for the caller to pin by fingerprint. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/pki.h"
#include "common/pki_internal.h"
#include "common/util.h"

/* Wait for events on fd until deadline: 0, -ETIMEDOUT or -errno. */
static int fd_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int tcp_connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		r = errno == EINPROGRESS ? fd_wait(fd, POLLOUT, deadline) : -errno;
		int err = 0;
		socklen_t len = sizeof(err);
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (r == 0 && err)
			r = -err;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int gai_error_to_errno(int e)
{
	switch (e) {
	case EAI_NONAME:
	case EAI_NODATA:
	case EAI_FAIL:
		return -ENXIO;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return -errno;
	default:
		return -EINVAL;
	}
}

/* Try each address of host in turn; the error of the last one wins. Name
 * resolution itself is not bounded by deadline (getaddrinfo has no timeout;
 * the resolver's own retries apply). */
static int tcp_connect(const char *host, uint16_t port, int64_t deadline)
{
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	int e = getaddrinfo(host, service, &hints, &res);
	if (e != 0)
		return gai_error_to_errno(e);
	int r = -EHOSTUNREACH;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		r = tcp_connect_one(ai, deadline);
		if (r >= 0 || r == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return r;
}

static int tls_handshake(SSL *ssl, int fd, int64_t deadline)
{
	for (;;) {
		/* SSL_get_error() reports SSL_ERROR_SSL for any error left on
		 * the queue, even one from before this call. */
		ERR_clear_error();
		int n = SSL_connect(ssl);
		int saved_errno = errno;
		if (n == 1)
			return 0;
		int r;
		switch (SSL_get_error(ssl, n)) {
		case SSL_ERROR_WANT_READ:
			r = fd_wait(fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			r = fd_wait(fd, POLLOUT, deadline);
			break;
		case SSL_ERROR_SYSCALL:
			return saved_errno ? -saved_errno : -ECONNRESET;
		case SSL_ERROR_SSL:
			/* A peer that hangs up mid-handshake is a reset, not a
			 * protocol violation. */
			if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
				return -ECONNRESET;
			return -EPROTO;
		default:
			return -ECONNRESET;
		}
		if (r < 0)
			return r;
	}
}

static bool cert_is_self_signed_ca(X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	return key && X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0 &&
	       X509_verify(cert, key) == 1 && X509_check_ca(cert) >= 1;
}

static int chain_find_ca(SSL *ssl, char **ret_ca_pem)
{
	/* On the client side the chain includes the server's own certificate. */
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *cert = sk_X509_value(chain, i);
		if (cert_is_self_signed_ca(cert))
			return pki_x509_to_pem(cert, ret_ca_pem);
	}
	return -ENOENT;
}

static SSL *fetch_ssl_new(const char *host, int fd)
{
	static const unsigned char alpn_h2[] = {2, 'h', '2'};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	/* Nothing is verified here: the caller pins what we return (by
	 * fingerprint, out of band) before trusting it. gRPC servers refuse
	 * a handshake without ALPN "h2". */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL *ssl = NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
	    SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) == 0)
		ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* ssl holds its own reference */
	if (!ssl)
		return NULL;
	unsigned char ip[16];
	bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	if (SSL_set_fd(ssl, fd) != 1 || (!literal && SSL_set_tlsext_host_name(ssl, host) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* A peer that closes the socket while we write would otherwise kill the
 * whole process with SIGPIPE; library code cannot assume the daemon ignores
 * it. Block it for this thread and discard one we caused. */
struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(const struct sigpipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
		struct timespec zero = {0};
		sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int pki_fetch_server_ca(const char *host, uint16_t port, int timeout_ms, char **ret_ca_pem)
{
	if (!host || !*host || port == 0 || timeout_ms <= 0)
		return -EINVAL;
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int fd = tcp_connect(host, port, deadline);
	if (fd < 0)
		return fd;
	/* SSL_get_error() needs an empty queue, not just a mark (see
	 * tls_handshake), so this function clears it instead. */
	ERR_clear_error();
	struct sigpipe_guard guard;
	sigpipe_block(&guard);
	SSL *ssl = fetch_ssl_new(host, fd);
	int r = ssl ? tls_handshake(ssl, fd, deadline) : -ENOMEM;
	if (r == 0) {
		r = chain_find_ca(ssl, ret_ca_pem);
		/* One close_notify, no waiting for the reply. */
		SSL_shutdown(ssl);
	} else if (r == -EPROTO && chain_find_ca(ssl, ret_ca_pem) == 0) {
		/* A server that insists on a client certificate aborts a
		 * TLS 1.2 handshake after it has sent its chain, and the
		 * chain is all we came for. */
		r = 0;
	}
	SSL_free(ssl);
	close(fd);
	sigpipe_restore(&guard);
	ERR_clear_error();
	return r;
}
