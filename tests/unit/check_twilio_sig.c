#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/kv.h"
#include "remote/twilio_sig.h"

/*
 * The example of Twilio's security documentation
 * (twilio.com/docs/usage/security#validating-requests).  Every other
 * signature below was computed by twilio-node 6.2.0's
 * webhooks.getExpectedTwilioSignature() and accepted by its
 * validateRequest().
 */
#define DOC_TOKEN	"12345"
#define DOC_URL		"https://mycompany.com/myapp.php?foo=1&bar=2"
#define DOC_URL_443	"https://mycompany.com:443/myapp.php?foo=1&bar=2"
#define DOC_SIG		"0/KCTR6DLpKmkAf8muzZqo1nDgQ="
#define DOC_SIG_443	"EpDEmp1PyjDYp77YxYU3GILBWzE="
#define DOC_SIG_EMPTY	"zYQTYrRWXE7LtzbG4PfP7/bkkGo="
#define DOC_BODY	"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&" \
			"Digits=1234&From=%2B12349013030&To=%2B18005551212"

static struct kv	*doc;

static void
setup(void)
{
	ck_assert_int_eq(crypto_init(), XERR_OK);
	ck_assert_int_eq(kv_parse(DOC_BODY, strlen(DOC_BODY), &doc), XERR_OK);
}

static void
teardown(void)
{
	kv_free(doc);
	doc = NULL;
}

/* Returns a list of the n name/value pairs in nv; caller frees. */
static struct kv *
pairs(const char *const *nv, size_t n)
{
	struct kv	*kv;
	size_t		 i;

	ck_assert_ptr_nonnull(kv = kv_new());
	for (i = 0; i < n; i++)
		ck_assert_int_eq(kv_add(kv, nv[2 * i], nv[2 * i + 1]), XERR_OK);
	return kv;
}

START_TEST(doc_base)
{
	struct buf	*b;

	ck_assert_ptr_nonnull(b = buf_new(4096));
	ck_assert_int_eq(twilio_sig_base(DOC_URL, doc, b), XERR_OK);
	ck_assert_str_eq(buf_data(b), DOC_URL
	    "CallSidCA1234567890ABCDECaller+12349013030Digits1234"
	    "From+12349013030To+18005551212");
	buf_free(b);
}
END_TEST

START_TEST(doc_vector)
{
	char	*sig;

	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc, DOC_SIG), 1);
	ck_assert_int_eq(twilio_sig_sign(DOC_TOKEN, DOC_URL, doc, &sig),
	    XERR_OK);
	ck_assert_str_eq(sig, DOC_SIG);
	ck_assert_uint_eq(strlen(sig), TWILIO_SIG_B64_LEN);
	free(sig);
}
END_TEST

START_TEST(order_of_params)
{
	static const char *const nv[] = { "To", "+18005551212",
	    "From", "+12349013030", "Digits", "1234", "Caller", "+12349013030",
	    "CallSid", "CA1234567890ABCDE" };
	struct kv	*kv = pairs(nv, 5);

	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, kv, DOC_SIG), 1);
	kv_free(kv);
}
END_TEST

START_TEST(repeated_names)
{
	/* twilio-node: values of a repeated name sorted, duplicates dropped. */
	static const char *const nv[] = { "MediaUrl", "b", "MediaUrl", "a",
	    "MediaUrl", "b", "Body", "x" };
	static const char *const nv2[] = { "Body", "x", "MediaUrl", "a",
	    "MediaUrl", "b" };
	struct kv	*kv = pairs(nv, 4), *kv2 = pairs(nv2, 3);
	struct buf	*b;

	ck_assert_ptr_nonnull(b = buf_new(256));
	ck_assert_int_eq(twilio_sig_base("https://x.example/hook", kv, b),
	    XERR_OK);
	ck_assert_str_eq(buf_data(b),
	    "https://x.example/hookBodyxMediaUrlaMediaUrlb");
	ck_assert_int_eq(twilio_sig_valid("tok", "https://x.example/hook", kv,
	    "P7xYUVCajpzl3ylfcgRoYeuSHSY="), 1);
	ck_assert_int_eq(twilio_sig_valid("tok", "https://x.example/hook", kv2,
	    "P7xYUVCajpzl3ylfcgRoYeuSHSY="), 1);
	buf_free(b);
	kv_free(kv);
	kv_free(kv2);
}
END_TEST

START_TEST(utf8_values)
{
	static const char *const nv[] = { "From", "+1555",
	    "Body", "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80" };
	struct kv	*kv = pairs(nv, 2);

	ck_assert_int_eq(twilio_sig_valid("tok", "https://x.example/sms",
	    kv, "gw7dRwCM/eUpoteKnhQasQbM8mo="), 0);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, "https://x.example/sms",
	    kv, "gw7dRwCM/eUpoteKnhQasQbM8mo="), 1);
	kv_free(kv);
}
END_TEST

