#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/billing_events.h"
#include "store/customers_deleted.h"
#include "store/unmatched_events.h"
#include "store/users.h"
#include "domain/jobs.h"
#include "domain/events.h"

static enum xerr events_customer_gone(struct events_ev *, const char *);
static enum xerr events_job_at(struct events_ev *, const char *, const char *,
    struct json_object *, int64_t);

enum xerr
events_fail(struct events_ev *ev, enum xerr rc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(ev->err, sizeof(ev->err), fmt, ap);
	va_end(ap);
	jsonx_utf8_scrub(ev->err);	/* stored in last_error (utf8mb4) */
	return rc;
}

/* Loads the locked user u into ev. */
static void
events_user_load(struct events_ev *ev, const struct users_lock_row *u)
{
	snprintf(ev->user_id, sizeof(ev->user_id), "%s", u->id);
	snprintf(ev->user_tier, sizeof(ev->user_tier), "%s", u->tier);
	snprintf(ev->user_sub, sizeof(ev->user_sub), "%s",
	    u->subscription_id);
	ev->user_has_phone = !(u->nulls & USERS_NULL_PHONE_NUMBER) ||
	    strcmp(u->phone_status, "none") != 0;
}

/*
 * Answers events_user() for customer from the batch's read-ahead: 1 when it
 * loaded the user into ev, 0 for a trusted miss, -1 when the database must
 * be asked.
 */
static int
events_pre_user(struct events_ev *ev, const char *customer)
{
	struct events_pre	*pre = ev->pre;
	const struct users_lock_row *u;
	size_t		 i, k;

	if (pre == NULL || !pre->valid)
		return -1;
	for (i = 0; i < pre->nasked; i++)
		if (strcmp(pre->asked[i], customer) == 0)
			break;
	if (i == pre->nasked)
		return -1;
	for (i = 0; i < pre->nrows; i++) {
		u = &pre->rows[i];
		if ((u->nulls & USERS_NULL_CUSTOMER) ||
		    strcmp(u->stripe_customer_id, customer) != 0)
			continue;
		for (k = 0; k < pre->ntouched; k++)
			if (strcmp(pre->touched[k], u->id) == 0)
				return -1;
		events_user_load(ev, u);
		return 1;
	}
	return 0;
}

/* Notes that ev's user was handed to an event of the batch. */
static void
events_pre_touch(struct events_ev *ev)
{
	struct events_pre	*pre = ev->pre;

	if (pre == NULL)
		return;
	if (pre->ntouched == EVENTS_BATCH_LIMIT) {
		pre->valid = 0;
		return;
	}
	snprintf(pre->touched[pre->ntouched++], sizeof(pre->touched[0]),
	    "%s", ev->user_id);
}

