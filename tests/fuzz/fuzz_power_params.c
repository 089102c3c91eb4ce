/* libFuzzer target for the power parameter decoder (common/power_params.c),
 * which takes what API clients write.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_power_params tests/fuzz/corpus/power_params
 *
 * The input is lines: the driver, the address, the user, the password,
 * then options as "key=value". A refusal names a power_ field; an
 * accepted set renders back to key/value pairs that decode to the same
 * parameters, and survives a copy. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/power_params.h"
#include "tests/fuzz/fuzz.h"

#define MAX_OPTS 24

static void check_same(const struct power_params *a, const struct power_params *b)
{
	CHECK(strcmp(a->driver, b->driver) == 0);
	CHECK(strcmp(a->address, b->address) == 0);
	CHECK(strcmp(a->user, b->user) == 0);
	CHECK(strcmp(a->password, b->password) == 0);
	CHECK(a->port == b->port && a->cipher_suite == b->cipher_suite && a->privilege == b->privilege);
	CHECK(a->workarounds == b->workarounds && a->ipmi15 == b->ipmi15);
	CHECK(strcmp(a->system, b->system) == 0);
	CHECK(a->verify_tls == b->verify_tls && a->session == b->session);
	CHECK(memcmp(a->mac, b->mac, 6) == 0);
	CHECK(strcmp(a->interface, b->interface) == 0);
	CHECK(strcmp(a->broadcast, b->broadcast) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *line[4] = {NULL, NULL, NULL, NULL};
	const char *keys[MAX_OPTS], *vals[MAX_OPTS];
	size_t n = 0;
	char *p = text;
	for (int i = 0; i < 4 && p; i++) {
		line[i] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	while (p && n < MAX_OPTS) {
		char *next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		char *eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			keys[n] = p;
			vals[n++] = eq + 1;
		}
		p = next;
	}

	struct power_params a, b, c;
	char msg[256];
	int r = power_params_decode(line[0], line[1], line[2], line[3], keys, vals, n, &a, msg, sizeof(msg));
	if (r < 0) {
		CHECK(r == -EINVAL);
		CHECK(strncmp(msg, "power_", 6) == 0 && strstr(msg, ": "));
		for (const char *q = msg; *q; q++)
			CHECK(*q >= 0x20 && *q < 0x7f);
		CHECK(a.address == NULL && a.password == NULL);
		free(text);
		return 0;
	}
	struct power_param_kv kv[POWER_PARAMS_KV_MAX];
	for (int all = 0; all <= 1; all++) {
		size_t m = power_params_render(&a, all, kv, POWER_PARAMS_KV_MAX);
		const char *rk[POWER_PARAMS_KV_MAX], *rv[POWER_PARAMS_KV_MAX];
		for (size_t i = 0; i < m; i++) {
			CHECK(strcmp(kv[i].name, "pass") != 0);
			rk[i] = kv[i].name;
			rv[i] = kv[i].value;
		}
		r = power_params_decode(a.driver, NULL, NULL, a.password, rk, rv, m, &b, msg, sizeof(msg));
		CHECK(r == 0);
		check_same(&a, &b);
		power_params_free(&b);
	}
	CHECK(power_params_copy(&c, &a) == 0);
	power_params_free(&a);
	power_params_free(&c);
	free(text);
	return 0;
}
