/*
 * resync: Stripe's current state of a subscription, applied as the
 * customer.subscription.updated event Stripe would send now (id
 * resync_<sub id>_<now>, created now), through evstore like a delivery:
 * the admin API's POST /api/admin/subscriptions/<id>/resync.
 *
 * Ownership: nothing is kept; the subscription object read is the
 * caller's.
 */
#ifndef RESYNC_H
#define RESYNC_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/xerr.h"

struct cfg;
struct db;
struct http;
struct stripe_reply;

/* The prefix of the ids of the events a resync makes. */
#define RESYNC_EVENT_PREFIX	"resync_"

/*
 * Reads Stripe's subscription sub_id into *sub (caller puts).  XERR_BADREQ
 * (nothing asked) for an id that cannot be a path segment; errors of
 * stripe_call() with *rep; XERR_UPSTREAM with *other set when Stripe
 * answered with another object.
 */
enum xerr	 resync_fetch(struct http *h, const struct cfg *cfg,
		    const char *sub_id, struct json_object **sub,
		    struct stripe_reply *rep, int *other);

/*
 * Applies sub (Stripe's subscription sub_id) as the event Stripe would
 * send now: evid (evidsz bytes) gets its id, *outcome the outcome
 * (evstore_apply()).  errbuf gets a failure's reason.  XERR_NOMEM; errors
 * of evstore_apply().
 */
enum xerr	 resync_apply(struct db *db, const struct cfg *cfg,
		    struct json_object *sub, const char *sub_id, char *evid,
		    size_t evidsz, const char **outcome, char *errbuf,
		    size_t errsz);

#endif
