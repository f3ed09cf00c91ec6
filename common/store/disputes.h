/*
 * disputes: the disputes of our users' charges (sql/007_payments.sql).
 * Only disputes.c knows the columns of its statements (store/stmt.c).
 * Strings given are borrowed for the call; a row read is the caller's,
 * copied out.
 */
#ifndef DISPUTES_H
#define DISPUTES_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/* A dispute as its lock reads it. */
struct disputes_lock_row {
	int		 is_open;		/* 0 or 1 */
	char		 status[33];
};

/*
 * Reads and locks (FOR UPDATE) dispute id into *row (cleared first).
 * XERR_NOTFOUND when there is none; XERR_DB when the status is longer
 * than its field; errors of db_query().
 */
enum xerr	 disputes_lock(struct db *db, const char *id,
		    struct disputes_lock_row *row);

/* A dispute to insert; charge_id, reason, closed_event_id may be NULL. */
struct disputes_row {
	const char	*id;
	const char	*user_id;
	const char	*charge_id;
	int64_t		 amount;
	const char	*currency;
	const char	*reason;
	const char	*status;
	int		 is_open;
	int64_t		 created;
	const char	*closed_event_id;
};

/* Inserts the dispute d.  Errors of db_exec() (XERR_DUP when there). */
enum xerr	 disputes_insert(struct db *db, const struct disputes_row *d);

/*
 * Closes dispute id when it is open: its status, its reason when reason
 * is not NULL, and the event that closed it.  Errors of db_exec().
 */
enum xerr	 disputes_close(struct db *db, const char *id,
		    const char *status, const char *reason,
		    const char *closed_event_id);

#endif
