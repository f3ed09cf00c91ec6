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
#include "store/event_replay.h"
#include "store/subscriptions_db.h"
#include "store/tier_history.h"
#include "store/users.h"
#include "domain/jobs.h"
#include "domain/phone.h"
#include "domain/tiers.h"
#include "domain/usage.h"
#include "domain/events.h"
#include "domain/apply.h"
#include "domain/subscriptions.h"

/*
 * Returns a period field (current_period_start or _end) of a subscription:
 * from its first item, where API versions since 2025-03-31.basil put it,
 * else from the subscription itself (2023-08-16); 0 when neither has it.
 */
static int64_t
subscriptions_period(struct json_object *sub, const char *field)
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
 * Whether a subscription in status grants its price's tier: while active,
 * trialing or past_due.  Only then is the price needed.
 */
static int
subscriptions_grants_price(const char *status)
{
	return !strcmp(status, "active") || !strcmp(status, "trialing") ||
	    !strcmp(status, "past_due");
}

/*
 * The tier a subscription status grants: the price's tier while active,
 * trialing or past_due (flagged); ai_buddy once unpaid, canceled, expired
 * or paused.  NULL for incomplete: nothing is granted before the first
 * payment, and nothing is taken either.
 */
static const char *
subscriptions_status_tier(const char *status, const char *price_tier,
    int *past_due)
{
	*past_due = strcmp(status, "past_due") == 0;
	if (subscriptions_grants_price(status))
		return price_tier;
	if (!strcmp(status, "incomplete"))
		return NULL;
	return TIERS_FREE;
}

/*
 * Records what a subscription event says for the rating engine
 * (docs/BILLING.md): the tier the subscription granted from the event's
 * created time on (none while incomplete), and its period.  Stale events
 * are recorded too: the history is ordered by time, not by arrival; a
 * period's end is the newest event's (restate: this event applies).  But
 * a tier is not recorded without granted_from (an event found older than
 * one of its own second and rank: it was in force for no time, and the
 * history would order it after that one, by arrival).
 */
static enum xerr
subscriptions_history(struct events_ev *ev, const char *sub_id,
    const char *status, const char *tier, int rank, int64_t pstart,
    int64_t pend, int restate, int granted_from)
{
	const char	*granted;
	int		 past_due;
	enum xerr	 rc;

	granted = subscriptions_status_tier(status, tier, &past_due);
	if (granted != NULL && granted_from &&
	    (rc = tier_history_insert(ev->db, ev->id,
	    sub_id, ev->user_id, granted, ev->created, rank)) != XERR_OK)
		return rc;
	if (pstart <= 0 || pend <= pstart)
		return XERR_OK;
	return billing_periods_insert(ev->db, sub_id, pstart, pend,
	    ev->user_id, restate);
}

/*
 * Queues the bill of the period [ps, pe) of subscription sub, once per
 * subscription and period whichever event asks first: a renewal's (invoice
 * is its invoice) or, for the last period of a subscription that ended
 * (final set), the deletion's, billing usage up to usage_end.
 */
enum xerr
subscriptions_bill_job(struct events_ev *ev, const char *sub, int64_t ps,
    int64_t pe, const char *invoice, int final, int64_t usage_end)
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
	rc = events_job(ev, "bill_period", subject, p);
	json_object_put(p);
	return rc;
}

/*
 * A subscription ended: its last period [pstart, ended_at) is billed
 * (docs/BILLING.md "End").
 */
static enum xerr
subscriptions_final_bill(struct events_ev *ev, const char *sub_id,
    int64_t pstart, int64_t pend)
{
	int64_t		 ended = 0;

	if (jsonx_int(ev->obj, "ended_at", &ended) || ended <= 0)
		ended = ev->created;
	return subscriptions_bill_job(ev, sub_id, pstart, pend, NULL, 1, ended);
}

/* What a subscription event says, read once (strings borrowed from ev). */
struct subscriptions_msg {
	const char	*sub_id, *customer, *status, *price, *item_id, *tier;
	int64_t		 pstart, pend, trial_end;
	int64_t		 created;		/* Stripe's, of the subscription */
	int		 rank, deleted, cancel, has_trial;
};

