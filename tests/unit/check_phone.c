#include <string.h>

#include <check.h>

#include "core/crypto.h"
#include "remote/twilio.h"
#include "domain/phone.h"

static void
setup(void)
{
	ck_assert_int_eq(crypto_init(), XERR_OK);
}

START_TEST(countries)
{
	ck_assert_int_eq(phone_valid_country("US"), 1);
	ck_assert_int_eq(phone_valid_country("GB"), 1);
	ck_assert_int_eq(phone_valid_country("us"), 0);
	ck_assert_int_eq(phone_valid_country("U"), 0);
	ck_assert_int_eq(phone_valid_country("USA"), 0);
	ck_assert_int_eq(phone_valid_country("U1"), 0);
	ck_assert_int_eq(phone_valid_country(""), 0);
	ck_assert_int_eq(phone_valid_country(NULL), 0);
}
END_TEST

START_TEST(area_codes)
{
	ck_assert_int_eq(phone_valid_area_code("415"), 1);
	ck_assert_int_eq(phone_valid_area_code("000"), 1);
	ck_assert_int_eq(phone_valid_area_code("41"), 0);
	ck_assert_int_eq(phone_valid_area_code("4155"), 0);
	ck_assert_int_eq(phone_valid_area_code("41a"), 0);
	ck_assert_int_eq(phone_valid_area_code(" 415"), 0);
	ck_assert_int_eq(phone_valid_area_code("-15"), 0);
	ck_assert_int_eq(phone_valid_area_code(""), 0);
	ck_assert_int_eq(phone_valid_area_code(NULL), 0);
}
END_TEST

START_TEST(contains)
{
	ck_assert_int_eq(phone_valid_contains("55"), 1);
	ck_assert_int_eq(phone_valid_contains("STORM"), 1);
	ck_assert_int_eq(phone_valid_contains("*5*5*"), 1);
	ck_assert_int_eq(phone_valid_contains("0123456789"), 1);
	ck_assert_int_eq(phone_valid_contains("01234567890"), 0);
	ck_assert_int_eq(phone_valid_contains("5"), 0);
	ck_assert_int_eq(phone_valid_contains("5%5"), 0);
	ck_assert_int_eq(phone_valid_contains("+55"), 0);
	ck_assert_int_eq(phone_valid_contains("55$"), 0);
	ck_assert_int_eq(phone_valid_contains("5 5"), 0);
	ck_assert_int_eq(phone_valid_contains("5&x=1"), 0);
	ck_assert_int_eq(phone_valid_contains(""), 0);
	ck_assert_int_eq(phone_valid_contains(NULL), 0);
}
END_TEST

START_TEST(numbers)
{
	long long	 v = -7;

	ck_assert_int_eq(phone_parse_uint("1", 1, 30, &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(phone_parse_uint("30", 1, 30, &v), 0);
	ck_assert_int_eq(v, 30);
	ck_assert_int_eq(phone_parse_uint("0", 0, 5, &v), 0);
	ck_assert_int_eq(v, 0);
	v = -7;
	ck_assert_int_eq(phone_parse_uint("31", 1, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint("0", 1, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint("010", 1, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint("-1", -5, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint("+1", 1, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint(" 1", 1, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint("1x", 1, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint("", 0, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint(NULL, 0, 30, &v), -1);
	ck_assert_int_eq(phone_parse_uint("9999999999999999999", 0,
	    9223372036854775807LL, &v), -1);
	ck_assert_int_eq(v, -7);
}
END_TEST

START_TEST(friendly_short)
{
	char	 fn[TWILIO_FRIENDLY_MAX + 1];
	char	 id[61];

	phone_friendly_name("6f1c2a9e-3b1d-4c2e-9a7f-0d5e8b1c2a3f", fn,
	    sizeof(fn));
	ck_assert_str_eq(fn, "xsb:6f1c2a9e-3b1d-4c2e-9a7f-0d5e8b1c2a3f");
	/* 60 characters still fit: "xsb:" + 60 = 64. */
	memset(id, 'u', 60);
	id[60] = '\0';
	phone_friendly_name(id, fn, sizeof(fn));
	ck_assert_uint_eq(strlen(fn), TWILIO_FRIENDLY_MAX);
	ck_assert_int_eq(strncmp(fn, "xsb:uuu", 7), 0);
}
END_TEST

START_TEST(friendly_long)
{
	char	 fn[TWILIO_FRIENDLY_MAX + 1], fn2[TWILIO_FRIENDLY_MAX + 1];
	char	 id[65];

	/* HMAC-SHA256 keyed "xswarm-billing phone FriendlyName", 60 hex. */
	memset(id, 'u', 61);
	id[61] = '\0';
	phone_friendly_name(id, fn, sizeof(fn));
	ck_assert_str_eq(fn, "xsb#f84f8d14f4750436a25576320a97b605eb5b099e8ad"
	    "2dfeee15934c5019a");
	ck_assert_uint_eq(strlen(fn), TWILIO_FRIENDLY_MAX);
	memset(id, 'A', 64);
	id[64] = '\0';
	phone_friendly_name(id, fn, sizeof(fn));
	ck_assert_str_eq(fn, "xsb#5b6cfabd4ddfdb3b5adf19ea719fb10576cb01d24ee"
	    "f341fbdccb2bd9881");
	phone_friendly_name(id, fn2, sizeof(fn2));
	ck_assert_str_eq(fn, fn2);
	id[63] = 'B';
	phone_friendly_name(id, fn2, sizeof(fn2));
	ck_assert_str_ne(fn, fn2);
}
END_TEST

static Suite *
phone_suite(void)
{
	Suite	*s = suite_create("phone");
	TCase	*tc;

	tc = tcase_create("input");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, countries);
	tcase_add_test(tc, area_codes);
	tcase_add_test(tc, contains);
	tcase_add_test(tc, numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("friendly_name");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, friendly_short);
	tcase_add_test(tc, friendly_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(phone_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
