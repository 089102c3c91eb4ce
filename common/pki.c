#include "common/pki.h"
#include "common/pki_internal.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Racks and the region rarely agree on the time to the second, and a
 * certificate that is "not yet valid" on a rack whose clock lags would make
 * enrolment fail for no good reason. */
#define PKI_CLOCK_SKEW_SEC    3600
#define PKI_CN_MAX	      64 /* ub_common_name (RFC 5280) */
#define PKI_DNS_NAME_MAX      253
#define PKI_MIN_SECURITY_BITS 112 /* P-256 gives 128, RSA-2048 gives 112 */

/*
 * Public functions bracket their work with ERR_set_mark() and
 * ERR_pop_to_mark() (pki_fetch_server_ca clears the queue instead): our
 * callers learn about failures from the return value, and errors we left on
 * OpenSSL's thread-local queue would otherwise be reported later by an
 * unrelated SSL_get_error() in gRPC or libcurl.
 */

/* The conventional way to show a certificate fingerprint to a person:
 * upper case, bytes separated by ':' ("AB:CD:..."). */
static void fingerprint_format(char *out, const unsigned char *md, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*out++ = ':';
		*out++ = digits[md[i] >> 4];
		*out++ = digits[md[i] & 0x0f];
	}
	*out = '\0';
}

/* ---- PEM in and out ---------------------------------------------------- */

static int pem_no_password(char *buf, int size, int rwflag, void *u)
{
	/* Our keys are never encrypted. Without this callback OpenSSL would
	 * prompt for a pass phrase on the controlling terminal. */
	return -1;
}

static int bio_to_string(BIO *bio, char **ret)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		return -EIO;
	char *s = xmalloc((size_t)n + 1);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*ret = s;
	return 0;
}

/* OpenSSL's BIO constructors fail only when out of memory. */
static BIO *bio_new(const BIO_METHOD *type)
{
	BIO *bio = BIO_new(type);
	if (!bio)
		oom_abort(0);
	return bio;
}

static int key_to_pem(EVP_PKEY *key, char **ret)
{
	/* secmem: the buffer holding the private key is wiped when freed. */
	BIO *bio = bio_new(BIO_s_secmem());
	int r = -EIO;
	if (PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		r = bio_to_string(bio, ret);
	BIO_free(bio);
	return r;
}

int pki_x509_to_pem(X509 *cert, char **ret)
{
	BIO *bio = bio_new(BIO_s_mem());
	int r = PEM_write_bio_X509(bio, cert) == 1 ? bio_to_string(bio, ret) : -EIO;
	BIO_free(bio);
	return r;
}

static int csr_to_pem(X509_REQ *req, char **ret)
{
	BIO *bio = bio_new(BIO_s_mem());
	int r = PEM_write_bio_X509_REQ(bio, req) == 1 ? bio_to_string(bio, ret) : -EIO;
	BIO_free(bio);
	return r;
}

static BIO *pem_bio_new(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	if (!bio)
		oom_abort(0);
	return bio;
}

static int key_from_pem(const char *pem, EVP_PKEY **ret)
{
	if (!pem)
		return -EINVAL;
	BIO *bio = pem_bio_new(pem);
	*ret = PEM_read_bio_PrivateKey(bio, NULL, pem_no_password, NULL);
	BIO_free(bio);
	return *ret ? 0 : -EBADMSG;
}

static int cert_from_pem(const char *pem, X509 **ret)
{
	if (!pem)
		return -EINVAL;
	BIO *bio = pem_bio_new(pem);
	*ret = PEM_read_bio_X509(bio, NULL, pem_no_password, NULL);
	BIO_free(bio);
	return *ret ? 0 : -EBADMSG;
}

static int csr_from_pem(const char *pem, X509_REQ **ret)
{
	if (!pem)
		return -EINVAL;
	BIO *bio = pem_bio_new(pem);
	*ret = PEM_read_bio_X509_REQ(bio, NULL, pem_no_password, NULL);
	BIO_free(bio);
	return *ret ? 0 : -EBADMSG;
}

/* All certificates in pem (a CA bundle during rotation holds two). */
static int store_from_pem(const char *pem, X509_STORE **ret)
{
	if (!pem)
		return -EINVAL;
	X509_STORE *store = X509_STORE_new();
	BIO *bio = pem_bio_new(pem);
	int r = store && bio ? 0 : -ENOMEM, n = 0;
	X509 *cert;
	while (r == 0 && (cert = PEM_read_bio_X509(bio, NULL, pem_no_password, NULL))) {
		if (X509_STORE_add_cert(store, cert) != 1)
			r = -EIO;
		X509_free(cert);
		n++;
	}
	if (r == 0 && n == 0)
		r = -EBADMSG;
	BIO_free(bio);
	if (r < 0) {
		X509_STORE_free(store);
		return r;
	}
	*ret = store;
	return 0;
}

static int key_generate(EVP_PKEY **ret)
{
	*ret = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return *ret ? 0 : -EIO;
}

/* ---- Certificate construction ------------------------------------------ */

enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT, CERT_PEER };

