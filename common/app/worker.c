#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/db.h"
#include "core/http.h"
#include "domain/jobs.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "domain/money.h"
#include "domain/phone.h"
#include "domain/notify.h"
#include "remote/stripe.h"
#include "domain/tiers.h"
#include "domain/usage.h"
#include "app/worker.h"

typedef enum xerr (*worker_fn)(struct worker_ctx *, struct job *,
    char *, size_t);

static enum xerr worker_invoice_items(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_phone_provision(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_phone_release(struct worker_ctx *, struct job *,
    char *, size_t);

static const struct {
	const char	*kind;
	worker_fn	 run;
} worker_runners[] = {
	{ "invoice_items", worker_invoice_items },
	{ "phone_provision", worker_phone_provision },
	{ "phone_release", worker_phone_release },
	{ "notify", notify_run },
};

#define WORKER_NRUNNERS (sizeof(worker_runners) / sizeof(worker_runners[0]))

const char *
worker_kinds(void)
{
	static char	 kinds[256];
	size_t		 i, n = 0;

	if (kinds[0] != '\0')
		return kinds;
	for (i = 0; i < WORKER_NRUNNERS; i++)
		n += (size_t)snprintf(kinds + n, sizeof(kinds) - n, "%s%s",
		    i ? "," : "", worker_runners[i].kind);
	return kinds;
}

/* One overage line to post: what the Idempotency-Keys and the match use. */
struct worker_line {
	const char	*invoice;
	const char	*user_id;
	const char	*kind;		/* "voice", "sms", "phone" */
	char		 line[320];	/* "<invoice>:<kind>": metadata[xsb_line] */
};

/*
 * Returns 1 when the invoice item it is the one of the line arg: its
 * metadata[xsb_line] names the line, or (for items posted before that key
 * existed) its metadata[kind] and [user_id] are the line's.
 */
static int
worker_item_match(struct json_object *it, void *arg)
{
	const struct worker_line	*l = arg;
	const char			*x = jsonx_str(it, "metadata.xsb_line");
	const char			*k = jsonx_str(it, "metadata.kind");
	const char			*u = jsonx_str(it, "metadata.user_id");

	if (x != NULL)
		return strcmp(x, l->line) == 0;
	return k != NULL && u != NULL && strcmp(k, l->kind) == 0 &&
	    strcmp(u, l->user_id) == 0;
}

/*
 * Writes the form of the line's invoice item: the same on every attempt.
 */
static enum xerr
worker_item_form(struct job *job, const struct worker_line *l,
    int64_t quantity, const char *unit_decimal, const char *desc,
    struct buf *form)
{
	struct json_object *p = job->payload;
	char		 q[32], ps[32], pe[32];
	int64_t		 v = 0;
	enum xerr	 rc;

	snprintf(q, sizeof(q), "%lld", (long long)quantity);
	jsonx_int(p, "period_start", &v);
	snprintf(ps, sizeof(ps), "%lld", (long long)v);
	jsonx_int(p, "period_end", &v);
	snprintf(pe, sizeof(pe), "%lld", (long long)v);
	if ((rc = http_form_add(form, "customer", jsonx_str(p, "customer"))) ||
	    (rc = http_form_add(form, "invoice", jsonx_str(p, "invoice_id"))) ||
	    (rc = http_form_add(form, "currency", "usd")) ||
	    (rc = http_form_add(form, "quantity", q)) ||
	    (rc = http_form_add(form, "unit_amount_decimal", unit_decimal)) ||
	    (rc = http_form_add(form, "description", desc)) ||
	    (rc = http_form_add(form, "period[start]", ps)) ||
	    (rc = http_form_add(form, "period[end]", pe)) ||
	    (rc = http_form_add(form, "metadata[user_id]", l->user_id)) ||
	    (rc = http_form_add(form, "metadata[kind]", l->kind)) ||
	    (rc = http_form_add(form, "metadata[xsb_line]", l->line)))
		return rc;
	return XERR_OK;
}

/*
 * Bills one overage line on the draft invoice, exactly once whatever fails
 * (stripe_invoice_item_once(), keys "<invoice>:<kind>" and on), and
 * records it in billing_events.
 */
static enum xerr
worker_post_item(struct worker_ctx *w, struct job *job, const char *kind,
    int64_t quantity, const char *unit_decimal, const char *desc,
    int64_t cents, char *err, size_t errsz)
{
	struct worker_line l;
	struct stripe_reply rep;
	struct json_object *item = NULL;
	struct buf	*form = NULL;
	struct dbv	 a[5];
	char		 bkind[48];
	enum xerr	 rc;

	l.invoice = jsonx_str(job->payload, "invoice_id");
	l.user_id = job->user_id;
	l.kind = kind;
	snprintf(l.line, sizeof(l.line), "%s:%s", l.invoice, kind);
	if ((form = buf_new(4096)) == NULL)
		return XERR_NOMEM;
	if ((rc = worker_item_form(job, &l, quantity, unit_decimal, desc,
	    form)) != XERR_OK ||
	    (rc = stripe_invoice_item_once(w->http, w->cfg, l.invoice, form,
	    l.line, worker_item_match, &l, &item, &rep)) != XERR_OK) {
		snprintf(err, errsz, "%s", rep.msg);
		goto out;
	}
	log_info("invoice %s: %s item %s, %lld x %s = %lld cents", l.invoice,
	    kind, jsonx_str(item, "id") ? jsonx_str(item, "id") : "?",
	    (long long)quantity, unit_decimal, (long long)cents);
	snprintf(bkind, sizeof(bkind), "overage_%s", kind);
	a[0] = DB_STR(job->user_id);
	a[1] = DB_STR(l.invoice);
	a[2] = DB_STR(bkind);
	a[3] = DB_INT(cents);
	a[4] = DB_STR(jsonx_str(item, "id"));
	rc = db_exec(w->db, STMT_BEVENT_INSERT, a, 5, NULL, NULL);
out:
	json_object_put(item);
	buf_free(form);
	return rc;
}

/*
 * invoice_items: bills the period that ended on the cycle's draft invoice:
 * voice and SMS overage at their exact decimal unit prices, and the phone
 * fee when a number was held in the period.
 */
static enum xerr
worker_invoice_items(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	struct json_object *p = job->payload;
	struct usage_report rep;
	const char	*tier = jsonx_str(p, "tier");
	int64_t		 ps = 0, pe = 0;
	char		 desc[160];
	enum xerr	 rc;

	if (jsonx_str(p, "invoice_id") == NULL ||
	    jsonx_str(p, "customer") == NULL || tier == NULL ||
	    jsonx_int(p, "period_start", &ps) || jsonx_int(p, "period_end",
	    &pe) || pe <= ps) {
		snprintf(err, errsz, "payload lacks invoice, customer, tier "
		    "or period");
		return XERR_UNPROCESSABLE;
	}
	if ((rc = usage_report(w->db, job->user_id, tier, ps, pe, &rep)))
		return rc;
	if (rep.bill.voice_units > 0) {
		snprintf(desc, sizeof(desc), "Voice overage: %lld min over "
		    "%lld included at $0.013/min",
		    (long long)rep.bill.voice_units,
		    (long long)rep.use.voice_included);
		if ((rc = worker_post_item(w, job, "voice",
		    rep.bill.voice_units, "1.3", desc, rep.bill.voice_cents,
		    err, errsz)))
			return rc;
	}
	if (rep.bill.sms_units > 0) {
		snprintf(desc, sizeof(desc), "SMS overage: %lld messages over "
		    "%lld included at $0.0075/message",
		    (long long)rep.bill.sms_units,
		    (long long)rep.use.sms_included);
		if ((rc = worker_post_item(w, job, "sms", rep.bill.sms_units,
		    "0.75", desc, rep.bill.sms_cents, err, errsz)))
			return rc;
	}
	if (rep.bill.phone_cents > 0) {
		char	 unit[32];

		snprintf(unit, sizeof(unit), "%lld",
		    (long long)rep.use.phone_fee_cents);
		if ((rc = worker_post_item(w, job, "phone",
		    rep.use.phone_periods, unit, "Phone number",
		    rep.bill.phone_cents, err, errsz)))
			return rc;
	}
	return XERR_OK;
}

/*
 * phone_provision (queued when a user enters a phone tier): buys or adopts
 * the user's number.  Twilio is reconciled first (phone_provision), so a
 * run after a crash adopts the number bought before instead of buying a
 * second.  A user who already holds a number is done; a tier that no
 * longer allows one (changed since the job was queued) is a permanent end.
 */
static enum xerr
worker_phone_provision(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	struct phone_info	 info;
	enum xerr		 rc;

	rc = phone_provision(w->db, w->http, w->cfg, job->user_id, NULL, NULL,
	    &info, err, errsz);
	switch (rc) {
	case XERR_OK:
		log_info("user %s: number %s %s", job->user_id,
		    info.phone_number, info.adopted ? "adopted" : "bought");
		return XERR_OK;
	case XERR_CONFLICT:
		/* Active: done.  Provisioning elsewhere: retry later. */
		return strcmp(info.status, "active") == 0 ? XERR_OK :
		    XERR_UPSTREAM;
	case XERR_FORBIDDEN:
	case XERR_NOTFOUND:
	case XERR_BADREQ:
		return XERR_UNPROCESSABLE;
	default:
		return rc;
	}
}

/*
 * phone_release (queued when a user leaves the phone tiers): releases the
 * number, unless the user's tier allows one again by now (a downgrade
 * quickly undone must not cost the user their number).
 */
static enum xerr
worker_phone_release(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	struct phone_info	 info;
	struct db_res		*res = NULL;
	struct dbv		 a[1];
	int			 eligible;
	enum xerr		 rc;

	a[0] = DB_STR(job->user_id);
	if ((rc = db_query(w->db, STMT_USER_GET, a, 1, &res)) != XERR_OK)
		return rc;
	eligible = db_res_rows(res) == 1 &&
	    tiers_phone_eligible(db_res_str(res, 0, 3));
	db_res_free(res);
	if (eligible) {
		log_info("user %s: phone tier again; number kept", job->user_id);
		return XERR_OK;
	}
	rc = phone_release(w->db, w->http, w->cfg, job->user_id, &info, err,
	    errsz);
	switch (rc) {
	case XERR_OK:
		log_info("user %s: number %s released", job->user_id,
		    info.phone_number);
		return XERR_OK;
	case XERR_NOTFOUND:
		return XERR_OK;
	case XERR_CONFLICT:
		return XERR_UPSTREAM;
	default:
		return rc;
	}
}

enum xerr
worker_run(struct worker_ctx *w, struct job *job)
{
	char		 err[512] = "";
	size_t		 i;
	enum xerr	 rc = XERR_INTERNAL;
	int		 permanent;

	for (i = 0; i < WORKER_NRUNNERS; i++)
		if (strcmp(worker_runners[i].kind, job->kind) == 0)
			break;
	if (i == WORKER_NRUNNERS)
		snprintf(err, sizeof(err), "no runner for kind %s", job->kind);
	else
		rc = worker_runners[i].run(w, job, err, sizeof(err));
	if (rc == XERR_OK)
		return jobs_done(w->db, job, w->id, NULL);
	if (err[0] == '\0')
		snprintf(err, sizeof(err), "%s", xerr_code(rc));
	/* A request Stripe or Twilio refuses as such will not improve. */
	permanent = rc == XERR_UNPROCESSABLE || rc == XERR_BADREQ ||
	    rc == XERR_INTERNAL;
	return jobs_fail(w->db, w->cfg, job, w->id, err, permanent);
}
