#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/req.h"
#include "store/phone_numbers.h"
#include "remote/twilio.h"
#include "remote/twilio_sig.h"
#include "domain/phone.h"
#include "domain/tiers.h"
#include "app/apierr.h"
#include "app/auth.h"
#include "app/page.h"
#include "app/phone_api.h"

#define PHONE_API_SEARCH_LIMIT	10	/* numbers a search returns by default */
#define PHONE_API_SEARCH_MAX	30
#define PHONE_API_URL_MAX	2048
#define PHONE_API_CALL_MAX	604800	/* seconds; a longer call is a lie */
#define PHONE_API_ERR_MAX	384
#define PHONE_API_ADMIN_LIMIT	50	/* numbers per page by default */
#define PHONE_API_ADMIN_MAX	100
#define PHONE_API_SEGMENTS_MAX	1000	/* Twilio: 1600 characters, ~11 */
#define PHONE_API_SAY_NO_TIER	"This number's plan includes no calls " \
	"or texts. Please reach its owner another way."
#define PHONE_API_SAY_NO_ASSISTANT "The assistant at this number is not " \
	"reachable right now. Please try again later."

/*
 * What the errors of the domain calls mean to the Phone API's clients
 * (app/apierr.h); docs/API.md names the codes.
 */

/* A body req_json() or req_form() refuses: of the wrong type, or not read. */
static const struct apierr phone_api_json_errs[] = {
	{ XERR_MEDIATYPE, 0, NULL, "send application/json" },
	{ XERR_OK, 0, NULL, NULL },
};
static const struct apierr phone_api_form_errs[] = {
	{ XERR_MEDIATYPE, 0, NULL,
	    "send application/x-www-form-urlencoded" },
	{ XERR_OK, 0, NULL, NULL },
};

/* The caller's own row: a user gone since the token was made is 401. */
static const struct apierr phone_api_user_errs[] = {
	{ XERR_NOTFOUND, 401, "unauthorized", NULL },
	{ XERR_OK, 0, NULL, NULL },
};

/*
 * Recording what Twilio told us: a database away or busy is worth a retry
 * (503, apierr_find()); another database error is not (500).
 */
static const struct apierr phone_api_record_errs[] = {
	{ XERR_OK, 0, NULL, NULL },
};

/* Claiming a number (phone_request()). */
static const struct apierr phone_api_provision_errs[] = {
	{ XERR_CONFLICT, 0, "already_has_number", NULL },
	{ XERR_FORBIDDEN, 0, "tier_not_eligible", NULL },
	{ XERR_OK, 0, NULL, NULL },
};

/* Any call while a number is being bought for the user. */
static const struct apierr phone_api_busy_errs[] = {
	{ XERR_CONFLICT, 0, "provisioning_in_progress", NULL },
	{ XERR_OK, 0, NULL, NULL },
};

/* Releasing the number (phone_release()). */
static const struct apierr phone_api_release_errs[] = {
	{ XERR_NOTFOUND, 0, "no_number", "you hold no phone number" },
	{ XERR_CONFLICT, 0, "provisioning_in_progress", NULL },
	{ XERR_UNPROCESSABLE, 502, "twilio_error", NULL },
	{ XERR_UPSTREAM, 0, "twilio_error", NULL },
	{ XERR_OK, 0, NULL, NULL },
};

/*
 * A search at Twilio: XERR_BADREQ when the client's search failed
 * Twilio's own rules (a 400 there), XERR_UPSTREAM for any other failure
 * but 404 (no numbers in that country: none offered).
 */
static const struct apierr phone_api_search_errs[] = {
	{ XERR_BADREQ, 0, NULL, "Twilio refused the search: %s" },
	{ XERR_UPSTREAM, 0, "twilio_error", "Twilio could not search: %s" },
	{ XERR_OK, 0, NULL, NULL },
};

enum xerr
phone_api_start(const struct cfg *cfg, unsigned long *threads)
{
	enum xerr	 rc;

	if ((rc = phone_calls_start(cfg)) != XERR_OK)
		return rc;
	*threads = cfg->phone_threads;
	log_info("%lu request threads, %lu call committers, batches of up "
	    "to %lu", cfg->phone_threads, cfg->phone_committers,
	    cfg->phone_batch_max);
	return XERR_OK;
}

/* Answers 400 when name is given more than once; returns -1 then. */
static int
phone_api_query_once_or_reply(struct req *r, const char *name)
{
	if (kv_count_name(r->query, name) <= 1)
		return 0;
	req_error(r, XERR_BADREQ, NULL, "%s given more than once", name);
	return -1;
}

