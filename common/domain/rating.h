/*
 * rating: the one place where usage becomes money (docs/BILLING.md).
 *
 * A subscription's period [start, end) is rated from its tier history (the
 * tiers its events say it granted, by their created time), the usage rows
 * that occurred in it and whether a number was held.  Rating a closed
 * period writes a frozen bill: its lines and the usage rows they cover;
 * nothing recomputes it.  The pure part (rating_stretches(), rating_calc())
 * takes arrays and is what the worked examples of docs/BILLING.md run.
 */
#ifndef RATING_H
#define RATING_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;
struct json_object;
struct tier_history_row;

/* Usage older than this before a period's start is no longer "late". */
#define RATING_LATE_SECONDS	(45 * 86400)

/* One change of tier: from at on, the allowances of the tier. */
struct rating_tier_at {
	int64_t		 at;
	int64_t		 voice_included;	/* minutes, MONEY_UNLIMITED */
	int64_t		 sms_included;		/* segments, MONEY_UNLIMITED */
	char		 tier[33];
};

/* A stretch [from, to) of a period in which one tier was in force. */
struct rating_stretch {
	int64_t		 from, to;
	int64_t		 voice_included;
	int64_t		 sms_included;
	char		 tier[33];
};

/* One usage row: voice (quantity in seconds, one call) or SMS (segments). */
struct rating_use {
	int64_t		 at;
	int64_t		 quantity;
	int		 voice;
};

/* What one kind comes to in a period. */
struct rating_kind {
	int64_t		 units;		/* billable: minutes or segments */
	int64_t		 allowance;	/* floor(sum a_i d_i / L) */
	int64_t		 over;		/* max(0, units - allowance) */
	int64_t		 cents;		/* over x rate, rounded half up */
};

/* The rating of one period. */
struct rating_calc {
	int64_t		 start, end;
	struct rating_kind voice, sms;
	int		 phone_held;
	int64_t		 phone_cents;
};

/* At most this many stretches (changes of tier or terms) in one period. */
#define RATING_STRETCHES_MAX	64

/*
 * Cuts [start, end) into the stretches of the tiers in force, from the
 * history h (n entries sorted by time, the order of the rule in
 * docs/BILLING.md): the tier at a moment is the latest entry at or before
 * it, before the first entry the first entry's.  Entries that change
 * neither the tier nor its terms (every subscription event writes one)
 * extend the stretch in force.  Writes at most max stretches to out and
 * returns their number; 0 when n is 0 or the period is empty; max + 1
 * when the period needs more than max (out is then no whole period).
 */
size_t		 rating_stretches(const struct rating_tier_at *h, size_t n,
		    int64_t start, int64_t end, struct rating_stretch *out,
		    size_t max);

/*
 * Rates the period [start, end) from its stretches and usage rows u (those
 * that belong to the period; a row in an unlimited stretch is free), and
 * phone (a number was held).  On success writes *out (zeroed on entry);
 * XERR_BADREQ for an empty period or a negative quantity,
 * XERR_UNPROCESSABLE on overflow.
 */
enum xerr	 rating_calc(int64_t start, int64_t end,
		    const struct rating_stretch *st, size_t nst,
		    const struct rating_use *u, size_t nu, int phone,
		    struct rating_calc *out);

/* What to rate: a period of a subscription. */
struct rating_req {
	const char	*subscription;
	int64_t		 start, end;	/* the period Stripe states */
	int64_t		 usage_end;	/* end, or ended_at of a final */
	int		 final;		/* 1: the subscription's last */
	const char	*invoice_id;	/* the renewal's invoice, or NULL */
};

/*
 * Rates q's period once: when a bill for it exists, *bill_id is that bill
 * and nothing is recomputed; else a bill is written with its lines, the
 * usage rows it covers and the adjustment lines of late usage of earlier
 * periods, in one transaction.  XERR_NOTFOUND (with err set) while the
 * subscription or its tier history is not known yet: try again later.
 * Database errors.
 */
enum xerr	 rating_rate(struct db *db, const struct rating_req *q,
		    int64_t *bill_id, char *err, size_t errsz);

/*
 * Computes what the period [start, end) of subscription sub would bill if
 * it were rated with the usage up to usage_end now, writing nothing.
 * XERR_NOTFOUND when the subscription has no tier history; database
 * errors.
 */
enum xerr	 rating_preview(struct db *db, const char *sub,
		    const char *user_id, int64_t start, int64_t end,
		    int64_t usage_end, struct rating_calc *out);

/*
 * rating_preview() of [start, end) with the usage of that whole range
 * summed already: voice_minutes (each call's started minutes), sms, and
 * whether a number was held (phone).  The tier history of sub is the
 * nhist entries of hist (tier_history_of()'s, read by the caller), or
 * read here when hist is NULL and nhist 0.  When a stretch of the period
 * has an unlimited allowance (usage in it is free, so rows must be told
 * apart by time), it is rating_preview() with usage_end = end.  Unlike
 * rating_preview(), it counts rows of the range that a bill of another
 * period covered, which only periods overlapping this one could hold.
 * Errors as rating_preview().
 */
enum xerr	 rating_preview_sums(struct db *db, const char *sub,
		    const char *user_id, const struct tier_history_row *hist,
		    size_t nhist, int64_t start, int64_t end,
		    int64_t voice_minutes, int64_t sms, int phone,
		    struct rating_calc *out);

/*
 * Sets *out to a JSON description of bills of user_id (caller puts): all,
 * or the one of the period starting at period_start when it is not 0, each
 * with its lines and computation.  Database errors.
 */
enum xerr	 rating_bills_json(struct db *db, const char *user_id,
		    int64_t period_start, struct json_object **out);

#endif
