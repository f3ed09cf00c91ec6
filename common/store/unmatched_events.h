/*
 * unmatched_events: the events stored "unmatched", kept by customer until
 * a user is linked to it (sql/009_billing.sql, docs/BILLING.md).  Only
 * unmatched_events.c knows its statements (store/stmt.c).  Strings given
 * are borrowed for the call.
 */
#ifndef UNMATCHED_EVENTS_H
#define UNMATCHED_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Keeps event_id (created at created) aside for customer, once.  Errors
 * of db_exec().
 */
enum xerr	 unmatched_events_insert(struct db *db, const char *event_id,
		    const char *customer, int64_t created);

/* An event kept aside for its customer (the strings are borrowed). */
struct unmatched_events_row {
	const char	*event_id;
	const char	*customer;
	int64_t		 created;
};

/*
 * Keeps the n rows of rows aside, each once, up to 16 an execution
 * (db_exec_rows()), inside the caller's transaction.  Errors of
 * db_exec_rows(), XERR_NOMEM.
 */
enum xerr	 unmatched_events_insert_rows(struct db *db,
		    const struct unmatched_events_row *rows, size_t n);

/*
 * Sets *any to 1 when an event is kept for customer, else 0.  Errors of
 * db_query().
 */
enum xerr	 unmatched_events_any(struct db *db, const char *customer,
		    int *any);

#endif