/* Returns the query parameter name, NULL when absent or empty. */
static const char *
phone_api_query(const struct req *r, const char *name)
{
	const char	*v = kv_get(r->query, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/*
 * Loads the caller's record and answers 403 when the tier has no phone.
 * Returns 0, or -1 when it has answered.
 */
static int
phone_api_eligible_or_reply(struct req *r, struct phone_info *info)
{
	char		 tier[33];
	int		 ok;
	enum xerr	 rc;

	if ((rc = phone_get(r->db, r->user_id, info, tier, sizeof(tier))) ||
	    (rc = tiers_phone_eligible(r->db, tier, &ok))) {
		apierr_reply(r, phone_api_user_errs, rc,
		    "cannot read the user");
		return -1;
	}
	if (!ok) {
		req_error(r, XERR_FORBIDDEN, "tier_not_eligible",
		    "the %s tier includes no phone number; upgrade first",
		    tier);
		return -1;
	}
	return 0;
}

/* Adds {voice, sms, mms} from Twilio's capabilities (either case). */
static void
phone_api_add_caps(struct json_object *to, struct json_object *caps)
{
	struct json_object	*c;

	if ((c = json_object_new_object()) == NULL)
		return;
	json_object_object_add(c, "voice", json_object_new_boolean(
	    jsonx_bool(caps, "voice", 0)));
	json_object_object_add(c, "sms", json_object_new_boolean(
	    jsonx_bool(caps, "sms", jsonx_bool(caps, "SMS", 0))));
	json_object_object_add(c, "mms", json_object_new_boolean(
	    jsonx_bool(caps, "mms", jsonx_bool(caps, "MMS", 0))));
	json_object_object_add(to, "capabilities", c);
}

/* Builds {"numbers": [...]} from a search reply, at most limit. */
static struct json_object *
phone_api_offers(struct json_object *reply, long long limit)
{
	struct json_object	*root, *arr, *item, *o;
	const char		*num;
	size_t			 i;

	if ((root = json_object_new_object()) == NULL)
		return NULL;
	if ((arr = json_object_new_array()) == NULL) {
		json_object_put(root);
		return NULL;
	}
	json_object_object_add(root, "numbers", arr);
	for (i = 0; (item = jsonx_idx(reply, "available_phone_numbers", i)) !=
	    NULL && (long long)json_object_array_length(arr) < limit; i++) {
		num = jsonx_str(item, "phone_number");
		if (!twilio_e164_valid(num))
			continue;
		if ((o = json_object_new_object()) == NULL)
			break;
		jsonx_add_str(o, "phone_number", num);
		jsonx_add_str(o, "friendly_name",
		    jsonx_str(item, "friendly_name"));
		jsonx_add_str(o, "locality", jsonx_str(item, "locality"));
		jsonx_add_str(o, "region", jsonx_str(item, "region"));
		phone_api_add_caps(o, jsonx_get(item, "capabilities"));
		json_object_array_add(arr, o);
	}
	return root;
}

/* The query parameters of a search besides limit: struct phone_want's. */
static const char *const phone_api_search_params[] = { "country",
    "area_code", "contains", "region", "locality", "postal_code",
    "near_number", "near_lat_long", "distance" };

/* GET /api/phone/search: 200, 400, 401, 403, 502, 503 (see app/phone_api.h). */
void
phone_api_search(struct req *r)
{
	struct twilio_search	 q;
	struct twilio_error	 terr;
	struct phone_info	 info;
	struct phone_want	 want;
	struct json_object	*reply = NULL, *root = NULL;
	const char		*s;
	char			 err[PHONE_API_ERR_MAX];
	long long		 limit = PHONE_API_SEARCH_LIMIT;
	size_t			 i;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	memset(&want, 0, sizeof(want));
	if (phone_api_query_once_or_reply(r, "limit"))
		return;
	for (i = 0; i < sizeof(phone_api_search_params) /
	    sizeof(phone_api_search_params[0]); i++) {
		if (phone_api_query_once_or_reply(r,
		    phone_api_search_params[i]))
			return;
		if (phone_want_set(&want, phone_api_search_params[i],
		    phone_api_query(r, phone_api_search_params[i]), err,
		    sizeof(err)) != XERR_OK) {
			req_error(r, XERR_BADREQ, NULL, "%s", err);
			return;
		}
	}
	if (phone_want_check(&want, err, sizeof(err)) != XERR_OK) {
		req_error(r, XERR_BADREQ, NULL, "%s", err);
		return;
	}
	if ((s = phone_api_query(r, "limit")) != NULL &&
	    phone_parse_uint(s, 1, PHONE_API_SEARCH_MAX, &limit) != 0) {
		req_error(r, XERR_BADREQ, NULL, "limit must be 1 to %d",
		    PHONE_API_SEARCH_MAX);
		return;
	}
	if (phone_api_eligible_or_reply(r, &info) != 0)
		return;

	phone_want_query(&want, &q);
	rc = twilio_search_local(r->http, r->cfg, &q, (unsigned)limit, &reply,
	    &terr);
	if (rc == XERR_UNPROCESSABLE && terr.status == 400)
		/* What we checked passed; Twilio's own rules did not. */
		rc = XERR_BADREQ;
	else if (rc != XERR_OK && rc != XERR_NOTFOUND)
		rc = XERR_UPSTREAM;
	if (rc != XERR_OK && rc != XERR_NOTFOUND) {
		apierr_reply(r, phone_api_search_errs, rc, terr.message);
		return;
	}
	/* A 404 means Twilio has no numbers of that country: none offered. */
	if ((root = phone_api_offers(reply, limit)) == NULL)
		req_error(r, XERR_NOMEM, NULL, "out of memory");
	else
		req_reply_json(r, 200, root);
	json_object_put(root);
	json_object_put(reply);
}

/* Builds the JSON of a user's record. */
static struct json_object *
phone_api_info_json(const struct phone_info *info)
{
	struct json_object	*o;
	int			 active = strcmp(info->status, "active") == 0;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	/* A provisioning that failed for good: 'none' and its reason. */
	jsonx_add_str(o, "status", strcmp(info->status, "none") == 0 &&
	    info->error[0] != '\0' ? "failed" : info->status);
	jsonx_add_str(o, "error", info->error[0] ? info->error : NULL);
	if (info->grace_until > 0)
		jsonx_add_int(o, "grace_until", info->grace_until);
	else
		jsonx_add_str(o, "grace_until", NULL);
	jsonx_add_str(o, "phone_number",
	    info->phone_number[0] ? info->phone_number : NULL);
	jsonx_add_str(o, "phone_sid", info->sid[0] ? info->sid : NULL);
	if (active && info->provisioned_at > 0)
		jsonx_add_int(o, "provisioned_at", info->provisioned_at);
	else
		jsonx_add_str(o, "provisioned_at", NULL);
	return o;
}

/*
 * Reads the number wanted from the body of a provisioning or of a
 * preference (struct phone_want's members) into *want; *has is 0 for an
 * empty body, {} or members all empty or null (the stored preference, or
 * none).  Returns 0, or -1
 * when it has answered 400 or 415.
 */
static int
phone_api_want_or_reply(struct req *r, struct phone_want *want, int *has)
{
	struct json_object	*root = NULL;
	char			 err[PHONE_API_ERR_MAX];
	enum xerr		 rc;

	memset(want, 0, sizeof(*want));
	*has = 0;
	if (r->bodylen == 0)
		return 0;
	if ((rc = req_json(r, &root)) != XERR_OK) {
		apierr_reply(r, phone_api_json_errs, rc, "malformed JSON");
		return -1;
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		req_error(r, XERR_BADREQ, NULL, "the body must be an object");
		return -1;
	}
	rc = phone_want_from_json(root, want, err, sizeof(err));
	/* A member empty or null is not asked: nothing set, as {}. */
	*has = phone_want_any(want);
	json_object_put(root);
	if (rc != XERR_OK) {
		req_error(r, rc, NULL, "%s", err);
		return -1;
	}
	return 0;
}

/*
 * POST /api/phone/provision: 202, 400, 401, 403, 409, 415, 503 (see
 * app/phone_api.h).
 */
void
phone_api_provision(struct req *r)
{
	struct phone_info	 info;
	struct phone_want	 want;
	struct json_object	*o = NULL;
	char			 err[PHONE_API_ERR_MAX], hdr[48];
	int64_t			 wait;
	int			 has;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if (phone_api_want_or_reply(r, &want, &has) != 0)
		return;
	rc = phone_request(r->db, r->cfg, r->user_id, has ? &want : NULL,
	    &info, err, sizeof(err));
	if (rc == XERR_TOOMANY) {
		wait = info.next_at - (int64_t)time(NULL);
		snprintf(hdr, sizeof(hdr), "Retry-After: %lld\r\n",
		    (long long)(wait > 1 ? wait : 1));
		req_error_status(r, 429, hdr, "provision_limit", "%s", err);
		return;
	}
	if (rc != XERR_OK) {
		apierr_reply(r, rc == XERR_CONFLICT &&
		    strcmp(info.status, "provisioning") == 0 ?
		    phone_api_busy_errs : phone_api_provision_errs, rc,
		    err[0] ? err : "could not provision a number");
		return;
	}
	if ((o = phone_api_info_json(&info)) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	jsonx_add_int(o, "claimed_at", info.provisioned_at);
	req_reply_json(r, 202, o);
	json_object_put(o);
}

/*
 * PUT /api/phone/preference: 200 {"preference": {...}}, 400, 401, 403,
 * 415, 503 (see app/phone_api.h).
 */
void
phone_api_preference(struct req *r)
{
	struct phone_info	 info;
	struct phone_want	 want;
	struct json_object	*o;
	int			 has;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if (phone_api_want_or_reply(r, &want, &has) != 0)
		return;
	if (has && want.phone_number[0] != '\0') {
		req_error(r, XERR_BADREQ, NULL, "a preference is a search: "
		    "phone_number is only for POST /api/phone/provision");
		return;
	}
	if (phone_api_eligible_or_reply(r, &info) != 0)
		return;
	if ((rc = phone_search_store(r->db, r->user_id, has ? &want : NULL))) {
		apierr_reply(r, phone_api_user_errs, rc,
		    "could not store the preference");
		return;
	}
	if ((o = json_object_new_object()) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	json_object_object_add(o, "preference", phone_want_json(&want));
	req_reply_json(r, 200, o);
	json_object_put(o);
}

/* DELETE /api/phone/release: 200, 401, 404, 409, 502, 503 (see app/phone_api.h). */
void
phone_api_release(struct req *r)
{
	struct phone_info	 info;
	struct json_object	*o;
	char			 err[PHONE_API_ERR_MAX];
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	rc = phone_release(r->db, r->http, r->cfg, r->user_id, &info, err,
	    sizeof(err));
	if (rc != XERR_OK) {
		apierr_reply(r, phone_api_release_errs, rc, err[0] ? err :
		    "could not release the number");
		return;
	}
	if ((o = json_object_new_object()) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	jsonx_add_str(o, "status", "none");
	jsonx_add_str(o, "released_number", info.phone_number);
	jsonx_add_str(o, "released_sid", info.sid);
	jsonx_add_int(o, "released_at", info.provisioned_at);
	req_reply_json(r, 200, o);
	json_object_put(o);
}

/* Builds the part of Twilio's number object the details show. */
static struct json_object *
phone_api_twilio_view(struct json_object *t)
{
	static const char *const keys[] = { "sid", "phone_number",
	    "friendly_name", "status", "voice_url", "sms_url",
	    "status_callback", "date_created" };
	struct json_object	*o;
	size_t			 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		jsonx_add_str(o, keys[i], jsonx_str(t, keys[i]));
	phone_api_add_caps(o, jsonx_get(t, "capabilities"));
	return o;
}

/* Adds "preference": the stored number preference, or null. */
static void
phone_api_add_preference(struct json_object *o, const struct phone_info *info)
{
	struct json_object	*pref = NULL;

	if (info->search[0] != '\0' && jsonx_parse(info->search,
	    strlen(info->search), &pref) != XERR_OK)
		pref = NULL;
	json_object_object_add(o, "preference", pref);
}

/* GET /api/phone/details: 200, 401, 503; Twilio failing is a warning. */
void
phone_api_details(struct req *r)
{
	struct twilio_error	 terr;
	struct phone_info	 info;
	struct json_object	*o = NULL, *t = NULL, *view = NULL;
	char			 tier[33], warn[PHONE_API_ERR_MAX];
	int			 eligible;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if ((rc = phone_get(r->db, r->user_id, &info, tier, sizeof(tier))) ||
	    (rc = tiers_phone_eligible(r->db, tier, &eligible))) {
		apierr_reply(r, phone_api_user_errs, rc,
		    "cannot read the user");
		return;
	}
	if ((o = phone_api_info_json(&info)) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	jsonx_add_str(o, "tier", tier);
	phone_api_add_preference(o, &info);
	json_object_object_add(o, "phone_eligible",
	    json_object_new_boolean(eligible));
	warn[0] = '\0';
	if (strcmp(info.status, "active") == 0 && info.sid[0] != '\0') {
		rc = twilio_number_fetch(r->http, r->cfg, info.sid, &t, &terr);
		if (rc == XERR_OK)
			view = phone_api_twilio_view(t);
		else if (rc == XERR_NOTFOUND)
			snprintf(warn, sizeof(warn), "Twilio does not know "
			    "this number");
		else
			snprintf(warn, sizeof(warn), "Twilio could not be "
			    "asked: %s", terr.message);
	}
	json_object_object_add(o, "twilio", view);
	if (warn[0] != '\0')
		jsonx_add_str(o, "warning", warn);
	req_reply_json(r, 200, o);
	json_object_put(o);
	json_object_put(t);
}

/*
 * Reads Twilio's form and checks its X-Twilio-Signature over our public
 * URL of this request (PUBLIC_BASE_URL, path and query, as Twilio
 * called it).  *form is the caller's to free.  Returns 0, or -1 when it
 * has answered (400, 403, 415, 500).
 */
static int
phone_api_signed_form_or_reply(struct req *r, const char *what,
    struct kv **form)
{
	struct buf	*url = NULL;
	const char	*sig, *qs;
	enum xerr	 rc;
	int		 ret = -1;

	*form = NULL;
	if ((rc = req_form(r, form)) != XERR_OK) {
		apierr_reply(r, phone_api_form_errs, rc, "malformed form");
		goto out;
	}
	qs = req_param(r, "QUERY_STRING");
	if ((url = buf_new(PHONE_API_URL_MAX)) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (buf_puts(url, r->cfg->public_base_url) ||
	    buf_puts(url, r->path) ||
	    (qs != NULL && *qs != '\0' && buf_printf(url, "?%s", qs))) {
		req_error(r, XERR_BADREQ, NULL, "URL too long");
		goto out;
	}
	sig = req_header(r, "X-Twilio-Signature");
	if (sig == NULL || !twilio_sig_valid(r->cfg->twilio_auth_token,
	    buf_data(url), *form, sig)) {
		log_warnx("%s %s from %s: %s signature", what, r->path_rest,
		    r->remote_addr, sig == NULL ? "no" : "bad");
		req_error(r, XERR_FORBIDDEN, "invalid_signature",
		    "X-Twilio-Signature does not match");
		goto out;
	}
	ret = 0;
out:
	buf_free(url);
	if (ret != 0) {
		kv_free(*form);
		*form = NULL;
	}
	return ret;
}

/*
 * POST /phone/status/<user id>: 204, 400, 403, 404, 415, 503 (see
 * app/phone_api.h).  The signature is checked before anything is read from the
 * form.
 */
void
phone_api_status_callback(struct req *r)
{
	struct kv		*form = NULL;
	const char		*user = r->path_rest, *call_sid, *status, *dur;
	long long		 duration = -1;
	int			 dup = 0;
	enum xerr		 rc;

	if (!ids_user_ok(user)) {
		req_error(r, XERR_NOTFOUND, NULL, "no such callback");
		return;
	}
	if (phone_api_signed_form_or_reply(r, "status callback for", &form))
		return;

	call_sid = kv_get(form, "CallSid");
	status = kv_get(form, "CallStatus");
	dur = kv_get(form, "CallDuration");
	if (!twilio_sid_valid(call_sid, "CA") || status == NULL ||
	    *status == '\0' || strlen(status) > 32 ||
	    strspn(status, "abcdefghijklmnopqrstuvwxyz-") != strlen(status)) {
		req_error(r, XERR_BADREQ, NULL, "CallSid or CallStatus "
		    "missing or malformed");
		goto out;
	}
	if (dur != NULL && *dur != '\0' &&
	    phone_parse_uint(dur, 0, PHONE_API_CALL_MAX, &duration) != 0) {
		req_error(r, XERR_BADREQ, NULL, "CallDuration malformed");
		goto out;
	}
	rc = phone_call_record(r->db, r->id, user, call_sid, status, duration,
	    &dup);
	if (rc == XERR_NOTFOUND) {
		/* Signed by Twilio, so the number was ours once: nothing to bill. */
		log_warnx("call %s %s for unknown user %s: ignored", call_sid,
		    status, user);
		req_reply(r, 204, "text/plain", NULL, NULL, 0);
		goto out;
	}
	if (rc != XERR_OK) {
		apierr_reply(r, phone_api_record_errs, rc,
		    "could not record the call");
		goto out;
	}
	log_info("call %s %s for user %s: %lld s%s", call_sid, status, user,
	    duration, dup ? " (seen before)" : "");
	req_reply(r, 204, "text/plain", NULL, NULL, 0);
out:
	kv_free(form);
}

/* Answers TwiML: <Response>, then body (XML, ours), then </Response>. */
static void
phone_api_twiml(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
phone_api_twiml(struct req *r, const char *fmt, ...)
{
	char	 body[PHONE_API_URL_MAX + 512], inner[PHONE_API_URL_MAX + 256];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(inner, sizeof(inner), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(inner)) {
		req_error(r, XERR_INTERNAL, NULL, "TwiML too long");
		return;
	}
	n = snprintf(body, sizeof(body), "<?xml version=\"1.0\" "
	    "encoding=\"UTF-8\"?>\n<Response>%s</Response>\n", inner);
	req_reply(r, 200, "text/xml", NULL, body, (size_t)n);
}

/*
 * Reads To and the sid named sid_name (of prefix, or prefix2 when not
 * NULL) of an inbound webhook.  Returns 0, or -1 when it has answered 400.
 */
static int
phone_api_inbound_fields_or_reply(struct req *r, struct kv *form,
    const char *sid_name, const char *prefix, const char *prefix2,
    const char **to, const char **sid)
{
	*to = kv_get(form, "To");
	*sid = kv_get(form, sid_name);
	if (!twilio_sid_valid(*sid, prefix) &&
	    (prefix2 == NULL || !twilio_sid_valid(*sid, prefix2))) {
		req_error(r, XERR_BADREQ, NULL, "%s missing or malformed",
		    sid_name);
		return -1;
	}
	if (*to == NULL || !twilio_e164_valid(*to)) {
		req_error(r, XERR_BADREQ, NULL, "To missing or malformed");
		return -1;
	}
	return 0;
}

/*
 * POST /phone/voice/<user id>: TwiML for a call to the user's number (see
 * app/phone_api.h).
 */
void
phone_api_voice(struct req *r)
{
	enum phone_inbound	 verdict;
	struct kv		*form = NULL;
	const char		*user = r->path_rest, *to, *sid;
	enum xerr		 rc;

	if (phone_api_signed_form_or_reply(r, "call to", &form) ||
	    phone_api_inbound_fields_or_reply(r, form, "CallSid", "CA", NULL,
	    &to, &sid))
		goto out;
	if ((rc = phone_inbound(r->db, user, to, &verdict)) != XERR_OK) {
		apierr_reply(r, phone_api_record_errs, rc,
		    "could not look the number up");
		goto out;
	}
	switch (verdict) {
	case PHONE_IN_NOT_THEIRS:
		log_warnx("call %s to %s for %.64s: not that user's number; "
		    "rejected", sid, to, user);
		phone_api_twiml(r, "<Reject reason=\"rejected\"/>");
		break;
	case PHONE_IN_NO_TIER:
		log_info("call %s for user %s: tier without phone", sid, user);
		phone_api_twiml(r, "<Say>%s</Say><Hangup/>",
		    PHONE_API_SAY_NO_TIER);
		break;
	case PHONE_IN_OK:
		if (r->cfg->assistant_voice_url[0] == '\0') {
			log_warnx("call %s for user %s: ASSISTANT_VOICE_URL "
			    "is not set", sid, user);
			phone_api_twiml(r, "<Say>%s</Say><Hangup/>",
			    PHONE_API_SAY_NO_ASSISTANT);
			break;
		}
		log_info("call %s for user %s: to the assistant", sid, user);
		phone_api_twiml(r, "<Redirect method=\"POST\">%s/%s</Redirect>",
		    r->cfg->assistant_voice_url, user);
		break;
	}
out:
	kv_free(form);
}

/*
 * Reads the segments Twilio bills message sid as: NumSegments when the
 * form has it, else Twilio's message (num_segments).  Returns 0; 1 when
 * Twilio could not say now (the caller has a job ask again,
 * phone_sms_later()); or -1 when it has answered (400).
 */
static int
phone_api_segments_or_reply(struct req *r, struct kv *form, const char *sid,
    long long *segments)
{
	struct twilio_error	 terr;
	const char		*n = kv_get(form, "NumSegments");
	enum xerr		 rc;

	if (n != NULL && *n != '\0') {
		if (phone_parse_uint(n, 0, PHONE_API_SEGMENTS_MAX,
		    segments) == 0)
			return 0;
		req_error(r, XERR_BADREQ, NULL, "NumSegments malformed");
		return -1;
	}
	rc = twilio_message_segments(r->http, r->cfg, sid, segments, &terr);
	if (rc == XERR_OK)
		return 0;
	log_warnx("message %s: segments unknown: %s; asked again later", sid,
	    terr.message);
	return 1;
}

/*
 * Has a job record message sid of user later (phone_sms_later()): Twilio
 * does not send the callback again, so it is answered as recorded.
 * Returns 0, or -1 when it has answered (503, 500).
 */
static int
phone_api_sms_later_or_reply(struct req *r, const char *user, const char *sid)
{
	enum xerr	 rc;

	if ((rc = phone_sms_later(r->db, user, sid)) == XERR_OK)
		return 0;
	apierr_reply(r, phone_api_record_errs, rc,
	    "could not record the message");
	return -1;
}

/*
 * POST /phone/sms/<user id>/status: a status callback of a message sent
 * from the user's number; sent and delivered are metered (once per
 * MessageSid, also against the inbound webhook).  204.
 */
static void
phone_api_sms_status(struct req *r, const char *user, struct kv *form)
{
	struct phone_info	 info;
	const char		*sid = kv_get(form, "MessageSid"),
				*st = kv_get(form, "MessageStatus");
	long long		 segments = 0;
	int			 dup = 0, later;
	enum xerr		 rc;

	if ((!twilio_sid_valid(sid, "SM") && !twilio_sid_valid(sid, "MM")) ||
	    st == NULL || *st == '\0') {
		req_error(r, XERR_BADREQ, NULL, "MessageSid or MessageStatus "
		    "missing or malformed");
		return;
	}
	if (strcmp(st, "sent") != 0 && strcmp(st, "delivered") != 0) {
		req_reply(r, 204, "text/plain", NULL, NULL, 0);
		return;
	}
	if ((rc = phone_get(r->db, user, &info, NULL, 0)) == XERR_NOTFOUND) {
		log_warnx("message %s %s for unknown user %s: ignored", sid,
		    st, user);
		req_reply(r, 204, "text/plain", NULL, NULL, 0);
		return;
	}
	if (rc == XERR_OK) {
		if ((later = phone_api_segments_or_reply(r, form, sid,
		    &segments)) < 0)
			return;
		if (later) {
			if (phone_api_sms_later_or_reply(r, user, sid) == 0)
				req_reply(r, 204, "text/plain", NULL, NULL, 0);
			return;
		}
		rc = phone_sms_record(r->db, r->id, user, sid, segments,
		    &dup);
	}
	if (rc == XERR_NOTFOUND) {
		/* Gone since: signed by Twilio, so nothing to bill. */
		log_warnx("message %s %s for unknown user %s: ignored", sid,
		    st, user);
		req_reply(r, 204, "text/plain", NULL, NULL, 0);
		return;
	}
	if (rc != XERR_OK) {
		apierr_reply(r, phone_api_record_errs, rc,
		    "could not record the message");
		return;
	}
	log_info("message %s %s for user %s: %lld segments%s", sid, st, user,
	    segments, dup ? " (seen before)" : "");
	req_reply(r, 204, "text/plain", NULL, NULL, 0);
}

/*
 * POST /phone/sms/<user id>: TwiML for a text to the user's number, and
 * POST /phone/sms/<user id>/status (see app/phone_api.h).
 */
void
phone_api_sms(struct req *r)
{
	enum phone_inbound	 verdict;
	struct kv		*form = NULL;
	const char		*to, *sid, *slash;
	char			 user[PHONE_USER_ID_MAX + 1];
	size_t			 len;
	long long		 segments = 0;
	int			 dup = 0, later;
	enum xerr		 rc;

	slash = strchr(r->path_rest, '/');
	len = slash != NULL ? (size_t)(slash - r->path_rest) :
	    strlen(r->path_rest);
	snprintf(user, sizeof(user), "%.*s", (int)(len < sizeof(user) ? len :
	    0), r->path_rest);
	/* Never a truncated id: one too long names nobody. */
	if (len >= sizeof(user) || (slash != NULL &&
	    (strcmp(slash, "/status") != 0 || !ids_user_ok(user)))) {
		req_error(r, XERR_NOTFOUND, NULL, "no such callback");
		return;
	}
	if (phone_api_signed_form_or_reply(r, "text to", &form))
		return;
	if (slash != NULL) {
		phone_api_sms_status(r, user, form);
		goto out;
	}
	if (phone_api_inbound_fields_or_reply(r, form, "MessageSid", "SM",
	    "MM", &to, &sid))
		goto out;
	if ((rc = phone_inbound(r->db, user, to, &verdict)) != XERR_OK) {
		apierr_reply(r, phone_api_record_errs, rc,
		    "could not look the number up");
		goto out;
	}
	if (verdict == PHONE_IN_NOT_THEIRS) {
		log_warnx("text %s to %s for %.64s: not that user's number; "
		    "dropped", sid, to, user);
		phone_api_twiml(r, "%s", "");
		goto out;
	}
	/* Twilio bills every text our number takes: metered before all. */
	if ((later = phone_api_segments_or_reply(r, form, sid, &segments)) < 0 ||
	    (later && phone_api_sms_later_or_reply(r, user, sid) != 0))
		goto out;
	rc = later ? XERR_OK : phone_sms_record(r->db, r->id, user, sid,
	    segments, &dup);
	if (rc == XERR_NOTFOUND) {
		log_warnx("text %s for unknown user %s: ignored", sid, user);
		req_reply(r, 204, "text/plain", NULL, NULL, 0);
		goto out;
	}
	if (rc != XERR_OK) {
		apierr_reply(r, phone_api_record_errs, rc,
		    "could not record the message");
		goto out;
	}
	if (later)
		log_info("text %s for user %s: segments asked again later", sid,
		    user);
	else
		log_info("text %s for user %s: %lld segments%s", sid, user,
		    segments, dup ? " (seen before)" : "");
	if (verdict == PHONE_IN_NO_TIER)
		phone_api_twiml(r, "<Message>%s</Message>",
		    PHONE_API_SAY_NO_TIER);
	else if (r->cfg->assistant_sms_url[0] == '\0') {
		log_warnx("text %s for user %s: ASSISTANT_SMS_URL is not set",
		    sid, user);
		phone_api_twiml(r, "<Message>%s</Message>",
		    PHONE_API_SAY_NO_ASSISTANT);
	} else
		phone_api_twiml(r, "<Redirect method=\"POST\">%s/%s</Redirect>",
		    r->cfg->assistant_sms_url, user);
out:
	kv_free(form);
}

/* Builds the JSON of a number of the history, with Twilio's view of a held one. */
static struct json_object *
phone_api_admin_number(struct req *r, const struct phone_numbers_row *n)
{
	struct twilio_error	 terr;
	struct json_object	*o, *t = NULL, *view = NULL;
	const char		*status;
	int			 bad = 0;

	if (!(n->nulls & PHONE_NUMBERS_NULL_HELD_TO))
		status = "released";
	else if (!(n->nulls & PHONE_NUMBERS_NULL_GRACE))
		status = "grace";
	else
		status = "active";
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	bad |= jsonx_add_int(o, "id", n->id);
	bad |= jsonx_add_str(o, "user_id", n->user_id);
	bad |= jsonx_add_str(o, "phone_number", n->phone_number);
	bad |= jsonx_add_str(o, "phone_sid", n->phone_sid);
	bad |= jsonx_add_str(o, "status", status);
	bad |= jsonx_add_int(o, "held_from", n->held_from);
	if (n->nulls & PHONE_NUMBERS_NULL_HELD_TO)
		bad |= jsonx_add_str(o, "held_to", NULL);
	else
		bad |= jsonx_add_int(o, "held_to", n->held_to);
	if (n->nulls & PHONE_NUMBERS_NULL_GRACE)
		bad |= jsonx_add_str(o, "grace_until", NULL);
	else
		bad |= jsonx_add_int(o, "grace_until", n->grace_until);
	/* Twilio's side of a number we hold; a released one is not asked. */
	if (strcmp(status, "released") != 0) {
		if (twilio_number_fetch(r->http, r->cfg, n->phone_sid, &t,
		    &terr) == XERR_OK)
			view = phone_api_twilio_view(t);
		else if ((view = json_object_new_object()) != NULL)
			bad |= jsonx_add_str(view, "error", terr.message[0] ?
			    terr.message : "Twilio could not be asked");
		json_object_put(t);
	}
	json_object_object_add(o, "twilio", view);
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Its page (app/page.h): a number's id as the cursor. */
static const struct page_spec phone_api_admin_page = {
	PHONE_API_ADMIN_LIMIT, PHONE_API_ADMIN_MAX, PAGE_ID, "after",
	"bad_after", "after must be a number's id from next_after", 0,
	INT64_MAX / 2,
};

/*
 * GET /api/admin/phone/numbers?after=&limit=&held=1: see
 * app/phone_api.h.
 */
int
phone_api_admin_numbers(struct req *r, struct json_object **out)
{
	struct json_object	*o = NULL, *arr, *n;
	struct phone_numbers_row *rows = NULL;
	const char		*s;
	struct page		 pg;
	long long		 after, limit, held = 0;
	size_t			 i, nrows = 0, calls = 0;
	int64_t			 t0;
	int			 ret = -1;
	enum xerr		 rc;

	*out = NULL;
	if (page_or_reply(r, &phone_api_admin_page, &pg) != 0)
		return -1;
	after = pg.id;
	limit = pg.limit;
	if ((s = phone_api_query(r, "held")) != NULL &&
	    phone_parse_uint(s, 0, 1, &held) != 0) {
		req_error(r, XERR_BADREQ, NULL, "held must be 0 or 1");
		return -1;
	}
	if ((rc = phone_numbers_page(r->db, after, held != 0, (size_t)limit,
	    &rows, &nrows))) {
		req_fail(r, rc, "reading the numbers");
		return -1;
	}
	if ((o = json_object_new_object()) == NULL ||
	    (arr = json_object_new_array()) == NULL) {
		req_fail(r, XERR_NOMEM, "the reply");
		goto out;
	}
	json_object_object_add(o, "numbers", arr);
	/* Twilio asked once a held number: the page may end early. */
	page_clock_start(&t0);
	for (i = 0; i < nrows; i++) {
		if (rows[i].nulls & PHONE_NUMBERS_NULL_HELD_TO) {
			if (!page_time_for_call(r, t0, calls))
				break;
			calls++;
		}
		if ((n = phone_api_admin_number(r, &rows[i])) == NULL ||
		    json_object_array_add(arr, n) != 0) {
			json_object_put(n);
			req_fail(r, XERR_NOMEM, "the reply");
			goto out;
		}
	}
	if (i < nrows || nrows == (size_t)limit)
		jsonx_add_int(o, "next_after", rows[i - 1].id);
	else
		jsonx_add_str(o, "next_after", NULL);
	*out = o;
	o = NULL;
	ret = 0;
out:
	json_object_put(o);
	free(rows);
	return ret;
}
