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

static Suite *
usage_suite(void)
{
	Suite	*s = suite_create("usage");
	TCase	*tc;

	tc = tcase_create("period");
	tcase_add_test(tc, live);
	tcase_add_loop_test(tc, pick, 0,
	    (int)(sizeof(picks) / sizeof(picks[0])));
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
