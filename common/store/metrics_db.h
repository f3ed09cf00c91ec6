/*
 * metrics_db: the series of GET /metrics counted in the database at
 * scrape time: stored Stripe events by type and status (the rollup's
 * counts plus the events changed since), the job queue by kind and state,
 * notifications by template and state (counted the same way, 013); and
 * that rollup; and the webhook's batches counting their events as they
 * store them (014).
 */
#ifndef METRICS_DB_H
#define METRICS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct buf;
struct db;

/*
 * Shards of metrics_event_counts (sql/014): 0 is the rollup's, 1 .. 63
 * the committers' (each draws one when it starts).
 */
#define METRICS_DB_SHARDS	64

/* Stripe events of one type and status to count; the strings borrowed. */
struct metrics_db_count {
	const char	*type;
	const char	*status;
	int64_t		 n;
};

/*
 * Adds one event of type and status (borrowed) to the nc pairs of counts,
 * which has room for one more; returns the number of pairs.  A linear
 * search: a batch's or a chunk's pairs are few.
 */
size_t		 metrics_db_tally(struct metrics_db_count *counts, size_t nc,
		    const char *type, const char *status);

/*
 * Appends the series counted in the database to out.  A query that fails
 * leaves its series out; XERR_DB_GONE (and the like) is returned only
 * when the first query fails, and then nothing was appended.
 */
enum xerr	 metrics_db_render(struct db *db, struct buf *out);

/*
 * Rolls the Stripe events not counted as they stand (new, or their
 * status changed) into metrics_event_counts (sql/012_metrics_rollup.sql),
 * and the notifications likewise into metrics_notification_counts
 * (sql/013_metrics_notifications.sql), up to chunk of each in one
 * transaction; *rolled is how many (of the two, the larger).  A caller
 * with a backlog calls again while *rolled == chunk.  Several workers may
 * run it at once: their runs take turns.  Errors of db_begin(), db_exec(),
 * db_commit() (a deadlock is tried again up to DB_TRIES times).
 */
enum xerr	 metrics_db_rollup(struct db *db, size_t chunk, size_t *rolled);

/*
 * Adds the n counts of c (distinct pairs) to shard's row of each pair,
 * inside the caller's transaction (the one storing those events with
 * stripe_events_insert_rows()), which rolls back on an error.
 * XERR_INTERNAL for a shard out of 1 .. METRICS_DB_SHARDS - 1 or outside
 * a transaction; errors of db_exec().
 */
enum xerr	 metrics_db_count(struct db *db, unsigned int shard,
		    const struct metrics_db_count *c, size_t n);

/*
 * Takes the n counts of c (distinct pairs) off the rollup's shard (0),
 * inside the caller's transaction (the one deleting those events, each
 * counted under its metrics_status), which rolls back on an error; a
 * shard's n may then be negative, the sum over shards stays right.
 * XERR_INTERNAL outside a transaction; errors of db_exec().
 */
enum xerr	 metrics_db_uncount(struct db *db,
		    const struct metrics_db_count *c, size_t n);

#endif
