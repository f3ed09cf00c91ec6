/*
 * Unit tests for common/domain/events.c without a database: parsing a
 * delivery's body, the failure note, and the batch's read-ahead (a
 * customer asked for and not found is a trusted miss).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/xerr.h"
#include "store/users.h"
#include "domain/events.h"

static struct cfg	 cfg;

static enum xerr
parse(struct events_ev *ev, const char *body, char *err, size_t errsz)
{
	return events_parse(ev, &cfg, body, strlen(body), err, errsz);
}

START_TEST(events_parse_ok)
{
	struct events_ev ev;
	char		 err[128] = "";
	const char	*body = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\","
	    "\"created\":1700000000,\"livemode\":true,"
	    "\"api_version\":\"2026-10-28.endive\","
	    "\"data\":{\"object\":{\"id\":\"in_1\",\"customer\":\"cus_1\"}}}";

	ck_assert_int_eq(parse(&ev, body, err, sizeof(err)), XERR_OK);
	ck_assert_str_eq(ev.id, "evt_1");
	ck_assert_str_eq(ev.type, "invoice.paid");
	ck_assert_int_eq(ev.created, 1700000000);
	ck_assert_int_eq(ev.livemode, 1);
	ck_assert_str_eq(ev.api_version, "2026-10-28.endive");
	ck_assert_str_eq(ev.object_id, "in_1");
	ck_assert_ptr_eq(ev.payload, body);
	ck_assert_uint_eq(ev.len, strlen(body));
	ck_assert_ptr_null(ev.t);	/* set by evstore (apply_lookup) */
	ck_assert_ptr_eq(ev.cfg, &cfg);
	events_free(&ev);
	ck_assert_ptr_null(ev.root);
}
END_TEST

START_TEST(events_parse_optional_fields)
{
	struct events_ev ev;
	char		 err[128] = "";

	/* A version too long and an object id that is no Stripe id: NULL. */
	ck_assert_int_eq(parse(&ev, "{\"id\":\"evt_2\",\"type\":\"x.y\","
	    "\"created\":1,\"api_version\":\"0123456789012345678901234567890"
	    "123\",\"data\":{\"object\":{\"id\":\"in \\u00e9\"}}}", err,
	    sizeof(err)), XERR_OK);
	ck_assert_ptr_null(ev.api_version);
	ck_assert_ptr_null(ev.object_id);
	ck_assert_int_eq(ev.livemode, 0);
	events_free(&ev);
}
END_TEST

START_TEST(events_parse_refused)
{
	static const char *bad[] = {
		"{\"type\":\"a.b\",\"created\":1,\"data\":{\"object\":{}}}",
		"{\"id\":\"evt_1\",\"created\":1,\"data\":{\"object\":{}}}",
		"{\"id\":\"evt_1\",\"type\":\"a.b\",\"data\":{\"object\":{}}}",
		"{\"id\":\"evt_1\",\"type\":\"a.b\",\"created\":1}",
		"{\"id\":\"evt_1\",\"type\":\"a.b\",\"created\":1,"
		    "\"data\":{\"object\":[]}}",
		"{\"id\":\"evt_1\",\"type\":\"a.b\",\"created\":\"1\","
		    "\"data\":{\"object\":{}}}",
	};
	struct events_ev ev;
	char		 err[128];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(parse(&ev, bad[i], err, sizeof(err)) ==
		    XERR_BADREQ, "accepted %s", bad[i]);
		ck_assert_str_eq(err, "event needs id, type, created and "
		    "data.object");
		events_free(&ev);
	}
	ck_assert_int_eq(parse(&ev, "{\"id\":", err, sizeof(err)),
	    XERR_BADREQ);
	ck_assert_str_eq(err, "body is not valid JSON");
	events_free(&ev);
}
END_TEST

START_TEST(events_fail_scrubbed)
{
	struct events_ev ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(events_fail(&ev, XERR_UNPROCESSABLE, "price %.5s",
	    "ab\xc3\xa9\xff"), XERR_UNPROCESSABLE);
	ck_assert_str_eq(ev.err, "price ab\xc3\xa9?");
}
END_TEST

/* Copies the text v into the char array f, bounded. */
#define SET(f, v)	snprintf((f), sizeof(f), "%s", (v))

