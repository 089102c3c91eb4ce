/* The ephemeral command line the region answers (region/machine/bootcfg.c):
 * the purpose and token words replaced, everything else kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "region/machine/machine.h"

static void check(const char *base, const char *purpose, const char *token, const char *want)
{
	char out[BOOT_FIELD_MAX + 1];
	region_machine_cmdline(base, purpose, token, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_purpose_replaced(void **state)
{
	check("console=tty0 console=ttyS0,115200 ironrack.purpose=enlist", "enlist", NULL,
	      "console=tty0 console=ttyS0,115200 ironrack.purpose=enlist");
	check("console=tty0 ironrack.purpose=enlist quiet", "commission", "ab",
	      "console=tty0 quiet ironrack.purpose=commission ironrack.token=ab");
	check("", "enlist", NULL, "ironrack.purpose=enlist");
	check("  a   b  ", "enlist", NULL, "a b ironrack.purpose=enlist");
}

static void test_operator_token_dropped(void **state)
{
	/* A token (or purpose) written into the configured line never
	 * survives next to the machine's own. */
	check("ironrack.token=evil ironrack.purpose=deploy x", "commission", "good",
	      "x ironrack.purpose=commission ironrack.token=good");
}

static void test_too_long_words_dropped_not_cut(void **state)
{
	char base[2 * BOOT_FIELD_MAX];
	memset(base, 'a', sizeof(base) - 1);
	base[sizeof(base) - 1] = '\0';
	base[10] = ' ';
	char out[64];
	region_machine_cmdline(base, "enlist", NULL, out, sizeof(out));
	assert_string_equal(out, "aaaaaaaaaa ironrack.purpose=enlist");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_purpose_replaced),
	    cmocka_unit_test(test_operator_token_dropped),
	    cmocka_unit_test(test_too_long_words_dropped_not_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
