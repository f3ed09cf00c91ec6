#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/http.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/req.h"
#include "store/billing_history.h"
#include "store/billing_reads.h"
#include "store/users.h"
#include "remote/stripe.h"
#include "domain/money.h"
#include "domain/tiers.h"
#include "domain/usage.h"
#include "domain/usage_reads.h"
#include "app/apierr.h"
#include "app/auth.h"
#include "app/billing.h"

#define BILLING_IDEM_MAX	255	/* Stripe's longest key */
#define BILLING_FORM_MAX	8192	/* bytes of a form to Stripe */
#define BILLING_PATH_MAX	1024
#define BILLING_ID_MAX		255	/* a Stripe id in our columns */
#define BILLING_CHECKOUT_BUCKET	3600	/* seconds of one Checkout key */
#define BILLING_RETRY_AFTER	"5"	/* seconds, when Stripe may recover */

/* The caller's row and the subscription it follows. */
struct billing_user {
	char	 email[1284];		/* VARCHAR(320) of utf8mb4 */
	char	 customer[BILLING_ID_MAX + 1];	/* "" when none */
	char	 tier[33];
	char	 sub[BILLING_ID_MAX + 1];	/* "" when none is live */
	char	 item[BILLING_ID_MAX + 1];	/* "" when we lack it */
	char	 last_event[BILLING_ID_MAX + 1];
	int64_t	 period_start, period_end;	/* 0 when unknown */
	int	 cancelling;		/* cancel_at_period_end */
	long long jwt_version;		/* users.jwt_version */
};

/* One row of the tiers table. */
struct billing_tier {
	char	 name[33];
	int	 rank;			/* the table's; -1 when not loaded */
	int64_t	 price_cents;		/* -1: custom pricing */
	int64_t	 voice_included;	/* minutes, or MONEY_UNLIMITED */
	int64_t	 sms_included;		/* or MONEY_UNLIMITED */
};

/* See billing.h: whole percent used, -1 when unlimited. */
int64_t
billing_percent(int64_t used, int64_t included)
{
	int64_t	 p;

	if (included < 0)
		return -1;
	if (used < 0)
		used = 0;
	if (included == 0)
		return used > 0 ? 100 : 0;
	if (__builtin_mul_overflow(used, 100, &p))
		return INT64_MAX;
	return p / included;
}

/* See billing.h: a history limit, 1..BILLING_LIMIT_MAX, default 20. */
enum xerr
billing_parse_limit(const char *s, int *out)
{
	long long	 v;

	if (s == NULL) {
		*out = BILLING_LIMIT_DEFAULT;
		return XERR_OK;
	}
	/* Up to three digits, leading zeros allowed, as it always read. */
	if (kv_uint(s, 3, 1, 1, BILLING_LIMIT_MAX, &v) != 0)
		return XERR_BADREQ;
	*out = (int)v;
	return XERR_OK;
}

/*
 * Parses len decimal digits at s, with no sign and no leading zero, into
 * *out.  Returns 0, or -1 for anything else or a value over INT64_MAX.
 */
static int
billing_i64(const char *s, size_t len, int64_t *out)
{
	int64_t	 v = 0;
	size_t	 i;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, s[i] - '0', &v))
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * Returns 1 when c is a cursor we could have written: positions not
 * negative, something left in one list at least, and an invoice id exactly
 * when there is an invoice position.
 */
static int
billing_cursor_ok(const struct billing_cursor *c)
{
	return c->event_before >= 0 && c->invoice_created >= 0 &&
	    (c->event_before > 0 || c->invoice_created > 0) &&
	    (c->invoice_created == 0) == (c->invoice_id[0] == '\0') &&
	    (c->invoice_id[0] == '\0' ||
	    ids_ext_ok(c->invoice_id, BILLING_INVOICE_ID_MAX));
}

/* Writes c as base64url of "1.<events>.<created>.<invoice id>". */
enum xerr
billing_cursor_encode(const struct billing_cursor *c, char *out,
    size_t outsz)
{
	char		 text[BILLING_INVOICE_ID_MAX + 64];
	char		*b64 = NULL;
	size_t		 len;
	int		 n;
	enum xerr	 rc;

	if (outsz > 0)
		out[0] = '\0';
	if (!billing_cursor_ok(c))
		return XERR_BADREQ;
	n = snprintf(text, sizeof(text), "1.%lld.%lld.%s",
	    (long long)c->event_before, (long long)c->invoice_created,
	    c->invoice_id);
	if (n < 0 || (size_t)n >= sizeof(text))
		return XERR_TOOBIG;
	if ((rc = crypto_b64_encode(text, (size_t)n, 1, &b64)) != XERR_OK)
		return rc;
	if ((len = strlen(b64)) >= outsz || len > BILLING_CURSOR_MAX) {
		free(b64);
		return XERR_TOOBIG;
	}
	memcpy(out, b64, len + 1);
	free(b64);
	return XERR_OK;
}

/* Reads a cursor of billing_cursor_encode(); anything else is 400. */
enum xerr
billing_cursor_decode(const char *s, struct billing_cursor *out)
{
	struct billing_cursor	 c;
	unsigned char		*bin = NULL;
	const char		*p, *dot;
	size_t			 len, n;
	enum xerr		 rc = XERR_BADREQ;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (s == NULL || (len = strlen(s)) == 0 || len > BILLING_CURSOR_MAX)
		return XERR_BADREQ;
	if ((rc = crypto_b64_decode(s, len, 1, &bin, &n)) != XERR_OK)
		return rc;
	rc = XERR_BADREQ;
	p = (const char *)bin;
	if (strlen(p) != n || strncmp(p, "1.", 2) != 0)
		goto fail;
	p += 2;
	if ((dot = strchr(p, '.')) == NULL ||
	    billing_i64(p, (size_t)(dot - p), &c.event_before) != 0)
		goto fail;
	p = dot + 1;
	if ((dot = strchr(p, '.')) == NULL ||
	    billing_i64(p, (size_t)(dot - p), &c.invoice_created) != 0)
		goto fail;
	p = dot + 1;
	if (strlen(p) > BILLING_INVOICE_ID_MAX)
		goto fail;
	memcpy(c.invoice_id, p, strlen(p) + 1);
	if (!billing_cursor_ok(&c))
		goto fail;
	*out = c;
	rc = XERR_OK;
fail:
	free(bin);
	return rc;
}