struct cert_spec {
	X509 *issuer; /* NULL: self-signed */
	EVP_PKEY *issuer_key;
	EVP_PKEY *subject_key; /* only the public half is used */
	const char *cn;
	int days;
	enum cert_kind kind;
	const char *const *sans;
	uint64_t serial;
};

static int name_from_cn(const char *cn, X509_NAME **ret)
{
	size_t len = cn ? strlen(cn) : 0;
	if (len == 0 || len > PKI_CN_MAX)
		return -EINVAL;
	X509_NAME *name = X509_NAME_new();
	if (!name)
		return -ENOMEM;
	/* Fails for text that is not UTF-8. */
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, (int)len, -1,
				       0) != 1) {
		X509_NAME_free(name);
		return -EINVAL;
	}
	*ret = name;
	return 0;
}

static int cert_fields_set(X509 *x, const struct cert_spec *s)
{
	X509_NAME *name;
	int r = name_from_cn(s->cn, &name);
	if (r < 0)
		return r;
	X509_NAME *issuer = s->issuer ? X509_get_subject_name(s->issuer) : name;
	r = -EIO;
	if (X509_set_version(x, X509_VERSION_3) == 1 &&
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), s->serial) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -PKI_CLOCK_SKEW_SEC) &&
	    X509_time_adj_ex(X509_getm_notAfter(x), s->days, 0, NULL) && X509_set_subject_name(x, name) == 1 &&
	    X509_set_issuer_name(x, issuer) == 1 && X509_set_pubkey(x, s->subject_key) == 1)
		r = 0;
	X509_NAME_free(name);
	return r;
}

static int cert_ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!ext)
		return -EIO;
	int r = X509_add_ext(x, ext, -1) == 1 ? 0 : -EIO;
	X509_EXTENSION_free(ext);
	return r;
}

