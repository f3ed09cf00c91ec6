#include <string.h>

#include <check.h>

#include "req.h"
#include "twilio.h"

#define PN_A	"PN0123456789abcdef0123456789abcdef"
#define PN_B	"PNfedcba9876543210fedcba9876543210"

/* Parses s as JSON; the caller puts the result. */
static struct json_object *
json(const char *s)
{
	struct json_object	*o;

	ck_assert_int_eq(req_json_parse(s, strlen(s), &o), XERR_OK);
	return o;
}

START_TEST(sids)
{
	ck_assert_int_eq(twilio_sid_valid(PN_A, "PN"), 1);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789ABCDEF0123456789ABCDEF",
	    "PN"), 1);
	ck_assert_int_eq(twilio_sid_valid(PN_A, "CA"), 0);
	ck_assert_int_eq(twilio_sid_valid("CA0123456789abcdef0123456789abcdef",
	    "CA"), 1);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789abcdef0123456789abcde",
	    "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid(PN_A "0", "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789abcdef0123456789abcdeg",
	    "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789abcdef0123456789abc/..",
	    "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid("", "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid(NULL, "PN"), 0);
}
END_TEST

START_TEST(e164)
{
	ck_assert_int_eq(twilio_e164_valid("+14155550100"), 1);
	ck_assert_int_eq(twilio_e164_valid("+18089255327"), 1);
	ck_assert_int_eq(twilio_e164_valid("+442071838750"), 1);
	ck_assert_int_eq(twilio_e164_valid("+1234567"), 1);
	ck_assert_int_eq(twilio_e164_valid("+123456789012345"), 1);
	ck_assert_int_eq(twilio_e164_valid("+1234567890123456"), 0);
	ck_assert_int_eq(twilio_e164_valid("+123456"), 0);
	ck_assert_int_eq(twilio_e164_valid("14155550100"), 0);
	ck_assert_int_eq(twilio_e164_valid("+04155550100"), 0);
	ck_assert_int_eq(twilio_e164_valid("+1 415 555 0100"), 0);
	ck_assert_int_eq(twilio_e164_valid("+1415555010x"), 0);
	ck_assert_int_eq(twilio_e164_valid("+"), 0);
	ck_assert_int_eq(twilio_e164_valid(""), 0);
	ck_assert_int_eq(twilio_e164_valid(NULL), 0);
}
END_TEST

START_TEST(error_twilio)
{
	static const char body[] = "{\"code\": 21422, \"message\": \"Phone"
	    "Number +14155550100 is not available\", \"more_info\": "
	    "\"https://www.twilio.com/docs/errors/21422\", \"status\": 400}";
	struct twilio_error	 e;

	twilio_error_parse(400, body, strlen(body), &e);
	ck_assert_int_eq(e.status, 400);
	ck_assert_int_eq(e.code, 21422);
	ck_assert_str_eq(e.message, "PhoneNumber +14155550100 is not "
	    "available");
	ck_assert_int_eq(twilio_no_number(&e), 1);
}
END_TEST

START_TEST(error_prism)
{
	static const char body[] = "{\"type\":\"https://stoplight.io/prism/"
	    "errors#UNPROCESSABLE_ENTITY\",\"title\":\"Invalid request\","
	    "\"status\":422,\"detail\":\"Your request is not valid\","
	    "\"validation\":[{\"location\":[\"path\",\"sid\"],\"severity\":"
	    "\"Error\",\"code\":\"pattern\",\"message\":\"Request path "
	    "parameter sid must match pattern\"}]}";
	struct twilio_error	 e;

	twilio_error_parse(422, body, strlen(body), &e);
	ck_assert_int_eq(e.status, 422);
	ck_assert_int_eq(e.code, 0);
	ck_assert_str_eq(e.message, "Invalid request: Request path parameter "
	    "sid must match pattern");
	ck_assert_int_eq(twilio_no_number(&e), 0);
}
END_TEST

