#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/billing_periods.h"
#include "store/billing_reads.h"
#include "store/users.h"
#include "store/usage_events.h"
#include "remote/twilio.h"
#include "domain/jobs.h"
#include "domain/money.h"
#include "domain/rating.h"
#include "domain/tiers.h"
#include "domain/usage.h"

/* Inserts one usage row; *dup when idem_key is recorded already. */
static enum xerr
usage_insert(struct db *db, const char *user_id, const char *kind,
    int64_t quantity, int64_t occurred_at, const char *source,
    const char *reported_by, const char *idem_key, int *dup)
{
	enum xerr	 rc;

	*dup = 0;
	if ((strcmp(kind, "voice") && strcmp(kind, "sms")) || quantity < 0 ||
	    quantity > 1000000000LL || occurred_at <= 0)
		return XERR_BADREQ;
	rc = usage_events_insert(db, user_id, kind, quantity, occurred_at,
	    source, idem_key, reported_by);
	if (rc == XERR_DUP) {
		*dup = 1;
		return XERR_OK;
	}
	return rc;
}

int64_t
usage_add_month(int64_t t)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int		 y, m, last;

	gmtime_r(&tt, &tm);
	if (++tm.tm_mon == 12) {
		tm.tm_mon = 0;
		tm.tm_year++;
	}
	/* Jan 31 + a month is Feb 28 (29 in a leap year), as at Stripe. */
	y = tm.tm_year + 1900;
	m = tm.tm_mon;
	last = days[m] + (m == 1 && ((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0));
	if (tm.tm_mday > last)
		tm.tm_mday = last;
	return (int64_t)timegm(&tm);
}

enum xerr
usage_record(struct db *db, const char *user_id, const char *kind,
    int64_t quantity, int64_t occurred_at, const char *source,
    const char *idem_key, int *dup)
{
	return usage_insert(db, user_id, kind, quantity, occurred_at, source,
	    source, idem_key, dup);
}

int64_t
usage_cap(const struct cfg *cfg, const char *kind)
{
	if (strcmp(kind, "voice") == 0)
		return (int64_t)cfg->usage_cap_voice_seconds;
	if (strcmp(kind, "sms") == 0)
		return (int64_t)cfg->usage_cap_sms;
	return 0;
}

/*
 * What a report of quantity counts against its cap: as the bill counts
 * it, a call by its started minutes (in seconds), else the quantity.  A
 * cap of seconds summed would let 1-second calls bill 60 times it.
 */
static int64_t
usage_cap_units(const char *kind, int64_t quantity)
{
	if (strcmp(kind, "voice") == 0)
		return money_voice_minutes(quantity) * 60;
	return quantity;
}

