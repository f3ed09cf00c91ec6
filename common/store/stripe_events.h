/*
 * stripe_events: typed access to the stored Stripe events
 * (sql/002_webhook.sql) as the webhook stores them (domain/evstore.c):
 * each event's row with its outcome, the failure recorded apart, the
 * status read back.  Only stripe_events.c knows the columns of its
 * statements (store/stmt.c).
 *
 * A struct stripe_events_row given to a write is the caller's and only
 * borrowed for the call.  What is read (a status, the rows of
 * stripe_events_status_of()) is copied into the caller's buffers; the
 * rows of stripe_events_old() are a new array the caller frees.
 * Errors: those of db_exec() and db_query(); XERR_DB when a stored text is
 * longer than its field (never, with the schema's widths).
 */
#ifndef STRIPE_EVENTS_H
#define STRIPE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Most ids stripe_events_status_of() reads in one statement. */
#define STRIPE_EVENTS_STATUS_IDS	16

/*
 * An event's row to write.  api_version, object_id and user_id may be
 * NULL; payload is len bytes, stored as is.
 */
struct stripe_events_row {
	const char	*id;
	const char	*type;
	const char	*api_version;
	int		 livemode;		/* 0 or 1 */
	int64_t		 created;
	const char	*object_id;
	const char	*payload;
	size_t		 len;
	const char	*status;
	const char	*user_id;
};

/* Inserts r, processed now.  XERR_DUP when the event is stored already. */
enum xerr	 stripe_events_insert(struct db *db,
		    const struct stripe_events_row *r);

/*
 * Inserts the n rows of rows (their ids distinct), up to 16 an execution
 * (db_exec_rows()), inside the caller's transaction, which rolls back on
 * an error: XERR_DUP when one of them is stored already.  XERR_NOMEM.
 * The rows are stored counted for /metrics (sql/014): the caller adds
 * them to the counts in the same transaction (metrics_db_count()).
 */
enum xerr	 stripe_events_insert_rows(struct db *db,
		    const struct stripe_events_row *rows, size_t n);

/*
 * Writes the outcome of an event applied again: its status and user
 * (user_id may be NULL), no error, one attempt more.
 */
enum xerr	 stripe_events_finish(struct db *db, const char *id,
		    const char *status, const char *user_id);

/*
 * Records a failed attempt of r's event (r->status and r->user_id are not
 * written) with error (cut to 1000 characters): inserted "failed", or
 * one attempt more and the new error when it is stored "failed" already;
 * a row with another status is kept as it is.
 */
enum xerr	 stripe_events_fail(struct db *db,
		    const struct stripe_events_row *r, const char *error);

/*
 * Reads the status of the event id into status (17 bytes).
 * XERR_NOTFOUND (status "") when it is not stored.
 */
enum xerr	 stripe_events_status(struct db *db, const char *id,
		    char status[17]);

/* As stripe_events_status(), locking the row (FOR UPDATE). */
enum xerr	 stripe_events_lock_status(struct db *db, const char *id,
		    char status[17]);

/* The status of one stored event. */
struct stripe_events_status_row {
	char		 id[256];
	char		 status[17];
};

/*
 * Reads (and locks) in one statement the status of those of the n ids
 * (at most STRIPE_EVENTS_STATUS_IDS) that are stored, into rows (the
 * caller's, cap of them); *nrows is how many.  XERR_INTERNAL when n is
 * over STRIPE_EVENTS_STATUS_IDS; XERR_DB when more than cap come back
 * (never with cap >= n: the id is the key).
 */
enum xerr	 stripe_events_status_of(struct db *db,
		    const char *const *ids, size_t n,
		    struct stripe_events_status_row *rows, size_t cap,
		    size_t *nrows);

/* An old event the purge may delete: what it is counted as for /metrics. */
#define STRIPE_EVENTS_OLD_UNCOUNTED	0x1u	/* metrics_status NULL */
struct stripe_events_old_row {
	char		 id[256];
	char		 type[129];
	char		 metrics_status[17];
	unsigned int	 nulls;		/* STRIPE_EVENTS_OLD_UNCOUNTED */
};

/*
 * Reads and locks (FOR UPDATE, inside the caller's transaction) up to
 * limit of the events of status received before the Unix time before,
 * oldest first, into a new array *rows of *nrows (rows_read(); NULL when
 * none).  XERR_NOMEM.
 */
enum xerr	 stripe_events_old(struct db *db, const char *status,
		    int64_t before, size_t limit,
		    struct stripe_events_old_row **rows, size_t *nrows);

/*
 * Deletes the events of the n ids (at most STRIPE_EVENTS_STATUS_IDS);
 * *deleted is how many were stored.  XERR_INTERNAL when n is over
 * STRIPE_EVENTS_STATUS_IDS.
 */
enum xerr	 stripe_events_delete(struct db *db, const char *const *ids,
		    size_t n, uint64_t *deleted);
#endif
