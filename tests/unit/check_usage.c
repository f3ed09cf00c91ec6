/*
 * Tests the one period model of domain/usage.h (docs/BILLING.md,
 * "Periods"): which subscription is live, and the period that holds a
 * moment.  The expected bounds are written out here (UTC calendar months
 * computed by hand), not derived from the code under test.
 */
#include <stdint.h>

#include <check.h>

#include "domain/usage.h"

#define DEC_1		1796083200LL	/* 2026-12-01T00:00:00Z */
#define JAN_1		1798761600LL	/* 2027-01-01T00:00:00Z */
#define DEC_5_17H	1796490000LL	/* 2026-12-05T17:00:00Z */
#define NOV_1		1793491200LL	/* 2026-11-01T00:00:00Z */
#define FEB_1		1769904000LL	/* 2026-02-01T00:00:00Z */
#define MAR_1		1772323200LL	/* 2026-03-01T00:00:00Z */

START_TEST(live)
{
	ck_assert_int_eq(usage_sub_live("active", 0), 1);
	ck_assert_int_eq(usage_sub_live("trialing", 0), 1);
	ck_assert_int_eq(usage_sub_live("past_due", 0), 1);
	ck_assert_int_eq(usage_sub_live("unpaid", 0), 1);
	ck_assert_int_eq(usage_sub_live("incomplete", 0), 1);
	ck_assert_int_eq(usage_sub_live("canceled", 0), 0);
	ck_assert_int_eq(usage_sub_live("incomplete_expired", 0), 0);
	ck_assert_int_eq(usage_sub_live("active", 1), 0);
	ck_assert_int_eq(usage_sub_live(NULL, 0), 0);
}
END_TEST

/* live, the subscription's period, the moment: what is picked. */
static const struct {
	int		 live;
	int64_t		 s, e, at;
	int		 sub;		/* 1: the subscription's period */
	int64_t		 start, end;
} picks[] = {
	/* A live period holding the moment: it, whatever the month. */
	{ 1, DEC_1 + 3600, JAN_1 + 3600, DEC_5_17H, 1,
	  DEC_1 + 3600, JAN_1 + 3600 },
	{ 1, NOV_1 + 86400 * 20, DEC_1 + 86400 * 20, DEC_5_17H, 1,
	  NOV_1 + 86400 * 20, DEC_1 + 86400 * 20 },
	/* Start included, end excluded. */
	{ 1, DEC_5_17H, DEC_5_17H + 100, DEC_5_17H, 1,
	  DEC_5_17H, DEC_5_17H + 100 },
	{ 1, DEC_5_17H - 100, DEC_5_17H, DEC_5_17H, 0, DEC_1, JAN_1 },
	/* Not live (canceled, deleted, none): the calendar month. */
	{ 0, DEC_1 + 3600, JAN_1 + 3600, DEC_5_17H, 0, DEC_1, JAN_1 },
	/* Live but its period is over, or not a period: the month. */
	{ 1, NOV_1, DEC_1, DEC_5_17H, 0, DEC_1, JAN_1 },
	{ 1, 0, 0, DEC_5_17H, 0, DEC_1, JAN_1 },
	{ 1, JAN_1, DEC_1, DEC_5_17H, 0, DEC_1, JAN_1 },
	/* A month's edges: its first second, and February's last. */
	{ 0, 0, 0, DEC_1, 0, DEC_1, JAN_1 },
	{ 0, 0, 0, MAR_1 - 1, 0, FEB_1, MAR_1 },
	{ 0, 0, 0, MAR_1, 0, MAR_1, MAR_1 + 31 * 86400 },
};

START_TEST(pick)
{
	size_t	 i = (size_t)_i;
	int64_t	 start = -1, end = -1;
	int	 sub;

	sub = usage_period_pick(picks[i].live, picks[i].s, picks[i].e,
	    picks[i].at, &start, &end);
	ck_assert_msg(sub == picks[i].sub, "pick %zu: sub %d", i, sub);
	ck_assert_msg(start == picks[i].start && end == picks[i].end,
	    "pick %zu: [%lld, %lld)", i, (long long)start, (long long)end);
}
END_TEST

/*
 * One calendar month later, as Stripe's monthly periods run: the same day,
 * or the next month's last when it has fewer days.  The Unix times (UTC)
 * are Python's datetime's, not ours.
 */
static const struct {
	int64_t	 t, want;
} months[] = {
	{ 1801389600, 1803808800 },	/* 2027-01-31 10:00 -> 2027-02-28 10:00 */
	{ 1832925600, 1835431200 },	/* 2028-01-31 10:00 -> 2028-02-29 10:00 */
	{ 1806487200, 1809079200 },	/* 2027-03-31 10:00 -> 2027-04-30 10:00 */
	{ 1827309600, 1829901600 },	/* 2027-11-27 10:00 -> 2027-12-27 10:00 */
	{ 1830247200, 1832925600 },	/* 2027-12-31 10:00 -> 2028-01-31 10:00 */
	{ 1801440000, 1803859200 },	/* 2027-02-01 00:00 -> 2027-03-01 00:00 */
};

START_TEST(add_month)
{
	size_t	 i = (size_t)_i;

	ck_assert_msg(usage_add_month(months[i].t) == months[i].want,
	    "month %zu: %lld", i, (long long)usage_add_month(months[i].t));
}
END_TEST

static Suite *
usage_suite(void)
{
	Suite	*s = suite_create("usage");
	TCase	*tc;

	tc = tcase_create("period");
	tcase_add_test(tc, live);
	tcase_add_loop_test(tc, pick, 0,
	    (int)(sizeof(picks) / sizeof(picks[0])));
	tcase_add_loop_test(tc, add_month, 0,
	    (int)(sizeof(months) / sizeof(months[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(usage_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
