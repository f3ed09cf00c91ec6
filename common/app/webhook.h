/*
 * webhook: Stripe events in, our state out, exactly once.
 *
 * POST /stripe/webhook verifies the Stripe-Signature over the raw body,
 * stores the event in stripe_events keyed by its id, and applies its
 * effects (users, subscriptions, invoices, billing_events, jobs) in the
 * same transaction.  2xx is answered only after the commit.  See
 * docs/WEBHOOKS.md for the per-type effects and the ordering rule.
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stddef.h>

#include "core/xerr.h"

struct req;
struct db;
struct cfg;

/*
 * Handles POST /stripe/webhook.  Answers 200 (stored: processed, ignored,
 * unmatched, stale, or a duplicate), 400 (bad signature, timestamp out of
 * tolerance, malformed JSON, missing id/type/created), 413 (over the body
 * cap), 500 (an effect failed: the failure is recorded and Stripe's
 * redelivery retries it), 503 (database unavailable).
 */
void		 webhook_handle(struct req *r);

/*
 * Stores and applies an event given as its raw JSON payload, as a delivery
 * would (used by webhook_handle and by replays).  *status (static) is the
 * outcome: "processed", "ignored", "unmatched", "stale", or "duplicate".
 * With replay set, an event already stored is applied again when it is
 * "unmatched" or "failed".  errbuf receives a failure's reason.
 */
enum xerr	 webhook_apply(struct db *db, const struct cfg *cfg,
		    const char *payload, size_t len, int replay,
		    const char **status, char *errbuf, size_t errsz);

/*
 * In each xsb-webhook process (a server_init): starts the committer
 * threads (WEBHOOK_COMMITTERS) that store deliveries several to a
 * transaction, and sets *threads to WEBHOOK_THREADS.  Without it,
 * webhook_handle stores each delivery on the request's own connection.
 */
enum xerr	 webhook_start(const struct cfg *cfg, unsigned long *threads);

#endif
