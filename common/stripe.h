/*
 * stripe: calls to Stripe's REST API.
 *
 * Every call carries the secret key as a Bearer token and the pinned
 * Stripe-Version; every POST carries an Idempotency-Key, so a retried call
 * (after a timeout, a crash, a 5xx) is applied by Stripe at most once.
 */
#ifndef STRIPE_H
#define STRIPE_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "cfg.h"
#include "xerr.h"

struct http;

/*
 * Calls method (GET, POST, DELETE) on path (e.g. "/v1/invoiceitems") under
 * STRIPE_API_BASE.  form (may be NULL) is the form-encoded body of a POST,
 * or the query of a GET.  idem_key is required for POST.  On a 2xx reply
 * *out is the parsed object (caller puts it).  Otherwise *out is NULL and:
 * XERR_UPSTREAM when Stripe could not be reached, answered 5xx or 429, or
 * with a body that is not JSON (retryable); XERR_UNPROCESSABLE for another
 * 4xx (permanent: the request itself is wrong), XERR_NOTFOUND for 404.
 * *status (may be NULL) is the HTTP status, 0 without a reply; errbuf holds
 * Stripe's error message.
 */
enum xerr	 stripe_call(struct http *h, const struct cfg *cfg,
		    const char *method, const char *path, const struct buf *form,
		    const char *idem_key, long *status,
		    struct json_object **out, char *errbuf, size_t errsz);

#endif
