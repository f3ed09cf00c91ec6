/*
 * notifications: typed access to the notifications table
 * (sql/005_notifications.sql), the record of each e-mail the worker sends
 * (app/worker.c, domain/notify.h): a message is "sending" from before the
 * SMTP transaction until it is "sent", "deferred" or "failed".  Only
 * notifications.c knows the columns of the statements it runs
 * (store/stmt.c).  Every function runs in the caller's transaction when
 * there is one.  Errors: those of db_query() and db_exec(); XERR_DB when
 * a stored text is longer than its field (never, with the schema's
 * widths).
 */
#ifndef NOTIFICATIONS_H
#define NOTIFICATIONS_H

#include "core/xerr.h"

struct db;

/* What is recorded of a message: its state and attempts. */
struct notifications_state {
	char		 state[17];	/* sending, deferred, sent, failed */
	long long	 attempts;	/* SMTP transactions started */
};

/*
 * Reads the record of the message of dedupe_key into *st (the caller's,
 * cleared first).  XERR_NOTFOUND when there is none.
 */
enum xerr	 notifications_get(struct db *db, const char *dedupe_key,
		    struct notifications_state *st);

/* The record of a message about to be sent (notifications_begin()). */
struct notifications_msg {
	const char	*dedupe_key;
	const char	*message_id;
	const char	*tmpl;
	const char	*user_id;
	const char	*recipient;
	const char	*subject;	/* stored cut to 500 characters */
	long long	 job_id;
};

/*
 * Records m as "sending" (a new row, or an attempt more of one not yet
 * sent; a sent one stays sent).  m is borrowed.
 */
enum xerr	 notifications_begin(struct db *db,
		    const struct notifications_msg *m);

/* Records the message of dedupe_key as sent now. */
enum xerr	 notifications_sent(struct db *db, const char *dedupe_key);

/*
 * Records a failed attempt of the message of dedupe_key: state
 * ("failed", "deferred" or "sending") unless it was sent, and error.
 */
enum xerr	 notifications_fail(struct db *db, const char *dedupe_key,
		    const char *state, const char *error);

#endif
