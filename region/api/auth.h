/* Failed authentication on the REST API, per source address (auth.c):
 * wrong or unknown API keys are limited (past a burst, one a second; then
 * a key the cache does not know is answered 429 without asking the
 * database) and their log lines aggregated (the first of a window in full,
 * then "N more failed attempts from ADDR in the last M s"). A key the
 * cache knows is never held back: a correct key from a noisy address
 * still works. Loop thread only. */
#pragma once

#include <stdbool.h>

struct api;

/* May peer have an unknown key checked now? false: answer 429. */
bool api_auth_may_try(struct api *api, const char *peer);
/* A key from peer was refused (throttled: unchecked, answered 429). */
void api_auth_failed(struct api *api, const char *peer, bool throttled);
