/*
 * metrics_db: the series of GET /metrics counted in the database at
 * scrape time: stored Stripe events by type and status, the job queue by
 * kind and state, notifications by template and state.
 */
#ifndef METRICS_DB_H
#define METRICS_DB_H

#include "core/xerr.h"

struct buf;
struct db;

/*
 * Appends the series counted in the database to out.  A query that fails
 * leaves its series out; XERR_DB_GONE (and the like) is returned only
 * when the first query fails, and then nothing was appended.
 */
enum xerr	 metrics_db_render(struct db *db, struct buf *out);

#endif
