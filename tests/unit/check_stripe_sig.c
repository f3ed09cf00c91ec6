#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "core/crypto.h"
#include "remote/stripe_sig.h"

/*
 * Computed by the npm stripe package (23.1.0):
 *   require('stripe')('sk_test_x').webhooks.generateTestHeaderString(
 *       { payload: BODY, secret: SECRET1 or SECRET2, timestamp: 1700000000 })
 * and checked with its constructEvent().
 */
#define BODY	"{\n  \"id\": \"evt_1NxTest\",\n  \"object\": \"event\",\n" \
		"  \"type\": \"invoice.paid\"\n}"
#define SECRET1	"whsec_test_secret_1"
#define SECRET2	"whsec_test_secret_2"
#define T	1700000000LL
#define SIG1	"e5ddb6702c6de01be007fac03305ebf714bb5167d00ba071acc39fed4d5368a5"
#define SIG2	"fa94e665fc285a82ef9a190e00e2c488d52c5931b762116306cd801e2c7204f3"
#define BAD	"0000000000000000000000000000000000000000000000000000000000000000"
#define TOL	300

static char *const one[] = { SECRET1 };

static void
setup(void)
{
	ck_assert_int_eq(crypto_init(), XERR_OK);
}

/* Verifies hdr for BODY with secrets at now; returns the reason or "ok". */
static const char *
verify(const char *hdr, char *const *secrets, size_t n, long long now)
{
	const char	*why = "unset";
	enum xerr	 rc;

	rc = stripe_sig_verify(hdr, BODY, strlen(BODY), secrets, n, TOL, now,
	    &why);
	if (rc == XERR_OK) {
		ck_assert_ptr_null(why);
		return "ok";
	}
	ck_assert_int_eq(rc, XERR_BADREQ);
	ck_assert_ptr_nonnull(why);
	return why;
}

START_TEST(stripe_vector)
{
	ck_assert_str_eq(verify("t=1700000000,v1=" SIG1, one, 1, T + 100),
	    "ok");
	/* why may be NULL. */
	ck_assert_int_eq(stripe_sig_verify("t=1700000000,v1=" SIG1, BODY,
	    strlen(BODY), one, 1, TOL, T, NULL), XERR_OK);
}
END_TEST

START_TEST(rotation)
{
	char *const	 both[] = { "whsec_old_one", SECRET2 };
	char *const	 holes[] = { NULL, "", SECRET2 };
	char *const	 wrong[] = { "whsec_other" };

	ck_assert_str_eq(verify("t=1700000000,v1=" SIG2, both, 2, T), "ok");
	ck_assert_str_eq(verify("t=1700000000,v1=" SIG2, holes, 3, T), "ok");
	/* Stripe signs with both during rotation: either secret matches. */
	ck_assert_str_eq(verify("t=1700000000,v1=" SIG1 ",v1=" SIG2, one, 1,
	    T), "ok");
	ck_assert_str_eq(verify("t=1700000000,v1=" SIG1, wrong, 1, T),
	    "no_matching_signature");
	ck_assert_str_eq(verify("t=1700000000,v1=" SIG1, one, 0, T),
	    "no_matching_signature");
}
END_TEST

START_TEST(several_v1)
{
	ck_assert_str_eq(verify("t=1700000000,v1=" BAD ",v1=" SIG1, one, 1, T),
	    "ok");
	ck_assert_str_eq(verify("t=1700000000,v1=" SIG1 ",v1=" BAD, one, 1, T),
	    "ok");
	ck_assert_str_eq(verify("t=1700000000,v1=zz,v1=" SIG1, one, 1, T),
	    "ok");
	/* Other schemes are ignored, spaces tolerated, order free. */
	ck_assert_str_eq(verify(" v0=" SIG1 " , v1=" SIG1 ",t=1700000000 ",
	    one, 1, T), "ok");
	ck_assert_str_eq(verify("t=1700000000,v2=x=y,v1=" SIG1, one, 1, T),
	    "ok");
	ck_assert_str_eq(verify("t=1700000000,\tv1=" SIG1, one, 1, T), "ok");
	/* The raw bytes are compared, so case does not matter. */
	ck_assert_str_eq(verify("t=1700000000,v1="
	    "E5DDB6702C6DE01BE007FAC03305EBF714BB5167D00BA071ACC39FED4D5368A5",
	    one, 1, T), "ok");
}
END_TEST

START_TEST(v1_cap)
{
	char	 hdr[1024];
	size_t	 n, i;

	n = (size_t)snprintf(hdr, sizeof(hdr), "t=1700000000");
	for (i = 0; i < STRIPE_SIG_MAX_V1 - 1; i++)
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, ",v1=" BAD);
	snprintf(hdr + n, sizeof(hdr) - n, ",v1=" SIG1);
	ck_assert_str_eq(verify(hdr, one, 1, T), "ok");
	snprintf(hdr + n, sizeof(hdr) - n, ",v1=" BAD ",v1=" SIG1);
	ck_assert_str_eq(verify(hdr, one, 1, T), "malformed_header");
}
END_TEST