/* Copies src into dst; returns -1 when it does not fit. */
static int
billing_cell(char *dst, size_t sz, const char *src)
{
	int	 n;

	n = snprintf(dst, sz, "%s", src);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

/*
 * Reads into *u the caller's row and the subscription it follows from
 * the row read (store/billing_reads.h).  The subscription counts only
 * while live: our row of it exists, is not deleted, and is neither
 * canceled nor expired unpaid.  XERR_INTERNAL for a value too long for
 * *u.
 */
static enum xerr
billing_user_parse(const struct billing_reads_user *row,
    struct billing_user *u)
{
	memset(u, 0, sizeof(*u));
	if (billing_cell(u->email, sizeof(u->email), row->email) ||
	    billing_cell(u->customer, sizeof(u->customer), row->customer) ||
	    billing_cell(u->tier, sizeof(u->tier), row->tier))
		return XERR_INTERNAL;
	if (usage_row_live(row)) {
		if (billing_cell(u->sub, sizeof(u->sub),
		    row->subscription_id) ||
		    billing_cell(u->item, sizeof(u->item), row->item_id) ||
		    billing_cell(u->last_event, sizeof(u->last_event),
		    row->last_event_id))
			return XERR_INTERNAL;
		u->period_start = row->period_start;
		u->period_end = row->period_end;
		u->cancelling = row->cancel_at_period_end;
	}
	u->jwt_version = row->jwt_version;
	return XERR_OK;
}

/*
 * Loads the caller into *u (billing_user_parse()).  XERR_NOTFOUND for an
 * unknown user; db errors too.
 */
static enum xerr
billing_user_load(struct db *db, const char *user_id, struct billing_user *u)
{
	struct billing_reads_user row;
	enum xerr	 rc;

	memset(u, 0, sizeof(*u));
	if ((rc = billing_reads_user(db, user_id, &row)) != XERR_OK)
		return rc;
	return billing_user_parse(&row, u);
}

/*
 * What a body req_json() refuses means to the Billing API's clients
 * (app/apierr.h): the user endpoints' and POST /api/usage's (whose
 * refusals are "bad_json", as docs/API.md says).
 */
static const struct apierr billing_body_errs[] = {
	{ XERR_MEDIATYPE, 0, NULL, "send the body as application/json", NULL },
	{ XERR_OK, 0, NULL, NULL, NULL },
};
static const struct apierr billing_usage_body_errs[] = {
	{ XERR_MEDIATYPE, 0, NULL, "send application/json", NULL },
	{ APIERR_ANY, 0, "bad_json", NULL, NULL },
	{ XERR_OK, 0, NULL, NULL, NULL },
};

/* Loads the caller into *u; returns 0, or -1 after answering (401, 5xx). */
static int
billing_user_or_reply(struct req *r, struct billing_user *u)
{
	enum xerr	 rc;

	if ((rc = billing_user_load(r->db, r->user_id, u)) == XERR_OK)
		return 0;
	if (rc == XERR_NOTFOUND)
		req_error(r, XERR_UNAUTH, "invalid_token", "unknown user");
	else
		req_fail(r, rc, "loading the account");
	return -1;
}

/*
 * Answers as billing_auth_or_reply() would for the outcome rc of loading
 * the caller into *u, the token's jwtVersion being want.  Returns 0, or
 * -1 after answering (401, 429, 503, 500).
 */
static int
billing_version_or_reply(struct req *r, enum xerr rc,
    const struct billing_user *u, long long want)
{
	if (rc == XERR_NOTFOUND)
		return auth_version_or_reply(r, -1, want);
	if (rc == XERR_DB_GONE || rc == XERR_DB)
		return auth_db_or_reply(r, rc);
	if (rc != XERR_OK) {
		req_fail(r, rc, "loading the account");
		return -1;
	}
	return auth_user_version_or_reply(r, u->jwt_version, want);
}

/*
 * Authenticates r (AUTH_USER) and loads the caller into *u with one read:
 * the token's jwtVersion is checked against the row.  Returns 0, or -1
 * after answering as auth_require_or_reply() and billing_user_or_reply()
 * would (401, 429, 503, 500).
 */
static int
billing_auth_or_reply(struct req *r, struct billing_user *u)
{
	long long	 want;

	if (auth_user_token_or_reply(r, &want) != 0)
		return -1;
	return billing_version_or_reply(r, billing_user_load(r->db,
	    r->user_id, u), u, want);
}

/* Loads tier name into *t. XERR_NOTFOUND for a tier not in the table. */
static enum xerr
billing_tier_load(struct db *db, const char *name, struct billing_tier *t)
{
	struct tiers_row row;
	enum xerr	 rc;

	memset(t, 0, sizeof(*t));
	t->rank = -1;
	if (name == NULL || snprintf(t->name, sizeof(t->name), "%s", name) >=
	    (int)sizeof(t->name))
		return XERR_NOTFOUND;
	if ((rc = tiers_load(db, name, &row)) != XERR_OK)
		return rc;
	t->rank = row.rank;
	t->price_cents = row.price_cents;
	t->voice_included = row.voice_included;
	t->sms_included = row.sms_included;
	return XERR_OK;
}

/*
 * Sets *rank to the rank of u's tier (the tiers table's; -1 for a name
 * that is not a tier).  Returns 0, or -1 after answering 5xx.
 */
static int
billing_rank_or_reply(struct req *r, const struct billing_user *u,
    int *rank)
{
	enum xerr	 rc;

	if ((rc = tiers_rank(r->db, u->tier, rank)) != XERR_OK) {
		req_fail(r, rc, "reading the tiers");
		return -1;
	}
	return 0;
}

/*
 * Loads the tier named name, a target tier, into *t.  Returns 0, or -1
 * after answering 400 unknown_tier, custom_pricing (a tier priced by
 * contract, such as ai_cto, which no endpoint sells), or 5xx.
 */
static int
billing_tier_or_reply(struct req *r, const char *name, struct billing_tier *t)
{
	enum xerr	 rc;

	if ((rc = billing_tier_load(r->db, name, t)) == XERR_NOTFOUND) {
		req_error(r, XERR_BADREQ, "unknown_tier", "target_tier must be "
		    "ai_buddy, ai_secretary, ai_project_manager or ai_cto");
		return -1;
	}
	if (rc != XERR_OK) {
		req_fail(r, rc, "loading the tier");
		return -1;
	}
	if (t->price_cents < 0) {
		req_error(r, XERR_BADREQ, "custom_pricing", "%s is priced by "
		    "contract; contact sales to change to it", t->name);
		return -1;
	}
	return 0;
}

/*
 * Reads {"target_tier": "..."} from the body into *t.  Returns 0, or -1
 * after answering 415 (not application/json), 400 bad_request (malformed
 * JSON), missing_target_tier, unknown_tier, custom_pricing (a tier priced
 * by contract, such as ai_cto, which no endpoint sells), or 5xx.
 */
static int
billing_target_or_reply(struct req *r, struct billing_tier *t)
{
	struct json_object	*root = NULL;
	const char		*name;
	enum xerr		 rc;
	int			 ret = -1;

	if ((rc = req_json(r, &root)) != XERR_OK) {
		apierr_reply(r, billing_body_errs, rc,
		    "the body is not valid JSON");
		return -1;
	}
	if ((name = jsonx_str(root, "target_tier")) == NULL) {
		req_error(r, XERR_BADREQ, "missing_target_tier",
		    "target_tier (a string) is required");
		goto out;
	}
	ret = billing_tier_or_reply(r, name, t);
out:
	json_object_put(root);
	return ret;
}

static void
billing_idem(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Writes an Idempotency-Key (at most BILLING_IDEM_MAX characters and a NUL)
 * to out.  A key over Stripe's limit is replaced by "h:" and a digest of
 * it, which stays as unique.
 */
static void
billing_idem(char *out, const char *fmt, ...)
{
	char		 full[1024];
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(full, sizeof(full), fmt, ap);
	va_end(ap);
	if (n >= 0 && n <= BILLING_IDEM_MAX) {
		memcpy(out, full, (size_t)n + 1);
		return;
	}
	crypto_hmac_sha256("xsb-idem", 8, full, strlen(full), mac);
	memcpy(out, "h:", 2);
	crypto_hex(mac, sizeof(mac), out + 2, BILLING_IDEM_MAX - 1);
}

/*
 * What a failure of a call to Stripe means to the Billing API's clients
 * (app/apierr.h), by what billing_stripe_kind() makes of it:
 * XERR_NOTFOUND Stripe has nothing (its code is the caller's code404);
 * XERR_CONFLICT a call under the same key still runs; XERR_UNAVAILABLE
 * Stripe rate-limits us and XERR_UPSTREAM it did not answer or failed,
 * both worth a retry (Retry-After); XERR_UNPROCESSABLE Stripe could not
 * take the payment; XERR_BADREQ Stripe refused the request for good.
 * The detail (what, and what Stripe said) fills the "%s".
 */
static const struct apierr billing_stripe_errs[] = {
	{ XERR_NOTFOUND, 404, NULL, "Stripe has nothing to %s", NULL },
	{ XERR_CONFLICT, 409, "request_in_progress", "the same request is "
	    "still being processed; try again shortly", NULL },
	{ XERR_UNAVAILABLE, 503, "stripe_busy", "could not %s: Stripe is "
	    "limiting our requests; try again later",
	    "Retry-After: " BILLING_RETRY_AFTER "\r\n" },
	{ XERR_UPSTREAM, 502, "stripe_error", "could not %s; try again later",
	    "Retry-After: " BILLING_RETRY_AFTER "\r\n" },
	{ XERR_UNPROCESSABLE, 402, "payment_failed", "could not %s", NULL },
	{ XERR_BADREQ, 502, "stripe_refused", "could not %s", NULL },
	{ XERR_OK, 0, NULL, NULL, NULL },
};

/*
 * Returns the row of billing_stripe_errs[] of the failure rc of a call to
 * Stripe about what (its reply rep), and writes its detail to buf;
 * XERR_OK when it is none of Stripe's answers (a failure of ours).
 * code404 not NULL: Stripe's 404 (or its invoice_upcoming_none) is
 * XERR_NOTFOUND.  Stripe's message is logged by stripe_call(), never
 * shown: it may quote our key.
 */
static enum xerr
billing_stripe_kind(enum xerr rc, const struct stripe_reply *rep,
    const char *what, const char *code404, char *buf, size_t sz)
{
	const char	*code = rep->code[0] != '\0' ? rep->code : "none";

	snprintf(buf, sz, "%s", what);
	if (code404 != NULL && (rc == XERR_NOTFOUND ||
	    strcmp(rep->code, "invoice_upcoming_none") == 0))
		return XERR_NOTFOUND;
	if (rc == XERR_UPSTREAM && rep->status == 409)
		return XERR_CONFLICT;
	if (rc == XERR_UPSTREAM && rep->status == 429)
		return XERR_UNAVAILABLE;
	if (rc == XERR_UPSTREAM && rep->status == 0)
		snprintf(buf, sz, "%s: Stripe did not answer", what);
	else if (rc == XERR_UPSTREAM)
		snprintf(buf, sz, "%s: Stripe answered HTTP %ld", what,
		    rep->status);
	if (rc == XERR_UPSTREAM)
		return XERR_UPSTREAM;
	if (rep->status == 402) {
		snprintf(buf, sz, "%s: Stripe could not take the payment (code "
		    "%s%s%s)", what, code, rep->decline_code[0] ?
		    ", decline code " : "", rep->decline_code);
		return XERR_UNPROCESSABLE;
	}
	if (rc == XERR_UNPROCESSABLE && rep->status >= 500) {
		snprintf(buf, sz, "%s: Stripe failed while running the request "
		    "(HTTP %ld) and answers the same to a retry; what it did "
		    "shows once its webhook arrives", what, rep->status);
		return XERR_BADREQ;
	}
	if (rc == XERR_UNPROCESSABLE || rc == XERR_NOTFOUND) {
		snprintf(buf, sz, "%s: Stripe refused the request (HTTP %ld, "
		    "code %s); retrying will not help", what, rep->status, code);
		return XERR_BADREQ;
	}
	return XERR_OK;
}

/*
 * Answers the failure rc of a call to Stripe about what (a few words) by
 * billing_stripe_errs[]: 404 code404, 409 request_in_progress, 503
 * stripe_busy, 502 stripe_error, 402 payment_failed, 502 stripe_refused;
 * a failure of ours as req_fail() does.
 */
static void
billing_stripe_fail(struct req *r, enum xerr rc,
    const struct stripe_reply *rep, const char *what, const char *code404)
{
	struct apierr	 e;
	char		 detail[512], msg[768];
	enum xerr	 kind;

	kind = billing_stripe_kind(rc, rep, what, code404, detail,
	    sizeof(detail));
	if (kind == XERR_OK) {
		req_fail(r, rc, what);
		return;
	}
	apierr_find(billing_stripe_errs, kind, &e);
	if (kind == XERR_NOTFOUND)
		e.code = code404;
	apierr_message(&e, detail, msg, sizeof(msg));
	req_error_status(r, e.status, e.extra, e.code, "%s", msg);
}

/*
 * Calls Stripe.  On success returns 0 with *out set (caller puts it).
 * Otherwise answers as billing_stripe_fail() does and returns -1.
 */
static int
billing_stripe_or_reply(struct req *r, const char *method, const char *path,
    const struct buf *form, const char *idem, const char *what,
    const char *code404, struct json_object **out)
{
	struct stripe_reply	 rep;
	enum xerr		 rc;

	rc = stripe_call(r->http, r->cfg, method, path, form, idem, out,
	    &rep);
	if (rc == XERR_OK)
		return 0;
	billing_stripe_fail(r, rc, &rep, what, code404);
	return -1;
}

/* Writes "/v1/subscriptions/<id>" to path. */
static enum xerr
billing_sub_path(const char *sub, struct buf *path)
{
	enum xerr	 rc;

	if ((rc = buf_puts(path, "/v1/subscriptions/")) != XERR_OK)
		return rc;
	return http_path_escape(sub, path);
}

/*
 * Makes sure u->item names the subscription's item: ours, or, when the
 * webhook we stored did not carry it, the one Stripe has.  Returns 0, or
 * -1 after answering (502, 5xx).
 */
static int
billing_item_or_reply(struct req *r, struct billing_user *u)
{
	struct json_object	*sub = NULL;
	struct buf		*path = NULL;
	const char		*item;
	enum xerr		 rc;
	int			 ret = -1;

	if (u->item[0] != '\0')
		return 0;
	if ((path = buf_new(BILLING_PATH_MAX)) == NULL ||
	    (rc = billing_sub_path(u->sub, path)) != XERR_OK) {
		req_fail(r, path == NULL ? XERR_NOMEM : rc,
		    "building the request");
		goto out;
	}
	if (billing_stripe_or_reply(r, "GET", buf_data(path), NULL, NULL,
	    "read the subscription", NULL, &sub) != 0)
		goto out;
	item = jsonx_str(jsonx_idx(sub, "items.data", 0), "id");
	if (!ids_ext_ok(item, BILLING_ID_MAX)) {
		req_error(r, XERR_UPSTREAM, "stripe_error",
		    "the subscription at Stripe has no item");
		goto out;
	}
	memcpy(u->item, item, strlen(item) + 1);
	ret = 0;
out:
	json_object_put(sub);
	buf_free(path);
	return ret;
}

/* Adds key: value, or key: null when have is 0. Returns 0 or -1. */
static int
billing_add_opt(struct json_object *o, const char *key, int have, int64_t v)
{
	if (!have)
		return jsonx_add_str(o, key, NULL);
	return jsonx_add_int(o, key, v);
}

/* Adds key: true or false. Returns 0 or -1. */
static int
billing_add_bool(struct json_object *o, const char *key, int v)
{
	struct json_object	*b;

	if ((b = json_object_new_boolean(v)) == NULL)
		return -1;
	if (json_object_object_add(o, key, b) != 0) {
		json_object_put(b);
		return -1;
	}
	return 0;
}

/* Adds key: a new object or array to o; returns it (borrowed) or NULL. */
static struct json_object *
billing_add_new(struct json_object *o, const char *key, int array)
{
	struct json_object	*n;

	n = array ? json_object_new_array() : json_object_new_object();
	if (n == NULL)
		return NULL;
	if (json_object_object_add(o, key, n) != 0) {
		json_object_put(n);
		return NULL;
	}
	return n;
}

/* Adds key: the integer at path of src, or null. Returns 0 or -1. */
static int
billing_add_from(struct json_object *o, const char *key,
    struct json_object *src, const char *path)
{
	int64_t	 v = 0;
	int	 have = jsonx_int(src, path, &v) == 0;

	return billing_add_opt(o, key, have, v);
}

/* Adds {"voice_minutes": n, "sms": n} of t under key. Returns 0 or -1. */
static int
billing_add_limits(struct json_object *o, const char *key,
    const struct billing_tier *t)
{
	struct json_object	*l;

	if ((l = billing_add_new(o, key, 0)) == NULL)
		return -1;
	return jsonx_add_int(l, "voice_minutes", t->voice_included) |
	    jsonx_add_int(l, "sms", t->sms_included);
}

/*
 * Asks Stripe to change u's subscription with form under idem and answers
 * 200 {"action": action, "subscription": {...}} with the subscription as
 * Stripe returned it, or the failure (409, 502, 5xx).  Our rows follow
 * when Stripe's webhook arrives.
 */
static void
billing_sub_change(struct req *r, const struct billing_user *u,
    const struct buf *form, const char *idem, const char *action)
{
	struct json_object	*sub = NULL, *o = NULL, *s, *item;
	struct buf		*path = NULL;
	int64_t			 end;
	int			 bad;
	enum xerr		 rc;

	if ((path = buf_new(BILLING_PATH_MAX)) == NULL ||
	    (rc = billing_sub_path(u->sub, path)) != XERR_OK) {
		req_fail(r, path == NULL ? XERR_NOMEM : rc,
		    "building the request");
		goto out;
	}
	if (billing_stripe_or_reply(r, "POST", buf_data(path), form, idem,
	    "change the subscription", NULL, &sub) != 0)
		goto out;
	log_info("user %s: %s on %s (key %s)", r->user_id, action, u->sub,
	    idem);
	item = jsonx_idx(sub, "items.data", 0);
	/* Today on the item (2025-03-31.basil on); before, on the subscription. */
	if (jsonx_int(item, "current_period_end", &end) != 0 &&
	    jsonx_int(sub, "current_period_end", &end) != 0)
		end = 0;
	if ((o = json_object_new_object()) == NULL ||
	    (s = billing_add_new(o, "subscription", 0)) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	bad = jsonx_add_str(o, "action", action);
	bad |= jsonx_add_str(s, "id", jsonx_str(sub, "id"));
	bad |= jsonx_add_str(s, "status", jsonx_str(sub, "status"));
	bad |= jsonx_add_str(s, "tier", tiers_by_price(r->cfg,
	    jsonx_id(item, "price")));
	bad |= billing_add_bool(s, "cancel_at_period_end",
	    jsonx_bool(sub, "cancel_at_period_end", 0));
	bad |= billing_add_opt(s, "current_period_end", end != 0, end);
	if (bad) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, 200, o);
out:
	json_object_put(o);
	json_object_put(sub);
	buf_free(path);
}

/*
 * Makes sure u has a Stripe customer: creates one under the key
 * "customer:<user>", so a retried or concurrent call gets the same
 * customer, and records it unless one was recorded meanwhile (then that
 * one is used).  Returns 0 with u->customer set, or -1 after answering.
 */
static int
billing_customer_or_reply(struct req *r, struct billing_user *u)
{
	struct json_object	*cus = NULL;
	struct buf		*form = NULL;
	char			 idem[BILLING_IDEM_MAX + 1];
	const char		*id;
	enum xerr		 rc;
	int			 ret = -1;
	uint64_t		 changed = 0;

	if (u->customer[0] != '\0')
		return 0;
	if ((form = buf_new(BILLING_FORM_MAX)) == NULL) {
		req_fail(r, XERR_NOMEM, "building the request");
		goto out;
	}
	if ((rc = http_form_add(form, "email", u->email)) ||
	    (rc = http_form_add(form, "metadata[user_id]", r->user_id))) {
		req_fail(r, rc, "building the request");
		goto out;
	}
	billing_idem(idem, "customer:%s", r->user_id);
	if (billing_stripe_or_reply(r, "POST", "/v1/customers", form, idem,
	    "create the customer", NULL, &cus) != 0)
		goto out;
	id = jsonx_str(cus, "id");
	if (!ids_ext_ok(id, BILLING_ID_MAX)) {
		req_error(r, XERR_UPSTREAM, "stripe_error",
		    "Stripe answered a customer without an id");
		goto out;
	}
	if ((rc = users_set_customer(r->db, r->user_id, id, &changed)) !=
	    XERR_OK) {
		req_fail(r, rc, "recording the customer");
		goto out;
	}
	if (changed == 1) {
		memcpy(u->customer, id, strlen(id) + 1);
		log_info("user %s: Stripe customer %s", r->user_id, id);
	} else {
		if ((rc = billing_user_load(r->db, r->user_id, u)) != XERR_OK ||
		    u->customer[0] == '\0') {
			req_fail(r, rc, "recording the customer");
			goto out;
		}
		log_info("user %s: customer %s recorded meanwhile; %s unused",
		    r->user_id, u->customer, id);
	}
	ret = 0;
out:
	json_object_put(cus);
	buf_free(form);
	return ret;
}

/*
 * Opens a Stripe Checkout session for u to subscribe to t at price, and
 * answers 200 {"action":"checkout","checkout_url","session_id"}.  The key
 * holds the tier and the hour, so a double-click gets the same session and
 * a later attempt a fresh one.
 */
static void
billing_checkout(struct req *r, struct billing_user *u,
    const struct billing_tier *t, const char *price)
{
	struct json_object	*cs = NULL, *o = NULL;
	struct buf		*form = NULL;
	char			 idem[BILLING_IDEM_MAX + 1];
	const char		*url, *id;
	enum xerr		 rc;

	if (billing_customer_or_reply(r, u) != 0)
		return;
	if ((form = buf_new(BILLING_FORM_MAX)) == NULL) {
		req_fail(r, XERR_NOMEM, "building the request");
		goto out;
	}
	if ((rc = http_form_add(form, "mode", "subscription")) ||
	    (rc = http_form_add(form, "customer", u->customer)) ||
	    (rc = http_form_add(form, "client_reference_id", r->user_id)) ||
	    (rc = http_form_add(form, "line_items[0][price]", price)) ||
	    (rc = http_form_add(form, "line_items[0][quantity]", "1")) ||
	    (rc = http_form_add(form, "success_url",
	    r->cfg->checkout_success_url)) ||
	    (rc = http_form_add(form, "cancel_url",
	    r->cfg->checkout_cancel_url)) ||
	    (rc = http_form_add(form, "metadata[user_id]", r->user_id)) ||
	    (rc = http_form_add(form, "subscription_data[metadata][user_id]",
	    r->user_id))) {
		req_fail(r, rc, "building the request");
		goto out;
	}
	billing_idem(idem, "%s:checkout:%s:%lld", r->user_id, t->name,
	    (long long)(time(NULL) / BILLING_CHECKOUT_BUCKET));
	if (billing_stripe_or_reply(r, "POST", "/v1/checkout/sessions", form,
	    idem, "open a checkout session", NULL, &cs) != 0)
		goto out;
	url = jsonx_str(cs, "url");
	id = jsonx_str(cs, "id");
	if (url == NULL || id == NULL) {
		req_error(r, XERR_UPSTREAM, "stripe_error",
		    "Stripe answered a checkout session without url or id");
		goto out;
	}
	log_info("user %s: checkout %s for %s", r->user_id, id, t->name);
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_str(o, "action", "checkout") ||
	    jsonx_add_str(o, "checkout_url", url) ||
	    jsonx_add_str(o, "session_id", id)) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, 200, o);
out:
	json_object_put(o);
	json_object_put(cs);
	buf_free(form);
}

