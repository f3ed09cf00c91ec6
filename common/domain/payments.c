#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/charges.h"
#include "store/customers_deleted.h"
#include "store/disputes.h"
#include "domain/jobs.h"
#include "domain/events.h"
#include "domain/payments.h"

/*
 * Finds and locks the user a payment (a charge, refund or dispute) is
 * about: by its customer (or metadata.user_id) as events_user() does, else by
 * the charge or PaymentIntent recorded from an earlier event (a dispute
 * names no customer; a refund in the 2023-08-16 shape neither), else by
 * the user a deleted customer had.  XERR_NOTFOUND when none matches.
 * Since 2025-03-31.basil a charge names no invoice; the customer is what
 * ties it to us in every API version.
 */
static enum xerr
payments_user(struct events_ev *ev, const char *customer, const char *charge,
    const char *pi)
{
	char		 uid[65];
	enum xerr	 rc;

	if ((rc = events_user(ev, customer, jsonx_str(ev->obj,
	    "metadata.user_id"))) != XERR_NOTFOUND)
		return rc;
	if (ids_ext_ok(charge, 255) || ids_ext_ok(pi, 255)) {
		rc = charges_user(ev->db, ids_ext_ok(charge, 255) ? charge :
		    NULL, ids_ext_ok(pi, 255) ? pi : NULL, uid);
		if (rc == XERR_OK)
			return events_user(ev, NULL, uid);
		if (rc != XERR_NOTFOUND)
			return rc;
	}
	if (ids_ext_ok(customer, 255)) {
		rc = customers_deleted_user(ev->db, customer, uid);
		if (rc == XERR_OK)
			return events_user(ev, NULL, uid);
		if (rc != XERR_NOTFOUND)
			return rc;
	}
	return XERR_NOTFOUND;
}

/* Records the charge ch of ev's user (for the disputes that name it). */
static enum xerr
payments_charge_record(struct events_ev *ev, struct json_object *ch)
{
	struct charges_row c;
	const char	*id = jsonx_str(ch, "id"), *pi, *cur;
	int64_t		 amount = 0, refunded = 0, created = 0;
	enum xerr	 rc;

	if (!ids_ext_ok(id, 255))
		return events_fail(ev, XERR_BADREQ, "charge without id");
	pi = jsonx_id(ch, "payment_intent");
	cur = jsonx_str(ch, "currency");
	jsonx_int(ch, "amount", &amount);
	jsonx_int(ch, "amount_refunded", &refunded);
	jsonx_int(ch, "created", &created);
	c.id = id;
	c.user_id = ev->user_id;
	c.payment_intent = ids_ext_ok(pi, 255) ? pi : NULL;
	c.amount = amount;
	c.amount_refunded = refunded;
	c.currency = cur != NULL && strlen(cur) <= 8 ? cur : "usd";
	c.created = created ? created : ev->created;
	if ((rc = charges_upsert(ev->db, &c)) != XERR_OK)
		return rc;
	/* A dispute of it that came first was kept for it. */
	return events_replay_job(ev, id);
}

/*
 * Writes the history row of refund re (kind "refund", keyed by the refund
 * id, so charge.refunded and refund.created make one row between them) and
 * tells the user once per refund.  charge names the charge when re does
 * not.
 */
