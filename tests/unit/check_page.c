/*
 * Unit tests for common/app/page.c: the limit and cursor of the admin
 * lists, read from a query; the clock of a page that calls Twilio.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/cfg.h"
#include "core/kv.h"
#include "core/req.h"
#include "app/page.h"

static const struct page_spec plain = {
	50, 500, PAGE_NO_CURSOR, NULL, NULL, NULL, 0, 0,
};
static const struct page_spec by_id = {
	50, 100, PAGE_ID, "after", "bad_after", "after is an id", 0,
	INT64_MAX / 2,
};
static const struct page_spec by_user = {
	20, 100, PAGE_USER, "after", "bad_after", "after is a user", 0, 0,
};

/*
 * page_parse() of query q; *code and msg as it left them, pg->user copied
 * (the query's strings go with it).
 */
static enum xerr
parse(const char *q, const struct page_spec *spec, struct page *pg,
    const char **code, char *msg)
{
	static char	 user[128];
	struct kv	*kv = NULL;
	enum xerr	 rc;

	ck_assert_int_eq(kv_parse(q, strlen(q), &kv), XERR_OK);
	rc = page_parse(kv, spec, pg, code, msg, 128);
	snprintf(user, sizeof(user), "%s", pg->user ? pg->user : "(null)");
	pg->user = user;
	kv_free(kv);
	return rc;
}

START_TEST(limits)
{
	static const char *const bad[] = { "limit=0", "limit=501",
	    "limit=abc", "limit=-1", "limit=+5", "limit=%205", "limit=",
	    "limit=1e3", "limit=0000001", "limit=5x", "limit=1&limit=2" };
	struct page	 pg;
	const char	*code;
	char		 msg[128];
	size_t		 i;

	ck_assert_int_eq(parse("", &plain, &pg, &code, msg), XERR_OK);
	ck_assert_int_eq(pg.limit, 50);
	ck_assert_int_eq(parse("limit=500", &plain, &pg, &code, msg), XERR_OK);
	ck_assert_int_eq(pg.limit, 500);
	/* digits are digits */
	ck_assert_int_eq(parse("limit=010", &plain, &pg, &code, msg), XERR_OK);
	ck_assert_int_eq(pg.limit, 10);
	/* a cursor of a list that has none is not read */
	ck_assert_int_eq(parse("after=x&after=y", &plain, &pg, &code, msg),
	    XERR_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &plain, &pg, &code, msg) ==
		    XERR_BADREQ, "%s", bad[i]);
		ck_assert_str_eq(code, "bad_limit");
	}
	parse("limit=0", &plain, &pg, &code, msg);
	ck_assert_str_eq(msg, "limit must be a whole number from 1 to 500");
	parse("limit=1&limit=1", &plain, &pg, &code, msg);
	ck_assert_str_eq(msg, "limit given more than once");
	ck_assert_int_eq(page_parse(NULL, &by_id, &pg, &code, msg,
	    sizeof(msg)), XERR_OK);
	ck_assert_int_eq(pg.limit, 50);
	ck_assert_int_eq(pg.id, 0);
}
END_TEST

START_TEST(id_cursor)
{
	struct page	 pg;
	const char	*code;
	char		 msg[128];

	ck_assert_int_eq(parse("limit=2&after=41", &by_id, &pg, &code, msg),
	    XERR_OK);
	ck_assert_int_eq(pg.limit, 2);
	ck_assert_int_eq(pg.id, 41);
	ck_assert_int_eq(parse("after=0", &by_id, &pg, &code, msg), XERR_OK);
	ck_assert_int_eq(parse("after=-1", &by_id, &pg, &code, msg),
	    XERR_BADREQ);
	ck_assert_str_eq(code, "bad_after");
	ck_assert_str_eq(msg, "after is an id");
	ck_assert_int_eq(parse("after=1e3", &by_id, &pg, &code, msg),
	    XERR_BADREQ);
	ck_assert_int_eq(parse("after=5000000000000000000", &by_id, &pg, &code,
	    msg), XERR_BADREQ);
	ck_assert_int_eq(parse("after=1&after=2", &by_id, &pg, &code, msg),
	    XERR_BADREQ);
	ck_assert_str_eq(code, "bad_after");
	ck_assert_str_eq(msg, "after given more than once");
	/* the limit is read first */
	ck_assert_int_eq(parse("after=x&limit=0", &by_id, &pg, &code, msg),
	    XERR_BADREQ);
	ck_assert_str_eq(code, "bad_limit");
}
END_TEST

START_TEST(user_cursor)
{
	struct page	 pg;
	const char	*code;
	char		 msg[128];

	ck_assert_int_eq(parse("", &by_user, &pg, &code, msg), XERR_OK);
	ck_assert_str_eq(pg.user, "");
	ck_assert_int_eq(pg.limit, 20);
	ck_assert_int_eq(parse("after=", &by_user, &pg, &code, msg), XERR_OK);
	ck_assert_str_eq(pg.user, "");
	ck_assert_int_eq(parse("after=u_1-x", &by_user, &pg, &code, msg),
	    XERR_OK);
	ck_assert_str_eq(pg.user, "u_1-x");
	ck_assert_int_eq(parse("after=bad%20id", &by_user, &pg, &code, msg),
	    XERR_BADREQ);
	ck_assert_str_eq(code, "bad_after");
	ck_assert_str_eq(msg, "after is a user");
	ck_assert_int_eq(parse("limit=101", &by_user, &pg, &code, msg),
	    XERR_BADREQ);
	ck_assert_str_eq(code, "bad_limit");
}
END_TEST

/*
 * A call is started while one of HTTP_INTERACTIVE_TIMEOUT_MS still ends
 * PAGE_MARGIN_MS before nginx's PAGE_UPSTREAM_MS; the first always.
 */
START_TEST(time_for_call)
{
	struct cfg	 cfg;
	struct req	 r;
	int64_t		 t0;

	memset(&cfg, 0, sizeof(cfg));
	memset(&r, 0, sizeof(r));
	cfg.http_interactive_timeout_ms = 8000;
	r.cfg = &cfg;
	page_clock_start(&t0);
	ck_assert_int_ge(page_clock_ms(t0), 0);
	ck_assert_int_lt(page_clock_ms(t0), 1000);
	ck_assert_int_eq(page_time_for_call(&r, t0, 0), 1);
	ck_assert_int_eq(page_time_for_call(&r, t0, 5), 1);
	/* 16 s gone: 9 s left, a call of 8 s still ends in time. */
	ck_assert_int_eq(page_time_for_call(&r, t0 - 16000, 5), 1);
	/* 18 s gone: 7 s left, not enough; the first call is made anyway. */
	ck_assert_int_eq(page_time_for_call(&r, t0 - 18000, 5), 0);
	ck_assert_int_eq(page_time_for_call(&r, t0 - 18000, 0), 1);
	ck_assert_int_ge(page_clock_ms(t0 - 18000), 18000);
}
END_TEST

static Suite *
page_suite(void)
{
	Suite	*s = suite_create("page");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, limits);
	tcase_add_test(tc, id_cursor);
	tcase_add_test(tc, user_cursor);
	suite_add_tcase(s, tc);
	tc = tcase_create("clock");
	tcase_add_test(tc, time_for_call);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(page_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
