#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/billing_periods.h"
#include "store/invoices_db.h"
#include "store/users.h"
#include "domain/usage.h"
#include "domain/events.h"
#include "domain/subscriptions.h"
#include "domain/invoices.h"

/*
 * Returns the id of the subscription an invoice bills (borrowed), or NULL:
 * parent.subscription_details.subscription since 2025-03-31.basil, the
 * top-level subscription before.
 */
static const char *
invoices_sub(struct json_object *inv)
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
invoices_meta_user(struct json_object *inv)
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
invoices_line_sub(struct json_object *line, int *proration)
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
invoices_cycle(struct json_object *inv, int64_t *start, int64_t *end)
{
	struct json_object *lines = jsonx_path(inv, "lines.data"), *l;
	size_t		 i, n;
	int		 proration;

	if (lines == NULL || !json_object_is_type(lines, json_type_array))
		return -1;
	n = json_object_array_length(lines);
	for (i = 0; i < n; i++) {
		l = json_object_array_get_idx(lines, i);
		if (invoices_line_sub(l, &proration) && !proration &&
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
static const char *const invoices_statuses[] = { "draft", "open",
    "uncollectible", "paid", "void" };

/* Returns the index of status in invoices_statuses, or -1. */
static int
invoices_status_idx(const char *status)
{
	size_t	 i;

	for (i = 0; status != NULL && i < sizeof(invoices_statuses) /
	    sizeof(invoices_statuses[0]); i++)
		if (strcmp(invoices_statuses[i], status) == 0)
			return (int)i;
	return -1;
}

/*
 * What each invoice event says: the status it puts the invoice in (NULL:
 * the invoice's own, draft when absent) and the kind of its billing_events
 * row, written once per invoice (once per event for payment_failed: each
 * attempt is news).
 */
static const struct invoices_kind {
	const char	*type;
	const char	*status;
	const char	*kind;
	int		 per_event;
} invoices_kinds[] = {
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
 * Merges an event's status (one of invoices_statuses) into the stored
 * invoice's, old (NULL when there is no row yet): returns the status the
 * invoice has afterwards (static), and sets *write when the row is to be
 * written.  The status only moves forward, paid and void are final; an
 * event of the stored status refreshes the row unless it reports fewer
 * payment attempts than stored (an older event).
 */
static const char *
invoices_merge(const char *old, int64_t old_att, const char *new,
    int64_t att, int *write)
{
	int	 io = invoices_status_idx(old);
	int	 in = invoices_status_idx(new);
	int	 ro = io < 3 ? io : 3, rn = in < 3 ? in : 3;

	*write = io < 0 || (ro < 3 && rn > ro) || (io == in && att >= old_att);
	return invoices_statuses[*write ? in : io];
}

/*
 * A renewal invoice bills the period [ps, pe) that ended: whichever of its
 * events reaches us first (docs/BILLING.md "Renewal", D4) records the
 * period and queues its bill, once per subscription and period.  An
 * invoice whose overage was posted before the rating engine (a job
 * invoice_items:<invoice>) is not billed again.
 */
static enum xerr
invoices_cycle_bill(struct events_ev *ev, const char *inv_id, const char *sub,
    int64_t ps, int64_t pe)
{
	int			 legacy;
	enum xerr		 rc;

	if ((rc = invoices_db_items_posted(ev->db, inv_id, &legacy)))
		return rc;
	if (legacy)
		return XERR_OK;
	if ((rc = billing_periods_insert(ev->db, sub, ps, pe, ev->user_id,
	    0)))
		return rc;
	return subscriptions_bill_job(ev, sub, ps, pe, inv_id, 0, 0);
}

/* What an invoice event says, read once (strings borrowed from ev). */
struct invoices_msg {
	const struct invoices_kind *k;
	const char	*inv_id, *status, *reason, *sub;
	int64_t		 due, paid, ps, pe, att, next, created;
};

/* Reads m from ev's invoice; XERR_BADREQ (ev->err set) without an id. */
static enum xerr
invoices_read(struct events_ev *ev, struct invoices_msg *m)
{
	struct json_object *inv = ev->obj;
	size_t		 i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < sizeof(invoices_kinds) / sizeof(invoices_kinds[0]);
	    i++)
		if (strcmp(invoices_kinds[i].type, ev->type) == 0)
			m->k = &invoices_kinds[i];
	if (m->k == NULL)
		return events_fail(ev, XERR_INTERNAL, "no invoice kind for %s",
		    ev->type);
	m->inv_id = jsonx_str(inv, "id");
	if (!ids_ext_ok(m->inv_id, 255))
		return events_fail(ev, XERR_BADREQ, "invoice without id");
	if ((m->status = m->k->status) == NULL &&
	    invoices_status_idx(m->status = jsonx_str(inv, "status")) < 0)
		m->status = "draft";
	m->reason = jsonx_str(inv, "billing_reason");
	m->sub = invoices_sub(inv);
	jsonx_int(inv, "amount_due", &m->due);
	jsonx_int(inv, "amount_paid", &m->paid);
	jsonx_int(inv, "period_start", &m->ps);
	jsonx_int(inv, "period_end", &m->pe);
	jsonx_int(inv, "attempt_count", &m->att);
	jsonx_int(inv, "next_payment_attempt", &m->next);
	jsonx_int(inv, "created", &m->created);
	return XERR_OK;
}

/*
 * Merges m's status into the stored invoice's (m->status becomes the
 * invoice's status afterwards) and writes the row when it moved.
 */
static enum xerr
invoices_row(struct events_ev *ev, struct invoices_msg *m)
{
	struct json_object *inv = ev->obj;
	struct invoices_db_lock_row old;
	struct invoices_db_values v;
	int		 write;
	enum xerr	 rc;

	rc = invoices_db_lock(ev->db, m->inv_id, &old);
	if (rc != XERR_OK && rc != XERR_NOTFOUND)
		return rc;
	m->status = invoices_merge(rc == XERR_OK ? old.status : NULL,
	    old.attempt_count, m->status, m->att, &write);
	if (!write)
		return XERR_OK;
	memset(&v, 0, sizeof(v));
	v.id = m->inv_id;
	v.user_id = ev->user_id;
	v.subscription_id = m->sub;
	v.number = jsonx_str(inv, "number");
	v.status = m->status;
	v.billing_reason = m->reason;
	v.currency = jsonx_str(inv, "currency") ? jsonx_str(inv, "currency") :
	    "usd";
	v.amount_due = m->due;
	v.amount_paid = m->paid;
	v.period_start = m->ps;
	v.period_end = m->pe;
	v.attempt_count = m->att;
	v.next_payment_attempt = m->next;
	v.hosted_invoice_url = jsonx_str(inv, "hosted_invoice_url");
	v.created = m->created ? m->created : ev->created;
	if (!m->ps)
		v.nulls |= INVOICES_DB_NULL_PERIOD_START;
	if (!m->pe)
		v.nulls |= INVOICES_DB_NULL_PERIOD_END;
	if (!m->next)
		v.nulls |= INVOICES_DB_NULL_NEXT_ATTEMPT;
	return invoices_db_upsert(ev->db, &v);
}

/*
 * After the row: a payment moves the user's billing cycle (the usage
 * period rolls over with it; nothing is zeroed), a failure of an invoice
 * still open is told.
 */
static enum xerr
invoices_after(struct events_ev *ev, const struct invoices_msg *m)
{
	struct json_object *inv = ev->obj, *n;
	int64_t		 cs, ce;
	enum xerr	 rc;

	if (!strcmp(ev->type, "invoice.paid") ||
	    !strcmp(ev->type, "invoice.payment_succeeded")) {
		if (strcmp(m->status, "paid") != 0 ||
		    invoices_cycle(inv, &cs, &ce) != 0 || (m->sub != NULL &&
		    ev->user_sub[0] != '\0' && strcmp(m->sub, ev->user_sub)))
			return XERR_OK;
		return users_set_cycle(ev->db, ev->user_id, cs, ce);
	}
	if (strcmp(ev->type, "invoice.payment_failed") != 0 ||
	    strcmp(m->status, "open") != 0)
		return XERR_OK;	/* paid or given up on meanwhile */
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_str(n, "invoice_id", m->inv_id);
	jsonx_add_int(n, "amount_due", m->due);
	jsonx_add_str(n, "currency", jsonx_str(inv, "currency"));
	if (m->next)
		jsonx_add_int(n, "next_payment_attempt", m->next);
	jsonx_add_str(n, "hosted_invoice_url",
	    jsonx_str(inv, "hosted_invoice_url"));
	rc = events_notify(ev, "payment_failed", n);
	json_object_put(n);
	return rc;
}

/*
 * invoice.created / finalized / payment_succeeded / paid / payment_failed /
 * voided / marked_uncollectible: billing history (invoices) upserted by
 * invoice id, its status moving only forward whatever order the events
 * arrive in (invoices_merge), and a billing_events row of the event's
 * kind.  Payment moves the billing cycle; a failure of an invoice still
 * open notifies; a subscription_cycle invoice bills the period that ended
 * (invoices_cycle_bill).
 */
enum xerr
invoices_apply(struct events_ev *ev)
{
	struct invoices_msg m;
	enum xerr	 rc;

	if ((rc = invoices_read(ev, &m)) != XERR_OK)
		return rc;
	if ((rc = events_user(ev, jsonx_id(ev->obj, "customer"),
	    invoices_meta_user(ev->obj))) != XERR_OK)
		return rc;
	if ((rc = invoices_row(ev, &m)) != XERR_OK)
		return rc;
	if ((rc = events_bevent(ev, m.k->per_event ? NULL : m.inv_id,
	    m.k->kind, m.k->status != NULL && !strcmp(m.k->status, "paid") ?
	    &m.paid : &m.due, m.inv_id)))
		return rc;
	if (m.reason != NULL && !strcmp(m.reason, "subscription_cycle") &&
	    m.sub != NULL && m.pe > m.ps && (rc = invoices_cycle_bill(ev,
	    m.inv_id, m.sub, m.ps, m.pe)) != XERR_OK)
		return rc;
	return invoices_after(ev, &m);
}

/*
 * invoice.upcoming: Stripe's notice a few days before renewal.  Records
 * the overage projected from usage so far in the current period and tells
 * the user; nothing is billed here.
 */
enum xerr
invoices_upcoming(struct events_ev *ev)
{
	struct usage_report rep;
	struct json_object *n;
	int64_t		 now = (int64_t)time(NULL);
	char		 detail[128];
	enum xerr	 rc;

	if ((rc = events_user(ev, jsonx_id(ev->obj, "customer"),
	    invoices_meta_user(ev->obj))) != XERR_OK)
		return rc;
	if ((rc = usage_report(ev->db, ev->user_id, ev->user_tier, now,
	    &rep)))
		return rc;
	snprintf(detail, sizeof(detail), "voice_minutes=%lld sms=%lld",
	    (long long)rep.use.voice_minutes, (long long)rep.use.sms);
	if ((rc = events_bevent(ev, NULL, "projected_overage",
	    &rep.bill.total_cents, detail)))
		return rc;
	if (rep.bill.total_cents <= 0)
		return XERR_OK;
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_int(n, "total_cents", rep.bill.total_cents);
	jsonx_add_int(n, "voice_cents", rep.bill.voice_cents);
	jsonx_add_int(n, "sms_cents", rep.bill.sms_cents);
	jsonx_add_int(n, "phone_cents", rep.bill.phone_cents);
	jsonx_add_int(n, "period_end", rep.end);
	rc = events_notify(ev, "projected_overage", n);
	json_object_put(n);
	return rc;
}

/*
 * invoice.payment_action_required: the bank wants the customer to confirm
 * the payment (3-D Secure).  History row, and the user is mailed the
 * hosted invoice page where they confirm it, unless the invoice is paid,
 * void or uncollectible by now (the event came late, or again).
 */
enum xerr
invoices_action(struct events_ev *ev)
{
	struct invoices_db_lock_row row;
	struct json_object *n;
	const char	*inv_id = jsonx_str(ev->obj, "id");
	int64_t		 due = 0;
	enum xerr	 rc;

	if (!ids_ext_ok(inv_id, 255))
		return events_fail(ev, XERR_BADREQ, "invoice without id");
	if ((rc = events_user(ev, jsonx_id(ev->obj, "customer"),
	    invoices_meta_user(ev->obj))) != XERR_OK)
		return rc;
	jsonx_int(ev->obj, "amount_due", &due);
	if ((rc = events_bevent(ev, NULL, "payment_action_required", &due,
	    inv_id)) != XERR_OK)
		return rc;
	if ((rc = invoices_db_lock(ev->db, inv_id, &row)) == XERR_OK &&
	    (strcmp(row.status, "paid") == 0 || strcmp(row.status, "void") ==
	    0 || strcmp(row.status, "uncollectible") == 0))
		return XERR_OK;		/* nothing left to confirm */
	if (rc != XERR_OK && rc != XERR_NOTFOUND)
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
		rc = events_notify(ev, "payment_action_required", n);
	json_object_put(n);
	return rc;
}

