#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "region/api/codec.h"
#include "region/api/machines_api.h"
#include "region/machine/alloc.h"

#define GIB 1024u
#define GB  1000000000ull

static const char *const tags_gpu[] = {"gpu", "ssd"};
static const char *const tags_ssd[] = {"ssd"};

/* Three machines in rack-a, one in rack-b. */
static const struct alloc_machine fleet[] = {
    {.id = 1,
     .hostname = "a1",
     .zone = "rack-a",
     .cpu_count = 4,
     .memory_mib = 8 * GIB,
     .storage_bytes = 500 * GB,
     .interfaces = 2,
     .tags = tags_ssd,
     .n_tags = 1},
    {.id = 2,
     .hostname = "a2",
     .zone = "rack-a",
     .cpu_count = 2,
     .memory_mib = 4 * GIB,
     .storage_bytes = 250 * GB,
     .interfaces = 1},
    {.id = 3,
     .hostname = "a3",
     .zone = "rack-a",
     .cpu_count = 4,
     .memory_mib = 4 * GIB,
     .storage_bytes = 250 * GB,
     .interfaces = 1},
    {.id = 4,
     .hostname = "b1",
     .zone = "rack-b",
     .cpu_count = 16,
     .memory_mib = 64 * GIB,
     .storage_bytes = 2000 * GB,
     .interfaces = 4,
     .tags = tags_gpu,
     .n_tags = 2},
};
#define N_FLEET (sizeof(fleet) / sizeof(fleet[0]))

static void tags_check(void **state)
{
	struct alloc_filter f = {0};
	char msg[256];

	assert_true(alloc_tag_valid("gpu"));
	assert_true(alloc_tag_valid("rack:a-1.x_y"));
	assert_false(alloc_tag_valid(""));
	assert_false(alloc_tag_valid("-gpu"));
	assert_false(alloc_tag_valid("a,b"));
	assert_false(alloc_tag_valid("a b"));
	assert_false(alloc_tag_valid("{a}"));
	assert_false(alloc_tag_valid("a\"b"));
	char long_tag[80];
	memset(long_tag, 'a', sizeof(long_tag));
	long_tag[ALLOC_TAG_MAX] = '\0';
	assert_true(alloc_tag_valid(long_tag));
	long_tag[ALLOC_TAG_MAX] = 'a';
	long_tag[ALLOC_TAG_MAX + 1] = '\0';
	assert_false(alloc_tag_valid(long_tag));

	assert_int_equal(alloc_filter_tag_add(&f, "gpu", msg, sizeof(msg)), 0);
	assert_int_equal(alloc_filter_tag_add(&f, "gpu", msg, sizeof(msg)), 0);
	assert_int_equal(f.n_tags, 1);
	assert_int_equal(alloc_filter_tag_add(&f, "x y", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "\"x y\""));
	for (int i = 1; i < ALLOC_TAGS_MAX; i++) {
		char t[16];
		snprintf(t, sizeof(t), "t%d", i);
		assert_int_equal(alloc_filter_tag_add(&f, t, msg, sizeof(msg)), 0);
	}
	assert_int_equal(alloc_filter_tag_add(&f, "one-more", msg, sizeof(msg)), -E2BIG);
}

static void match_each_condition(void **state)
{
	struct alloc_filter f = {0};

	/* Nothing asked: everything matches. */
	for (size_t i = 0; i < N_FLEET; i++)
		assert_true(alloc_match(&f, &fleet[i]));
	snprintf(f.zone, sizeof(f.zone), "rack-b");
	assert_false(alloc_match(&f, &fleet[0]));
	assert_true(alloc_match(&f, &fleet[3]));

	f = (struct alloc_filter){.min_cpu = 4};
	assert_true(alloc_match(&f, &fleet[0]));  /* exactly 4 is enough */
	assert_false(alloc_match(&f, &fleet[1])); /* 2 is not */

	f = (struct alloc_filter){.min_memory_gib = 8};
	assert_true(alloc_match(&f, &fleet[0]));
	assert_false(alloc_match(&f, &fleet[2]));
	struct alloc_machine almost = fleet[0];
	almost.memory_mib = 8 * GIB - 1;
	assert_false(alloc_match(&f, &almost));

	f = (struct alloc_filter){.min_disk_gb = 500};
	assert_true(alloc_match(&f, &fleet[0]));
	almost = fleet[0];
	almost.storage_bytes = 500 * GB - 1;
	assert_false(alloc_match(&f, &almost));

	f = (struct alloc_filter){.min_interfaces = 2};
	assert_true(alloc_match(&f, &fleet[0]));
	assert_false(alloc_match(&f, &fleet[1]));

	f = (struct alloc_filter){0};
	alloc_filter_tag_add(&f, "ssd", NULL, 0);
	assert_true(alloc_match(&f, &fleet[0]));
	assert_false(alloc_match(&f, &fleet[1]));
	assert_true(alloc_match(&f, &fleet[3]));
	alloc_filter_tag_add(&f, "gpu", NULL, 0);
	assert_false(alloc_match(&f, &fleet[0])); /* every tag, not any */
	assert_true(alloc_match(&f, &fleet[3]));
}

