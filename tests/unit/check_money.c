#include <stdint.h>
#include <string.h>

#include <check.h>

#include "domain/money.h"

#define UNL	MONEY_UNLIMITED

/* One invoice line: units at a rate, the cents expected, the result. */
static const struct {
	int64_t		 units, rate_hc, cents;
	enum xerr	 rc;
} lines[] = {
	{ 0, MONEY_VOICE_RATE_HC, 0, XERR_OK },
	{ 1, MONEY_VOICE_RATE_HC, 1, XERR_OK },		/* 1.3 -> 1 */
	{ 5, MONEY_VOICE_RATE_HC, 7, XERR_OK },		/* 6.5 -> 7 */
	{ 50, MONEY_VOICE_RATE_HC, 65, XERR_OK },
	{ 1, MONEY_SMS_RATE_HC, 1, XERR_OK },		/* 0.75 -> 1 */
	{ 2, MONEY_SMS_RATE_HC, 2, XERR_OK },		/* 1.5 -> 2 */
	{ 20, MONEY_SMS_RATE_HC, 15, XERR_OK },
	{ 3, 49, 1, XERR_OK },				/* 1.47 -> 1 */
	{ 1, 49, 0, XERR_OK },				/* 0.49 -> 0 */
	{ 1, 50, 1, XERR_OK },				/* 0.50 -> 1 */
	{ 1000000000000000LL, MONEY_VOICE_RATE_HC,
	  1300000000000000LL, XERR_OK },		/* 10^15 minutes */
	{ 1000000000000000LL, MONEY_SMS_RATE_HC,
	  750000000000000LL, XERR_OK },
	{ 100000000000000000LL, MONEY_VOICE_RATE_HC, 0,
	  XERR_UNPROCESSABLE },				/* 1.3e19 hc */
	{ INT64_MAX, 1, 0, XERR_UNPROCESSABLE },	/* + 50 overflows */
	{ INT64_MAX - 50, 1, INT64_MAX / 100, XERR_OK },
	{ -1, MONEY_VOICE_RATE_HC, 0, XERR_BADREQ },
	{ 1, -1, 0, XERR_BADREQ },
};

START_TEST(line_cents)
{
	int64_t	 cents = -42;
	size_t	 i = (size_t)_i;

	ck_assert_int_eq(money_line_cents(lines[i].units, lines[i].rate_hc,
	    &cents), lines[i].rc);
	ck_assert_int_eq(cents, lines[i].cents);
}
END_TEST

START_TEST(voice_minutes)
{
	ck_assert_int_eq(money_voice_minutes(0), 0);
	ck_assert_int_eq(money_voice_minutes(1), 1);
	ck_assert_int_eq(money_voice_minutes(59), 1);
	ck_assert_int_eq(money_voice_minutes(60), 1);
	ck_assert_int_eq(money_voice_minutes(61), 2);
	ck_assert_int_eq(money_voice_minutes(120), 2);
	ck_assert_int_eq(money_voice_minutes(121), 3);
	ck_assert_int_eq(money_voice_minutes(-5), 0);
	ck_assert_int_eq(money_voice_minutes(INT64_MIN), 0);
	ck_assert_int_eq(money_voice_minutes(INT64_MAX),
	    (INT64_MAX - 1) / 60 + 1);
}
END_TEST

START_TEST(overage_units)
{
	ck_assert_int_eq(money_overage_units(150, 100), 50);
	ck_assert_int_eq(money_overage_units(100, 100), 0);
	ck_assert_int_eq(money_overage_units(99, 100), 0);
	ck_assert_int_eq(money_overage_units(0, 0), 0);
	ck_assert_int_eq(money_overage_units(7, 0), 7);
	ck_assert_int_eq(money_overage_units(1000000, UNL), 0);
	ck_assert_int_eq(money_overage_units(-3, 0), 0);
	ck_assert_int_eq(money_overage_units(INT64_MAX, 0), INT64_MAX);
}
END_TEST

