#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/rest.h"
#include "remote/twilio.h"

#define TWILIO_URL_MAX		8192
#define TWILIO_FORM_MAX		4096
#define TWILIO_LIST_PAGE	"50"	/* one user has one number; more is a bug */
#define TWILIO_PAGE_MAX		1000	/* Twilio's largest page, for whole-account lists */

/* Returns 1 when s is prefix and 32 hex digits. */
int
twilio_sid_valid(const char *s, const char *prefix)
{
	size_t	 n = strlen(prefix);

	return s != NULL && strlen(s) == n + 32 && strncmp(s, prefix, n) == 0 &&
	    strspn(s + n, "0123456789abcdefABCDEF") == 32;
}

/* Returns 1 when s is '+', then 7 to 15 digits of which the first is not 0. */
int
twilio_e164_valid(const char *s)
{
	size_t	 n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	n = strspn(s + 1, "0123456789");
	return s[1 + n] == '\0' && n >= 7 && n <= 15;
}

/* Copies src into dst (size dstsz), control bytes made spaces. */
static void
twilio_copy_text(char *dst, size_t dstsz, const char *src)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ?
		    ' ' : src[i];
	dst[i] = '\0';
}

/* Fills *out from Twilio's error object or Prism's problem document. */
void
twilio_error_parse(long status, const char *body, size_t len,
    struct twilio_error *out)
{
	struct json_object *obj = NULL;
	const char	*msg = NULL, *why = NULL;
	int64_t		 code;
	char		 text[sizeof(out->message)];

	memset(out, 0, sizeof(*out));
	out->status = status;
	if (body != NULL && len > 0 && jsonx_parse(body, len, &obj) ==
	    XERR_OK && json_object_is_type(obj, json_type_object)) {
		if (jsonx_int(obj, "code", &code) == 0)
			out->code = (long)code;
		if ((msg = jsonx_str(obj, "message")) == NULL &&
		    (msg = jsonx_str(obj, "title")) != NULL)
			/* Prism says what it rejected in validation[]. */
			why = jsonx_str(jsonx_idx(obj, "validation", 0),
			    "message");
	}
	if (msg != NULL && why != NULL)
		snprintf(text, sizeof(text), "%.100s: %.140s", msg, why);
	else if (msg != NULL)
		snprintf(text, sizeof(text), "%.240s", msg);
	else
		snprintf(text, sizeof(text), "Twilio answered HTTP %ld",
		    status);
	twilio_copy_text(out->message, sizeof(out->message), text);
	json_object_put(obj);
}

/* Returns 1 when the number asked for cannot be had. */
int
twilio_no_number(const struct twilio_error *err)
{
	return err->code == TWILIO_ERR_NOT_AVAILABLE || err->status == 404;
}

/* Fills *out from an IncomingPhoneNumber; -1 when sid or number is bad. */
int
twilio_number_parse(struct json_object *obj, struct twilio_number *out)
{
	const char	*sid = jsonx_str(obj, "sid");
	const char	*num = jsonx_str(obj, "phone_number");
	const char	*name = jsonx_str(obj, "friendly_name");

	memset(out, 0, sizeof(*out));
	if (!twilio_sid_valid(sid, "PN") || !twilio_e164_valid(num))
		return -1;
	memcpy(out->sid, sid, TWILIO_SID_LEN + 1);
	snprintf(out->phone_number, sizeof(out->phone_number), "%s", num);
	if (name != NULL)
		twilio_copy_text(out->friendly_name,
		    sizeof(out->friendly_name), name);
	return 0;
}

/* Counts the list's valid numbers named exactly name; *out is the first. */
size_t
twilio_number_pick(struct json_object *list, const char *name,
    struct twilio_number *out)
{
	struct json_object *arr, *item;
	struct twilio_number n;
	const char	*fn;
	size_t		 i, len, found = 0;

	memset(out, 0, sizeof(*out));
	arr = jsonx_get(list, "incoming_phone_numbers");
	if (!json_object_is_type(arr, json_type_array))
		return 0;
	len = json_object_array_length(arr);
	for (i = 0; i < len; i++) {
		item = json_object_array_get_idx(arr, i);
		if ((fn = jsonx_str(item, "friendly_name")) == NULL ||
		    strcmp(fn, name) != 0 || twilio_number_parse(item, &n) != 0)
			continue;
		if (found++ == 0)
			*out = n;
	}
	return found;
}