START_TEST(tolerance)
{
	const char	*h = "t=1700000000,v1=" SIG1;

	ck_assert_str_eq(verify(h, one, 1, T + TOL), "ok");
	ck_assert_str_eq(verify(h, one, 1, T + TOL + 1),
	    "timestamp_out_of_tolerance");
	ck_assert_str_eq(verify(h, one, 1, T + 86400 * 365),
	    "timestamp_out_of_tolerance");
	ck_assert_str_eq(verify(h, one, 1, T - TOL), "ok");
	ck_assert_str_eq(verify(h, one, 1, T - TOL - 1),
	    "timestamp_out_of_tolerance");
	ck_assert_str_eq(verify(h, one, 1, 0), "timestamp_out_of_tolerance");
	ck_assert_str_eq(verify(h, one, 1, -9223372036854775807LL - 1),
	    "timestamp_out_of_tolerance");
	ck_assert_int_eq(stripe_sig_verify(h, BODY, strlen(BODY), one, 1, 0,
	    T, NULL), XERR_OK);
	ck_assert_int_eq(stripe_sig_verify(h, BODY, strlen(BODY), one, 1, -1,
	    T, NULL), XERR_BADREQ);
	/* A timestamp that is not the signed one fails the signature. */
	ck_assert_str_eq(verify("t=1700000001,v1=" SIG1, one, 1, T),
	    "no_matching_signature");
	/* Leading zeros: Stripe's parser reads 1700000000, so do we. */
	ck_assert_str_eq(verify("t=01700000000,v1=" SIG1, one, 1, T), "ok");
}
END_TEST

START_TEST(tampered_body)
{
	const char	*why = NULL;
	char		*body;

	ck_assert_ptr_nonnull(body = strdup(BODY));
	body[10] ^= 1;
	ck_assert_int_eq(stripe_sig_verify("t=1700000000,v1=" SIG1, body,
	    strlen(body), one, 1, TOL, T, &why), XERR_BADREQ);
	ck_assert_str_eq(why, "no_matching_signature");
	/* One byte short. */
	ck_assert_int_eq(stripe_sig_verify("t=1700000000,v1=" SIG1, BODY,
	    strlen(BODY) - 1, one, 1, TOL, T, &why), XERR_BADREQ);
	ck_assert_str_eq(why, "no_matching_signature");
	ck_assert_int_eq(stripe_sig_verify("t=1700000000,v1=" SIG1, NULL, 0,
	    one, 1, TOL, T, &why), XERR_BADREQ);
	ck_assert_str_eq(why, "no_matching_signature");
	free(body);
}
END_TEST

static const struct {
	const char	*hdr;
	const char	*why;
} bad[] = {
	{ NULL, "missing_header" },
	{ "", "missing_header" },
	{ " ", "malformed_header" },
	{ "v1=" SIG1, "malformed_header" },			/* no t */
	{ "t=abc,v1=" SIG1, "malformed_header" },
	{ "t=,v1=" SIG1, "malformed_header" },
	{ "t=-1700000000,v1=" SIG1, "malformed_header" },
	{ "t=+1700000000,v1=" SIG1, "malformed_header" },
	{ "t=1700000000x,v1=" SIG1, "malformed_header" },
	{ "t=1 700000000,v1=" SIG1, "malformed_header" },
	{ "t=99999999999999999999,v1=" SIG1, "malformed_header" },
	{ "t=1700000000,t=1700000000,v1=" SIG1, "malformed_header" },
	{ "t=1700000000,,v1=" SIG1, "malformed_header" },
	{ "t=1700000000,v1=" SIG1 ",", "malformed_header" },
	{ "t=1700000000;v1=" SIG1, "malformed_header" },
	{ "t=1700000000,v1", "malformed_header" },
	{ "t=1700000000", "no_v1_signature" },
	{ "t=1700000000,v0=" SIG1, "no_v1_signature" },
	{ "t=1700000000,V1=" SIG1, "no_v1_signature" },
	{ "t=1700000000,v1=", "no_matching_signature" },
	{ "t=1700000000,v1=" SIG1 "00", "no_matching_signature" },
	{ "t=1700000000,v1=zz" SIG1, "no_matching_signature" },
	{ "t=1700000000,v1=g5ddb6702c6de01be007fac03305ebf714bb5167d00ba071acc39fed4d5368a5",
	  "no_matching_signature" },
};

START_TEST(malformed)
{
	size_t	 i = (size_t)_i;

	ck_assert_str_eq(verify(bad[i].hdr, one, 1, T), bad[i].why);
}
END_TEST

START_TEST(huge_header)
{
	static const char pre[] = "t=1700000000,v1=" SIG1 ",v9=";
	char	*h;
	size_t	 n = STRIPE_SIG_MAX_HEADER + 1;

	/* A valid header padded with an ignored scheme past the cap. */
	ck_assert_ptr_nonnull(h = malloc(n + 1));
	memset(h, 'x', n);
	memcpy(h, pre, sizeof(pre) - 1);
	h[n] = '\0';
	ck_assert_str_eq(verify(h, one, 1, T), "malformed_header");
	/* At the cap exactly it is read. */
	h[n - 1] = '\0';
	ck_assert_str_eq(verify(h, one, 1, T), "ok");
	free(h);
}
END_TEST

static Suite *
stripe_sig_suite(void)
{
	Suite	*s = suite_create("stripe_sig");
	TCase	*tc;

	tc = tcase_create("accept");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, stripe_vector);
	tcase_add_test(tc, rotation);
	tcase_add_test(tc, several_v1);
	tcase_add_test(tc, v1_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, tolerance);
	tcase_add_test(tc, tampered_body);
	tcase_add_loop_test(tc, malformed, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, huge_header);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(stripe_sig_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