/* A bill: the usage, then the expected lines. */
static const struct {
	const char		*name;
	struct money_usage	 u;
	struct money_bill	 want;
	enum xerr		 rc;
} bills[] = {
	{ "voice 150 on 100", { 150, 0, 100, 100, 0, MONEY_PHONE_FEE_CENTS },
	  { 50, 65, 0, 0, 0, 65 }, XERR_OK },
	{ "sms 120 on 100", { 0, 120, 100, 100, 0, MONEY_PHONE_FEE_CENTS },
	  { 0, 0, 20, 15, 0, 15 }, XERR_OK },
	{ "both and a phone", { 150, 120, 100, 100, 1, MONEY_PHONE_FEE_CENTS },
	  { 50, 65, 20, 15, 500, 580 }, XERR_OK },
	{ "nothing used", { 0, 0, 100, 100, 0, MONEY_PHONE_FEE_CENTS },
	  { 0, 0, 0, 0, 0, 0 }, XERR_OK },
	{ "unlimited", { 100000, 100000, UNL, UNL, 0, MONEY_PHONE_FEE_CENTS },
	  { 0, 0, 0, 0, 0, 0 }, XERR_OK },
	{ "half up per line", { 105, 102, 100, 100, 0, MONEY_PHONE_FEE_CENTS },
	  { 5, 7, 2, 2, 0, 9 }, XERR_OK },		/* 6.5 and 1.5 */
	{ "one minute", { 1, 0, 0, 0, 0, MONEY_PHONE_FEE_CENTS },
	  { 1, 1, 0, 0, 0, 1 }, XERR_OK },		/* 1.3 */
	{ "two phone periods", { 0, 0, 0, 0, 2, MONEY_PHONE_FEE_CENTS },
	  { 0, 0, 0, 0, 1000, 1000 }, XERR_OK },
	{ "large", { 1000000000000000LL, 1000000000000000LL, 0, 0, 1,
	  MONEY_PHONE_FEE_CENTS },
	  { 1000000000000000LL, 1300000000000000LL, 1000000000000000LL,
	    750000000000000LL, 500, 2050000000000500LL }, XERR_OK },
	{ "voice overflow", { 100000000000000000LL, 0, 0, 0, 0, 500 },
	  { 0 }, XERR_UNPROCESSABLE },
	{ "phone overflow", { 0, 0, 0, 0, INT64_MAX, 500 },
	  { 0 }, XERR_UNPROCESSABLE },
	{ "total overflow", { 1, 0, 0, 0, 1, INT64_MAX }, { 0 },
	  XERR_UNPROCESSABLE },
	{ "negative usage", { -1, 0, 0, 0, 0, 500 }, { 0 }, XERR_BADREQ },
	{ "negative periods", { 0, 0, 0, 0, -1, 500 }, { 0 }, XERR_BADREQ },
	{ "allowance -2", { 0, 0, -2, 0, 0, 500 }, { 0 }, XERR_BADREQ },
};

START_TEST(bill)
{
	struct money_bill	 b;
	size_t			 i = (size_t)_i;

	memset(&b, 0x55, sizeof(b));
	ck_assert_msg(money_bill(&bills[i].u, &b) == bills[i].rc, "%s",
	    bills[i].name);
	ck_assert_msg(b.voice_units == bills[i].want.voice_units &&
	    b.voice_cents == bills[i].want.voice_cents &&
	    b.sms_units == bills[i].want.sms_units &&
	    b.sms_cents == bills[i].want.sms_cents &&
	    b.phone_cents == bills[i].want.phone_cents &&
	    b.total_cents == bills[i].want.total_cents,
	    "%s: got %lld/%lld %lld/%lld %lld = %lld", bills[i].name,
	    (long long)b.voice_units, (long long)b.voice_cents,
	    (long long)b.sms_units, (long long)b.sms_cents,
	    (long long)b.phone_cents, (long long)b.total_cents);
}
END_TEST

