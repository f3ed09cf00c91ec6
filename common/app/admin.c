#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/http.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/req.h"
#include "store/admin_audit.h"
#include "store/admin_db.h"
#include "store/event_replay.h"
#include "store/jobs_db.h"
#include "store/stripe_events.h"
#include "store/users.h"
#include "remote/smtp.h"
#include "remote/stripe.h"
#include "remote/twilio.h"
#include "domain/evstore.h"
#include "domain/phone.h"
#include "domain/rating.h"
#include "domain/resync.h"
#include "domain/tiers.h"
#include "domain/usage.h"
#include "app/admin.h"
#include "app/apierr.h"
#include "app/auth.h"
#include "app/page.h"
#include "app/phone_api.h"

#define ADMIN_ACTION_MAX	32
#define ADMIN_SUB_ID_MAX	200	/* leaves room in a resync event's id */
#define ADMIN_EVENT_ID_MAX	255
#define ADMIN_TWILIO_MAX	100000	/* numbers of an account we compare */
#define ADMIN_USER_JOBS		20
#define ADMIN_USER_INVOICES	10

/*
 * What the errors of a body, of Stripe's and of Twilio's answers mean to
 * the admin API's clients (app/apierr.h); docs/API.md names the codes.
 */

/*
 * Reading a subscription to resync it; the detail is "<id> (HTTP
 * <status>, code <Stripe's code>)".  Stripe's refusal is never "try
 * again".
 */
static const struct apierr admin_resync_errs[] = {
	{ XERR_NOTFOUND, 0, "no_such_subscription",
	    "Stripe has no subscription %s" },
	{ XERR_UPSTREAM, 0, "stripe_error",
	    "Stripe could not be asked about %s; try again later" },
	{ APIERR_ANY, 502, "stripe_refused",
	    "Stripe refused the request for %s" },
	{ XERR_OK, 0, NULL, NULL },
};

/* A body req_json() refuses: anything but its media type is bad_json. */
static const struct apierr admin_body_errs[] = {
	{ XERR_MEDIATYPE, 0, NULL, "send application/json" },
	{ APIERR_ANY, 400, "bad_json", "the body is not a JSON object" },
	{ XERR_OK, 0, NULL, NULL },
};

/* A user, an event, a job named by the path: absent, or there already. */
static const struct apierr admin_user_errs[] = {
	{ XERR_NOTFOUND, 0, "no_such_user", "no user %s" },
	{ XERR_DUP, 409, "user_exists", "a user %s exists already" },
	{ XERR_OK, 0, NULL, NULL },
};
static const struct apierr admin_event_errs[] = {
	{ XERR_NOTFOUND, 0, "no_such_event", "no event %s" },
	{ XERR_OK, 0, NULL, NULL },
};
static const struct apierr admin_job_errs[] = {
	{ XERR_NOTFOUND, 0, "no_such_job", "no job %s" },
	{ XERR_OK, 0, NULL, NULL },
};

/*
 * An event that a replay or a resync applied and that failed (not the
 * database: see admin_apply_fail()); the detail names it and says why.
 */
static const struct apierr admin_apply_errs[] = {
	{ APIERR_ANY, 500, "processing_failed", NULL },
	{ XERR_OK, 0, NULL, NULL },
};

#define ADMIN_QUOTE_(x)	#x
#define ADMIN_QUOTE(x)	ADMIN_QUOTE_(x)

/* Reading all of Twilio's numbers (admin_nums_read()). */
static const struct apierr admin_twilio_list_errs[] = {
	{ XERR_NOMEM, 0, NULL, "reading Twilio's numbers failed" },
	{ XERR_TOOBIG, 500, "internal_error", "more than "
	    ADMIN_QUOTE(ADMIN_TWILIO_MAX) " numbers or "
	    ADMIN_QUOTE(ADMIN_TWILIO_PAGES) " pages at Twilio: compare by hand" },
	{ APIERR_ANY, 502, "twilio_error",
	    "Twilio could not list the numbers: %s" },
	{ XERR_OK, 0, NULL, NULL },
};

/* The pages of the lists (app/page.h); docs/API.md states them. */
static const struct page_spec admin_list_page = {
	ADMIN_LIMIT_DEFAULT, ADMIN_LIMIT_MAX, PAGE_NO_CURSOR, NULL, NULL,
	NULL, 0, 0,
};
static const struct page_spec admin_audit_page = {
	ADMIN_LIMIT_DEFAULT, ADMIN_LIMIT_MAX, PAGE_ID, "before", "bad_before",
	"before must be a whole number", INT64_MAX, INT64_MAX,
};
static const struct page_spec admin_repoint_page = {
	ADMIN_REPOINT_DEFAULT, ADMIN_REPOINT_MAX, PAGE_USER, "after",
	"bad_after", "after is the next_after of the previous call", 0, 0,
};

/* How a member of a store row becomes a JSON member. */
enum admin_kind {
	ADMIN_STR,	/* a char array */
	ADMIN_INT,	/* an int64_t */
	ADMIN_BOOL,	/* an int64_t, 0 or not */
};

struct admin_col {
	const char	*key;
	size_t		 off;		/* in the row's struct */
	enum admin_kind	 kind;
	unsigned int	 null;		/* the row's nulls bit; 0: never null */
};

/* The members of one struct of store/: how each shows, where nulls is. */
struct admin_table {
	const struct admin_col	*cols;
	size_t			 ncols;
	size_t			 size;		/* of the struct */
	size_t			 nulls_off;	/* its unsigned int nulls */
};

#define ADMIN_COL(t, key, m, kind, null) \
	{ (key), offsetof(t, m), (kind), (null) }
#define NCOLS(a)	(sizeof(a) / sizeof((a)[0]))
#define ADMIN_TABLE(t, cols) \
	{ (cols), NCOLS(cols), sizeof(t), offsetof(t, nulls) }

#define S_	struct admin_db_sub
static const struct admin_col admin_sub_cols[] = {
	ADMIN_COL(S_, "id", id, ADMIN_STR, 0),
	ADMIN_COL(S_, "status", status, ADMIN_STR, 0),
	ADMIN_COL(S_, "tier", tier, ADMIN_STR, 0),
	ADMIN_COL(S_, "price_id", price_id, ADMIN_STR, 0),
	ADMIN_COL(S_, "item_id", item_id, ADMIN_STR, ADMIN_DB_NULL_ITEM),
	ADMIN_COL(S_, "current_period_start", current_period_start, ADMIN_INT,
	    ADMIN_DB_NULL_PERIOD_START),
	ADMIN_COL(S_, "current_period_end", current_period_end, ADMIN_INT,
	    ADMIN_DB_NULL_PERIOD_END),
	ADMIN_COL(S_, "cancel_at_period_end", cancel_at_period_end,
	    ADMIN_BOOL, 0),
	ADMIN_COL(S_, "trial_end", trial_end, ADMIN_INT,
	    ADMIN_DB_NULL_TRIAL_END),
	ADMIN_COL(S_, "deleted", deleted, ADMIN_BOOL, 0),
	ADMIN_COL(S_, "last_event_id", last_event_id, ADMIN_STR, 0),
	ADMIN_COL(S_, "last_event_created", last_event_created, ADMIN_INT, 0),
	ADMIN_COL(S_, "customer_id", customer_id, ADMIN_STR, 0),
};
static const struct admin_table admin_sub_table =
    ADMIN_TABLE(S_, admin_sub_cols);
#undef S_

#define S_	struct admin_db_invoice
static const struct admin_col admin_invoice_cols[] = {
	ADMIN_COL(S_, "id", id, ADMIN_STR, 0),
	ADMIN_COL(S_, "number", number, ADMIN_STR, ADMIN_DB_NULL_NUMBER),
	ADMIN_COL(S_, "status", status, ADMIN_STR, 0),
	ADMIN_COL(S_, "billing_reason", billing_reason, ADMIN_STR,
	    ADMIN_DB_NULL_REASON),
	ADMIN_COL(S_, "currency", currency, ADMIN_STR, 0),
	ADMIN_COL(S_, "amount_due", amount_due, ADMIN_INT, 0),
	ADMIN_COL(S_, "amount_paid", amount_paid, ADMIN_INT, 0),
	ADMIN_COL(S_, "period_start", period_start, ADMIN_INT,
	    ADMIN_DB_NULL_INV_START),
	ADMIN_COL(S_, "period_end", period_end, ADMIN_INT,
	    ADMIN_DB_NULL_INV_END),
	ADMIN_COL(S_, "attempt_count", attempt_count, ADMIN_INT, 0),
	ADMIN_COL(S_, "next_payment_attempt", next_payment_attempt, ADMIN_INT,
	    ADMIN_DB_NULL_NEXT_ATTEMPT),
	ADMIN_COL(S_, "hosted_invoice_url", hosted_invoice_url, ADMIN_STR,
	    ADMIN_DB_NULL_HOSTED),
	ADMIN_COL(S_, "created", created, ADMIN_INT, 0),
	ADMIN_COL(S_, "subscription_id", subscription_id, ADMIN_STR,
	    ADMIN_DB_NULL_INV_SUB),
};
static const struct admin_table admin_invoice_table =
    ADMIN_TABLE(S_, admin_invoice_cols);
#undef S_

