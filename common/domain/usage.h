/*
 * usage: the usage ledger and what it costs.
 *
 * Usage is recorded once per idempotency key and never changed.  A
 * report sums one user's ledger over a billing period [start, end) and
 * counts the units over the allowance with money_bill(): voice per
 * started minute per call, SMS per message, the phone fee once for a
 * period in which a number was held.  Money only where a bill will charge
 * it: in a live subscription's period, the rating engine's figures; in the
 * calendar month (no live subscription, or its period does not hold the
 * moment), none.
 */
#ifndef USAGE_H
#define USAGE_H

#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"
#include "store/billing_reads.h"
#include "store/tier_history.h"
#include "store/usage_events.h"
#include "domain/money.h"

struct db;

struct usage_report {
	char		 tier[33];
	int64_t		 start, end;		/* the period, unix seconds */
	int64_t		 price_cents;		/* tier's monthly price, -1 custom */
	int64_t		 voice_seconds;		/* raw seconds */
	int64_t		 calls;
	struct money_usage use;			/* minutes, sms, allowances */
	struct money_bill bill;			/* overage and fee */
};

/*
 * Records usage of kind "voice" (quantity in seconds) or "sms" (messages)
 * under idem_key, reported by source itself (reported_by = source: the
 * rows of Twilio's callbacks).  *dup is set to 1 when the key was already recorded
 * (nothing new is written), else 0.  XERR_BADREQ for a bad kind or
 * quantity.
 */
enum xerr	 usage_record(struct db *db, const char *user_id,
		    const char *kind, int64_t quantity, int64_t occurred_at,
		    const char *source, const char *idem_key, int *dup);

/*
 * What usage_record_capped() found when it refused a report: the period
 * holding the report, the user's total of the kind in it before the
 * report, and the cap.
 */
struct usage_cap_hit {
	int		 over;		/* 1: refused, nothing stored */
	int64_t		 start, end;
	int64_t		 used, cap;
};

/*
 * Returns the cap of kind ("voice": USAGE_CAP_VOICE_SECONDS, "sms":
 * USAGE_CAP_SMS) per user and billing period; 0 is none.
 */
int64_t		 usage_cap(const struct cfg *cfg, const char *kind);

/*
 * Records a service's report as usage_record() does, noting the service
 * (reported_by: the token's userId), unless the user's total of kind in
 * the billing period holding occurred_at (the stored period, else
 * usage_period()), counted as the bill counts it (a call by its started
 * minutes), would pass usage_cap(): then nothing is stored, hit->over is 1 with the figures,
 * and a notify job of template operator_usage_cap tells the operators,
 * once per user, kind and period.  One transaction with the user's row
 * locked, so concurrent reports cannot pass the cap together; a key
 * recorded already is *dup (not counted again, whatever the cap).
 * XERR_NOTFOUND for an unknown user, XERR_BADREQ as usage_record().
 */
enum xerr	 usage_record_capped(struct db *db, const struct cfg *cfg,
		    const char *user_id, const char *kind, int64_t quantity,
		    int64_t occurred_at, const char *source,
		    const char *reported_by, const char *idem_key, int *dup,
		    struct usage_cap_hit *hit);

/*
 * The one period model (docs/BILLING.md).  A subscription is live when
 * its row is the user's, not deleted, and its status is neither
 * "canceled" nor "incomplete_expired".  The period holding at is the live
 * subscription's current period [start, end) when that is a period and
 * holds at, else the calendar month in UTC holding at.
 */
int		 usage_sub_live(const char *status, int deleted);

/* The same for the subscription a user's row follows (usage_sub_live()). */
int		 usage_row_live(const struct billing_reads_user *u);

/*
 * Returns in *start and *end the period holding at (the rule above): live
 * says whether the user has a live subscription, [sub_start, sub_end) its
 * current period (0 when unknown).  Returns 1 when that is the
 * subscription's period (the rating engine prices it), 0 for the month.
 */
int		 usage_period_pick(int live, int64_t sub_start,
		    int64_t sub_end, int64_t at, int64_t *start,
		    int64_t *end);

/*
 * Returns in *start and *end the period of user_id holding now
 * (usage_period_pick() over the subscription the user follows).
 * XERR_NOTFOUND for an unknown user.
 */
enum xerr	 usage_period(struct db *db, const char *user_id, int64_t now,
		    int64_t *start, int64_t *end);

/*
 * Fills *out for user_id on tier over the period holding at (the one
 * period model), reading the user's subscription once.  XERR_NOTFOUND for
 * an unknown user.
 */
enum xerr	 usage_report(struct db *db, const char *user_id,
		    const char *tier, int64_t at, struct usage_report *out);

/*
 * Fills *out as usage_report() does from sums already read (one read of
 * the caller's: GET /api/billing/usage).  rated_sub is the subscription
 * whose period [start, end) is, for the rating engine's allowance and
 * overage; NULL or "" for none: then the tier's allowance, the units over
 * it, and every cents field 0 (no bill prices that usage).  Its tier
 * history is the nhist entries of hist when the caller read it (NULL and
 * 0: read here).
 */
enum xerr	 usage_report_of(struct db *db, const char *user_id,
		    const char *tier, const char *rated_sub, int64_t start,
		    int64_t end, const struct usage_events_sums *sums,
		    const struct tier_history_row *hist, size_t nhist,
		    struct usage_report *out);

/*
 * Usage keys of the app live apart from Twilio's ("call:<CallSid>"), so a
 * client cannot collide with, or replay, a call's entry.
 */
#define USAGE_APP_KEY_PREFIX	"app:"

/* A service's report of usage (POST /api/usage), checked by its caller. */
struct usage_app_in {
	const char	*user_id;
	const char	*kind;			/* "voice" or "sms" */
	int64_t		 quantity;
	int64_t		 occurred_at;
	const char	*reported_by;		/* the service (token's userId) */
	const char	*key;			/* the client's idempotency key */
};

/* What usage_app_record() did. */
struct usage_app_out {
	int		 replayed;	/* 1: the key was recorded already */
	struct usage_events_row row;	/* the entry under the key */
	struct usage_cap_hit hit;	/* hit.over: refused, nothing stored */
	const char	*failed;	/* on another error: what (static) */
};

/*
 * Records a service's report (POST /api/usage): the user must exist (one
 * column read first), then usage_record_capped() under the client's key
 * (USAGE_APP_KEY_PREFIX before it, except a text keyed by its MessageSid,
 * "twilio:sms:SM..." or "MM...", which shares Twilio's own record of it:
 * domain/phone.h, phone_sms_record()), then the entry under the key is
 * read back.  The idempotency rule: a key recorded already replays its
 * entry when it is the same usage (user, kind and, but for a Twilio key
 * whose segments stand, quantity), else XERR_CONFLICT.  XERR_OK with
 * out->hit.over when the cap refused it; XERR_NOTFOUND for an unknown
 * user; other errors with out->failed naming the step.
 */
enum xerr	 usage_app_record(struct db *db, const struct cfg *cfg,
		    const struct usage_app_in *in, struct usage_app_out *out);

/*
 * Returns t one calendar month later (UTC), as Stripe's monthly periods
 * run: the same day of the next month, or its last day when it has fewer
 * (Jan 31 -> Feb 28, or 29).
 */
int64_t		 usage_add_month(int64_t t);

/* Returns the calendar month in UTC holding now. */
void		 usage_month(int64_t now, int64_t *start, int64_t *end);

#endif