enum xerr
billing_start(const struct cfg *cfg, unsigned long *threads)
{
	enum xerr	 rc;

	if ((rc = usage_reads_start(cfg)) != XERR_OK)
		return rc;
	*threads = cfg->fcgi_threads;
	log_info("%lu request threads, usage read in batches of up to %lu",
	    cfg->fcgi_threads, cfg->billing_read_batch_max);
	return XERR_OK;
}

/*
 * Returns in *start and *end the period holding now for u (the one period
 * model, usage_period_pick(): u->sub is set only for a live
 * subscription); 1 when it is the subscription's.
 */
static int
billing_period(const struct billing_user *u, int64_t now, int64_t *start,
    int64_t *end)
{
	return usage_period_pick(u->sub[0] != '\0', u->period_start,
	    u->period_end, now, start, end);
}

/*
 * GET /api/billing/usage: tier, period, usage, limits, overage and the
 * percent of each allowance used.  Answers 200, 401, 500, 503.
 */
void
billing_usage(struct req *r)
{
	struct billing_user	 u;
	struct usage_reads_out	 in;
	struct usage_report	 rep;
	struct json_object	*o = NULL, *p, *use, *lim, *ov, *pct;
	int64_t			 vp, sp;
	long long		 want;
	int			 bad;
	enum xerr		 rc, urc;

	/*
	 * The account with the token's version, then the sums over the
	 * period the one period model picks from it (in C: the rule has no
	 * second home in SQL): domain/usage_reads.h, which reads them for
	 * several requests at once.
	 */
	if (auth_user_token_or_reply(r, &want) != 0)
		return;
	rc = usage_reads_get(r->db, r->user_id, &in);
	if ((urc = in.user_rc) == XERR_OK)
		urc = billing_user_parse(&in.user, &u);
	if (billing_version_or_reply(r, urc, &u, want) != 0)
		goto out;
	if (rc != XERR_OK) {
		req_fail(r, rc, "the usage report");
		goto out;
	}
	if ((rc = usage_report_of(r->db, r->user_id, u.tier,
	    in.rated ? u.sub : NULL, in.start, in.end, &in.sums, in.hist,
	    in.nhist, &rep)) != XERR_OK) {
		req_fail(r, rc, "the usage report");
		goto out;
	}
	vp = billing_percent(rep.use.voice_minutes, rep.use.voice_included);
	sp = billing_percent(rep.use.sms, rep.use.sms_included);
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_str(o, "tier", rep.tier) != 0 ||
	    (p = billing_add_new(o, "period", 0)) == NULL ||
	    (use = billing_add_new(o, "usage", 0)) == NULL ||
	    (lim = billing_add_new(o, "limits", 0)) == NULL ||
	    (ov = billing_add_new(o, "overage", 0)) == NULL ||
	    (pct = billing_add_new(o, "percent_used", 0)) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	bad = jsonx_add_int(p, "start", rep.start);
	bad |= jsonx_add_int(p, "end", rep.end);
	bad |= jsonx_add_int(use, "voice_seconds", rep.voice_seconds);
	bad |= jsonx_add_int(use, "voice_minutes", rep.use.voice_minutes);
	bad |= jsonx_add_int(use, "calls", rep.calls);
	bad |= jsonx_add_int(use, "sms", rep.use.sms);
	bad |= jsonx_add_int(lim, "voice_minutes", rep.use.voice_included);
	bad |= jsonx_add_int(lim, "sms", rep.use.sms_included);
	bad |= jsonx_add_int(ov, "voice_minutes", rep.bill.voice_units);
	bad |= jsonx_add_int(ov, "voice_cents", rep.bill.voice_cents);
	bad |= jsonx_add_int(ov, "sms", rep.bill.sms_units);
	bad |= jsonx_add_int(ov, "sms_cents", rep.bill.sms_cents);
	bad |= jsonx_add_int(ov, "phone_fee_cents", rep.bill.phone_cents);
	bad |= jsonx_add_int(ov, "total_cents", rep.bill.total_cents);
	bad |= billing_add_opt(pct, "voice", vp >= 0, vp);
	bad |= billing_add_opt(pct, "sms", sp >= 0, sp);
	if (bad) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, 200, o);
