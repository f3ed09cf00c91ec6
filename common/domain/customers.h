/*
 * customers: the appliers of the events about a Stripe customer itself
 * (checkout.session.completed links one to a user, customer.deleted
 * unlinks it for good).  docs/WEBHOOKS.md lists their effects.
 *
 * Ownership: an applier changes only the event it is given (its outcome
 * and user) and the rows its effects write, inside the caller's
 * transaction (domain/apply.h).
 */
#ifndef CUSTOMERS_H
#define CUSTOMERS_H

#include "core/xerr.h"
#include "domain/events.h"

/* checkout.session.completed: link the customer to the user. */
enum xerr	 customers_checkout_completed(struct events_ev *ev);

/*
 * customer.deleted: the customer is unlinked and never linked again; its
 * subscriptions are canceled and the user drops to the free tier.
 */
enum xerr	 customers_deleted(struct events_ev *ev);

#endif
