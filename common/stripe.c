#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "jsonx.h"
#include "log.h"
#include "req.h"
#include "stripe.h"

#define STRIPE_URL_MAX	2048

enum xerr
stripe_call(struct http *h, const struct cfg *cfg, const char *method,
    const char *path, const struct buf *form, const char *idem_key,
    long *status, struct json_object **out, char *errbuf, size_t errsz)
{
	struct http_req	 hr;
	struct http_resp resp;
	struct buf	*url = NULL, *auth = NULL, *ver = NULL, *idem = NULL;
	const char	*hdrs[4], *msg;
	struct json_object *obj = NULL;
	int		 is_post = strcmp(method, "POST") == 0;
	enum xerr	 rc;

	*out = NULL;
	if (status != NULL)
		*status = 0;
	errbuf[0] = '\0';
	memset(&resp, 0, sizeof(resp));
	memset(&hr, 0, sizeof(hr));
	if (is_post && (idem_key == NULL || *idem_key == '\0'))
		return XERR_INTERNAL;
	if ((url = buf_new(STRIPE_URL_MAX + 65536)) == NULL ||
	    (auth = buf_new(512)) == NULL || (ver = buf_new(128)) == NULL ||
	    (idem = buf_new(512)) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = buf_printf(url, "%s%s", cfg->stripe_api_base, path)) ||
	    (!is_post && form != NULL && buf_len(form) > 0 &&
	    (rc = buf_printf(url, "?%s", buf_data(form)))) ||
	    (rc = buf_printf(auth, "Authorization: Bearer %s",
	    cfg->stripe_secret_key)) ||
	    (rc = buf_printf(ver, "Stripe-Version: %s",
	    cfg->stripe_api_version)))
		goto out;
	hdrs[0] = buf_data(auth);
	hdrs[1] = buf_data(ver);
	hr.nheaders = 2;
	if (is_post) {
		if ((rc = buf_printf(idem, "Idempotency-Key: %s", idem_key)))
			goto out;
		hdrs[2] = buf_data(idem);
		hdrs[3] = "Content-Type: application/x-www-form-urlencoded";
		hr.nheaders = 4;
		hr.body = form != NULL ? buf_data(form) : "";
		hr.bodylen = form != NULL ? buf_len(form) : 0;
	}
	hr.method = method;
	hr.url = buf_data(url);
	hr.headers = hdrs;
	if ((rc = http_do(h, &hr, &resp)) != XERR_OK) {
		snprintf(errbuf, errsz, "Stripe unreachable");
		goto out;
	}
	if (status != NULL)
		*status = resp.status;
	if (req_json_parse(resp.body ? resp.body : "", resp.len, &obj) !=
	    XERR_OK || !json_object_is_type(obj, json_type_object)) {
		snprintf(errbuf, errsz, "Stripe answered %ld without JSON",
		    resp.status);
		rc = XERR_UPSTREAM;
		goto out;
	}
	if (resp.status >= 200 && resp.status < 300) {
		*out = obj;
		obj = NULL;
		rc = XERR_OK;
		goto out;
	}
	msg = jsonx_str(obj, "error.message");
	snprintf(errbuf, errsz, "Stripe %ld: %.200s", resp.status,
	    msg ? msg : "(no message)");
	log_warnx("stripe %s %s: %s (request %s)", method, path, errbuf,
	    resp.request_id ? resp.request_id : "-");
	if (resp.status == 404)
		rc = XERR_NOTFOUND;
	else if (resp.status >= 400 && resp.status < 500 &&
	    resp.status != 429 && resp.status != 409)
		rc = XERR_UNPROCESSABLE;
	else
		rc = XERR_UPSTREAM;
out:
	json_object_put(obj);
	http_resp_clear(&resp);
	buf_free(url);
	if (auth != NULL)
		buf_reset(auth);
	buf_free(auth);
	buf_free(ver);
	buf_free(idem);
	return rc;
}