/* Queues the operators' notice of a refused report, in the transaction. */
static enum xerr
usage_cap_notify(struct db *db, const char *user_id, const char *kind,
    int64_t quantity, const struct usage_cap_hit *hit)
{
	struct json_object	*f;
	char			 subject[160];
	int			 bad;
	enum xerr		 rc;

	if ((f = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	bad = jsonx_add_str(f, "kind", kind);
	bad |= jsonx_add_int(f, "quantity", quantity);
	bad |= jsonx_add_int(f, "used", hit->used);
	bad |= jsonx_add_int(f, "cap", hit->cap);
	bad |= jsonx_add_int(f, "period_start", hit->start);
	bad |= jsonx_add_int(f, "period_end", hit->end);
	snprintf(subject, sizeof(subject), "%s:%s:%lld", user_id, kind,
	    (long long)hit->start);
	rc = bad ? XERR_NOMEM : jobs_notify(db, user_id, "operator_usage_cap",
	    subject, f);
	json_object_put(f);
	return rc;
}

/*
 * The window a report at `at` is capped in: the stored billing period
 * holding it, the one its bill will count it in (a report backdated into
 * the last period is capped with that period's usage, not the calendar
 * month's); else the period model of usage_period() (no period stored:
 * the live subscription's, or the calendar month).
 */
static enum xerr
usage_cap_window(struct db *db, const char *user_id, int64_t at,
    int64_t *start, int64_t *end)
{
	int		 found;
	enum xerr	 rc;

	if ((rc = billing_periods_of_user_at(db, user_id, at, start, end,
	    &found)) || found)
		return rc;
	return usage_period(db, user_id, at, start, end);
}

/* One run of usage_record_capped()'s transaction. */
static enum xerr
usage_capped_once(struct db *db, const struct cfg *cfg, const char *user_id,
    const char *kind, int64_t quantity, int64_t occurred_at,
    const char *source, const char *reported_by, const char *idem_key,
    int *dup, struct usage_cap_hit *hit)
{
	struct usage_events_row row;
	struct users_lock_row locked;
	enum xerr	 rc;

	*dup = 0;
	memset(hit, 0, sizeof(*hit));
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = users_lock(db, user_id, &locked)) != XERR_OK)
		goto fail;
	if ((rc = usage_events_by_key(db, idem_key, &row)) == XERR_OK) {
		*dup = 1;
		return db_commit(db);
	}
	if (rc != XERR_NOTFOUND)
		goto fail;
	if ((hit->cap = usage_cap(cfg, kind)) > 0) {
		if ((rc = usage_cap_window(db, user_id, occurred_at,
		    &hit->start, &hit->end)) != XERR_OK)
			goto fail;
		if ((rc = usage_events_kind_sum(db, user_id, kind, hit->start,
		    hit->end, &hit->used)) != XERR_OK)
			goto fail;
		if (usage_cap_units(kind, quantity) > hit->cap - hit->used) {
			hit->over = 1;
			if ((rc = usage_cap_notify(db, user_id, kind, quantity,
			    hit)) != XERR_OK)
				goto fail;
			return db_commit(db);
		}
		/*
		 * The sum was read under the user's lock, which another
		 * Galera node does not see: writing the row makes two
		 * reports that both fit conflict at COMMIT (the second is
		 * retried, reads the new sum).
		 */
		if ((rc = users_touch(db, user_id)) != XERR_OK)
			goto fail;
	}
	if ((rc = usage_insert(db, user_id, kind, quantity, occurred_at,
	    source, reported_by, idem_key, dup)) != XERR_OK)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return rc;
}

enum xerr
usage_record_capped(struct db *db, const struct cfg *cfg, const char *user_id,
    const char *kind, int64_t quantity, int64_t occurred_at,
    const char *source, const char *reported_by, const char *idem_key,
    int *dup, struct usage_cap_hit *hit)
{
	enum xerr	 rc;
	int		 i;

	for (i = 0; i < DB_TRIES; i++) {
		if (i > 0)
			db_retry_pause();
		rc = usage_capped_once(db, cfg, user_id, kind, quantity,
		    occurred_at, source, reported_by, idem_key, dup, hit);
		if (rc != XERR_DEADLOCK)
			break;
	}
	return rc;
}

/*
 * Writes to skey the ledger's key of a client's key for kind; returns 1
 * when it is Twilio's key of a text (usage_app_record()).
 */
static int
usage_app_key(const char *kind, const char *key, char *skey, size_t sz)
{
	int	 twkey;

	twkey = strcmp(kind, "sms") == 0 && strncmp(key, "twilio:sms:", 11) ==
	    0 && (twilio_sid_valid(key + 11, "SM") ||
	    twilio_sid_valid(key + 11, "MM"));
	snprintf(skey, sz, "%s%s", twkey ? "" : USAGE_APP_KEY_PREFIX, key);
	return twkey;
}

