/*
 * tier_history: the tier each subscription event says its subscription
 * granted from its created time on (sql/009_billing.sql), recorded by the
 * webhook and read by the rating engine (docs/BILLING.md).  Only
 * tier_history.c knows the statements (store/stmt.c) and their columns,
 * but for the usage reader's, which reads histories with the sums
 * (usage_events_sums_many(), store/usage_events.h); readers see struct
 * tier_history_row, copied out.  Strings are borrowed
 * for the call.
 */
#ifndef TIER_HISTORY_H
#define TIER_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* One entry: the tier in force from effective_at. */
struct tier_history_row {
	char		 tier[33];
	int64_t		 effective_at;
	size_t		 slot;		/* usage_events_sums_many()'s */
};

/*
 * Records that event_id (of rank event_rank) says subscription sub of
 * user_id grants tier from effective_at on; once per event.  Errors of
 * db_exec().
 */
enum xerr	 tier_history_insert(struct db *db, const char *event_id,
		    const char *sub, const char *user_id, const char *tier,
		    int64_t effective_at, int event_rank);

/*
 * Reads the history of subscription in order of effect into *rows (the
 * caller's, to free(); NULL when none) and their number into *n.
 * XERR_NOMEM; errors of db_query().
 */
enum xerr	 tier_history_of(struct db *db, const char *subscription,
		    struct tier_history_row **rows, size_t *n);

#endif
