/*
 * invoices: the appliers of invoice.* events: the billing history
 * (invoices, its status moving only forward), the billing cycle a payment
 * moves, a renewal's bill, the notices of a failed payment, of a payment
 * to confirm and of the projected overage.  docs/WEBHOOKS.md lists their
 * effects.
 *
 * Ownership: an applier changes only the event it is given (its outcome
 * and user) and the rows its effects write, inside the caller's
 * transaction (domain/apply.h).
 */
#ifndef INVOICES_H
#define INVOICES_H

#include "core/xerr.h"
#include "domain/events.h"

/*
 * invoice.created / finalized / payment_succeeded / paid / payment_failed /
 * voided / marked_uncollectible.
 */
enum xerr	 invoices_apply(struct events_ev *ev);

/* invoice.upcoming: the projected overage, recorded and told. */
enum xerr	 invoices_upcoming(struct events_ev *ev);

/* invoice.payment_action_required: history row, the user is mailed. */
enum xerr	 invoices_action(struct events_ev *ev);

#endif