START_TEST(events_pre_trusted_miss)
{
	static struct events_pre pre;
	struct events_ev ev, other;
	char		 err[128];

	memset(&pre, 0, sizeof(pre));
	ck_assert_int_eq(parse(&ev, "{\"id\":\"evt_3\",\"type\":"
	    "\"customer.subscription.updated\",\"created\":1,\"data\":"
	    "{\"object\":{\"id\":\"sub_1\",\"customer\":\"cus_9\"}}}", err,
	    sizeof(err)), XERR_OK);
	ck_assert_int_eq(parse(&other, "{\"id\":\"evt_4\",\"type\":\"a.b\","
	    "\"created\":1,\"data\":{\"object\":{\"customer\":\"cus_8\"}}}",
	    err, sizeof(err)), XERR_OK);

	/* Only events of a handled type (t set) are read ahead, once each. */
	ev.t = (const struct apply_type *)&pre;	/* any non-NULL row */
	events_pre_add(&pre, &ev);
	events_pre_add(&pre, &ev);
	events_pre_add(&pre, &other);
	ck_assert_uint_eq(pre.nasked, 1);
	ck_assert_str_eq(pre.asked[0], "cus_9");

	/*
	 * Read ahead (here: nothing found, no statement run) and valid: the
	 * customer matches nobody without asking the database, and with no
	 * user id in metadata the event's user is not found.
	 */
	pre.valid = 1;
	ev.pre = &pre;
	ck_assert_int_eq(events_user(&ev, "cus_9", NULL), XERR_NOTFOUND);
	ck_assert_str_eq(ev.user_id, "");
	/* A customer that is no Stripe id matches nobody, ever. */
	ck_assert_int_eq(events_user(&ev, "cus \xc3\xa9", NULL),
	    XERR_NOTFOUND);
	events_pre_free(&pre);
	events_free(&ev);
	events_free(&other);
}
END_TEST

START_TEST(events_pre_typed_row)
{
	static struct events_pre pre;
	struct users_lock_row rows[2];
	struct events_ev ev;
	char		 err[128];

	/*
	 * A user read ahead (a typed row, as events_pre_read() fills them)
	 * answers events_user() for its customer without a statement; a
	 * row of a user without a customer matches nobody.
	 */
	memset(&pre, 0, sizeof(pre));
	memset(rows, 0, sizeof(rows));
	SET(rows[0].id, "u_0");
	SET(rows[0].tier, "free");
	rows[0].nulls = USERS_NULL_CUSTOMER | USERS_NULL_SUBSCRIPTION |
	    USERS_NULL_PHONE_NUMBER;
	SET(rows[0].phone_status, "none");
	SET(rows[1].id, "u_1");
	SET(rows[1].tier, "pro");
	SET(rows[1].subscription_id, "sub_1");
	SET(rows[1].stripe_customer_id, "cus_1");
	SET(rows[1].phone_status, "pending");
	rows[1].nulls = USERS_NULL_PHONE_NUMBER;
	pre.asked[pre.nasked++] = "cus_1";
	pre.rows = rows;
	pre.nrows = 2;
	pre.valid = 1;
	ck_assert_int_eq(parse(&ev, "{\"id\":\"evt_5\",\"type\":\"a.b\","
	    "\"created\":1,\"data\":{\"object\":{}}}", err, sizeof(err)),
	    XERR_OK);
	ev.pre = &pre;
	ck_assert_int_eq(events_user(&ev, "cus_1", NULL), XERR_OK);
	ck_assert_str_eq(ev.user_id, "u_1");
	ck_assert_str_eq(ev.user_tier, "pro");
	ck_assert_str_eq(ev.user_sub, "sub_1");
	ck_assert_int_eq(ev.user_has_phone, 1);	/* phone_status not none */
	ck_assert_uint_eq(pre.ntouched, 1);
	ck_assert_str_eq(pre.touched[0], "u_1");
	pre.rows = NULL;	/* the test's, not to be freed */
	pre.nrows = 0;
	events_pre_free(&pre);
	events_free(&ev);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("events");
	TCase	*tc = tcase_create("events");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, events_parse_ok);
	tcase_add_test(tc, events_parse_optional_fields);
	tcase_add_test(tc, events_parse_refused);
	tcase_add_test(tc, events_fail_scrubbed);
	tcase_add_test(tc, events_pre_trusted_miss);
	tcase_add_test(tc, events_pre_typed_row);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