enum xerr
usage_app_record(struct db *db, const struct cfg *cfg,
    const struct usage_app_in *in, struct usage_app_out *out)
{
	char		 skey[sizeof(USAGE_APP_KEY_PREFIX) + 256];
	int64_t		 version;
	int		 twkey, same;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	twkey = usage_app_key(in->kind, in->key, skey, sizeof(skey));
	/* The user exists (one column). */
	out->failed = "looking up the user";
	if ((rc = users_jwt_version(db, in->user_id, &version)) != XERR_OK)
		return rc;
	/* Least privilege: attributed to the service, bounded per period. */
	out->failed = "recording usage";
	if ((rc = usage_record_capped(db, cfg, in->user_id, in->kind,
	    in->quantity, in->occurred_at, "app", in->reported_by, skey,
	    &out->replayed, &out->hit)) != XERR_OK || out->hit.over)
		return rc;
	out->failed = "reading usage";
	if ((rc = usage_events_by_key(db, skey, &out->row)) != XERR_OK)
		return rc == XERR_NOTFOUND ? XERR_INTERNAL : rc;
	out->failed = NULL;
	same = strcmp(out->row.user_id, in->user_id) == 0 &&
	    strcmp(out->row.kind, in->kind) == 0 &&
	    (twkey || out->row.quantity == in->quantity);
	if (out->replayed && !same)
		return XERR_CONFLICT;
	return XERR_OK;
}