START_TEST(error_bare)
{
	struct twilio_error	 e;

	twilio_error_parse(503, "<html>down</html>", 17, &e);
	ck_assert_str_eq(e.message, "Twilio answered HTTP 503");
	twilio_error_parse(500, NULL, 0, &e);
	ck_assert_str_eq(e.message, "Twilio answered HTTP 500");
	twilio_error_parse(404, "[1]", 3, &e);
	ck_assert_str_eq(e.message, "Twilio answered HTTP 404");
	ck_assert_int_eq(twilio_no_number(&e), 1);
	/* Control bytes from upstream never reach a log line raw. */
	twilio_error_parse(400, "{\"message\":\"a\\nb\\u0001c\"}", 25, &e);
	ck_assert_str_eq(e.message, "a b c");
}
END_TEST

START_TEST(number_parse)
{
	struct json_object	*o;
	struct twilio_number	 n;

	o = json("{\"sid\":\"" PN_A "\",\"phone_number\":\"+14155550100\","
	    "\"friendly_name\":\"xsb:u1\"}");
	ck_assert_int_eq(twilio_number_parse(o, &n), 0);
	ck_assert_str_eq(n.sid, PN_A);
	ck_assert_str_eq(n.phone_number, "+14155550100");
	ck_assert_str_eq(n.friendly_name, "xsb:u1");
	json_object_put(o);

	/* What Prism's dynamic mode makes of the raw spec: refused. */
	o = json("{\"sid\":\"" PN_A "\",\"phone_number\":null}");
	ck_assert_int_eq(twilio_number_parse(o, &n), -1);
	ck_assert_str_eq(n.sid, "");
	json_object_put(o);
	o = json("{\"sid\":\"" PN_A "\",\"phone_number\":\"amet magna\"}");
	ck_assert_int_eq(twilio_number_parse(o, &n), -1);
	json_object_put(o);
	o = json("{\"sid\":\"PNxyz\",\"phone_number\":\"+14155550100\"}");
	ck_assert_int_eq(twilio_number_parse(o, &n), -1);
	json_object_put(o);
	ck_assert_int_eq(twilio_number_parse(NULL, &n), -1);
}
END_TEST

START_TEST(number_pick)
{
	struct json_object	*o;
	struct twilio_number	 n;

	/* The filter is not trusted: only exact names count, valid ones. */
	o = json("{\"incoming_phone_numbers\":["
	    "{\"sid\":\"PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	    "\"phone_number\":\"+18089255327\","
	    "\"friendly_name\":\"(808) 925-5327\"},"
	    "{\"sid\":\"" PN_A "\",\"phone_number\":\"+14155550100\","
	    "\"friendly_name\":\"xsb:u10\"},"
	    "{\"sid\":\"bad\",\"phone_number\":\"+14155550101\","
	    "\"friendly_name\":\"xsb:u1\"},"
	    "{\"sid\":\"" PN_B "\",\"phone_number\":\"+14155550102\","
	    "\"friendly_name\":\"xsb:u1\"},"
	    "{\"sid\":\"" PN_A "\",\"phone_number\":\"+14155550103\","
	    "\"friendly_name\":\"xsb:u1\"}]}");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u1", &n), 2);
	ck_assert_str_eq(n.sid, PN_B);
	ck_assert_str_eq(n.phone_number, "+14155550102");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u2", &n), 0);
	ck_assert_str_eq(n.sid, "");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u", &n), 0);
	json_object_put(o);

	o = json("{\"incoming_phone_numbers\":{}}");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u1", &n), 0);
	json_object_put(o);
	o = json("{}");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u1", &n), 0);
	json_object_put(o);
}
END_TEST

static Suite *
twilio_suite(void)
{
	Suite	*s = suite_create("twilio");
	TCase	*tc;

	tc = tcase_create("check");
	tcase_add_test(tc, sids);
	tcase_add_test(tc, e164);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, error_twilio);
	tcase_add_test(tc, error_prism);
	tcase_add_test(tc, error_bare);
	suite_add_tcase(s, tc);

	tc = tcase_create("numbers");
	tcase_add_test(tc, number_parse);
	tcase_add_test(tc, number_pick);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(twilio_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
