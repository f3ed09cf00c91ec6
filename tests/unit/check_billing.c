/*
 * Unit tests for the pure helpers of common/app/billing.c: the percent of an
 * allowance used, the history limit, and the history cursor (round trips,
 * and strict refusal of anything it did not write).  The handlers are
 * covered by tests/integration/billing.test.mjs.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "app/billing.h"

START_TEST(percent)
{
	ck_assert_int_eq(billing_percent(0, 100), 0);
	ck_assert_int_eq(billing_percent(37, 100), 37);
	ck_assert_int_eq(billing_percent(99, 100), 99);
	ck_assert_int_eq(billing_percent(100, 100), 100);
	ck_assert_int_eq(billing_percent(102, 100), 102);
	ck_assert_int_eq(billing_percent(1, 3), 33);	/* rounded down */
	ck_assert_int_eq(billing_percent(2, 3), 66);
	ck_assert_int_eq(billing_percent(499, 500), 99); /* not 100 yet */
	ck_assert_int_eq(billing_percent(-5, 100), 0);
	ck_assert_int_eq(billing_percent(0, 0), 0);
	ck_assert_int_eq(billing_percent(1, 0), 100);
	ck_assert_int_eq(billing_percent(50, -1), -1);	/* unlimited */
	ck_assert_int_eq(billing_percent(0, -1), -1);
	ck_assert_int_eq(billing_percent(INT64_MAX, 1), INT64_MAX);
	ck_assert_int_eq(billing_percent(INT64_MAX / 100, INT64_MAX / 100),
	    100);
}
END_TEST

START_TEST(limit)
{
	static const char *const bad[] = {
		"", "0", "101", "1000", "0100", "-1", "+5", " 5", "5 ", "1.5",
		"1e2", "abc", "99999999999999999999",
	};
	static const struct {
		const char	*s;
		int		 v;
	} good[] = {
		{ "1", 1 }, { "20", 20 }, { "100", 100 }, { "020", 20 },
		{ "007", 7 },
	};
	size_t	 i;
	int	 v;

	v = -1;
	ck_assert_int_eq(billing_parse_limit(NULL, &v), XERR_OK);
	ck_assert_int_eq(v, BILLING_LIMIT_DEFAULT);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		ck_assert_int_eq(billing_parse_limit(good[i].s, &v), XERR_OK);
		ck_assert_int_eq(v, good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -1;
		ck_assert_msg(billing_parse_limit(bad[i], &v) == XERR_BADREQ,
		    "limit \"%s\" accepted", bad[i]);
		ck_assert_int_eq(v, -1);
	}
}
END_TEST

/* Encodes c, decodes the result, and checks it came back whole. */
static void
roundtrip(const struct billing_cursor *c)
{
	struct billing_cursor	 d;
	char			 enc[BILLING_CURSOR_MAX + 1];

	ck_assert_int_eq(billing_cursor_encode(c, enc, sizeof(enc)), XERR_OK);
	ck_assert_uint_eq(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(enc));
	ck_assert_int_eq(billing_cursor_decode(enc, &d), XERR_OK);
	ck_assert_int_eq(d.event_before, c->event_before);
	ck_assert_int_eq(d.invoice_created, c->invoice_created);
	ck_assert_str_eq(d.invoice_id, c->invoice_id);
}

START_TEST(cursor_roundtrip)
{
	struct billing_cursor	 c;

	memset(&c, 0, sizeof(c));
	c.event_before = 42;
	roundtrip(&c);
	c.invoice_created = 1732406400;
	snprintf(c.invoice_id, sizeof(c.invoice_id), "in_1OaBcDeFgHiJkLmN");
	roundtrip(&c);
	c.event_before = 0;
	roundtrip(&c);
	c.event_before = INT64_MAX;
	c.invoice_created = INT64_MAX;
	/* An id may hold dots: it is the last field. */
	snprintf(c.invoice_id, sizeof(c.invoice_id), "in.with.dots~!");
	roundtrip(&c);
	memset(c.invoice_id, 'x', BILLING_INVOICE_ID_MAX);
	c.invoice_id[BILLING_INVOICE_ID_MAX] = '\0';
	roundtrip(&c);
}
END_TEST