/*
 * Reads m from ev's subscription.  XERR_BADREQ or XERR_UNPROCESSABLE
 * (unknown price), with ev->err set, when it cannot be applied.
 *
 * Only a status that grants the price's tier needs a known price.  A
 * deletion, or a status that grants none (unpaid, canceled, paused,
 * incomplete...), applies whatever the price, as ai_buddy: a tier moved
 * to a new price leaves its subscribers on the old one, and their
 * cancellations must still end the plan, the number and the last period
 * (a failure here would fail every delivery of the event).
 */
static enum xerr
subscriptions_read(struct events_ev *ev, struct subscriptions_msg *m)
{
	struct json_object *item;

	memset(m, 0, sizeof(*m));
	m->rank = ev->t->rank;
	m->deleted = m->rank == 2;
	m->sub_id = jsonx_str(ev->obj, "id");
	m->customer = jsonx_id(ev->obj, "customer");
	m->status = jsonx_str(ev->obj, "status");
	item = jsonx_idx(ev->obj, "items.data", 0);
	m->price = jsonx_id(item, "price");
	m->item_id = jsonx_str(item, "id");
	if (!ids_ext_ok(m->sub_id, 255) || m->customer == NULL ||
	    m->status == NULL)
		return events_fail(ev, XERR_BADREQ,
		    "subscription without id, customer or status");
	if ((m->tier = tiers_by_price(ev->cfg, m->price)) == NULL) {
		if (!m->deleted && subscriptions_grants_price(m->status))
			return events_fail(ev, XERR_UNPROCESSABLE,
			    "unknown price %.64s on subscription %.64s",
			    m->price ? m->price : "(none)", m->sub_id);
		log_warnx("event %s: unknown price %.64s on subscription %s, "
		    "applied as %s (%s)", ev->id, m->price ? m->price :
		    "(none)", m->sub_id, TIERS_FREE,
		    m->deleted ? "deleted" : m->status);
		m->tier = TIERS_FREE;
		if (!ids_ext_ok(m->price, 255))
			m->price = "";	/* the column's: ascii, NOT NULL */
	}
	m->pstart = subscriptions_period(ev->obj, "current_period_start");
	m->pend = subscriptions_period(ev->obj, "current_period_end");
	m->cancel = jsonx_bool(ev->obj, "cancel_at_period_end", 0);
	if (jsonx_int(ev->obj, "created", &m->created) != 0 || m->created < 0)
		m->created = 0;
	m->has_trial = jsonx_int(ev->obj, "trial_end", &m->trial_end) == 0;
	return XERR_OK;
}

/*
 * Whether prev, what an event says the subscription was before it
 * (data.previous_attributes), is what obj shows: each key of prev has
 * obj's value there (objects compared on prev's keys, recursively;
 * arrays element by element; a key obj lacks is null).
 */
static int
subscriptions_before_is(struct json_object *prev, struct json_object *obj)
{
	struct json_object	*o;
	size_t			 i, n;

	switch (json_object_get_type(prev)) {
	case json_type_object:
		if (!json_object_is_type(obj, json_type_object))
			return 0;
		json_object_object_foreach(prev, k, v) {
			if (!json_object_object_get_ex(obj, k, &o))
				o = NULL;
			if (!subscriptions_before_is(v, o))
				return 0;
		}
		return 1;
	case json_type_array:
		n = json_object_array_length(prev);
		if (!json_object_is_type(obj, json_type_array) ||
		    json_object_array_length(obj) != n)
			return 0;
		for (i = 0; i < n; i++)
			if (!subscriptions_before_is(
			    json_object_array_get_idx(prev, i),
			    json_object_array_get_idx(obj, i)))
				return 0;
		return 1;
	case json_type_null:
		return json_object_get_type(obj) == json_type_null;
	default:
		return json_object_equal(prev, obj);
	}
}

/* An event's data.previous_attributes, or NULL when it has none. */
static struct json_object *
subscriptions_prev(struct json_object *root)
{
	struct json_object	*d, *p;

	if (!json_object_object_get_ex(root, "data", &d) ||
	    !json_object_object_get_ex(d, "previous_attributes", &p) ||
	    !json_object_is_type(p, json_type_object) ||
	    json_object_object_length(p) == 0)
		return NULL;
	return p;
}

