/*
 * metrics_db: the series of GET /metrics counted in the database at
 * scrape time: stored Stripe events by type and status (the rollup's
 * counts plus the events changed since), the job queue by kind and state,
 * notifications by template and state (counted the same way, 013); and
 * that rollup.
 */
#ifndef METRICS_DB_H
#define METRICS_DB_H

#include <stddef.h>

#include "core/xerr.h"

struct buf;
struct db;

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

#endif
