#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/db.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/stmt.h"
#include "remote/smtp.h"
#include "remote/stripe.h"
#include "domain/jobs.h"
#include "domain/money.h"
#include "domain/notify.h"
#include "domain/phone.h"
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
static enum xerr worker_notify(struct worker_ctx *, struct job *, char *,
    size_t);

static const struct {
	const char	*kind;
	worker_fn	 run;
} worker_runners[] = {
	{ "invoice_items", worker_invoice_items },
	{ "phone_provision", worker_phone_provision },
	{ "phone_release", worker_phone_release },
	{ "phone_grace_release", worker_phone_release },
	{ "notify", worker_notify },
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
 * phone_provision (queued when a user enters a phone tier, or by
 * POST /api/phone/provision with its claim): see phone_provision_job().
 */
static enum xerr
worker_phone_provision(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	return phone_provision_job(w->db, w->http, w->cfg, job->user_id,
	    job->payload, job->attempts >= (int)w->cfg->job_max_attempts, err,
	    errsz);
}

/*
 * phone_release (queued by older programs when a user left the phone
 * tiers) and phone_grace_release (due when a grace ends): releases the
 * number unless the tier allows one again or a grace still runs (see
 * phone_grace_release()).
 */
static enum xerr
worker_phone_release(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	return phone_grace_release(w->db, w->http, w->cfg, job->user_id, err,
	    errsz);
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

/*
 * Adds field <key>_name to the payload p: the display name of the tier in
 * field key ("AI Secretary" for ai_secretary).  Nothing is added for a
 * missing field or an unknown tier; the template says whether it is needed.
 */
static enum xerr
worker_notify_tier_name(struct worker_ctx *w, struct json_object *p,
    const char *key)
{
	struct tiers_row t;
	const char	*tier;
	char		 field[64];
	enum xerr	 rc;

	if ((tier = jsonx_str(p, key)) == NULL)
		return XERR_OK;
	if ((rc = tiers_load(w->db, tier, &t)) == XERR_NOTFOUND)
		return XERR_OK;
	if (rc != XERR_OK)
		return rc;
	snprintf(field, sizeof(field), "%s_name", key);
	return jsonx_add_str(p, field, t.display_name) != 0 ? XERR_NOMEM :
	    XERR_OK;
}

/*
 * Returns the time allowed for one SMTP transaction: HTTP_TIMEOUT_MS, but
 * at most half the job's lease, so a transaction always ends while this
 * worker still holds the job and no other worker can send it meanwhile.
 */
static unsigned long
worker_notify_timeout(const struct cfg *cfg)
{
	unsigned long	 t = cfg->http_timeout_ms, cap;

	cap = cfg->job_lease_seconds * 1000 / 2;
	if (cap > 0 && t > cap)
		t = cap;
	return t;
}

/*
 * The runner of notify jobs: sends the job's message once (see
 * domain/notify.h).  XERR_UNPROCESSABLE (permanent) for an unknown
 * template, a missing field, a user gone or without a usable address, a
 * message the relay refused for good; XERR_UPSTREAM (retried) when the
 * relay could not be reached or answered 4xx; database errors as they
 * come.  err gets the reason on failure.
 */
static enum xerr
worker_notify(struct worker_ctx *w, struct job *job, char *err, size_t errsz)
{
	struct notify_text	 txt;
	struct notify_mail	 m;
	struct buf		*msg = NULL;
	struct db_res		*res = NULL;
	struct dbv		 a[7];
	const char		*tmpl, *uid, *state, *email;
	char			 msgid[NOTIFY_MSGID_SIZE];
	char			 from[SMTP_ADDR_MAX + 1], to[SMTP_ADDR_MAX + 1];
	long long		 tries = 0;
	int			 unsure = 0, operator;
	enum xerr		 rc;

	memset(&txt, 0, sizeof(txt));
	tmpl = jsonx_str(job->payload, "template");
	if (!notify_template_known(tmpl)) {
		snprintf(err, errsz, "unknown notification template %.64s",
		    tmpl != NULL ? tmpl : "(none)");
		return XERR_UNPROCESSABLE;
	}
	uid = job->user_id[0] != '\0' ? job->user_id :
	    jsonx_str(job->payload, "user_id");
	if (uid == NULL || uid[0] == '\0') {
		snprintf(err, errsz, "notification %s without a user", tmpl);
		return XERR_UNPROCESSABLE;
	}
	notify_message_id(job->dedupe_key, msgid);

	/* Sent already (by a run that died before marking the job done). */
	a[0] = DB_STR(job->dedupe_key);
	if ((rc = db_query(w->db, STMT_NOTIFY_GET, a, 1, &res)))
		goto fail;
	if (db_res_rows(res) == 1) {
		state = db_res_str(res, 0, 0);
		if (state != NULL && strcmp(state, "sent") == 0) {
			log_info("notify %s: %s was sent already; not sending "
			    "it again", tmpl, msgid);
			rc = XERR_OK;
			goto fail;
		}
		if (state != NULL && strcmp(state, "sending") == 0)
			tries = db_res_int(res, 0, 1, 0);
	}
	db_res_free(res);
	res = NULL;

	/* The address is the user's at send time, not at the cause. */
	a[0] = DB_STR(uid);
	if ((rc = db_query(w->db, STMT_NOTIFY_USER, a, 1, &res)))
		goto fail;
	email = db_res_rows(res) == 1 ? db_res_str(res, 0, 0) : NULL;
	operator = strncmp(tmpl, "operator_", 9) == 0;
	if (email == NULL || (!operator && !smtp_addr_ok(email))) {
		snprintf(err, errsz, "notification %s: user %.64s %s", tmpl,
		    uid, email == NULL ? "not found" :
		    "has no usable e-mail address");
		rc = XERR_UNPROCESSABLE;
		goto fail;
	}
	snprintf(to, sizeof(to), "%s", email);
	/* An operator's notification names the user and goes elsewhere. */
	if (operator && jsonx_add_str(job->payload, "user_email", email)) {
		rc = XERR_NOMEM;
		goto fail;
	}
	db_res_free(res);
	res = NULL;
	if (operator && smtp_addr_spec(w->cfg->operator_email, to,
	    sizeof(to))) {
		snprintf(err, errsz, "OPERATOR_EMAIL holds no usable address");
		rc = XERR_CONFIG;
		goto fail;
	}
	if (smtp_addr_spec(w->cfg->smtp_from, from, sizeof(from))) {
		/* A configuration to fix: retried, not dropped. */
		snprintf(err, errsz, "SMTP_FROM holds no usable address");
		rc = XERR_CONFIG;
		goto fail;
	}

	if ((rc = worker_notify_tier_name(w, job->payload, "old_tier")) ||
	    (rc = worker_notify_tier_name(w, job->payload, "new_tier")))
		goto fail;
	if ((rc = notify_render(tmpl, job->payload, w->cfg->app_url, &txt,
	    err, errsz)))
		goto fail;
	if ((msg = buf_new(NOTIFY_MESSAGE_MAX)) == NULL) {
		rc = XERR_NOMEM;
		goto fail;
	}
	m.from = w->cfg->smtp_from;
	m.to = to;
	m.subject = txt.subject;
	m.body = txt.body;
	m.message_id = msgid;
	m.date = (int64_t)time(NULL);
	if ((rc = notify_message(&m, msg))) {
		snprintf(err, errsz, "notification %s: the message cannot be "
		    "built (%s)", tmpl, xerr_code(rc));
		if (rc == XERR_BADREQ || rc == XERR_TOOBIG)
			rc = XERR_UNPROCESSABLE;
		goto fail;
	}

	/* From here until `sent` is written, a crash means "maybe sent". */
	a[0] = DB_STR(job->dedupe_key);
	a[1] = DB_STR(msgid);
	a[2] = DB_STR(tmpl);
	a[3] = DB_STR(uid);
	a[4] = DB_STR(to);
	a[5] = DB_STR(txt.subject);
	a[6] = DB_INT(job->id);
	if ((rc = db_exec(w->db, STMT_NOTIFY_BEGIN, a, 7, NULL, NULL)))
		goto fail;
	if (tries > 0)
		log_warnx("notify %s: %s again: an earlier attempt (of %lld) "
		    "may have reached the relay; the Message-ID is the same",
		    tmpl, msgid, tries);
	rc = smtp_send(w->cfg, from, to, buf_data(msg), buf_len(msg),
	    worker_notify_timeout(w->cfg), &unsure, err, errsz);
	if (rc != XERR_OK) {
		/* Left "sending" only when the relay may have taken it. */
		a[0] = DB_STR(rc != XERR_UPSTREAM ? "failed" : unsure ?
		    "sending" : "deferred");
		a[1] = DB_STR(err);
		a[2] = DB_STR(job->dedupe_key);
		if (db_exec(w->db, STMT_NOTIFY_FAIL, a, 3, NULL, NULL))
			log_warnx("notify %s: %s: failure not recorded", tmpl,
			    msgid);
		goto fail;
	}
	/*
	 * Either record stops a second send: this row, or the job marked
	 * done after we return.  Only when both writes are lost does the
	 * job run again and send again (same Message-ID).
	 */
	a[0] = DB_STR(job->dedupe_key);
	if (db_exec(w->db, STMT_NOTIFY_SENT, a, 1, NULL, NULL) != XERR_OK)
		log_errorx("notify %s: %s sent but not recorded as sent",
		    tmpl, msgid);
	log_info("notify %s: sent %s to user %s", tmpl, msgid, uid);
	rc = XERR_OK;
fail:
	db_res_free(res);
	buf_free(msg);
	notify_text_clear(&txt);
	return rc;
}