static const struct {
	int64_t		 cents;
	const char	*want;
} formats[] = {
	{ 0, "$0.00" },
	{ 5, "$0.05" },
	{ 65, "$0.65" },
	{ 100, "$1.00" },
	{ -100, "-$1.00" },
	{ -5, "-$0.05" },
	{ 99999, "$999.99" },
	{ 100000, "$1,000.00" },
	{ 123456, "$1,234.56" },
	{ 12345678, "$123,456.78" },
	{ 123456789, "$1,234,567.89" },
	{ INT64_MAX, "$92,233,720,368,547,758.07" },
	{ INT64_MIN, "-$92,233,720,368,547,758.08" },
};

START_TEST(format)
{
	char	 out[64];
	size_t	 i = (size_t)_i;

	money_format(formats[i].cents, out, sizeof(out));
	ck_assert_str_eq(out, formats[i].want);
}
END_TEST

START_TEST(format_truncates)
{
	char	 out[6];

	money_format(123456, out, sizeof(out));
	ck_assert_str_eq(out, "$1,23");
	money_format(123456, out, 0);	/* must not write */
}
END_TEST

/* Amounts in other currencies' smallest units, written out by hand. */
static const struct {
	const char	*currency;
	int64_t		 amount;
	int		 exponent;
	const char	*want;
} minors[] = {
	{ "eur", 123456, 2, "1,234.56" },
	{ "EUR", -50, 2, "-0.50" },
	{ "jpy", 1200, 0, "1,200" },
	{ "JPY", 0, 0, "0" },
	{ "krw", -1234567, 0, "-1,234,567" },
	{ "ugx", 5000, 0, "5,000" },
	{ "xpf", 999, 0, "999" },
	{ "kwd", 5124, 3, "5.124" },
	{ "BHD", 1000000, 3, "1,000.000" },
	{ "tnd", 7, 3, "0.007" },
	{ "omr", -1005, 3, "-1.005" },
	{ "isk", 500, 2, "5.00" },		/* Stripe: two decimals */
	{ "huf", 123456, 2, "1,234.56" },
	{ "xx", 100, 2, "1.00" },		/* not a code: hundredths */
	{ NULL, 100, 2, "1.00" },
};

START_TEST(format_minor)
{
	char	 out[64];
	size_t	 i = (size_t)_i;

	ck_assert_int_eq(money_exponent(minors[i].currency),
	    minors[i].exponent);
	money_format_minor(minors[i].amount, minors[i].exponent, out,
	    sizeof(out));
	ck_assert_str_eq(out, minors[i].want);
}
END_TEST

START_TEST(format_minor_edges)
{
	char	 out[64];

	money_format_minor(INT64_MIN, 0, out, sizeof(out));
	ck_assert_str_eq(out, "-9,223,372,036,854,775,808");
	money_format_minor(INT64_MAX, 3, out, sizeof(out));
	ck_assert_str_eq(out, "9,223,372,036,854,775.807");
	money_format_minor(123456, 7, out, sizeof(out));	/* as 2 */
	ck_assert_str_eq(out, "1,234.56");
	money_format_minor(123456, 2, out, 4);
	ck_assert_str_eq(out, "1,2");
}
END_TEST

#define P30	2592000		/* 30 days in seconds */

