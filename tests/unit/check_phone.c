#include <string.h>

#include <check.h>

#include "core/cfg.h"
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

START_TEST(national)
{
	char	 nat[PHONE_NATIONAL_MAX + 1];

	ck_assert_int_eq(phone_national("US", "+14155550123", nat,
	    sizeof(nat)), 0);
	ck_assert_str_eq(nat, "4155550123");
	ck_assert_int_eq(phone_national(PHONE_COUNTRY, "+18089251571", nat,
	    sizeof(nat)), 0);
	ck_assert_str_eq(nat, "8089251571");
	/* Another country's code, too short, too long: none of ours. */
	ck_assert_int_eq(phone_national("US", "+442071838750", nat,
	    sizeof(nat)), -1);
	ck_assert_str_eq(nat, "");
	ck_assert_int_eq(phone_national("US", "+1415555012", nat,
	    sizeof(nat)), -1);
	ck_assert_int_eq(phone_national("US", "+141555501234", nat,
	    sizeof(nat)), -1);
	ck_assert_int_eq(phone_national("US", "14155550123", nat,
	    sizeof(nat)), -1);
	ck_assert_int_eq(phone_national("US", NULL, nat, sizeof(nat)), -1);
	/* A country whose numbers we do not sell, even with its code. */
	ck_assert_int_eq(phone_national("GB", "+442071838750", nat,
	    sizeof(nat)), -1);
	ck_assert_int_eq(phone_national("CA", "+16135550123", nat,
	    sizeof(nat)), -1);
	ck_assert_int_eq(phone_national(NULL, "+14155550123", nat,
	    sizeof(nat)), -1);
	/* No room: nothing written but the end. */
	ck_assert_int_eq(phone_national("US", "+14155550123", nat, 10), -1);
	ck_assert_str_eq(nat, "");
}
END_TEST

/* Sets name to v in a fresh want; returns the result. */
static enum xerr
want1(const char *name, const char *v)
{
	struct phone_want	 w;
	char			 err[256];

	memset(&w, 0, sizeof(w));
	return phone_want_set(&w, name, v, err, sizeof(err));
}

