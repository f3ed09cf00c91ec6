/*
 * Unit tests for common/domain/tiers.c without a database: the Stripe
 * prices of the paid tiers, as the configuration gives them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "domain/tiers.h"

static char	 p_sec[] = "price_sec_2026", p_sec_old[] = "price_sec_2024";
static char	 p_sec_older[] = "price_sec_2023", p_pm[] = "price_pm";

/* A configuration of two paid tiers, ai_secretary with older prices. */
static void
prices(struct cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->stripe_price_secretary.id[0] = p_sec;
	cfg->stripe_price_secretary.id[1] = p_sec_old;
	cfg->stripe_price_secretary.id[2] = p_sec_older;
	cfg->stripe_price_secretary.n = 3;
	cfg->stripe_price_project_manager.id[0] = p_pm;
	cfg->stripe_price_project_manager.n = 1;
}

/* Every price of a tier is read as the tier; it is sold at the first. */
START_TEST(tiers_prices_listed)
{
	struct cfg	 cfg;

	prices(&cfg);
	ck_assert_str_eq(tiers_by_price(&cfg, "price_sec_2026"),
	    "ai_secretary");
	ck_assert_str_eq(tiers_by_price(&cfg, "price_sec_2024"),
	    "ai_secretary");
	ck_assert_str_eq(tiers_by_price(&cfg, "price_sec_2023"),
	    "ai_secretary");
	ck_assert_str_eq(tiers_by_price(&cfg, "price_pm"),
	    "ai_project_manager");
	ck_assert_str_eq(tiers_price(&cfg, "ai_secretary"), "price_sec_2026");
	ck_assert_str_eq(tiers_price(&cfg, "ai_project_manager"), "price_pm");
}
END_TEST

/* An unknown price is no tier, never a guessed one. */
START_TEST(tiers_prices_unknown)
{
	struct cfg	 cfg;

	prices(&cfg);
	ck_assert_ptr_null(tiers_by_price(&cfg, "price_sec"));
	ck_assert_ptr_null(tiers_by_price(&cfg, "price_sec_2026,"));
	ck_assert_ptr_null(tiers_by_price(&cfg, ""));
	ck_assert_ptr_null(tiers_by_price(&cfg, NULL));
	ck_assert_ptr_null(tiers_price(&cfg, "ai_cto"));	/* none */
	ck_assert_ptr_null(tiers_price(&cfg, TIERS_FREE));
	ck_assert_ptr_null(tiers_price(&cfg, NULL));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("tiers");
	TCase	*tc = tcase_create("prices");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, tiers_prices_listed);
	tcase_add_test(tc, tiers_prices_unknown);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
