/*
 * payments: the appliers of the events about money that moved outside an
 * invoice's own events: charges (recorded so that a dispute, which names
 * only the charge, finds its user), refunds and disputes.
 * docs/WEBHOOKS.md lists their effects.
 *
 * Ownership: an applier changes only the event it is given (its outcome
 * and user) and the rows its effects write, inside the caller's
 * transaction (domain/apply.h).
 */
#ifndef PAYMENTS_H
#define PAYMENTS_H

#include "core/xerr.h"
#include "domain/events.h"

/* charge.succeeded: records which user the charge belongs to. */
enum xerr	 payments_charge_succeeded(struct events_ev *ev);

/* charge.refunded: the charge, and a history row per refund it lists. */
enum xerr	 payments_charge_refunded(struct events_ev *ev);

/* refund.created: the refund's history row and the user's notice. */
enum xerr	 payments_refund_created(struct events_ev *ev);

/*
 * charge.dispute.created / closed: the disputes row (open flags the
 * account), a history row, the operator told once per dispute.
 */
enum xerr	 payments_dispute(struct events_ev *ev);

#endif
