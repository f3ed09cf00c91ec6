/*
 * billing: the billing API (/api/billing/...) of xsb-billing.
 *
 * Every handler authenticates a user token and acts on that user's data
 * only: the user id comes from the token, never from the request (but for
 * POST /api/usage, where a service names the user it reports for).  Reads
 * come from our database.  Changes are asked of Stripe, and our database
 * follows from Stripe's webhooks (webhook.h), the source of truth; the one
 * exception is the Stripe customer id, recorded here when it is created.
 * All input is validated before any call to Stripe, and every Stripe POST
 * carries an Idempotency-Key.  docs/API.md describes requests and replies.
 */
#ifndef BILLING_H
#define BILLING_H

#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"

struct req;

#define BILLING_LIMIT_DEFAULT	20	/* entries per list and page */
#define BILLING_LIMIT_MAX	100
#define BILLING_CURSOR_MAX	512	/* characters of a cursor */
#define BILLING_INVOICE_ID_MAX	255

/*
 * Where a history page continues, one position per list.  Events go on
 * with ids below event_before, invoices with those older than
 * (invoice_created, invoice_id); 0 means the list has nothing left.
 */
struct billing_cursor {
	int64_t	 event_before;
	int64_t	 invoice_created;
	/* "" when invoice_created is 0 */
	char	 invoice_id[BILLING_INVOICE_ID_MAX + 1];
};

/*
 * Each xsb-billing process's start (a server_init of core/server.h): the
 * reader of GET /api/billing/usage (domain/usage_reads.h, when
 * BILLING_READ_BATCH_MAX is above 1); *threads is FCGI_THREADS.
 */
enum xerr	 billing_start(const struct cfg *cfg, unsigned long *threads);

/*
 * GET /api/billing/usage: the current period's usage, allowances and
 * overage.  Answers 200, 401, 500, 503.
 */
void		 billing_usage(struct req *r);

/*
 * GET /api/billing/history?limit=&cursor=: invoices and billing events,
 * newest first.  Answers 200, 400 (bad limit or cursor), 401, 500, 503.
 */
void		 billing_history(struct req *r);

/*
 * POST /api/billing/estimate {"target_tier"}: what a change of tier
 * costs now.  Answers 200, 400 (unknown or custom-priced tier), 401, 404
 * (a downgrade without a subscription), 409 (same tier), 415, 500, 503.
 */
void		 billing_estimate(struct req *r);

/*
 * GET /api/billing/upcoming: Stripe's preview of the next invoice.
 * Answers 200, 401, 404 (no Stripe customer, nothing to bill), 500, 502
 * (Stripe failed), 503.
 */
void		 billing_upcoming(struct req *r);

/*
 * POST /api/billing/upgrade {"target_tier"}: changes a live subscription
 * to a higher tier, or opens a Checkout session without one.  Answers 200,
 * 400, 401, 409 (same tier, not higher, an identical call in flight), 415,
 * 500, 502, 503.
 */
void		 billing_upgrade(struct req *r);

/*
 * POST /api/billing/downgrade {"target_tier"}: a lower paid tier at once
 * without refund, or ai_buddy by cancelling at the period's end.  Answers
 * 200, 400, 401, 404 (no subscription), 409 (same tier, not lower, already
 * cancelling), 415, 500, 502, 503.
 */
void		 billing_downgrade(struct req *r);

/*
 * POST /api/billing/cancel: cancels at the end of the period.  Answers
 * 200, 401, 404 (no subscription), 409 (already cancelling), 500, 502, 503.
 */
void		 billing_cancel(struct req *r);

/*
 * POST /api/billing/resume: withdraws a cancellation.  Answers 200, 401,
 * 404 (no subscription), 409 (not cancelling), 500, 502, 503.
 */
void		 billing_resume(struct req *r);

/*
 * POST /api/usage (service or admin token): the app reports usage of a
 * user, {"user_id", "kind": "sms"|"voice", "quantity" (messages, or
 * seconds of one call), "occurred_at"? (unix seconds, default now),
 * "idempotency_key"} (or an Idempotency-Key header).  201 with the
 * recorded entry; 200 with the first entry and "replayed": true for a key
 * seen before; 409 idempotency_conflict when that key recorded something
 * else; 400 bad input, 401, 403 (a user token), 404 unknown_user.
 */
void		 billing_report_usage(struct req *r);

/*
 * Returns the whole percent of an allowance used, rounded down: -1 for an
 * unlimited allowance (included < 0), 0 or 100 for an allowance of 0
 * (nothing used, or all of it), INT64_MAX when used * 100 overflows.
 * Negative use counts as 0.
 */
int64_t		 billing_percent(int64_t used, int64_t included);

/*
 * Parses a history limit: NULL gives BILLING_LIMIT_DEFAULT, else 1 to
 * BILLING_LIMIT_MAX written in decimal digits only.  On success writes
 * *out; XERR_BADREQ otherwise (*out untouched).
 */
enum xerr	 billing_parse_limit(const char *s, int *out);

/*
 * Encodes c as an opaque cursor, base64url without padding of
 * "1.<event_before>.<invoice_created>.<invoice_id>", into out.
 * XERR_BADREQ for a cursor that decodes to nothing left (both positions 0)
 * or negative positions, XERR_TOOBIG when outsz is too small, XERR_NOMEM.
 */
enum xerr	 billing_cursor_encode(const struct billing_cursor *c,
		    char *out, size_t outsz);

/*
 * Decodes a cursor written by billing_cursor_encode().  Strict: anything
 * else, including a cursor longer than BILLING_CURSOR_MAX, is XERR_BADREQ
 * and *out is zeroed.  XERR_NOMEM.
 */
enum xerr	 billing_cursor_decode(const char *s,
		    struct billing_cursor *out);

#endif