#define S_	struct admin_db_phone
static const struct admin_col admin_phone_cols[] = {
	ADMIN_COL(S_, "phone_number", phone_number, ADMIN_STR, 0),
	ADMIN_COL(S_, "phone_sid", phone_sid, ADMIN_STR, 0),
	ADMIN_COL(S_, "held_from", held_from, ADMIN_INT, 0),
	ADMIN_COL(S_, "held_to", held_to, ADMIN_INT, ADMIN_DB_NULL_HELD_TO),
};
static const struct admin_table admin_phone_table =
    ADMIN_TABLE(S_, admin_phone_cols);
#undef S_

#define S_	struct jobs_db_row
static const struct admin_col admin_job_cols[] = {
	ADMIN_COL(S_, "id", id, ADMIN_INT, 0),
	ADMIN_COL(S_, "kind", kind, ADMIN_STR, 0),
	ADMIN_COL(S_, "dedupe_key", dedupe_key, ADMIN_STR, 0),
	ADMIN_COL(S_, "user_id", user_id, ADMIN_STR, JOBS_DB_NULL_USER),
	ADMIN_COL(S_, "state", state, ADMIN_STR, 0),
	ADMIN_COL(S_, "attempts", attempts, ADMIN_INT, 0),
	ADMIN_COL(S_, "run_after", run_after, ADMIN_INT, 0),
	ADMIN_COL(S_, "last_error", last_error, ADMIN_STR, JOBS_DB_NULL_ERROR),
	ADMIN_COL(S_, "created", created, ADMIN_INT, 0),
	ADMIN_COL(S_, "updated", updated, ADMIN_INT, 0),
};
static const struct admin_table admin_job_table =
    ADMIN_TABLE(S_, admin_job_cols);
#undef S_

#define S_	struct admin_db_event
static const struct admin_col admin_event_cols[] = {
	ADMIN_COL(S_, "id", id, ADMIN_STR, 0),
	ADMIN_COL(S_, "type", type, ADMIN_STR, 0),
	ADMIN_COL(S_, "status", status, ADMIN_STR, 0),
	ADMIN_COL(S_, "created", created, ADMIN_INT, 0),
	ADMIN_COL(S_, "object_id", object_id, ADMIN_STR, ADMIN_DB_NULL_OBJECT),
	ADMIN_COL(S_, "user_id", user_id, ADMIN_STR, ADMIN_DB_NULL_USER),
	ADMIN_COL(S_, "attempts", attempts, ADMIN_INT, 0),
	ADMIN_COL(S_, "last_error", last_error, ADMIN_STR, ADMIN_DB_NULL_ERROR),
	ADMIN_COL(S_, "received_at", received_at, ADMIN_INT, 0),
	ADMIN_COL(S_, "processed_at", processed_at, ADMIN_INT,
	    ADMIN_DB_NULL_PROCESSED),
};
static const struct admin_table admin_event_table =
    ADMIN_TABLE(S_, admin_event_cols);
#undef S_

#define S_	struct admin_db_oursub
static const struct admin_col admin_oursub_cols[] = {
	ADMIN_COL(S_, "user_id", user_id, ADMIN_STR, 0),
	ADMIN_COL(S_, "status", status, ADMIN_STR, 0),
	ADMIN_COL(S_, "tier", tier, ADMIN_STR, 0),
	ADMIN_COL(S_, "deleted", deleted, ADMIN_BOOL, 0),
	ADMIN_COL(S_, "current_period_end", current_period_end, ADMIN_INT,
	    ADMIN_DB_NULL_PERIOD_END),
	ADMIN_COL(S_, "cancel_at_period_end", cancel_at_period_end,
	    ADMIN_BOOL, 0),
	ADMIN_COL(S_, "last_event_id", last_event_id, ADMIN_STR, 0),
};
static const struct admin_table admin_oursub_table =
    ADMIN_TABLE(S_, admin_oursub_cols);
#undef S_

#define S_	struct admin_db_dispute
static const struct admin_col admin_dispute_cols[] = {
	ADMIN_COL(S_, "id", id, ADMIN_STR, 0),
	ADMIN_COL(S_, "status", status, ADMIN_STR, 0),
	ADMIN_COL(S_, "reason", reason, ADMIN_STR,
	    ADMIN_DB_NULL_DISPUTE_REASON),
	ADMIN_COL(S_, "amount", amount, ADMIN_INT, 0),
	ADMIN_COL(S_, "currency", currency, ADMIN_STR, 0),
	ADMIN_COL(S_, "created", created, ADMIN_INT, 0),
};
static const struct admin_table admin_dispute_table =
    ADMIN_TABLE(S_, admin_dispute_cols);
#undef S_

/* GET /api/admin/phone/orphans: a number held that Twilio lacks. */
#define S_	struct admin_db_held
static const struct admin_col admin_held_cols[] = {
	ADMIN_COL(S_, "user_id", user_id, ADMIN_STR, 0),
	ADMIN_COL(S_, "phone_number", phone_number, ADMIN_STR,
	    ADMIN_DB_NULL_PHONE_NUMBER),
	ADMIN_COL(S_, "sid", phone_sid, ADMIN_STR, 0),
	ADMIN_COL(S_, "phone_status", phone_status, ADMIN_STR, 0),
};
static const struct admin_table admin_held_table =
    ADMIN_TABLE(S_, admin_held_cols);

/* POST /api/admin/phone/repoint: the first three, without the status. */
static const struct admin_table admin_repoint_table = {
	admin_held_cols, 3, sizeof(S_), offsetof(S_, nulls),
};
#undef S_

#define S_	struct admin_audit_row
static const struct admin_col admin_audit_cols[] = {
	ADMIN_COL(S_, "id", id, ADMIN_INT, 0),
	ADMIN_COL(S_, "at", at, ADMIN_INT, 0),
	ADMIN_COL(S_, "actor", actor, ADMIN_STR, 0),
	ADMIN_COL(S_, "actor_key", actor_key, ADMIN_STR, 0),
	ADMIN_COL(S_, "action", action, ADMIN_STR, 0),
	ADMIN_COL(S_, "target", target, ADMIN_STR, ADMIN_AUDIT_NULL_TARGET),
	ADMIN_COL(S_, "outcome", outcome, ADMIN_STR, 0),
	ADMIN_COL(S_, "status", status, ADMIN_INT, 0),
	ADMIN_COL(S_, "detail", detail, ADMIN_STR, ADMIN_AUDIT_NULL_DETAIL),
	ADMIN_COL(S_, "remote_addr", remote_addr, ADMIN_STR,
	    ADMIN_AUDIT_NULL_ADDR),
	ADMIN_COL(S_, "forwarded_for", forwarded_for, ADMIN_STR,
	    ADMIN_AUDIT_NULL_FORWARDED),
	ADMIN_COL(S_, "request_id", request_id, ADMIN_STR,
	    ADMIN_AUDIT_NULL_REQUEST),
};
static const struct admin_table admin_audit_table =
    ADMIN_TABLE(S_, admin_audit_cols);
#undef S_


static const char *const admin_event_statuses[] = {
	"processed", "ignored", "unmatched", "stale", "failed"
};
static const char *const admin_job_states[] = {
	"pending", "running", "dead", "done"
};

/* Returns 1 when s is one of the n strings of set. */
static int
admin_in(const char *s, const char *const *set, size_t n)
{
	size_t	 i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

/*
 * Splits a prefix route's rest "<id>/<action>" (action may be absent:
 * then *action is "") into id and action.  Returns 0, or -1 when a part
 * is empty or too long, or there is more.
 */
static int
admin_split(const char *rest, char *id, size_t idsz, char *action,
    size_t actsz)
{
	const char	*slash;
	size_t		 n;

	id[0] = action[0] = '\0';
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n >= idsz)
		return -1;
	memcpy(id, rest, n);
	id[n] = '\0';
	if (slash == NULL)
		return 0;
	rest = slash + 1;
	n = strlen(rest);
	if (n == 0 || n >= actsz || strchr(rest, '/') != NULL)
		return -1;
	memcpy(action, rest, n + 1);
	return 0;
}

/*
 * Reads query parameter name, given at most once, into *out (NULL when
 * absent).  Answers 400 code and returns -1 when it is repeated.
 */
static int
admin_query_or_reply(struct req *r, const char *name, const char *code,
    const char **out)
{
	*out = NULL;
	if (kv_count_name(r->query, name) > 1) {
		req_error(r, XERR_BADREQ, code, "%s given more than once", name);
		return -1;
	}
	*out = kv_get(r->query, name);
	return 0;
}

/*
 * Answers the failure rc of evstore_apply(): the database's as req_fail()
 * does for what (503 with Retry-After when it is worth trying again),
 * else the event's, by admin_apply_errs; detail names the event and says
 * why (printf-like).
 */