START_TEST(want_members)
{
	static const char *const good[][2] = {
		{ "country", "US" }, { "area_code", "415" },
		{ "contains", "55*" }, { "region", "CA" },
		{ "region", "New South Wales" }, { "locality", "San Francisco" },
		{ "locality", "Coeur d'Alene" }, { "postal_code", "94103" },
		{ "postal_code", "SW1A 1AA" }, { "near_number", "+14155550100" },
		{ "near_lat_long", "37.7749,-122.4194" },
		{ "near_lat_long", "-90,180" }, { "near_lat_long", "0.5,-0.000001" },
		{ "distance", "0" }, { "distance", "500" },
		{ "phone_number", "+14155550123" },
	};
	static const char *const bad[][2] = {
		{ "country", "usa" }, { "region", "C" }, { "region", "CA;" },
		{ "locality", "a<b" }, { "postal_code", "94" },
		{ "postal_code", "12345678901" }, { "near_number", "4155550100" },
		{ "near_lat_long", "91,0" }, { "near_lat_long", "90.1,0" },
		{ "near_lat_long", "0,180.5" }, { "near_lat_long", "1,2,3" },
		{ "near_lat_long", "1.,2" }, { "near_lat_long", "1.1234567,2" },
		{ "near_lat_long", "1;2" }, { "near_lat_long", "--1,2" },
		{ "distance", "501" }, { "distance", "-1" }, { "distance", "05" },
		{ "regoin", "CA" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(want1(good[i][0], good[i][1]) == XERR_OK,
		    "%s=%s refused", good[i][0], good[i][1]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(want1(bad[i][0], bad[i][1]) == XERR_BADREQ,
		    "%s=%s accepted", bad[i][0], bad[i][1]);
	/* Empty and NULL are not asked; an unknown name never passes. */
	ck_assert_int_eq(want1("region", ""), XERR_OK);
	ck_assert_int_eq(want1("region", NULL), XERR_OK);
	ck_assert_int_eq(want1("nope", NULL), XERR_BADREQ);
}
END_TEST

START_TEST(want_together)
{
	struct json_object	*o, *back;
	struct phone_want	 w;
	struct twilio_search	 q;
	char			 err[256];
	const char		*in = "{\"region\":\"CA\",\"near_lat_long\":"
	    "\"37.7,-122.4\",\"distance\":\"50\",\"locality\":\"\"}";

	o = json_tokener_parse(in);
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_OK);
	json_object_put(o);
	phone_want_query(&w, &q);
	ck_assert_str_eq(q.country, "US");
	ck_assert_str_eq(q.in_region, "CA");
	ck_assert_str_eq(q.near_lat_long, "37.7,-122.4");
	ck_assert_str_eq(q.distance, "50");
	ck_assert_ptr_null(q.in_locality);
	ck_assert_ptr_null(q.area_code);
	back = phone_want_json(&w);
	ck_assert_str_eq(json_object_to_json_string_ext(back,
	    JSON_C_TO_STRING_PLAIN), "{\"region\":\"CA\",\"near_lat_long\":"
	    "\"37.7,-122.4\",\"distance\":\"50\"}");
	json_object_put(back);

	/* A number of the country searches use, alone: nothing else. */
	o = json_tokener_parse("{\"phone_number\":\"+14155550123\"}");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_OK);
	json_object_put(o);
	o = json_tokener_parse("{\"phone_number\":\"+442071838750\"}");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_BADREQ);
	ck_assert_ptr_nonnull(strstr(err, "is no US number"));
	json_object_put(o);
	o = json_tokener_parse("{\"phone_number\":\"+1415555012\"}");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_BADREQ);
	json_object_put(o);

	/* Members that do not go together. */
	o = json_tokener_parse("{\"phone_number\":\"+14155550123\","
	    "\"region\":\"CA\"}");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_BADREQ);
	json_object_put(o);
	o = json_tokener_parse("{\"distance\":\"5\"}");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_BADREQ);
	ck_assert_ptr_nonnull(strstr(err, "distance needs"));
	json_object_put(o);
	o = json_tokener_parse("{\"near_number\":\"+14155550100\","
	    "\"near_lat_long\":\"1,1\"}");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_BADREQ);
	json_object_put(o);
	o = json_tokener_parse("{\"region\":5}");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_BADREQ);
	json_object_put(o);
	o = json_tokener_parse("[]");
	ck_assert_int_eq(phone_want_from_json(o, &w, err, sizeof(err)),
	    XERR_BADREQ);
	json_object_put(o);
	/* No object: nothing asked. */
	ck_assert_int_eq(phone_want_from_json(NULL, &w, err, sizeof(err)),
	    XERR_OK);
	ck_assert_str_eq(w.country, "");
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

START_TEST(urls_made)
{
	struct cfg		 cfg;
	struct phone_urls	 u;
	char			 base[PHONE_URL_MAX];

	memset(&cfg, 0, sizeof(cfg));
	cfg.public_base_url = "https://x.test";
	ck_assert_int_eq(phone_urls_make(&cfg, "usr_1", &u), XERR_OK);
	ck_assert_str_eq(u.voice, "https://x.test/phone/voice/usr_1");
	ck_assert_str_eq(u.sms, "https://x.test/phone/sms/usr_1");
	ck_assert_str_eq(u.status, "https://x.test/phone/status/usr_1");
	/* The id is one path segment, whatever it holds. */
	ck_assert_int_eq(phone_urls_make(&cfg, "a/b?c", &u), XERR_OK);
	ck_assert_str_eq(u.sms, "https://x.test/phone/sms/a%2Fb%3Fc");
	ck_assert_int_eq(phone_urls_make(&cfg, "..", &u), XERR_BADREQ);
	ck_assert_str_eq(u.voice, "");
	/* Too long for Twilio's URL fields: nothing half made. */
	memset(base, 'h', sizeof(base) - 10);
	base[sizeof(base) - 10] = '\0';
	cfg.public_base_url = base;
	ck_assert_int_eq(phone_urls_make(&cfg, "usr_1", &u), XERR_TOOBIG);
	ck_assert_str_eq(u.voice, "");
	ck_assert_str_eq(u.status, "");
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
	tcase_add_test(tc, national);
	tcase_add_test(tc, want_members);
	tcase_add_test(tc, want_together);
	suite_add_tcase(s, tc);

	tc = tcase_create("friendly_name");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, friendly_short);
	tcase_add_test(tc, friendly_long);
	tcase_add_test(tc, urls_made);
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
