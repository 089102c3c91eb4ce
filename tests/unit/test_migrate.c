/* migrate_plan: which migrations to apply, in which order, and which sets of
 * files or database states are refused. No database needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "region/db/migrate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct migration shuffled[] = {
    {3, "0003_c", "SELECT 3"},
    {1, "0001_a", "SELECT 1"},
    {4, "0004_d", "SELECT 4"},
    {2, "0002_b", "SELECT 2"},
};

static void test_plan_orders_shuffled_input(void **state)
{
	size_t order[8];
	char err[256] = "";

	int r = migrate_plan(shuffled, N(shuffled), 0, order, N(order), err, sizeof(err));
	assert_int_equal(r, 4);
	for (int i = 0; i < r; i++)
		assert_int_equal(shuffled[order[i]].version, i + 1);
	assert_string_equal(err, "");
}

static void test_plan_nothing_to_do(void **state)
{
	size_t order[8];
	char err[256] = "";

	assert_int_equal(migrate_plan(shuffled, N(shuffled), 4, order, N(order), err, sizeof(err)), 0);
	/* Nothing to apply needs no room at all. */
	assert_int_equal(migrate_plan(shuffled, N(shuffled), 4, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(migrate_plan(NULL, 0, 0, NULL, 0, err, sizeof(err)), 0);
}

static void test_plan_partial(void **state)
{
	size_t order[8];
	char err[256] = "";

	int r = migrate_plan(shuffled, N(shuffled), 2, order, N(order), err, sizeof(err));
	assert_int_equal(r, 2);
	assert_string_equal(shuffled[order[0]].name, "0003_c");
	assert_string_equal(shuffled[order[1]].name, "0004_d");
}

static void test_plan_gap(void **state)
{
	static const struct migration m[] = {
	    {1, "0001_a", ""},
	    {4, "0004_d", ""},
	    {2, "0002_b", ""},
	};
	size_t order[8];
	char err[256] = "";

	assert_int_equal(migrate_plan(m, N(m), 0, order, N(order), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "version 3"));
	/* The gap is refused even when the database is already past it. */
	assert_int_equal(migrate_plan(m, N(m), 4, order, N(order), err, sizeof(err)), -EINVAL);
}

static void test_plan_missing_first(void **state)
{
	static const struct migration m[] = {
	    {2, "0002_b", ""},
	    {3, "0003_c", ""},
	};
	size_t order[8];
	char err[256] = "";

	assert_int_equal(migrate_plan(m, N(m), 0, order, N(order), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "version 1"));
}

static void test_plan_duplicate(void **state)
{
	static const struct migration m[] = {
	    {1, "0001_a", ""},
	    {2, "0002_b", ""},
	    {2, "0002_other", ""},
	};
	size_t order[8];
	char err[256] = "";

	assert_int_equal(migrate_plan(m, N(m), 0, order, N(order), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0002_b"));
	assert_non_null(strstr(err, "0002_other"));
}

static void test_plan_zero_and_negative_version(void **state)
{
	static const struct migration zero[] = {
	    {0, "0000_zero", ""},
	    {1, "0001_a", ""},
	};
	static const struct migration neg[] = {
	    {1, "0001_a", ""},
	    {-2, "bad", ""},
	};
	size_t order[8];
	char err[256] = "";

	assert_int_equal(migrate_plan(zero, N(zero), 0, order, N(order), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0000_zero"));
	assert_int_equal(migrate_plan(neg, N(neg), 0, order, N(order), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad"));
}

static void test_plan_negative_current(void **state)
{
	size_t order[8];
	char err[256] = "";

	assert_int_equal(migrate_plan(shuffled, N(shuffled), -1, order, N(order), err, sizeof(err)), -EINVAL);
}

static void test_plan_database_newer(void **state)
{
	size_t order[8];
	char err[256] = "";

	assert_int_equal(migrate_plan(shuffled, N(shuffled), 7, order, N(order), err, sizeof(err)), -EPROTO);
	assert_string_equal(err, "database schema is at version 7 but this ironrack-regiond knows only up to 4; "
				 "upgrade ironrack-regiond");
	/* A binary without migrations still refuses a database that has some. */
	assert_int_equal(migrate_plan(NULL, 0, 1, order, N(order), err, sizeof(err)), -EPROTO);
}

static void test_plan_cap_too_small(void **state)
{
	size_t order[8];
	char err[256] = "";

	order[3] = 12345;
	assert_int_equal(migrate_plan(shuffled, N(shuffled), 0, order, 3, err, sizeof(err)), -ENOSPC);
	assert_int_equal(order[3], 12345);
	/* Exactly enough room is enough. */
	assert_int_equal(migrate_plan(shuffled, N(shuffled), 1, order, 3, err, sizeof(err)), 3);
}

static void test_plan_small_err_buffer(void **state)
{
	size_t order[8];
	char err[8];

	assert_int_equal(migrate_plan(shuffled, N(shuffled), 9, order, N(order), err, sizeof(err)), -EPROTO);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(migrate_plan(shuffled, N(shuffled), 9, order, N(order), NULL, 0), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_orders_shuffled_input),
	    cmocka_unit_test(test_plan_nothing_to_do),
	    cmocka_unit_test(test_plan_partial),
	    cmocka_unit_test(test_plan_gap),
	    cmocka_unit_test(test_plan_missing_first),
	    cmocka_unit_test(test_plan_duplicate),
	    cmocka_unit_test(test_plan_zero_and_negative_version),
	    cmocka_unit_test(test_plan_negative_current),
	    cmocka_unit_test(test_plan_database_newer),
	    cmocka_unit_test(test_plan_cap_too_small),
	    cmocka_unit_test(test_plan_small_err_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
