/* The CLI's HTTP client (libcurl) and its saved login. */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_URL_MAX 1024
#define CLI_KEY_MAX 256
/* Largest answer we read from the region. */
#define CLI_RESPONSE_MAX       (16 * 1024 * 1024)
#define CLI_CONNECT_TIMEOUT_MS 5000L
/* Above the API's longest rack wait (60 s) so its 504 reaches us. */
#define CLI_TOTAL_TIMEOUT_MS 70000L

/* Largest region CA file (PEM) we read. */
#define CLI_CA_MAX 16384

/* Where and as whom to talk: a normalised base URL and an API key. */
struct cli_target {
	char url[CLI_URL_MAX];
	char key[CLI_KEY_MAX]; /* "" = send no Authorization header */
	/* https://: the CA the region's certificate must chain to, PEM (pinned
	 * at login, or --ca / IRONRACK_CA); the only one trusted. "" = none,
	 * and then an https:// URL is refused. */
	char ca_pem[CLI_CA_MAX];
};

struct cli_resp {
	long status;
	char *body; /* NUL-terminated, malloc'd */
	size_t len;
	json_t *json; /* the body parsed, or NULL if it is not JSON */
};

/* METHOD t->url + path with an optional JSON body. 0 once the region
 * answered (any status); otherwise the network error is printed to stderr
 * naming the URL and -EIO (or -ENAMETOOLONG for a URL too long) is
 * returned. */
int cli_request(const struct cli_target *t, const char *method, const char *path, const char *body,
		struct cli_resp *ret);
/* A request body: len bytes of data of a type (NULL: JSON), with one
 * more header line (or NULL). */
struct cli_body {
	const void *data;
	size_t len;
	const char *type;
	const char *header;
};
/* One exchange on a curl handle the caller keeps (a long upload reuses
 * its connection): METHOD url with an optional body and a total timeout
 * (0: CLI_TOTAL_TIMEOUT_MS). 0 once the region answered (ret filled, any
 * status); -EIO with the transfer's error in err (-EFBIG: the answer
 * was larger than CLI_RESPONSE_MAX). */
int cli_exchange(CURL *c, const struct cli_target *t, const char *method, const char *url, const struct cli_body *body,
		 long timeout_ms, struct cli_resp *ret, char *err, size_t errlen);
void cli_resp_done(struct cli_resp *r);
/* Is url https://? */
bool cli_url_is_https(const char *url);
/* The certificates an https:// server presents (PEM, its own first), from
 * a handshake alone: no request is sent and nothing is verified, so the
 * caller must pin what it keeps (region/cli/pin.h). A malloc'd array of
 * malloc'd strings; -EIO with err set. */
int cli_tls_peer_chain(const char *url, char ***ret_pems, size_t *ret_n, char *err, size_t errlen);
/* Print the region's error for a non-2xx answer ("error: message (code)")
 * and return CLI_EXIT_FAIL. */
int cli_resp_error(const struct cli_target *t, const struct cli_resp *r);
/* A path segment %-escaped for the URL (malloc'd). */
char *cli_path_escape(const char *segment);

/* $IRONRACK_CONFIG, else ~/.config/ironrack/cli.conf. */
int cli_conf_path(char *buf, size_t len);
/* Load the saved url, key and pinned CA into t (fields left "" when
 * absent). -ENOENT when there is no file; other errors (a CA file that is
 * gone or not the one whose fingerprint was saved) are described in err. */
int cli_conf_load(const char *path, struct cli_target *t, char *err, size_t errlen);
/* Save url and key, and t->ca_pem if any to the file cli_pin_ca_path()
 * names with its fingerprint in the login file, or remove that file if
 * there is none (files 0600, new directories 0700). */
int cli_conf_save(const char *path, const struct cli_target *t, char *err, size_t errlen);
