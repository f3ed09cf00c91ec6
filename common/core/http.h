/*
 * http: the outbound HTTP client (Stripe, Twilio), on libcurl.
 *
 * One handle per process holds one CURL easy handle, so connections to an
 * upstream are kept alive across requests.  Every call is bounded: connect
 * and total timeouts and a reply-size cap from the configuration, http and
 * https only, redirects never followed.  Transport failures are logged with
 * the host and libcurl's reason; headers, credentials and bodies never are.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/xerr.h"

struct http;

struct http_req {
	const char		*method;	/* "GET", "POST", ... */
	const char		*url;
	const char *const	*headers;	/* "Name: value" */
	size_t			 nheaders;
	const char		*body;		/* or NULL */
	size_t			 bodylen;
	const char		*userpwd;	/* basic auth, or NULL */
	unsigned long		 timeout_ms;	/* 0: the handle's (http_set_timeout()) */
};

struct http_resp {
	long	 status;	/* HTTP status of the final reply */
	char	*body;		/* NUL-terminated, len bytes */
	size_t	 len;
	/* Value of Request-Id, X-Request-Id or Twilio-Request-Id, or NULL. */
	char	*request_id;
	/*
	 * Stripe's hints on an error reply, or NULL: Stripe-Should-Retry
	 * ("true" or "false": whether the same request may succeed later)
	 * and Idempotent-Replayed ("true": this is the answer saved for the
	 * Idempotency-Key, not a new execution).
	 */
	char	*should_retry;
	char	*replayed;
};

/* Initialises libcurl once; call before starting threads. */
void		 http_library_init(void);

/*
 * Opens a client using cfg's timeouts and reply cap; cfg is borrowed and
 * must outlive the handle.  On success *out is set (caller frees with
 * http_close()); XERR_NOMEM or XERR_INTERNAL otherwise.
 */
enum xerr	 http_open(const struct cfg *cfg, struct http **out);

/*
 * Gives every later call of h at most ms in total instead of
 * HTTP_TIMEOUT_MS (0: back to it).  The API programs use
 * HTTP_INTERACTIVE_TIMEOUT_MS, since a person or an app waits on the
 * reply behind nginx's own timeout; the worker keeps the longer one.
 */
void		 http_set_timeout(struct http *h, unsigned long ms);

/* Closes the client and its connections. NULL is a no-op. */
void		 http_close(struct http *h);

/*
 * Performs req and fills *out (cleared on entry; release with
 * http_resp_clear()).  Returns XERR_OK for any HTTP status: the caller
 * decides what a 4xx or 5xx means.  XERR_UPSTREAM when no complete reply
 * came (connection refused, timeout, TLS failure, reply over the cap);
 * XERR_BADREQ for a request that cannot be sent (no method or URL, a header
 * holding CR or LF); XERR_NOMEM.  Options of one call never leak into the
 * next.
 */
enum xerr	 http_do(struct http *h, const struct http_req *req,
		    struct http_resp *out);

/* Frees what http_do() put in r and zeroes it. NULL is a no-op. */
void		 http_resp_clear(struct http_resp *r);

/* Writes the host[:port] of url, without user info, to host (for logs). */
void		 http_url_host(const char *url, char *host, size_t sz);

/*
 * Appends "name=value" to an application/x-www-form-urlencoded body, with
 * '&' before it unless form is empty.  Both are percent-encoded: RFC 3986
 * unreserved characters are kept, every other byte becomes %XX (so
 * "metadata[user_id]" is sent as "metadata%5Buser_id%5D", which Stripe
 * decodes).  XERR_BADREQ for an empty name or a NULL value; errors of
 * buf_append(), after which form may end in a partial pair: discard it.
 */
enum xerr	 http_form_add(struct buf *form, const char *name,
		    const char *value);

/*
 * Appends segment percent-encoded as one URL path segment (for ids pasted
 * into URLs): '/', '?', '#', '%' and every other reserved byte are escaped.
 * XERR_BADREQ for "", "." and "..", which would change the path; errors of
 * buf_append().
 */
enum xerr	 http_path_escape(const char *segment, struct buf *out);

#endif
