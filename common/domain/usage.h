/*
 * usage: the usage ledger and what it costs.
 *
 * Usage is recorded once per idempotency key and never changed.  A
 * report sums one user's ledger over a billing period [start, end) and
 * prices it with money_bill(): voice per started minute per call, SMS per
 * message, the phone fee once for a period in which a number was held.
 */
#ifndef USAGE_H
#define USAGE_H

#include <stdint.h>

#include "core/xerr.h"
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
 * under idem_key.  *dup is set to 1 when the key was already recorded
 * (nothing new is written), else 0.  XERR_BADREQ for a bad kind or
 * quantity.
 */
enum xerr	 usage_record(struct db *db, const char *user_id,
		    const char *kind, int64_t quantity, int64_t occurred_at,
		    const char *source, const char *idem_key, int *dup);

/*
 * Returns in *start and *end the billing period of user_id that holds now:
 * the subscription's cycle when it covers now, else the calendar month in
 * UTC.  XERR_NOTFOUND for an unknown user.
 */
enum xerr	 usage_period(struct db *db, const char *user_id, int64_t now,
		    int64_t *start, int64_t *end);

/* Fills *out for user_id on tier over [start, end). */
enum xerr	 usage_report(struct db *db, const char *user_id,
		    const char *tier, int64_t start, int64_t end,
		    struct usage_report *out);

/* Returns the calendar month in UTC holding now. */
void		 usage_month(int64_t now, int64_t *start, int64_t *end);

#endif
