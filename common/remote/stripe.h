/*
 * stripe: calls to Stripe's REST API.
 *
 * Every call carries the secret key as a Bearer token and the pinned
 * Stripe-Version; every POST carries an Idempotency-Key, so a retried call
 * (after a timeout, a crash, a 5xx) is applied by Stripe at most once.
 * What a failure means comes from the status and Stripe's own
 * Stripe-Should-Retry and Idempotent-Replayed headers (stripe_fate()).
 */
#ifndef STRIPE_H
#define STRIPE_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/xerr.h"

struct http;

#define STRIPE_CODE_MAX	64

/* What Stripe answered to one call. */
struct stripe_reply {
	long	 status;	/* HTTP status, 0 without a reply */
	int	 should_retry;	/* Stripe-Should-Retry: 1 true, 0 false, -1 none */
	int	 replayed;	/* 1: the answer saved for the Idempotency-Key */
	/* Stripe's error.code and error.decline_code, or "" (see stripe_code_copy()). */
	char	 code[STRIPE_CODE_MAX];
	char	 decline_code[STRIPE_CODE_MAX];
	/* For our logs only: Stripe's message, which may quote a masked key. */
	char	 msg[256];
};

/*
 * Calls method (GET, POST, DELETE) on path (e.g. "/v1/invoiceitems") under
 * STRIPE_API_BASE.  form (may be NULL) is the form-encoded body of a POST,
 * or the query of a GET.  idem_key is required for POST.  On a 2xx reply
 * *out is the parsed object (caller puts it).  Otherwise *out is NULL and
 * the result is stripe_fate() of the reply (XERR_UPSTREAM also when Stripe
 * could not be reached or answered without JSON).  *rep (required) tells
 * what Stripe answered, also on success.
 */
enum xerr	 stripe_call(struct http *h, const struct cfg *cfg,
		    const char *method, const char *path, const struct buf *form,
		    const char *idem_key, struct json_object **out,
		    struct stripe_reply *rep);

/*
 * Returns what a reply means, from its status (0: none came), its
 * Stripe-Should-Retry (1, 0, -1 absent) and whether it was replayed:
 * XERR_OK for 2xx; XERR_UPSTREAM when the same request may succeed later
 * (no reply, 5xx, 409, 429, or Stripe-Should-Retry: true whatever the
 * status); XERR_NOTFOUND for 404; XERR_UNPROCESSABLE when it never will
 * (any other 4xx, Stripe-Should-Retry: false even on a 5xx, or a replayed
 * failure: Stripe answers the same to every retry under that key).
 */
enum xerr	 stripe_fate(long status, int should_retry, int replayed);

/* Returns 1 for "true", 0 for "false", -1 for anything else or NULL. */
int		 stripe_header_bool(const char *v);

/*
 * Copies src to dst (sz bytes) when it is a plain token of 1 to
 * STRIPE_CODE_MAX - 1 lower-case letters, digits and '_' (so it can be
 * quoted to our users), else writes "".
 */
void		 stripe_code_copy(const char *src, char *dst, size_t sz);

/*
 * Pages through the list at path ("/v1/invoiceitems", "/v1/invoices")
 * of the objects whose `by` ("customer"; "invoice" for items) is id
 * (GET, <by>=<id>, limit=100, starting_after=): a customer's invoice
 * items are all of them, pending or on any invoice.  Sets *out to the
 * first for which match(object, arg) is non-zero (caller puts it), or to
 * NULL when none matches.  Errors of stripe_call(); *rep as there, of the
 * last page.
 */
enum xerr	 stripe_list_find(struct http *h, const struct cfg *cfg,
		    const char *path, const char *by, const char *id,
		    int (*match)(struct json_object *, void *), void *arg,
		    struct json_object **out, struct stripe_reply *rep);

/*
 * Creates an object (POST path: an invoice item, a one-off invoice) from
 * form exactly once, whatever fails.  The Idempotency-Keys are key, then
 * key":r1", key":r2", ...: a key is left only when Stripe saved a failure
 * under it (a 5xx replayed, or with Stripe-Should-Retry: false), since
 * Stripe answers that failure to every retry under the key; form is the
 * same under every key.  After a 5xx or no answer the list at path is
 * read first (stripe_list_find() with by, id, match and arg): a request
 * that failed while executing may have created the object, then it is
 * the one.  Any other failure is left to a later call, which must be
 * under the same key: Stripe then replays the outcome, or runs the
 * request once.  On XERR_OK *out is the object (caller puts it).
 * XERR_UPSTREAM: try again later; XERR_UNPROCESSABLE: never (a 4xx, or
 * failures saved under STRIPE_KEYS_MAX keys); *rep says what Stripe
 * answered last.  A caller whose earlier attempt may have created the
 * object under a key Stripe has since forgotten (24 hours) looks for it
 * with stripe_list_find() first.
 */
#define STRIPE_KEYS_MAX	8

enum xerr	 stripe_create_once(struct http *h, const struct cfg *cfg,
		    const char *path, const char *by, const char *id,
		    const struct buf *form, const char *key,
		    int (*match)(struct json_object *, void *), void *arg,
		    struct json_object **out, struct stripe_reply *rep);

#endif
