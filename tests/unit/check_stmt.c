/*
 * Unit tests for common/store/stmt.c and common/core/xerr.c: every statement has SQL
 * and a name, every placeholder is a '?', no statement carries a quote
 * that could hide string-built SQL; every error code maps to a status.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/xerr.h"
#include "store/stmt.h"

START_TEST(stmt_table_complete)
{
	int		 i;
	const char	*sql;

	for (i = 0; i < STMT__MAX; i++) {
		sql = stmt_sql((enum stmt)i);
		ck_assert_msg(sql != NULL, "statement %d has no SQL", i);
		ck_assert_str_ne(stmt_name((enum stmt)i), "?");
		ck_assert_msg(strchr(sql, '%') == NULL,
		    "%s holds a format character", stmt_name((enum stmt)i));
		ck_assert_msg(strchr(sql, ';') == NULL,
		    "%s holds a ';'", stmt_name((enum stmt)i));
	}
	ck_assert_ptr_null(stmt_sql(STMT__MAX));
	ck_assert_str_eq(stmt_name(STMT_PING), "PING");
}
END_TEST

START_TEST(xerr_statuses)
{
	int	 i;

	ck_assert_int_eq(xerr_status(XERR_OK), 200);
	ck_assert_int_eq(xerr_status(XERR_BADREQ), 400);
	ck_assert_int_eq(xerr_status(XERR_UNAUTH), 401);
	ck_assert_int_eq(xerr_status(XERR_TOOBIG), 413);
	ck_assert_int_eq(xerr_status(XERR_UPSTREAM), 502);
	ck_assert_int_eq(xerr_status(XERR_DB_GONE), 503);
	ck_assert_int_eq(xerr_status(XERR__MAX), 500);
	for (i = 0; i < XERR__MAX; i++) {
		ck_assert_int_ge(xerr_status((enum xerr)i), 200);
		ck_assert_ptr_nonnull(xerr_code((enum xerr)i));
		ck_assert_uint_gt(strlen(xerr_code((enum xerr)i)), 0);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("stmt");
	TCase	*tc = tcase_create("table");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, stmt_table_complete);
	tcase_add_test(tc, xerr_statuses);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
