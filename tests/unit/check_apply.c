/*
 * Unit tests for common/domain/apply.c without a database: the table of
 * handled types, and the outcomes apply_effects decides before any
 * statement runs (ignored, refused objects, unmatched).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/xerr.h"
#include "domain/events.h"
#include "domain/apply.h"

/* The types docs/WEBHOOKS.md lists as handled. */
static const char *const handled[] = {
	"checkout.session.completed",
	"customer.subscription.created", "customer.subscription.updated",
	"customer.subscription.deleted", "customer.subscription.paused",
	"customer.subscription.resumed",
	"customer.subscription.trial_will_end",
	"invoice.created", "invoice.finalized", "invoice.payment_succeeded",
	"invoice.paid", "invoice.payment_failed", "invoice.voided",
	"invoice.marked_uncollectible", "invoice.upcoming",
	"invoice.payment_action_required",
	"charge.succeeded", "charge.refunded", "refund.created",
	"charge.dispute.created", "charge.dispute.closed",
	"customer.deleted",
};

static struct cfg	 cfg = { .sandbox = 1 };	/* the sandbox, unless a test says */

START_TEST(apply_table)
{
	const struct apply_type *t;
	size_t		 n, i, j;

	t = apply_types(&n);
	ck_assert_uint_eq(n, sizeof(handled) / sizeof(handled[0]));
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(t[i].apply);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(t[i].type, t[j].type);
	}
	for (i = 0; i < n; i++)
		ck_assert_msg(apply_lookup(handled[i]) != NULL, "%s not handled",
		    handled[i]);
	ck_assert_ptr_null(apply_lookup("customer.created"));
	ck_assert_ptr_null(apply_lookup("invoice"));
	ck_assert_ptr_null(apply_lookup(""));
	ck_assert_ptr_null(apply_lookup(NULL));
}
END_TEST

START_TEST(apply_subscription_ranks)
{
	ck_assert_int_eq(apply_lookup("customer.subscription.created")->rank,
	    0);
	ck_assert_int_eq(apply_lookup("customer.subscription.updated")->rank,
	    1);
	ck_assert_int_eq(apply_lookup("customer.subscription.paused")->rank, 1);
	ck_assert_int_eq(apply_lookup("customer.subscription.resumed")->rank,
	    1);
	ck_assert_int_eq(apply_lookup("customer.subscription.deleted")->rank,
	    2);
	/* One applier for all five. */
	ck_assert_ptr_eq(apply_lookup("customer.subscription.created")->apply,
	    apply_lookup("customer.subscription.deleted")->apply);
}
END_TEST

/* Parses body into ev with its type's row, as evstore does. */
static void
parse(struct events_ev *ev, const char *body)
{
	char	 err[128];

	ck_assert_int_eq(events_parse(ev, &cfg, body, strlen(body), err,
	    sizeof(err)), XERR_OK);
	ev->t = apply_for(ev);
}

/*
 * In production an event of Stripe's test mode is not acted on: a test
 * endpoint's secret among STRIPE_WEBHOOK_SECRETS must not let test-mode
 * events grant tiers.  The sandbox acts on them (its events are test
 * mode), and production on live ones.
 */
START_TEST(apply_test_mode_in_production)
{
	static const char *const body[2] = {
	    "{\"id\":\"evt_t\",\"type\":\"customer.subscription.updated\","
	    "\"created\":1,\"livemode\":false,\"data\":{\"object\":{}}}",
	    "{\"id\":\"evt_l\",\"type\":\"customer.subscription.updated\","
	    "\"created\":1,\"livemode\":true,\"data\":{\"object\":{}}}",
	};
	struct events_ev ev;

	cfg.sandbox = 1;
	parse(&ev, body[0]);
	ck_assert_ptr_nonnull(ev.t);
	events_free(&ev);
	cfg.sandbox = 0;
	parse(&ev, body[0]);
	ck_assert_ptr_null(ev.t);
	ck_assert_int_eq(apply_effects(&ev), XERR_OK);
	ck_assert_str_eq(ev.status, "ignored");
	events_free(&ev);
	parse(&ev, body[1]);
	ck_assert_ptr_nonnull(ev.t);
	events_free(&ev);
	cfg.sandbox = 1;
}
END_TEST

START_TEST(apply_outcomes_without_statements)
{
	static struct events_pre pre;
	struct events_ev ev;

	parse(&ev, "{\"id\":\"evt_1\",\"type\":\"customer.created\","
	    "\"created\":1,\"data\":{\"object\":{\"id\":\"cus_1\"}}}");
	ck_assert_int_eq(apply_effects(&ev), XERR_OK);
	ck_assert_str_eq(ev.status, "ignored");
	events_free(&ev);

	/* Objects an applier cannot use: an error with its reason. */
	parse(&ev, "{\"id\":\"evt_2\",\"type\":\"checkout.session.completed\","
	    "\"created\":1,\"data\":{\"object\":{\"id\":\"cs_1\"}}}");
	ck_assert_int_eq(apply_effects(&ev), XERR_BADREQ);
	ck_assert_str_eq(ev.err, "session without customer");
	events_free(&ev);
	parse(&ev, "{\"id\":\"evt_3\",\"type\":\"invoice.paid\","
	    "\"created\":1,\"data\":{\"object\":{\"customer\":\"cus_1\"}}}");
	ck_assert_int_eq(apply_effects(&ev), XERR_BADREQ);
	ck_assert_str_eq(ev.err, "invoice without id");
	events_free(&ev);
	parse(&ev, "{\"id\":\"evt_4\",\"type\":"
	    "\"customer.subscription.updated\",\"created\":1,\"data\":"
	    "{\"object\":{\"id\":\"sub_1\",\"status\":\"active\"}}}");
	ck_assert_int_eq(apply_effects(&ev), XERR_BADREQ);
	ck_assert_str_eq(ev.err, "subscription without id, customer or status");
	events_free(&ev);

	/*
	 * No user: "unmatched", decided by apply_effects whatever the type
	 * (the customer is a trusted miss of the read-ahead: no statement).
	 */
	memset(&pre, 0, sizeof(pre));
	pre.asked[pre.nasked++] = "cus_gone";
	pre.valid = 1;
	parse(&ev, "{\"id\":\"evt_5\",\"type\":\"customer.deleted\","
	    "\"created\":1,\"data\":{\"object\":{\"id\":\"cus_gone\"}}}");
	ev.pre = &pre;
	ck_assert_int_eq(apply_effects(&ev), XERR_OK);
	ck_assert_str_eq(ev.status, "unmatched");
	ck_assert_str_eq(ev.user_id, "");
	events_free(&ev);
	parse(&ev, "{\"id\":\"evt_6\",\"type\":\"charge.succeeded\","
	    "\"created\":1,\"data\":{\"object\":{\"id\":\"ch_1\"}}}");
	ck_assert_int_eq(apply_effects(&ev), XERR_OK);
	ck_assert_str_eq(ev.status, "unmatched");
	events_free(&ev);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("apply");
	TCase	*tc = tcase_create("apply");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, apply_table);
	tcase_add_test(tc, apply_subscription_ranks);
	tcase_add_test(tc, apply_outcomes_without_statements);
	tcase_add_test(tc, apply_test_mode_in_production);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