/*
 * Calls method on path (escaped, under the account) with form as the
 * body of a POST, else as the query (rest_call()).  On a 2xx reply *out
 * is the parsed object, or NULL when the body is empty (204).  Return
 * codes as in twilio.h: the status's class (rest_class()).
 */
static enum xerr
twilio_call(struct http *h, const struct cfg *cfg, const char *method,
    const char *path, const struct buf *form, struct json_object **out,
    struct twilio_error *err)
{
	static const char *const hdrs[] = { "Accept: application/json" };
	struct rest_req	 rq;
	struct rest_reply rr;
	struct buf	*url = NULL;
	char		 userpwd[512];
	int		 n;
	enum xerr	 rc;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	memset(&rr, 0, sizeof(rr));
	memset(&rq, 0, sizeof(rq));
	n = snprintf(userpwd, sizeof(userpwd), "%s:%s",
	    cfg->twilio_account_sid, cfg->twilio_auth_token);
	if (n < 0 || (size_t)n >= sizeof(userpwd)) {
		rc = XERR_INTERNAL;
		goto out;
	}
	if ((url = buf_new(TWILIO_URL_MAX)) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = buf_printf(url, "%s/2010-04-01/Accounts/",
	    cfg->twilio_api_base)) ||
	    (rc = http_path_escape(cfg->twilio_account_sid, url)) ||
	    (rc = buf_printf(url, "/%s", path)))
		goto out;
	rq.method = method;
	rq.url = buf_data(url);
	rq.form = form;
	rq.userpwd = userpwd;
	rq.headers = hdrs;
	rq.nheaders = 1;
	rc = rest_call(h, &rq, &rr);
	if (rr.status == 0) {
		if (rc == XERR_UPSTREAM)
			snprintf(err->message, sizeof(err->message),
			    "Twilio did not answer");
		goto out;
	}
	err->status = rr.status;
	if (rc == XERR_OK) {
		/* NULL for an empty body (204). */
		*out = rr.json;
		rr.json = NULL;
		err->status = 0;
		goto out;
	}
	if (rr.status >= 200 && rr.status < 300) {
		snprintf(err->message, sizeof(err->message),
		    "Twilio answered %ld without JSON", rr.status);
		goto out;
	}
	twilio_error_parse(rr.status, rr.resp.body, rr.resp.len, err);
	log_warnx("twilio %s %s: %ld code %ld: %s (request %s)", method, path,
	    rr.status, err->code, err->message,
	    rr.resp.request_id ? rr.resp.request_id : "-");
out:
	explicit_bzero(userpwd, sizeof(userpwd));
	rest_reply_clear(&rr);
	buf_free(url);
	return rc;
}

/* Searches the local numbers of country that take voice and SMS. */
enum xerr
twilio_search_local(struct http *h, const struct cfg *cfg,
    const struct twilio_search *sq, unsigned limit, struct json_object **out,
    struct twilio_error *err)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} params[] = {
#define P(n, m) { n, offsetof(struct twilio_search, m) }
		P("AreaCode", area_code), P("Contains", contains),
		P("InRegion", in_region), P("InLocality", in_locality),
		P("InPostalCode", in_postal_code),
		P("NearNumber", near_number), P("NearLatLong", near_lat_long),
		P("Distance", distance),
#undef P
	};
	struct buf	*path = NULL, *q = NULL;
	const char	*v;
	char		 size[16];
	size_t		 i;
	enum xerr	 rc;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	snprintf(size, sizeof(size), "%u", limit);
	if ((path = buf_new(256)) == NULL || (q = buf_new(TWILIO_FORM_MAX)) ==
	    NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = buf_puts(path, "AvailablePhoneNumbers/")) ||
	    (rc = http_path_escape(sq->country, path)) ||
	    (rc = buf_puts(path, "/Local.json")))
		goto out;
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		v = *(const char *const *)(const void *)((const char *)sq +
		    params[i].off);
		if (v != NULL && (rc = http_form_add(q, params[i].name, v)))
			goto out;
	}
	if ((rc = http_form_add(q, "VoiceEnabled", "true")) ||
	    (rc = http_form_add(q, "SmsEnabled", "true")) ||
	    (rc = http_form_add(q, "PageSize", size)))
		goto out;
	rc = twilio_call(h, cfg, "GET", buf_data(path), q, out, err);
	if (rc == XERR_OK && *out == NULL) {
		snprintf(err->message, sizeof(err->message),
		    "Twilio answered the search without a body");
		rc = XERR_UPSTREAM;
	}
