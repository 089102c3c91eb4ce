/* Per-BMC memory of the Redfish driver (redfish_bmc.h). */
#include "rack/power/redfish_bmc.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

void rf_bmc_set(char **slot, const char *s)
{
	free(*slot);
	*slot = s ? xstrdup(s) : NULL;
}

void rf_bmc_login_body_free(struct rf_bmc *b)
{
	if (b->login_body)
		explicit_bzero(b->login_body, strlen(b->login_body));
	free(b->login_body);
	b->login_body = NULL;
}

static void bmc_free(struct rf_bmc *b)
{
	if (b->busy)
		rf_http_cancel(b->table->http, &b->req);
	rf_http_req_done(&b->req);
	free(b->key);
	free(b->base);
	free(b->sessions);
	free(b->systems);
	free(b->system);
	free(b->token);
	free(b->req_url);
	rf_bmc_login_body_free(b);
	free(b);
}

char *rf_bmc_base(const char *a, unsigned port)
{
	if (strncasecmp(a, "https://", 8) == 0 || strncasecmp(a, "http://", 7) == 0) {
		const char *host = strstr(a, "://") + 3;
		return xstrndup(a, (size_t)(host - a) + strcspn(host, "/?#"));
	}
	bool v6 = strchr(a, ':') && a[0] != '[';
	if (port)
		return xasprintf("https://%s%s%s:%u", v6 ? "[" : "", a, v6 ? "]" : "", port);
	return xasprintf("https://%s%s%s", v6 ? "[" : "", a, v6 ? "]" : "");
}

static char *bmc_key(const char *base, const struct power_params *p)
{
	const char *pw = p->password ? p->password : "";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "";

	if (EVP_Digest(pw, strlen(pw), md, &n, EVP_sha256(), NULL) == 1)
		hex_encode(md, n, hex);
	return xasprintf("%s\n%s\n%s", base, p->user ? p->user : "", hex);
}

static size_t bmc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)(h % RF_BMC_BUCKETS);
}

static void bmc_evict_one(struct rf_bmcs *t)
{
	struct rf_bmc **victim = NULL;

	for (size_t i = 0; i < RF_BMC_BUCKETS; i++)
		for (struct rf_bmc **pb = &t->buckets[i]; *pb; pb = &(*pb)->next)
			if ((*pb)->refs == 0 && !(*pb)->busy && (!victim || (*pb)->used_us < (*victim)->used_us))
				victim = pb;
	if (victim) {
		struct rf_bmc *b = *victim;
		*victim = b->next;
		bmc_free(b);
		t->n--;
	}
}

struct rf_bmc *rf_bmc_get(struct rf_bmcs *t, const struct power_params *p)
{
	char *base = rf_bmc_base(p->address, p->port);
	char *key = bmc_key(base, p);
	size_t h = bmc_hash(key);
	struct rf_bmc *b;

	for (b = t->buckets[h]; b; b = b->next)
		if (strcmp(b->key, key) == 0)
			break;
	if (b) {
		free(base);
		free(key);
	} else {
		if (t->n >= RF_BMC_MAX)
			bmc_evict_one(t);
		b = xcalloc(1, sizeof(*b));
		b->table = t;
		b->key = key;
		b->base = base;
		b->next = t->buckets[h];
		t->buckets[h] = b;
		t->n++;
	}
	b->refs++;
	b->used_us = clock_mono_us();
	return b;
}

void rf_bmc_put(struct rf_bmc *b)
{
	b->refs--;
	b->used_us = clock_mono_us();
}

void rf_bmcs_clear(struct rf_bmcs *t)
{
	for (size_t i = 0; i < RF_BMC_BUCKETS; i++)
		while (t->buckets[i]) {
			struct rf_bmc *b = t->buckets[i];
			t->buckets[i] = b->next;
			bmc_free(b);
		}
	t->n = 0;
}
