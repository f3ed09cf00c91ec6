#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/stmt.h"
#include "domain/jobs.h"
#include "domain/events.h"

static enum xerr events_customer_gone(struct events_ev *, const char *);

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

/* Loads the locked user row i of res into ev. */
static void
events_user_load(struct events_ev *ev, struct db_res *res, size_t i)
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
 * Answers events_user() for customer from the batch's read-ahead: 1 when it
 * loaded the user into ev, 0 for a trusted miss, -1 when the database must
 * be asked.
 */
static int
events_pre_user(struct events_ev *ev, const char *customer)
{
	struct events_pre	*pre = ev->pre;
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
			events_user_load(ev, pre->res[i], j);
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

/*
 * Queues the replay of the events stored unmatched for customer, now
 * linked to the event's user (docs/BILLING.md "Unmatched events"), if
 * there are any: once per customer; the worker applies them in the order
 * Stripe created them.
 */
static enum xerr
events_replay_job(struct events_ev *ev, const char *customer)
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
	rc = events_job(ev, "replay_unmatched", customer, p);
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
	if (customer != NULL && (rc = events_pre_user(ev, customer)) == 1) {
		events_pre_touch(ev);
		return XERR_OK;
	}
	if (customer != NULL && rc != 0) {
		args[0] = DB_STR(customer);
		if ((rc = db_query(ev->db, STMT_USER_LOCK_BY_CUSTOMER, args, 1,
		    &res)) != XERR_OK)
			return rc;
		if (db_res_rows(res) == 1) {
			events_user_load(ev, res, 0);
			db_res_free(res);
			events_pre_touch(ev);
			return XERR_OK;
		}
		db_res_free(res);
		res = NULL;
	}
	if (!ids_user_ok(user_id))
		return XERR_NOTFOUND;
	/* A deleted customer is never linked again (customer.deleted). */
	if (customer != NULL && (rc = events_customer_gone(ev, customer)))
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
	events_user_load(ev, res, 0);
	db_res_free(res);
	events_pre_touch(ev);
	if (customer != NULL && linked == NULL) {
		if (ev->pre != NULL)
			ev->pre->valid = 0;	/* a miss may now match */
		args[0] = DB_STR(customer);
		args[1] = DB_STR(ev->user_id);
		if ((rc = db_exec(ev->db, STMT_USER_SET_CUSTOMER, args, 2, NULL,
		    NULL)) != XERR_OK)
			return rc;
		log_info("customer %s linked to user %s", customer,
		    ev->user_id);
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
enum xerr
events_job(struct events_ev *ev, const char *kind, const char *subject,
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
 * Reads the user id of one row of stmt (with nargs arguments a) into uid;
 * 1 when a row was found, 0 when none, -1 on a database error (rc set).
 */
int
events_lookup_user(struct events_ev *ev, enum stmt stmt, struct dbv *a,
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
events_customer_gone(struct events_ev *ev, const char *customer)
{
	struct dbv	 a[1];
	char		 uid[65];
	enum xerr	 rc = XERR_OK;

	a[0] = DB_STR(customer);
	switch (events_lookup_user(ev, STMT_CUSTOMER_DELETED_USER, a, 1, uid,
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
	struct dbv	 a[EVENTS_LOOKUP_IDS];
	size_t		 i, k;
	enum xerr	 rc;

	for (i = 0; i < pre->nasked; i += EVENTS_LOOKUP_IDS) {
		for (k = 0; k < EVENTS_LOOKUP_IDS; k++)
			a[k] = i + k < pre->nasked ? DB_STR(pre->asked[i + k]) :
			    DB_NULL;
		if ((rc = db_query(db, STMT_USER_LOCK_BY_CUSTOMER_16, a,
		    EVENTS_LOOKUP_IDS, &pre->res[pre->nres])) != XERR_OK)
			return rc;
		pre->nres++;
	}
	pre->valid = 1;
	return XERR_OK;
}

void
events_pre_free(struct events_pre *pre)
{
	size_t	 i;

	for (i = 0; i < pre->nres; i++)
		db_res_free(pre->res[i]);
	pre->nres = 0;
}