static void pick_best_fit(void **state)
{
	struct alloc_filter f = {0};
	bool taken[N_FLEET] = {false};

	/* The smallest machine first: a2 (2 CPUs). */
	assert_int_equal(alloc_pick(&f, fleet, N_FLEET, NULL), 1);
	f.min_cpu = 4;
	/* a1 and a3 have 4 CPUs; a3 has less memory. */
	assert_int_equal(alloc_pick(&f, fleet, N_FLEET, NULL), 2);
	taken[2] = true;
	assert_int_equal(alloc_pick(&f, fleet, N_FLEET, taken), 0);
	taken[0] = true;
	assert_int_equal(alloc_pick(&f, fleet, N_FLEET, taken), 3);
	taken[3] = true;
	assert_int_equal(alloc_pick(&f, fleet, N_FLEET, taken), -1);
	assert_int_equal(alloc_pick(&f, fleet, 0, NULL), -1);
	/* Equal machines: the lower id. */
	struct alloc_machine twins[] = {{.id = 9, .cpu_count = 1}, {.id = 3, .cpu_count = 1}};
	f = (struct alloc_filter){0};
	assert_int_equal(alloc_pick(&f, twins, 2, NULL), 1);
	assert_true(alloc_fit_cmp(&twins[1], &twins[0]) < 0);
}

static void filter_words(void **state)
{
	struct alloc_filter f = {0};
	char buf[256];

	alloc_filter_text(&f, buf, sizeof(buf));
	assert_string_equal(buf, "");
	snprintf(f.zone, sizeof(f.zone), "rack-a");
	alloc_filter_text(&f, buf, sizeof(buf));
	assert_string_equal(buf, "in zone rack-a");
	f.min_cpu = 1;
	alloc_filter_text(&f, buf, sizeof(buf));
	assert_string_equal(buf, "in zone rack-a with at least 1 CPU");
	f.min_memory_gib = 16;
	f.min_disk_gb = 500;
	alloc_filter_tag_add(&f, "gpu", NULL, 0);
	alloc_filter_text(&f, buf, sizeof(buf));
	assert_string_equal(buf, "in zone rack-a with at least 1 CPU, at least 16 GiB of memory, at least 500 GB of "
				 "disk and tag gpu");
	f.zone[0] = '\0';
	f.min_memory_gib = f.min_disk_gb = 0;
	alloc_filter_text(&f, buf, sizeof(buf));
	assert_string_equal(buf, "with at least 1 CPU and tag gpu");
	/* A short buffer is cut, never overrun. */
	char small[8];
	alloc_filter_text(&f, small, sizeof(small));
	assert_int_equal(strlen(small), 7);
}

