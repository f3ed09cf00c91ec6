#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/rest.h"
#include "remote/stripe.h"

#define STRIPE_URL_MAX		2048	/* base and path; rest_call() adds the query */
#define STRIPE_LIST_PAGES	50	/* 5000 items: more than an invoice holds */

enum xerr
stripe_fate(long status, int should_retry, int replayed)
{
	if (status >= 200 && status < 300)
		return XERR_OK;
	if (status == 0 || should_retry == 1)
		return XERR_UPSTREAM;
	if (status == 404)
		return XERR_NOTFOUND;
	if (should_retry == 0 || replayed)
		return XERR_UNPROCESSABLE;
	if (status == 409 || status == 429 || status >= 500)
		return XERR_UPSTREAM;
	return XERR_UNPROCESSABLE;
}

int
stripe_header_bool(const char *v)
{
	if (v == NULL)
		return -1;
	if (strcmp(v, "true") == 0)
		return 1;
	if (strcmp(v, "false") == 0)
		return 0;
	return -1;
}

void
stripe_code_copy(const char *src, char *dst, size_t sz)
{
	size_t	 n;

	if (sz == 0)
		return;
	dst[0] = '\0';
	if (src == NULL)
		return;
	n = strspn(src, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (n == 0 || src[n] != '\0' || n >= sz || n >= STRIPE_CODE_MAX)
		return;
	memcpy(dst, src, n + 1);
}

/*
 * Fills rep from a reply that is not a 2xx: the headers' hints and the
 * error object of obj (may be NULL), and logs it.  Returns its fate.
 */
static enum xerr
stripe_failed(const char *method, const char *path,
    const struct http_resp *resp, struct json_object *obj,
    struct stripe_reply *rep)
{
	const char	*msg = jsonx_str(obj, "error.message");

	stripe_code_copy(jsonx_str(obj, "error.code"), rep->code,
	    sizeof(rep->code));
	stripe_code_copy(jsonx_str(obj, "error.decline_code"),
	    rep->decline_code, sizeof(rep->decline_code));
	if (obj == NULL)
		snprintf(rep->msg, sizeof(rep->msg), "Stripe answered %ld "
		    "without JSON", resp->status);
	else
		snprintf(rep->msg, sizeof(rep->msg), "Stripe %ld: %.200s",
		    resp->status, msg ? msg : "(no message)");
	log_warnx("stripe %s %s: %s (code %s, should-retry %s%s, "
	    "request %s)", method, path, rep->msg,
	    rep->code[0] ? rep->code : "-",
	    resp->should_retry ? resp->should_retry : "-",
	    rep->replayed ? ", replayed" : "",
	    resp->request_id ? resp->request_id : "-");
	if (obj == NULL && resp->status >= 200 && resp->status < 300)
		return XERR_UPSTREAM;
	return stripe_fate(resp->status, rep->should_retry, rep->replayed);
}

enum xerr
stripe_call(struct http *h, const struct cfg *cfg, const char *method,
    const char *path, const struct buf *form, const char *idem_key,
    struct json_object **out, struct stripe_reply *rep)
{
	struct rest_req	 rq;
	struct rest_reply rr;
	struct buf	*url = NULL, *ver = NULL, *idem = NULL;
	const char	*hdrs[2];
	enum xerr	 rc;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	rep->should_retry = -1;
	memset(&rr, 0, sizeof(rr));
	memset(&rq, 0, sizeof(rq));
	if (strcmp(method, "POST") == 0 && (idem_key == NULL ||
	    *idem_key == '\0'))
		return XERR_INTERNAL;
	if ((url = buf_new(STRIPE_URL_MAX)) == NULL ||
	    (ver = buf_new(128)) == NULL || (idem = buf_new(512)) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = buf_printf(url, "%s%s", cfg->stripe_api_base, path)) ||
	    (rc = buf_printf(ver, "Stripe-Version: %s",
	    cfg->stripe_api_version)))
		goto out;
	hdrs[rq.nheaders++] = buf_data(ver);
	if (strcmp(method, "POST") == 0) {
		if ((rc = buf_printf(idem, "Idempotency-Key: %s", idem_key)))
			goto out;
		hdrs[rq.nheaders++] = buf_data(idem);
	}
	rq.method = method;
	rq.url = buf_data(url);
	rq.form = form;
	rq.bearer = cfg->stripe_secret_key;
	rq.headers = hdrs;
	rq.need_json = 1;
	rc = rest_call(h, &rq, &rr);
	if (rr.status == 0) {
		snprintf(rep->msg, sizeof(rep->msg), "Stripe unreachable");
		goto out;
	}
	rep->status = rr.status;
	rep->should_retry = stripe_header_bool(rr.resp.should_retry);
	rep->replayed = stripe_header_bool(rr.resp.replayed) == 1;
	if (rc == XERR_OK) {
		*out = rr.json;
		rr.json = NULL;
		goto out;
	}
	/* Stripe's hints, not the status's class, say what a failure means. */
	rc = stripe_failed(method, path, &rr.resp, rr.json, rep);
out:
	rest_reply_clear(&rr);
	buf_free(url);
	buf_free(ver);
	buf_free(idem);
	return rc;
}

