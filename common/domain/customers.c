#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/customers_deleted.h"
#include "store/subscriptions_db.h"
#include "store/users.h"
#include "domain/jobs.h"
#include "domain/phone.h"
#include "domain/tiers.h"
#include "domain/events.h"
#include "domain/customers.h"

/* checkout.session.completed: link the customer to the user. */
enum xerr
customers_checkout_completed(struct events_ev *ev)
{
	const char	*customer, *user;
	enum xerr	 rc;

	customer = jsonx_id(ev->obj, "customer");
	if ((user = jsonx_str(ev->obj, "client_reference_id")) == NULL)
		user = jsonx_str(ev->obj, "metadata.user_id");
	if (customer == NULL)
		return events_fail(ev, XERR_BADREQ, "session without customer");
	if ((rc = events_user(ev, customer, user)) != XERR_OK)
		return rc;
	return events_bevent(ev, NULL, "checkout_completed", NULL,
	    jsonx_str(ev->obj, "subscription"));
}

/*
 * customer.deleted: the user's link to the customer is cleared and the
 * customer remembered as deleted (never linked again; a later checkout
 * makes a new one).  Stripe cancels a deleted customer's subscriptions
 * (its customer.subscription.deleted events may come before or after
 * this one): they are marked canceled here, and the user drops to the
 * free tier as a deleted subscription would make them.
 */
enum xerr
customers_deleted(struct events_ev *ev)
{
	struct json_object *n;
	struct users_subscription us;
	const char	*customer = jsonx_str(ev->obj, "id");
	char		 old_tier[33], detail[300];
	int		 phone;
	enum xerr	 rc;

	if (!ids_ext_ok(customer, 255))
		return events_fail(ev, XERR_BADREQ, "customer without id");
	if ((rc = events_user(ev, customer, NULL)) != XERR_OK)
		return rc;
	if (ev->pre != NULL)
		ev->pre->valid = 0;	/* the customer matches nobody now */
	if ((rc = customers_deleted_insert(ev->db, customer, ev->user_id,
	    ev->id, ev->created)) ||
	    (rc = users_clear_customer(ev->db, ev->user_id, customer)) ||
	    (rc = subscriptions_db_cancel_by_customer(ev->db, customer,
	    ev->id, ev->created)))
		return rc;
	snprintf(detail, sizeof(detail), "customer=%.255s", customer);
	if ((rc = events_bevent(ev, customer, "customer_deleted", NULL,
	    detail)))
		return rc;
	if (ev->user_sub[0] == '\0' || strcmp(ev->user_tier, TIERS_FREE) == 0)
		return XERR_OK;

	/* The user's subscription was the customer's: it is canceled. */
	snprintf(old_tier, sizeof(old_tier), "%s", ev->user_tier);
	memset(&us, 0, sizeof(us));
	us.tier = TIERS_FREE;
	us.subscription_id = ev->user_sub;
	us.nulls = USERS_NULL_CYCLE_START | USERS_NULL_CYCLE_END |
	    USERS_NULL_TRIAL_END;
	if ((rc = users_set_subscription(ev->db, ev->user_id, &us)))
		return rc;
	snprintf(detail, sizeof(detail), "%s -> %s", old_tier, TIERS_FREE);
	if ((rc = events_bevent(ev, NULL, "tier_changed", NULL, detail)))
		return rc;
	log_info("user %s: customer %s deleted; tier %s", ev->user_id,
	    customer, detail);
	if ((n = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(n, "old_tier", old_tier) ||
	    jsonx_add_str(n, "new_tier", TIERS_FREE))
		rc = XERR_NOMEM;
	else
		rc = events_notify(ev, "subscription_cancelled", n);
	json_object_put(n);
	if (rc == XERR_OK && ev->user_has_phone &&
	    (rc = tiers_phone_eligible(ev->db, TIERS_FREE, &phone)) == XERR_OK &&
	    !phone)
		rc = phone_grace_start(ev->db, ev->cfg, ev->user_id, ev->id);
	return rc;
}