out:
	buf_free(path);
	buf_free(q);
	return rc;
}

/* Lists the account's numbers named friendly_name. */
enum xerr
twilio_number_find(struct http *h, const struct cfg *cfg,
    const char *friendly_name, struct twilio_number *out, size_t *found,
    struct twilio_error *err)
{
	struct json_object *list = NULL;
	struct buf	*q = NULL;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	*found = 0;
	if ((q = buf_new(TWILIO_FORM_MAX)) == NULL)
		return XERR_NOMEM;
	if ((rc = http_form_add(q, "FriendlyName", friendly_name)) ||
	    (rc = http_form_add(q, "PageSize", TWILIO_LIST_PAGE)))
		goto out;
	if ((rc = twilio_call(h, cfg, "GET", "IncomingPhoneNumbers.json", q,
	    &list, err)) != XERR_OK)
		goto out;
	if (jsonx_get(list, "incoming_phone_numbers") == NULL) {
		snprintf(err->message, sizeof(err->message),
		    "Twilio answered the list without incoming_phone_numbers");
		rc = XERR_UPSTREAM;
		goto out;
	}
	*found = twilio_number_pick(list, friendly_name, out);
out:
	json_object_put(list);
	buf_free(q);
	return rc;
}

/* Buys one number and checks what Twilio says it bought. */
enum xerr
twilio_number_buy(struct http *h, const struct cfg *cfg,
    const struct twilio_buy *b, struct twilio_number *out,
    struct twilio_error *err)
{
	struct json_object *obj = NULL;
	struct buf	*form = NULL;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if ((b->phone_number == NULL && b->area_code == NULL) ||
	    b->friendly_name == NULL)
		return XERR_BADREQ;
	if ((form = buf_new(TWILIO_FORM_MAX)) == NULL)
		return XERR_NOMEM;
	if ((b->phone_number != NULL &&
	    (rc = http_form_add(form, "PhoneNumber", b->phone_number))) ||
	    (b->phone_number == NULL &&
	    (rc = http_form_add(form, "AreaCode", b->area_code))) ||
	    (rc = http_form_add(form, "FriendlyName", b->friendly_name)) ||
	    (b->voice_url != NULL &&
	    ((rc = http_form_add(form, "VoiceUrl", b->voice_url)) ||
	    (rc = http_form_add(form, "VoiceMethod", "POST")))) ||
	    (b->sms_url != NULL &&
	    ((rc = http_form_add(form, "SmsUrl", b->sms_url)) ||
	    (rc = http_form_add(form, "SmsMethod", "POST")))) ||
	    (b->status_callback != NULL &&
	    ((rc = http_form_add(form, "StatusCallback", b->status_callback)) ||
	    (rc = http_form_add(form, "StatusCallbackMethod", "POST")))))
		goto out;
	if ((rc = twilio_call(h, cfg, "POST", "IncomingPhoneNumbers.json",
	    form, &obj, err)) != XERR_OK)
		goto out;
	if (twilio_number_parse(obj, out) != 0) {
		log_errorx("twilio: purchase answered without a valid sid or "
		    "phone number");
		snprintf(err->message, sizeof(err->message), "Twilio answered "
		    "the purchase without a valid sid or phone number");
		rc = XERR_UPSTREAM;
	}
out:
	json_object_put(obj);
	buf_free(form);
	return rc;
}

/*
 * Builds "<list>/<sid>.json" in *out for a sid valid with prefix (or with
 * prefix2 when not NULL).
 */
