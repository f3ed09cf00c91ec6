/*
 * call_events: typed access to the call_events table (sql/003_usage.sql),
 * one row per (call, status) Twilio reported.  Only call_events.c knows
 * the statement (store/stmt.c) and its argument order; callers pass
 * values, nothing is kept.
 */
#ifndef CALL_EVENTS_H
#define CALL_EVENTS_H

#include <stddef.h>

#include "core/xerr.h"

struct db;

/* One status of a call, as Twilio said it (texts borrowed from the caller). */
struct call_events_row {
	const char	*user_id;
	const char	*call_sid;
	const char	*status;
	long long	 duration;		/* < 0: NULL, not said */
};

/*
 * Inserts the status of call_sid for user_id, duration in seconds (< 0:
 * NULL, not said); a (call, status) stored already is left as it is and
 * is no error.  Errors of db_exec().
 */
enum xerr	 call_events_insert(struct db *db, const char *user_id,
		    const char *call_sid, const char *status,
		    long long duration);

/*
 * Inserts the n rows as call_events_insert() does each, up to 16 a
 * statement (db_exec_rows()).  Only inside a transaction: on an error
 * some rows may have been written, and the caller rolls back.  Errors of
 * db_exec_rows(), XERR_NOMEM.
 */
enum xerr	 call_events_insert_rows(struct db *db,
		    const struct call_events_row *rows, size_t n);

#endif
