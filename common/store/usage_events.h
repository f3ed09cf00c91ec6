/*
 * usage_events: typed access to the usage ledger (sql/003_usage.sql,
 * reported_by from sql/011_audit.sql).  Only usage_events.c knows the
 * columns of the statements it runs (store/stmt.c: USAGE_INSERT,
 * USAGE_BY_KEY, USAGE_KIND_SUM, USAGE_SUM, and USAGE_SUMS_n, which reads
 * tier_history too); callers see the structs below, copied out, nothing
 * borrowed.  The rules of the ledger (who may
 * record, caps, idempotency) are domain/usage.c's; this file only reads
 * and writes rows.
 */
#ifndef USAGE_EVENTS_H
#define USAGE_EVENTS_H

#include <stdint.h>

#include "core/xerr.h"
#include "store/tier_history.h"

struct db;

/* One usage_events row; texts NUL-terminated (no column is NULL). */
struct usage_events_row {
	int64_t		 id;
	char		 user_id[65];
	char		 kind[9];		/* "voice" or "sms" */
	int64_t		 quantity;		/* seconds or messages */
	int64_t		 occurred_at;
	char		 source[33];
	char		 reported_by[65];
};

/* A user's usage over a period, as STMT_USAGE_SUM reads it. */
struct usage_events_sums {
	int64_t		 voice_seconds;
	int64_t		 voice_minutes;		/* per call, started minutes */
	int64_t		 calls;
	int64_t		 sms;
	int64_t		 phones;		/* numbers held in the period */
};

/*
 * Inserts one row.  XERR_DUP when idem_key is recorded already (nothing
 * written); errors of db_exec().  Checks nothing: the caller does.
 */
enum xerr	 usage_events_insert(struct db *db, const char *user_id,
		    const char *kind, int64_t quantity, int64_t occurred_at,
		    const char *source, const char *idem_key,
		    const char *reported_by);

/*
 * Reads the row recorded under idem_key into *row (the caller's; cleared
 * first).  XERR_NOTFOUND when there is none; XERR_DB when a text is
 * longer than its field (never, with the schema's widths); errors of
 * db_query().
 */
enum xerr	 usage_events_by_key(struct db *db, const char *idem_key,
		    struct usage_events_row *row);

/*
 * Sets *sum to user_id's total of kind over [start, end) as the bill
 * counts it (0 when none): the quantities, each call's rounded up to
 * whole minutes (in seconds).  Errors of db_query().
 */
enum xerr	 usage_events_kind_sum(struct db *db, const char *user_id,
		    const char *kind, int64_t start, int64_t end,
		    int64_t *sum);

/*
 * Fills *out with user_id's sums over [start, end) and the phone numbers
 * held in it, in one round trip.  Errors of db_query().
 */
enum xerr	 usage_events_sums(struct db *db, const char *user_id,
		    int64_t start, int64_t end,
		    struct usage_events_sums *out);

/* The most spans usage_events_sums_many() reads at once. */
#define USAGE_EVENTS_SUMS_MAX	16

/*
 * A user and a period [start, end), for usage_events_sums_many(), and the
 * subscription whose tier history to read with them (NULL for none).
 */
struct usage_events_span {
	const char	*user_id;
	int64_t		 start, end;
	const char	*subscription;
};

/*
 * Fills out[i] as usage_events_sums() does for spans[i], the n spans (1
 * to USAGE_EVENTS_SUMS_MAX, each of another user) in one round trip, and
 * reads in the same round trip the entries of the spans' subscriptions'
 * tier histories that took effect at hist_since or later into *hist (the
 * caller's, to free(); NULL when none), *nhist of them: each history in
 * order of effect (as tier_history_of() reads it), a row's slot the index
 * in spans of the first span naming its subscription.  XERR_INTERNAL for
 * n out of range or a user given twice; XERR_NOMEM; errors of
 * db_query().  Nothing is returned on an error.
 */
enum xerr	 usage_events_sums_many(struct db *db,
		    const struct usage_events_span *spans, size_t n,
		    int64_t hist_since, struct usage_events_sums *out,
		    struct tier_history_row **hist, size_t *nhist);

#endif