static enum xerr
twilio_res_path(const char *list, const char *prefix, const char *prefix2,
    const char *sid, struct buf **out)
{
	struct buf	*p;
	enum xerr	 rc;

	*out = NULL;
	if (!twilio_sid_valid(sid, prefix) &&
	    (prefix2 == NULL || !twilio_sid_valid(sid, prefix2)))
		return XERR_BADREQ;
	if ((p = buf_new(128)) == NULL)
		return XERR_NOMEM;
	if ((rc = buf_puts(p, list)) || (rc = buf_puts(p, "/")) ||
	    (rc = http_path_escape(sid, p)) ||
	    (rc = buf_puts(p, ".json"))) {
		buf_free(p);
		return rc;
	}
	*out = p;
	return XERR_OK;
}

/* Builds "IncomingPhoneNumbers/<sid>.json" in *out for a valid PN sid. */
static enum xerr
twilio_number_path(const char *sid, struct buf **out)
{
	return twilio_res_path("IncomingPhoneNumbers", "PN", NULL, sid, out);
}

/* Fetches the object at path; a reply without a body is a failure. */
static enum xerr
twilio_fetch(struct http *h, const struct cfg *cfg, struct buf *path,
    struct json_object **out, struct twilio_error *err)
{
	enum xerr	 rc;

	rc = twilio_call(h, cfg, "GET", buf_data(path), NULL, out, err);
	if (rc == XERR_OK && *out == NULL) {
		snprintf(err->message, sizeof(err->message),
		    "Twilio answered the fetch without a body");
		rc = XERR_UPSTREAM;
	}
	buf_free(path);
	return rc;
}

/* Reads a message's num_segments (Twilio writes it as a string). */
enum xerr
twilio_message_segments(struct http *h, const struct cfg *cfg,
    const char *sid, long long *segments, struct twilio_error *err)
{
	struct json_object	*msg = NULL, *v;
	struct buf		*path = NULL;
	const char		*s;
	char			*end;
	long long		 n;
	enum xerr		 rc;

	*segments = 0;
	memset(err, 0, sizeof(*err));
	if ((rc = twilio_res_path("Messages", "SM", "MM", sid, &path)))
		return rc;
	if ((rc = twilio_fetch(h, cfg, path, &msg, err)) != XERR_OK)
		return rc;
	v = jsonx_get(msg, "num_segments");
	s = v != NULL ? json_object_get_string(v) : NULL;
	n = s != NULL ? strtoll(s, &end, 10) : -1;
	if (s == NULL || *s == '\0' || *end != '\0' || n < 0 || n > 1000) {
		snprintf(err->message, sizeof(err->message),
		    "Twilio's message has no num_segments");
		rc = XERR_UPSTREAM;
	} else
		*segments = n;
	json_object_put(msg);
	return rc;
}

/* Fetches one number as Twilio sees it. */
enum xerr
twilio_number_fetch(struct http *h, const struct cfg *cfg, const char *sid,
    struct json_object **out, struct twilio_error *err)
{
	struct buf	*path = NULL;
	enum xerr	 rc;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	if ((rc = twilio_number_path(sid, &path)) != XERR_OK)
		return rc;
	return twilio_fetch(h, cfg, path, out, err);
}

/* Releases one number; one Twilio does not know counts as released. */
enum xerr
twilio_number_release(struct http *h, const struct cfg *cfg, const char *sid,
    struct twilio_error *err)
{
	struct json_object *obj = NULL;
	struct buf	*path = NULL;
	enum xerr	 rc;

	memset(err, 0, sizeof(*err));
	if ((rc = twilio_number_path(sid, &path)) != XERR_OK)
		return rc;
	rc = twilio_call(h, cfg, "DELETE", buf_data(path), NULL, &obj, err);
	if (rc == XERR_NOTFOUND) {
		log_info("twilio: %s was already released", sid);
		memset(err, 0, sizeof(*err));
		rc = XERR_OK;
	}
	json_object_put(obj);
	buf_free(path);
	return rc;
}

/*
 * Returns 1 when next is the next page Twilio names for our list:
 * "/2010-04-01/Accounts/<our account>/IncomingPhoneNumbers.json?<query>"
 * with a query of URL-safe bytes only; *query points into next.
 */