static void __attribute__((format(printf, 4, 5)))
admin_apply_fail(struct req *r, enum xerr rc, const char *what,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 detail[512];

	if (xerr_db_retry(rc)) {
		req_fail(r, rc, what);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	apierr_reply(r, admin_apply_errs, rc, detail);
}

/* Returns the struct row (of table t) as an object, or NULL on no memory. */
static struct json_object *
admin_row_json(const void *row, const struct admin_table *t)
{
	const unsigned char	*p = row;
	const struct admin_col	*c;
	struct json_object	*o, *v;
	unsigned int		 nulls;
	int64_t			 i;
	size_t			 k;

	memcpy(&nulls, p + t->nulls_off, sizeof(nulls));
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (k = 0; k < t->ncols; k++) {
		c = &t->cols[k];
		v = NULL;
		if ((nulls & c->null) == 0) {
			if (c->kind == ADMIN_STR)
				v = json_object_new_string((const char *)p +
				    c->off);
			else {
				memcpy(&i, p + c->off, sizeof(i));
				v = c->kind == ADMIN_INT ?
				    json_object_new_int64(i) :
				    json_object_new_boolean(i != 0);
			}
			if (v == NULL)
				goto fail;
		}
		if (json_object_object_add(o, c->key, v) != 0) {
			json_object_put(v);
			goto fail;
		}
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/*
 * Adds under key of to the n structs at rows (of table t) as an array of
 * objects.  XERR_NOMEM.
 */
static enum xerr
admin_add_list(struct json_object *to, const char *key, const void *rows,
    size_t n, const struct admin_table *t)
{
	const unsigned char	*p = rows;
	struct json_object	*a, *o;
	size_t			 i;

	if ((a = json_object_new_array()) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < n; i++) {
		if ((o = admin_row_json(p + i * t->size, t)) == NULL ||
		    json_object_array_add(a, o) != 0) {
			json_object_put(o);
			json_object_put(a);
			return XERR_NOMEM;
		}
	}
	if (json_object_object_add(to, key, a) != 0) {
		json_object_put(a);
		return XERR_NOMEM;
	}
	return XERR_OK;
}

/*
 * Adds the list that read (rc) returned, rows of n structs of table t,
 * under key of to, and frees rows.  Returns rc when it failed.
 */
static enum xerr
admin_add_read(struct json_object *to, const char *key, enum xerr rc,
    void *rows, size_t n, const struct admin_table *t)
{
	if (rc == XERR_OK)
		rc = admin_add_list(to, key, rows, n, t);
	free(rows);
	return rc;
}

/* Adds the user's usage of the current period under "usage". */
static enum xerr
admin_add_usage(struct db *db, struct json_object *to, const char *user_id,
    const char *tier)
{
	struct usage_report	 rep;
	struct json_object	*u;
	int			 bad = 0;
	enum xerr		 rc;

	if ((rc = usage_report(db, user_id, tier, (int64_t)time(NULL),
	    &rep)) != XERR_OK)
		return rc;
	if ((u = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (json_object_object_add(to, "usage", u) != 0) {
		json_object_put(u);
		return XERR_NOMEM;
	}
	bad |= jsonx_add_int(u, "period_start", rep.start);
	bad |= jsonx_add_int(u, "period_end", rep.end);
	bad |= jsonx_add_int(u, "voice_seconds", rep.voice_seconds);
	bad |= jsonx_add_int(u, "voice_minutes", rep.use.voice_minutes);
	bad |= jsonx_add_int(u, "calls", rep.calls);
	bad |= jsonx_add_int(u, "sms", rep.use.sms);
	bad |= jsonx_add_int(u, "voice_included", rep.use.voice_included);
	bad |= jsonx_add_int(u, "sms_included", rep.use.sms_included);
	bad |= jsonx_add_int(u, "overage_cents", rep.bill.total_cents);
	bad |= jsonx_add_int(u, "phone_fee_cents", rep.bill.phone_cents);
	return bad ? XERR_NOMEM : XERR_OK;
}

/* Adds key to o: v, or null when v is NULL.  Returns nonzero on no memory. */
static int
admin_add(struct json_object *o, const char *key, struct json_object *v,
    int null)
{
	if (null) {
		json_object_put(v);
		v = NULL;
	} else if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* Returns u as the object of GET /admin/users/{id}, or NULL on no memory. */
static struct json_object *
admin_user_json(const struct users_row *u)
{
	struct json_object	*o;
	unsigned int		 n = u->nulls;
	int			 bad = 0;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	bad |= admin_add(o, "id", json_object_new_string(u->id), 0);
	bad |= admin_add(o, "email", json_object_new_string(u->email), 0);
	bad |= admin_add(o, "stripe_customer_id",
	    json_object_new_string(u->stripe_customer_id),
	    n & USERS_NULL_CUSTOMER);
	bad |= admin_add(o, "tier", json_object_new_string(u->tier), 0);
	bad |= admin_add(o, "jwt_version",
	    json_object_new_int64(u->jwt_version), 0);
	bad |= admin_add(o, "subscription_id",
	    json_object_new_string(u->subscription_id),
	    n & USERS_NULL_SUBSCRIPTION);
	bad |= admin_add(o, "billing_cycle_start",
	    json_object_new_int64(u->billing_cycle_start),
	    n & USERS_NULL_CYCLE_START);
	bad |= admin_add(o, "billing_cycle_end",
	    json_object_new_int64(u->billing_cycle_end),
	    n & USERS_NULL_CYCLE_END);
	bad |= admin_add(o, "trial_end", json_object_new_int64(u->trial_end),
	    n & USERS_NULL_TRIAL_END);
	bad |= admin_add(o, "past_due", json_object_new_boolean(u->past_due),
	    0);
	bad |= admin_add(o, "phone_number",
	    json_object_new_string(u->phone_number),
	    n & USERS_NULL_PHONE_NUMBER);
	bad |= admin_add(o, "phone_sid", json_object_new_string(u->phone_sid),
	    n & USERS_NULL_PHONE_SID);
	bad |= admin_add(o, "phone_status",
	    json_object_new_string(u->phone_status), 0);
	bad |= admin_add(o, "phone_provisioned_at",
	    json_object_new_int64(u->phone_provisioned_at),
	    n & USERS_NULL_PROVISIONED_AT);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Reads the user's row into a new object *out; XERR_NOTFOUND when none. */
static enum xerr
admin_user_load(struct db *db, const char *id, struct json_object **out)
{
	struct users_row	 u;
	enum xerr		 rc;

	*out = NULL;
	if ((rc = users_by_id(db, id, &u)) != XERR_OK)
		return rc;
	if ((*out = admin_user_json(&u)) == NULL)
		return XERR_NOMEM;
	return XERR_OK;
}

/*
 * The audit record of one admin request (sql/011_audit.sql): what the
 * handler names it, written once, in the transaction of its change when
 * it has one (admin_exec_audited()), before a successful reply otherwise
 * (admin_reply_audited()), and after any other reply by admin_run().
 */
struct admin_audit {
	const char	*action;	/* static, "user.create", ... */
	char		 target[256];	/* "" none */
	char		 detail[256];	/* "" none */
	int		 written;
};

/* Copies s (may be NULL) into out, each byte outside printable ASCII as '?'. */
static void
admin_ascii(const char *s, char *out, size_t outsz)
{
	size_t	 i;

	snprintf(out, outsz, "%s", s != NULL ? s : "");
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			out[i] = '?';
}

/* Sets the target of au: prefix and s. */
static void
admin_target(struct admin_audit *au, const char *prefix, const char *s)
{
	snprintf(au->target, sizeof(au->target), "%s%s", prefix, s);
	req_utf8_scrub(au->target);
}

/*
 * One verb of a prefix route "<id>/<verb>" (POST /api/admin/users/<id>/
 * revoke-tokens, ...): its audit action, the form of its id and what
 * runs it.
 */
struct admin_verb {
	const char	*verb;
	const char	*audit;
	size_t		 idmax;		/* ids_ext_ok() length; 0: a user id */
	void		(*run)(struct req *, struct admin_audit *,
			    const char *);
};

#define ADMIN_VERB_ID_MAX	ADMIN_EVENT_ID_MAX	/* the longest idmax */

/* Runs v for r's "<id>/<verb>"; 404 for another verb or a bad id. */
static void
admin_verb_run(struct req *r, struct admin_audit *au,
    const struct admin_verb *v)
{
	char	 id[ADMIN_VERB_ID_MAX + 1], action[ADMIN_ACTION_MAX];
	size_t	 idsz = (v->idmax != 0 ? v->idmax : IDS_USER_MAX) + 1;

	if (idsz > sizeof(id) || admin_split(r->path_rest, id, idsz, action,
	    sizeof(action)) != 0 || (v->idmax != 0 ? !ids_ext_ok(id,
	    v->idmax) : !ids_user_ok(id)) || strcmp(action, v->verb) != 0) {
		req_error(r, XERR_NOTFOUND, NULL, "no such endpoint");
		return;
	}
	au->action = v->audit;
	admin_target(au, "", id);
	v->run(r, au, id);
}

/*
 * Inserts au's row with outcome ("ok" or an error code) and the HTTP
 * status, in the caller's transaction if any.
 */
static enum xerr
admin_audit_write(struct req *r, const struct admin_audit *au,
    const char *outcome, int status)
{
	struct admin_audit_entry e;
	char		 addr[65], fwd[256], key[17], code[65];

	admin_ascii(r->remote_addr, addr, sizeof(addr));
	admin_ascii(req_header(r, "X-Forwarded-For"), fwd, sizeof(fwd));
	admin_ascii(r->key_id, key, sizeof(key));
	admin_ascii(outcome, code, sizeof(code));
	e.at = (int64_t)time(NULL);
	e.actor = r->user_id;
	e.actor_key = key;
	e.action = au->action;
	e.target = au->target[0] != '\0' ? au->target : NULL;
	e.outcome = code[0] != '\0' ? code : "unknown";
	e.status = status;
	e.detail = au->detail[0] != '\0' ? au->detail : NULL;
	e.remote_addr = addr[0] != '\0' ? addr : NULL;
	e.forwarded_for = fwd[0] != '\0' ? fwd : NULL;
	e.request_id = r->id[0] != '\0' ? r->id : NULL;
	return admin_audit_insert(r->db, &e);
}

/*
 * Answers 200 with o (the caller's) once au's row "ok" is written; when
 * it cannot be, answers 503 (or 500) instead: nothing is shown that is
 * not on record.
 */
static void
admin_reply_audited(struct req *r, struct admin_audit *au,
    struct json_object *o)
{
	enum xerr	 rc;

	if ((rc = admin_audit_write(r, au, "ok", 200)) != XERR_OK) {
		req_fail(r, rc, "writing the audit record");
		return;
	}
	au->written = 1;
	req_reply_json(r, 200, o);
}

/*
 * One change of an admin request: a write of store/ with its argument,
 * which sets *affected to the rows it changed.
 */
typedef enum xerr (*admin_write_fn)(struct db *, const void *, uint64_t *);

/*
 * Runs the write fn(arg) and, when it changed a row (or always, with
 * zero_ok), au's row "ok" with status, in one transaction, retried as
 * core/db.h allows.  *affected gets the rows fn changed; when none (and
 * not zero_ok) nothing is written and the caller answers why.  Errors of
 * fn, its XERR_DUP included.
 */
static enum xerr
admin_exec_audited(struct req *r, struct admin_audit *au, admin_write_fn fn,
    const void *arg, int zero_ok, int status, uint64_t *affected)
{
	enum xerr	 rc = XERR_OK;
	int		 i;

	for (i = 0; i < DB_TRIES; i++) {
		if (i > 0)
			db_retry_pause();
		*affected = 0;
		if ((rc = db_begin(r->db)) != XERR_OK)
			continue;
		if ((rc = fn(r->db, arg, affected)) != XERR_OK ||
		    (*affected == 0 && !zero_ok)) {
			db_rollback(r->db);
			if (rc == XERR_DEADLOCK)
				continue;
			return rc;
		}
		if ((rc = admin_audit_write(r, au, "ok", status)) == XERR_OK &&
		    (rc = db_commit(r->db)) == XERR_OK) {
			au->written = 1;
			return XERR_OK;
		}
		db_rollback(r->db);
		if (rc != XERR_DEADLOCK)
			return rc;
	}
	return rc;
}

/* A user to create (POST /api/admin/users). */
struct admin_user_new {
	const char	*id;
	const char	*email;
	const char	*tier;
};

/* The admin_write_fn of each change. */
static enum xerr
admin_w_user_insert(struct db *db, const void *arg, uint64_t *affected)
{
	const struct admin_user_new *u = arg;

	return admin_db_user_insert(db, u->id, u->email, u->tier, affected);
}

static enum xerr
admin_w_user_revoke(struct db *db, const void *arg, uint64_t *affected)
{
	return admin_db_user_revoke(db, arg, affected);
}

static enum xerr
admin_w_job_retry(struct db *db, const void *arg, uint64_t *affected)
{
	return jobs_db_retry(db, *(const long long *)arg, affected);
}

static enum xerr
admin_w_jobs_retry_dead(struct db *db, const void *arg, uint64_t *affected)
{
	return jobs_db_retry_dead(db, arg, affected);
}

/*
 * Authenticates an admin request, runs fn with its audit record (action
 * given, target the route's rest, detail the query) and writes the record
 * of any reply fn has not: a refusal, a failure.  A request whose token is
 * refused has no actor and is not recorded here (the access log has it).
 */
static void
admin_run(struct req *r, const char *action,
    void (*fn)(struct req *, struct admin_audit *))
{
	struct admin_audit	 au;
	const char		*q;

	if (auth_require_or_reply(r, AUTH_ADMIN) != 0)
		return;
	memset(&au, 0, sizeof(au));
	au.action = action;
	if (r->path_rest != NULL && r->path_rest[0] != '\0')
		admin_target(&au, "", r->path_rest);
	if ((q = req_param(r, "QUERY_STRING")) != NULL && *q != '\0') {
		snprintf(au.detail, sizeof(au.detail), "%s", q);
		req_utf8_scrub(au.detail);
	}
	fn(r, &au);
	if (au.written || r->status == 0)
		return;
	if (admin_audit_write(r, &au, r->status < 400 ? "ok" :
	    r->error_code, r->status) != XERR_OK)
		log_warnx("admin %s: %s %s: the audit record was not written",
		    r->user_id, au.action, au.target);
}

/*
 * POST /api/admin/users: 201, 400, 401, 403, 409 user_exists, 415,
 * 500, 503.
 */
static void
admin_user_create_run(struct req *r, struct admin_audit *au)
{
	struct json_object	*in = NULL, *o = NULL, *user = NULL;
	struct admin_user_new	 nu;
	const char		*id, *email, *tier;
	char			 uuid[CRYPTO_UUID_LEN + 1];
	uint64_t		 n;
	int			 valid;
	enum xerr		 rc;

	if ((rc = req_json(r, &in)) != XERR_OK) {
		apierr_reply(r, admin_body_errs, rc, NULL);
		return;
	}
	if (!json_object_is_type(in, json_type_object)) {
		req_error(r, XERR_BADREQ, "bad_json",
		    "the body is not a JSON object");
		goto out;
	}
	id = jsonx_str(in, "id");
	email = jsonx_str(in, "email");
	tier = jsonx_str(in, "tier");
	if (jsonx_get(in, "id") != NULL && !ids_user_ok(id)) {
		req_error(r, XERR_BADREQ, "bad_user_id",
		    "id must be 1 to %d of A-Z a-z 0-9 _ -", IDS_USER_MAX);
		goto out;
	}
	if (email == NULL || !smtp_addr_ok(email)) {
		req_error(r, XERR_BADREQ, "bad_email",
		    "email must be one plain address");
		goto out;
	}
	if (jsonx_get(in, "tier") != NULL) {
		if ((rc = tiers_valid(r->db, tier, &valid)) != XERR_OK) {
			req_fail(r, rc, "reading the tiers");
			goto out;
		}
		if (!valid) {
			req_error(r, XERR_BADREQ, "bad_tier", "unknown tier");
			goto out;
		}
	}
	if (id == NULL) {
		crypto_uuid4(uuid);
		id = uuid;
	}
	nu.id = id;
	nu.email = email;
	nu.tier = tier != NULL ? tier : TIERS_FREE;
	admin_target(au, "", id);
	snprintf(au->detail, sizeof(au->detail), "tier %s",
	    tier != NULL ? tier : TIERS_FREE);
	if ((rc = admin_exec_audited(r, au, admin_w_user_insert, &nu, 0, 201,
	    &n)) == XERR_DUP) {
		apierr_reply(r, admin_user_errs, rc, id);
		goto out;
	}
	if (rc != XERR_OK || (rc = admin_user_load(r->db, id, &user))) {
		req_fail(r, rc, "creating the user");
		goto out;
	}
	log_info("admin %s: created user %s (%s)", r->user_id, id,
	    tier != NULL ? tier : TIERS_FREE);
	if ((o = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "user", user) != 0) {
		json_object_put(user);
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, 201, o);
out:
	json_object_put(o);
	json_object_put(in);
}

/*
 * GET /api/admin/users/<id>/bills[?period_start=N]: the user's bills
 * (docs/BILLING.md), newest first, each with its lines and how they were
 * computed, recorded in au before the answer.  200, 400, 401, 403, 500,
 * 503.
 */
static void
admin_user_bills(struct req *r, struct admin_audit *au, const char *id)
{
	struct json_object	*o = NULL, *bills = NULL;
	const char		*ps;
	long long		 start = 0;
	enum xerr		 rc;

	if (admin_query_or_reply(r, "period_start", "invalid_period_start",
	    &ps) != 0)
		return;
	if (ps != NULL && kv_uint(ps, 18, 0, 1, INT64_MAX, &start) != 0) {
		req_error(r, XERR_BADREQ, "invalid_period_start",
		    "period_start must be a positive Unix time");
		return;
	}
	if ((rc = rating_bills_json(r->db, id, start, &bills)) != XERR_OK) {
		req_fail(r, rc, "reading the bills");
		return;
	}
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_str(o, "user_id", id) != 0 ||
	    json_object_object_add(o, "bills", bills) != 0) {
		json_object_put(bills);
		json_object_put(o);
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	admin_reply_audited(r, au, o);
	json_object_put(o);
}

/*
 * Adds under "subscription" the one of o's "subscriptions" the user
 * follows (sub_id; null when none or not listed): what the tier comes
 * from.
 */
static enum xerr
admin_user_current(struct json_object *o, const char *sub_id)
{
	struct json_object	*subs, *s, *cur = NULL;
	size_t			 i, n;

	subs = jsonx_get(o, "subscriptions");
	n = json_object_array_length(subs);
	for (i = 0; sub_id != NULL && i < n; i++) {
		s = json_object_array_get_idx(subs, i);
		if (strcmp(jsonx_str(s, "id"), sub_id) == 0)
			cur = json_object_get(s);
	}
	if (json_object_object_add(o, "subscription", cur) != 0) {
		json_object_put(cur);
		return XERR_NOMEM;
	}
	return XERR_OK;
}

/*
 * Adds to o (which holds "user") what GET /api/admin/users/<id> shows
 * beside the user's row: subscriptions, the current one, invoices, usage,
 * phone numbers, jobs, open disputes.
 */
static enum xerr
admin_user_detail(struct db *db, struct json_object *o, const char *id)
{
	struct admin_db_sub	*subs;
	struct admin_db_invoice	*invs;
	struct admin_db_phone	*phones;
	struct jobs_db_row	*jobs;
	struct admin_db_dispute	*disputes;
	const char		*tier, *sub_id;
	size_t			 n;
	enum xerr		 rc;

	tier = jsonx_str(o, "user.tier");
	sub_id = jsonx_str(o, "user.subscription_id");
	rc = admin_db_user_subs(db, id, &subs, &n);
	if ((rc = admin_add_read(o, "subscriptions", rc, subs, n,
	    &admin_sub_table)) != XERR_OK ||
	    (rc = admin_user_current(o, sub_id)) != XERR_OK)
		return rc;
	rc = admin_db_user_invoices(db, id, ADMIN_USER_INVOICES, &invs, &n);
	if ((rc = admin_add_read(o, "invoices", rc, invs, n,
	    &admin_invoice_table)) != XERR_OK ||
	    (rc = admin_add_usage(db, o, id, tier)) != XERR_OK)
		return rc;
	rc = admin_db_user_phones(db, id, &phones, &n);
	if ((rc = admin_add_read(o, "phone_numbers", rc, phones, n,
	    &admin_phone_table)) != XERR_OK)
		return rc;
	rc = jobs_db_of_user(db, id, ADMIN_USER_JOBS, &jobs, &n);
	if ((rc = admin_add_read(o, "jobs", rc, jobs, n, &admin_job_table)) !=
	    XERR_OK)
		return rc;
	/* The account is flagged while one of these is open. */
	rc = admin_db_user_disputes(db, id, &disputes, &n);
	return admin_add_read(o, "open_disputes", rc, disputes, n,
	    &admin_dispute_table);
}

/*
 * GET /api/admin/users/<id>: the user's billing state.  200, 401, 403,
 * 404, 500, 503.
 */
static void
admin_user_get_run(struct req *r, struct admin_audit *au)
{
	struct json_object	*o = NULL, *user = NULL;
	char			 id[IDS_USER_MAX + 1], action[ADMIN_ACTION_MAX];
	enum xerr		 rc;

	if (admin_split(r->path_rest, id, sizeof(id), action,
	    sizeof(action)) != 0 || (action[0] != '\0' &&
	    strcmp(action, "bills") != 0) || !ids_user_ok(id)) {
		req_error(r, XERR_NOTFOUND, NULL, "no such endpoint");
		return;
	}
	if (action[0] != '\0') {
		admin_user_bills(r, au, id);
		return;
	}
	if ((rc = admin_user_load(r->db, id, &user)) == XERR_NOTFOUND) {
		apierr_reply(r, admin_user_errs, rc, id);
		return;
	}
	if (rc != XERR_OK)
		goto fail;
	rc = XERR_NOMEM;
	if ((o = json_object_new_object()) == NULL)
		goto fail;
	if (json_object_object_add(o, "user", user) != 0)
		goto fail;
	user = NULL;
	if ((rc = admin_user_detail(r->db, o, id)) != XERR_OK)
		goto fail;
	admin_reply_audited(r, au, o);
	json_object_put(o);
	return;
fail:
	json_object_put(user);
	json_object_put(o);
	req_fail(r, rc, "reading the user");
}

/* POST /api/admin/users/<id>/revoke-tokens. */
static void
admin_user_revoke(struct req *r, struct admin_audit *au, const char *id)
{
	struct json_object	*o = NULL;
	uint64_t		 n = 0;
	int64_t			 v;
	long long		 version;
	enum xerr		 rc;

	if ((rc = admin_exec_audited(r, au, admin_w_user_revoke, id, 0, 200,
	    &n)) != XERR_OK) {
		req_fail(r, rc, "revoking the tokens");
		return;
	}
	if (n == 0) {
		apierr_reply(r, admin_user_errs, XERR_NOTFOUND, id);
		return;
	}
	/* Gone again since (0 then, as ever): the revocation stands. */
	if ((rc = users_jwt_version(r->db, id, &v)) != XERR_OK &&
	    rc != XERR_NOTFOUND) {
		req_fail(r, rc, "reading the new version");
		return;
	}
	version = v;
	log_info("admin %s: revoked the tokens of user %s (jwt_version %lld)",
	    r->user_id, id, version);
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_str(o, "user_id", id) != 0 ||
	    jsonx_add_int(o, "jwt_version", version) != 0) {
		json_object_put(o);
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	req_reply_json(r, 200, o);
	json_object_put(o);
}

/*
 * POST /api/admin/users/<id>/<action>: revoke-tokens.  200, 401, 403,
 * 404, 503.
 */
static void
admin_user_action_run(struct req *r, struct admin_audit *au)
{
	static const struct admin_verb v = { "revoke-tokens",
	    "user.revoke-tokens", 0, admin_user_revoke };

	admin_verb_run(r, au, &v);
}

/* The filter of a list: one query parameter, one of a set of values. */
struct admin_filter {
	const char		*param;
	const char		*code;		/* its 400 code */
	const char		*help;		/* its 400 message */
	const char *const	*set;
	size_t			 nset;
	const char		*def;		/* when absent or "": NULL, none */
};

static const struct admin_filter admin_event_filter = {
	"status", "bad_status", "status must be one of processed, ignored, "
	"unmatched, stale, failed", admin_event_statuses,
	NCOLS(admin_event_statuses), NULL,
};
static const struct admin_filter admin_job_filter = {
	"state", "bad_state", "state must be one of pending, running, dead, "
	"done", admin_job_states, NCOLS(admin_job_states), "dead",
};

/*
 * Reads a list's filter f into *value (f->def when absent or empty) and
 * its page's limit.  Returns 0, or -1 when it has answered 400.
 */
static int
admin_list_query_or_reply(struct req *r, const struct admin_filter *f,
    const char **value, long long *limit)
{
	struct page	 pg;
	const char	*v;

	if (admin_query_or_reply(r, f->param, f->code, &v) != 0 ||
	    page_or_reply(r, &admin_list_page, &pg) != 0)
		return -1;
	if (v == NULL || *v == '\0')
		v = f->def;
	if (v != NULL && !admin_in(v, f->set, f->nset)) {
		req_error(r, XERR_BADREQ, f->code, "%s", f->help);
		return -1;
	}
	*value = v;
	*limit = pg.limit;
	return 0;
}

/*
 * Answers the list o (which it puts) once audited, or the failure rc of
 * reading it (what: a few words).
 */
static void
admin_list_reply(struct req *r, struct admin_audit *au,
    struct json_object *o, enum xerr rc, const char *what)
{
	if (rc != XERR_OK)
		req_fail(r, rc, what);
	else
		admin_reply_audited(r, au, o);
	json_object_put(o);
}

/*
 * GET /api/admin/events?status=&limit=.  200, 400, 401, 403, 500,
 * 503.
 */
static void
admin_events_run(struct req *r, struct admin_audit *au)
{
	struct json_object	*o;
	struct admin_db_event	*rows;
	const char		*status;
	long long		 limit;
	size_t			 n;
	enum xerr		 rc;

	if (admin_list_query_or_reply(r, &admin_event_filter, &status,
	    &limit) != 0)
		return;
	if ((o = json_object_new_object()) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	rc = admin_db_events(r->db, status, limit, &rows, &n);
	rc = admin_add_read(o, "events", rc, rows, n, &admin_event_table);
	admin_list_reply(r, au, o, rc, "listing the events");
}

/*
 * POST /api/admin/events/<id>/replay: an unmatched or failed event, or
 * one stored ignored that this release acts on (an older node stored its
 * type ignored during a rolling upgrade); evstore decides, and a row
 * still ignored after it (a type not acted on, a test-mode event in
 * production) is 409 not_replayable.
 */
static void
admin_event_replay(struct req *r, struct admin_audit *au, const char *id)
{
	struct json_object	*o = NULL;
	struct event_replay_event ev;
	const char		*outcome = NULL;
	char			 before[17], type[129], err[256], now[17];
	enum xerr		 rc;

	if ((rc = event_replay_get(r->db, id, &ev)) == XERR_NOTFOUND) {
		apierr_reply(r, admin_event_errs, rc, id);
		return;
	}
	if (rc != XERR_OK) {
		req_fail(r, rc, "reading the event");
		return;
	}
	snprintf(before, sizeof(before), "%s", ev.status);
	snprintf(type, sizeof(type), "%s", ev.type);
	if (strcmp(before, "unmatched") != 0 && strcmp(before, "failed") != 0 &&
	    strcmp(before, "ignored") != 0) {
		req_error(r, XERR_CONFLICT, "not_replayable", "event %s is %s: "
		    "only unmatched, failed and ignored events are replayed",
		    id, before);
		goto out;
	}
	if ((rc = evstore_apply(r->db, r->cfg, ev.payload, ev.len, 1,
	    &outcome, err, sizeof(err))) != XERR_OK) {
		admin_apply_fail(r, rc, "the replay", "event %s failed again: %s",
		    id, err);
		goto out;
	}
	/* Another applier may have finished it first: say what is stored. */
	if (strcmp(outcome, "duplicate") == 0 && stripe_events_status(r->db, id,
	    now) == XERR_OK)
		outcome = now;
	if (strcmp(before, "ignored") == 0 && strcmp(outcome, "ignored") == 0) {
		req_error(r, XERR_CONFLICT, "not_replayable", "event %s is "
		    "ignored: its type is not acted on, or it is of Stripe's "
		    "test mode in production", id);
		goto out;
	}
	log_info("admin %s: replayed event %s (%s): %s -> %s", r->user_id, id,
	    type, before, outcome);
	snprintf(au->detail, sizeof(au->detail), "%s: %s -> %s", type, before,
	    outcome);
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_str(o, "id", id) != 0 ||
	    jsonx_add_str(o, "type", type) != 0 ||
	    jsonx_add_str(o, "previous_status", before) != 0 ||
	    jsonx_add_str(o, "status", outcome) != 0) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	admin_reply_audited(r, au, o);
out:
	json_object_put(o);
	event_replay_clear(&ev);
}

/*
 * POST /api/admin/events/<id>/<action>: replay.  200, 401, 403, 404,
 * 409, 500, 503.
 */
static void
admin_event_action_run(struct req *r, struct admin_audit *au)
{
	static const struct admin_verb v = { "replay", "event.replay",
	    ADMIN_EVENT_ID_MAX, admin_event_replay };

	admin_verb_run(r, au, &v);
}

/*
 * GET /api/admin/jobs?state=&limit=.  200, 400, 401, 403, 500, 503.
 */
static void
admin_jobs_run(struct req *r, struct admin_audit *au)
{
	struct json_object	*o;
	struct jobs_db_row	*rows;
	const char		*state;
	long long		 limit;
	size_t			 n;
	enum xerr		 rc;

	if (admin_list_query_or_reply(r, &admin_job_filter, &state,
	    &limit) != 0)
		return;
	if ((o = json_object_new_object()) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	rc = jobs_db_in_state(r->db, state, limit, &rows, &n);
	rc = admin_add_read(o, "jobs", rc, rows, n, &admin_job_table);
	admin_list_reply(r, au, o, rc, "listing the jobs");
}

/* POST /api/admin/jobs/<id>/retry. */
static void
admin_job_retry(struct req *r, struct admin_audit *au, long long id)
{
	struct json_object	*o = NULL;
	char			 state[17], idstr[24];
	uint64_t		 n = 0;
	enum xerr		 rc;

	if ((rc = admin_exec_audited(r, au, admin_w_job_retry, &id, 0, 200,
	    &n)) != XERR_OK) {
		req_fail(r, rc, "retrying the job");
		return;
	}
	if (n == 0) {
		snprintf(idstr, sizeof(idstr), "%lld", id);
		if ((rc = jobs_db_state(r->db, id, state)) == XERR_NOTFOUND)
			apierr_reply(r, admin_job_errs, rc, idstr);
		else if (rc != XERR_OK)
			req_fail(r, rc, "reading the job");
		else
			req_error(r, XERR_CONFLICT, "not_retryable", "job %lld "
			    "is %s: only dead and pending jobs are retried", id,
			    state);
		return;
	}
	log_info("admin %s: job %lld retried", r->user_id, id);
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_int(o, "id", id) != 0 ||
	    jsonx_add_str(o, "state", "pending") != 0 ||
	    jsonx_add_int(o, "attempts", 0) != 0) {
		json_object_put(o);
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	req_reply_json(r, 200, o);
	json_object_put(o);
}

/* POST /api/admin/jobs/dead/retry?kind=. */
static void
admin_jobs_retry_dead(struct req *r, struct admin_audit *au)
{
	struct json_object	*o = NULL;
	const char		*kind;
	uint64_t		 n = 0;
	enum xerr		 rc;

	if (admin_query_or_reply(r, "kind", "bad_kind", &kind) != 0)
		return;
	if (kind == NULL)
		kind = "";
	if (strlen(kind) > 32 || (*kind != '\0' && !ids_user_ok(kind))) {
		req_error(r, XERR_BADREQ, "bad_kind", "kind is a job kind");
		return;
	}
	if (*kind != '\0')
		admin_target(au, "kind ", kind);
	if ((rc = admin_exec_audited(r, au, admin_w_jobs_retry_dead, kind, 1,
	    200, &n)) != XERR_OK) {
		req_fail(r, rc, "retrying the dead jobs");
		return;
	}
	log_info("admin %s: %llu dead jobs%s%s retried", r->user_id,
	    (unsigned long long)n, *kind ? " of kind " : "", kind);
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_int(o, "retried", (int64_t)n) != 0) {
		json_object_put(o);
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	req_reply_json(r, 200, o);
	json_object_put(o);
}

/*
 * POST /api/admin/jobs/<id>/retry and /api/admin/jobs/dead/retry.
 * 200, 400, 401, 403, 404, 409, 503.
 */
/*
 * Reads a job id of a path: digits without a leading zero, at most
 * INT64_MAX, into *out.  Returns 0, or -1 for anything else.
 */
static int
admin_job_id(const char *s, long long *out)
{
	char	*end;

	errno = 0;
	if (s[0] < '1' || s[0] > '9' ||
	    (*out = strtoll(s, &end, 10), errno != 0) || *end != '\0')
		return -1;
	return 0;
}

static void
admin_job_action_run(struct req *r, struct admin_audit *au)
{
	char		 id[24], action[ADMIN_ACTION_MAX];
	long long	 n;

	if (admin_split(r->path_rest, id, sizeof(id), action,
	    sizeof(action)) != 0 || strcmp(action, "retry") != 0)
		goto notfound;
	if (strcmp(id, "dead") == 0) {
		au->action = "jobs.retry-dead";
		au->target[0] = '\0';
		admin_jobs_retry_dead(r, au);
		return;
	}
	if (admin_job_id(id, &n) != 0)
		goto notfound;
	au->action = "job.retry";
	admin_target(au, "", id);
	admin_job_retry(r, au, n);
	return;
notfound:
	req_error(r, XERR_NOTFOUND, NULL, "no such endpoint");
}

/*
 * Reads Stripe's subscription sub_id into *sub (caller puts).  Returns 0,
 * or -1 when it has answered: 404 for an id that is no path, Stripe's
 * refusal (admin_resync_errs), 502 for another object.
 */
static int
admin_resync_fetch_or_reply(struct req *r, const char *sub_id,
    struct json_object **sub)
{
	struct stripe_reply	 rep;
	char			 detail[ADMIN_SUB_ID_MAX + 96];
	int			 other = 0;
	enum xerr		 rc;

	memset(&rep, 0, sizeof(rep));
	if ((rc = resync_fetch(r->http, r->cfg, sub_id, sub, &rep,
	    &other)) == XERR_OK)
		return 0;
	if (rc == XERR_BADREQ)
		req_error(r, XERR_NOTFOUND, NULL, "no such endpoint");
	else if (other)
		req_error(r, XERR_UPSTREAM, "stripe_error",
		    "Stripe answered with another object");
	else if (rc == XERR_NOMEM)
		req_fail(r, rc, "the resync");
	else {
		snprintf(detail, sizeof(detail), "%s (HTTP %ld, code %s)",
		    sub_id, rep.status, rep.code[0] != '\0' ? rep.code :
		    "none");
		apierr_reply(r, admin_resync_errs, rc, detail);
	}
	return -1;
}

/*
 * Applies Stripe's subscription sub (resync_apply()): evid gets the
 * event's id, *outcome its status.  Returns 0, or -1 when it has
 * answered: 503 (or 500) when the database failed, 500 processing_failed
 * when the event failed.
 */
static int
admin_resync_apply_or_reply(struct req *r, struct json_object *sub,
    const char *sub_id, char *evid, size_t evidsz, const char **outcome)
{
	char		 err[256];
	enum xerr	 rc;

	if ((rc = resync_apply(r->db, r->cfg, sub, sub_id, evid, evidsz,
	    outcome, err, sizeof(err))) == XERR_OK)
		return 0;
	if (rc == XERR_NOMEM)
		req_fail(r, rc, "the resync");
	else
		admin_apply_fail(r, rc, "the resync", "event %s failed: %s",
		    evid, err);
	return -1;
}

/*
 * Returns the reply of a resync without our row of the subscription: the
 * event and its outcome, Stripe's status and period end.  NULL on no
 * memory.
 */
static struct json_object *
admin_resync_json(struct json_object *sub, const char *evid,
    const char *outcome)
{
	struct json_object	*o = NULL, *st = NULL;
	int64_t			 cpe;
	int			 bad;

	if ((o = json_object_new_object()) == NULL ||
	    (st = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "stripe", st) != 0) {
		json_object_put(st);
		json_object_put(o);
		return NULL;
	}
	bad = jsonx_add_str(o, "event_id", evid);
	bad |= jsonx_add_str(o, "status", outcome);
	bad |= jsonx_add_str(st, "status", jsonx_str(sub, "status"));
	/* Today on the item (2025-03-31.basil on); before, on the subscription. */
	if (jsonx_int(jsonx_idx(sub, "items.data", 0), "current_period_end",
	    &cpe) == 0 || jsonx_int(sub, "current_period_end", &cpe) == 0)
		bad |= jsonx_add_int(st, "current_period_end", cpe);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * POST /api/admin/subscriptions/<id>/resync: Stripe's subscription,
 * applied as the customer.subscription.updated event Stripe would send
 * now (domain/resync.h).
 */
static void
admin_resync(struct req *r, struct admin_audit *au, const char *sub_id)
{
	struct json_object	*sub = NULL, *o = NULL;
	struct admin_db_oursub	 ours;
	const char		*outcome = NULL;
	char			 evid[ADMIN_SUB_ID_MAX + 32];
	enum xerr		 rc;

	if (admin_resync_fetch_or_reply(r, sub_id, &sub) != 0 ||
	    admin_resync_apply_or_reply(r, sub, sub_id, evid, sizeof(evid),
	    &outcome) != 0)
		goto out;
	log_info("admin %s: resynced subscription %s as %s: %s", r->user_id,
	    sub_id, evid, outcome);
	snprintf(au->detail, sizeof(au->detail), "%s: %s", evid, outcome);
	if ((o = admin_resync_json(sub, evid, outcome)) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	if ((rc = admin_db_sub(r->db, sub_id, &ours)) != XERR_OK &&
	    rc != XERR_NOTFOUND) {
		req_fail(r, rc, "reading the subscription");
		goto out;
	}
	/* null when we have no row of it */
	if (admin_add(o, "subscription", rc == XERR_OK ?
	    admin_row_json(&ours, &admin_oursub_table) : NULL,
	    rc != XERR_OK) != 0) {
		req_fail(r, XERR_NOMEM, "reading the subscription");
		goto out;
	}
	admin_reply_audited(r, au, o);
out:
	json_object_put(o);
	json_object_put(sub);
}

/*
 * POST /api/admin/subscriptions/<id>/<action>: resync.  200, 401, 403,
 * 404, 500, 502, 503.
 */
static void
admin_subscription_action_run(struct req *r, struct admin_audit *au)
{
	static const struct admin_verb v = { "resync",
	    "subscription.resync", ADMIN_SUB_ID_MAX, admin_resync };

	admin_verb_run(r, au, &v);
}

/* A number of the Twilio account. */
struct admin_num {
	char	 sid[TWILIO_SID_LEN + 1];
	char	 number[TWILIO_E164_MAX + 1];
	char	 name[TWILIO_FRIENDLY_MAX + 1];
};

/*
 * The account's numbers, read from the pages of Twilio's list that fit in
 * nginx's time: all of them when complete.
 */
struct admin_nums {
	struct admin_num	*v;
	size_t			 n, cap;
	size_t			 unparsed;	/* entries without a valid sid */
	size_t			 pages;		/* pages read */
	int64_t			 ms;		/* the time they took */
	int			 complete;	/* the last page among them */
};

/* Orders numbers by sid, byte by byte (as MariaDB's ascii_bin). */
static int
admin_num_cmp(const void *a, const void *b)
{
	return strcmp(((const struct admin_num *)a)->sid,
	    ((const struct admin_num *)b)->sid);
}

/* Appends the valid numbers of one list page to ns. */
static enum xerr
admin_nums_add(struct admin_nums *ns, struct json_object *page)
{
	struct json_object	*arr = jsonx_get(page, "incoming_phone_numbers");
	struct twilio_number	 t;
	struct admin_num	*nv;
	size_t			 i, len = json_object_array_length(arr), ncap;

	for (i = 0; i < len; i++) {
		if (twilio_number_parse(json_object_array_get_idx(arr, i),
		    &t) != 0) {
			ns->unparsed++;
			continue;
		}
		if (ns->n == ADMIN_TWILIO_MAX)
			return XERR_TOOBIG;
		if (ns->n == ns->cap) {
			ncap = ns->cap ? ns->cap * 2 : 64;
			if ((nv = reallocarray(ns->v, ncap, sizeof(*nv))) ==
			    NULL)
				return XERR_NOMEM;
			ns->v = nv;
			ns->cap = ncap;
		}
		memcpy(ns->v[ns->n].sid, t.sid, sizeof(t.sid));
		memcpy(ns->v[ns->n].number, t.phone_number,
		    sizeof(t.phone_number));
		memcpy(ns->v[ns->n].name, t.friendly_name,
		    sizeof(t.friendly_name));
		ns->n++;
	}
	return XERR_OK;
}

/*
 * Reads the pages of the account's numbers into ns, sorted by sid, while
 * another page still ends before nginx gives up (page_time_for_call() of
 * app/page.h, the first page always): ns->complete says whether the last
 * page was among them.  Errors of twilio_number_page() (err filled),
 * XERR_TOOBIG past ADMIN_TWILIO_MAX numbers or ADMIN_TWILIO_PAGES pages.
 */
static enum xerr
admin_nums_read(struct req *r, struct admin_nums *ns, struct twilio_error *err)
{
	struct json_object	*page = NULL;
	const char		*nx = NULL;
	char			 next[4096];
	int64_t			 t0;
	int			 more = 1;
	enum xerr		 rc;

	memset(err, 0, sizeof(*err));
	page_clock_start(&t0);
	while (more) {
		if (ns->pages == ADMIN_TWILIO_PAGES)
			return XERR_TOOBIG;
		if (!page_time_for_call(r, t0, ns->pages))
			break;
		rc = twilio_number_page(r->http, r->cfg, ns->pages > 0 ? next :
		    NULL, &page, &nx, err);
		if (rc != XERR_OK)
			return rc;
		ns->pages++;
		more = nx != NULL;
		if ((rc = admin_nums_add(ns, page)) == XERR_OK && more &&
		    (size_t)snprintf(next, sizeof(next), "%s", nx) >=
		    sizeof(next))
			rc = XERR_TOOBIG;
		json_object_put(page);
		page = NULL;
		if (rc != XERR_OK)
			return rc;
	}
	ns->ms = page_clock_ms(t0);
	ns->complete = !more;
	if (more)
		log_info("admin %s: orphans: %zu pages of Twilio's list read "
		    "in %lld ms, not the rest", r->user_id, ns->pages,
		    (long long)ns->ms);
	if (ns->n > 1)		/* v is NULL when Twilio lists none */
		qsort(ns->v, ns->n, sizeof(ns->v[0]), admin_num_cmp);
	return XERR_OK;
}

/*
 * Describes a number named for us that no user holds: the user its name
 * gives ("xsb:<id>"; a hashed name says nothing) and that user's phone
 * state, which tells a purchase in flight (provisioning) from a leftover.
 */
static struct json_object *
admin_orphan_json(struct db *db, const struct admin_num *t)
{
	struct json_object	*o;
	struct phone_info	 info;
	const char		*uid = NULL, *ustate = NULL;
	int			 bad;

	if (strncmp(t->name, "xsb:", 4) == 0 && ids_user_ok(t->name + 4)) {
		uid = t->name + 4;
		if (phone_get(db, uid, &info, NULL, 0) == XERR_OK)
			ustate = info.status;
		else
			ustate = "no_such_user";
	}
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	bad = jsonx_add_str(o, "sid", t->sid);
	bad |= jsonx_add_str(o, "phone_number", t->number);
	bad |= jsonx_add_str(o, "friendly_name", t->name);
	bad |= jsonx_add_str(o, "user_id", uid);
	bad |= jsonx_add_str(o, "user_phone_status", ustate);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Appends v to array a; -1 (v put) on no memory. */
static int
admin_push(struct json_object *a, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_array_add(a, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/*
 * Adds the orphans report's head to o: whether Twilio's list was read to
 * its end (and why not), the pages and numbers read, what the merge
 * counted.  Returns nonzero on no memory.
 */
static int
admin_orphans_counts(struct json_object *o, const struct admin_nums *ns,
    size_t xsb, size_t other, size_t ours, size_t matched)
{
	int	 bad;

	bad = admin_add(o, "complete", json_object_new_boolean(ns->complete),
	    0);
	bad |= admin_add(o, "incomplete_reason",
	    json_object_new_string("out_of_time"), ns->complete);
	bad |= jsonx_add_int(o, "twilio_pages", (int64_t)ns->pages);
	bad |= jsonx_add_int(o, "twilio_ms", ns->ms);
	bad |= jsonx_add_int(o, "twilio_numbers", (int64_t)ns->n);
	bad |= jsonx_add_int(o, "twilio_unparsed", (int64_t)ns->unparsed);
	bad |= jsonx_add_int(o, "xsb_numbers", (int64_t)xsb);
	bad |= jsonx_add_int(o, "other_numbers", (int64_t)other);
	bad |= jsonx_add_int(o, "ours", (int64_t)ours);
	bad |= jsonx_add_int(o, "matched", (int64_t)matched);
	return bad;
}

/*
 * GET /api/admin/phone/orphans: Twilio's numbers beside ours.  200,
 * 401, 403, 500, 502, 503.  When Twilio's list did not fit in nginx's
 * time (slow, or a large account) the report is of the pages read, 200
 * with complete false: a number read that no user holds is certain, but
 * a number of ours not read may be on a later page, so
 * ours_gone_at_twilio is null rather than a list of false alarms.
 */
static void
admin_phone_orphans_run(struct req *r, struct admin_audit *au)
{
	struct admin_nums	 ns;
	struct twilio_error	 terr;
	struct json_object	*o = NULL, *bought = NULL, *gone = NULL;
	struct admin_db_held	*held = NULL;
	size_t			 i = 0, j = 0, ours = 0, matched = 0, xsb = 0;
	size_t			 other = 0;
	int			 c, bad = 0;
	enum xerr		 rc;

	memset(&ns, 0, sizeof(ns));
	if ((rc = admin_nums_read(r, &ns, &terr)) != XERR_OK) {
		apierr_reply(r, admin_twilio_list_errs, rc, terr.message);
		goto out;
	}
	if ((rc = admin_db_phones_held(r->db, &held, &ours)) != XERR_OK) {
		req_fail(r, rc, "reading the numbers held");
		goto out;
	}
	if ((o = json_object_new_object()) == NULL ||
	    (bought = json_object_new_array()) == NULL ||
	    (gone = json_object_new_array()) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	/* Both lists are in sid order: one merge finds what is on one side. */
	while (!bad && (i < ns.n || j < ours)) {
		if (i == ns.n)
			c = 1;
		else if (j == ours)
			c = -1;
		else
			c = strcmp(ns.v[i].sid, held[j].phone_sid);
		if (i < ns.n && strncmp(ns.v[i].name, "xsb", 3) == 0 && c <= 0)
			xsb++;
		if (c == 0) {
			matched++;
			i++, j++;
		} else if (c < 0) {
			if (strncmp(ns.v[i].name, "xsb", 3) == 0)
				bad = admin_push(bought,
				    admin_orphan_json(r->db, &ns.v[i]));
			else
				other++;
			i++;
		} else if (ns.complete)
			bad = admin_push(gone, admin_row_json(&held[j++],
			    &admin_held_table));
		else
			j++;	/* maybe on a page not read */
	}
	if (!ns.complete)
		snprintf(au->detail, sizeof(au->detail), "incomplete: %zu "
		    "pages, %zu numbers read in %lld ms", ns.pages, ns.n,
		    (long long)ns.ms);
	bad |= admin_orphans_counts(o, &ns, xsb, other, ours, matched);
	if (bad || json_object_object_add(o, "bought_not_ours", bought) != 0) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	bought = NULL;
	bad = admin_add(o, "ours_gone_at_twilio", gone, !ns.complete);
	gone = NULL;		/* admin_add() took it */
	if (bad) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	admin_reply_audited(r, au, o);
out:
	json_object_put(bought);
	json_object_put(gone);
	json_object_put(o);
	free(held);
	free(ns.v);
}

/* Points one number at the current URLs; returns its outcome as JSON. */
static struct json_object *
admin_repoint_one(struct req *r, const struct admin_db_held *h,
    struct phone_urls *urls, size_t *updated)
{
	struct twilio_error	 terr;
	struct json_object	*o;
	const char		*id = h->user_id;
	const char		*result;
	enum xerr		 rc;

	memset(&terr, 0, sizeof(terr));
	if ((rc = phone_urls_make(r->cfg, id, urls)))
		snprintf(terr.message, sizeof(terr.message), "%s",
		    xerr_code(rc));
	else
		rc = twilio_number_set_urls(r->http, r->cfg, h->phone_sid,
		    urls->voice, urls->sms, urls->status, &terr);
	if (rc == XERR_OK) {
		result = "updated";
		(*updated)++;
	} else if (rc == XERR_NOTFOUND)
		result = "gone";
	else
		result = "failed";
	if ((o = admin_row_json(h, &admin_repoint_table)) == NULL)
		return NULL;
	if (jsonx_add_str(o, "result", result) != 0 ||
	    (rc != XERR_OK && jsonx_add_str(o, "error", terr.message) != 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * POST /api/admin/phone/repoint?after=&limit=: one page of numbers
 * pointed at PUBLIC_BASE_URL.  200, 400, 401, 403, 500, 503.
 */
static void
admin_phone_repoint_run(struct req *r, struct admin_audit *au)
{
	struct json_object	*o = NULL, *nums = NULL;
	struct admin_db_held	*held = NULL;
	struct phone_urls	*urls = NULL;
	const char		*after;
	long long		 limit;
	struct page		 pg;
	size_t			 i, n, updated = 0;
	int64_t			 t0;
	int			 bad = 0;
	enum xerr		 rc;

	if (page_or_reply(r, &admin_repoint_page, &pg) != 0)
		return;
	after = pg.user;
	limit = pg.limit;
	if ((rc = admin_db_phones_page(r->db, after, limit, &held, &n)) !=
	    XERR_OK) {
		req_fail(r, rc, "reading the numbers held");
		return;
	}
	if ((o = json_object_new_object()) == NULL ||
	    (nums = json_object_new_array()) == NULL ||
	    json_object_object_add(o, "numbers", nums) != 0 ||
	    (urls = malloc(sizeof(*urls))) == NULL) {
		if (jsonx_get(o, "numbers") == NULL)
			json_object_put(nums);
		req_fail(r, XERR_NOMEM, "the repoint");
		goto out;
	}
	/* One Twilio call a number: the page may end early (app/page.h). */
	page_clock_start(&t0);
	for (i = 0; i < n && !bad && page_time_for_call(r, t0, i); i++)
		bad = admin_push(nums, admin_repoint_one(r, &held[i], urls,
		    &updated));
	log_info("admin %s: repointed %zu of %zu numbers at %s", r->user_id,
	    updated, i, r->cfg->public_base_url);
	snprintf(au->detail, sizeof(au->detail), "after %s: %zu of %zu "
	    "numbers updated, at %s", *after != '\0' ? after : "(start)",
	    updated, i, r->cfg->public_base_url);
	bad |= jsonx_add_str(o, "public_base_url", r->cfg->public_base_url);
	bad |= jsonx_add_int(o, "updated", (int64_t)updated);
	bad |= jsonx_add_int(o, "failed", (int64_t)(i - updated));
	bad |= jsonx_add_str(o, "next_after", i < n || n == (size_t)limit ?
	    held[i - 1].user_id : NULL);
	if (bad) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	admin_reply_audited(r, au, o);
out:
	json_object_put(o);
	free(held);
	free(urls);
}

/*
 * Reads query parameter name as a whole number of at most 18 digits into
 * *out (def when absent).  Answers 400 code and returns -1 otherwise.
 */
static int
admin_uint_or_reply(struct req *r, const char *name, const char *code,
    long long def, long long *out)
{
	const char	*s;

	*out = def;
	if (admin_query_or_reply(r, name, code, &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	if (kv_uint(s, 18, 1, 0, INT64_MAX, out) != 0) {
		req_error(r, XERR_BADREQ, code, "%s must be a whole number",
		    name);
		return -1;
	}
	return 0;
}

/*
 * GET /api/admin/audit?actor=&action=&since=&until=&before=&limit=.  200,
 * 400, 401, 403, 500, 503.
 */
static void
admin_audit_list_run(struct req *r, struct admin_audit *au)
{
	struct json_object	*o = NULL;
	struct admin_audit_query q;
	struct admin_audit_row	*rows = NULL;
	const char		*actor, *action;
	long long		 since, until, before, limit;
	struct page		 pg;
	size_t			 n = 0;
	enum xerr		 rc;

	if (admin_query_or_reply(r, "actor", "bad_actor", &actor) != 0 ||
	    admin_query_or_reply(r, "action", "bad_action", &action) != 0 ||
	    admin_uint_or_reply(r, "since", "bad_since", 0, &since) != 0 ||
	    admin_uint_or_reply(r, "until", "bad_until", INT64_MAX,
	    &until) != 0 ||
	    page_or_reply(r, &admin_audit_page, &pg) != 0)
		return;
	before = pg.id;
	limit = pg.limit;
	if (actor == NULL)
		actor = "";
	if (action == NULL)
		action = "";
	if (*actor != '\0' && !ids_user_ok(actor)) {
		req_error(r, XERR_BADREQ, "bad_actor", "actor is a token's "
		    "userId: 1 to %d of A-Z a-z 0-9 _ -", IDS_USER_MAX);
		return;
	}
	if (strlen(action) > 48 || strspn(action,
	    "abcdefghijklmnopqrstuvwxyz.-") != strlen(action)) {
		req_error(r, XERR_BADREQ, "bad_action", "action is an audit "
		    "action such as user.create or event.replay");
		return;
	}
	q.before = before;
	q.since = since;
	q.until = until;
	q.actor = actor;
	q.action = action;
	q.limit = limit;
	if ((o = json_object_new_object()) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	rc = admin_audit_read(r->db, &q, &rows, &n);
	if (rc == XERR_OK)
		rc = admin_add_list(o, "entries", rows, n, &admin_audit_table);
	if (rc != XERR_OK) {
		req_fail(r, rc, "listing the audit records");
		goto out;
	}
	if ((n == (size_t)limit ? jsonx_add_int(o, "next_before",
	    rows[n - 1].id) : jsonx_add_str(o, "next_before", NULL)) != 0) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	admin_reply_audited(r, au, o);
out:
	free(rows);
	json_object_put(o);
}

/* The handlers of admin.h: each one admin_run() of its _run function. */

void
admin_user_create(struct req *r)
{
	admin_run(r, "user.create", admin_user_create_run);
}

void
admin_user_get(struct req *r)
{
	admin_run(r, "user.read", admin_user_get_run);
}

void
admin_user_action(struct req *r)
{
	admin_run(r, "user.action", admin_user_action_run);
}

void
admin_events(struct req *r)
{
	admin_run(r, "events.list", admin_events_run);
}

void
admin_event_action(struct req *r)
{
	admin_run(r, "event.action", admin_event_action_run);
}

void
admin_jobs(struct req *r)
{
	admin_run(r, "jobs.list", admin_jobs_run);
}

void
admin_job_action(struct req *r)
{
	admin_run(r, "job.action", admin_job_action_run);
}

void
admin_subscription_action(struct req *r)
{
	admin_run(r, "subscription.action", admin_subscription_action_run);
}

void
admin_phone_orphans(struct req *r)
{
	admin_run(r, "phone.orphans", admin_phone_orphans_run);
}

/* GET /api/admin/phone/numbers: see admin.h. */
static void
admin_phone_numbers_run(struct req *r, struct admin_audit *au)
{
	struct json_object	*o;

	if (phone_api_admin_numbers(r, &o) != 0)
		return;
	admin_reply_audited(r, au, o);
	json_object_put(o);
}

void
admin_phone_numbers(struct req *r)
{
	admin_run(r, "phone.numbers", admin_phone_numbers_run);
}

void
admin_phone_repoint(struct req *r)
{
	admin_run(r, "phone.repoint", admin_phone_repoint_run);
}

void
admin_audit_list(struct req *r)
{
	admin_run(r, "audit.list", admin_audit_list_run);
}