/*
 * Of two *.updated events of one subscription in the same second and
 * rank, ev and last_id (the one applied last, in ev's batch or stored):
 * sets *older when ev is the older by what each says the subscription
 * was before it: last's previous_attributes are ev's object, and ev's are
 * not last's.  Otherwise (an event without them, neither or both match:
 * a change undone in the same second) *older stays 0 and arrival order
 * stands.
 */
static enum xerr
subscriptions_older(struct events_ev *ev, const char *last_id, int *older)
{
	struct event_replay_event	 stored;
	const struct events_ev		*in_batch;
	struct json_object		*own = NULL, *root, *d, *lobj, *lprev;
	struct json_object		*prev;
	enum xerr			 rc = XERR_OK;

	*older = 0;
	if ((prev = subscriptions_prev(ev->root)) == NULL ||
	    strcmp(last_id, ev->id) == 0)
		return XERR_OK;
	if ((in_batch = events_applied(ev, last_id)) != NULL)
		root = in_batch->root;
	else {
		rc = event_replay_get(ev->db, last_id, &stored);
		if (rc == XERR_NOTFOUND)
			return XERR_OK;
		if (rc != XERR_OK)
			return rc;
		rc = jsonx_parse(stored.payload, stored.len, &own);
		event_replay_clear(&stored);
		if (rc != XERR_OK)
			return rc == XERR_BADREQ ? XERR_OK : rc;
		root = own;
	}
	if ((lprev = subscriptions_prev(root)) != NULL &&
	    json_object_object_get_ex(root, "data", &d) &&
	    json_object_object_get_ex(d, "object", &lobj))
		*older = subscriptions_before_is(lprev, ev->obj) &&
		    !subscriptions_before_is(prev, lobj);
	json_object_put(own);
	return XERR_OK;
}

/*
 * Writes the subscription's row, unless the event is older than the last
 * one applied (*stale set, nothing written; 2 when it is of the same
 * second and rank, found older by subscriptions_older()); the last period
 * of a deleted subscription is billed.
 */
static enum xerr
subscriptions_row(struct events_ev *ev, const struct subscriptions_msg *m,
    int *stale)
{
	struct subscriptions_db_lock_row old;
	struct subscriptions_db_values v;
	int64_t		 lc, lr;
	int		 older;
	enum xerr	 rc;

	*stale = 0;
	rc = subscriptions_db_lock(ev->db, m->sub_id, &old);
	if (rc != XERR_OK && rc != XERR_NOTFOUND)
		return rc;
	if (rc == XERR_OK) {
		lc = old.last_event_created;
		lr = old.last_event_rank;
		*stale = old.deleted || (!m->deleted && (ev->created < lc ||
		    (ev->created == lc && m->rank < lr)));
		if (!*stale && !m->deleted && ev->created == lc &&
		    m->rank == lr) {
			if ((rc = subscriptions_older(ev, old.last_event_id,
			    &older)) != XERR_OK)
				return rc;
			if (older)
				*stale = 2;
		}
	}
	if (*stale)
		return XERR_OK;

	memset(&v, 0, sizeof(v));
	v.id = m->sub_id;
	v.user_id = ev->user_id;
	v.customer_id = m->customer;
	v.status = m->status;
	v.tier = m->tier;
	v.price_id = m->price;
	v.item_id = m->item_id;
	v.current_period_start = m->pstart;
	v.current_period_end = m->pend;
	v.cancel_at_period_end = m->cancel;
	v.trial_end = m->trial_end;
	v.deleted = m->deleted;
	v.stripe_created = m->created;
	v.last_event_id = ev->id;
	v.last_event_created = ev->created;
	v.last_event_rank = m->rank;
	if (!m->pstart)
		v.nulls |= SUBSCRIPTIONS_DB_NULL_PERIOD_START;
	if (!m->pend)
		v.nulls |= SUBSCRIPTIONS_DB_NULL_PERIOD_END;
	if (!m->has_trial)
		v.nulls |= SUBSCRIPTIONS_DB_NULL_TRIAL_END;
	if ((rc = subscriptions_db_upsert(ev->db, &v)) != XERR_OK)
		return rc;
	if (m->deleted && m->pend > m->pstart)
		return subscriptions_final_bill(ev, m->sub_id, m->pstart,
		    m->pend);
	return XERR_OK;
}

