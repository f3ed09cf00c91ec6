#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/rest.h"

#define REST_URL_MAX	(8192 + 65536)	/* a URL and a GET's query */
#define REST_AUTH_MAX	512	/* "Authorization: Bearer " and a key */

enum xerr
rest_class(long status)
{
	if (status >= 200 && status < 300)
		return XERR_OK;
	if (status == 404)
		return XERR_NOTFOUND;
	if (status >= 400 && status < 500 && status != 429)
		return XERR_UNPROCESSABLE;
	return XERR_UPSTREAM;
}

void
rest_reply_clear(struct rest_reply *r)
{
	if (r == NULL)
		return;
	http_resp_clear(&r->resp);
	json_object_put(r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * Makes the URL (with the query of a request that is not a POST) and the
 * header list of rq into url, auth (authsz bytes) and hdrs (room for
 * REST_HEADERS_MAX + 2), and points hr at them.
 */
static enum xerr
rest_request(const struct rest_req *rq, struct buf *url, char *auth,
    size_t authsz, const char **hdrs, struct http_req *hr)
{
	int		 is_post = strcmp(rq->method, "POST") == 0, len;
	size_t		 i, n = 0;
	enum xerr	 rc;

	if ((rc = buf_puts(url, rq->url)) ||
	    (!is_post && rq->form != NULL && buf_len(rq->form) > 0 &&
	    (rc = buf_printf(url, "?%s", buf_data(rq->form)))))
		return rc;
	if (rq->bearer != NULL) {
		len = snprintf(auth, authsz, "Authorization: Bearer %s",
		    rq->bearer);
		if (len < 0 || (size_t)len >= authsz)
			return XERR_BADREQ;
		hdrs[n++] = auth;
	}
	for (i = 0; i < rq->nheaders; i++)
		hdrs[n++] = rq->headers[i];
	if (is_post) {
		hdrs[n++] = "Content-Type: application/x-www-form-urlencoded";
		hr->body = rq->form != NULL ? buf_data(rq->form) : "";
		hr->bodylen = rq->form != NULL ? buf_len(rq->form) : 0;
	}
	hr->method = rq->method;
	hr->url = buf_data(url);
	hr->headers = hdrs;
	hr->nheaders = n;
	hr->userpwd = rq->userpwd;
	hr->timeout_ms = rq->timeout_ms;
	return XERR_OK;
}

enum xerr
rest_call(struct http *h, const struct rest_req *rq, struct rest_reply *out)
{
	struct http_req	 hr;
	struct buf	*url = NULL;
	const char	*hdrs[REST_HEADERS_MAX + 2];
	char		 auth[REST_AUTH_MAX];
	struct json_object *obj = NULL;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	memset(&hr, 0, sizeof(hr));
	if (rq->method == NULL || rq->url == NULL ||
	    rq->nheaders > REST_HEADERS_MAX ||
	    (rq->nheaders > 0 && rq->headers == NULL))
		return XERR_BADREQ;
	if ((url = buf_new(REST_URL_MAX)) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = rest_request(rq, url, auth, sizeof(auth), hdrs, &hr)) !=
	    XERR_OK || (rc = http_do(h, &hr, &out->resp)) != XERR_OK)
		goto out;
	out->status = out->resp.status;
	if (out->resp.len > 0 && jsonx_parse(out->resp.body, out->resp.len,
	    &obj) == XERR_OK && json_object_is_type(obj, json_type_object)) {
		out->json = obj;
		obj = NULL;
	}
	rc = rest_class(out->status);
	if (rc == XERR_OK && out->json == NULL && (rq->need_json ||
	    out->resp.len > 0))
		rc = XERR_UPSTREAM;
out:
	json_object_put(obj);
	explicit_bzero(auth, sizeof(auth));
	buf_free(url);
	return rc;
}
