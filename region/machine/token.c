/* See token.h. */
#include "region/machine/token.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/util.h"

/* Like oom_abort: without randomness or a digest the region cannot issue
 * or check a token it could stand behind, and OpenSSL failing at either
 * means the process is broken, not the request. */
static void token_abort(const char *what) __attribute__((noreturn));
static void token_abort(const char *what)
{
	fprintf(stderr, "machine token: %s failed; aborting\n", what);
	abort();
}

void machine_token_new(char out[MACHINE_TOKEN_HEX + 1])
{
	uint8_t b[MACHINE_TOKEN_HEX / 2];

	if (RAND_bytes(b, sizeof(b)) != 1)
		token_abort("RAND_bytes");
	hex_encode(b, sizeof(b), out);
}

void machine_token_hash(const char *token, char out[65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		token_abort("SHA-256");
	hex_encode(md, n, out);
}

bool machine_token_well_formed(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < MACHINE_TOKEN_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false; /* also stops at a NUL before 64 */
	return s[MACHINE_TOKEN_HEX] == '\0';
}

enum machine_token_verdict machine_token_check(const char *token, const char *purpose,
					       const struct machine_token_row *row, int64_t mac_machine_id,
					       int64_t now_ms, char *msg, size_t msg_len)
{
	if (!token || !*token) {
		err_set(msg, msg_len, "no token posted");
		return TOKEN_ABSENT;
	}
	if (!machine_token_well_formed(token)) {
		err_set(msg, msg_len, "token is not %d lowercase hex digits", MACHINE_TOKEN_HEX);
		return TOKEN_MALFORMED;
	}
	if (!row) {
		err_set(msg, msg_len, "token unknown");
		return TOKEN_UNKNOWN;
	}
	/* The row's purpose is a fixed buffer from the database: bounded. */
	int plen = (int)strnlen(row->purpose, sizeof(row->purpose));
	if (!purpose || strlen(purpose) != (size_t)plen || strncmp(row->purpose, purpose, (size_t)plen) != 0) {
		err_set(msg, msg_len, "token was issued for %.*s, not for %s", plen, row->purpose,
			purpose ? purpose : "(nothing)");
		return TOKEN_WRONG_PURPOSE;
	}
	if (mac_machine_id != 0 && mac_machine_id != row->machine_id) {
		err_set(msg, msg_len, "token belongs to machine %" PRId64 ", the boot MAC to machine %" PRId64,
			row->machine_id, mac_machine_id);
		return TOKEN_WRONG_MACHINE;
	}
	if (row->used) {
		err_set(msg, msg_len, "token already used");
		return TOKEN_USED;
	}
	if (now_ms >= row->expires_ms) {
		char ago[48];
		duration_format((uint64_t)(now_ms - row->expires_ms) / 1000, ago, sizeof(ago));
		err_set(msg, msg_len, "token expired %s ago", ago);
		return TOKEN_EXPIRED;
	}
	err_set(msg, msg_len, "token ok");
	return TOKEN_OK;
}
