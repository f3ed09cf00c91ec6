/*
 * subscriptions: the appliers of customer.subscription.* events (the
 * subscription's row, the tier and period it gives its user, the rating
 * engine's history) and the bill job of a period, which invoices.c queues
 * for a renewal too.  docs/WEBHOOKS.md lists their effects and the
 * ordering rule; docs/BILLING.md the history and the bills.
 *
 * Ownership: an applier changes only the event it is given (its outcome
 * and user) and the rows its effects write, inside the caller's
 * transaction (domain/apply.h).
 */
#ifndef SUBSCRIPTIONS_H
#define SUBSCRIPTIONS_H

#include <stdint.h>

#include "core/xerr.h"
#include "domain/events.h"

/*
 * customer.subscription.created/updated/deleted/paused/resumed: applied
 * only when newer than the last event applied to the subscription (else
 * "stale"); a deleted subscription is final.
 */
enum xerr	 subscriptions_apply(struct events_ev *ev);

/* customer.subscription.trial_will_end: store the date, tell the user. */
enum xerr	 subscriptions_trial_will_end(struct events_ev *ev);

/*
 * Queues the bill of the period [ps, pe) of subscription sub, once per
 * subscription and period whichever event asks first: a renewal's (invoice
 * is its invoice) or, for the last period of a subscription that ended
 * (final set), the deletion's, billing usage up to usage_end.
 */
enum xerr	 subscriptions_bill_job(struct events_ev *ev, const char *sub,
		    int64_t ps, int64_t pe, const char *invoice, int final,
		    int64_t usage_end);

#endif
