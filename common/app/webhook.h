/*
 * webhook: Stripe's deliveries in, answered once stored.
 *
 * POST /stripe/webhook verifies the Stripe-Signature over the raw body,
 * parses the event (domain/events.h) and hands it to the event store
 * (domain/evstore.h), which stores it in stripe_events keyed by its id and
 * applies its effects in the same transaction.  2xx is answered only
 * after the commit.  See docs/WEBHOOKS.md for the per-type effects and the
 * ordering rule.
 *
 * Ownership: the handler owns nothing past the request; the event it
 * parses lives on its stack and borrows the request's body.
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include "core/xerr.h"

struct req;
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
 * In each xsb-webhook process (a server_init): starts the event store's
 * committer threads (WEBHOOK_COMMITTERS, evstore_start) that store
 * deliveries several to a transaction, and sets *threads to
 * WEBHOOK_THREADS.  Without it, webhook_handle stores each delivery on the
 * request's own connection.
 */
enum xerr	 webhook_start(const struct cfg *cfg, unsigned long *threads);

#endif