enum xerr
events_replay_job(struct events_ev *ev, const char *customer)
{
	struct json_object	*p;
	size_t			 i;
	int			 any;
	enum xerr		 rc;

	/* Kept by an event earlier in the batch, not written yet. */
	for (i = 0, any = 0; ev->pre != NULL && i < ev->pre->nunmatched; i++)
		any |= strcmp(ev->pre->unmatched[i].customer, customer) == 0;
	if (!any && (rc = unmatched_events_any(ev->db, customer, &any)))
		return rc;
	if (!any)
		return XERR_OK;
	if ((p = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	jsonx_add_str(p, "customer", customer);
	rc = events_job(ev, "replay_unmatched", customer, p);
	json_object_put(p);
	return rc;
}

/*
 * A second look at the events kept unmatched for customer, due
 * EVENTS_RELINK_CHECK_S after this event links it: an event of the
 * customer that another committer (another process or node, a Galera
 * writer) stored unmatched while this one linked it found no user, and was
 * not found here either (its row not yet committed).  Queued once per
 * customer (its key); most of the time it finds nothing.
 */
static enum xerr
events_relink_check(struct events_ev *ev, const char *customer)
{
	struct json_object	*p;
	char			 subject[280];
	enum xerr		 rc;

	if ((p = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	snprintf(subject, sizeof(subject), "%s:recheck", customer);
	if (jsonx_add_str(p, "customer", customer))
		rc = XERR_NOMEM;
	else
		rc = events_job_at(ev, "replay_unmatched", subject, p,
		    (int64_t)time(NULL) + EVENTS_RELINK_CHECK_S);
	json_object_put(p);
	return rc;
}

/*
 * Finds and locks the user the event is about: by Stripe customer id, else
 * by the user id we put in metadata (or client_reference_id), linking the
 * customer to a user who has none.  XERR_NOTFOUND when no user matches; a
 * user already linked to another customer is not guessed at either.
 */
enum xerr
events_user(struct events_ev *ev, const char *customer, const char *user_id)
{
	struct users_lock_row	 u;
	int			 pre, linked;
	enum xerr		 rc;

	/*
	 * A customer that is no Stripe id (non-ASCII, too long) matches
	 * nobody and is never linked: the ascii column would refuse it, and
	 * the event would fail for good instead of being unmatched.
	 */
	if (customer != NULL && !ids_ext_ok(customer, 255))
		return XERR_NOTFOUND;
	pre = customer != NULL ? events_pre_user(ev, customer) : 0;
	if (pre == 1) {
		events_pre_touch(ev);
		return XERR_OK;
	}
	if (pre == -1) {
		rc = users_lock_by_customer(ev->db, customer, &u);
		if (rc == XERR_OK) {
			events_user_load(ev, &u);
			events_pre_touch(ev);
			return XERR_OK;
		}
		if (rc != XERR_NOTFOUND)
			return rc;
	}
	if (!ids_user_ok(user_id))
		return XERR_NOTFOUND;
	/* A deleted customer is never linked again (customer.deleted). */
	if (customer != NULL && (rc = events_customer_gone(ev, customer)))
		return rc;
	if ((rc = users_lock(ev->db, user_id, &u)) != XERR_OK)
		return rc;
	linked = !(u.nulls & USERS_NULL_CUSTOMER);
	if (customer != NULL && linked &&
	    strcmp(u.stripe_customer_id, customer) != 0) {
		log_warnx("event %s: user %s is linked to another customer",
		    ev->id, user_id);
		return XERR_NOTFOUND;
	}
	events_user_load(ev, &u);
	events_pre_touch(ev);
	if (customer != NULL && !linked) {
		if (ev->pre != NULL)
			ev->pre->valid = 0;	/* a miss may now match */
		if ((rc = users_set_customer(ev->db, ev->user_id, customer,
		    NULL)) != XERR_OK)
			return rc;
		log_info("customer %s linked to user %s", customer,
		    ev->user_id);
		if ((rc = events_relink_check(ev, customer)) != XERR_OK)
			return rc;
		return events_replay_job(ev, customer);
	}
	return XERR_OK;
}

/*
 * Writes the billing_events row of kind, once per kind and subject: the
 * event, or (subject not NULL) what several events may name, such as an
 * invoice that both invoice.paid and invoice.payment_succeeded report.
 */
enum xerr
events_bevent(struct events_ev *ev, const char *subject, const char *kind,
    const int64_t *amount, const char *detail)
{
	return billing_events_insert(ev->db, ev->user_id,
	    subject != NULL ? subject : ev->id, kind, amount, detail);
}

/*
 * Enqueues a side effect of kind, once per (kind, subject): the subject is
 * what the effect is about (an invoice is billed once whatever events name
 * it), or the event when NULL, so a redelivered or replayed event finds its
 * job already there.  payload is borrowed.
 */
enum xerr
events_job(struct events_ev *ev, const char *kind, const char *subject,
    struct json_object *payload)
{
	return events_job_at(ev, kind, subject, payload, 0);
}

/* As events_job(), due at the Unix time at (0: now). */
static enum xerr
events_job_at(struct events_ev *ev, const char *kind, const char *subject,
    struct json_object *payload, int64_t at)
{
	char	 key[300];

	snprintf(key, sizeof(key), "%s:%s", kind, subject ? subject : ev->id);
	if (jsonx_add_str(payload, "user_id", ev->user_id) ||
	    jsonx_add_str(payload, "event_id", ev->id))
		return XERR_NOMEM;
	if (at == 0)
		return jobs_enqueue(ev->db, kind, key, ev->user_id, payload);
	return jobs_enqueue_at(ev->db, kind, key, ev->user_id, payload, at);
}

/* Enqueues the notification tmpl about this event, with fields (borrowed). */
enum xerr
events_notify(struct events_ev *ev, const char *tmpl,
    struct json_object *fields)
{
	if (jsonx_add_str(fields, "event_id", ev->id))
		return XERR_NOMEM;
	return jobs_notify(ev->db, ev->user_id, tmpl, ev->id, fields);
}

/* Enqueues a phone job (provision or release) for the user. */
enum xerr
events_phone_job(struct events_ev *ev, const char *kind)
{
	struct json_object	*p;
	enum xerr		 rc;

	if ((p = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	rc = events_job(ev, kind, NULL, p);
	json_object_put(p);
	return rc;
}

/*
 * Whether customer was deleted (customer.deleted): XERR_NOTFOUND when it
 * was, so it matches nobody and is never linked again, else XERR_OK (or a
 * database error).
 */
static enum xerr
events_customer_gone(struct events_ev *ev, const char *customer)
{
	char		 uid[65];
	enum xerr	 rc;

	switch ((rc = customers_deleted_user(ev->db, customer, uid))) {
	case XERR_OK:
		return XERR_NOTFOUND;
	case XERR_NOTFOUND:
		return XERR_OK;
	default:
		return rc;
	}
}

/*
 * Parses and checks a delivery's body into ev (root, id, type, ...).
 * XERR_BADREQ with errbuf set when it is not an event we can store.  The
 * caller puts ev->root in every case.
 */
enum xerr
events_parse(struct events_ev *ev, const struct cfg *cfg, const char *payload,
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
	    ev->obj == NULL ||
	    !json_object_is_type(ev->obj, json_type_object)) {
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
	return XERR_OK;
}


void
events_free(struct events_ev *ev)
{
	json_object_put(ev->root);
	ev->root = NULL;
}

const struct events_ev *
events_applied(const struct events_ev *ev, const char *id)
{
	size_t	 i;

	if (ev->pre == NULL || id == NULL)
		return NULL;
	for (i = ev->pre->napplied; i > 0; i--)
		if (strcmp(ev->pre->applied[i - 1]->id, id) == 0)
			return ev->pre->applied[i - 1];
	return NULL;
}

void
events_pre_add(struct events_pre *pre, const struct events_ev *ev)
{
	const char	*c;
	size_t		 j;

	if (ev->t == NULL)
		return;
	c = jsonx_id(ev->obj, "customer");
	if (c == NULL || !ids_ext_ok(c, 255))
		return;
	for (j = 0; j < pre->nasked; j++)
		if (strcmp(pre->asked[j], c) == 0)
			return;
	if (pre->nasked < EVENTS_BATCH_LIMIT)
		pre->asked[pre->nasked++] = c;
}

enum xerr
events_pre_read(struct db *db, struct events_pre *pre)
{
	size_t		 i, k, got;
	enum xerr	 rc;

	events_pre_free(pre);
	/* The column is unique: at most one user per customer asked. */
	if (pre->nasked > 0 && (pre->rows = malloc(pre->nasked *
	    sizeof(*pre->rows))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < pre->nasked; i += USERS_LOCK_IDS) {
		k = pre->nasked - i < USERS_LOCK_IDS ? pre->nasked - i :
		    USERS_LOCK_IDS;
		if ((rc = users_lock_by_customers(db, &pre->asked[i], k,
		    &pre->rows[pre->nrows], k, &got)) != XERR_OK)
			return rc;
		pre->nrows += got;
	}
	pre->valid = 1;
	return XERR_OK;
}

enum xerr
events_keep_unmatched(struct events_ev *ev, const char *customer)
{
	struct unmatched_events_row *u;

	if (ev->pre == NULL || ev->pre->nunmatched == EVENTS_BATCH_LIMIT)
		return unmatched_events_insert(ev->db, ev->id, customer,
		    ev->created);
	u = &ev->pre->unmatched[ev->pre->nunmatched++];
	u->event_id = ev->id;
	u->customer = customer;
	u->created = ev->created;
	return XERR_OK;
}

enum xerr
events_pre_write(struct db *db, struct events_pre *pre)
{
	return unmatched_events_insert_rows(db, pre->unmatched,
	    pre->nunmatched);
}

void
events_pre_free(struct events_pre *pre)
{
	free(pre->rows);
	pre->rows = NULL;
	pre->nrows = 0;
}