/* A plan change: prices, period, now; the lines expected. */
static const struct {
	const char	*name;
	int64_t		 oldp, newp, start, end, now;
	int64_t		 credit, charge, net, remaining;
	enum xerr	 rc;
} prorations[] = {
	{ "half left, $40 to $280", 4000, 28000, 0, P30, P30 / 2,
	  -2000, 14000, 12000, P30 / 2, XERR_OK },
	{ "a third left, $40 to $280", 4000, 28000, 1000, 1000 + P30,
	  1000 + 2 * P30 / 3, -1333, 9333, 8000, P30 / 3, XERR_OK },
	{ "downgrade $280 to $40, a third left", 28000, 4000, 0, P30,
	  2 * P30 / 3, -9333, 1333, -8000, P30 / 3, XERR_OK },
	{ "Stripe's example, $10 to $20 half-way", 1000, 2000, 0, P30,
	  P30 / 2, -500, 1000, 500, P30 / 2, XERR_OK },
	{ "at the start", 4000, 28000, 0, P30, 0,
	  -4000, 28000, 24000, P30, XERR_OK },
	{ "before the start is the start", 4000, 28000, 100, 100 + P30, 5,
	  -4000, 28000, 24000, P30, XERR_OK },
	{ "at the end", 4000, 28000, 0, P30, P30, 0, 0, 0, 0, XERR_OK },
	{ "after the end", 4000, 28000, 0, P30, P30 + 99, 0, 0, 0, 0,
	  XERR_OK },
	/* 1 s left of 4 s: 0.25 and 0.5 cents -> 0 and 1. */
	{ "ties round up", 1, 2, 0, 4, 3, 0, 1, 1, 1, XERR_OK },
	/* 999 * 1/2 = 499.5 -> 500 on each line. */
	{ "half cent each line", 999, 999, 0, 2, 1, -500, 500, 0, 1,
	  XERR_OK },
	{ "huge price", INT64_MAX, INT64_MAX, 0, P30, P30 / 2,
	  -(INT64_MAX / 2 + 1), INT64_MAX / 2 + 1, 0, P30 / 2, XERR_OK },
	{ "empty period", 4000, 28000, 10, 10, 10, 0, 0, 0, 0, XERR_BADREQ },
	{ "reversed period", 4000, 28000, 10, 5, 7, 0, 0, 0, 0, XERR_BADREQ },
	{ "negative price", -1, 28000, 0, P30, 0, 0, 0, 0, 0, XERR_BADREQ },
	{ "period overflow", 1, 1, INT64_MIN, INT64_MAX, 0, 0, 0, 0, 0,
	  XERR_BADREQ },
};

START_TEST(prorate)
{
	struct money_proration	 p;
	size_t			 i = (size_t)_i;

	memset(&p, 0x55, sizeof(p));
	ck_assert_msg(money_prorate(prorations[i].oldp, prorations[i].newp,
	    prorations[i].start, prorations[i].end, prorations[i].now, &p) ==
	    prorations[i].rc, "%s", prorations[i].name);
	ck_assert_msg(p.credit_cents == prorations[i].credit &&
	    p.charge_cents == prorations[i].charge &&
	    p.net_cents == prorations[i].net &&
	    p.remaining_seconds == prorations[i].remaining,
	    "%s: got %lld %lld %lld rem %lld", prorations[i].name,
	    (long long)p.credit_cents, (long long)p.charge_cents,
	    (long long)p.net_cents, (long long)p.remaining_seconds);
	if (prorations[i].rc == XERR_OK)
		ck_assert_int_eq(p.period_seconds,
		    prorations[i].end - prorations[i].start);
}
END_TEST

static Suite *
money_suite(void)
{
	Suite	*s = suite_create("money");
	TCase	*tc;

	tc = tcase_create("line");
	tcase_add_loop_test(tc, line_cents, 0,
	    (int)(sizeof(lines) / sizeof(lines[0])));
	tcase_add_test(tc, voice_minutes);
	tcase_add_test(tc, overage_units);
	suite_add_tcase(s, tc);

	tc = tcase_create("bill");
	tcase_add_loop_test(tc, bill, 0,
	    (int)(sizeof(bills) / sizeof(bills[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_loop_test(tc, format, 0,
	    (int)(sizeof(formats) / sizeof(formats[0])));
	tcase_add_test(tc, format_truncates);
	tcase_add_loop_test(tc, format_minor, 0,
	    (int)(sizeof(minors) / sizeof(minors[0])));
	tcase_add_test(tc, format_minor_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("prorate");
	tcase_add_loop_test(tc, prorate, 0,
	    (int)(sizeof(prorations) / sizeof(prorations[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(money_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