static int cert_exts_add(X509 *x, const struct cert_spec *s)
{
	bool ca = s->kind == CERT_CA;
	const char *eku = s->kind == CERT_SERVER   ? "serverAuth"
			  : s->kind == CERT_CLIENT ? "clientAuth"
			  : s->kind == CERT_PEER   ? "serverAuth,clientAuth"
						   : NULL;
	/* The subject key identifier must exist before the authority key
	 * identifier of a self-signed certificate can copy it. A leaf falls
	 * back to issuer+serial if its CA has no subject key identifier. */
	const struct {
		int nid;
		const char *value;
	} exts[] = {
	    {NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
	    {NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, ca ? "keyid:always" : "keyid,issuer"},
	    {NID_ext_key_usage, eku},
	};
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, s->issuer ? s->issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if (!exts[i].value)
			continue;
		int r = cert_ext_add(x, &ctx, exts[i].nid, exts[i].value);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool dns_name_is_valid(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > PKI_DNS_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-._*", *s))
			return false;
	return true;
}

/* An IP address literal becomes an iPAddress entry (clients compare those
 * against the address they dialled), anything else a dNSName. Entries are
 * built directly rather than through a "DNS:a,IP:b" config string, so a
 * name cannot smuggle in extra entries. */
static int san_entry_new(const char *san, GENERAL_NAME **ret)
{
	unsigned char ip[16];
	int iplen = inet_pton(AF_INET, san, ip) == 1 ? 4 : inet_pton(AF_INET6, san, ip) == 1 ? 16 : 0;
	if (!iplen && !dns_name_is_valid(san))
		return -EINVAL;
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *value = iplen ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
	if (!gn || !value || !(iplen ? ASN1_OCTET_STRING_set(value, ip, iplen) : ASN1_STRING_set(value, san, -1))) {
		GENERAL_NAME_free(gn);
		ASN1_STRING_free(value);
		return -ENOMEM;
	}
	GENERAL_NAME_set0_value(gn, iplen ? GEN_IPADD : GEN_DNS, value);
	*ret = gn;
	return 0;
}

static int cert_sans_add(X509 *x, const char *const *sans)
{
	if (!sans || !sans[0])
		return 0;
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	if (!gens)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; r == 0 && sans[i]; i++) {
		GENERAL_NAME *gn;
		r = san_entry_new(sans[i], &gn);
		if (r == 0 && !sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			r = -ENOMEM;
		}
	}
	if (r == 0 && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		r = -EIO;
	GENERAL_NAMES_free(gens);
	return r;
}

static int cert_build(const struct cert_spec *s, char **ret_pem)
{
	if (s->days <= 0 || s->serial == 0)
		return -EINVAL;
	X509 *x = X509_new();
	if (!x)
		return -ENOMEM;
	int r = cert_fields_set(x, s);
	if (r == 0)
		r = cert_exts_add(x, s);
	if (r == 0)
		r = cert_sans_add(x, s->sans);
	if (r == 0 && X509_sign(x, s->issuer_key, EVP_sha256()) <= 0)
		r = -EIO;
	if (r == 0)
		r = pki_x509_to_pem(x, ret_pem);
	X509_free(x);
	return r;
}

/* Load the CA key and certificate into spec; refuse a pair that does not
 * belong together, which would only yield certificates nobody accepts. */
static int issuer_load(const char *ca_key_pem, const char *ca_cert_pem, struct cert_spec *spec)
{
	int r = key_from_pem(ca_key_pem, &spec->issuer_key);
	if (r == 0)
		r = cert_from_pem(ca_cert_pem, &spec->issuer);
	if (r == 0 && X509_check_private_key(spec->issuer, spec->issuer_key) != 1)
		r = -EKEYREJECTED;
	return r;
}

static void issuer_done(struct cert_spec *spec)
{
	X509_free(spec->issuer);
	EVP_PKEY_free(spec->issuer_key);
}

static int leaf_issue(const char *ca_key_pem, const char *ca_cert_pem, struct cert_spec *spec, char **ret_cert_pem)
{
	int r = issuer_load(ca_key_pem, ca_cert_pem, spec);
	if (r == 0)
		r = cert_build(spec, ret_cert_pem);
	issuer_done(spec);
	return r;
}

/* ---- Public: creation and signing -------------------------------------- */

int pki_key_create(char **ret_key_pem)
{
	ERR_set_mark();
	EVP_PKEY *key = NULL;
	int r = key_generate(&key);
	if (r == 0)
		r = key_to_pem(key, ret_key_pem);
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return r;
}

static int serial_random(uint64_t *ret)
{
	unsigned char b[8];
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	uint64_t v = 0;
	for (size_t i = 0; i < sizeof(b); i++)
		v = v << 8 | b[i];
	/* Positive and non-zero, so it encodes in at most 8 octets. */
	v &= INT64_MAX;
	*ret = v ? v : 1;
	return 0;
}

int pki_ca_create(const char *cn, int days, char **ret_key_pem, char **ret_cert_pem)
{
	ERR_set_mark();
	struct cert_spec spec = {.cn = cn, .days = days, .kind = CERT_CA};
	char *key_pem = NULL, *cert_pem = NULL;
	EVP_PKEY *key = NULL;
	int r = serial_random(&spec.serial);
	if (r == 0)
		r = key_generate(&key);
	if (r == 0) {
		spec.issuer_key = spec.subject_key = key;
		r = cert_build(&spec, &cert_pem);
	}
	if (r == 0)
		r = key_to_pem(key, &key_pem);
	EVP_PKEY_free(key);
	if (r < 0) {
		free(cert_pem);
	} else {
		*ret_key_pem = key_pem;
		*ret_cert_pem = cert_pem;
	}
	ERR_pop_to_mark();
	return r;
}

int pki_csr_create(const char *key_pem, const char *cn, char **ret_csr_pem)
{
	ERR_set_mark();
	EVP_PKEY *key = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = NULL;
	int r = key_from_pem(key_pem, &key);
	if (r == 0)
		r = name_from_cn(cn, &name);
	if (r == 0 && !(req = X509_REQ_new()))
		r = -ENOMEM;
	if (r == 0 &&
	    (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 || X509_REQ_set_subject_name(req, name) != 1 ||
	     X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0))
		r = -EIO;
	if (r == 0)
		r = csr_to_pem(req, ret_csr_pem);
	X509_REQ_free(req);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return r;
}

/* The CSR proves possession of its key; a weak key is refused here rather
 * than by whichever TLS peer first sees the certificate. */
static int csr_check(X509_REQ *req)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	if (!key)
		return -EBADMSG;
	if (X509_REQ_verify(req, key) != 1)
		return -EKEYREJECTED;
	if (EVP_PKEY_get_security_bits(key) < PKI_MIN_SECURITY_BITS)
		return -EKEYREJECTED;
	return 0;
}

static enum cert_kind leaf_kind(enum pki_usage usage)
{
	return usage == PKI_SERVER ? CERT_SERVER : usage == PKI_PEER ? CERT_PEER : CERT_CLIENT;
}

int pki_csr_sign(const char *ca_key_pem, const char *ca_cert_pem, const char *csr_pem, const char *cn, int days,
		 enum pki_usage usage, const char *const *sans, uint64_t serial, char **ret_cert_pem)
{
	ERR_set_mark();
	X509_REQ *req = NULL;
	int r = csr_from_pem(csr_pem, &req);
	if (r == 0)
		r = csr_check(req);
	if (r == 0) {
		struct cert_spec spec = {
		    .subject_key = X509_REQ_get0_pubkey(req),
		    .cn = cn,
		    .days = days,
		    .kind = leaf_kind(usage),
		    .sans = sans,
		    .serial = serial,
		};
		r = leaf_issue(ca_key_pem, ca_cert_pem, &spec, ret_cert_pem);
	}
	X509_REQ_free(req);
	ERR_pop_to_mark();
	return r;
}

int pki_cert_issue(const char *ca_key_pem, const char *ca_cert_pem, const char *key_pem, const char *cn, int days,
		   enum pki_usage usage, const char *const *sans, uint64_t serial, char **ret_cert_pem)
{
	ERR_set_mark();
	EVP_PKEY *key = NULL;
	int r = key_from_pem(key_pem, &key);
	if (r == 0) {
		struct cert_spec spec = {
		    .subject_key = key,
		    .cn = cn,
		    .days = days,
		    .kind = leaf_kind(usage),
		    .sans = sans,
		    .serial = serial,
		};
		r = leaf_issue(ca_key_pem, ca_cert_pem, &spec, ret_cert_pem);
	}
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return r;
}

/* ---- Public: inspection ------------------------------------------------ */

int pki_cert_fingerprint(const char *cert_pem, char *ret, size_t len)
{
	if (len < PKI_FINGERPRINT_LEN)
		return -ERANGE;
	ERR_set_mark();
	X509 *cert = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int r = cert_from_pem(cert_pem, &cert);
	if (r == 0 && (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32))
		r = -EIO;
	if (r == 0)
		fingerprint_format(stpcpy(ret, "SHA256:"), md, n);
	X509_free(cert);
	ERR_pop_to_mark();
	return r;
}

/* The 64 hex digits of a fingerprint, lower-cased, into out. */
static bool fingerprint_normalize(const char *s, char out[65])
{
	size_t n = 0;
	if (strncasecmp(s, "SHA256:", 7) == 0)
		s += 7;
	for (; *s; s++) {
		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)*s) || n == 64)
			return false;
		out[n++] = (char)tolower((unsigned char)*s);
	}
	out[n] = '\0';
	return n == 64;
}

