#include <string.h>

#include "core/cfg.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "domain/events.h"
#include "domain/customers.h"
#include "domain/subscriptions.h"
#include "domain/invoices.h"
#include "domain/payments.h"
#include "domain/apply.h"

/* The event types we act on; any other type is stored as "ignored". */
static const struct apply_type apply_table[] = {
	{ "checkout.session.completed", customers_checkout_completed, 0 },
	{ "customer.subscription.created", subscriptions_apply, 0 },
	{ "customer.subscription.updated", subscriptions_apply, 1 },
	{ "customer.subscription.deleted", subscriptions_apply, 2 },
	{ "customer.subscription.trial_will_end",
	    subscriptions_trial_will_end, 0 },
	{ "invoice.created", invoices_apply, 0 },
	{ "invoice.payment_succeeded", invoices_apply, 0 },
	{ "invoice.paid", invoices_apply, 0 },
	{ "invoice.payment_failed", invoices_apply, 0 },
	{ "invoice.upcoming", invoices_upcoming, 0 },
	{ "invoice.finalized", invoices_apply, 0 },
	{ "invoice.voided", invoices_apply, 0 },
	{ "invoice.marked_uncollectible", invoices_apply, 0 },
	{ "customer.subscription.paused", subscriptions_apply, 1 },
	{ "customer.subscription.resumed", subscriptions_apply, 1 },
	{ "invoice.payment_action_required", invoices_action, 0 },
	{ "charge.succeeded", payments_charge_succeeded, 0 },
	{ "charge.refunded", payments_charge_refunded, 0 },
	{ "refund.created", payments_refund_created, 0 },
	{ "charge.dispute.created", payments_dispute, 0 },
	{ "charge.dispute.closed", payments_dispute, 0 },
	{ "customer.deleted", customers_deleted, 0 },
};

#define APPLY_NTYPES	(sizeof(apply_table) / sizeof(apply_table[0]))

const struct apply_type *
apply_lookup(const char *type)
{
	size_t	 i;

	for (i = 0; type != NULL && i < APPLY_NTYPES; i++)
		if (strcmp(apply_table[i].type, type) == 0)
			return &apply_table[i];
	return NULL;
}

const struct apply_type *
apply_for(const struct events_ev *ev)
{
	if (ev->cfg != NULL && !ev->cfg->sandbox && !ev->livemode) {
		log_warnx("event %s: of Stripe's test mode, ignored in "
		    "production (a test endpoint's secret in "
		    "STRIPE_WEBHOOK_SECRETS?)", ev->id);
		return NULL;
	}
	return apply_lookup(ev->type);
}

const struct apply_type *
apply_types(size_t *n)
{
	*n = APPLY_NTYPES;
	return apply_table;
}

/*
 * Inside a transaction: applies ev's effects, noting the outcome in ev.
 * XERR_NOTFOUND before a user was found is the event's "unmatched"
 * outcome, for every type (see apply.h); after, an error like any other.
 */
enum xerr
apply_effects(struct events_ev *ev)
{
	const char	*customer;
	enum xerr	 rc;

	ev->status = ev->t != NULL ? "processed" : "ignored";
	ev->err[0] = '\0';
	ev->user_id[0] = '\0';
	if (ev->t == NULL)
		return XERR_OK;
	rc = ev->t->apply(ev);
	if (rc == XERR_NOTFOUND && ev->user_id[0] == '\0') {
		ev->status = "unmatched";
		rc = XERR_OK;
	}
	if (rc != XERR_OK)
		return rc;
	/*
	 * Kept aside until its customer becomes known (D5); an event that
	 * names none (a dispute) until its charge is recorded.
	 */
	if (strcmp(ev->status, "unmatched") != 0)
		return XERR_OK;
	if ((customer = jsonx_id(ev->obj, "customer")) == NULL)
		customer = jsonx_id(ev->obj, "charge");
	if (customer == NULL || !ids_ext_ok(customer, 255))
		return XERR_OK;
	return events_keep_unmatched(ev, customer);
}