/*
 * The user moves from old_tier to new_tier: the history row, and a notice
 * when it is a step down (a pause is no ending: the plan is back on
 * resume).
 */
static enum xerr
subscriptions_tier_changed(struct events_ev *ev, const char *status,
    const char *old_tier, const char *new_tier)
{
	struct json_object *n;
	char		 detail[256];
	int		 from, to;
	enum xerr	 rc;

	snprintf(detail, sizeof(detail), "%s -> %s", old_tier, new_tier);
	if ((rc = events_bevent(ev, NULL, "tier_changed", NULL, detail)))
		return rc;
	log_info("user %s: tier %s", ev->user_id, detail);
	if ((rc = tiers_rank(ev->db, old_tier, &from)) != XERR_OK ||
	    (rc = tiers_rank(ev->db, new_tier, &to)) != XERR_OK)
		return rc;
	if (to >= from)
		return XERR_OK;
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_str(n, "old_tier", old_tier);
	jsonx_add_str(n, "new_tier", new_tier);
	rc = events_notify(ev, strcmp(new_tier, TIERS_FREE) == 0 &&
	    strcmp(status, "paused") != 0 ?
	    "subscription_cancelled" : "subscription_downgraded", n);
	json_object_put(n);
	return rc;
}

/*
 * The user follows the subscription m: its tier (new_tier) and period, the
 * tier change told, the phone number provisioned, kept or put in grace.
 */
static enum xerr
subscriptions_user(struct events_ev *ev, const struct subscriptions_msg *m,
    const char *new_tier, int past_due)
{
	struct users_subscription us;
	char		 old_tier[sizeof(ev->user_tier)];
	int		 phone;
	enum xerr	 rc;

	snprintf(old_tier, sizeof(old_tier), "%s", ev->user_tier);
	memset(&us, 0, sizeof(us));
	us.tier = new_tier;
	us.subscription_id = m->sub_id;
	us.billing_cycle_start = m->pstart;
	us.billing_cycle_end = m->pend;
	us.trial_end = m->trial_end;
	us.past_due = past_due;
	if (!m->pstart)
		us.nulls |= USERS_NULL_CYCLE_START;
	if (!m->pend)
		us.nulls |= USERS_NULL_CYCLE_END;
	if (!m->has_trial)
		us.nulls |= USERS_NULL_TRIAL_END;
	if ((rc = users_set_subscription(ev->db, ev->user_id, &us)) != XERR_OK)
		return rc;
	if (strcmp(old_tier, new_tier) != 0 &&
	    (rc = subscriptions_tier_changed(ev, m->status, old_tier,
	    new_tier)) != XERR_OK)
		return rc;
	if ((rc = tiers_phone_eligible(ev->db, new_tier, &phone)))
		return rc;
	if (phone && !ev->user_has_phone)
		return events_phone_job(ev, "phone_provision");
	if (phone)				/* paid again: number kept */
		return phone_grace_end(ev->db, ev->user_id);
	if (ev->user_has_phone)			/* held through a grace */
		return phone_grace_start(ev->db, ev->cfg, ev->user_id, ev->id);
	return XERR_OK;
}

/*
 * The subscription m the user follows is deleted: reads into *other, and
 * *om as the message of it (borrowing from *other), the user's newest
 * other subscription that still grants a tier, which they follow from now
 * (two live at once: a second Checkout; the operator cancelled one).
 * XERR_NOTFOUND when there is none.
 */
static enum xerr
subscriptions_other(struct events_ev *ev, const struct subscriptions_msg *m,
    struct subscriptions_db_other *other, struct subscriptions_msg *om)
{
	enum xerr	 rc;

	if ((rc = subscriptions_db_other_live(ev->db, ev->user_id, m->sub_id,
	    other)) != XERR_OK)
		return rc;
	log_info("user %s: subscription %s deleted; %s (%s, %s) still live, "
	    "followed from now", ev->user_id, m->sub_id, other->id,
	    other->status, other->tier);
	memset(om, 0, sizeof(*om));
	om->sub_id = other->id;
	om->customer = other->customer_id;
	om->status = other->status;
	om->tier = other->tier;
	om->pstart = other->period_start;
	om->pend = other->period_end;
	om->cancel = other->cancel_at_period_end;
	om->trial_end = other->trial_end;
	om->has_trial = other->trial_end > 0;
	om->rank = 1;
	return XERR_OK;
}