bool pki_fingerprint_equal(const char *a, const char *b)
{
	char na[65], nb[65];
	/* Anything but a full SHA-256 fingerprint matches nothing, so an
	 * empty or truncated pin can never be satisfied. */
	if (!a || !b || !fingerprint_normalize(a, na) || !fingerprint_normalize(b, nb))
		return false;
	return strcmp(na, nb) == 0;
}

int pki_cert_cn(const char *cert_pem, char *ret, size_t len)
{
	ERR_set_mark();
	X509 *cert = NULL;
	unsigned char *utf8 = NULL;
	int n = 0, r = cert_from_pem(cert_pem, &cert);
	if (r == 0) {
		X509_NAME *name = X509_get_subject_name(cert);
		int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
		if (i < 0)
			r = -ENOENT;
		else if ((n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)))) < 0)
			r = -EBADMSG;
	}
	/* A NUL inside the CN would let "rack-1\0evil" pass as "rack-1". */
	if (r == 0 && memchr(utf8, '\0', (size_t)n))
		r = -EBADMSG;
	if (r == 0 && (size_t)n >= len)
		r = -ERANGE;
	if (r == 0) {
		memcpy(ret, utf8, (size_t)n);
		ret[n] = '\0';
	}
	OPENSSL_free(utf8);
	X509_free(cert);
	ERR_pop_to_mark();
	return r;
}

