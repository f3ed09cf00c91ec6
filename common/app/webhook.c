#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/req.h"
#include "store/stmt.h"
#include "remote/stripe_sig.h"
#include "domain/jobs.h"
#include "domain/phone.h"
#include "domain/tiers.h"
#include "domain/usage.h"
#include "app/webhook.h"

#define WH_TXN_TRIES	3	/* a deadlocked transaction is run again */

/* One event being applied. Strings are borrowed from root. */
struct wh_event {
	const struct cfg	*cfg;
	struct db		*db;
	struct json_object	*root;
	struct json_object	*obj;		/* data.object */
	const char		*id;
	const char		*type;
	int64_t			 created;
	const char		*api_version;	/* NULL when absent or too long */
	const char		*object_id;	/* data.object.id, or NULL */
	int			 livemode;
	const struct wh_type	*t;		/* NULL: a type we do not act on */
	const char		*payload;	/* the raw body, stored as is */
	size_t			 len;
	const char		*status;	/* outcome, static */
	char			 err[256];	/* why an effect failed */

	struct wh_pre		*pre;		/* users read ahead by a batch */

	/* The user, once wh_user() has locked the row. */
	char			 user_id[65];
	char			 user_tier[33];
	char			 user_sub[256];	/* "" when none */
	int			 user_has_phone;
};

typedef enum xerr (*wh_apply_fn)(struct wh_event *);

/*
 * The users of a batch's customers, read (and locked) in one statement per
 * WH_LOOKUP_IDS customers before the batch's effects run.  A row answers
 * wh_user() once: after an event of the batch has had its user, that user
 * is read again (an effect may have changed the row).  A customer asked
 * for and not found is a trusted miss until an effect links a customer
 * (valid is cleared).
 */
#define WH_LOOKUP_IDS	16	/* placeholders of the *_16 statements */
#define WH_BATCH_LIMIT	256	/* most events in a batch */

struct wh_pre {
	const char	*asked[WH_BATCH_LIMIT];	/* borrowed from the events */
	size_t		 nasked;
	struct db_res	*res[WH_BATCH_LIMIT / WH_LOOKUP_IDS];
	size_t		 nres;
	char		 touched[WH_BATCH_LIMIT][65];	/* users handed out */
	size_t		 ntouched;
	int		 valid;
};

static enum xerr wh_checkout_completed(struct wh_event *);
static enum xerr wh_subscription(struct wh_event *);
static enum xerr wh_trial_will_end(struct wh_event *);
static enum xerr wh_invoice(struct wh_event *);
static enum xerr wh_invoice_upcoming(struct wh_event *);
static enum xerr wh_charge_succeeded(struct wh_event *);
static enum xerr wh_charge_refunded(struct wh_event *);
static enum xerr wh_refund_created(struct wh_event *);
static enum xerr wh_dispute(struct wh_event *);
static enum xerr wh_invoice_action(struct wh_event *);
static enum xerr wh_customer_deleted(struct wh_event *);
static enum xerr wh_customer_gone(struct wh_event *, const char *);
static enum xerr wh_job(struct wh_event *, const char *, const char *,
    struct json_object *);

/*
 * The event types we act on; any other type is stored as "ignored".
 * rank orders the subscription events of one second (see wh_subscription).
 */
static const struct wh_type {
	const char	*type;
	wh_apply_fn	 apply;
	int		 rank;
} wh_types[] = {
	{ "checkout.session.completed", wh_checkout_completed, 0 },
	{ "customer.subscription.created", wh_subscription, 0 },
	{ "customer.subscription.updated", wh_subscription, 1 },
	{ "customer.subscription.deleted", wh_subscription, 2 },
	{ "customer.subscription.trial_will_end", wh_trial_will_end, 0 },
	{ "invoice.created", wh_invoice, 0 },
	{ "invoice.payment_succeeded", wh_invoice, 0 },
	{ "invoice.paid", wh_invoice, 0 },
	{ "invoice.payment_failed", wh_invoice, 0 },
	{ "invoice.upcoming", wh_invoice_upcoming, 0 },
	{ "invoice.finalized", wh_invoice, 0 },
	{ "invoice.voided", wh_invoice, 0 },
	{ "invoice.marked_uncollectible", wh_invoice, 0 },
	{ "customer.subscription.paused", wh_subscription, 1 },
	{ "customer.subscription.resumed", wh_subscription, 1 },
	{ "invoice.payment_action_required", wh_invoice_action, 0 },
	{ "charge.succeeded", wh_charge_succeeded, 0 },
	{ "charge.refunded", wh_charge_refunded, 0 },
	{ "refund.created", wh_refund_created, 0 },
	{ "charge.dispute.created", wh_dispute, 0 },
	{ "charge.dispute.closed", wh_dispute, 0 },
	{ "customer.deleted", wh_customer_deleted, 0 },
};

static const struct wh_type *
wh_lookup(const char *type)
{
	size_t	 i;

	for (i = 0; i < sizeof(wh_types) / sizeof(wh_types[0]); i++)
		if (strcmp(wh_types[i].type, type) == 0)
			return &wh_types[i];
	return NULL;
}

