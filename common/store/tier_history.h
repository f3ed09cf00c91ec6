/*
 * tier_history: the tier each subscription event says its subscription
 * granted from its created time on (sql/009_billing.sql), recorded by the
 * webhook for the rating engine (docs/BILLING.md).  Only tier_history.c
 * knows its statement (store/stmt.c).  Strings are borrowed for the call.
 */
#ifndef TIER_HISTORY_H
#define TIER_HISTORY_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Records that event_id (of rank event_rank) says subscription sub of
 * user_id grants tier from effective_at on; once per event.  Errors of
 * db_exec().
 */
enum xerr	 tier_history_insert(struct db *db, const char *event_id,
		    const char *sub, const char *user_id, const char *tier,
		    int64_t effective_at, int event_rank);

#endif