/*
 * Decides whether the live subscription m (on a paid tier) takes the user
 * over from the subscription they follow (*takes).  It does when that one
 * is gone or no longer grants a tier.  When both are live (two Checkout
 * sessions completed, say), the customer is charged for both: the
 * operators are told, once per newer subscription (cancelling and
 * refunding is a person's call), and the newer by Stripe's created is
 * followed, whatever order the events come in.
 */
static enum xerr
subscriptions_takeover(struct events_ev *ev, const struct subscriptions_msg *m,
    const char *new_tier, int *takes)
{
	struct subscriptions_db_lock_row old;
	struct json_object *n;
	const char	*newer, *older, *newer_tier, *older_tier, *granted;
	char		 url[400];
	int		 past_due;
	enum xerr	 rc;

	*takes = 1;
	if ((rc = subscriptions_db_lock(ev->db, ev->user_sub, &old)) ==
	    XERR_NOTFOUND)
		return XERR_OK;
	if (rc != XERR_OK)
		return rc;
	granted = old.deleted ? NULL : subscriptions_status_tier(old.status,
	    old.tier, &past_due);
	if (granted == NULL || strcmp(granted, TIERS_FREE) == 0)
		return XERR_OK;	/* the user's grants nothing now */
	/* Unknown created (rows of older programs) count as oldest. */
	*takes = m->created >= old.stripe_created;
	newer = *takes ? m->sub_id : ev->user_sub;
	older = *takes ? ev->user_sub : m->sub_id;
	newer_tier = *takes ? new_tier : old.tier;
	older_tier = *takes ? old.tier : new_tier;
	log_warnx("user %s: subscriptions %s and %s are both live; the account "
	    "follows %s", ev->user_id, older, newer, newer);
	snprintf(url, sizeof(url), "https://dashboard.stripe.com/%s"
	    "subscriptions/%s", ev->livemode ? "" : "test/", older);
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(n, "old_subscription", older) ||
	    jsonx_add_str(n, "old_tier", older_tier) ||
	    jsonx_add_str(n, "new_subscription", newer) ||
	    jsonx_add_str(n, "new_tier", newer_tier) ||
	    jsonx_add_str(n, "dashboard_url", url) ||
	    jsonx_add_str(n, "event_id", ev->id))
		rc = XERR_NOMEM;
	else
		rc = jobs_notify(ev->db, ev->user_id,
		    "operator_subscriptions_doubled", newer, n);
	json_object_put(n);
	return rc;
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
 *
 * Galera: an event that applies writes the user's row, the user moved or
 * not.  Its decision reads that row (the subscription followed) and other
 * subscriptions' rows (subscriptions_other(), subscriptions_takeover()),
 * which their own events write, maybe leaving the user's alone.  On one
 * server the user's lock orders two such events; it reaches no other
 * node, where two with disjoint writes would both commit, one decided on
 * what the other changed (the deletion of the subscription followed
 * moving the user to another, deleted meanwhile).  Both writing the row,
 * the later fails certification and runs again on the first's commit
 * (docs/SCALING.md).  users_set_subscription() is not enough: an update
 * that changes nothing writes nothing.  A stale event decides on its
 * subscription's row alone, which only moves forward: it needs none.
 */
