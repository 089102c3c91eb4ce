/* One boot resource fetched from the region over HTTPS (libcurl, blocking:
 * call it on a worker thread, never on the loop).
 *
 * TLS: the region CA pinned at enrolment is the only trust anchor
 * (CURLOPT_CAINFO_BLOB, no system CA path), the rack presents its own
 * certificate and key (CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB), and the
 * server must prove the name "ironrack-region" — the name in the region's
 * certificate that racks also check for gRPC — whatever host the URL names.
 * The URL's host is moved into CURLOPT_CONNECT_TO and the URL itself is
 * rewritten to https://ironrack-region:PORT/..., so curl connects to the
 * real host but uses ironrack-region for SNI and for host-name
 * verification (CURLOPT_SSL_VERIFYHOST). CURLOPT_RESOLVE would need an IP
 * address resolved by us; CURLOPT_PINNEDPUBLICKEY would pin one key and
 * break when the region renews its certificate.
 *
 * The data goes to DIR/BASE.part, resuming with a Range request from what
 * is already there, hashed as it arrives. Only when the size and SHA-256
 * are the expected ones is it fsync'ed and renamed over DIR/BASE; a
 * mismatch deletes the .part file. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/bootres.h"

struct boot_fetch_tls {
	const char *ca_pem;
	const char *cert_pem;
	const char *key_pem;
};

struct boot_fetch_result {
	uint64_t resumed_at; /* bytes already in the .part file */
	uint64_t received;   /* bytes transferred now */
	double seconds;
	struct stat st;	 /* of the installed file */
	char error[256]; /* why it failed */
};

/* 0 installed; -EBADMSG checksum or size mismatch (.part removed);
 * -ECANCELED stop became true (.part kept for resuming); -EINVAL bad URL;
 * other -errno: transfer or file errors (.part kept). */
int boot_fetch(int dirfd, const char *base, const struct bootres_entry *want, const char *url,
	       const struct boot_fetch_tls *tls, const atomic_bool *stop, struct boot_fetch_result *ret);
