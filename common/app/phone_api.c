#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/req.h"
#include "store/stmt.h"
#include "remote/twilio.h"
#include "remote/twilio_sig.h"
#include "domain/phone.h"
#include "domain/tiers.h"
#include "domain/usage.h"
#include "app/auth.h"
#include "app/phone_api.h"

#define PHONE_API_SEARCH_LIMIT	10	/* numbers a search returns by default */
#define PHONE_API_SEARCH_MAX	30
#define PHONE_API_URL_MAX	2048
#define PHONE_API_CALL_MAX	604800	/* seconds; a longer call is a lie */
#define PHONE_API_ERR_MAX	384

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
	enum xerr	 rc;

	if ((rc = phone_get(r->db, r->user_id, info, tier, sizeof(tier)))) {
		req_error(r, rc == XERR_NOTFOUND ? XERR_UNAUTH : rc, NULL,
		    "cannot read the user");
		return -1;
	}
	if (!tiers_phone_eligible(tier)) {
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

/* GET /api/phone/search: 200, 400, 401, 403, 502, 503 (see app/phone_api.h). */
void
phone_api_search(struct req *r)
{
	struct twilio_error	 terr;
	struct phone_info	 info;
	struct json_object	*reply = NULL, *root = NULL;
	const char		*country, *area, *contains, *s;
	long long		 limit = PHONE_API_SEARCH_LIMIT;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if (phone_api_query_once_or_reply(r, "country") ||
	    phone_api_query_once_or_reply(r, "area_code") ||
	    phone_api_query_once_or_reply(r, "contains") ||
	    phone_api_query_once_or_reply(r, "limit"))
		return;
	if ((country = phone_api_query(r, "country")) == NULL)
		country = "US";
	area = phone_api_query(r, "area_code");
	contains = phone_api_query(r, "contains");
	if (!phone_valid_country(country)) {
		req_error(r, XERR_BADREQ, NULL, "country must be two capital "
		    "letters (ISO 3166-1 alpha-2)");
		return;
	}
	if (area != NULL && !phone_valid_area_code(area)) {
		req_error(r, XERR_BADREQ, NULL, "area_code must be three "
		    "digits");
		return;
	}
	if (contains != NULL && !phone_valid_contains(contains)) {
		req_error(r, XERR_BADREQ, NULL, "contains must be 2 to 10 of "
		    "0-9, A-Z, a-z and *");
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

	rc = twilio_search_local(r->http, r->cfg, country, area, contains,
	    (unsigned)limit, &reply, &terr);
	if (rc == XERR_UNPROCESSABLE && terr.status == 400) {
		/* What we checked passed; Twilio's own rules did not. */
		req_error(r, XERR_BADREQ, NULL, "Twilio refused the search: "
		    "%s", terr.message);
		return;
	}
	if (rc != XERR_OK && rc != XERR_NOTFOUND) {
		req_error(r, XERR_UPSTREAM, "twilio_error", "Twilio could not "
		    "search: %s", terr.message);
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
	jsonx_add_str(o, "status", info->status);
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
 * Reads the optional {area_code, phone_number} of a provisioning body
 * into *area and *number (borrowed from *root, which the caller puts).
 * Returns 0, or -1 when it has answered 400 or 415.
 */
static int
phone_api_provision_body_or_reply(struct req *r, struct json_object **root,
    const char **area, const char **number)
{
	const char	*v;
	enum xerr	 rc;

	*root = NULL;
	*area = *number = NULL;
	if (r->bodylen == 0)
		return 0;
	if ((rc = req_json(r, root)) != XERR_OK) {
		req_error(r, rc, NULL, rc == XERR_MEDIATYPE ?
		    "send application/json" : "malformed JSON");
		return -1;
	}
	if (!json_object_is_type(*root, json_type_object)) {
		req_error(r, XERR_BADREQ, NULL, "the body must be an object");
		return -1;
	}
	json_object_object_foreach(*root, key, val) {
		if (strcmp(key, "area_code") != 0 &&
		    strcmp(key, "phone_number") != 0) {
			req_error(r, XERR_BADREQ, NULL, "unknown member %.64s",
			    key);
			return -1;
		}
		if (val == NULL)
			continue;
		if (!json_object_is_type(val, json_type_string)) {
			req_error(r, XERR_BADREQ, NULL, "%s must be a string",
			    key);
			return -1;
		}
		v = json_object_get_string(val);
		if (*v == '\0')
			continue;
		if (strcmp(key, "area_code") == 0)
			*area = v;
		else
			*number = v;
	}
	return 0;
}

/*
 * POST /api/phone/provision: 200, 400, 401, 403, 404, 409, 415, 502, 503
 * (see app/phone_api.h).
 */
void
phone_api_provision(struct req *r)
{
	struct phone_info	 info;
	struct json_object	*body = NULL, *o = NULL;
	const char		*area, *number;
	char			 err[PHONE_API_ERR_MAX];
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if (phone_api_provision_body_or_reply(r, &body, &area, &number) != 0)
		goto out;
	rc = phone_provision(r->db, r->http, r->cfg, r->user_id, area, number,
	    &info, err, sizeof(err));
	switch (rc) {
	case XERR_OK:
		if ((o = phone_api_info_json(&info)) == NULL) {
			req_error(r, XERR_NOMEM, NULL, "out of memory");
			break;
		}
		json_object_object_add(o, "adopted",
		    json_object_new_boolean(info.adopted));
		req_reply_json(r, 200, o);
		break;
	case XERR_CONFLICT:
		req_error(r, rc, strcmp(info.status, "provisioning") == 0 ?
		    "provisioning_in_progress" : "already_has_number", "%s",
		    err);
		break;
	case XERR_FORBIDDEN:
		req_error(r, rc, "tier_not_eligible", "%s", err);
		break;
	case XERR_NOTFOUND:
		req_error(r, rc, "no_number_available", "%s", err);
		break;
	case XERR_UNPROCESSABLE:
	case XERR_UPSTREAM:
		req_error(r, XERR_UPSTREAM, "twilio_error", "%s", err);
		break;
	default:
		req_error(r, rc, NULL, "%s", err[0] ? err :
		    "could not provision a number");
		break;
	}
out:
	json_object_put(o);
	json_object_put(body);
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
	switch (rc) {
	case XERR_OK:
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
		break;
	case XERR_NOTFOUND:
		req_error(r, rc, "no_number", "you hold no phone number");
		break;
	case XERR_CONFLICT:
		req_error(r, rc, "provisioning_in_progress", "%s", err);
		break;
	case XERR_UNPROCESSABLE:
	case XERR_UPSTREAM:
		req_error(r, XERR_UPSTREAM, "twilio_error", "%s", err);
		break;
	default:
		req_error(r, rc, NULL, "%s", err[0] ? err :
		    "could not release the number");
		break;
	}
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

/* GET /api/phone/details: 200, 401, 503; Twilio failing is a warning. */
void
phone_api_details(struct req *r)
{
	struct twilio_error	 terr;
	struct phone_info	 info;
	struct json_object	*o = NULL, *t = NULL, *view = NULL;
	char			 tier[33], warn[PHONE_API_ERR_MAX];
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if ((rc = phone_get(r->db, r->user_id, &info, tier, sizeof(tier)))) {
		req_error(r, rc == XERR_NOTFOUND ? XERR_UNAUTH : rc, NULL,
		    "cannot read the user");
		return;
	}
	if ((o = phone_api_info_json(&info)) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	jsonx_add_str(o, "tier", tier);
	json_object_object_add(o, "phone_eligible",
	    json_object_new_boolean(tiers_phone_eligible(tier)));
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
 * Records one call status: voice usage once per CallSid when the call
 * completed, and the status once per (call, status), in one transaction.
 */
static enum xerr
phone_api_record_call(struct db *db, const char *user_id, const char *call_sid,
    const char *status, long long duration, int *dup)
{
	struct dbv	 args[4];
	char		 key[48];
	enum xerr	 rc;

	*dup = 0;
	snprintf(key, sizeof(key), "call:%s", call_sid);
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	if (duration >= 0 && strcmp(status, "completed") == 0 &&
	    (rc = usage_record(db, user_id, "voice", duration,
	    (int64_t)time(NULL), "twilio", key, dup)))
		goto fail;
	args[0] = DB_STR(user_id);
	args[1] = DB_STR(call_sid);
	args[2] = DB_STR(status);
	args[3] = duration >= 0 ? DB_INT(duration) : DB_NULL;
	if ((rc = db_exec(db, STMT_CALL_EVENT_INSERT, args, 4, NULL, NULL)))
		goto fail;
	if ((rc = db_commit(db)) != XERR_OK)
		goto fail;
	return XERR_OK;
fail:
	db_rollback(db);
	return rc;
}

/*
 * POST /phone/status/<user id>: 204, 400, 403, 404, 415, 503 (see
 * app/phone_api.h).  The signature is checked before anything is read from the
 * form.
 */
void
phone_api_status_callback(struct req *r)
{
	struct phone_info	 info;
	struct kv		*form = NULL;
	struct buf		*url = NULL;
	const char		*user = r->path_rest, *sig, *qs, *call_sid,
				*status, *dur;
	long long		 duration = -1;
	int			 dup = 0;
	enum xerr		 rc;

	if (!ids_user_ok(user)) {
		req_error(r, XERR_NOTFOUND, NULL, "no such callback");
		return;
	}
	if ((rc = req_form(r, &form)) != XERR_OK) {
		req_error(r, rc, NULL, rc == XERR_MEDIATYPE ? "send "
		    "application/x-www-form-urlencoded" : "malformed form");
		goto out;
	}
	/* Twilio signs the URL it called: ours, as configured, and query. */
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
	    buf_data(url), form, sig)) {
		log_warnx("status callback for %s from %s: %s signature", user,
		    r->remote_addr, sig == NULL ? "no" : "bad");
		req_error(r, XERR_FORBIDDEN, "invalid_signature",
		    "X-Twilio-Signature does not match");
		goto out;
	}

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
	if ((rc = phone_get(r->db, user, &info, NULL, 0)) == XERR_NOTFOUND) {
		/* Signed by Twilio, so the number was ours once: nothing to bill. */
		log_warnx("call %s %s for unknown user %s: ignored", call_sid,
		    status, user);
		req_reply(r, 204, "text/plain", NULL, NULL, 0);
		goto out;
	}
	if (rc == XERR_OK)
		rc = phone_api_record_call(r->db, user, call_sid, status, duration,
		    &dup);
	if (rc != XERR_OK) {
		req_error(r, rc == XERR_DB ? XERR_UNAVAILABLE : rc, NULL,
		    "could not record the call");
		goto out;
	}
	log_info("call %s %s for user %s: %lld s%s", call_sid, status, user,
	    duration, dup ? " (seen before)" : "");
	req_reply(r, 204, "text/plain", NULL, NULL, 0);
out:
	buf_free(url);
	kv_free(form);
}
