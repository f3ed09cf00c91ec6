/*
 * apply: which Stripe event types we act on, and the one place where an
 * event's effects run and its outcome is decided.  The appliers
 * themselves live with the object they change (domain/customers.h,
 * subscriptions.h, invoices.h, payments.h).
 *
 * An applier returns XERR_NOTFOUND from events_user() when no user
 * matches the event: apply_effects, and nothing else, makes that the
 * "unmatched" outcome and keeps the event aside until its customer
 * becomes known (docs/BILLING.md "Unmatched events").
 *
 * Ownership: the table is static and read-only; apply_effects changes only
 * the event it is given and the rows its effects write.
 */
#ifndef APPLY_H
#define APPLY_H

#include <stddef.h>

#include "core/xerr.h"
#include "domain/events.h"

typedef enum xerr (*apply_fn)(struct events_ev *);

/*
 * A type we act on.  rank orders the subscription events of one second
 * (created < updated < deleted; see subscriptions_apply).
 */
struct apply_type {
	const char	*type;
	apply_fn	 apply;
	int		 rank;
};

/* The type's row, or NULL for a type we do not act on ("ignored"). */
const struct apply_type *apply_lookup(const char *type);

/*
 * The row of ev's type, or NULL when we do not act on ev ("ignored"): a
 * type not in the table, or, in production (XSB_MODE=production), an
 * event of Stripe's test mode (livemode false), which only a test
 * endpoint's secret among STRIPE_WEBHOOK_SECRETS lets in: it must never
 * grant a tier or buy a number.
 */
const struct apply_type *apply_for(const struct events_ev *ev);

/* The table, for tests and documents: *n rows. */
const struct apply_type *apply_types(size_t *n);

/*
 * Inside a transaction: applies ev's effects (ev->t set), noting the
 * outcome in ev->status: "processed", "ignored" (t NULL), "unmatched", or
 * what the applier set ("stale").  An error leaves the transaction to be
 * rolled back, with ev->err saying why when the applier knew.
 */
enum xerr	 apply_effects(struct events_ev *ev);

#endif