/*
 * Looks through one page of a list for a match.  Returns 1 with *out set
 * (a new reference), 0 with *last the id of the page's last entry
 * (borrowed from page) and *more whether more pages follow.
 */
static int
stripe_page_find(struct json_object *page,
    int (*match)(struct json_object *, void *), void *arg,
    struct json_object **out, const char **last, int *more)
{
	struct json_object	*data = jsonx_path(page, "data"), *it;
	size_t			 i, n;

	*last = NULL;
	*more = 0;
	if (data == NULL || !json_object_is_type(data, json_type_array))
		return 0;
	n = json_object_array_length(data);
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(data, i);
		if (match(it, arg)) {
			*out = json_object_get(it);
			return 1;
		}
	}
	if (n > 0)
		*last = jsonx_str(json_object_array_get_idx(data, n - 1),
		    "id");
	*more = jsonx_bool(page, "has_more", 0) && *last != NULL;
	return 0;
}

enum xerr
stripe_list_find(struct http *h, const struct cfg *cfg, const char *path,
    const char *by, const char *id, int (*match)(struct json_object *, void *),
    void *arg, struct json_object **out, struct stripe_reply *rep)
{
	struct json_object	*page = NULL;
	struct buf		*q = NULL;
	char			 after[256] = "";
	const char		*last;
	int			 more = 1, pages;
	enum xerr		 rc = XERR_OK;

	*out = NULL;
	if ((q = buf_new(1024)) == NULL)
		return XERR_NOMEM;
	for (pages = 0; more && pages < STRIPE_LIST_PAGES; pages++) {
		buf_reset(q);
		if ((rc = http_form_add(q, by, id)) ||
		    (rc = http_form_add(q, "limit", "100")) ||
		    (after[0] != '\0' &&
		    (rc = http_form_add(q, "starting_after", after))))
			break;
		if ((rc = stripe_call(h, cfg, "GET", path, q, NULL, &page,
		    rep)) != XERR_OK)
			break;
		if (stripe_page_find(page, match, arg, out, &last, &more))
			more = 0;
		else if (more)
			snprintf(after, sizeof(after), "%s", last);
		json_object_put(page);
		page = NULL;
	}
	if (rc == XERR_OK && more && *out == NULL)
		rc = XERR_UPSTREAM;	/* a list that never ends */
	buf_free(q);
	return rc;
}

enum xerr
stripe_create_once(struct http *h, const struct cfg *cfg, const char *path,
    const char *by, const char *id, const struct buf *form, const char *key,
    int (*match)(struct json_object *, void *), void *arg,
    struct json_object **out, struct stripe_reply *rep)
{
	struct stripe_reply	 lrep;
	char			 k[512];
	int			 n;
	enum xerr		 rc;

	for (n = 0; n < STRIPE_KEYS_MAX; n++) {
		if (n == 0)
			snprintf(k, sizeof(k), "%s", key);
		else
			snprintf(k, sizeof(k), "%s:r%d", key, n);
		if ((rc = stripe_call(h, cfg, "POST", path, form, k, out,
		    rep)) == XERR_OK ||
		    (rep->status != 0 && rep->status < 500))
			return rc;	/* done; 409, 429 later; a 4xx never */
		if (stripe_list_find(h, cfg, path, by, id, match, arg, out,
		    &lrep) != XERR_OK) {
			snprintf(rep->msg + strlen(rep->msg), sizeof(rep->msg) -
			    strlen(rep->msg), "; reading the list: %s",
			    lrep.msg);
			return XERR_UPSTREAM;
		}
		if (*out != NULL) {
			log_info("%s %s: %s of key %s found after \"%s\"",
			    by, id, path, k, rep->msg);
			return XERR_OK;
		}
		if (rep->status < 500 || (!rep->replayed &&
		    rep->should_retry != 0))
			return XERR_UPSTREAM;	/* the same key, later */
		log_warnx("%s %s: Stripe saved a failure under key %s; "
		    "the next key", by, id, k);
	}
	snprintf(rep->msg, sizeof(rep->msg), "Stripe saved a failure under "
	    "%d keys", STRIPE_KEYS_MAX);
	return XERR_UNPROCESSABLE;
}