static enum xerr
wh_fail(struct wh_event *ev, enum xerr rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Notes why an effect failed; returns rc for `return wh_fail(...)`. */
static enum xerr
wh_fail(struct wh_event *ev, enum xerr rc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(ev->err, sizeof(ev->err), fmt, ap);
	va_end(ap);
	req_utf8_scrub(ev->err);	/* stored in last_error (utf8mb4) */
	return rc;
}

/* Loads the locked user row i of res into ev. */
static void
wh_user_load(struct wh_event *ev, struct db_res *res, size_t i)
{
	const char	*s;

	snprintf(ev->user_id, sizeof(ev->user_id), "%s", db_res_str(res, i, 0));
	snprintf(ev->user_tier, sizeof(ev->user_tier), "%s",
	    db_res_str(res, i, 1));
	s = db_res_str(res, i, 2);
	snprintf(ev->user_sub, sizeof(ev->user_sub), "%s", s ? s : "");
	ev->user_has_phone = !db_res_isnull(res, i, 3) ||
	    strcmp(db_res_str(res, i, 5), "none") != 0;
}

/*
 * Answers wh_user() for customer from the batch's read-ahead: 1 when it
 * loaded the user into ev, 0 for a trusted miss, -1 when the database must
 * be asked.
 */
static int
wh_pre_user(struct wh_event *ev, const char *customer)
{
	struct wh_pre	*pre = ev->pre;
	const char	*c;
	size_t		 i, j, k;

	if (pre == NULL || !pre->valid)
		return -1;
	for (i = 0; i < pre->nasked; i++)
		if (strcmp(pre->asked[i], customer) == 0)
			break;
	if (i == pre->nasked)
		return -1;
	for (i = 0; i < pre->nres; i++)
		for (j = 0; j < db_res_rows(pre->res[i]); j++) {
			c = db_res_str(pre->res[i], j, 4);
			if (c == NULL || strcmp(c, customer) != 0)
				continue;
			for (k = 0; k < pre->ntouched; k++)
				if (strcmp(pre->touched[k],
				    db_res_str(pre->res[i], j, 0)) == 0)
					return -1;
			wh_user_load(ev, pre->res[i], j);
			return 1;
		}
	return 0;
}

/* Notes that ev's user was handed to an event of the batch. */
static void
wh_pre_touch(struct wh_event *ev)
{
	struct wh_pre	*pre = ev->pre;

	if (pre == NULL)
		return;
	if (pre->ntouched == WH_BATCH_LIMIT) {
		pre->valid = 0;
		return;
	}
	snprintf(pre->touched[pre->ntouched++], sizeof(pre->touched[0]),
	    "%s", ev->user_id);
}

/*
 * Queues the replay of the events stored unmatched for customer, now
 * linked to the event's user (docs/BILLING.md "Unmatched events"), if
 * there are any: once per customer; the worker applies them in the order
 * Stripe created them.
 */
static enum xerr
wh_replay_job(struct wh_event *ev, const char *customer)
{
	struct json_object	*p;
	struct db_res		*res = NULL;
	struct dbv		 a[1];
	size_t			 n;
	enum xerr		 rc;

	a[0] = DB_STR(customer);
	if ((rc = db_query(ev->db, STMT_UNMATCHED_ANY, a, 1, &res)))
		return rc;
	n = db_res_rows(res);
	db_res_free(res);
	if (n == 0)
		return XERR_OK;
	if ((p = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_str(p, "customer", customer);
	rc = wh_job(ev, "replay_unmatched", customer, p);
	json_object_put(p);
	return rc;
}

/*
 * Finds and locks the user the event is about: by Stripe customer id, else
 * by the user id we put in metadata (or client_reference_id), linking the
 * customer to a user who has none.  XERR_NOTFOUND when no user matches; a
 * user already linked to another customer is not guessed at either.
 */
static enum xerr
wh_user(struct wh_event *ev, const char *customer, const char *user_id)
{
	struct db_res	*res = NULL;
	struct dbv	 args[2];
	const char	*linked;
	enum xerr	 rc;

	/*
	 * A customer that is no Stripe id (non-ASCII, too long) matches
	 * nobody and is never linked: the ascii column would refuse it, and
	 * the event would fail for good instead of being unmatched.
	 */
	if (customer != NULL && !ids_ext_ok(customer, 255))
		return XERR_NOTFOUND;
	if (customer != NULL && (rc = wh_pre_user(ev, customer)) == 1) {
		wh_pre_touch(ev);
		return XERR_OK;
	}
	if (customer != NULL && rc != 0) {
		args[0] = DB_STR(customer);
		if ((rc = db_query(ev->db, STMT_USER_LOCK_BY_CUSTOMER, args, 1,
		    &res)) != XERR_OK)
			return rc;
		if (db_res_rows(res) == 1) {
			wh_user_load(ev, res, 0);
			db_res_free(res);
			wh_pre_touch(ev);
			return XERR_OK;
		}
		db_res_free(res);
		res = NULL;
	}
	if (!ids_user_ok(user_id))
		return XERR_NOTFOUND;
	/* A deleted customer is never linked again (customer.deleted). */
	if (customer != NULL && (rc = wh_customer_gone(ev, customer)))
		return rc;
	args[0] = DB_STR(user_id);
	if ((rc = db_query(ev->db, STMT_USER_LOCK, args, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return XERR_NOTFOUND;
	}
	linked = db_res_str(res, 0, 4);
	if (customer != NULL && linked != NULL && strcmp(linked, customer)) {
		log_warnx("event %s: user %s is linked to another customer",
		    ev->id, user_id);
		db_res_free(res);
		return XERR_NOTFOUND;
	}
	wh_user_load(ev, res, 0);
	db_res_free(res);
	wh_pre_touch(ev);
	if (customer != NULL && linked == NULL) {
		if (ev->pre != NULL)
			ev->pre->valid = 0;	/* a miss may now match */
		args[0] = DB_STR(customer);
		args[1] = DB_STR(ev->user_id);
		if ((rc = db_exec(ev->db, STMT_USER_SET_CUSTOMER, args, 2, NULL,
		    NULL)) != XERR_OK)
			return rc;
		log_info("customer %s linked to user %s", customer, ev->user_id);
		return wh_replay_job(ev, customer);
	}
	return XERR_OK;
}

/*
 * Writes the billing_events row of kind, once per kind and subject: the
 * event, or (subject not NULL) what several events may name, such as an
 * invoice that both invoice.paid and invoice.payment_succeeded report.
 */
static enum xerr
wh_bevent(struct wh_event *ev, const char *subject, const char *kind,
    const int64_t *amount, const char *detail)
{
	struct dbv	 args[5];

	args[0] = DB_STR(ev->user_id);
	args[1] = DB_STR(subject != NULL ? subject : ev->id);
	args[2] = DB_STR(kind);
	args[3] = amount != NULL ? DB_INT(*amount) : DB_NULL;
	args[4] = DB_STR(detail);
	return db_exec(ev->db, STMT_BEVENT_INSERT, args, 5, NULL, NULL);
}

/*
 * Enqueues a side effect of kind, once per (kind, subject): the subject is
 * what the effect is about (an invoice is billed once whatever events name
 * it), or the event when NULL, so a redelivered or replayed event finds its
 * job already there.  payload is borrowed.
 */
static enum xerr
wh_job(struct wh_event *ev, const char *kind, const char *subject,
    struct json_object *payload)
{
	char	 key[300];

	snprintf(key, sizeof(key), "%s:%s", kind, subject ? subject : ev->id);
	if (jsonx_add_str(payload, "user_id", ev->user_id) ||
	    jsonx_add_str(payload, "event_id", ev->id))
		return XERR_NOMEM;
	return jobs_enqueue(ev->db, kind, key, ev->user_id, payload);
}

/* Enqueues the notification tmpl about this event, with fields (borrowed). */
static enum xerr
wh_notify(struct wh_event *ev, const char *tmpl, struct json_object *fields)
{
	if (jsonx_add_str(fields, "event_id", ev->id))
		return XERR_NOMEM;
	return jobs_notify(ev->db, ev->user_id, tmpl, ev->id, fields);
}

/* Enqueues a phone job (provision or release) for the user. */
static enum xerr
wh_phone_job(struct wh_event *ev, const char *kind)
{
	struct json_object	*p;
	enum xerr		 rc;

	if ((p = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	rc = wh_job(ev, kind, NULL, p);
	json_object_put(p);
	return rc;
}

/* checkout.session.completed: link the customer to the user. */
static enum xerr
wh_checkout_completed(struct wh_event *ev)
{
	const char	*customer, *user;
	enum xerr	 rc;

	customer = jsonx_id(ev->obj, "customer");
	if ((user = jsonx_str(ev->obj, "client_reference_id")) == NULL)
		user = jsonx_str(ev->obj, "metadata.user_id");
	if (customer == NULL)
		return wh_fail(ev, XERR_BADREQ, "session without customer");
	if ((rc = wh_user(ev, customer, user)) == XERR_NOTFOUND) {
		ev->status = "unmatched";
		return XERR_OK;
	}
	if (rc)
		return rc;
	return wh_bevent(ev, NULL, "checkout_completed", NULL,
	    jsonx_str(ev->obj, "subscription"));
}

/*
 * Returns a period field (current_period_start or _end) of a subscription:
 * from its first item, where API versions since 2025-03-31.basil put it,
 * else from the subscription itself (2023-08-16); 0 when neither has it.
 */
static int64_t
wh_sub_period(struct json_object *sub, const char *field)
{
	struct json_object *item;
	int64_t		 v = 0;

	item = jsonx_idx(sub, "items.data", 0);
	if (jsonx_int(item, field, &v) == 0)
		return v;
	if (jsonx_int(sub, field, &v) == 0)
		return v;
	return 0;
}

/*
 * The tier a subscription status grants: the price's tier while active,
 * trialing or past_due (flagged); ai_buddy once unpaid, canceled, expired
 * or paused.  NULL for incomplete: nothing is granted before the first
 * payment, and nothing is taken either.
 */
static const char *
wh_status_tier(const char *status, const char *price_tier, int *past_due)
{
	*past_due = 0;
	if (!strcmp(status, "active") || !strcmp(status, "trialing"))
		return price_tier;
	if (!strcmp(status, "past_due")) {
		*past_due = 1;
		return price_tier;
	}
	if (!strcmp(status, "incomplete"))
		return NULL;
	return TIERS_FREE;
}

/*
 * Records what a subscription event says for the rating engine
 * (docs/BILLING.md): the tier the subscription granted from the event's
 * created time on (none while incomplete), and its period.  Stale events
 * are recorded too: the history is ordered by time, not by arrival.
 */
static enum xerr
wh_sub_history(struct wh_event *ev, const char *sub_id, const char *status,
    const char *tier, int rank, int64_t pstart, int64_t pend)
{
	struct dbv	 a[6];
	const char	*granted;
	int		 past_due;
	enum xerr	 rc;

	if ((granted = wh_status_tier(status, tier, &past_due)) != NULL) {
		a[0] = DB_STR(ev->id);
		a[1] = DB_STR(sub_id);
		a[2] = DB_STR(ev->user_id);
		a[3] = DB_STR(granted);
		a[4] = DB_INT(ev->created);
		a[5] = DB_INT(rank);
		if ((rc = db_exec(ev->db, STMT_RATING_HISTORY_INSERT, a, 6,
		    NULL, NULL)) != XERR_OK)
			return rc;
	}
	if (pstart <= 0 || pend <= pstart)
		return XERR_OK;
	a[0] = DB_STR(sub_id);
	a[1] = DB_INT(pstart);
	a[2] = DB_INT(pend);
	a[3] = DB_STR(ev->user_id);
	return db_exec(ev->db, STMT_RATING_PERIOD_INSERT, a, 4, NULL, NULL);
}

/*
 * Queues the bill of the period [ps, pe) of subscription sub, once per
 * subscription and period whichever event asks first: a renewal's (invoice
 * is its invoice) or, for the last period of a subscription that ended
 * (final set), the deletion's, billing usage up to usage_end.
 */
static enum xerr
wh_bill_job(struct wh_event *ev, const char *sub, int64_t ps, int64_t pe,
    const char *invoice, int final, int64_t usage_end)
{
	struct json_object	*p;
	char			 subject[300];
	enum xerr		 rc;

	if ((p = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (invoice != NULL)
		jsonx_add_str(p, "invoice_id", invoice);
	jsonx_add_str(p, "customer", jsonx_id(ev->obj, "customer"));
	jsonx_add_str(p, "subscription", sub);
	jsonx_add_int(p, "period_start", ps);
	jsonx_add_int(p, "period_end", pe);
	if (final) {
		jsonx_add_int(p, "usage_end", usage_end < pe ? usage_end : pe);
		json_object_object_add(p, "final", json_object_new_boolean(1));
	}
	snprintf(subject, sizeof(subject), "%s:%lld", sub, (long long)ps);
	rc = wh_job(ev, "bill_period", subject, p);
	json_object_put(p);
	return rc;
}

/*
 * A subscription ended: its last period [pstart, ended_at) is billed
 * (docs/BILLING.md "End").
 */
static enum xerr
wh_final_bill(struct wh_event *ev, const char *sub_id, int64_t pstart,
    int64_t pend)
{
	int64_t		 ended = 0;

	if (jsonx_int(ev->obj, "ended_at", &ended) || ended <= 0)
		ended = ev->created;
	return wh_bill_job(ev, sub_id, pstart, pend, NULL, 1, ended);
}

/*
 * customer.subscription.created/updated/deleted/paused/resumed (paused and
 * resumed rank as updates; the subscription's status says what it grants).
 *
 * Ordering: an event applies only when it is newer than the last one
 * applied to this subscription: a later `created` second, or the same
 * second and a higher rank (created < updated < deleted); two updates of
 * the same second apply in arrival order.  A deleted subscription is
 * final: no later event brings it back.  Older events are stored "stale".
 */
static enum xerr
wh_subscription(struct wh_event *ev)
{
	const struct wh_type *t = wh_lookup(ev->type);
	struct json_object *item;
	struct db_res	*res = NULL;
	struct dbv	 a[15];
	const char	*sub_id, *customer, *status, *price, *item_id, *tier;
	const char	*new_tier, *old_tier;
	int64_t		 pstart, pend, trial_end = 0;
	int		 deleted, cancel, past_due, has_trial, apply_user;
	char		 detail[256];
	enum xerr	 rc;

	deleted = t->rank == 2;
	sub_id = jsonx_str(ev->obj, "id");
	customer = jsonx_id(ev->obj, "customer");
	status = jsonx_str(ev->obj, "status");
	item = jsonx_idx(ev->obj, "items.data", 0);
	price = jsonx_id(item, "price");
	item_id = jsonx_str(item, "id");
	if (!ids_ext_ok(sub_id, 255) || customer == NULL || status == NULL)
		return wh_fail(ev, XERR_BADREQ,
		    "subscription without id, customer or status");
	if ((tier = tiers_by_price(ev->cfg, price)) == NULL)
		return wh_fail(ev, XERR_UNPROCESSABLE, "unknown price %.64s on "
		    "subscription %.64s", price ? price : "(none)", sub_id);
	pstart = wh_sub_period(ev->obj, "current_period_start");
	pend = wh_sub_period(ev->obj, "current_period_end");
	cancel = jsonx_bool(ev->obj, "cancel_at_period_end", 0);
	has_trial = jsonx_int(ev->obj, "trial_end", &trial_end) == 0;

	if ((rc = wh_user(ev, customer, jsonx_str(ev->obj,
	    "metadata.user_id"))) == XERR_NOTFOUND) {
		ev->status = "unmatched";
		return XERR_OK;
	}
	if (rc)
		return rc;
	/* The rating engine's record, whether this event applies or not. */
	if ((rc = wh_sub_history(ev, sub_id, deleted ? "canceled" : status,
	    tier, t->rank, pstart, pend)) != XERR_OK)
		return rc;

	a[0] = DB_STR(sub_id);
	if ((rc = db_query(ev->db, STMT_SUB_LOCK, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 1) {
		int64_t lc = db_res_int(res, 0, 4, 0);
		int64_t lr = db_res_int(res, 0, 5, 0);

		if (db_res_int(res, 0, 3, 0) ||
		    (!deleted && (ev->created < lc ||
		    (ev->created == lc && t->rank < lr)))) {
			db_res_free(res);
			ev->status = "stale";
			return XERR_OK;
		}
	}
	db_res_free(res);

	if (deleted)
		status = "canceled";
	a[0] = DB_STR(sub_id);
	a[1] = DB_STR(ev->user_id);
	a[2] = DB_STR(customer);
	a[3] = DB_STR(status);
	a[4] = DB_STR(tier);
	a[5] = DB_STR(price);
	a[6] = DB_STR(item_id);
	a[7] = pstart ? DB_INT(pstart) : DB_NULL;
	a[8] = pend ? DB_INT(pend) : DB_NULL;
	a[9] = DB_INT(cancel);
	a[10] = has_trial ? DB_INT(trial_end) : DB_NULL;
	a[11] = DB_INT(deleted);
	a[12] = DB_STR(ev->id);
	a[13] = DB_INT(ev->created);
	a[14] = DB_INT(t->rank);
	if ((rc = db_exec(ev->db, STMT_SUB_UPSERT, a, 15, NULL, NULL)))
		return rc;
	if (deleted && pend > pstart && (rc = wh_final_bill(ev, sub_id,
	    pstart, pend)) != XERR_OK)
		return rc;

	/*
	 * The user follows this subscription when it is theirs already, when
	 * they have none, or when it is live (a new subscription takes over).
	 * A deletion only touches the user's current subscription.
	 */
	new_tier = wh_status_tier(status, tier, &past_due);
	if (deleted)
		apply_user = strcmp(ev->user_sub, sub_id) == 0 ||
		    ev->user_sub[0] == '\0';
	else
		apply_user = ev->user_sub[0] == '\0' ||
		    strcmp(ev->user_sub, sub_id) == 0 ||
		    (new_tier != NULL && strcmp(new_tier, TIERS_FREE) != 0);
	snprintf(detail, sizeof(detail), "subscription=%s status=%s tier=%s "
	    "cancel_at_period_end=%d", sub_id, status, tier, cancel);
	if ((rc = wh_bevent(ev, NULL, ev->type + strlen("customer."), NULL,
	    detail)) != XERR_OK)
		return rc;
	if (!apply_user || new_tier == NULL)
		return XERR_OK;

	old_tier = ev->user_tier;
	a[0] = DB_STR(new_tier);
	a[1] = DB_STR(sub_id);
	a[2] = pstart ? DB_INT(pstart) : DB_NULL;
	a[3] = pend ? DB_INT(pend) : DB_NULL;
	a[4] = has_trial ? DB_INT(trial_end) : DB_NULL;
	a[5] = DB_INT(past_due);
	a[6] = DB_STR(ev->user_id);
	if ((rc = db_exec(ev->db, STMT_USER_SET_SUBSCRIPTION, a, 7, NULL,
	    NULL)) != XERR_OK)
		return rc;

	if (strcmp(old_tier, new_tier) != 0) {
		struct json_object *n;

		snprintf(detail, sizeof(detail), "%s -> %s", old_tier, new_tier);
		if ((rc = wh_bevent(ev, NULL, "tier_changed", NULL, detail)))
			return rc;
		log_info("user %s: tier %s", ev->user_id, detail);
		if (tiers_rank(new_tier) < tiers_rank(old_tier)) {
			if ((n = json_object_new_object()) == NULL)
				return XERR_NOMEM;
			jsonx_add_str(n, "old_tier", old_tier);
			jsonx_add_str(n, "new_tier", new_tier);
			/* A pause is no ending: the plan is back on resume. */
			rc = wh_notify(ev, strcmp(new_tier, TIERS_FREE) == 0 &&
			    strcmp(status, "paused") != 0 ?
			    "subscription_cancelled" : "subscription_downgraded",
			    n);
			json_object_put(n);
			if (rc)
				return rc;
		}
	}
	if (tiers_phone_eligible(new_tier) && !ev->user_has_phone)
		return wh_phone_job(ev, "phone_provision");
	if (tiers_phone_eligible(new_tier))	/* paid again: number kept */
		return phone_grace_end(ev->db, ev->user_id);
	if (ev->user_has_phone)			/* held through a grace */
		return phone_grace_start(ev->db, ev->cfg, ev->user_id, ev->id);
	return XERR_OK;
}

/* customer.subscription.trial_will_end: store the date, tell the user. */
static enum xerr
wh_trial_will_end(struct wh_event *ev)
{
	struct json_object *n;
	struct dbv	 a[2];
	int64_t		 trial_end = 0;
	enum xerr	 rc;

	if (jsonx_int(ev->obj, "trial_end", &trial_end) != 0)
		return wh_fail(ev, XERR_BADREQ, "trial_will_end without "
		    "trial_end");
	if ((rc = wh_user(ev, jsonx_id(ev->obj, "customer"),
	    jsonx_str(ev->obj, "metadata.user_id"))) == XERR_NOTFOUND) {
		ev->status = "unmatched";
		return XERR_OK;
	}
	if (rc)
		return rc;
	a[0] = DB_INT(trial_end);
	a[1] = DB_STR(ev->user_id);
	if ((rc = db_exec(ev->db, STMT_USER_SET_TRIAL_END, a, 2, NULL, NULL)))
		return rc;
	if ((rc = wh_bevent(ev, NULL, "trial_will_end", NULL, NULL)))
		return rc;
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_int(n, "trial_end", trial_end);
	rc = wh_notify(ev, "trial_ending", n);
	json_object_put(n);
	return rc;
}

/*
 * Returns the id of the subscription an invoice bills (borrowed), or NULL:
 * parent.subscription_details.subscription since 2025-03-31.basil, the
 * top-level subscription before.
 */
static const char *
wh_invoice_sub(struct json_object *inv)
{
	const char	*s;

	if ((s = jsonx_id(inv, "parent.subscription_details.subscription")))
		return s;
	return jsonx_id(inv, "subscription");
}

/*
 * Returns the invoice's user id from the metadata we set (borrowed), or
 * NULL: the subscription's metadata as the invoice carries it
 * (parent.subscription_details.metadata since 2025-03-31.basil,
 * subscription_details.metadata before), else the invoice's own.
 */
static const char *
wh_invoice_meta_user(struct json_object *inv)
{
	const char	*u;

	if ((u = jsonx_str(inv,
	    "parent.subscription_details.metadata.user_id")))
		return u;
	if ((u = jsonx_str(inv, "subscription_details.metadata.user_id")))
		return u;
	return jsonx_str(inv, "metadata.user_id");
}

/*
 * Tells whether an invoice line bills a subscription item, and whether it
 * is a proration: parent.subscription_item_details since
 * 2025-03-31.basil, type "subscription" and proration before.
 */
static int
wh_line_sub(struct json_object *line, int *proration)
{
	struct json_object *d;
	const char	*type;

	*proration = 0;
	if ((type = jsonx_str(line, "parent.type")) != NULL) {
		d = jsonx_path(line, "parent.subscription_item_details");
		if (strcmp(type, "subscription_item_details") != 0 ||
		    d == NULL || !json_object_is_type(d, json_type_object))
			return 0;
		*proration = jsonx_bool(d, "proration", 0);
		return 1;
	}
	type = jsonx_str(line, "type");
	if (type == NULL || strcmp(type, "subscription") != 0)
		return 0;
	*proration = jsonx_bool(line, "proration", 0);
	return 1;
}

/*
 * Finds the new billing cycle of an invoice: the period of its first
 * subscription item line that is no proration.  -1 when there is none.
 */
static int
wh_invoice_cycle(struct json_object *inv, int64_t *start, int64_t *end)
{
	struct json_object *lines = jsonx_path(inv, "lines.data"), *l;
	size_t		 i, n;
	int		 proration;

	if (lines == NULL || !json_object_is_type(lines, json_type_array))
		return -1;
	n = json_object_array_length(lines);
	for (i = 0; i < n; i++) {
		l = json_object_array_get_idx(lines, i);
		if (wh_line_sub(l, &proration) && !proration &&
		    jsonx_int(l, "period.start", start) == 0 &&
		    jsonx_int(l, "period.end", end) == 0 && *end > *start)
			return 0;
	}
	return -1;
}

/*
 * An invoice's statuses in the order they move: draft, open, then paid or
 * void (final) or uncollectible (which may still be paid or voided).
 */
static const char *const wh_invoice_statuses[] = { "draft", "open",
    "uncollectible", "paid", "void" };

/* Returns the index of status in wh_invoice_statuses, or -1. */
static int
wh_invoice_status_idx(const char *status)
{
	size_t	 i;

	for (i = 0; status != NULL && i < sizeof(wh_invoice_statuses) /
	    sizeof(wh_invoice_statuses[0]); i++)
		if (strcmp(wh_invoice_statuses[i], status) == 0)
			return (int)i;
	return -1;
}

/*
 * What each invoice event says: the status it puts the invoice in (NULL:
 * the invoice's own, draft when absent) and the kind of its billing_events
 * row, written once per invoice (once per event for payment_failed: each
 * attempt is news).
 */
static const struct wh_invoice_kind {
	const char	*type;
	const char	*status;
	const char	*kind;
	int		 per_event;
} wh_invoice_kinds[] = {
	{ "invoice.created", NULL, "invoice_created", 0 },
	{ "invoice.finalized", "open", "invoice_finalized", 0 },
	{ "invoice.payment_succeeded", "paid", "invoice_paid", 0 },
	{ "invoice.paid", "paid", "invoice_paid", 0 },
	{ "invoice.payment_failed", "open", "payment_failed", 1 },
	{ "invoice.voided", "void", "invoice_voided", 0 },
	{ "invoice.marked_uncollectible", "uncollectible",
	    "invoice_uncollectible", 0 },
};

/*
 * Merges an event's status (one of wh_invoice_statuses) into the stored
 * invoice's, old (NULL when there is no row yet): returns the status the
 * invoice has afterwards (static), and sets *write when the row is to be
 * written.  The status only moves forward, paid and void are final; an
 * event of the stored status refreshes the row unless it reports fewer
 * payment attempts than stored (an older event).
 */
static const char *
wh_invoice_merge(const char *old, int64_t old_att, const char *new,
    int64_t att, int *write)
{
	int	 io = wh_invoice_status_idx(old);
	int	 in = wh_invoice_status_idx(new);
	int	 ro = io < 3 ? io : 3, rn = in < 3 ? in : 3;

	*write = io < 0 || (ro < 3 && rn > ro) || (io == in && att >= old_att);
	return wh_invoice_statuses[*write ? in : io];
}

/*
 * A renewal invoice bills the period [ps, pe) that ended: whichever of its
 * events reaches us first (docs/BILLING.md "Renewal", D4) records the
 * period and queues its bill, once per subscription and period.  An
 * invoice whose overage was posted before the rating engine (a job
 * invoice_items:<invoice>) is not billed again.
 */
static enum xerr
wh_cycle_bill(struct wh_event *ev, const char *inv_id, const char *sub,
    int64_t ps, int64_t pe)
{
	struct db_res		*res = NULL;
	struct dbv		 a[4];
	char			 key[300];
	size_t			 legacy;
	enum xerr		 rc;

	snprintf(key, sizeof(key), "invoice_items:%s", inv_id);
	a[0] = DB_STR(key);
	if ((rc = db_query(ev->db, STMT_JOB_KEY_EXISTS, a, 1, &res)))
		return rc;
	legacy = db_res_rows(res);
	db_res_free(res);
	if (legacy > 0)
		return XERR_OK;
	a[0] = DB_STR(sub);
	a[1] = DB_INT(ps);
	a[2] = DB_INT(pe);
	a[3] = DB_STR(ev->user_id);
	if ((rc = db_exec(ev->db, STMT_RATING_PERIOD_INSERT, a, 4, NULL,
	    NULL)))
		return rc;
	return wh_bill_job(ev, sub, ps, pe, inv_id, 0, 0);
}

/*
 * invoice.created / finalized / payment_succeeded / paid / payment_failed /
 * voided / marked_uncollectible: billing history (invoices) upserted by
 * invoice id, its status moving only forward whatever order the events
 * arrive in (wh_invoice_merge), and a billing_events row of the event's
 * kind.  Payment moves the billing cycle; a failure of an invoice still
 * open notifies; a subscription_cycle invoice still a draft gets the
 * overage of the period that ended (a job adds the invoice items).
 */
static enum xerr
wh_invoice(struct wh_event *ev)
{
	const struct wh_invoice_kind *k = NULL;
	struct json_object *inv = ev->obj, *n;
	struct db_res	*res = NULL;
	struct dbv	 a[15];
	const char	*inv_id, *status, *reason, *sub, *old = NULL;
	int64_t		 due = 0, paid = 0, ps = 0, pe = 0, att = 0, next = 0;
	int64_t		 cs, ce, created = 0, old_att = 0;
	size_t		 i;
	int		 write;
	enum xerr	 rc = XERR_OK;

	for (i = 0; i < sizeof(wh_invoice_kinds) / sizeof(wh_invoice_kinds[0]);
	    i++)
		if (strcmp(wh_invoice_kinds[i].type, ev->type) == 0)
			k = &wh_invoice_kinds[i];
	if (k == NULL)
		return wh_fail(ev, XERR_INTERNAL, "no invoice kind for %s",
		    ev->type);
	inv_id = jsonx_str(inv, "id");
	if (!ids_ext_ok(inv_id, 255))
		return wh_fail(ev, XERR_BADREQ, "invoice without id");
	if ((status = k->status) == NULL &&
	    wh_invoice_status_idx(status = jsonx_str(inv, "status")) < 0)
		status = "draft";
	reason = jsonx_str(inv, "billing_reason");
	sub = wh_invoice_sub(inv);
	jsonx_int(inv, "amount_due", &due);
	jsonx_int(inv, "amount_paid", &paid);
	jsonx_int(inv, "period_start", &ps);
	jsonx_int(inv, "period_end", &pe);
	jsonx_int(inv, "attempt_count", &att);
	jsonx_int(inv, "next_payment_attempt", &next);
	jsonx_int(inv, "created", &created);

	if ((rc = wh_user(ev, jsonx_id(inv, "customer"),
	    wh_invoice_meta_user(inv))) == XERR_NOTFOUND) {
		ev->status = "unmatched";
		return XERR_OK;
	}
	if (rc)
		return rc;

	a[0] = DB_STR(inv_id);
	if ((rc = db_query(ev->db, STMT_INVOICE_LOCK, a, 1, &res)))
		return rc;
	if (db_res_rows(res) == 1) {
		old = db_res_str(res, 0, 0);
		old_att = db_res_int(res, 0, 1, 0);
	}
	status = wh_invoice_merge(old, old_att, status, att, &write);
	db_res_free(res);
	if (write) {
		a[0] = DB_STR(inv_id);
		a[1] = DB_STR(ev->user_id);
		a[2] = DB_STR(sub);
		a[3] = DB_STR(jsonx_str(inv, "number"));
		a[4] = DB_STR(status);
		a[5] = DB_STR(reason);
		a[6] = DB_STR(jsonx_str(inv, "currency") ?
		    jsonx_str(inv, "currency") : "usd");
		a[7] = DB_INT(due);
		a[8] = DB_INT(paid);
		a[9] = ps ? DB_INT(ps) : DB_NULL;
		a[10] = pe ? DB_INT(pe) : DB_NULL;
		a[11] = DB_INT(att);
		a[12] = next ? DB_INT(next) : DB_NULL;
		a[13] = DB_STR(jsonx_str(inv, "hosted_invoice_url"));
		a[14] = DB_INT(created ? created : ev->created);
		if ((rc = db_exec(ev->db, STMT_INVOICE_UPSERT, a, 15, NULL,
		    NULL)))
			return rc;
	}
	if ((rc = wh_bevent(ev, k->per_event ? NULL : inv_id, k->kind,
	    k->status != NULL && !strcmp(k->status, "paid") ? &paid : &due,
	    inv_id)))
		return rc;
	if (reason != NULL && !strcmp(reason, "subscription_cycle") &&
	    sub != NULL && pe > ps && (rc = wh_cycle_bill(ev, inv_id, sub, ps,
	    pe)) != XERR_OK)
		return rc;

	if (!strcmp(ev->type, "invoice.paid") ||
	    !strcmp(ev->type, "invoice.payment_succeeded")) {
		/* The usage period rolls over with the cycle; nothing is zeroed. */
		if (strcmp(status, "paid") != 0 ||
		    wh_invoice_cycle(inv, &cs, &ce) != 0 || (sub != NULL &&
		    ev->user_sub[0] != '\0' && strcmp(sub, ev->user_sub)))
			return XERR_OK;
		a[0] = DB_INT(cs);
		a[1] = DB_INT(ce);
		a[2] = DB_STR(ev->user_id);
		return db_exec(ev->db, STMT_USER_SET_CYCLE, a, 3, NULL, NULL);
	}
	if (!strcmp(ev->type, "invoice.payment_failed")) {
		if (strcmp(status, "open") != 0)
			return XERR_OK;	/* paid or given up on meanwhile */
		if ((n = json_object_new_object()) == NULL)
			return XERR_NOMEM;
		jsonx_add_str(n, "invoice_id", inv_id);
		jsonx_add_int(n, "amount_due", due);
		jsonx_add_str(n, "currency", jsonx_str(inv, "currency"));
		if (next)
			jsonx_add_int(n, "next_payment_attempt", next);
		jsonx_add_str(n, "hosted_invoice_url",
		    jsonx_str(inv, "hosted_invoice_url"));
		rc = wh_notify(ev, "payment_failed", n);
		json_object_put(n);
		return rc;
	}
	return XERR_OK;
}

/*
 * invoice.upcoming: Stripe's notice a few days before renewal.  Records
 * the overage projected from usage so far in the current period and tells
 * the user; nothing is billed here.
 */
static enum xerr
wh_invoice_upcoming(struct wh_event *ev)
{
	struct usage_report rep;
	struct json_object *n;
	int64_t		 s, e, now = (int64_t)time(NULL);
	char		 detail[128];
	enum xerr	 rc;

	if ((rc = wh_user(ev, jsonx_id(ev->obj, "customer"),
	    wh_invoice_meta_user(ev->obj))) == XERR_NOTFOUND) {
		ev->status = "unmatched";
		return XERR_OK;
	}
	if (rc)
		return rc;
	if ((rc = usage_period(ev->db, ev->user_id, now, &s, &e)))
		return rc;
	if ((rc = usage_report(ev->db, ev->user_id, ev->user_tier, s, e,
	    &rep)))
		return rc;
	snprintf(detail, sizeof(detail), "voice_minutes=%lld sms=%lld",
	    (long long)rep.use.voice_minutes, (long long)rep.use.sms);
	if ((rc = wh_bevent(ev, NULL, "projected_overage", &rep.bill.total_cents,
	    detail)))
		return rc;
	if (rep.bill.total_cents <= 0)
		return XERR_OK;
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_int(n, "total_cents", rep.bill.total_cents);
	jsonx_add_int(n, "voice_cents", rep.bill.voice_cents);
	jsonx_add_int(n, "sms_cents", rep.bill.sms_cents);
	jsonx_add_int(n, "phone_cents", rep.bill.phone_cents);
	jsonx_add_int(n, "period_end", e);
	rc = wh_notify(ev, "projected_overage", n);
	json_object_put(n);
	return rc;
}

/*
 * Ends an applier whose user lookup answered rc: a user not found is the
 * "unmatched" outcome (stored, nothing written), anything else an error.
 */
static enum xerr
wh_unmatched(struct wh_event *ev, enum xerr rc)
{
	if (rc != XERR_NOTFOUND)
		return rc;
	ev->status = "unmatched";
	return XERR_OK;
}

/*
 * Reads the user id of one row of stmt (with nargs arguments a) into uid;
 * 1 when a row was found, 0 when none, -1 on a database error (rc set).
 */
static int
wh_lookup_user(struct wh_event *ev, enum stmt stmt, struct dbv *a,
    size_t nargs, char uid[65], enum xerr *rc)
{
	struct db_res	*res = NULL;
	int		 found;

	if ((*rc = db_query(ev->db, stmt, a, nargs, &res)) != XERR_OK)
		return -1;
	found = db_res_rows(res) > 0 && db_res_str(res, 0, 0) != NULL;
	if (found)
		snprintf(uid, 65, "%s", db_res_str(res, 0, 0));
	db_res_free(res);
	return found;
}

/*
 * Whether customer was deleted (customer.deleted): XERR_NOTFOUND when it
 * was, so it matches nobody and is never linked again, else XERR_OK (or a
 * database error).
 */
static enum xerr
wh_customer_gone(struct wh_event *ev, const char *customer)
{
	struct dbv	 a[1];
	char		 uid[65];
	enum xerr	 rc = XERR_OK;

	a[0] = DB_STR(customer);
	switch (wh_lookup_user(ev, STMT_CUSTOMER_DELETED_USER, a, 1, uid,
	    &rc)) {
	case -1:
		return rc;
	case 1:
		return XERR_NOTFOUND;
	default:
		return XERR_OK;
	}
}

/*
 * Finds and locks the user a payment (a charge, refund or dispute) is
 * about: by its customer (or metadata.user_id) as wh_user() does, else by
 * the charge or PaymentIntent recorded from an earlier event (a dispute
 * names no customer; a refund in the 2023-08-16 shape neither), else by
 * the user a deleted customer had.  XERR_NOTFOUND when none matches.
 * Since 2025-03-31.basil a charge names no invoice; the customer is what
 * ties it to us in every API version.
 */
static enum xerr
wh_pay_user(struct wh_event *ev, const char *customer, const char *charge,
    const char *pi)
{
	struct dbv	 a[2];
	char		 uid[65];
	enum xerr	 rc;

	if ((rc = wh_user(ev, customer, jsonx_str(ev->obj,
	    "metadata.user_id"))) != XERR_NOTFOUND)
		return rc;
	if (ids_ext_ok(charge, 255) || ids_ext_ok(pi, 255)) {
		a[0] = DB_STR(ids_ext_ok(charge, 255) ? charge : NULL);
		a[1] = DB_STR(ids_ext_ok(pi, 255) ? pi : NULL);
		switch (wh_lookup_user(ev, STMT_CHARGE_USER, a, 2, uid, &rc)) {
		case -1:
			return rc;
		case 1:
			return wh_user(ev, NULL, uid);
		}
	}
	if (ids_ext_ok(customer, 255)) {
		a[0] = DB_STR(customer);
		switch (wh_lookup_user(ev, STMT_CUSTOMER_DELETED_USER, a, 1,
		    uid, &rc)) {
		case -1:
			return rc;
		case 1:
			return wh_user(ev, NULL, uid);
		}
	}
	return XERR_NOTFOUND;
}

/* Records the charge ch of ev's user (for the disputes that name it). */
static enum xerr
wh_charge_record(struct wh_event *ev, struct json_object *ch)
{
	struct dbv	 a[7];
	const char	*id = jsonx_str(ch, "id"), *pi, *cur;
	int64_t		 amount = 0, refunded = 0, created = 0;

	if (!ids_ext_ok(id, 255))
		return wh_fail(ev, XERR_BADREQ, "charge without id");
	pi = jsonx_id(ch, "payment_intent");
	cur = jsonx_str(ch, "currency");
	jsonx_int(ch, "amount", &amount);
	jsonx_int(ch, "amount_refunded", &refunded);
	jsonx_int(ch, "created", &created);
	a[0] = DB_STR(id);
	a[1] = DB_STR(ev->user_id);
	a[2] = DB_STR(ids_ext_ok(pi, 255) ? pi : NULL);
	a[3] = DB_INT(amount);
	a[4] = DB_INT(refunded);
	a[5] = DB_STR(cur != NULL && strlen(cur) <= 8 ? cur : "usd");
	a[6] = DB_INT(created ? created : ev->created);
	return db_exec(ev->db, STMT_CHARGE_UPSERT, a, 7, NULL, NULL);
}

/*
 * Writes the history row of refund re (kind "refund", keyed by the refund
 * id, so charge.refunded and refund.created make one row between them) and
 * tells the user once per refund.  charge names the charge when re does
 * not.
 */
static enum xerr
wh_refund_row(struct wh_event *ev, struct json_object *re, const char *charge)
{
	struct json_object *n;
	const char	*id = jsonx_str(re, "id"), *status, *cur;
	int64_t		 amount = 0;
	char		 detail[600];
	enum xerr	 rc;

	if (!ids_ext_ok(id, 255) || jsonx_int(re, "amount", &amount) != 0 ||
	    amount < 0)
		return wh_fail(ev, XERR_BADREQ, "refund without id or amount");
	if (jsonx_id(re, "charge") != NULL)
		charge = jsonx_id(re, "charge");
	status = jsonx_str(re, "status");
	cur = jsonx_str(re, "currency");
	snprintf(detail, sizeof(detail), "refund=%.255s charge=%.255s "
	    "status=%.32s currency=%.8s", id, charge ? charge : "",
	    status ? status : "", cur ? cur : "usd");
	if ((rc = wh_bevent(ev, id, "refund", &amount, detail)) != XERR_OK)
		return rc;
	/* A refund that failed or was canceled gave nothing back. */
	if (status != NULL && (!strcmp(status, "failed") ||
	    !strcmp(status, "canceled")))
		return XERR_OK;
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(n, "refund_id", id) || jsonx_add_int(n, "amount",
	    amount) || jsonx_add_str(n, "currency", cur) ||
	    jsonx_add_str(n, "event_id", ev->id))
		rc = XERR_NOMEM;
	else
		rc = jobs_notify(ev->db, ev->user_id, "refund_issued", id, n);
	json_object_put(n);
	return rc;
}

/*
 * charge.succeeded: records which user a charge (and its PaymentIntent)
 * belongs to, so a later dispute, which names only those, finds the user.
 */
static enum xerr
wh_charge_succeeded(struct wh_event *ev)
{
	enum xerr	 rc;

	if ((rc = wh_user(ev, jsonx_id(ev->obj, "customer"),
	    jsonx_str(ev->obj, "metadata.user_id"))) != XERR_OK)
		return wh_unmatched(ev, rc);
	return wh_charge_record(ev, ev->obj);
}

/*
 * charge.refunded: records the charge and writes a history row for each
 * refund the charge lists.  Stripe lists them only when refunds is
 * expanded (never in an event since 2022-11-15): then refund.created
 * brings each refund, and this event only records the refunded total.
 */
static enum xerr
wh_charge_refunded(struct wh_event *ev)
{
	struct json_object *re;
	const char	*id = jsonx_str(ev->obj, "id");
	size_t		 i;
	enum xerr	 rc;

	if (!ids_ext_ok(id, 255))
		return wh_fail(ev, XERR_BADREQ, "charge without id");
	if ((rc = wh_pay_user(ev, jsonx_id(ev->obj, "customer"), id,
	    jsonx_id(ev->obj, "payment_intent"))) != XERR_OK)
		return wh_unmatched(ev, rc);
	if ((rc = wh_charge_record(ev, ev->obj)) != XERR_OK)
		return rc;
	for (i = 0; (re = jsonx_idx(ev->obj, "refunds.data", i)) != NULL; i++)
		if ((rc = wh_refund_row(ev, re, id)) != XERR_OK)
			return rc;
	return XERR_OK;
}

/* refund.created: the refund's history row and the user's notice. */
static enum xerr
wh_refund_created(struct wh_event *ev)
{
	enum xerr	 rc;

	if ((rc = wh_pay_user(ev, jsonx_id(ev->obj, "customer"),
	    jsonx_id(ev->obj, "charge"), jsonx_id(ev->obj,
	    "payment_intent"))) != XERR_OK)
		return wh_unmatched(ev, rc);
	return wh_refund_row(ev, ev->obj, NULL);
}

/*
 * charge.dispute.created / charge.dispute.closed.  An open dispute flags
 * the account (a disputes row with is_open); closed clears it and keeps
 * the outcome.  A closed dispute stays closed whatever arrives later.  The
 * operator is told of each, once per dispute.
 */
static enum xerr
wh_dispute(struct wh_event *ev)
{
	struct json_object *n;
	struct db_res	*res = NULL;
	struct dbv	 a[10];
	const char	*id, *charge, *status, *reason, *cur, *tmpl;
	int64_t		 amount = 0, due = 0;
	int		 closed, known, was_open = 0;
	char		 detail[600], url[400], key[300];
	enum xerr	 rc;

	closed = strcmp(ev->type, "charge.dispute.closed") == 0;
	id = jsonx_str(ev->obj, "id");
	charge = jsonx_id(ev->obj, "charge");
	status = jsonx_str(ev->obj, "status");
	reason = jsonx_str(ev->obj, "reason");
	cur = jsonx_str(ev->obj, "currency");
	if (!ids_ext_ok(id, 255) || status == NULL || strlen(status) > 32 ||
	    jsonx_int(ev->obj, "amount", &amount) != 0)
		return wh_fail(ev, XERR_BADREQ, "dispute without id, status "
		    "or amount");
	if (reason != NULL && strlen(reason) > 64)
		reason = NULL;
	if (cur == NULL || strlen(cur) > 8)
		cur = "usd";
	if ((rc = wh_pay_user(ev, jsonx_id(ev->obj, "charge.customer"), charge,
	    jsonx_id(ev->obj, "payment_intent"))) != XERR_OK)
		return wh_unmatched(ev, rc);

	a[0] = DB_STR(id);
	if ((rc = db_query(ev->db, STMT_DISPUTE_LOCK, a, 1, &res)) != XERR_OK)
		return rc;
	known = db_res_rows(res) == 1;
	if (known)
		was_open = db_res_int(res, 0, 0, 0) != 0;
	db_res_free(res);
	if (!known) {
		a[0] = DB_STR(id);
		a[1] = DB_STR(ev->user_id);
		a[2] = DB_STR(ids_ext_ok(charge, 255) ? charge : NULL);
		a[3] = DB_INT(amount);
		a[4] = DB_STR(cur);
		a[5] = DB_STR(reason);
		a[6] = DB_STR(status);
		a[7] = DB_INT(!closed);
		a[8] = DB_INT(ev->created);
		a[9] = DB_STR(closed ? ev->id : NULL);
		rc = db_exec(ev->db, STMT_DISPUTE_INSERT, a, 10, NULL, NULL);
	} else if (closed && was_open) {
		a[0] = DB_STR(status);
		a[1] = DB_STR(reason);
		a[2] = DB_STR(ev->id);
		a[3] = DB_STR(id);
		rc = db_exec(ev->db, STMT_DISPUTE_CLOSE, a, 4, NULL, NULL);
	}
	if (rc != XERR_OK)
		return rc;
	snprintf(detail, sizeof(detail), "dispute=%.255s charge=%.255s "
	    "status=%s reason=%s", id, charge ? charge : "", status,
	    reason ? reason : "");
	if ((rc = wh_bevent(ev, id, closed ? "dispute_closed" :
	    "dispute_opened", &amount, detail)) != XERR_OK)
		return rc;
	/* Opened after it was closed: nothing left for the operator to do. */
	if (!closed && known && !was_open)
		return XERR_OK;

	tmpl = closed ? "operator_dispute_closed" : "operator_dispute_opened";
	snprintf(url, sizeof(url), "https://dashboard.stripe.com/%sdisputes/"
	    "%s", ev->livemode ? "" : "test/", id);
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(n, "dispute_id", id) ||
	    jsonx_add_str(n, "charge_id", charge) ||
	    jsonx_add_int(n, "amount", amount) ||
	    jsonx_add_str(n, "currency", cur) ||
	    jsonx_add_str(n, "reason", reason ? reason : "unknown") ||
	    jsonx_add_str(n, "status", status) ||
	    jsonx_add_str(n, "dashboard_url", url) ||
	    jsonx_add_str(n, "event_id", ev->id) ||
	    (jsonx_int(ev->obj, "evidence_details.due_by", &due) == 0 &&
	    !closed && jsonx_add_int(n, "evidence_due_by", due)))
		rc = XERR_NOMEM;
	else {
		snprintf(key, sizeof(key), "%s", id);
		rc = jobs_notify(ev->db, ev->user_id, tmpl, key, n);
	}
	json_object_put(n);
	return rc;
}

/*
 * invoice.payment_action_required: the bank wants the customer to confirm
 * the payment (3-D Secure).  History row, and the user is mailed the
 * hosted invoice page where they confirm it.
 */
static enum xerr
wh_invoice_action(struct wh_event *ev)
{
	struct json_object *n;
	const char	*inv_id = jsonx_str(ev->obj, "id");
	int64_t		 due = 0;
	enum xerr	 rc;

	if (!ids_ext_ok(inv_id, 255))
		return wh_fail(ev, XERR_BADREQ, "invoice without id");
	if ((rc = wh_user(ev, jsonx_id(ev->obj, "customer"),
	    wh_invoice_meta_user(ev->obj))) != XERR_OK)
		return wh_unmatched(ev, rc);
	jsonx_int(ev->obj, "amount_due", &due);
	if ((rc = wh_bevent(ev, NULL, "payment_action_required", &due,
	    inv_id)) != XERR_OK)
		return rc;
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(n, "invoice_id", inv_id) ||
	    jsonx_add_int(n, "amount_due", due) ||
	    jsonx_add_str(n, "currency", jsonx_str(ev->obj, "currency")) ||
	    jsonx_add_str(n, "hosted_invoice_url", jsonx_str(ev->obj,
	    "hosted_invoice_url")))
		rc = XERR_NOMEM;
	else
		rc = wh_notify(ev, "payment_action_required", n);
	json_object_put(n);
	return rc;
}

/*
 * customer.deleted: the user's link to the customer is cleared and the
 * customer remembered as deleted (never linked again; a later checkout
 * makes a new one).  Stripe cancels a deleted customer's subscriptions
 * (its customer.subscription.deleted events may come before or after
 * this one): they are marked canceled here, and the user drops to the
 * free tier as a deleted subscription would make them.
 */
static enum xerr
wh_customer_deleted(struct wh_event *ev)
{
	struct json_object *n;
	struct dbv	 a[7];
	const char	*customer = jsonx_str(ev->obj, "id");
	char		 old_tier[33], detail[300];
	enum xerr	 rc;

	if (!ids_ext_ok(customer, 255))
		return wh_fail(ev, XERR_BADREQ, "customer without id");
	if ((rc = wh_user(ev, customer, NULL)) != XERR_OK)
		return wh_unmatched(ev, rc);
	if (ev->pre != NULL)
		ev->pre->valid = 0;	/* the customer matches nobody now */
	a[0] = DB_STR(customer);
	a[1] = DB_STR(ev->user_id);
	a[2] = DB_STR(ev->id);
	a[3] = DB_INT(ev->created);
	if ((rc = db_exec(ev->db, STMT_CUSTOMER_DELETED_INSERT, a, 4, NULL,
	    NULL)))
		return rc;
	a[0] = DB_STR(ev->user_id);
	a[1] = DB_STR(customer);
	if ((rc = db_exec(ev->db, STMT_USER_CLEAR_CUSTOMER, a, 2, NULL, NULL)))
		return rc;
	a[0] = DB_STR(ev->id);
	a[1] = DB_INT(ev->created);
	a[2] = DB_STR(customer);
	if ((rc = db_exec(ev->db, STMT_SUBS_CANCEL_BY_CUSTOMER, a, 3, NULL,
	    NULL)))
		return rc;
	snprintf(detail, sizeof(detail), "customer=%.255s", customer);
	if ((rc = wh_bevent(ev, customer, "customer_deleted", NULL, detail)))
		return rc;
	if (ev->user_sub[0] == '\0' || strcmp(ev->user_tier, TIERS_FREE) == 0)
		return XERR_OK;

	/* The user's subscription was the customer's: it is canceled. */
	snprintf(old_tier, sizeof(old_tier), "%s", ev->user_tier);
	a[0] = DB_STR(TIERS_FREE);
	a[1] = DB_STR(ev->user_sub);
	a[2] = DB_NULL;
	a[3] = DB_NULL;
	a[4] = DB_NULL;
	a[5] = DB_INT(0);
	a[6] = DB_STR(ev->user_id);
	if ((rc = db_exec(ev->db, STMT_USER_SET_SUBSCRIPTION, a, 7, NULL,
	    NULL)))
		return rc;
	snprintf(detail, sizeof(detail), "%s -> %s", old_tier, TIERS_FREE);
	if ((rc = wh_bevent(ev, NULL, "tier_changed", NULL, detail)))
		return rc;
	log_info("user %s: customer %s deleted; tier %s", ev->user_id,
	    customer, detail);
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(n, "old_tier", old_tier) ||
	    jsonx_add_str(n, "new_tier", TIERS_FREE))
		rc = XERR_NOMEM;
	else
		rc = wh_notify(ev, "subscription_cancelled", n);
	json_object_put(n);
	if (rc == XERR_OK && ev->user_has_phone &&
	    !tiers_phone_eligible(TIERS_FREE))
		rc = phone_grace_start(ev->db, ev->cfg, ev->user_id, ev->id);
	return rc;
}

/*
 * A small per-process memory of event ids whose outcome is final, so a
 * redelivery seen by this process again costs no database round trip.
 * Only final outcomes are remembered (never "failed"), and replays bypass
 * it; a lost entry only means one primary-key lookup more.
 *
 * Request threads read it on every delivery and committers write it, so
 * it takes no lock (a reader preempted while holding one would stall every
 * other request thread): each slot is a sequence lock.  A writer makes the
 * sequence odd (skipping the slot if another writer holds it), stores the
 * id, and makes it even again; a reader copies the id between two reads of
 * an even, unchanged sequence, else it reports "not seen".  The id is kept
 * in atomic words, so no access is a data race.
 */
#define WH_SEEN_SLOTS	4096
#define WH_SEEN_WORDS	8	/* ids up to 63 bytes */

struct wh_seen_slot {
	uint64_t	 seq;
	uint64_t	 w[WH_SEEN_WORDS];
};

static struct wh_seen_slot	 wh_seen_ids[WH_SEEN_SLOTS];

static struct wh_seen_slot *
wh_seen_slot(const char *id)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return &wh_seen_ids[h % WH_SEEN_SLOTS];
}

/* Packs id (NUL-padded) into words; 0 when it does not fit. */
static int
wh_seen_pack(const char *id, uint64_t w[WH_SEEN_WORDS])
{
	size_t	 len = strlen(id);

	if (len >= WH_SEEN_WORDS * 8)
		return 0;
	memset(w, 0, WH_SEEN_WORDS * 8);
	memcpy(w, id, len);
	return 1;
}

static int
wh_seen(const char *id)
{
	struct wh_seen_slot	*sl = wh_seen_slot(id);
	uint64_t		 want[WH_SEEN_WORDS], s0, s1;
	size_t			 i;
	int			 same = 1;

	if (!wh_seen_pack(id, want))
		return 0;
	s0 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	if (s0 & 1)
		return 0;
	for (i = 0; i < WH_SEEN_WORDS; i++)
		same &= __atomic_load_n(&sl->w[i], __ATOMIC_RELAXED) == want[i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s1 = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
	return same && s0 == s1;
}

static void
wh_remember(const char *id)
{
	struct wh_seen_slot	*sl = wh_seen_slot(id);
	uint64_t		 w[WH_SEEN_WORDS], s;
	size_t			 i;

	if (!wh_seen_pack(id, w))
		return;
	s = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
	if ((s & 1) || !__atomic_compare_exchange_n(&sl->seq, &s, s + 1, 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;		/* another writer has the slot */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (i = 0; i < WH_SEEN_WORDS; i++)
		__atomic_store_n(&sl->w[i], w[i], __ATOMIC_RELAXED);
	__atomic_store_n(&sl->seq, s + 2, __ATOMIC_RELEASE);
}

/* Reads the stored status of event id into buf. */
static enum xerr
wh_stored_status(struct db *db, const char *id, char *buf, size_t bufsz)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	a[0] = DB_STR(id);
	if ((rc = db_query(db, STMT_EVENT_STATUS, a, 1, &res)) != XERR_OK)
		return rc;
	snprintf(buf, bufsz, "%s", db_res_rows(res) ? db_res_str(res, 0, 0) : "");
	db_res_free(res);
	return XERR_OK;
}

/* The columns of ev's stripe_events row, status and user_id last. */
static void
wh_row(const struct wh_event *ev, struct dbv a[9])
{
	a[0] = DB_STR(ev->id);
	a[1] = DB_STR(ev->type);
	a[2] = DB_STR(ev->api_version);
	a[3] = DB_INT(ev->livemode);
	a[4] = DB_INT(ev->created);
	a[5] = DB_STR(ev->object_id);
	a[6] = DB_BLOB(ev->payload, ev->len);
	a[7] = DB_STR(ev->status);
	a[8] = DB_STR(ev->user_id[0] ? ev->user_id : NULL);
}

/* Records a failed attempt outside the rolled-back transaction. */
static void
wh_record_failure(struct wh_event *ev)
{
	struct dbv	 a[9];

	wh_row(ev, a);
	a[7] = DB_STR(ev->err[0] ? ev->err : "effect failed");
	if (db_exec(ev->db, STMT_EVENT_FAIL, a, 8, NULL, NULL) != XERR_OK)
		log_warnx("event %s: could not record the failure", ev->id);
}

/* Returns 1 when a stored event of status st is to be applied (again). */
static int
wh_retryable(const char *st, int replay)
{
	return strcmp(st, "failed") == 0 ||
	    (replay && strcmp(st, "unmatched") == 0);
}

/*
 * Parses and checks a delivery's body into ev (root, id, type, ...).
 * XERR_BADREQ with errbuf set when it is not an event we can store.  The
 * caller puts ev->root in every case.
 */
static enum xerr
wh_parse(struct wh_event *ev, const struct cfg *cfg, const char *payload,
    size_t len, char *errbuf, size_t errsz)
{
	memset(ev, 0, sizeof(*ev));
	ev->cfg = cfg;
	ev->payload = payload;
	ev->len = len;
	if (jsonx_parse(payload, len, &ev->root) != XERR_OK) {
		snprintf(errbuf, errsz, "body is not valid JSON");
		return XERR_BADREQ;
	}
	ev->id = jsonx_str(ev->root, "id");
	ev->type = jsonx_str(ev->root, "type");
	ev->obj = jsonx_path(ev->root, "data.object");
	if (!ids_ext_ok(ev->id, 255) || !ids_ext_ok(ev->type, 128) ||
	    jsonx_int(ev->root, "created", &ev->created) != 0 ||
	    ev->obj == NULL || !json_object_is_type(ev->obj, json_type_object)) {
		snprintf(errbuf, errsz, "event needs id, type, created and "
		    "data.object");
		return XERR_BADREQ;
	}
	ev->api_version = jsonx_str(ev->root, "api_version");
	if (ev->api_version != NULL && strlen(ev->api_version) > 32)
		ev->api_version = NULL;
	ev->livemode = jsonx_bool(ev->root, "livemode", 0);
	ev->object_id = jsonx_str(ev->obj, "id");
	if (ev->object_id != NULL && !ids_ext_ok(ev->object_id, 255))
		ev->object_id = NULL;
	ev->t = wh_lookup(ev->type);
	return XERR_OK;
}

/* Inside a transaction: applies ev's effects, noting the outcome in ev. */
static enum xerr
wh_effects(struct wh_event *ev)
{
	struct dbv	 a[3];
	const char	*customer;
	enum xerr	 rc;

	ev->status = ev->t != NULL ? "processed" : "ignored";
	ev->err[0] = '\0';
	ev->user_id[0] = '\0';
	if (ev->t == NULL)
		return XERR_OK;
	if ((rc = ev->t->apply(ev)) != XERR_OK)
		return rc;
	/* Kept aside until its customer becomes known (D5). */
	if (strcmp(ev->status, "unmatched") != 0 ||
	    (customer = jsonx_id(ev->obj, "customer")) == NULL ||
	    !ids_ext_ok(customer, 255))
		return XERR_OK;
	a[0] = DB_STR(ev->id);
	a[1] = DB_STR(customer);
	a[2] = DB_INT(ev->created);
	return db_exec(ev->db, STMT_UNMATCHED_INSERT, a, 3, NULL, NULL);
}

/*
 * Inside a transaction: applies ev's effects, then inserts its row with
 * the outcome.  XERR_DUP when the row exists (a duplicate, or a stored
 * failure to apply again).
 */
static enum xerr
wh_store(struct wh_event *ev)
{
	struct dbv	 a[9];
	enum xerr	 rc;

	if ((rc = wh_effects(ev)) != XERR_OK)
		return rc;
	wh_row(ev, a);
	return db_exec(ev->db, STMT_EVENT_INSERT, a, 9, NULL, NULL);
}

/* Stores and applies a parsed event on db, in a transaction of its own. */
static enum xerr
wh_apply_parsed(struct wh_event *ev, struct db *db, int replay,
    const char **status, char *errbuf, size_t errsz)
{
	struct db_res		*res = NULL;
	struct dbv		 a[9];
	const char		*final;
	char			 stored[32] = "";
	int			 tries, again = 0;
	enum xerr		 rc;

	*status = NULL;
	errbuf[0] = '\0';
	ev->db = db;
	if (!replay && wh_seen(ev->id)) {
		*status = "duplicate";
		return XERR_OK;
	}

	/* A type we do not act on is stored in one statement. */
	if (ev->t == NULL && !replay) {
		ev->status = "ignored";
		ev->user_id[0] = '\0';
		wh_row(ev, a);
		rc = db_exec(db, STMT_EVENT_INSERT, a, 9, NULL, NULL);
		if (rc == XERR_DUP)
			rc = XERR_OK, *status = "duplicate";
		else if (rc == XERR_OK)
			*status = "ignored";
		if (rc == XERR_OK)
			wh_remember(ev->id);
		return rc;
	}

	/*
	 * Effects first, then the event row with its outcome, in one
	 * transaction.  Concurrent deliveries of one event serialize on the
	 * user's row and then on the event's key: the second finds a
	 * duplicate and rolls back whatever it did.
	 */
	for (tries = 0; tries < WH_TXN_TRIES; tries++) {
		if ((rc = db_begin(db)) != XERR_OK)
			return rc;
		if (again) {
			/* A stored failed (or replayed) event: one applier at a time. */
			a[0] = DB_STR(ev->id);
			if ((rc = db_query(db, STMT_EVENT_LOCK, a, 1, &res)))
				goto fail;
			final = db_res_rows(res) ? db_res_str(res, 0, 0) : "";
			if (!wh_retryable(final, replay)) {
				db_res_free(res);
				db_rollback(db);
				*status = "duplicate";
				return XERR_OK;
			}
			db_res_free(res);
			res = NULL;
			if ((rc = wh_effects(ev)) != XERR_OK)
				goto fail;
			a[0] = DB_STR(ev->status);
			a[1] = DB_STR(ev->user_id[0] ? ev->user_id : NULL);
			a[2] = DB_STR(ev->id);
			rc = db_exec(db, STMT_EVENT_FINISH, a, 3, NULL, NULL);
		} else if ((rc = wh_store(ev)) == XERR_DUP) {
			/* Stored before us: a duplicate, unless it failed. */
			db_rollback(db);
			if ((rc = wh_stored_status(db, ev->id, stored,
			    sizeof(stored))) != XERR_OK)
				return rc;
			if (wh_retryable(stored, replay)) {
				again = 1;
				continue;
			}
			wh_remember(ev->id);
			*status = "duplicate";
			return XERR_OK;
		}
		if (rc != XERR_OK || (rc = db_commit(db)) != XERR_OK)
			goto fail;
		*status = ev->status;
		wh_remember(ev->id);
		if (strcmp(ev->status, "processed") != 0)
			log_info("event %s (%s): %s", ev->id, ev->type, ev->status);
		return XERR_OK;
fail:
		db_res_free(res);
		res = NULL;
		db_rollback(db);
		if (rc == XERR_DEADLOCK && tries + 1 < WH_TXN_TRIES)
			continue;
		break;
	}
	if (rc == XERR_OK)
		rc = XERR_INTERNAL;
	if (ev->err[0] == '\0')
		snprintf(ev->err, sizeof(ev->err), "%s", xerr_code(rc));
	snprintf(errbuf, errsz, "%s", ev->err);
	log_warnx("event %s (%s) failed: %s", ev->id, ev->type, ev->err);
	/* A database gone or read-only would not store the failure either. */
	if (rc != XERR_DB_GONE && rc != XERR_UNAVAILABLE)
		wh_record_failure(ev);
	/*
	 * An effect that found the object unusable (no customer, no period)
	 * is a failed event like any other: stored, 500.  A 400 (BADREQ)
	 * means refused before anything was stored.
	 */
	if (rc == XERR_BADREQ)
		rc = XERR_UNPROCESSABLE;
	return rc;
}

enum xerr
webhook_apply(struct db *db, const struct cfg *cfg, const char *payload,
    size_t len, int replay, const char **status, char *errbuf, size_t errsz)
{
	struct wh_event	 ev;
	enum xerr	 rc;

	*status = NULL;
	errbuf[0] = '\0';
	if ((rc = wh_parse(&ev, cfg, payload, len, errbuf, errsz)) == XERR_OK)
		rc = wh_apply_parsed(&ev, db, replay, status, errbuf, errsz);
	json_object_put(ev.root);
	return rc;
}

/*
 * Group commit, in a threaded xsb-webhook (webhook_start).  Request
 * threads verify and parse deliveries in parallel and queue them; a
 * committer thread takes whatever is queued (up to WEBHOOK_BATCH_MAX) and
 * stores the lot in one transaction, each event's effects then its row,
 * exactly as one delivery alone would; then it wakes each request thread
 * to answer.  Nothing is answered before the commit.  When any event of
 * a batch fails (an effect error, a duplicate key, a deadlock), the batch
 * is rolled back and each of its events is applied alone, on the path a
 * single delivery takes, so a batch never changes an outcome.
 */
struct wh_pending {
	struct wh_event		 ev;		/* parsed */
	const char		*rid;		/* request id, for log lines */
	enum xerr		 rc;		/* the outcome, once done */
	const char		*status;
	char			 err[256];
	int			 alone;		/* apply outside the batch */
	sem_t			 done;		/* posted once the outcome is set */
	struct wh_pending	*next;
};

/*
 * The queue.  A committer takes work when no other committer is busy, or
 * when WH_PIPELINE_MIN events wait: with several committers, one fills its
 * batch while another waits for MariaDB's commit, without splitting the
 * queue into small batches (each costs its own round trips and fsync).
 */
#define WH_PIPELINE_MIN	8

static struct {
	pthread_mutex_t		 mu;
	pthread_cond_t		 work;
	struct wh_pending	*head;
	struct wh_pending	**tailp;
	size_t			 len;		/* events queued */
	unsigned		 busy;		/* committers inside a batch */
	int			 started;
} wh_q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
    &wh_q.head, 0, 0, 0 };

/* With wh_q.mu held: whether a committer should take work now. */
static int
wh_q_ready(void)
{
	return wh_q.head != NULL &&
	    (wh_q.busy == 0 || wh_q.len >= WH_PIPELINE_MIN);
}

/*
 * Reads which events of the batch are stored already: a final outcome is
 * a duplicate (answered without a transaction), a failed one is applied
 * alone.  On a database error every event is applied alone.  Returns the
 * number found.
 */
static size_t
wh_batch_lookup(struct db *db, struct wh_pending **it, size_t n)
{
	size_t		 found = 0;
	struct db_res	*res = NULL;
	struct dbv	 a[WH_LOOKUP_IDS];
	const char	*id, *st;
	size_t		 i, j, k, m;

	for (i = 0; i < n; i += WH_LOOKUP_IDS) {
		m = n - i < WH_LOOKUP_IDS ? n - i : WH_LOOKUP_IDS;
		for (k = 0; k < WH_LOOKUP_IDS; k++)
			a[k] = k < m ? DB_STR(it[i + k]->ev.id) : DB_NULL;
		if (db_query(db, STMT_EVENT_STATUS_16, a, WH_LOOKUP_IDS,
		    &res) != XERR_OK) {
			for (k = 0; k < n; k++)
				it[k]->alone = 1;
			return n;
		}
		found += db_res_rows(res);
		for (j = 0; j < db_res_rows(res); j++) {
			id = db_res_str(res, j, 0);
			st = db_res_str(res, j, 1);
			for (k = i; k < i + m; k++) {
				if (strcmp(it[k]->ev.id, id) != 0 ||
				    it[k]->status != NULL)
					continue;
				if (wh_retryable(st, 0))
					it[k]->alone = 1;
				else {
					it[k]->status = "duplicate";
					wh_remember(id);
				}
			}
		}
		db_res_free(res);
		res = NULL;
	}
	return found;
}

/*
 * Reads ahead, and locks, the users of the customers the live events of
 * the batch name (see struct wh_pre).
 */
static enum xerr
wh_batch_users(struct db *db, struct wh_pre *pre, struct wh_pending **it,
    size_t n)
{
	struct dbv	 a[WH_LOOKUP_IDS];
	const char	*c;
	size_t		 i, j, k;
	enum xerr	 rc;

	for (i = 0; i < n; i++) {
		if (it[i]->alone || it[i]->status != NULL ||
		    it[i]->ev.t == NULL)
			continue;
		c = jsonx_id(it[i]->ev.obj, "customer");
		if (c == NULL || !ids_ext_ok(c, 255))
			continue;
		for (j = 0; j < pre->nasked; j++)
			if (strcmp(pre->asked[j], c) == 0)
				break;
		if (j == pre->nasked)
			pre->asked[pre->nasked++] = c;
	}
	for (i = 0; i < pre->nasked; i += WH_LOOKUP_IDS) {
		for (k = 0; k < WH_LOOKUP_IDS; k++)
			a[k] = i + k < pre->nasked ? DB_STR(pre->asked[i + k]) :
			    DB_NULL;
		if ((rc = db_query(db, STMT_USER_LOCK_BY_CUSTOMER_16, a,
		    WH_LOOKUP_IDS, &pre->res[pre->nres])) != XERR_OK)
			return rc;
		pre->nres++;
	}
	pre->valid = 1;
	return XERR_OK;
}

/*
 * Runs the live events of the batch in one transaction: their users read
 * ahead, each event's effects in turn, then all their rows in one
 * statement, then the commit, chained to the next transaction (no
 * START TRANSACTION round trip for the next batch).
 */
static enum xerr
wh_batch_txn(struct db *db, struct wh_pre *pre, struct dbv *rows,
    struct wh_pending **it, size_t n)
{
	struct wh_pending	*p;
	size_t			 i, live = 0;
	enum xerr		 rc;

	/* After a batch the connection is already in the next transaction. */
	if (!db_in_txn(db) && (rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = wh_batch_users(db, pre, it, n)) != XERR_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		p = it[i];
		if (p->alone || p->status != NULL)
			continue;
		log_set_rid(p->rid);
		p->ev.pre = pre;
		rc = wh_effects(&p->ev);
		p->ev.pre = NULL;
		if (rc != XERR_OK)
			goto fail;
		wh_row(&p->ev, &rows[live++ * 9]);
	}
	log_set_rid(NULL);
	if ((rc = db_exec_rows(db, STMT_EVENT_INSERT, rows, 9, live)) !=
	    XERR_OK || (rc = db_commit_chain(db)) != XERR_OK)
		goto fail;
	return XERR_OK;
fail:
	log_set_rid(NULL);
	db_rollback(db);
	return rc;
}

#define WH_LOOKUP_BATCHES	64

/* Batches of this committer that still look their ids up first. */
static __thread unsigned	 wh_lookup_due;

/* Stores the n queued events of it on db (see above). */
static void
wh_batch(struct db *db, struct dbv *rows, struct wh_pending **it, size_t n)
{
	struct wh_pre		 pre;
	struct wh_pending	*p;
	size_t			 i, j, live = 0;
	enum xerr		 rc;

	for (i = 0; i < n; i++) {
		p = it[i];
		p->ev.db = db;
		p->ev.pre = NULL;
		p->rc = XERR_OK;
		p->status = NULL;
		p->err[0] = '\0';
		/* Alone: one in a batch of one, or an id seen earlier in it. */
		p->alone = n == 1;
		for (j = 0; j < i && !p->alone; j++)
			p->alone = strcmp(it[j]->ev.id, p->ev.id) == 0;
	}
	/*
	 * Redeliveries of stored events come in runs (Stripe retrying after
	 * an outage, a replay): after a batch met one, the next batches look
	 * their ids up first instead of failing on the duplicate key.
	 */
	if (n > 1 && wh_lookup_due > 0)
		wh_lookup_due = wh_batch_lookup(db, it, n) > 0 ?
		    WH_LOOKUP_BATCHES : wh_lookup_due - 1;
	for (i = 0; i < n; i++)
		live += !it[i]->alone && it[i]->status == NULL;
	if (live > 1) {
		memset(&pre, 0, sizeof(pre));
		rc = wh_batch_txn(db, &pre, rows, it, n);
		for (i = 0; i < pre.nres; i++)
			db_res_free(pre.res[i]);
		if (rc == XERR_OK) {
			metrics_inc(METRICS_WEBHOOK_BATCHES);
			metrics_add(METRICS_WEBHOOK_BATCHED, live);
		} else
			metrics_inc(METRICS_WEBHOOK_BATCH_ROLLBACKS);
		if (rc == XERR_DUP)
			wh_lookup_due = WH_LOOKUP_BATCHES;
		if (rc != XERR_OK)
			log_info("batch of %zu events: %s; each applied alone",
			    live, xerr_code(rc));
		for (i = 0; i < n; i++) {
			p = it[i];
			if (p->alone || p->status != NULL)
				continue;
			if (rc != XERR_OK) {
				p->alone = 1;
				continue;
			}
			p->status = p->ev.status;
			wh_remember(p->ev.id);
			log_set_rid(p->rid);
			if (strcmp(p->status, "processed") != 0)
				log_info("event %s (%s): %s", p->ev.id,
				    p->ev.type, p->status);
		}
	} else
		for (i = 0; i < n; i++)
			if (it[i]->status == NULL)
				it[i]->alone = 1;
	for (i = 0; i < n; i++) {
		p = it[i];
		if (!p->alone || p->status != NULL)	/* answered by the lookup */
			continue;
		if (db_in_txn(db))
			db_rollback(db);	/* the empty chained one */
		log_set_rid(p->rid);
		p->rc = wh_apply_parsed(&p->ev, db, 0, &p->status, p->err,
		    sizeof(p->err));
	}
	log_set_rid(NULL);
}

/* A committer thread: one database connection, batch after batch. */
static void *
wh_committer(void *arg)
{
	const struct cfg	*cfg = arg;
	struct wh_pending	*it[WH_BATCH_LIMIT];
	struct db		*db = NULL;
	struct dbv		*rows;
	size_t			 n, i, max;
	int			 again;

	pthread_setname_np(pthread_self(), "xsb-committer");
	jsonx_thread_init();
	max = cfg->webhook_batch_max < WH_BATCH_LIMIT ?
	    cfg->webhook_batch_max : WH_BATCH_LIMIT;
	if (db_open(cfg, stmt_table(), &db) != XERR_OK ||
	    (rows = calloc(WH_BATCH_LIMIT * 9, sizeof(*rows))) == NULL)
		log_fatalx("out of memory at start");
	for (;;) {
		pthread_mutex_lock(&wh_q.mu);
		while (!wh_q_ready())
			pthread_cond_wait(&wh_q.work, &wh_q.mu);
		for (n = 0; n < max && wh_q.head != NULL; n++) {
			it[n] = wh_q.head;
			wh_q.head = wh_q.head->next;
		}
		if (wh_q.head == NULL)
			wh_q.tailp = &wh_q.head;
		wh_q.len -= n;
		wh_q.busy++;
		pthread_mutex_unlock(&wh_q.mu);

		/* It may leave the next (empty) transaction open: see wh_batch_txn. */
		wh_batch(db, rows, it, n);

		pthread_mutex_lock(&wh_q.mu);
		wh_q.busy--;
		again = wh_q_ready();
		pthread_mutex_unlock(&wh_q.mu);
		if (again)
			pthread_cond_signal(&wh_q.work);	/* another committer */

		/* No lock held: a woken thread runs without waiting for us. */
		for (i = 0; i < n; i++)
			sem_post(&it[i]->done);
	}
	return NULL;
}

enum xerr
webhook_start(const struct cfg *cfg, unsigned long *threads)
{
	pthread_t	 tid;
	unsigned long	 i;

	for (i = 0; i < cfg->webhook_committers; i++)
		if (pthread_create(&tid, NULL, wh_committer,
		    (void *)(uintptr_t)cfg) != 0) {
			log_warnx("cannot start committer thread");
			return XERR_INTERNAL;
		}
	wh_q.started = 1;
	*threads = cfg->webhook_threads;
	log_info("%lu request threads, %lu committers, batches of up to %lu",
	    cfg->webhook_threads, cfg->webhook_committers,
	    cfg->webhook_batch_max);
	return XERR_OK;
}

/* Queues a parsed event for a committer and waits until it is done. */
static void
wh_submit(struct wh_pending *p)
{
	int	 ready;

	sem_init(&p->done, 0, 0);
	p->next = NULL;
	pthread_mutex_lock(&wh_q.mu);
	*wh_q.tailp = p;
	wh_q.tailp = &p->next;
	wh_q.len++;
	ready = wh_q_ready();
	pthread_mutex_unlock(&wh_q.mu);
	/* After the unlock: a woken committer does not wait for the lock. */
	if (ready)
		pthread_cond_signal(&wh_q.work);
	while (sem_wait(&p->done) != 0)
		;	/* EINTR */
	sem_destroy(&p->done);
}

/* Stores the delivery in r: through a committer when they run. */
static enum xerr
wh_deliver(struct req *r, const char **status, char *errbuf, size_t errsz)
{
	struct wh_pending	 p;
	enum xerr		 rc;

	*status = NULL;
	errbuf[0] = '\0';
	if (!wh_q.started)
		return webhook_apply(r->db, r->cfg, r->body, r->bodylen, 0,
		    status, errbuf, errsz);
	memset(&p, 0, sizeof(p));
	if ((rc = wh_parse(&p.ev, r->cfg, r->body, r->bodylen, errbuf,
	    errsz)) != XERR_OK)
		goto out;
	if (wh_seen(p.ev.id)) {
		*status = "duplicate";
		goto out;
	}
	p.rid = r->id;
	wh_submit(&p);
	rc = p.rc;
	*status = p.status;
	snprintf(errbuf, errsz, "%s", p.err);
out:
	json_object_put(p.ev.root);
	return rc;
}

void
webhook_handle(struct req *r)
{
	const struct cfg	*cfg = r->cfg;
	struct json_object	*o;
	const char		*why = NULL, *status = NULL;
	char			 err[256];
	enum xerr		 rc;

	rc = stripe_sig_verify(req_header(r, "Stripe-Signature"), r->body,
	    r->bodylen, cfg->stripe_webhook_secrets,
	    cfg->stripe_webhook_nsecrets, (long long)cfg->stripe_webhook_tolerance,
	    (long long)time(NULL), &why);
	if (rc != XERR_OK) {
		metrics_inc(METRICS_SIGNATURE_FAILURES);
		req_error(r, XERR_BADREQ, "signature_invalid",
		    "Stripe-Signature verification failed: %s", why);
		return;
	}
	rc = wh_deliver(r, &status, err, sizeof(err));
	switch (rc) {
	case XERR_OK:
		break;
	case XERR_BADREQ:
		req_error(r, rc, "malformed_event", "%s", err);
		return;
	case XERR_DB_GONE:
	case XERR_DEADLOCK:
	case XERR_UNAVAILABLE:		/* read-only: cannot commit */
		req_error_status(r, xerr_status(XERR_UNAVAILABLE),
		    "Retry-After: 1\r\n", "database_unavailable",
		    "event not stored; try again");
		return;
	default:
		req_error(r, XERR_INTERNAL, "processing_failed",
		    "event not applied: %s", err);
		return;
	}
	if ((o = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "received",
	    json_object_new_boolean(1)) || jsonx_add_str(o, "status", status)) {
		json_object_put(o);
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	req_reply_json(r, 200, o);
	json_object_put(o);
}
