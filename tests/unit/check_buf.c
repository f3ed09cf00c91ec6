/* Unit tests for common/core/buf.c: growth, the hard maximum, steal. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

START_TEST(buf_grows_and_terminates)
{
	struct buf	*b = buf_new(1 << 20);
	int		 i;

	ck_assert_str_eq(buf_data(b), "");
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_printf(b, "%03d,", i), XERR_OK);
	ck_assert_uint_eq(buf_len(b), 4000);
	ck_assert_int_eq(strncmp(buf_data(b), "000,001,", 8), 0);
	ck_assert_int_eq(buf_data(b)[4000], '\0');
	buf_reset(b);
	ck_assert_uint_eq(buf_len(b), 0);
	ck_assert_str_eq(buf_data(b), "");
	buf_free(b);
	buf_free(NULL);
}
END_TEST

START_TEST(buf_hard_maximum)
{
	struct buf	*b = buf_new(10);

	ck_assert_int_eq(buf_puts(b, "0123456789"), XERR_OK);
	ck_assert_int_eq(buf_puts(b, "x"), XERR_TOOBIG);
	ck_assert_int_eq(buf_printf(b, "%d", 1), XERR_TOOBIG);
	/* a failed append leaves the contents as they were */
	ck_assert_str_eq(buf_data(b), "0123456789");
	ck_assert_int_eq(buf_append(b, "", 0), XERR_OK);
	buf_free(b);
	b = buf_new(4);
	ck_assert_int_eq(buf_append(b, "abcde", (size_t)-1), XERR_TOOBIG);
	buf_free(b);
}
END_TEST

START_TEST(buf_binary_and_steal)
{
	struct buf	*b = buf_new(64);
	char		*p;
	size_t		 len = 0;

	ck_assert_int_eq(buf_append(b, "a\0b", 3), XERR_OK);
	ck_assert_uint_eq(buf_len(b), 3);
	p = buf_steal(b, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(p, "a\0b", 4), 0);
	free(p);
	ck_assert_uint_eq(buf_len(b), 0);
	p = buf_steal(b, &len);
	ck_assert_str_eq(p, "");
	free(p);
	buf_free(b);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("buf");
	TCase	*tc = tcase_create("buf");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, buf_grows_and_terminates);
	tcase_add_test(tc, buf_hard_maximum);
	tcase_add_test(tc, buf_binary_and_steal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