START_TEST(cursor_encode_refuses)
{
	struct billing_cursor	 c;
	char			 enc[BILLING_CURSOR_MAX + 1], tiny[8];

	memset(&c, 0, sizeof(c));
	/* Nothing left in either list: no cursor at all. */
	ck_assert_int_eq(billing_cursor_encode(&c, enc, sizeof(enc)),
	    XERR_BADREQ);
	c.event_before = -1;
	ck_assert_int_eq(billing_cursor_encode(&c, enc, sizeof(enc)),
	    XERR_BADREQ);
	c.event_before = 5;
	c.invoice_created = 7;	/* an invoice position needs its id */
	ck_assert_int_eq(billing_cursor_encode(&c, enc, sizeof(enc)),
	    XERR_BADREQ);
	snprintf(c.invoice_id, sizeof(c.invoice_id), "in 1");
	ck_assert_int_eq(billing_cursor_encode(&c, enc, sizeof(enc)),
	    XERR_BADREQ);
	snprintf(c.invoice_id, sizeof(c.invoice_id), "in_1");
	ck_assert_int_eq(billing_cursor_encode(&c, tiny, sizeof(tiny)),
	    XERR_TOOBIG);
	ck_assert_str_eq(tiny, "");
}
END_TEST

/* Encodes text as base64url without padding into out (caller frees). */
static char *
b64(const char *text)
{
	char	*out = NULL;

	ck_assert_int_eq(crypto_b64_encode(text, strlen(text), 1, &out),
	    XERR_OK);
	return out;
}

START_TEST(cursor_decode_refuses)
{
	static const char *const texts[] = {
		"", "1", "1.", "1.5", "1.5.", "2.5.0.", "1.5.0.in_x",
		"1..0.", "1.5..", "1.x.0.", "1.5.y.", "1.-5.0.", "1.+5.0.",
		"1.05.0.", "1. 5.0.", "1.0.0.", "1.5.7.",
		"1.9223372036854775808.0.", "1.5.0.\x01", "1.5.7.in x",
		"1.5.7.in_\x7f",
	};
	struct billing_cursor	 c;
	char			*s, big[BILLING_CURSOR_MAX + 2];
	size_t			 i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		s = b64(texts[i]);
		ck_assert_msg(billing_cursor_decode(s, &c) == XERR_BADREQ,
		    "cursor \"%s\" accepted", texts[i]);
		ck_assert_int_eq(c.event_before, 0);
		free(s);
	}
	/* A NUL inside is not hidden by the C string. */
	ck_assert_int_eq(billing_cursor_decode("MS41LjAuAA", &c), XERR_BADREQ);
	ck_assert_int_eq(billing_cursor_decode(NULL, &c), XERR_BADREQ);
	ck_assert_int_eq(billing_cursor_decode("", &c), XERR_BADREQ);
	ck_assert_int_eq(billing_cursor_decode("not a cursor", &c),
	    XERR_BADREQ);
	ck_assert_int_eq(billing_cursor_decode("MS41LjAu=", &c), XERR_BADREQ);
	ck_assert_int_eq(billing_cursor_decode("MS41LjAu+", &c), XERR_BADREQ);
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(billing_cursor_decode(big, &c), XERR_BADREQ);
	/* The good one among them. */
	ck_assert_int_eq(billing_cursor_decode("MS41LjAu", &c), XERR_OK);
	ck_assert_int_eq(c.event_before, 5);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("billing");
	TCase	*tc_calc = tcase_create("calc");
	TCase	*tc_cursor = tcase_create("cursor");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc_calc, percent);
	tcase_add_test(tc_calc, limit);
	tcase_add_test(tc_cursor, cursor_roundtrip);
	tcase_add_test(tc_cursor, cursor_encode_refuses);
	tcase_add_test(tc_cursor, cursor_decode_refuses);
	suite_add_tcase(s, tc_calc);
	suite_add_tcase(s, tc_cursor);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