static int
twilio_next_page(const struct cfg *cfg, const char *next, const char **query)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-._~%&=+";
	const char	*p = next;
	size_t		 n;

	*query = NULL;
	n = strlen("/2010-04-01/Accounts/");
	if (strncmp(p, "/2010-04-01/Accounts/", n) != 0)
		return 0;
	p += n;
	n = strlen(cfg->twilio_account_sid);
	if (strncmp(p, cfg->twilio_account_sid, n) != 0)
		return 0;
	p += n;
	n = strlen("/IncomingPhoneNumbers.json?");
	if (strncmp(p, "/IncomingPhoneNumbers.json?", n) != 0)
		return 0;
	p += n;
	if (*p == '\0' || strlen(p) > TWILIO_FORM_MAX - 1 ||
	    strspn(p, safe) != strlen(p))
		return 0;
	*query = p;
	return 1;
}

enum xerr
twilio_number_page(struct http *h, const struct cfg *cfg, const char *next,
    struct json_object **out, const char **next_out,
    struct twilio_error *err)
{
	struct json_object *list = NULL, *arr;
	struct buf	*q = NULL;
	const char	*query, *nx;
	char		 size[16];
	enum xerr	 rc;

	*out = NULL;
	*next_out = NULL;
	snprintf(size, sizeof(size), "%d", TWILIO_PAGE_MAX);
	memset(err, 0, sizeof(*err));
	if ((q = buf_new(TWILIO_FORM_MAX)) == NULL)
		return XERR_NOMEM;
	if (next == NULL)
		rc = http_form_add(q, "PageSize", size);
	else if (!twilio_next_page(cfg, next, &query))
		rc = XERR_BADREQ;
	else
		rc = buf_puts(q, query);
	if (rc != XERR_OK)
		goto out;
	if ((rc = twilio_call(h, cfg, "GET", "IncomingPhoneNumbers.json", q,
	    &list, err)) != XERR_OK)
		goto out;
	arr = jsonx_get(list, "incoming_phone_numbers");
	if (!json_object_is_type(arr, json_type_array)) {
		snprintf(err->message, sizeof(err->message),
		    "Twilio answered the list without incoming_phone_numbers");
		rc = XERR_UPSTREAM;
		goto out;
	}
	/*
	 * Another page only after a full one, and only where Twilio's own
	 * next_page_uri points under our account: a short page is the last
	 * whatever it says.
	 */
	nx = jsonx_str(list, "next_page_uri");
	if (nx != NULL && json_object_array_length(arr) >= TWILIO_PAGE_MAX) {
		if (!twilio_next_page(cfg, nx, &query)) {
			snprintf(err->message, sizeof(err->message),
			    "Twilio's next_page_uri is not a page of our list");
			rc = XERR_UPSTREAM;
			goto out;
		}
		*next_out = nx;
	}
	*out = list;
	list = NULL;
out:
	json_object_put(list);
	buf_free(q);
	return rc;
}

enum xerr
twilio_number_set_urls(struct http *h, const struct cfg *cfg, const char *sid,
    const char *voice_url, const char *sms_url, const char *status_callback,
    struct twilio_error *err)
{
	struct json_object *obj = NULL;
	struct buf	*path = NULL, *form = NULL;
	enum xerr	 rc;

	memset(err, 0, sizeof(*err));
	if (voice_url == NULL || sms_url == NULL || status_callback == NULL)
		return XERR_BADREQ;
	if ((rc = twilio_number_path(sid, &path)) != XERR_OK)
		return rc;
	if ((form = buf_new(TWILIO_FORM_MAX)) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = http_form_add(form, "VoiceUrl", voice_url)) ||
	    (rc = http_form_add(form, "VoiceMethod", "POST")) ||
	    (rc = http_form_add(form, "SmsUrl", sms_url)) ||
	    (rc = http_form_add(form, "SmsMethod", "POST")) ||
	    (rc = http_form_add(form, "StatusCallback", status_callback)) ||
	    (rc = http_form_add(form, "StatusCallbackMethod", "POST")))
		goto out;
	rc = twilio_call(h, cfg, "POST", buf_data(path), form, &obj, err);
out:
	json_object_put(obj);
	buf_free(path);
	buf_free(form);
	return rc;
}
