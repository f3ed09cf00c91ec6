/*
 * tier_history: typed access to the tiers a subscription had and when
 * each took effect (sql/009_billing.sql), as the rating engine reads them
 * (STMT_RATING_HISTORY).  Only tier_history.c knows its columns; callers
 * see struct tier_history_row, copied out.  The writes stay with the
 * webhook's appliers.
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
};

/*
 * Reads the history of subscription in order of effect into *rows (the
 * caller's, to free(); NULL when none) and their number into *n.
 * XERR_NOMEM; errors of db_query().
 */
enum xerr	 tier_history_of(struct db *db, const char *subscription,
		    struct tier_history_row **rows, size_t *n);

#endif