void
usage_month(int64_t now, int64_t *start, int64_t *end)
{
	time_t		 t = (time_t)now;
	struct tm	 tm;

	gmtime_r(&t, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	*start = (int64_t)timegm(&tm);
	tm.tm_mon++;
	*end = (int64_t)timegm(&tm);
}

int
usage_sub_live(const char *status, int deleted)
{
	return status != NULL && !deleted &&
	    strcmp(status, "canceled") != 0 &&
	    strcmp(status, "incomplete_expired") != 0;
}

int
usage_row_live(const struct billing_reads_user *u)
{
	return !(u->nulls & BILLING_READS_NULL_STATUS) &&
	    usage_sub_live(u->status, u->deleted);
}

int
usage_period_pick(int live, int64_t sub_start, int64_t sub_end, int64_t at,
    int64_t *start, int64_t *end)
{
	if (live && sub_start > 0 && sub_end > sub_start && at >= sub_start &&
	    at < sub_end) {
		*start = sub_start;
		*end = sub_end;
		return 1;
	}
	usage_month(at, start, end);
	return 0;
}

/*
 * Reads what the period model needs of user_id (billing_reads_user()):
 * whether their subscription is live and its period.
 */
static enum xerr
usage_sub_of(struct db *db, const char *user_id, int *live, int64_t *s,
    int64_t *e, char *sub, size_t subsz)
{
	struct billing_reads_user u;
	enum xerr	 rc;

	if ((rc = billing_reads_user(db, user_id, &u)) != XERR_OK)
		return rc;
	*live = usage_row_live(&u);
	*s = u.period_start;
	*e = u.period_end;
	snprintf(sub, subsz, "%s", *live ? u.subscription_id : "");
	return XERR_OK;
}

enum xerr
usage_period(struct db *db, const char *user_id, int64_t now,
    int64_t *start, int64_t *end)
{
	char		 sub[256];
	int64_t		 s, e;
	int		 live;
	enum xerr	 rc;

	if ((rc = usage_sub_of(db, user_id, &live, &s, &e, sub,
	    sizeof(sub))) != XERR_OK)
		return rc;
	usage_period_pick(live, s, e, now, start, end);
	return XERR_OK;
}

/*
 * Replaces the allowances and overage of out with the rating engine's for
 * the subscription's period [start, end), with the usage recorded so far
 * (docs/BILLING.md): the allowance of every tier in force by its share.
 */
static enum xerr
usage_rated(struct db *db, const char *user_id, const char *sub,
    const struct tier_history_row *hist, size_t nhist,
    struct usage_report *out)
{
	struct rating_calc r;
	enum xerr	 rc;

	/*
	 * Every row recorded for the period so far, this second's too: the
	 * sums out holds, read over the whole period.
	 */
	if ((rc = rating_preview_sums(db, sub, user_id, hist, nhist,
	    out->start, out->end, out->use.voice_minutes, out->use.sms,
	    out->use.phone_periods > 0, &r)) != XERR_OK)
		return rc == XERR_NOTFOUND ? XERR_OK : rc;
	if (out->use.voice_included != MONEY_UNLIMITED)
		out->use.voice_included = r.voice.allowance;
	if (out->use.sms_included != MONEY_UNLIMITED)
		out->use.sms_included = r.sms.allowance;
	/*
	 * The units the bill counts (usage in an unlimited stretch is
	 * free) and the engine's phone fee (a number held at any moment of
	 * the period, whatever the tier now), as the bill will have them.
	 */
	out->use.voice_minutes = r.voice.units;
	out->use.sms = r.sms.units;
	out->use.phone_periods = r.phone_held ? 1 : 0;
	out->bill.voice_units = r.voice.over;
	out->bill.voice_cents = r.voice.cents;
	out->bill.sms_units = r.sms.over;
	out->bill.sms_cents = r.sms.cents;
	out->bill.phone_cents = r.phone_cents;
	out->bill.total_cents = r.voice.cents + r.sms.cents + r.phone_cents;
	return XERR_OK;
}

enum xerr
usage_report_of(struct db *db, const char *user_id, const char *tier,
    const char *rated_sub, int64_t start, int64_t end,
    const struct usage_events_sums *sums, const struct tier_history_row *hist,
    size_t nhist, struct usage_report *out)
{
	struct tiers_row t;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->tier, sizeof(out->tier), "%s", tier);
	out->start = start;
	out->end = end;

	if ((rc = tiers_load(db, tier, &t)) != XERR_OK) {
		if (rc == XERR_NOTFOUND) {
			log_errorx("usage: unknown tier %s", tier);
			rc = XERR_INTERNAL;
		}
		return rc;
	}
	out->price_cents = t.price_cents;
	out->use.voice_included = t.voice_included;
	out->use.sms_included = t.sms_included;
	out->use.phone_fee_cents = t.phone_fee_cents;

	out->voice_seconds = sums->voice_seconds;
	out->use.voice_minutes = sums->voice_minutes;
	out->calls = sums->calls;
	out->use.sms = sums->sms;
	out->use.phone_periods = sums->phones > 0 ? 1 : 0;
	if ((rc = money_bill(&out->use, &out->bill)) != XERR_OK)
		return rc;
	/* The period of a live subscription: the engine's allowance. */
	if (rated_sub != NULL && rated_sub[0] != '\0')
		return usage_rated(db, user_id, rated_sub, hist, nhist, out);
	/*
	 * The calendar month: no bill prices it (docs/BILLING.md), so the
	 * units over the tier's allowance are shown at no money.
	 */
	out->bill.voice_cents = out->bill.sms_cents = 0;
	out->bill.phone_cents = out->bill.total_cents = 0;
	return XERR_OK;
}

enum xerr
usage_report(struct db *db, const char *user_id, const char *tier,
    int64_t at, struct usage_report *out)
{
	struct usage_events_sums sums;
	char		 sub[256];
	int64_t		 s, e, start, end;
	int		 live;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	if ((rc = usage_sub_of(db, user_id, &live, &s, &e, sub,
	    sizeof(sub))) != XERR_OK)
		return rc;
	/* The subscription the engine prices, when this is its period. */
	if (!usage_period_pick(live, s, e, at, &start, &end))
		sub[0] = '\0';
	if ((rc = usage_events_sums(db, user_id, start, end, &sums)) !=
	    XERR_OK)
		return rc;
	return usage_report_of(db, user_id, tier, sub, start, end, &sums,
	    NULL, 0, out);
}
