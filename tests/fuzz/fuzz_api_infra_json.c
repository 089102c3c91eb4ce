/* libFuzzer target for the infrastructure editor's request bodies
 * (region/api/infra_json.c): every body decoder the handlers in infra.c
 * call, and the port text of a connection path.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_api_infra_json tests/fuzz/corpus/api_infra_json
 *
 * The input is a request body (json_loadb as the API loads it), and the
 * same bytes as NUL-terminated text for the port parser. What a decoder
 * accepts is within the bounds region/db/infra.h states. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "region/api/infra.h"
#include "tests/fuzz/fuzz.h"

static void check_result(int r, const struct api_fail *fail)
{
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL) {
		CHECK(fail->message[0] != '\0');
		CHECK(memchr(fail->message, '\0', sizeof(fail->message)) != NULL);
		CHECK(memchr(fail->field, '\0', sizeof(fail->field)) != NULL);
	}
}

static void check_pools(const struct ipprefix *pools, size_t n)
{
	CHECK(n <= INFRA_WAN_POOLS_MAX);
	CHECK(n == 0 || pools != NULL);
}

static void check_body(const json_t *body)
{
	struct api_fail fail;
	struct ipprefix *pools = NULL;
	int r;

	struct infra_new in;
	memset(&fail, 0, sizeof(fail));
	r = api_infra_new_parse(body, &in, &pools, &fail);
	check_result(r, &fail);
	if (r == 0) {
		CHECK(in.name != NULL);
		check_pools(in.wan_pools, in.n_wan_pools);
	}
	free(pools);

	struct infra_update up;
	memset(&fail, 0, sizeof(fail));
	r = api_infra_update_parse(body, &up, &pools, &fail);
	check_result(r, &fail);
	if (r == 0) {
		CHECK(up.description || up.zone || up.set_wan_pools);
		check_pools(up.wan_pools, up.n_wan_pools);
	}
	free(pools);

	for (int create = 0; create < 2; create++) {
		struct infra_array_spec spec;
		memset(&fail, 0, sizeof(fail));
		r = api_infra_array_parse(body, create, &spec, &fail);
		check_result(r, &fail);
		if (r == 0) {
			CHECK(!create || spec.name != NULL);
			CHECK(!spec.set_instances || spec.instances <= INFRA_INSTANCES_MAX);
			CHECK(!spec.set_ports || (spec.ports >= 1 && spec.ports <= INFRA_PORTS_MAX));
		}

		const char *name = NULL;
		enum infra_net_type type = INFRA_NET_LAN;
		memset(&fail, 0, sizeof(fail));
		r = api_infra_network_parse(body, create, &name, &type, &fail);
		check_result(r, &fail);
		if (r == 0)
			CHECK(name != NULL);
		if (r == 0 && create)
			CHECK(type == INFRA_NET_LAN || type == INFRA_NET_WAN || type == INFRA_NET_SAN);
	}

	const char *array = NULL, *network = NULL;
	uint32_t port = 0;
	memset(&fail, 0, sizeof(fail));
	r = api_infra_conn_parse(body, &array, &port, &network, &fail);
	check_result(r, &fail);
	if (r == 0)
		CHECK(array && network && port < INFRA_PORTS_MAX);

	uint32_t size_gb = 0;
	memset(&fail, 0, sizeof(fail));
	r = api_infra_drive_parse(body, &size_gb, &fail);
	check_result(r, &fail);
	if (r == 0)
		CHECK(size_gb >= 1 && size_gb <= INFRA_DRIVE_GB_MAX);

	unsigned len = 0;
	memset(&fail, 0, sizeof(fail));
	r = api_infra_order_parse(body, &len, &fail);
	check_result(r, &fail);
	if (r == 0)
		CHECK(len >= 1 && len <= 32);

	/* A port as any JSON value. */
	r = api_infra_port_parse(body, &port);
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0)
		CHECK(port < INFRA_PORTS_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (body) {
		check_body(body);
		json_decref(body);
	}

	char *s = fuzz_text(data, size);
	uint32_t port;
	int r = api_infra_port_text_parse(s, &port);
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0)
		CHECK(port < INFRA_PORTS_MAX);
	free(s);
	return 0;
}
