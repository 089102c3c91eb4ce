/* libFuzzer target for what the rack's boot shells parse from clients: the
 * boot-config path classifier (rack/boot/render.c), the HTTP Range header
 * (rack/boot/http.c), and rendering of whatever a classified path asks for.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_boot_paths tests/fuzz/corpus/boot_paths
 *
 * The input is a NUL-terminated path, and the same bytes as a Range header
 * against a few file sizes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rack/boot/http.h"
#include "rack/boot/render.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size);
	static const uint64_t sizes[] = {0, 1, 1000, UINT64_MAX};
	struct boot_request r;

	boot_path_classify(s, &r);
	CHECK(r.kind <= BOOT_FILE_IPXE);
	CHECK(!r.has_mac || r.kind != BOOT_FILE_NONE);
	if (r.kind != BOOT_FILE_NONE) {
		struct boot_config c = {.purpose = BOOT_DEPLOY, .kernel = "k", .initrd = "i", .cmdline = "c"};
		struct boot_server srv = {"http://192.0.2.1:5248"};
		char buf[4096];
		int n = boot_render(r.kind, &c, &srv, buf, sizeof(buf));
		CHECK(n > 0 && (size_t)n < sizeof(buf));
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t off = 0, len = 0;
		enum boot_range k = boot_http_range_parse(s, sizes[i], &off, &len);
		if (k == BOOT_RANGE_PARTIAL)
			CHECK(len > 0 && off < sizes[i] && len <= sizes[i] - off);
	}
	free(s);
	return 0;
}
