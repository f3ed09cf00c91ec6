/*
 * resync: Stripe's current state of a subscription, applied as the
 * customer.subscription.updated event Stripe would send (id
 * resync_<sub id>_<tag>; see resync_apply() for its date and tag), through
 * evstore like a delivery.
 * Stripe keeps no order among its events and dates them to the second:
 * when two events of one subscription share their second and rank, the
 * order they arrived in is a guess, and the worker's subscription_resync
 * job (queued then, domain/subscriptions.c) asks Stripe instead.  The
 * admin API's POST /api/admin/subscriptions/<id>/resync does the same on
 * demand.
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

/* The most characters of a tag an event id takes (it ends the id). */
#define RESYNC_TAG_MAX		40

/*
 * Applies sub (Stripe's subscription sub_id) as the event Stripe would
 * send, created at created (0: now), id resync_<sub_id>_<tag> (tag NULL:
 * the created time; else at most its last RESYNC_TAG_MAX characters):
 * evid (evidsz bytes) gets the id, *outcome the outcome
 * (evstore_apply()).  The job after a tie dates it to the tie's second,
 * not to our clock: a later event of Stripe's (its clock, maybe a test
 * clock's) must not look older than it.  errbuf gets a failure's reason.
 * XERR_NOMEM; errors of evstore_apply().
 */
enum xerr	 resync_apply(struct db *db, const struct cfg *cfg,
		    struct json_object *sub, const char *sub_id,
		    int64_t created, const char *tag, char *evid,
		    size_t evidsz, const char **outcome, char *errbuf,
		    size_t errsz);

#endif