out:
	usage_reads_out_free(&in);
	json_object_put(o);
}

/* Adds key: s, or key: null when bit is in nulls. Returns 0 or -1. */
static int
billing_add_text(struct json_object *o, const char *key, const char *s,
    unsigned int nulls, unsigned int bit)
{
	return jsonx_add_str(o, key, (nulls & bit) ? NULL : s);
}

/* Adds key: v, or key: null when bit is in nulls. Returns 0 or -1. */
static int
billing_add_nint(struct json_object *o, const char *key, int64_t v,
    unsigned int nulls, unsigned int bit)
{
	return billing_add_opt(o, key, !(nulls & bit), v);
}

/* Returns the invoice v as JSON, or NULL on no memory. */
static struct json_object *
billing_invoice_json(const struct billing_history_invoice *v)
{
	struct json_object	*o;
	unsigned int		 n = v->nulls;
	int			 bad;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	bad = jsonx_add_str(o, "id", v->id);
	bad |= billing_add_text(o, "number", v->number, n,
	    BILLING_HISTORY_NULL_NUMBER);
	bad |= jsonx_add_str(o, "status", v->status);
	bad |= billing_add_text(o, "billing_reason", v->billing_reason, n,
	    BILLING_HISTORY_NULL_REASON);
	bad |= jsonx_add_str(o, "currency", v->currency);
	bad |= jsonx_add_int(o, "amount_due", v->amount_due);
	bad |= jsonx_add_int(o, "amount_paid", v->amount_paid);
	bad |= billing_add_nint(o, "period_start", v->period_start, n,
	    BILLING_HISTORY_NULL_PERIOD_START);
	bad |= billing_add_nint(o, "period_end", v->period_end, n,
	    BILLING_HISTORY_NULL_PERIOD_END);
	bad |= jsonx_add_int(o, "attempt_count", v->attempt_count);
	bad |= billing_add_nint(o, "next_payment_attempt",
	    v->next_payment_attempt, n, BILLING_HISTORY_NULL_NEXT_ATTEMPT);
	bad |= billing_add_text(o, "hosted_invoice_url", v->hosted_invoice_url,
	    n, BILLING_HISTORY_NULL_URL);
	bad |= jsonx_add_int(o, "created", v->created);
	bad |= billing_add_text(o, "subscription_id", v->subscription_id, n,
	    BILLING_HISTORY_NULL_SUBSCRIPTION);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Returns the billing event e as JSON, or NULL. */
static struct json_object *
billing_event_json(const struct billing_history_event *e)
{
	struct json_object	*o;
	int			 bad;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	bad = jsonx_add_int(o, "id", e->id);
	bad |= jsonx_add_str(o, "stripe_event_id", e->event_id);
	bad |= jsonx_add_str(o, "kind", e->kind);
	bad |= billing_add_nint(o, "amount_cents", e->amount_cents, e->nulls,
	    BILLING_HISTORY_NULL_AMOUNT);
	bad |= billing_add_text(o, "detail", e->detail, e->nulls,
	    BILLING_HISTORY_NULL_DETAIL);
	bad |= jsonx_add_int(o, "created", e->created);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Appends e, made by its maker, to the array arr. Returns 0 or -1. */
static int
billing_append(struct json_object *arr, struct json_object *e)
{
	if (e == NULL)
		return -1;
	if (json_object_array_add(arr, e) != 0) {
		json_object_put(e);
		return -1;
	}
	return 0;
}

/*
 * Reads GET /api/billing/history's limit and cursor into *limit and *cur
 * (no cursor: from the newest of both lists).  Returns 0, or -1 after
 * answering 400 bad_limit or bad_cursor.
 */
static int
billing_history_args_or_reply(struct req *r, int *limit,
    struct billing_cursor *cur)
{
	const char	*cs;

	if (kv_count_name(r->query, "limit") > 1 ||
	    billing_parse_limit(kv_get(r->query, "limit"), limit) != XERR_OK) {
		req_error(r, XERR_BADREQ, "bad_limit",
		    "limit must be a whole number from 1 to %d",
		    BILLING_LIMIT_MAX);
		return -1;
	}
	cs = kv_get(r->query, "cursor");
	if (cs == NULL) {
		memset(cur, 0, sizeof(*cur));
		cur->event_before = INT64_MAX;
		cur->invoice_created = INT64_MAX;
	} else if (kv_count_name(r->query, "cursor") > 1 ||
	    billing_cursor_decode(cs, cur) != XERR_OK) {
		req_error(r, XERR_BADREQ, "bad_cursor", "cursor must be a "
		    "next_cursor from an earlier page");
		return -1;
	}
	return 0;
}

/*
 * Writes to enc (BILLING_CURSOR_MAX + 1 bytes) the next_cursor of the
 * pages h read with one row beyond limit: where each list that goes on
 * continues; "" when neither does.  Returns 0, or -1 after answering 500.
 */
static int
billing_history_next_or_reply(struct req *r, const struct billing_history *h,
    size_t limit, char *enc, size_t encsz)
{
	struct billing_cursor			 next;
	const struct billing_history_invoice	*v;
	enum xerr				 rc;

	memset(&next, 0, sizeof(next));
	enc[0] = '\0';
	if (h->ninvoices > limit) {
		v = &h->invoices[limit - 1];
		if (v->created <= 0 || strlen(v->id) > BILLING_INVOICE_ID_MAX) {
			req_fail(r, XERR_INTERNAL, "paging invoices");
			return -1;
		}
		next.invoice_created = v->created;
		memcpy(next.invoice_id, v->id, strlen(v->id) + 1);
	}
	if (h->nevents > limit)
		next.event_before = h->events[limit - 1].id;
	if ((next.invoice_created > 0 || next.event_before > 0) &&
	    (rc = billing_cursor_encode(&next, enc, encsz)) != XERR_OK) {
		req_fail(r, rc, "paging");
		return -1;
	}
	return 0;
}

/*
 * Answers 200 with the pages of h, each cut to limit, and enc as
 * next_cursor ("": null).
 */
static void
billing_history_reply(struct req *r, const struct billing_history *h,
    size_t limit, const char *enc)
{
	struct json_object	*o = NULL, *ia, *ea;
	size_t			 i;
	int			 bad = 0;

	if ((o = json_object_new_object()) == NULL ||
	    (ia = billing_add_new(o, "invoices", 1)) == NULL ||
	    (ea = billing_add_new(o, "events", 1)) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	for (i = 0; i < h->ninvoices && i < limit && !bad; i++)
		bad |= billing_append(ia, billing_invoice_json(&h->invoices[i]));
	for (i = 0; i < h->nevents && i < limit && !bad; i++)
		bad |= billing_append(ea, billing_event_json(&h->events[i]));
	bad |= jsonx_add_str(o, "next_cursor", enc[0] != '\0' ? enc : NULL);
	if (bad) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, 200, o);
out:
	json_object_put(o);
}

/*
 * GET /api/billing/history: one page of invoices and one of billing
 * events, newest first, and a next_cursor for both (null at the end).
 * Answers 200, 400 bad_limit or bad_cursor, 401, 500, 503.  Two round
 * trips: the token's check and billing_history_read(), which reads both
 * pages with one row beyond each, to tell whether its list goes on; a
 * list the cursor ended (0) is not read.
 */
void
billing_history(struct req *r)
{
	struct billing_cursor	 cur;
	struct billing_history	 h;
	char			 enc[BILLING_CURSOR_MAX + 1];
	int			 limit;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0 ||
	    billing_history_args_or_reply(r, &limit, &cur) != 0)
		return;
	if ((rc = billing_history_read(r->db, r->user_id, cur.invoice_created,
	    cur.invoice_id, cur.event_before, limit + 1, &h)) != XERR_OK) {
		req_fail(r, rc, "loading the history");
		return;
	}
	if (billing_history_next_or_reply(r, &h, (size_t)limit, enc,
	    sizeof(enc)) == 0)
		billing_history_reply(r, &h, (size_t)limit, enc);
	billing_history_free(&h);
}

/* What POST /api/billing/estimate answers (billing_estimate_of()). */
struct billing_est {
	int			 up;		/* 1: an upgrade */
	int			 to_free;	/* a downgrade to TIERS_FREE */
	const char		*via;		/* how it is made (static) */
	int64_t			 now, start, end;
	struct money_proration	 p;
};

/*
 * Computes into *e the change of u to t at this second: an upgrade is
 * prorated as Stripe does (see money_prorate()); without a subscription
 * it is Checkout, which starts a period now and charges the full price
 * for it (docs/BILLING.md "Estimates").  A downgrade is never prorated
 * here: see billing_downgrade().  Returns 0, or -1 after answering 5xx.
 */
static int
billing_estimate_of(struct req *r, const struct billing_user *u,
    const struct billing_tier *t, struct billing_est *e)
{
	struct billing_tier	 cur;
	int			 sub = u->sub[0] != '\0';
	enum xerr		 rc;

	memset(e, 0, sizeof(*e));
	e->now = (int64_t)time(NULL);
	e->to_free = strcmp(t->name, TIERS_FREE) == 0;
	if ((rc = billing_tier_load(r->db, u->tier, &cur)) != XERR_OK) {
		req_fail(r, rc, "the estimate");
		return -1;
	}
	e->up = t->rank > cur.rank;
	billing_period(u, e->now, &e->start, &e->end);
	if (e->up && !sub) {
		e->start = e->now;
		e->end = usage_add_month(e->now);
	}
	if ((rc = money_prorate(e->up && sub ? cur.price_cents : 0,
	    e->up ? t->price_cents : 0, e->start, e->end, e->now,
	    &e->p)) != XERR_OK) {
		req_fail(r, rc, "the proration");
		return -1;
	}
	if (e->up)
		e->via = sub ? "subscription_update" : "checkout";
	else
		e->via = e->to_free ? "cancel_at_period_end" :
		    "subscription_update";
	return 0;
}

/* Answers 200 with the estimate e of u's change to t. */
static void
billing_estimate_reply(struct req *r, const struct billing_user *u,
    const struct billing_tier *t, const struct billing_est *e)
{
	struct json_object	*o = NULL, *per, *pr;
	int			 bad;

	if ((o = json_object_new_object()) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	bad = jsonx_add_str(o, "current_tier", u->tier);
	bad |= jsonx_add_str(o, "target_tier", t->name);
	bad |= jsonx_add_str(o, "change", e->up ? "upgrade" : "downgrade");
	bad |= jsonx_add_str(o, "via", e->via);
	bad |= billing_add_bool(o, "has_subscription", u->sub[0] != '\0');
	if (bad || (per = billing_add_new(o, "period", 0)) == NULL ||
	    (pr = billing_add_new(o, "proration", 0)) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	bad = jsonx_add_int(per, "start", e->start);
	bad |= jsonx_add_int(per, "end", e->end);
	bad |= jsonx_add_int(pr, "credit_cents", e->p.credit_cents);
	bad |= jsonx_add_int(pr, "charge_cents", e->p.charge_cents);
	bad |= jsonx_add_int(pr, "net_cents", e->p.net_cents);
	bad |= jsonx_add_int(pr, "remaining_seconds", e->p.remaining_seconds);
	bad |= jsonx_add_int(pr, "period_seconds", e->p.period_seconds);
	bad |= jsonx_add_int(o, "new_price_cents", t->price_cents);
	bad |= billing_add_limits(o, "new_limits", t);
	bad |= jsonx_add_int(o, "effective_at", e->to_free ? e->end : e->now);
	bad |= billing_add_opt(o, "next_billing_date", !e->to_free, e->end);
	if (bad) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, 200, o);
out:
	json_object_put(o);
}

/*
 * POST /api/billing/estimate: the proration of an upgrade at this second,
 * or the no-refund terms of a downgrade, with the new price and limits.
 * Answers 200, 400, 401, 404 no_subscription (a downgrade without one),
 * 409 same_tier, 415, 500, 503.
 */
void
billing_estimate(struct req *r)
{
	struct billing_user	 u;
	struct billing_tier	 t;
	struct billing_est	 e;
	int			 rank;

	if (auth_require_or_reply(r, AUTH_USER) != 0 ||
	    billing_target_or_reply(r, &t) != 0 ||
	    billing_user_or_reply(r, &u) != 0)
		return;
	if (strcmp(t.name, u.tier) == 0) {
		req_error(r, XERR_CONFLICT, "same_tier", "already on %s",
		    t.name);
		return;
	}
	if (billing_rank_or_reply(r, &u, &rank) != 0)
		return;
	if (t.rank <= rank && u.sub[0] == '\0') {
		req_error(r, XERR_NOTFOUND, "no_subscription",
		    "there is no subscription to downgrade");
		return;
	}
	if (billing_estimate_of(r, &u, &t, &e) == 0)
		billing_estimate_reply(r, &u, &t, &e);
}

/*
 * Returns whether Stripe's invoice line l is a proration: today under
 * parent.subscription_item_details or parent.invoice_item_details
 * (2025-03-31.basil on), before that on the line itself.
 */
static int
billing_line_proration(struct json_object *l)
{
	struct json_object	*d;

	if ((d = jsonx_path(l, "parent.subscription_item_details")) != NULL &&
	    json_object_is_type(d, json_type_object))
		return jsonx_bool(d, "proration", 0);
	if ((d = jsonx_path(l, "parent.invoice_item_details")) != NULL &&
	    json_object_is_type(d, json_type_object))
		return jsonx_bool(d, "proration", 0);
	return jsonx_bool(l, "proration", 0);
}

/* Adds the lines of Stripe's invoice inv to o as "lines". Returns 0 or -1. */
static int
billing_add_lines(struct json_object *o, struct json_object *inv)
{
	struct json_object	*arr, *data, *l, *e, *per;
	size_t			 i, n;
	int			 bad = 0;

	if ((arr = billing_add_new(o, "lines", 1)) == NULL)
		return -1;
	data = jsonx_path(inv, "lines.data");
	if (data == NULL || !json_object_is_type(data, json_type_array))
		return 0;
	n = json_object_array_length(data);
	for (i = 0; i < n && !bad; i++) {
		l = json_object_array_get_idx(data, i);
		if ((e = json_object_new_object()) == NULL)
			return -1;
		if (json_object_array_add(arr, e) != 0) {
			json_object_put(e);
			return -1;
		}
		bad |= jsonx_add_str(e, "description",
		    jsonx_str(l, "description"));
		bad |= billing_add_from(e, "amount", l, "amount");
		bad |= billing_add_from(e, "quantity", l, "quantity");
		bad |= billing_add_bool(e, "proration",
		    billing_line_proration(l));
		if ((per = billing_add_new(e, "period", 0)) == NULL)
			return -1;
		bad |= billing_add_from(per, "start", l, "period.start");
		bad |= billing_add_from(per, "end", l, "period.end");
	}
	return bad ? -1 : 0;
}

static const char *billing_price_or_reply(struct req *,
    const struct billing_tier *);

/*
 * Adds to form the subscription_details of moving u's live subscription to
 * t now, as billing_upgrade() and billing_downgrade() would: the item to
 * t's price, prorated at this second up, not prorated down, or cancelled
 * at the period end for the free tier.  Returns 0, or -1 after answering.
 */
static int
billing_preview_change(struct req *r, struct billing_user *u,
    const struct billing_tier *t, struct buf *form)
{
	const char	*price;
	char		 now[32];
	int		 up, rank;
	enum xerr	 rc;

	if (billing_rank_or_reply(r, u, &rank) != 0)
		return -1;
	up = t->rank > rank;
	if (strcmp(t->name, TIERS_FREE) == 0)
		rc = http_form_add(form,
		    "subscription_details[cancel_at_period_end]", "true");
	else {
		if ((price = billing_price_or_reply(r, t)) == NULL ||
		    billing_item_or_reply(r, u) != 0)
			return -1;
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		if ((rc = http_form_add(form,
		    "subscription_details[items][0][id]", u->item)) == XERR_OK &&
		    (rc = http_form_add(form,
		    "subscription_details[items][0][price]", price)) == XERR_OK &&
		    (rc = http_form_add(form,
		    "subscription_details[proration_behavior]", up ?
		    "create_prorations" : "none")) == XERR_OK && up)
			rc = http_form_add(form,
			    "subscription_details[proration_date]", now);
	}
	if (rc != XERR_OK) {
		req_fail(r, rc, "building the request");
		return -1;
	}
	return 0;
}

/*
 * Writes the create_preview form of GET /api/billing/upcoming for u and
 * the target t (NULL: none): the live subscription's next invoice, or
 * that of the change to t (billing_preview_change()); without a live
 * subscription, the first invoice of the subscription to t (else to u's
 * own tier) that Checkout would start.  Returns 0, or -1 after answering
 * (404 no_upcoming_invoice for a free tier without a subscription).
 */
static int
billing_preview_form(struct req *r, struct billing_user *u,
    const struct billing_tier *t, struct buf *form)
{
	struct billing_tier	 own;
	const char		*price;
	enum xerr		 rc;

	if ((rc = http_form_add(form, "customer", u->customer)) != XERR_OK) {
		req_fail(r, rc, "building the request");
		return -1;
	}
	if (u->sub[0] != '\0') {
		if ((rc = http_form_add(form, "subscription", u->sub)))
			req_fail(r, rc, "building the request");
		else if (t != NULL && strcmp(t->name, u->tier) != 0)
			return billing_preview_change(r, u, t, form);
		return rc == XERR_OK ? 0 : -1;
	}
	if (t == NULL && billing_tier_load(r->db, u->tier, &own) == XERR_OK)
		t = &own;
	if (t == NULL || t->price_cents <= 0) {
		req_error(r, XERR_NOTFOUND, "no_upcoming_invoice", "there is "
		    "no subscription to preview; pass target_tier to preview "
		    "one");
		return -1;
	}
	if ((price = billing_price_or_reply(r, t)) == NULL)
		return -1;
	if ((rc = http_form_add(form, "subscription_details[items][0][price]",
	    price)) != XERR_OK) {
		req_fail(r, rc, "building the request");
		return -1;
	}
	return 0;
}

/* Answers 200 with the preview inv as GET /api/billing/upcoming shows it. */
static void
billing_preview_reply(struct req *r, struct json_object *inv)
{
	struct json_object	*o, *per;
	int			 bad;

	if ((o = json_object_new_object()) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		return;
	}
	bad = billing_add_from(o, "amount_due", inv, "amount_due");
	bad |= billing_add_from(o, "subtotal", inv, "subtotal");
	bad |= billing_add_from(o, "total", inv, "total");
	bad |= jsonx_add_str(o, "currency", jsonx_str(inv, "currency"));
	if (bad || (per = billing_add_new(o, "period", 0)) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	bad = billing_add_from(per, "start", inv, "period_start");
	bad |= billing_add_from(per, "end", inv, "period_end");
	bad |= billing_add_from(o, "next_payment_attempt", inv,
	    "next_payment_attempt");
	bad |= billing_add_lines(o, inv);
	if (bad) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, 200, o);
out:
	json_object_put(o);
}

/*
 * GET /api/billing/upcoming[?target_tier=...]: Stripe's preview of the
 * next invoice (billing_preview_form()).  Answers 200, 400 unknown_tier or
 * custom_pricing, 401, 402, 404 no_customer or no_upcoming_invoice, 409,
 * 500, 502 stripe_error or stripe_refused, 503.
 */
void
billing_upcoming(struct req *r)
{
	struct billing_user	 u;
	struct billing_tier	 t;
	struct json_object	*inv = NULL;
	struct buf		*form = NULL;
	const char		*target;
	char			 idem[BILLING_IDEM_MAX + 1], nonce[33];

	if (billing_auth_or_reply(r, &u) != 0)
		return;
	if ((target = kv_get(r->query, "target_tier")) != NULL &&
	    billing_tier_or_reply(r, target, &t) != 0)
		return;
	if (u.customer[0] == '\0') {
		req_error(r, XERR_NOTFOUND, "no_customer",
		    "there is no billing account yet: nothing to preview");
		return;
	}
	if ((form = buf_new(BILLING_FORM_MAX)) == NULL) {
		req_fail(r, XERR_NOMEM, "building the request");
		return;
	}
	if (billing_preview_form(r, &u, target != NULL ? &t : NULL,
	    form) != 0)
		goto out;
	/* A preview changes nothing: a fresh key each time is right. */
	crypto_random_hex(nonce, 16);
	billing_idem(idem, "preview:%s:%s", r->user_id, nonce);
	if (billing_stripe_or_reply(r, "POST", "/v1/invoices/create_preview",
	    form, idem, "preview the next invoice", "no_upcoming_invoice",
	    &inv) == 0)
		billing_preview_reply(r, inv);
out:
	json_object_put(inv);
	buf_free(form);
}

/*
 * Authenticates a tier change and loads its two ends into *u and *t:
 * dir > 0 must go up, dir < 0 down.  Returns 0, or -1 after answering
 * (400, 401, 409 same_tier, not_an_upgrade, not_a_downgrade, 415, 5xx).
 */
static int
billing_change_or_reply(struct req *r, int dir, struct billing_user *u,
    struct billing_tier *t)
{
	int	 rank;

	if (auth_require_or_reply(r, AUTH_USER) != 0 ||
	    billing_target_or_reply(r, t) != 0 ||
	    billing_user_or_reply(r, u) != 0)
		return -1;
	if (strcmp(t->name, u->tier) == 0) {
		req_error(r, XERR_CONFLICT, "same_tier", "already on %s",
		    t->name);
		return -1;
	}
	if (billing_rank_or_reply(r, u, &rank) != 0)
		return -1;
	if (dir > 0 && t->rank < rank) {
		req_error(r, XERR_CONFLICT, "not_an_upgrade", "%s is below %s; "
		    "use POST /api/billing/downgrade", t->name, u->tier);
		return -1;
	}
	if (dir < 0 && t->rank > rank) {
		req_error(r, XERR_CONFLICT, "not_a_downgrade", "%s is above "
		    "%s; use POST /api/billing/upgrade", t->name, u->tier);
		return -1;
	}
	return 0;
}

/* Returns the Stripe price of tier t, or NULL after answering 500. */
static const char *
billing_price_or_reply(struct req *r, const struct billing_tier *t)
{
	const char	*price = tiers_price(r->cfg, t->name);

	if (price == NULL || *price == '\0') {
		log_errorx("no Stripe price configured for %s", t->name);
		req_fail(r, XERR_INTERNAL, "finding the price");
		return NULL;
	}
	return price;
}

/*
 * Moves u's live subscription to price (tier t) with the given
 * proration_behavior, and answers as billing_sub_change() does.  The last
 * event applied to the subscription is in the key: a double-click replays
 * Stripe's first answer, while a change made after Stripe's webhook
 * confirmed this one is a new request.
 */
static void
billing_set_price(struct req *r, struct billing_user *u,
    const struct billing_tier *t, const char *price, const char *op,
    const char *proration)
{
	struct buf	*form = NULL;
	char		 idem[BILLING_IDEM_MAX + 1];
	enum xerr	 rc;

	if (billing_item_or_reply(r, u) != 0)
		return;
	billing_idem(idem, "%s:%s:%s:%s:%s", r->user_id, u->sub, op, t->name,
	    u->last_event);
	if ((form = buf_new(BILLING_FORM_MAX)) == NULL) {
		req_fail(r, XERR_NOMEM, "building the request");
		return;
	}
	if ((rc = http_form_add(form, "items[0][id]", u->item)) ||
	    (rc = http_form_add(form, "items[0][price]", price)) ||
	    (rc = http_form_add(form, "proration_behavior", proration))) {
		req_fail(r, rc, "building the request");
		goto out;
	}
	billing_sub_change(r, u, form, idem, "subscription_updated");
out:
	buf_free(form);
}

/*
 * POST /api/billing/upgrade: changes the price of a live subscription,
 * prorated, or opens a Checkout session when there is none.  Answers 200,
 * 400 (unknown_tier, custom_pricing, ...), 401, 409 same_tier,
 * not_an_upgrade or request_in_progress, 415, 500, 502, 503.
 */
void
billing_upgrade(struct req *r)
{
	struct billing_user	 u;
	struct billing_tier	 t;
	const char		*price;

	if (billing_change_or_reply(r, 1, &u, &t) != 0 ||
	    (price = billing_price_or_reply(r, &t)) == NULL)
		return;
	if (u.sub[0] == '\0')
		billing_checkout(r, &u, &t, price);
	else
		billing_set_price(r, &u, &t, price, "upgrade",
		    "create_prorations");
}

/*
 * Asks Stripe to set cancel_at_period_end of u's subscription (cancel 1)
 * or to clear it (cancel 0), and answers as billing_sub_change() does.
 * Downgrading to ai_buddy and cancelling share the key, so a click on each
 * cancels once.
 */
static void
billing_set_cancel(struct req *r, const struct billing_user *u, int cancel)
{
	struct buf	*form = NULL;
	char		 idem[BILLING_IDEM_MAX + 1];
	const char	*op = cancel ? "cancel" : "resume";
	enum xerr	 rc;

	billing_idem(idem, "%s:%s:%s:%s", r->user_id, u->sub, op,
	    u->last_event);
	if ((form = buf_new(BILLING_FORM_MAX)) == NULL) {
		req_fail(r, XERR_NOMEM, "building the request");
		return;
	}
	if ((rc = http_form_add(form, "cancel_at_period_end",
	    cancel ? "true" : "false")) != XERR_OK) {
		req_fail(r, rc, "building the request");
		goto out;
	}
	billing_sub_change(r, u, form, idem, cancel ? "cancel_scheduled" :
	    "cancel_withdrawn");
out:
	buf_free(form);
}

/*
 * POST /api/billing/downgrade.  Answers 200, 400, 401, 404
 * no_subscription, 409 same_tier, not_a_downgrade, already_cancelling or
 * request_in_progress, 415, 500, 502, 503.
 *
 * A downgrade to a paid tier changes the price at once with
 * proration_behavior=none: the lower allowances apply now, the new price
 * from the next invoice, and nothing of the period already paid is
 * refunded (a credit would let a user upgrade, use, and downgrade for
 * money back).  A downgrade to ai_buddy cancels at the period's end: what
 * was paid for lasts until then.
 */
void
billing_downgrade(struct req *r)
{
	struct billing_user	 u;
	struct billing_tier	 t;
	const char		*price;

	if (billing_change_or_reply(r, -1, &u, &t) != 0)
		return;
	if (u.sub[0] == '\0') {
		req_error(r, XERR_NOTFOUND, "no_subscription",
		    "there is no subscription to downgrade");
		return;
	}
	if (strcmp(t.name, TIERS_FREE) == 0) {
		if (u.cancelling)
			req_error(r, XERR_CONFLICT, "already_cancelling",
			    "the subscription already ends with the period");
		else
			billing_set_cancel(r, &u, 1);
		return;
	}
	if ((price = billing_price_or_reply(r, &t)) != NULL)
		billing_set_price(r, &u, &t, price, "downgrade", "none");
}

/*
 * POST /api/billing/cancel: cancel_at_period_end=true.  Answers 200, 401,
 * 404 no_subscription, 409 already_cancelling or request_in_progress, 500,
 * 502, 503.
 */
void
billing_cancel(struct req *r)
{
	struct billing_user	 u;

	if (billing_auth_or_reply(r, &u) != 0)
		return;
	if (u.sub[0] == '\0') {
		req_error(r, XERR_NOTFOUND, "no_subscription",
		    "there is no subscription to cancel");
		return;
	}
	if (u.cancelling) {
		req_error(r, XERR_CONFLICT, "already_cancelling",
		    "the subscription already ends with the period");
		return;
	}
	billing_set_cancel(r, &u, 1);
}

/*
 * POST /api/billing/resume: cancel_at_period_end=false.  Answers 200, 401,
 * 404 no_subscription, 409 not_cancelling or request_in_progress, 500,
 * 502, 503.
 */
void
billing_resume(struct req *r)
{
	struct billing_user	 u;

	if (billing_auth_or_reply(r, &u) != 0)
		return;
	if (u.sub[0] == '\0') {
		req_error(r, XERR_NOTFOUND, "no_subscription",
		    "there is no subscription to resume");
		return;
	}
	if (!u.cancelling) {
		req_error(r, XERR_CONFLICT, "not_cancelling",
		    "the subscription is not being cancelled");
		return;
	}
	billing_set_cancel(r, &u, 0);
}

/* Returns the usage entry e, under the client's key, as JSON, or NULL. */
static struct json_object *
billing_usage_json(const struct usage_events_row *e, const char *key)
{
	struct json_object	*o;
	int			 bad;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	bad = jsonx_add_int(o, "id", e->id);
	bad |= jsonx_add_str(o, "user_id", e->user_id);
	bad |= jsonx_add_str(o, "kind", e->kind);
	bad |= jsonx_add_int(o, "quantity", e->quantity);
	bad |= jsonx_add_int(o, "occurred_at", e->occurred_at);
	bad |= jsonx_add_str(o, "idempotency_key", key);
	bad |= jsonx_add_str(o, "reported_by", e->reported_by);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

#define BILLING_USAGE_KEY_MAX		200
#define BILLING_USAGE_MAX_QUANTITY	1000000
#define BILLING_USAGE_MAX_AGE		(40 * 86400)	/* a past cycle, at most */
#define BILLING_USAGE_MAX_SKEW		300

/*
 * Reads POST /api/usage's report from the body in (and the
 * Idempotency-Key header, before the body's idempotency_key) into *u,
 * whose texts are borrowed from in and r.  Returns 0, or -1 after
 * answering 400 bad_user_id, bad_kind, bad_quantity, bad_occurred_at or
 * bad_idempotency_key.
 */
static int
billing_usage_in_or_reply(struct req *r, struct json_object *in,
    struct usage_app_in *u)
{
	const char	*key;
	int64_t		 now = (int64_t)time(NULL);

	memset(u, 0, sizeof(*u));
	u->user_id = jsonx_str(in, "user_id");
	u->kind = jsonx_str(in, "kind");
	u->reported_by = r->user_id;
	if ((key = req_header(r, "Idempotency-Key")) == NULL)
		key = jsonx_str(in, "idempotency_key");
	u->key = key;
	if (!ids_user_ok(u->user_id)) {
		req_error(r, XERR_BADREQ, "bad_user_id", "user_id is required");
		return -1;
	}
	if (u->kind == NULL || (strcmp(u->kind, "sms") &&
	    strcmp(u->kind, "voice"))) {
		req_error(r, XERR_BADREQ, "bad_kind", "kind must be sms or voice");
		return -1;
	}
	if (jsonx_int(in, "quantity", &u->quantity) != 0 || u->quantity < 1 ||
	    u->quantity > BILLING_USAGE_MAX_QUANTITY) {
		req_error(r, XERR_BADREQ, "bad_quantity", "quantity must be a "
		    "whole number from 1 to %d", BILLING_USAGE_MAX_QUANTITY);
		return -1;
	}
	if (jsonx_path(in, "occurred_at") == NULL)
		u->occurred_at = now;
	else if (jsonx_int(in, "occurred_at", &u->occurred_at) != 0 ||
	    u->occurred_at < now - BILLING_USAGE_MAX_AGE ||
	    u->occurred_at > now + BILLING_USAGE_MAX_SKEW) {
		req_error(r, XERR_BADREQ, "bad_occurred_at", "occurred_at must "
		    "be unix seconds within the last 40 days");
		return -1;
	}
	if (key == NULL || *key == '\0' || strlen(key) > BILLING_USAGE_KEY_MAX ||
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-:.") != strlen(key)) {
		req_error(r, XERR_BADREQ, "bad_idempotency_key", "an "
		    "idempotency key of up to %d characters [A-Za-z0-9_-:.] is "
		    "required", BILLING_USAGE_KEY_MAX);
		return -1;
	}
	return 0;
}

/*
 * Answers the outcome rc of usage_app_record() for u: 201 the entry, 200
 * its replay, 404 unknown_user, 409 idempotency_conflict, 422
 * usage_cap_exceeded, 5xx.
 */
static void
billing_usage_reply(struct req *r, const struct usage_app_in *u,
    enum xerr rc, const struct usage_app_out *out)
{
	struct json_object	*o = NULL, *entry = NULL;

	if (rc == XERR_NOTFOUND) {
		req_error(r, XERR_NOTFOUND, "unknown_user", "no such user");
		return;
	}
	if (rc == XERR_CONFLICT) {
		req_error(r, XERR_CONFLICT, "idempotency_conflict", "this "
		    "idempotency key already recorded other usage");
		return;
	}
	if (rc != XERR_OK) {
		req_fail(r, rc, out->failed);
		return;
	}
	if (out->hit.over) {
		req_error(r, XERR_UNPROCESSABLE, "usage_cap_exceeded", "%s usage "
		    "of this user in the period from %lld to %lld is %lld of a "
		    "cap of %lld; %lld more is refused and nothing was recorded",
		    u->kind, (long long)out->hit.start, (long long)out->hit.end,
		    (long long)out->hit.used, (long long)out->hit.cap,
		    (long long)u->quantity);
		return;
	}
	if ((o = json_object_new_object()) == NULL ||
	    (entry = billing_usage_json(&out->row, u->key)) == NULL ||
	    json_object_object_add(o, "usage", entry) != 0) {
		json_object_put(entry);
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	/* o owns entry now. */
	if (jsonx_add_bool(o, "replayed", out->replayed)) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	req_reply_json(r, out->replayed ? 200 : 201, o);
out:
	json_object_put(o);
}

/*
 * POST /api/usage (billing.h): validate (billing_usage_in_or_reply()),
 * one domain call (usage_app_record(), which holds the idempotency rule),
 * render (billing_usage_reply()).
 */
void
billing_report_usage(struct req *r)
{
	struct json_object	*in = NULL;
	struct usage_app_in	 u;
	struct usage_app_out	 out;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_SERVICE) != 0)
		return;
	if ((rc = req_json(r, &in)) != XERR_OK) {
		apierr_reply(r, billing_usage_body_errs, rc,
		    "the body is not valid JSON");
		return;
	}
	if (billing_usage_in_or_reply(r, in, &u) == 0) {
		rc = usage_app_record(r->db, r->cfg, &u, &out);
		billing_usage_reply(r, &u, rc, &out);
	}
	json_object_put(in);
}
