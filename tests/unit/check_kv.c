/* Unit tests for common/core/kv.c: query and form parsing. */
#include <stdint.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/kv.h"

static struct kv *
parse_ok(const char *s)
{
	struct kv	*kv = NULL;

	ck_assert_int_eq(kv_parse(s, strlen(s), &kv), XERR_OK);
	ck_assert_ptr_nonnull(kv);
	return kv;
}

static void
parse_bad(const char *s)
{
	struct kv	*kv = (struct kv *)1;

	ck_assert_int_eq(kv_parse(s, strlen(s), &kv), XERR_BADREQ);
	ck_assert_ptr_null(kv);
}

START_TEST(kv_basic)
{
	struct kv *kv = parse_ok("a=1&b=two&c=");

	ck_assert_uint_eq(kv_count(kv), 3);
	ck_assert_str_eq(kv_get(kv, "a"), "1");
	ck_assert_str_eq(kv_get(kv, "b"), "two");
	ck_assert_str_eq(kv_get(kv, "c"), "");
	ck_assert_ptr_null(kv_get(kv, "d"));
	kv_free(kv);
}
END_TEST

START_TEST(kv_decoding)
{
	struct kv *kv = parse_ok("na%20me=a+b%2Bc%26d%3D&%E2%82%AC=%e2%82%ac");

	ck_assert_str_eq(kv_name(kv, 0), "na me");
	ck_assert_str_eq(kv_value(kv, 0), "a b+c&d=");
	ck_assert_str_eq(kv_get(kv, "\xe2\x82\xac"), "\xe2\x82\xac");
	kv_free(kv);
}
END_TEST

START_TEST(kv_repeated_keys_keep_order)
{
	struct kv *kv = parse_ok("x=1&y=2&x=3");

	ck_assert_uint_eq(kv_count_name(kv, "x"), 2);
	ck_assert_str_eq(kv_get(kv, "x"), "1");
	ck_assert_str_eq(kv_name(kv, 2), "x");
	ck_assert_str_eq(kv_value(kv, 2), "3");
	kv_free(kv);
}
END_TEST

START_TEST(kv_edge_segments)
{
	struct kv *kv = parse_ok("&&a=1&&flag&=v&");

	/* empty segments skipped; bare name; empty name kept */
	ck_assert_uint_eq(kv_count(kv), 3);
	ck_assert_str_eq(kv_get(kv, "flag"), "");
	ck_assert_str_eq(kv_get(kv, ""), "v");
	ck_assert_str_eq(kv_value(kv, 0), "1");
	kv_free(kv);
	kv = parse_ok("");
	ck_assert_uint_eq(kv_count(kv), 0);
	kv_free(kv);
	kv = parse_ok("a=b=c");
	ck_assert_str_eq(kv_get(kv, "a"), "b=c");
	kv_free(kv);
}
END_TEST

START_TEST(kv_bad_escapes)
{
	parse_bad("a=%");
	parse_bad("a=%4");
	parse_bad("a=%zz");
	parse_bad("a=%00");
	parse_bad("%g1=x");
	parse_bad("a=1&b=%2");
}
END_TEST

START_TEST(kv_embedded_nul_rejected)
{
	struct kv	*kv = NULL;

	ck_assert_int_eq(kv_parse("a=b\0c", 5, &kv), XERR_BADREQ);
	ck_assert_ptr_null(kv);
}
END_TEST

START_TEST(kv_too_many_pairs)
{
	char		*s;
	size_t		 i, n = (KV_MAX_PAIRS + 1) * 4;
	struct kv	*kv = NULL;

	s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	for (i = 0; i < KV_MAX_PAIRS + 1; i++)
		memcpy(s + i * 4, "a=1&", 4);
	s[n] = '\0';
	ck_assert_int_eq(kv_parse(s, n, &kv), XERR_BADREQ);
	/* exactly the maximum is fine */
	ck_assert_int_eq(kv_parse(s, n - 4, &kv), XERR_OK);
	ck_assert_uint_eq(kv_count(kv), KV_MAX_PAIRS);
	kv_free(kv);
	free(s);
}
END_TEST

START_TEST(kv_add_and_free_null)
{
	struct kv *kv = kv_new();

	ck_assert_int_eq(kv_add(kv, "k", "v"), XERR_OK);
	ck_assert_str_eq(kv_get(kv, "k"), "v");
	kv_free(kv);
	kv_free(NULL);
	ck_assert_uint_eq(kv_count(NULL), 0);
}
END_TEST

START_TEST(kv_uint_forms)
{
	long long	 v = 7;

	ck_assert_int_eq(kv_uint("42", 6, 0, 1, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(kv_uint("0", 6, 0, 0, 100, &v), 0);
	ck_assert_int_eq(v, 0);
	/* leading zeros only when asked */
	ck_assert_int_eq(kv_uint("010", 6, 0, 0, 100, &v), -1);
	ck_assert_int_eq(kv_uint("010", 6, 1, 0, 100, &v), 0);
	ck_assert_int_eq(v, 10);
	/* range, digits, form: *out untouched */
	v = 7;
	ck_assert_int_eq(kv_uint("101", 6, 1, 0, 100, &v), -1);
	ck_assert_int_eq(kv_uint("0", 6, 1, 1, 100, &v), -1);
	ck_assert_int_eq(kv_uint("1234567", 6, 1, 0, 9999999, &v), -1);
	ck_assert_int_eq(kv_uint("", 6, 1, 0, 100, &v), -1);
	ck_assert_int_eq(kv_uint(NULL, 6, 1, 0, 100, &v), -1);
	ck_assert_int_eq(kv_uint("-1", 6, 1, -5, 100, &v), -1);
	ck_assert_int_eq(kv_uint("+1", 6, 1, 0, 100, &v), -1);
	ck_assert_int_eq(kv_uint(" 1", 6, 1, 0, 100, &v), -1);
	ck_assert_int_eq(kv_uint("1e3", 6, 1, 0, 10000, &v), -1);
	ck_assert_int_eq(kv_uint("1234567890123456789", 99, 1, 0,
	    INT64_MAX, &v), -1);
	ck_assert_int_eq(v, 7);
	ck_assert_int_eq(kv_uint("999999999999999999", 18, 1, 0, INT64_MAX,
	    &v), 0);
	ck_assert_int_eq(v, 999999999999999999LL);
}
END_TEST

static Suite *
kv_suite(void)
{
	Suite	*s = suite_create("kv");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, kv_basic);
	tcase_add_test(tc, kv_decoding);
	tcase_add_test(tc, kv_repeated_keys_keep_order);
	tcase_add_test(tc, kv_edge_segments);
	tcase_add_test(tc, kv_bad_escapes);
	tcase_add_test(tc, kv_embedded_nul_rejected);
	tcase_add_test(tc, kv_too_many_pairs);
	tcase_add_test(tc, kv_add_and_free_null);
	tcase_add_test(tc, kv_uint_forms);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(kv_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
