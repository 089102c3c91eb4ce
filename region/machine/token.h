/* One-time machine tokens (docs/machines.md, "Tokens"). Commissioning
 * gives a machine a token on its kernel command line; its agent posts it
 * back with the inventory. The region stores the token's SHA-256 (to find
 * and check it) and a copy sealed with the region's keyring (to render
 * the boot config again after a restart), never the token itself. A
 * token is valid for one machine, one purpose, until it expires or is
 * used. Pure apart from machine_token_new (the OpenSSL RNG). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MACHINE_TOKEN_HEX 64 /* 32 random bytes */

/* A new token: 64 lowercase hex digits and a NUL. */
void machine_token_new(char out[MACHINE_TOKEN_HEX + 1]);
/* SHA-256 of the token's text, lowercase hex. */
void machine_token_hash(const char *token, char out[65]);
/* Is s 64 lowercase hex digits? */
bool machine_token_well_formed(const char *s);

/* What the database holds for a token (found by its hash). */
struct machine_token_row {
	int64_t machine_id;
	char purpose[16]; /* "commission", later "deploy" */
	int64_t expires_ms;
	bool used;
};

enum machine_token_verdict {
	TOKEN_OK,
	TOKEN_ABSENT,	     /* no token posted */
	TOKEN_MALFORMED,     /* not 64 hex digits */
	TOKEN_UNKNOWN,	     /* no row has its hash */
	TOKEN_USED,	     /* already used */
	TOKEN_EXPIRED,	     /* past expires_ms */
	TOKEN_WRONG_PURPOSE, /* issued for another action */
	TOKEN_WRONG_MACHINE, /* the boot MAC posted belongs to another machine */
};

/* The verdict on a post of purpose with token, where row is the row the
 * token's hash found (NULL: none) and mac_machine_id the machine owning
 * the posted boot MAC (0: none or not posted — then the token alone
 * names the machine). msg says why in words for the agent and the log
 * ("token already used", "token expired 12s ago", ...). */
enum machine_token_verdict machine_token_check(const char *token, const char *purpose,
					       const struct machine_token_row *row, int64_t mac_machine_id,
					       int64_t now_ms, char *msg, size_t msg_len);