enum xerr
subscriptions_apply(struct events_ev *ev)
{
	struct subscriptions_msg m, om;
	struct subscriptions_db_other other;
	const char	*new_tier;
	int		 past_due, apply_user, stale, takes;
	char		 detail[256];
	enum xerr	 rc;

	if ((rc = subscriptions_read(ev, &m)) != XERR_OK)
		return rc;
	if ((rc = events_user(ev, m.customer, jsonx_str(ev->obj,
	    "metadata.user_id"))) != XERR_OK)
		return rc;
	if (m.deleted)
		m.status = "canceled";
	if ((rc = subscriptions_row(ev, &m, &stale)) != XERR_OK)
		return rc;
	/* The rating engine's record, whether this event applies or not. */
	if ((rc = subscriptions_history(ev, m.sub_id, m.status, m.tier,
	    m.rank, m.pstart, m.pend, !stale, stale != 2)) != XERR_OK)
		return rc;
	if (stale) {
		ev->status = "stale";
		return XERR_OK;
	}
	/* Whatever is decided below (Galera, above). */
	if ((rc = users_touch(ev->db, ev->user_id)) != XERR_OK)
		return rc;
	snprintf(detail, sizeof(detail), "subscription=%s status=%s tier=%s "
	    "cancel_at_period_end=%d", m.sub_id, m.status, m.tier, m.cancel);

	/*
	 * The user follows this subscription when it is theirs already, when
	 * they have none, or when it is live on a paid tier and takes over
	 * (subscriptions_takeover(): theirs grants nothing now, or this one
	 * is the newer).  A deletion only touches the user's current
	 * subscription, and then another live one of theirs is followed.
	 */
	new_tier = subscriptions_status_tier(m.status, m.tier, &past_due);
	if (m.deleted)
		apply_user = strcmp(ev->user_sub, m.sub_id) == 0 ||
		    ev->user_sub[0] == '\0';
	else
		apply_user = ev->user_sub[0] == '\0' ||
		    strcmp(ev->user_sub, m.sub_id) == 0 ||
		    (new_tier != NULL && strcmp(new_tier, TIERS_FREE) != 0);
	if ((rc = events_bevent(ev, NULL, ev->type + strlen("customer."), NULL,
	    detail)) != XERR_OK)
		return rc;
	if (!apply_user || new_tier == NULL)
		return XERR_OK;
	/* The one followed ends while another is still charged: follow it. */
	if (m.deleted && (rc = subscriptions_other(ev, &m, &other, &om)) !=
	    XERR_NOTFOUND) {
		if (rc != XERR_OK)
			return rc;
		new_tier = subscriptions_status_tier(other.status, other.tier,
		    &past_due);
		return subscriptions_user(ev, &om, new_tier, past_due);
	}
	if (!m.deleted && ev->user_sub[0] != '\0' &&
	    strcmp(ev->user_sub, m.sub_id) != 0 &&
	    strcmp(new_tier, TIERS_FREE) != 0) {
		if ((rc = subscriptions_takeover(ev, &m, new_tier, &takes)))
			return rc;
		if (!takes)
			return XERR_OK;	/* the user's is the newer */
	}
	return subscriptions_user(ev, &m, new_tier, past_due);
}

/*
 * customer.subscription.trial_will_end: store the date, tell the user (of
 * the subscription they follow, still live).
 */
enum xerr
subscriptions_trial_will_end(struct events_ev *ev)
{
	struct subscriptions_db_lock_row row;
	struct json_object *n;
	const char	*sub;
	int64_t		 trial_end = 0;
	enum xerr	 rc;

	if (jsonx_int(ev->obj, "trial_end", &trial_end) != 0)
		return events_fail(ev, XERR_BADREQ, "trial_will_end without "
		    "trial_end");
	if ((rc = events_user(ev, jsonx_id(ev->obj, "customer"),
	    jsonx_str(ev->obj, "metadata.user_id"))) != XERR_OK)
		return rc;
	/*
	 * Only of the subscription the user follows, while it lives: a late
	 * one of a subscription cancelled meanwhile, or of another, tells
	 * nobody and changes nothing.
	 */
	sub = jsonx_str(ev->obj, "id");
	if (sub == NULL || (ev->user_sub[0] != '\0' &&
	    strcmp(ev->user_sub, sub) != 0))
		return XERR_OK;
	if ((rc = subscriptions_db_lock(ev->db, sub, &row)) == XERR_OK &&
	    !usage_sub_live(row.status, row.deleted))
		return XERR_OK;
	if (rc != XERR_OK && rc != XERR_NOTFOUND)
		return rc;
	if ((rc = users_set_trial_end(ev->db, ev->user_id, trial_end)))
		return rc;
	if ((rc = events_bevent(ev, NULL, "trial_will_end", NULL, NULL)))
		return rc;
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_int(n, "trial_end", trial_end);
	rc = events_notify(ev, "trial_ending", n);
	json_object_put(n);
	return rc;
}

