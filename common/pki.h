/* Certificates for enrolment and mutual TLS (OpenSSL). All PEM outputs are
 * malloc'd NUL-terminated strings owned by the caller. Keys are EC P-256.
 * Returns >= 0 or -errno (-EBADMSG for PEM/DER that does not parse,
 * -EKEYREJECTED for a verification failure, -EIO for an OpenSSL failure). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKI_FINGERPRINT_LEN 103 /* "SHA256:" + 32 * "XX:", the last ':' being the NUL */

/* A fresh private key (PKCS#8 PEM). */
int pki_key_create(char **ret_key_pem);

/* A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign). */
int pki_ca_create(const char *cn, int days, char **ret_key_pem, char **ret_cert_pem);

/* A PKCS#10 request for key_pem with subject CN=cn. */
int pki_csr_create(const char *key_pem, const char *cn, char **ret_csr_pem);

/* What a leaf certificate is for (its extendedKeyUsage). */
enum pki_usage {
	PKI_CLIENT, /* clientAuth: a rack towards the region */
	PKI_SERVER, /* serverAuth: the region's listeners */
	PKI_PEER,   /* both: a rack, which is also the server of its HA partner's link */
};

/* Sign a CSR with the CA. The subject is CN=cn (the CSR's own subject is
 * ignored; the CSR's signature is verified). usage: the extendedKeyUsage;
 * sans (DNS names or IP addresses, NULL-terminated list, may be NULL) go
 * into subjectAltName. serial must be non-zero and unique per CA. */
int pki_csr_sign(const char *ca_key_pem, const char *ca_cert_pem, const char *csr_pem, const char *cn, int days,
		 enum pki_usage usage, const char *const *sans, uint64_t serial, char **ret_cert_pem);

/* Issue a certificate for an existing key directly (the region's own server
 * certificate). Same meaning of the arguments as pki_csr_sign. */
int pki_cert_issue(const char *ca_key_pem, const char *ca_cert_pem, const char *key_pem, const char *cn, int days,
		   enum pki_usage usage, const char *const *sans, uint64_t serial, char **ret_cert_pem);

/* "SHA256:AB:CD:..." over the DER of the first certificate in cert_pem. */
int pki_cert_fingerprint(const char *cert_pem, char *ret, size_t len);
/* Compare two fingerprints, ignoring case, ':' separators and an optional
 * "SHA256:" prefix. */
bool pki_fingerprint_equal(const char *a, const char *b);

/* Subject CN of the first certificate. */
int pki_cert_cn(const char *cert_pem, char *ret, size_t len);
/* Seconds until notAfter (negative when expired). */
int pki_cert_expires_in(const char *cert_pem, int64_t *ret_seconds);

/* Verify cert_pem was issued by ca_pem and is in its validity period. */
int pki_cert_verify(const char *ca_pem, const char *cert_pem);

/* Does key_pem belong to cert_pem? 0 yes, -EKEYREJECTED no. */
int pki_key_matches_cert(const char *key_pem, const char *cert_pem);

/* Connect to host:port with TLS (no verification, ALPN "h2"), read the
 * certificate chain the server presents and return the self-signed CA
 * certificate in it (-ENOENT if the chain has none). Blocks at most
 * timeout_ms. Used once, at enrolment, before the CA is pinned. */
int pki_fetch_server_ca(const char *host, uint16_t port, int timeout_ms, char **ret_ca_pem);

/* n random bytes from the OpenSSL CSPRNG, as lowercase hex into ret
 * (ret must hold 2n+1). */
int pki_random_hex(size_t n, char *ret);

/* SHA-256 of data as lowercase hex (ret holds 65). */
void pki_sha256_hex(const void *data, size_t len, char ret[65]);

/* Constant-time equality of two NUL-terminated strings. */
bool pki_secret_equal(const char *a, const char *b);
