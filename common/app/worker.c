#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/event_replay.h"
#include "store/jobs_db.h"
#include "store/notifications.h"
#include "store/users.h"
#include "remote/smtp.h"
#include "remote/stripe.h"
#include "domain/bill.h"
#include "domain/evstore.h"
#include "domain/jobs.h"
#include "domain/money.h"
#include "domain/notify.h"
#include "domain/phone.h"
#include "domain/rating.h"
#include "domain/tiers.h"
#include "domain/usage.h"
#include "app/worker.h"

typedef enum xerr (*worker_fn)(struct worker_ctx *, struct job *,
    char *, size_t);

static enum xerr worker_bill_period(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_replay_unmatched(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_bill_reconcile(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_jobs_purge(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_events_purge(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_phone_provision(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_phone_release(struct worker_ctx *, struct job *,
    char *, size_t);
static enum xerr worker_notify(struct worker_ctx *, struct job *, char *,
    size_t);
static enum xerr worker_sms_segments(struct worker_ctx *, struct job *,
    char *, size_t);

static const struct {
	const char	*kind;
	worker_fn	 run;
} worker_runners[] = {
	{ "bill_period", worker_bill_period },
	{ "invoice_items", worker_bill_period },
	{ "replay_unmatched", worker_replay_unmatched },
	{ "bill_reconcile", worker_bill_reconcile },
	{ "jobs_purge", worker_jobs_purge },
	{ "events_purge", worker_events_purge },
	{ "phone_provision", worker_phone_provision },
	{ "phone_release", worker_phone_release },
	{ "phone_grace_release", worker_phone_release },
	{ "notify", worker_notify },
	{ "sms_segments", worker_sms_segments },
};

#define WORKER_NRUNNERS (sizeof(worker_runners) / sizeof(worker_runners[0]))

/* Milliseconds of the monotonic clock. */
static int64_t
worker_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * How long a run that works through a list (the reconcile's bills, a
 * customer's unmatched events) goes on taking new items: half a lease
 * (JOB_LEASE_SECONDS).  It then queues its continuation and ends: the
 * item in hand ends well within the leases xsb-worker renews, so a run
 * slowed by Stripe or by a long list is never claimed again, and run
 * twice at once, for its time.
 */
static int64_t
worker_budget_ms(const struct cfg *cfg)
{
	return (int64_t)cfg->job_lease_seconds * 1000 / 2;
}

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

/*
 * bill_period (and invoice_items, its name before the rating engine):
 * rates a period of a subscription once (rating_rate()) and posts the bill
 * (bill_post()).  The payload names the subscription, the period Stripe
 * states, the renewal invoice if any, and for the last period `final` and
 * `usage_end` (when the subscription ended).
 */
static enum xerr
worker_bill_period(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	struct json_object *p = job->payload;
	struct rating_req q;
	int64_t		 bill;
	enum xerr	 rc;

	memset(&q, 0, sizeof(q));
	q.subscription = jsonx_str(p, "subscription");
	q.invoice_id = jsonx_str(p, "invoice_id");
	q.final = jsonx_bool(p, "final", 0);
	if (q.subscription == NULL || jsonx_int(p, "period_start", &q.start) ||
	    jsonx_int(p, "period_end", &q.end) || q.end <= q.start) {
		snprintf(err, errsz, "payload lacks subscription or period");
		return XERR_UNPROCESSABLE;
	}
	if (jsonx_int(p, "usage_end", &q.usage_end) || q.usage_end > q.end)
		q.usage_end = q.end;
	if (q.usage_end < q.start)
		q.usage_end = q.start;
	if ((rc = rating_rate(w->db, &q, &bill, err, errsz))) {
		/* The subscription's events have not reached us yet. */
		job->waiting = rc == XERR_NOTFOUND;
		return rc;
	}
	return bill_post(w->db, w->http, w->cfg, bill, err, errsz);
}

/*
 * A daily job's chain: the next day's run of kind (key kind:YYYY-MM-DD,
 * due at hour UTC by this host's clock: a skew moves the run by as much,
 * and the key makes it one per day whichever host queues it), queued
 * before the run so that the chain outlives a run that fails; and, after
 * a run that stopped at its limit, another at once (by the database's
 * clock), its key naming this job (a retry of the job queues no second).
 */
static enum xerr
worker_daily_next(struct worker_ctx *w, const char *kind, int hour)
{
	time_t		 now = time(NULL), next;
	struct tm	 tm;
	char		 day[16], key[64];

	next = now - now % 86400 + 86400 + hour * 3600;
	gmtime_r(&next, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(key, sizeof(key), "%s:%s", kind, day);
	return jobs_db_insert_at(w->db, kind, key, NULL, "{}", (int64_t)next);
}

static enum xerr
worker_daily_more(struct worker_ctx *w, const char *kind,
    const struct job *job)
{
	char		 key[64];

	snprintf(key, sizeof(key), "%s:after:%lld", kind, job->id);
	return jobs_db_insert(w->db, kind, key, NULL, "{}");
}

/*
 * bill_reconcile: the daily comparison of posted bills with Stripe
 * (bill_reconcile()).  The next day's run is queued first (03:00 UTC), so
 * the chain outlives a run that fails.  A run that stopped at its limit or
 * its time (worker_budget_ms()) queues another at once (its key names this
 * job, so a retry of this one queues no second), until the bills due are
 * done.  A bill that cannot be checked is recorded so and passed over; a
 * failure that may pass (Stripe or the database away) fails the run, to
 * be retried.
 */
static enum xerr
worker_bill_reconcile(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	struct bill_reconcile_run run;
	int64_t		 now = (int64_t)time(NULL);
	enum xerr	 rc;

	if ((rc = worker_daily_next(w, "bill_reconcile", 3)) != XERR_OK)
		return rc;
	rc = bill_reconcile(w->db, w->http, w->cfg, now,
	    worker_budget_ms(w->cfg), &run, err, errsz);
	log_info("reconcile: %zu bills checked, %zu differ from Stripe, %zu "
	    "could not be checked%s%s%s", run.checked, run.bad, run.failed,
	    rc ? "; stopped at " : "", rc ? err : "",
	    run.more ? "; more are due: another run queued" : "");
	if (rc == XERR_OK && run.more)
		rc = worker_daily_more(w, "bill_reconcile", job);
	return rc;
}

/*
 * The end of a daily purge's run (jobs_purge, events_purge): its failure
 * as the job's error, else a log line of what it deleted and, when its
 * limit stopped it with more due, another run at once.
 */
static enum xerr
worker_purged(struct worker_ctx *w, struct job *job, enum xerr rc,
    const char *what, size_t deleted, unsigned long days, int more,
    char *err, size_t errsz)
{
	if (rc != XERR_OK) {
		snprintf(err, errsz, "purging %s: %s", what, xerr_code(rc));
		return rc;
	}
	log_info("%s: %zu %s older than %lu days deleted%s", job->kind,
	    deleted, what, days, more ? "; more are due: another run queued" :
	    "");
	return more ? worker_daily_more(w, job->kind, job) : XERR_OK;
}

/*
 * jobs_purge: the daily retention of the outbox (jobs_purge()), chained as
 * bill_reconcile is: the next day's run first (04:00 UTC), then the purge,
 * and another run at once (its key names this job) while more are due.
 */
static enum xerr
worker_jobs_purge(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	size_t		 deleted;
	int		 more;
	enum xerr	 rc;

	if ((rc = worker_daily_next(w, "jobs_purge", 4)) != XERR_OK)
		return rc;
	rc = jobs_purge(w->db, w->cfg, &deleted, &more);
	return worker_purged(w, job, rc, "done jobs", deleted,
	    w->cfg->job_retention_days, more, err, errsz);
}

/*
 * events_purge: the daily retention of stored Stripe events
 * (evstore_purge()), chained as jobs_purge is, at 05:00 UTC.
 */
static enum xerr
worker_events_purge(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	size_t		 deleted;
	int		 more;
	enum xerr	 rc;

	if ((rc = worker_daily_next(w, "events_purge", 5)) != XERR_OK)
		return rc;
	rc = evstore_purge(w->db, w->cfg, (int64_t)time(NULL), &deleted,
	    &more);
	return worker_purged(w, job, rc, "Stripe events", deleted,
	    w->cfg->event_retention_days, more, err, errsz);
}

/*
 * Applies the stored event id, kept unmatched for customer, if it still
 * is, and takes it off the list.
 */
static enum xerr
worker_replay_one(struct worker_ctx *w, const char *customer, const char *id,
    char *err, size_t errsz)
{
	struct event_replay_event ev;
	const char		*outcome;
	enum xerr		 rc;

	if ((rc = event_replay_get(w->db, id, &ev)) == XERR_NOTFOUND)
		rc = XERR_OK;
	else if (rc != XERR_OK)
		return rc;
	else if (strcmp(ev.status, "unmatched") == 0) {
		rc = evstore_apply(w->db, w->cfg, ev.payload, ev.len, 1,
		    &outcome, err, errsz);
		if (rc == XERR_OK)
			log_info("event %s replayed for customer %s: %s", id,
			    customer, outcome);
	}
	event_replay_clear(&ev);
	if (rc == XERR_OK)
		rc = event_replay_unmatched_done(w->db, id);
	return rc;
}

/*
 * replay_unmatched: applies, in the order Stripe created them, the events
 * stored unmatched for a customer that an event has since linked to a
 * user (docs/BILLING.md "Unmatched events", D5), as an operator's replay
 * would.  Each is taken off the list once applied; a failure leaves the
 * rest for the job's next attempt.  The list is read a page
 * (EVENT_REPLAY_PAGE) at a time, each after the last event read, until a
 * page is not full.  A run that has used its time (worker_budget_ms())
 * stops before the next event and queues its continuation at once
 * (replay_unmatched:<customer>:after:<job id>, this job's payload; a retry
 * of this job queues no second), which starts from the list's beginning:
 * what this run applied is off it.
 */
static enum xerr
worker_replay_unmatched(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	struct event_replay_id	*ids = NULL, last;
	const char		*customer = jsonx_str(job->payload, "customer");
	char			 key[256];
	int64_t			 t0 = worker_now_ms();
	size_t			 i, n, done = 0;
	int			 more = 0;
	enum xerr		 rc;

	if (customer == NULL) {
		snprintf(err, errsz, "payload lacks customer");
		return XERR_UNPROCESSABLE;
	}
	do {
		if ((rc = event_replay_unmatched(w->db, customer, done ?
		    &last : NULL, &ids, &n)))
			return rc;
		for (i = 0; rc == XERR_OK && i < n; i++) {
			if (done > 0 && worker_now_ms() - t0 >=
			    worker_budget_ms(w->cfg)) {
				more = 1;
				break;
			}
			if ((rc = worker_replay_one(w, customer, ids[i].id, err,
			    errsz)) == XERR_OK)
				done++;
		}
		if (n > 0)
			last = ids[n - 1];
		free(ids);
		ids = NULL;
	} while (rc == XERR_OK && !more && n == EVENT_REPLAY_PAGE);
	if (rc != XERR_OK || !more)
		return rc;
	log_info("customer %s: %zu unmatched events replayed; the rest by "
	    "another run, queued", customer, done);
	if ((size_t)snprintf(key, sizeof(key), "replay_unmatched:%s:after:%lld",
	    customer, job->id) >= sizeof(key)) {
		snprintf(err, errsz, "customer id too long for a job key");
		return XERR_UNPROCESSABLE;
	}
	return jobs_enqueue(w->db, "replay_unmatched", key, job->user_id[0] ?
	    job->user_id : NULL, job->payload);
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
 * number unless the tier allows one again or a grace still runs by the
 * database's clock (see phone_grace_release()).
 */
static enum xerr
worker_phone_release(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	return phone_grace_release(w->db, w->http, w->cfg, job, err, errsz);
}

/* A text's segments, asked of Twilio again (domain/phone.h). */
static enum xerr
worker_sms_segments(struct worker_ctx *w, struct job *job, char *err,
    size_t errsz)
{
	return phone_sms_segments_job(w->db, w->http, w->cfg, job, err, errsz);
}

void
worker_id_make(char *out, size_t outsz, const char *host, long pid)
{
	char		 p[24];
	size_t		 room, len = strlen(host);

	snprintf(p, sizeof(p), ":%ld", pid);
	room = WORKER_ID_MAX - strlen(p);
	if (len > room)
		host += len - room;
	snprintf(out, outsz, "%s%s", host, p);
}

void
worker_run(struct worker_ctx *w, struct job *job)
{
	char		*err = job->error;
	size_t		 i;
	enum xerr	 rc = XERR_INTERNAL;

	for (i = 0; i < WORKER_NRUNNERS; i++)
		if (strcmp(worker_runners[i].kind, job->kind) == 0)
			break;
	if (i == WORKER_NRUNNERS)
		snprintf(err, sizeof(job->error), "no runner for kind %s",
		    job->kind);
	else
		rc = worker_runners[i].run(w, job, err, sizeof(job->error));
	if ((job->failed = rc != XERR_OK) == 0)
		return;
	if (err[0] == '\0')
		snprintf(err, sizeof(job->error), "%s", xerr_code(rc));
	/* A request Stripe or Twilio refuses as such will not improve. */
	job->permanent = rc == XERR_UNPROCESSABLE || rc == XERR_BADREQ ||
	    rc == XERR_INTERNAL;
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
 * Reads the template and the user of a notify job into *tmpl and *uid
 * (borrowed from job).  XERR_UNPROCESSABLE (err says why) for an unknown
 * template or no user.
 */
static enum xerr
worker_notify_job(struct job *job, const char **tmpl, const char **uid,
    char *err, size_t errsz)
{
	*tmpl = jsonx_str(job->payload, "template");
	if (!notify_template_known(*tmpl)) {
		snprintf(err, errsz, "unknown notification template %.64s",
		    *tmpl != NULL ? *tmpl : "(none)");
		return XERR_UNPROCESSABLE;
	}
	*uid = job->user_id[0] != '\0' ? job->user_id :
	    jsonx_str(job->payload, "user_id");
	if (*uid == NULL || (*uid)[0] == '\0') {
		snprintf(err, errsz, "notification %s without a user", *tmpl);
		return XERR_UNPROCESSABLE;
	}
	return XERR_OK;
}

/*
 * Reads what is known of the message of job: *sent is 1 when it was sent
 * already (by a run that died before marking the job done), *tries the
 * attempts of one left "sending" (0 otherwise).
 */
static enum xerr
worker_notify_before(struct worker_ctx *w, const struct job *job, int *sent,
    long long *tries)
{
	struct notifications_state st;
	enum xerr	 rc;

	*sent = 0;
	*tries = 0;
	if ((rc = notifications_get(w->db, job->dedupe_key, &st)) ==
	    XERR_NOTFOUND)
		return XERR_OK;
	if (rc != XERR_OK)
		return rc;
	if (strcmp(st.state, "sent") == 0)
		*sent = 1;
	else if (strcmp(st.state, "sending") == 0)
		*tries = st.attempts;
	return XERR_OK;
}

/*
 * Sets the envelope of a message of tmpl to user uid: to (the user's
 * address at send time, not at the cause; OPERATOR_EMAIL for an
 * operator's notification, which then names the user in the payload's
 * user_email) and from (SMTP_FROM).  XERR_UNPROCESSABLE for a user gone or
 * without a usable address, XERR_CONFIG (retried, not dropped) for an
 * address of the configuration to fix; err says why.
 */
static enum xerr
worker_notify_envelope(struct worker_ctx *w, struct job *job,
    const char *tmpl, const char *uid, char *to, size_t tosz, char *from,
    size_t fromsz, char *err, size_t errsz)
{
	struct users_row	 user;
	const char		*email;
	int			 operator;
	enum xerr		 rc;

	if ((rc = users_by_id(w->db, uid, &user)) != XERR_OK &&
	    rc != XERR_NOTFOUND)
		return rc;
	email = rc == XERR_OK ? user.email : NULL;
	operator = strncmp(tmpl, "operator_", 9) == 0;
	if (email == NULL || (!operator && !smtp_addr_ok(email))) {
		snprintf(err, errsz, "notification %s: user %.64s %s", tmpl,
		    uid, email == NULL ? "not found" :
		    "has no usable e-mail address");
		return XERR_UNPROCESSABLE;
	}
	snprintf(to, tosz, "%.*s", (int)tosz - 1, email);
	/* An operator's notification names the user and goes elsewhere. */
	if (operator && jsonx_add_str(job->payload, "user_email", email))
		return XERR_NOMEM;
	if (operator && smtp_addr_spec(w->cfg->operator_email, to, tosz)) {
		snprintf(err, errsz, "OPERATOR_EMAIL holds no usable address");
		return XERR_CONFIG;
	}
	if (smtp_addr_spec(w->cfg->smtp_from, from, fromsz)) {
		snprintf(err, errsz, "SMTP_FROM holds no usable address");
		return XERR_CONFIG;
	}
	return XERR_OK;
}

/*
 * Renders the message of tmpl for job into txt (the caller clears it) and
 * msg: the tiers' display names added to the payload, the text, the
 * message with its headers.  XERR_UNPROCESSABLE (err says why) for a
 * message that cannot be built.
 */
static enum xerr
worker_notify_build(struct worker_ctx *w, struct job *job, const char *tmpl,
    const char *to, const char *msgid, struct notify_text *txt,
    struct buf *msg, char *err, size_t errsz)
{
	struct notify_mail	 m;
	enum xerr		 rc;

	if ((rc = worker_notify_tier_name(w, job->payload, "old_tier")) ||
	    (rc = worker_notify_tier_name(w, job->payload, "new_tier")))
		return rc;
	if ((rc = notify_render(tmpl, job->payload, w->cfg->app_url, txt,
	    err, errsz)))
		return rc;
	m.from = w->cfg->smtp_from;
	m.to = to;
	m.subject = txt->subject;
	m.body = txt->body;
	m.message_id = msgid;
	m.date = (int64_t)time(NULL);
	if ((rc = notify_message(&m, msg))) {
		snprintf(err, errsz, "notification %s: the message cannot be "
		    "built (%s)", tmpl, xerr_code(rc));
		if (rc == XERR_BADREQ || rc == XERR_TOOBIG)
			rc = XERR_UNPROCESSABLE;
	}
	return rc;
}

/*
 * Records the message as being sent, sends msg from from to to and
 * records the outcome.  tries is the attempts of an earlier run left
 * "sending".  Errors of smtp_send() (err says why), of the first record.
 */
static enum xerr
worker_notify_send(struct worker_ctx *w, const struct job *job,
    const char *tmpl, const char *uid, const char *msgid, const char *from,
    const char *to, const char *subject, const struct buf *msg,
    long long tries, char *err, size_t errsz)
{
	struct notifications_msg m;
	int		 unsure = 0;
	enum xerr	 rc;

	/* From here until `sent` is written, a crash means "maybe sent". */
	m.dedupe_key = job->dedupe_key;
	m.message_id = msgid;
	m.tmpl = tmpl;
	m.user_id = uid;
	m.recipient = to;
	m.subject = subject;
	m.job_id = job->id;
	if ((rc = notifications_begin(w->db, &m)))
		return rc;
	if (tries > 0)
		log_warnx("notify %s: %s again: an earlier attempt (of %lld) "
		    "may have reached the relay; the Message-ID is the same",
		    tmpl, msgid, tries);
	rc = smtp_send(w->cfg, from, to, buf_data(msg), buf_len(msg),
	    worker_notify_timeout(w->cfg), &unsure, err, errsz);
	if (rc != XERR_OK) {
		/* Left "sending" only when the relay may have taken it. */
		if (notifications_fail(w->db, job->dedupe_key,
		    rc != XERR_UPSTREAM ? "failed" : unsure ? "sending" :
		    "deferred", err))
			log_warnx("notify %s: %s: failure not recorded", tmpl,
			    msgid);
		return rc;
	}
	/*
	 * Either record stops a second send: this row, or the job marked
	 * done after we return.  Only when both writes are lost does the
	 * job run again and send again (same Message-ID).
	 */
	if (notifications_sent(w->db, job->dedupe_key) != XERR_OK)
		log_errorx("notify %s: %s sent but not recorded as sent",
		    tmpl, msgid);
	log_info("notify %s: sent %s to user %s", tmpl, msgid, uid);
	return XERR_OK;
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
	struct buf		*msg = NULL;
	const char		*tmpl, *uid;
	char			 msgid[NOTIFY_MSGID_SIZE];
	char			 from[SMTP_ADDR_MAX + 1], to[SMTP_ADDR_MAX + 1];
	long long		 tries = 0;
	int			 sent;
	enum xerr		 rc;

	memset(&txt, 0, sizeof(txt));
	if ((rc = worker_notify_job(job, &tmpl, &uid, err, errsz)))
		return rc;
	notify_message_id(job->dedupe_key, msgid);
	if ((rc = worker_notify_before(w, job, &sent, &tries)))
		return rc;
	if (sent) {
		log_info("notify %s: %s was sent already; not sending it "
		    "again", tmpl, msgid);
		return XERR_OK;
	}
	if ((rc = worker_notify_envelope(w, job, tmpl, uid, to, sizeof(to),
	    from, sizeof(from), err, errsz)))
		return rc;
	if ((msg = buf_new(NOTIFY_MESSAGE_MAX)) == NULL)
		return XERR_NOMEM;
	if ((rc = worker_notify_build(w, job, tmpl, to, msgid, &txt, msg, err,
	    errsz)) == XERR_OK)
		rc = worker_notify_send(w, job, tmpl, uid, msgid, from, to,
		    txt.subject, msg, tries, err, errsz);
	buf_free(msg);
	notify_text_clear(&txt);
	return rc;
}