static void explain_what_was_missing(void **state)
{
	struct alloc_filter f = {0};
	char buf[512];

	/* The example. */
	snprintf(f.zone, sizeof(f.zone), "rack-a");
	f.min_cpu = 8;
	alloc_explain(&f, fleet, N_FLEET, buf, sizeof(buf));
	assert_string_equal(buf, "no READY machine in zone rack-a with at least 8 CPUs: 3 READY machines there, the "
				 "largest has 4 CPUs");

	/* Several conditions no machine meets alone. */
	f.min_memory_gib = 32;
	alloc_filter_tag_add(&f, "gpu", NULL, 0);
	alloc_explain(&f, fleet, N_FLEET, buf, sizeof(buf));
	assert_string_equal(buf, "no READY machine in zone rack-a with at least 8 CPUs, at least 32 GiB of memory and "
				 "tag gpu: 3 READY machines there, the largest has 4 CPUs; the largest has 8 GiB of "
				 "memory; none is tagged gpu");

	/* A zone without READY machines. */
	f = (struct alloc_filter){0};
	snprintf(f.zone, sizeof(f.zone), "rack-c");
	alloc_explain(&f, fleet, N_FLEET, buf, sizeof(buf));
	assert_string_equal(buf, "no READY machine in zone rack-c: no READY machines there (4 in other zones)");

	/* No READY machine anywhere. */
	f = (struct alloc_filter){.min_cpu = 2};
	alloc_explain(&f, fleet, 0, buf, sizeof(buf));
	assert_string_equal(buf, "no READY machine with at least 2 CPUs: there are no READY machines at all");

	/* Each condition met by some, never all by one. */
	f = (struct alloc_filter){.min_cpu = 4};
	snprintf(f.zone, sizeof(f.zone), "rack-a");
	f.min_interfaces = 1;
	alloc_filter_tag_add(&f, "ssd", NULL, 0);
	f.min_disk_gb = 251;
	struct alloc_machine two[] = {fleet[1], fleet[2]}; /* 2 CPUs / 4 CPUs, neither with ssd */
	two[0].tags = tags_ssd;
	two[0].n_tags = 1;
	two[0].storage_bytes = 300 * GB;
	alloc_explain(&f, two, 2, buf, sizeof(buf));
	assert_string_equal(buf, "no READY machine in zone rack-a with at least 4 CPUs, at least 251 GB of disk, at "
				 "least 1 interface and tag ssd: 2 READY machines there: 1 with at least 4 CPUs, 1 "
				 "with at least 251 GB of disk, 2 with at least 1 interface, 1 with tag ssd, but none "
				 "with all of them");

	/* One machine in scope: "it", and memory that is not whole GiB. */
	struct alloc_machine one = fleet[3];
	one.memory_mib = 1536;
	f = (struct alloc_filter){.min_memory_gib = 2};
	snprintf(f.zone, sizeof(f.zone), "rack-b");
	alloc_explain(&f, &one, 1, buf, sizeof(buf));
	assert_string_equal(buf, "no READY machine in zone rack-b with at least 2 GiB of memory: 1 READY machine "
				 "there, it has 1.5 GiB of memory");
	f = (struct alloc_filter){.min_interfaces = 8};
	alloc_explain(&f, fleet, N_FLEET, buf, sizeof(buf));
	assert_string_equal(buf, "no READY machine with at least 8 interfaces: 4 READY machines in all, the largest "
				 "has 4 interfaces");
	/* Cut to the buffer, NUL-terminated. */
	char small[20];
	alloc_explain(&f, fleet, N_FLEET, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* POST /machines/allocate's body. */
static int body_parse(const char *text, struct alloc_filter *f, char *comment, size_t len, struct api_fail *fail)
{
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	assert_true(!text || body);
	int r = api_alloc_body_parse(body, f, comment, len, fail);
	json_decref(body);
	return r;
}

static void body_fields(void **state)
{
	struct alloc_filter f;
	struct api_fail fail;
	char comment[16];

	assert_int_equal(body_parse(NULL, &f, comment, sizeof(comment), &fail), 0);
	assert_int_equal(f.min_cpu, 0);
	assert_string_equal(f.zone, "");
	assert_int_equal(body_parse("{\"zone\": \"rack-a\", \"min_cpu\": 8, \"min_memory_gib\": 16, "
				    "\"min_disk_gb\": 500, \"tags\": [\"gpu\", \"ssd\", \"gpu\"], "
				    "\"comment\": \"ci\"}",
				    &f, comment, sizeof(comment), &fail),
			 0);
	assert_string_equal(f.zone, "rack-a");
	assert_int_equal(f.min_cpu, 8);
	assert_int_equal(f.min_memory_gib, 16);
	assert_int_equal(f.min_disk_gb, 500);
	assert_int_equal(f.n_tags, 2);
	assert_string_equal(f.tags[1], "ssd");
	assert_string_equal(comment, "ci");

	static const struct {
		const char *body, *field;
	} bad[] = {
	    {"[]", ""},
	    {"{\"cpus\": 1}", "cpus"},
	    {"{\"min_cpu\": -1}", "min_cpu"},
	    {"{\"min_cpu\": \"8\"}", "min_cpu"},
	    {"{\"min_memory_gib\": 1.5}", "min_memory_gib"},
	    {"{\"min_disk_gb\": 9999999999}", "min_disk_gb"},
	    {"{\"zone\": 3}", "zone"},
	    {"{\"zone\": \"\"}", "zone"},
	    {"{\"tags\": \"gpu\"}", "tags"},
	    {"{\"tags\": [1]}", "tags"},
	    {"{\"tags\": [\"a b\"]}", "tags"},
	    {"{\"comment\": \"far too long for sixteen\"}", "comment"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&fail, 0, sizeof(fail));
		assert_int_equal(body_parse(bad[i].body, &f, comment, sizeof(comment), &fail), -EINVAL);
		assert_string_equal(fail.field, bad[i].field);
		assert_true(fail.message[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tags_check),   cmocka_unit_test(match_each_condition),	cmocka_unit_test(pick_best_fit),
	    cmocka_unit_test(filter_words), cmocka_unit_test(explain_what_was_missing), cmocka_unit_test(body_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
