/*
 * unmatched_events: the events stored "unmatched", kept by customer until
 * a user is linked to it (sql/009_billing.sql, docs/BILLING.md).  Only
 * unmatched_events.c knows its statements (store/stmt.c).  Strings given
 * are borrowed for the call.
 */
#ifndef UNMATCHED_EVENTS_H
#define UNMATCHED_EVENTS_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Keeps event_id (created at created) aside for customer, once.  Errors
 * of db_exec().
 */
enum xerr	 unmatched_events_insert(struct db *db, const char *event_id,
		    const char *customer, int64_t created);

/*
 * Sets *any to 1 when an event is kept for customer, else 0.  Errors of
 * db_query().
 */
enum xerr	 unmatched_events_any(struct db *db, const char *customer,
		    int *any);

#endif
