/* libFuzzer target for what a rack sends the region (region/rpc/validate.c)
 * and for the log escape every peer string passes (common/log.c).
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_rpc_validate tests/fuzz/corpus/rpc_validate
 *
 * The first byte picks the message (EnrolRequest, RegisterRequest,
 * BootConfigRequest, RackMessage); the rest is its wire bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ironrack/v1/region.pb-c.h"
#include "region/rpc/validate.h"
#include "tests/fuzz/fuzz.h"

static const ProtobufCMessageDescriptor *const messages[] = {
    &ironrack__v1__enrol_request__descriptor,
    &ironrack__v1__register_request__descriptor,
    &ironrack__v1__boot_config_request__descriptor,
    &ironrack__v1__rack_message__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *desc = messages[data[0] % 4];
	struct rpcv_error err;
	int rc = rpc_validate_packed(desc, data + 1, size - 1, &err);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EBADMSG);
	if (rc == -EINVAL) {
		CHECK(memchr(err.field, '\0', sizeof(err.field)) != NULL);
		CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL);
		CHECK(err.message[0] != '\0');
	}

	/* Whatever the bytes, the escaped text holds no control byte and
	 * consumes the whole input when there is room for it. */
	size_t cap = 4 * size + 1;
	char *out = xmalloc(cap);
	CHECK(log_escape(out, cap, (const char *)data, size, size & 1 ? LOG_ESCAPE_QUOTED : 0) == size);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		CHECK(*p >= 0x20 && *p != 0x7f);
	char q[LOG_QUOTE_SIZE];
	log_quote_n(q, sizeof(q), (const char *)data, size);
	CHECK(strlen(q) < sizeof(q));
	free(out);
	return 0;
}
