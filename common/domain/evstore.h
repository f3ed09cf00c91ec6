/*
 * evstore: Stripe events stored exactly once, with their effects.
 *
 * An event's effects (domain/apply.h) and its stripe_events row, keyed by
 * the event's id, are written in one transaction: a redelivery finds the
 * row and is a "duplicate"; an event whose effects failed is recorded
 * "failed" outside the rolled-back transaction and applied again when
 * Stripe redelivers it.  docs/WEBHOOKS.md describes the protocol.
 *
 * Group commit: once evstore_start has run (each xsb-webhook process),
 * evstore_deliver queues a delivery (core/batch.h) and a committer thread
 * stores what waits in one transaction, then answers each.  When any
 * event of a batch fails, the batch is rolled back and each of its events
 * is applied alone, so a batch never changes an outcome.
 *
 * Ownership: the process's state (the memory of the event ids seen with a
 * final outcome, trusted only in the connection generation it was learnt
 * in: core/db.h's db_generation(); the queue once started) is a static of
 * evstore.c, one
 * per process, and lives as long as the process.  A caller's event and
 * payload stay the caller's: they are borrowed until the call returns.
 */
#ifndef EVSTORE_H
#define EVSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"
#include "domain/events.h"

struct cfg;
struct db;

/*
 * Stores and applies an event given as its raw JSON payload, as a delivery
 * would (used by replays, resyncs and the unmatched-event jobs).  *status
 * (static) is the outcome: "processed", "ignored", "unmatched", "stale",
 * or "duplicate".  With replay set, an event already stored is applied
 * again when it is "unmatched" or "failed", or "ignored" while this
 * release acts on it (its type is handled now, and it is no test-mode
 * event in production: apply_for()).  errbuf receives a failure's
 * reason.  XERR_BADREQ (nothing stored) when the payload is no event;
 * XERR_UNPROCESSABLE or another error when an effect failed (recorded).
 */
enum xerr	 evstore_apply(struct db *db, const struct cfg *cfg,
		    const char *payload, size_t len, int replay,
		    const char **status, char *errbuf, size_t errsz);

/*
 * Stores and applies a delivery parsed by events_parse: through a
 * committer once evstore_start has run, else on db (the caller's
 * connection).  rid names the request in log lines.  Outcomes and errors
 * as evstore_apply's without replay.
 */
enum xerr	 evstore_deliver(struct events_ev *ev, struct db *db,
		    const char *rid, const char **status, char *errbuf,
		    size_t errsz);

/*
 * Starts the committer threads (WEBHOOK_COMMITTERS, each with its own
 * connection) that store deliveries up to WEBHOOK_BATCH_MAX to a
 * transaction.  Once per process.
 */
enum xerr	 evstore_start(const struct cfg *cfg);

/*
 * The retention of stored events (STRIPE_EVENT_RETENTION_DAYS, the daily
 * events_purge job): deletes the processed, ignored and stale events
 * received more than that many days before now (a Unix time), oldest
 * first, EVSTORE_PURGE_CHUNK a transaction that also takes them off the
 * /metrics counts, at most about EVSTORE_PURGE_MAX a call.  Failed and
 * unmatched events are kept: each waits for an operator or its customer.
 * *deleted is how many; *more is set when the limit stopped it with more
 * due.  0 days: nothing.  Errors of the database (a deadlocked chunk is
 * run again, up to DB_TRIES times); chunks committed before stay done.
 */
#define EVSTORE_PURGE_CHUNK	500
#define EVSTORE_PURGE_MAX	10000
enum xerr	 evstore_purge(struct db *db, const struct cfg *cfg,
		    int64_t now, size_t *deleted, int *more);

#endif