int pki_cert_expires_in(const char *cert_pem, int64_t *ret_seconds)
{
	ERR_set_mark();
	X509 *cert = NULL;
	int day, sec, r = cert_from_pem(cert_pem, &cert);
	/* from == NULL: measured from the current time. */
	if (r == 0 && ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(cert)) != 1)
		r = -EBADMSG;
	if (r == 0)
		*ret_seconds = (int64_t)day * 86400 + sec;
	X509_free(cert);
	ERR_pop_to_mark();
	return r;
}

int pki_cert_verify(const char *ca_pem, const char *cert_pem)
{
	ERR_set_mark();
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *cert = NULL;
	int r = store_from_pem(ca_pem, &store);
	if (r == 0)
		r = cert_from_pem(cert_pem, &cert);
	if (r == 0 && !(ctx = X509_STORE_CTX_new()))
		r = -ENOMEM;
	if (r == 0 && X509_STORE_CTX_init(ctx, store, cert, NULL) != 1)
		r = -EIO;
	if (r == 0 && X509_verify_cert(ctx) != 1)
		r = -EKEYREJECTED;
	X509_STORE_CTX_free(ctx);
	X509_free(cert);
	X509_STORE_free(store);
	ERR_pop_to_mark();
	return r;
}

int pki_key_matches_cert(const char *key_pem, const char *cert_pem)
{
	ERR_set_mark();
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r = key_from_pem(key_pem, &key);
	if (r == 0)
		r = cert_from_pem(cert_pem, &cert);
	if (r == 0 && X509_check_private_key(cert, key) != 1)
		r = -EKEYREJECTED;
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_pop_to_mark();
	return r;
}

/* ---- Public: small helpers --------------------------------------------- */

int pki_random_hex(size_t n, char *ret)
{
	unsigned char buf[32];
	char *p = ret;
	int r = 0;
	*p = '\0';
	ERR_set_mark();
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		if (RAND_bytes(buf, (int)k) != 1) {
			r = -EIO;
			break;
		}
		hex_encode(buf, k, p);
		p += 2 * k;
		n -= k;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (r < 0)
		ret[0] = '\0';
	ERR_pop_to_mark();
	return r;
}

void pki_sha256_hex(const void *data, size_t len, char ret[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	ERR_set_mark();
	/* Cannot fail short of the default provider missing; an empty string
	 * then matches no stored hash. */
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1 && n == 32)
		hex_encode(md, n, ret);
	else
		ret[0] = '\0';
	ERR_pop_to_mark();
}

bool pki_secret_equal(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	size_t la = strlen(a), lb = strlen(b);
	/* The length is not the secret (tokens have a fixed format); the
	 * contents are compared in constant time. */
	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}