static enum xerr
payments_refund_row(struct events_ev *ev, struct json_object *re,
    const char *charge)
{
	struct json_object *n;
	const char	*id = jsonx_str(re, "id"), *status, *cur;
	int64_t		 amount = 0;
	char		 detail[600];
	enum xerr	 rc;

	if (!ids_ext_ok(id, 255) || jsonx_int(re, "amount", &amount) != 0 ||
	    amount < 0)
		return events_fail(ev, XERR_BADREQ,
		    "refund without id or amount");
	if (jsonx_id(re, "charge") != NULL)
		charge = jsonx_id(re, "charge");
	status = jsonx_str(re, "status");
	cur = jsonx_str(re, "currency");
	snprintf(detail, sizeof(detail), "refund=%.255s charge=%.255s "
	    "status=%.32s currency=%.8s", id, charge ? charge : "",
	    status ? status : "", cur ? cur : "usd");
	if ((rc = events_bevent(ev, id, "refund", &amount, detail)) != XERR_OK)
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
enum xerr
payments_charge_succeeded(struct events_ev *ev)
{
	enum xerr	 rc;

	if ((rc = events_user(ev, jsonx_id(ev->obj, "customer"),
	    jsonx_str(ev->obj, "metadata.user_id"))) != XERR_OK)
		return rc;
	return payments_charge_record(ev, ev->obj);
}

/*
 * charge.refunded: records the charge and writes a history row for each
 * refund the charge lists.  Stripe lists them only when refunds is
 * expanded (never in an event since 2022-11-15): then refund.created
 * brings each refund, and this event only records the refunded total.
 */
enum xerr
payments_charge_refunded(struct events_ev *ev)
{
	struct json_object *re;
	const char	*id = jsonx_str(ev->obj, "id");
	size_t		 i;
	enum xerr	 rc;

	if (!ids_ext_ok(id, 255))
		return events_fail(ev, XERR_BADREQ, "charge without id");
	if ((rc = payments_user(ev, jsonx_id(ev->obj, "customer"), id,
	    jsonx_id(ev->obj, "payment_intent"))) != XERR_OK)
		return rc;
	if ((rc = payments_charge_record(ev, ev->obj)) != XERR_OK)
		return rc;
	for (i = 0; (re = jsonx_idx(ev->obj, "refunds.data", i)) != NULL; i++)
		if ((rc = payments_refund_row(ev, re, id)) != XERR_OK)
			return rc;
	return XERR_OK;
}

/* refund.created: the refund's history row and the user's notice. */
enum xerr
payments_refund_created(struct events_ev *ev)
{
	enum xerr	 rc;

	if ((rc = payments_user(ev, jsonx_id(ev->obj, "customer"),
	    jsonx_id(ev->obj, "charge"), jsonx_id(ev->obj,
	    "payment_intent"))) != XERR_OK)
		return rc;
	return payments_refund_row(ev, ev->obj, NULL);
}

/* What a dispute event says, read once (strings borrowed from ev). */
struct payments_dispute_msg {
	const char	*id, *charge, *status, *reason, *cur;
	int64_t		 amount;
	int		 closed;
};

/*
 * Writes the disputes row: inserted when new, closed when it was open
 * (a closed dispute stays closed).  *known and *was_open tell what was
 * there before.
 */
static enum xerr
payments_dispute_row(struct events_ev *ev,
    const struct payments_dispute_msg *m, int *known, int *was_open)
{
	struct disputes_lock_row old;
	struct disputes_row d;
	enum xerr	 rc;

	*known = *was_open = 0;
	if ((rc = disputes_lock(ev->db, m->id, &old)) != XERR_OK &&
	    rc != XERR_NOTFOUND)
		return rc;
	*known = rc == XERR_OK;
	*was_open = old.is_open;
	if (!*known) {
		d.id = m->id;
		d.user_id = ev->user_id;
		d.charge_id = ids_ext_ok(m->charge, 255) ? m->charge : NULL;
		d.amount = m->amount;
		d.currency = m->cur;
		d.reason = m->reason;
		d.status = m->status;
		d.is_open = !m->closed;
		d.created = ev->created;
		d.closed_event_id = m->closed ? ev->id : NULL;
		return disputes_insert(ev->db, &d);
	}
	if (m->closed && *was_open)
		return disputes_close(ev->db, m->id, m->status, m->reason,
		    ev->id);
	return XERR_OK;
}

/* Tells the operator of the dispute, once per dispute and template. */
static enum xerr
payments_dispute_notify(struct events_ev *ev,
    const struct payments_dispute_msg *m)
{
	struct json_object *n;
	const char	*tmpl;
	int64_t		 due = 0;
	char		 url[400], key[300];
	enum xerr	 rc;

	tmpl = m->closed ? "operator_dispute_closed" :
	    "operator_dispute_opened";
	snprintf(url, sizeof(url), "https://dashboard.stripe.com/%sdisputes/"
	    "%s", ev->livemode ? "" : "test/", m->id);
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(n, "dispute_id", m->id) ||
	    jsonx_add_str(n, "charge_id", m->charge) ||
	    jsonx_add_int(n, "amount", m->amount) ||
	    jsonx_add_str(n, "currency", m->cur) ||
	    jsonx_add_str(n, "reason", m->reason ? m->reason : "unknown") ||
	    jsonx_add_str(n, "status", m->status) ||
	    jsonx_add_str(n, "dashboard_url", url) ||
	    jsonx_add_str(n, "event_id", ev->id) ||
	    (jsonx_int(ev->obj, "evidence_details.due_by", &due) == 0 &&
	    !m->closed && jsonx_add_int(n, "evidence_due_by", due)))
		rc = XERR_NOMEM;
	else {
		snprintf(key, sizeof(key), "%s", m->id);
		rc = jobs_notify(ev->db, ev->user_id, tmpl, key, n);
	}
	json_object_put(n);
	return rc;
}

/*
 * charge.dispute.created / charge.dispute.closed.  An open dispute flags
 * the account (a disputes row with is_open); closed clears it and keeps
 * the outcome.  A closed dispute stays closed whatever arrives later.  The
 * operator is told of each, once per dispute.
 */
enum xerr
payments_dispute(struct events_ev *ev)
{
	struct payments_dispute_msg m;
	int		 known, was_open;
	char		 detail[600];
	enum xerr	 rc;

	memset(&m, 0, sizeof(m));
	m.closed = strcmp(ev->type, "charge.dispute.closed") == 0;
	m.id = jsonx_str(ev->obj, "id");
	m.charge = jsonx_id(ev->obj, "charge");
	m.status = jsonx_str(ev->obj, "status");
	m.reason = jsonx_str(ev->obj, "reason");
	m.cur = jsonx_str(ev->obj, "currency");
	if (!ids_ext_ok(m.id, 255) || m.status == NULL ||
	    strlen(m.status) > 32 || jsonx_int(ev->obj, "amount", &m.amount))
		return events_fail(ev, XERR_BADREQ, "dispute without id, "
		    "status or amount");
	if (m.reason != NULL && strlen(m.reason) > 64)
		m.reason = NULL;
	if (m.cur == NULL || strlen(m.cur) > 8)
		m.cur = "usd";
	if ((rc = payments_user(ev, jsonx_id(ev->obj, "charge.customer"),
	    m.charge, jsonx_id(ev->obj, "payment_intent"))) != XERR_OK)
		return rc;
	if ((rc = payments_dispute_row(ev, &m, &known, &was_open)))
		return rc;
	snprintf(detail, sizeof(detail), "dispute=%.255s charge=%.255s "
	    "status=%s reason=%s", m.id, m.charge ? m.charge : "", m.status,
	    m.reason ? m.reason : "");
	if ((rc = events_bevent(ev, m.id, m.closed ? "dispute_closed" :
	    "dispute_opened", &m.amount, detail)) != XERR_OK)
		return rc;
	/* Opened after it was closed: nothing left for the operator to do. */
	if (!m.closed && known && !was_open)
		return XERR_OK;
	return payments_dispute_notify(ev, &m);
}
