/* Unit tests for common/core/ids.c: user ids and external ids. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"

START_TEST(ids_user)
{
	char	 id[IDS_USER_MAX + 2];

	ck_assert_int_eq(ids_user_ok("u"), 1);
	ck_assert_int_eq(ids_user_ok("c2d04b97-c10c-49ed-8f94-d2cd4cc32efe"), 1);
	ck_assert_int_eq(ids_user_ok("A_b-9"), 1);
	memset(id, 'a', IDS_USER_MAX);
	id[IDS_USER_MAX] = '\0';
	ck_assert_int_eq(ids_user_ok(id), 1);
	id[IDS_USER_MAX] = 'a';
	id[IDS_USER_MAX + 1] = '\0';
	ck_assert_int_eq(ids_user_ok(id), 0);
	ck_assert_int_eq(ids_user_ok(""), 0);
	ck_assert_int_eq(ids_user_ok(NULL), 0);
	ck_assert_int_eq(ids_user_ok(".."), 0);
	ck_assert_int_eq(ids_user_ok("a/b"), 0);
	ck_assert_int_eq(ids_user_ok("a%2Fb"), 0);
	ck_assert_int_eq(ids_user_ok("a b"), 0);
	ck_assert_int_eq(ids_user_ok("a'b"), 0);
	ck_assert_int_eq(ids_user_ok("\xc3\xa9"), 0);
}
END_TEST

START_TEST(ids_external)
{
	ck_assert_int_eq(ids_ext_ok("evt_1NvXq2", 255), 1);
	ck_assert_int_eq(ids_ext_ok("in_1;DROP", 255), 1);	/* opaque, bound */
	ck_assert_int_eq(ids_ext_ok("abc", 3), 1);
	ck_assert_int_eq(ids_ext_ok("abcd", 3), 0);
	ck_assert_int_eq(ids_ext_ok("", 255), 0);
	ck_assert_int_eq(ids_ext_ok(NULL, 255), 0);
	ck_assert_int_eq(ids_ext_ok("a b", 255), 0);
	ck_assert_int_eq(ids_ext_ok("a\tb", 255), 0);
	ck_assert_int_eq(ids_ext_ok("a\x7f", 255), 0);
	ck_assert_int_eq(ids_ext_ok("\xe2\x82\xac", 255), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("ids");
	TCase	*tc = tcase_create("shapes");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, ids_user);
	tcase_add_test(tc, ids_external);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