START_TEST(ports)
{
	static const char *const body[] = { "Body", "hi" };
	static const char *const a1[] = { "A", "1" };
	struct kv	*kv = pairs(body, 1), *kv1 = pairs(a1, 1);

	/* Signed without the port, called with it, and the reverse. */
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL_443, doc,
	    DOC_SIG), 1);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc,
	    DOC_SIG_443), 1);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL_443, doc,
	    DOC_SIG_443), 1);
	/* http's default port is 80. */
	ck_assert_int_eq(twilio_sig_valid("tok", "http://example.com/sms", kv,
	    "Gl0XFEJCO1K0/mlFQGVStD/wqt8="), 1);
	ck_assert_int_eq(twilio_sig_valid("tok", "http://example.com:80/sms",
	    kv, "xJh/9kvFcE+pNA8qS4L7BZ+egTI="), 1);
	/* Any port is removed, as twilio-node does. */
	ck_assert_int_eq(twilio_sig_valid("tok", "http://example.com:8080/sms",
	    kv, "xJh/9kvFcE+pNA8qS4L7BZ+egTI="), 1);
	/* https with :80 added is not a form anybody signed. */
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN,
	    "https://mycompany.com:80/myapp.php?foo=1&bar=2", doc,
	    DOC_SIG_443), 0);
	/* IPv6 literal, user info. */
	ck_assert_int_eq(twilio_sig_valid("tok", "https://[::1]:8443/x", kv1,
	    "sQ6AGCIx+wWty5LQ7cM6lasMg48="), 1);
	ck_assert_int_eq(twilio_sig_valid("tok", "https://user:pw@host/x?y=1",
	    kv1, "pJWOIIbyTKrwJ2+WNe7P+XpRodI="), 1);
	/* No scheme: only the URL as given. */
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN,
	    "mycompany.com:443/myapp.php?foo=1&bar=2", doc, DOC_SIG), 0);
	kv_free(kv);
	kv_free(kv1);
}
END_TEST

START_TEST(changed_param)
{
	static const char *const nv[] = { "CallSid", "CA1234567890ABCDE",
	    "Caller", "+12349013030", "Digits", "1235", "From", "+12349013030",
	    "To", "+18005551212" };
	struct kv	*kv = pairs(nv, 5);

	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, kv, DOC_SIG), 0);
	kv_free(kv);
}
END_TEST

START_TEST(missing_and_extra_param)
{
	static const char *const nv[] = { "CallSid", "CA1234567890ABCDE",
	    "Caller", "+12349013030", "From", "+12349013030",
	    "To", "+18005551212" };
	struct kv	*kv = pairs(nv, 4);

	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, kv, DOC_SIG), 0);
	ck_assert_int_eq(kv_add(kv, "Digits", "1234"), XERR_OK);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, kv, DOC_SIG), 1);
	ck_assert_int_eq(kv_add(kv, "Extra", ""), XERR_OK);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, kv, DOC_SIG), 0);
	kv_free(kv);
}
END_TEST

START_TEST(empty_params)
{
	struct kv	*kv;

	ck_assert_ptr_nonnull(kv = kv_new());
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, kv,
	    DOC_SIG_EMPTY), 1);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, NULL,
	    DOC_SIG_EMPTY), 1);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, kv, DOC_SIG), 0);
	kv_free(kv);
}
END_TEST

START_TEST(bad_inputs)
{
	ck_assert_int_eq(twilio_sig_valid("54321", DOC_URL, doc, DOC_SIG), 0);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL "&baz=3", doc,
	    DOC_SIG), 0);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc, NULL), 0);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc, ""), 0);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc,
	    DOC_SIG " "), 0);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, DOC_URL, doc,
	    "0/KCTR6DLpKmkAf8muzZqo1nDgQ"), 0);
	ck_assert_int_eq(twilio_sig_valid(NULL, DOC_URL, doc, DOC_SIG), 0);
	ck_assert_int_eq(twilio_sig_valid("", DOC_URL, doc, DOC_SIG), 0);
	ck_assert_int_eq(twilio_sig_valid(DOC_TOKEN, NULL, doc, DOC_SIG), 0);
}
END_TEST

static Suite *
twilio_sig_suite(void)
{
	Suite	*s = suite_create("twilio_sig");
	TCase	*tc;

	tc = tcase_create("base");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, doc_base);
	tcase_add_test(tc, doc_vector);
	tcase_add_test(tc, order_of_params);
	tcase_add_test(tc, repeated_names);
	tcase_add_test(tc, utf8_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("url");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ports);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, changed_param);
	tcase_add_test(tc, missing_and_extra_param);
	tcase_add_test(tc, empty_params);
	tcase_add_test(tc, bad_inputs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(twilio_sig_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
