/*
 * rest: one call to a JSON REST API over form-encoded requests, on http.
 *
 * What Stripe's and Twilio's clients share: the URL with the form as its
 * query (GET, DELETE) or as the body (POST, with its Content-Type), bearer
 * or basic auth, headers the caller names (Idempotency-Key,
 * Stripe-Version, Accept), a timeout for this call, the reply's status and
 * body, the body parsed when it is a JSON object, and the status's class
 * as an enum xerr.  It knows no upstream: what a status means beyond its
 * class (Stripe-Should-Retry, Twilio's error codes) is the caller's.
 * Credentials are never logged; the caller logs what failed.
 */
#ifndef REST_H
#define REST_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/xerr.h"

#define REST_HEADERS_MAX	8	/* of rest_req.headers */

/* One call.  Everything is borrowed for the call only. */
struct rest_req {
	const char		*method;	/* "GET", "POST", "DELETE" */
	const char		*url;		/* without the query */
	const struct buf	*form;		/* or NULL: query, or POST body */
	const char		*bearer;	/* Authorization: Bearer, or NULL */
	const char		*userpwd;	/* "user:password" (basic), or NULL */
	const char *const	*headers;	/* "Name: value", or NULL */
	size_t			 nheaders;	/* at most REST_HEADERS_MAX */
	unsigned long		 timeout_ms;	/* 0: the handle's */
	int			 need_json;	/* 1: a 2xx must be a JSON object */
};

/* What came back; release with rest_reply_clear(). */
struct rest_reply {
	long			 status;	/* 0: no reply came */
	struct http_resp	 resp;		/* body, request id, hints */
	struct json_object	*json;		/* the body as an object, or NULL */
};

/*
 * Returns the class of an HTTP status: XERR_OK for 2xx, XERR_NOTFOUND for
 * 404, XERR_UNPROCESSABLE for any other 4xx but 429 (the request itself is
 * wrong: retrying will not help), XERR_UPSTREAM for everything else (0: no
 * reply, 1xx, 3xx, 429, 5xx): it may succeed later.
 */
enum xerr	 rest_class(long status);

/*
 * Performs rq on h and fills *out (cleared on entry, released by
 * rest_reply_clear() whatever the result).  Returns XERR_OK for a 2xx
 * whose body is a JSON object (then out->json is set) or, unless
 * rq->need_json, an empty one (out->json NULL); XERR_UPSTREAM for a 2xx
 * with any other body; the rest_class() of any other status; the errors
 * of http_do() when no reply came (out->status 0); XERR_BADREQ for more
 * than REST_HEADERS_MAX headers or a method that is not named; XERR_NOMEM.
 * out->json is set for a JSON object whatever the status.
 */
enum xerr	 rest_call(struct http *h, const struct rest_req *rq,
		    struct rest_reply *out);

/* Frees what rest_call() put in r and zeroes it.  NULL is a no-op. */
void		 rest_reply_clear(struct rest_reply *r);

#endif
