#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cfg.h"
#include "db.h"
#include "ids.h"
#include "jobs.h"
#include "jsonx.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "stripe_sig.h"
#include "tiers.h"
#include "usage.h"
#include "webhook.h"

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
	const char		*status;	/* outcome, static */
	char			 err[256];	/* why an effect failed */

	/* The user, once wh_user() has locked the row. */
	char			 user_id[65];
	char			 user_tier[33];
	char			 user_sub[256];	/* "" when none */
	int			 user_has_phone;
};

typedef enum xerr (*wh_apply_fn)(struct wh_event *);

static enum xerr wh_checkout_completed(struct wh_event *);
static enum xerr wh_subscription(struct wh_event *);
static enum xerr wh_trial_will_end(struct wh_event *);
static enum xerr wh_invoice(struct wh_event *);
static enum xerr wh_invoice_upcoming(struct wh_event *);

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

/* Loads the locked user row of res into ev. */
static void
wh_user_load(struct wh_event *ev, struct db_res *res)
{
	const char	*s;

	snprintf(ev->user_id, sizeof(ev->user_id), "%s", db_res_str(res, 0, 0));
	snprintf(ev->user_tier, sizeof(ev->user_tier), "%s",
	    db_res_str(res, 0, 1));
	s = db_res_str(res, 0, 2);
	snprintf(ev->user_sub, sizeof(ev->user_sub), "%s", s ? s : "");
	ev->user_has_phone = !db_res_isnull(res, 0, 3) ||
	    strcmp(db_res_str(res, 0, 5), "none") != 0;
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
	if (customer != NULL) {
		args[0] = DB_STR(customer);
		if ((rc = db_query(ev->db, STMT_USER_LOCK_BY_CUSTOMER, args, 1,
		    &res)) != XERR_OK)
			return rc;
		if (db_res_rows(res) == 1) {
			wh_user_load(ev, res);
			db_res_free(res);
			return XERR_OK;
		}
		db_res_free(res);
		res = NULL;
	}
	if (!ids_user_ok(user_id))
		return XERR_NOTFOUND;
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
	wh_user_load(ev, res);
	db_res_free(res);
	if (customer != NULL && linked == NULL) {
		args[0] = DB_STR(customer);
		args[1] = DB_STR(ev->user_id);
		if ((rc = db_exec(ev->db, STMT_USER_SET_CUSTOMER, args, 2, NULL,
		    NULL)) != XERR_OK)
			return rc;
		log_info("customer %s linked to user %s", customer, ev->user_id);
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
 * Returns a period field of the subscription, or of its first item where
 * newer API versions put it; 0 when neither has it.
 */
static int64_t
wh_sub_period(struct json_object *sub, const char *field)
{
	struct json_object *item;
	int64_t		 v = 0;

	if (jsonx_int(sub, field, &v) == 0)
		return v;
	item = jsonx_idx(sub, "items.data", 0);
	if (jsonx_int(item, field, &v) == 0)
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
 * customer.subscription.created/updated/deleted.
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
			rc = wh_notify(ev, strcmp(new_tier, TIERS_FREE) == 0 ?
			    "subscription_cancelled" : "subscription_downgraded",
			    n);
			json_object_put(n);
			if (rc)
				return rc;
		}
	}
	if (tiers_phone_eligible(new_tier) && !ev->user_has_phone)
		return wh_phone_job(ev, "phone_provision");
	if (!tiers_phone_eligible(new_tier) && ev->user_has_phone)
		return wh_phone_job(ev, "phone_release");
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

/* Returns the invoice's user id from the metadata we set, or NULL. */
static const char *
wh_invoice_meta_user(struct json_object *inv)
{
	const char	*u;

	if ((u = jsonx_str(inv, "subscription_details.metadata.user_id")))
		return u;
	return jsonx_str(inv, "metadata.user_id");
}

/* Finds the new billing cycle in an invoice's subscription line. */
static int
wh_invoice_cycle(struct json_object *inv, int64_t *start, int64_t *end)
{
	struct json_object *lines = jsonx_path(inv, "lines.data"), *l;
	size_t		 i, n;
	const char	*type;

	if (lines == NULL || !json_object_is_type(lines, json_type_array))
		return -1;
	n = json_object_array_length(lines);
	for (i = 0; i < n; i++) {
		l = json_object_array_get_idx(lines, i);
		type = jsonx_str(l, "type");
		if (type != NULL && strcmp(type, "subscription") == 0 &&
		    jsonx_int(l, "period.start", start) == 0 &&
		    jsonx_int(l, "period.end", end) == 0 && *end > *start)
			return 0;
	}
	return -1;
}

/*
 * invoice.created / payment_succeeded / paid / payment_failed: billing
 * history upserted by invoice id.  A paid invoice stays paid whatever
 * arrives later.  Payment moves the billing cycle; a failure notifies; a
 * draft subscription_cycle invoice gets the overage of the period that
 * ended (a job adds the invoice items).
 */
static enum xerr
wh_invoice(struct wh_event *ev)
{
	struct json_object *inv = ev->obj, *n;
	struct db_res	*res = NULL;
	struct dbv	 a[15];
	const char	*inv_id, *status, *reason, *sub, *old = NULL;
	int64_t		 due = 0, paid = 0, ps = 0, pe = 0, att = 0, next = 0;
	int64_t		 cs, ce, created = 0;
	int		 is_paid, is_failed, is_created;
	enum xerr	 rc;

	is_paid = strcmp(ev->type, "invoice.payment_succeeded") == 0 ||
	    strcmp(ev->type, "invoice.paid") == 0;
	is_failed = strcmp(ev->type, "invoice.payment_failed") == 0;
	is_created = strcmp(ev->type, "invoice.created") == 0;
	inv_id = jsonx_str(inv, "id");
	if (!ids_ext_ok(inv_id, 255))
		return wh_fail(ev, XERR_BADREQ, "invoice without id");
	status = jsonx_str(inv, "status");
	reason = jsonx_str(inv, "billing_reason");
	sub = jsonx_id(inv, "subscription");
	jsonx_int(inv, "amount_due", &due);
	jsonx_int(inv, "amount_paid", &paid);
	jsonx_int(inv, "period_start", &ps);
	jsonx_int(inv, "period_end", &pe);
	jsonx_int(inv, "attempt_count", &att);
	jsonx_int(inv, "next_payment_attempt", &next);
	jsonx_int(inv, "created", &created);
	if (is_paid)
		status = "paid";
	else if (is_failed)
		status = "payment_failed";
	else if (status == NULL)
		status = "draft";

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
	if (db_res_rows(res) == 1)
		old = db_res_str(res, 0, 0);
	if (old != NULL && strcmp(old, "paid") == 0 && !is_paid)
		status = NULL;		/* paid is final */
	if (status != NULL) {
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
		rc = db_exec(ev->db, STMT_INVOICE_UPSERT, a, 15, NULL, NULL);
	}
	db_res_free(res);
	if (rc)
		return rc;

	if (is_paid) {
		if ((rc = wh_bevent(ev, inv_id, "invoice_paid", &paid, inv_id)))
			return rc;
		/* The usage period rolls over with the cycle; nothing is zeroed. */
		if (wh_invoice_cycle(inv, &cs, &ce) == 0 && (sub == NULL ||
		    ev->user_sub[0] == '\0' || !strcmp(sub, ev->user_sub))) {
			a[0] = DB_INT(cs);
			a[1] = DB_INT(ce);
			a[2] = DB_STR(ev->user_id);
			if ((rc = db_exec(ev->db, STMT_USER_SET_CYCLE, a, 3,
			    NULL, NULL)))
				return rc;
		}
		return XERR_OK;
	}
	if (is_failed) {
		if ((rc = wh_bevent(ev, NULL, "payment_failed", &due, inv_id)))
			return rc;
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
	if (is_created) {
		if ((rc = wh_bevent(ev, inv_id, "invoice_created", &due, inv_id)))
			return rc;
		if (status == NULL || strcmp(status, "draft") != 0 ||
		    reason == NULL || strcmp(reason, "subscription_cycle") != 0)
			return XERR_OK;
		if (pe <= ps)
			return wh_fail(ev, XERR_BADREQ, "invoice %.64s without "
			    "a period", inv_id);
		if ((n = json_object_new_object()) == NULL)
			return XERR_NOMEM;
		jsonx_add_str(n, "invoice_id", inv_id);
		jsonx_add_str(n, "customer", jsonx_id(inv, "customer"));
		jsonx_add_str(n, "subscription", sub);
		jsonx_add_str(n, "tier", ev->user_tier);
		jsonx_add_int(n, "period_start", ps);
		jsonx_add_int(n, "period_end", pe);
		rc = wh_job(ev, "invoice_items", inv_id, n);
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
 * A small per-process memory of event ids whose outcome is final, so a
 * redelivery seen by this process again costs no database round trip.
 * Only final outcomes are remembered (never "failed"), and replays bypass
 * it; a lost entry only means one primary-key lookup more.
 */
#define WH_SEEN_SLOTS	4096
#define WH_SEEN_LEN	64

static char	 wh_seen_ids[WH_SEEN_SLOTS][WH_SEEN_LEN];

static size_t
wh_seen_slot(const char *id)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % WH_SEEN_SLOTS;
}

static int
wh_seen(const char *id)
{
	return strcmp(wh_seen_ids[wh_seen_slot(id)], id) == 0;
}

static void
wh_remember(const char *id)
{
	if (strlen(id) < WH_SEEN_LEN)
		snprintf(wh_seen_ids[wh_seen_slot(id)], WH_SEEN_LEN, "%s", id);
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

/* Records a failed attempt outside the rolled-back transaction. */
static void
wh_record_failure(struct wh_event *ev, const char *api_version, int livemode,
    const char *object_id, const char *payload, size_t len)
{
	struct dbv	 a[8];

	a[0] = DB_STR(ev->id);
	a[1] = DB_STR(ev->type);
	a[2] = DB_STR(api_version);
	a[3] = DB_INT(livemode);
	a[4] = DB_INT(ev->created);
	a[5] = DB_STR(object_id);
	a[6] = DB_BLOB(payload, len);
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

enum xerr
webhook_apply(struct db *db, const struct cfg *cfg, const char *payload,
    size_t len, int replay, const char **status, char *errbuf, size_t errsz)
{
	struct wh_event		 ev;
	const struct wh_type	*t;
	struct db_res		*res = NULL;
	struct dbv		 a[9];
	const char		*api_version, *object_id, *final;
	char			 stored[32] = "";
	int			 livemode, tries, again = 0;
	enum xerr		 rc;

	*status = NULL;
	errbuf[0] = '\0';
	memset(&ev, 0, sizeof(ev));
	ev.cfg = cfg;
	ev.db = db;
	if ((rc = req_json_parse(payload, len, &ev.root)) != XERR_OK) {
		snprintf(errbuf, errsz, "body is not valid JSON");
		return XERR_BADREQ;
	}
	ev.id = jsonx_str(ev.root, "id");
	ev.type = jsonx_str(ev.root, "type");
	ev.obj = jsonx_path(ev.root, "data.object");
	if (!ids_ext_ok(ev.id, 255) || !ids_ext_ok(ev.type, 128) ||
	    jsonx_int(ev.root, "created", &ev.created) != 0 ||
	    ev.obj == NULL || !json_object_is_type(ev.obj, json_type_object)) {
		snprintf(errbuf, errsz, "event needs id, type, created and "
		    "data.object");
		rc = XERR_BADREQ;
		goto out;
	}
	api_version = jsonx_str(ev.root, "api_version");
	if (api_version != NULL && strlen(api_version) > 32)
		api_version = NULL;
	livemode = jsonx_bool(ev.root, "livemode", 0);
	object_id = jsonx_str(ev.obj, "id");
	if (object_id != NULL && !ids_ext_ok(object_id, 255))
		object_id = NULL;
	t = wh_lookup(ev.type);

	if (!replay && wh_seen(ev.id)) {
		*status = "duplicate";
		goto out;
	}
	a[0] = DB_STR(ev.id);
	a[1] = DB_STR(ev.type);
	a[2] = DB_STR(api_version);
	a[3] = DB_INT(livemode);
	a[4] = DB_INT(ev.created);
	a[5] = DB_STR(object_id);
	a[6] = DB_BLOB(payload, len);

	/* A type we do not act on is stored in one statement. */
	if (t == NULL && !replay) {
		a[7] = DB_STR("ignored");
		a[8] = DB_NULL;
		rc = db_exec(db, STMT_EVENT_INSERT, a, 9, NULL, NULL);
		if (rc == XERR_DUP)
			rc = XERR_OK, *status = "duplicate";
		else if (rc == XERR_OK)
			*status = "ignored";
		if (rc == XERR_OK)
			wh_remember(ev.id);
		goto out;
	}

	/*
	 * Effects first, then the event row with its outcome, in one
	 * transaction.  Concurrent deliveries of one event serialize on the
	 * user's row and then on the event's key: the second finds a
	 * duplicate and rolls back whatever it did.
	 */
	for (tries = 0; tries < WH_TXN_TRIES; tries++) {
		ev.status = t != NULL ? "processed" : "ignored";
		ev.err[0] = '\0';
		ev.user_id[0] = '\0';
		if ((rc = db_begin(db)) != XERR_OK)
			goto out;
		if (again) {
			/* A stored failed (or replayed) event: one applier at a time. */
			a[0] = DB_STR(ev.id);
			if ((rc = db_query(db, STMT_EVENT_LOCK, a, 1, &res)))
				goto fail;
			final = db_res_rows(res) ? db_res_str(res, 0, 0) : "";
			if (!wh_retryable(final, replay)) {
				db_res_free(res);
				res = NULL;
				db_rollback(db);
				*status = "duplicate";
				goto out;
			}
			db_res_free(res);
			res = NULL;
		}
		if (t != NULL && (rc = t->apply(&ev)) != XERR_OK)
			goto fail;
		if (again) {
			a[0] = DB_STR(ev.status);
			a[1] = DB_STR(ev.user_id[0] ? ev.user_id : NULL);
			a[2] = DB_STR(ev.id);
			rc = db_exec(db, STMT_EVENT_FINISH, a, 3, NULL, NULL);
		} else {
			a[0] = DB_STR(ev.id);
			a[7] = DB_STR(ev.status);
			a[8] = DB_STR(ev.user_id[0] ? ev.user_id : NULL);
			rc = db_exec(db, STMT_EVENT_INSERT, a, 9, NULL, NULL);
			if (rc == XERR_DUP) {
				/* Stored before us: a duplicate, unless it failed. */
				db_rollback(db);
				if ((rc = wh_stored_status(db, ev.id, stored,
				    sizeof(stored))) != XERR_OK)
					goto out;
				if (wh_retryable(stored, replay)) {
					again = 1;
					continue;
				}
				wh_remember(ev.id);
				*status = "duplicate";
				goto out;
			}
		}
		if (rc != XERR_OK || (rc = db_commit(db)) != XERR_OK)
			goto fail;
		*status = ev.status;
		wh_remember(ev.id);
		if (strcmp(ev.status, "processed") != 0)
			log_info("event %s (%s): %s", ev.id, ev.type, ev.status);
		goto out;
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
	if (ev.err[0] == '\0')
		snprintf(ev.err, sizeof(ev.err), "%s", xerr_code(rc));
	snprintf(errbuf, errsz, "%s", ev.err);
	log_warnx("event %s (%s) failed: %s", ev.id, ev.type, ev.err);
	if (rc != XERR_DB_GONE)
		wh_record_failure(&ev, api_version, livemode, object_id,
		    payload, len);
	/*
	 * An effect that found the object unusable (no customer, no period)
	 * is a failed event like any other: stored, 500.  A 400 (BADREQ)
	 * means refused before anything was stored.
	 */
	if (rc == XERR_BADREQ)
		rc = XERR_UNPROCESSABLE;
out:
	json_object_put(ev.root);
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
	rc = webhook_apply(r->db, cfg, r->body, r->bodylen, 0, &status, err,
	    sizeof(err));
	switch (rc) {
	case XERR_OK:
		break;
	case XERR_BADREQ:
		req_error(r, rc, "malformed_event", "%s", err);
		return;
	case XERR_DB_GONE:
	case XERR_DEADLOCK:
		req_error(r, XERR_UNAVAILABLE, "database_unavailable",
		    "event not stored; retry later");
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
