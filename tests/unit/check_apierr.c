/*
 * Unit tests for common/app/apierr.c: rows found, defaults, "any other",
 * messages with and without the detail, and the reply written.
 */
#include <check.h>
#include <string.h>

#include "core/cfg.h"
#include "core/req.h"
#include "app/apierr.h"
#include "memio.h"

static const struct apierr table[] = {
	{ XERR_NOTFOUND, 401, "unauthorized", NULL },
	{ XERR_CONFLICT, 0, "already_has_number", "you have %s already" },
	{ XERR_UNPROCESSABLE, 502, "twilio_error", "Twilio: %s!" },
	{ XERR_DB, 503, NULL, "no %s here, no percent %d" },
	{ XERR_OK, 0, NULL, NULL },
	{ XERR_BADREQ, 0, "after_the_end", NULL },
};

static const struct apierr any[] = {
	{ XERR_NOTFOUND, 0, "no_such_subscription", NULL },
	{ APIERR_ANY, 502, "stripe_refused", NULL },
	{ XERR_UPSTREAM, 0, "never_reached", NULL },
	{ XERR_OK, 0, NULL, NULL },
};

START_TEST(find_rows_and_defaults)
{
	struct apierr	 e;

	apierr_find(table, XERR_NOTFOUND, &e);
	ck_assert_int_eq(e.err, XERR_NOTFOUND);
	ck_assert_int_eq(e.status, 401);
	ck_assert_str_eq(e.code, "unauthorized");
	ck_assert_ptr_null(e.message);
	/* status 0: the error's own */
	apierr_find(table, XERR_CONFLICT, &e);
	ck_assert_int_eq(e.status, 409);
	ck_assert_str_eq(e.code, "already_has_number");
	/* code NULL: the error's own code, at the row's status */
	apierr_find(table, XERR_DB, &e);
	ck_assert_int_eq(e.status, 503);
	ck_assert_str_eq(e.code, "database_error");
	/* no row: the error as it is; rows after the end are not read */
	apierr_find(table, XERR_BADREQ, &e);
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.code, "bad_request");
	ck_assert_ptr_null(e.message);
	apierr_find(NULL, XERR_NOMEM, &e);
	ck_assert_int_eq(e.status, 500);
	ck_assert_str_eq(e.code, "out_of_memory");
	/* A database away or busy, no row: worth trying again, as req_fail */
	apierr_find(table, XERR_DB_GONE, &e);
	ck_assert_int_eq(e.status, 503);
	ck_assert_str_eq(e.code, "database_unavailable");
	ck_assert_str_eq(e.extra, "Retry-After: 1\r\n");
	apierr_find(NULL, XERR_DEADLOCK, &e);
	ck_assert_int_eq(e.status, 503);
	ck_assert_str_eq(e.code, "database_unavailable");
	/* ...and any other database error is not: 500 */
	apierr_find(NULL, XERR_DB, &e);
	ck_assert_int_eq(e.status, 500);
	ck_assert_str_eq(e.code, "database_error");
	ck_assert_ptr_null(e.extra);
	/* a row that names it decides */
	apierr_find(any, XERR_DB_GONE, &e);
	ck_assert_int_eq(e.status, 502);
}
END_TEST

START_TEST(find_any_other)
{
	struct apierr	 e;

	apierr_find(any, XERR_NOTFOUND, &e);
	ck_assert_str_eq(e.code, "no_such_subscription");
	ck_assert_int_eq(e.status, 404);
	/* APIERR_ANY takes every other error, rows after it are never reached */
	apierr_find(any, XERR_UPSTREAM, &e);
	ck_assert_int_eq(e.err, XERR_UPSTREAM);
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.code, "stripe_refused");
	apierr_find(any, XERR_NOMEM, &e);
	ck_assert_int_eq(e.status, 502);
}
END_TEST

START_TEST(messages)
{
	struct apierr	 e;
	char		 m[32];

	apierr_find(table, XERR_NOTFOUND, &e);
	apierr_message(&e, "cannot read the user", m, sizeof(m));
	ck_assert_str_eq(m, "cannot read the user");
	apierr_message(&e, NULL, m, sizeof(m));
	ck_assert_str_eq(m, "");
	apierr_find(table, XERR_UNPROCESSABLE, &e);
	apierr_message(&e, "down", m, sizeof(m));
	ck_assert_str_eq(m, "Twilio: down!");
	/* only the first %s is the detail; nothing else is a format */
	apierr_find(table, XERR_DB, &e);
	apierr_message(&e, "%s%n", m, sizeof(m));
	ck_assert_str_eq(m, "no %s%n here, no percent %d");
	/* cut to fit */
	apierr_find(table, XERR_CONFLICT, &e);
	apierr_message(&e, "+15550100000 and more and more", m, sizeof(m));
	ck_assert_uint_eq(strlen(m), sizeof(m) - 1);
	ck_assert_int_eq(strncmp(m, "you have +15550100000", 21), 0);
}
END_TEST

START_TEST(reply_written)
{
	struct cfg	 tcfg;
	struct mem	 mem;
	struct req	 r;
	char		*env[] = { NULL };

	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.max_body = 64;
	memset(&mem, 0, sizeof(mem));
	ck_assert_int_eq(req_open(&r, &tcfg, env, mem_read, mem_write, &mem),
	    XERR_OK);
	apierr_reply(&r, table, XERR_UNPROCESSABLE, "no \"such\" number");
	ck_assert_int_eq(r.status, 502);
	ck_assert_ptr_nonnull(strstr(mem.out, "Status: 502 "));
	ck_assert_ptr_nonnull(strstr(mem.out, "{\"error\":{\"code\":"
	    "\"twilio_error\",\"message\":\"Twilio: no \\\"such\\\" "
	    "number!\"}}"));
	req_clear(&r);
}
END_TEST

static const struct apierr busy[] = {
	{ XERR_UNAVAILABLE, 503, "stripe_busy", "could not %s",
	    "Retry-After: 5\r\n" },
	{ XERR_OK, 0, NULL, NULL, NULL },
};

START_TEST(reply_extra_headers)
{
	struct cfg	 tcfg;
	struct mem	 mem;
	struct req	 r;
	char		*env[] = { NULL };

	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.max_body = 64;
	memset(&mem, 0, sizeof(mem));
	ck_assert_int_eq(req_open(&r, &tcfg, env, mem_read, mem_write, &mem),
	    XERR_OK);
	apierr_reply(&r, busy, XERR_UNAVAILABLE, "pay");
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(strstr(mem.out, "Retry-After: 5\r\n"));
	ck_assert_ptr_nonnull(strstr(mem.out, "\"could not pay\""));
	req_clear(&r);
	/* a row without extra headers writes none */
	memset(&mem, 0, sizeof(mem));
	ck_assert_int_eq(req_open(&r, &tcfg, env, mem_read, mem_write, &mem),
	    XERR_OK);
	apierr_reply(&r, table, XERR_UNPROCESSABLE, "x");
	ck_assert_ptr_null(strstr(mem.out, "Retry-After"));
	req_clear(&r);
}
END_TEST

static Suite *
apierr_suite(void)
{
	Suite	*s = suite_create("apierr");
	TCase	*tc = tcase_create("tables");

	tcase_add_test(tc, find_rows_and_defaults);
	tcase_add_test(tc, find_any_other);
	tcase_add_test(tc, messages);
	tcase_add_test(tc, reply_written);
	tcase_add_test(tc, reply_extra_headers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(apierr_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
