/*
 * event_replay: typed access to what a replay of a stored Stripe event
 * reads and writes (sql/002_webhook.sql, sql/009_billing.sql): the event
 * stored in stripe_events, and the list of events stored unmatched per
 * customer (unmatched_events) that the worker replays once a customer is
 * linked (app/worker.c) and an operator replays one by one (app/admin.c).
 * Applying an event is domain/evstore.h's; only event_replay.c knows the
 * columns of these statements (store/stmt.c).
 *
 * Every text is copied out (an event's payload, up to a MEDIUMTEXT, into
 * memory of its own that the caller frees), nothing borrowed.  Every
 * function runs in the caller's transaction when there is one.  Errors:
 * those of db_query() and db_exec(); XERR_DB when a stored text is longer
 * than its field (never, with the schema's widths); XERR_NOMEM.
 */
#ifndef EVENT_REPLAY_H
#define EVENT_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* A stored event, as a replay needs it. */
struct event_replay_event {
	char		 status[17];
	char		 type[129];
	char		*payload;	/* owned, NUL-terminated */
	size_t		 len;
};

/* An event of the unmatched list: its id (VARCHAR(255) ascii), created. */
struct event_replay_id {
	char		 id[256];
	int64_t		 created;	/* Stripe's, Unix time */
};

/*
 * Reads the event id into *ev (the caller's; free its payload with
 * event_replay_clear()).  XERR_NOTFOUND when there is none.
 */
enum xerr	 event_replay_get(struct db *db, const char *id,
		    struct event_replay_event *ev);

/* Frees ev's payload and clears it.  NULL is a no-op. */
void		 event_replay_clear(struct event_replay_event *ev);

/*
 * Reads a page of the events stored unmatched for Stripe customer, in the
 * order Stripe created them (created, then id), those after the event
 * after (borrowed; NULL: from the first), at most EVENT_REPLAY_PAGE, into
 * a new array *ids of *n (the caller frees it; NULL when none).  A page
 * of fewer is the list's last.
 */
#define EVENT_REPLAY_PAGE	1000	/* UNMATCHED_OF_CUSTOMER's LIMIT */

enum xerr	 event_replay_unmatched(struct db *db, const char *customer,
		    const struct event_replay_id *after,
		    struct event_replay_id **ids, size_t *n);

/* Takes the event id off the unmatched list. */
enum xerr	 event_replay_unmatched_done(struct db *db, const char *id);

#endif
