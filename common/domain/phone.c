#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app/auth.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/ids.h"
#include "domain/jobs.h"
#include "domain/phone.h"
#include "core/req.h"
#include "domain/tiers.h"
#include "remote/twilio.h"
#include "remote/twilio_sig.h"
#include "domain/usage.h"

#define PHONE_SEARCH_LIMIT	10	/* numbers a search returns by default */
#define PHONE_SEARCH_MAX	30
#define PHONE_URL_MAX		2048
#define PHONE_CALL_MAX		604800	/* seconds; a longer call is a lie */
#define PHONE_ERR_MAX		384

/* Returns 1 for two capital letters, the form of ISO 3166-1 alpha-2. */
int
phone_valid_country(const char *s)
{
	return s != NULL && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
	    s[1] <= 'Z' && s[2] == '\0';
}

/* Returns 1 for exactly three digits. */
int
phone_valid_area_code(const char *s)
{
	return s != NULL && strlen(s) == 3 && strspn(s, "0123456789") == 3;
}

/*
 * Returns 1 for 2 to 10 of [0-9A-Za-z*]: Twilio wants at least two
 * characters in a Contains pattern, and we keep its other meta-characters
 * (%, +, $) out.
 */
int
phone_valid_contains(const char *s)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) < 2 || n > 10)
		return 0;
	return strspn(s, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ*") == n;
}

/* Parses a plain decimal in [min, max]; 0, or -1 leaving *out alone. */
int
phone_parse_uint(const char *s, long long min, long long max,
    long long *out)
{
	size_t		 n;
	long long	 v;
	char		*end;

	if (s == NULL || (n = strlen(s)) == 0 || n > 18 ||
	    strspn(s, "0123456789") != n || (s[0] == '0' && n > 1))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Writes the FriendlyName of user_id's number: readable when it fits. */
void
phone_friendly_name(const char *user_id, char *out, size_t outsz)
{
	static const char key[] = "xswarm-billing phone FriendlyName";
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	char		 hex[CRYPTO_SHA256_LEN * 2 + 1];

	if (strlen(user_id) + 4 <= TWILIO_FRIENDLY_MAX) {
		snprintf(out, outsz, "xsb:%s", user_id);
		return;
	}
	crypto_hmac_sha256(key, sizeof(key) - 1, user_id, strlen(user_id),
	    mac);
	crypto_hex(mac, sizeof(mac), hex, sizeof(hex));
	snprintf(out, outsz, "xsb#%.60s", hex);
}

/* Loads user_id's phone columns and tier. */
enum xerr
phone_get(struct db *db, const char *user_id, struct phone_info *out,
    char *tier, size_t tiersz)
{
	struct db_res	*res = NULL;
	struct dbv	 args[1];
	const char	*s;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	if (tier != NULL)
		tier[0] = '\0';
	args[0] = DB_STR(user_id);
	if ((rc = db_query(db, STMT_PHONE_USER_GET, args, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return XERR_NOTFOUND;
	}
	if (tier != NULL)
		snprintf(tier, tiersz, "%s", db_res_str(res, 0, 0));
	snprintf(out->status, sizeof(out->status), "%s", db_res_str(res, 0, 1));
	if ((s = db_res_str(res, 0, 2)) != NULL)
		snprintf(out->phone_number, sizeof(out->phone_number), "%s", s);
	if ((s = db_res_str(res, 0, 3)) != NULL)
		snprintf(out->sid, sizeof(out->sid), "%s", s);
	out->provisioned_at = db_res_int(res, 0, 4, 0);
	db_res_free(res);
	return XERR_OK;
}

/* Writes what a Twilio failure means into errbuf. */
static void
phone_twilio_msg(char *errbuf, size_t errsz, const char *what,
    const struct twilio_error *terr)
{
	snprintf(errbuf, errsz, "Twilio could not %s: %s", what,
	    terr->message[0] != '\0' ? terr->message : "no reason given");
}

/*
 * Claims user_id's row for provisioning; *claim is the claim's time.
 * When the row cannot be claimed, says why (see phone_provision()) and
 * fills *out with the user's record.
 */
static enum xerr
phone_claim(struct db *db, const char *user_id, int64_t *claim,
    struct phone_info *out, char *errbuf, size_t errsz)
{
	struct dbv	 args[3];
	uint64_t	 affected = 0;
	int64_t		 now = (int64_t)time(NULL);
	char		 tier[33];
	enum xerr	 rc;

	args[0] = DB_INT(now);
	args[1] = DB_STR(user_id);
	args[2] = DB_INT(now - PHONE_CLAIM_STALE);
	if ((rc = db_exec(db, STMT_PHONE_CLAIM, args, 3, &affected, NULL)))
		return rc;
	if (affected == 1) {
		*claim = now;
		return XERR_OK;
	}
	if ((rc = phone_get(db, user_id, out, tier, sizeof(tier))) ==
	    XERR_NOTFOUND) {
		snprintf(errbuf, errsz, "no such user");
		return XERR_BADREQ;
	}
	if (rc)
		return rc;
	if (!tiers_phone_eligible(tier)) {
		snprintf(errbuf, errsz, "the %s tier includes no phone number",
		    tier);
		return XERR_FORBIDDEN;
	}
	if (strcmp(out->status, "provisioning") == 0)
		snprintf(errbuf, errsz, "a number is being provisioned for "
		    "this user");
	else if (out->phone_number[0] != '\0')
		snprintf(errbuf, errsz, "this user already holds %s",
		    out->phone_number);
	else
		snprintf(errbuf, errsz, "phone state '%s' allows no "
		    "provisioning", out->status);
	return XERR_CONFLICT;
}

/* Gives the claim back; one left behind goes stale and is taken over. */
static void
phone_unclaim(struct db *db, const char *user_id, int64_t claim)
{
	struct dbv	 args[2];

	args[0] = DB_STR(user_id);
	args[1] = DB_INT(claim);
	if (db_exec(db, STMT_PHONE_UNCLAIM, args, 2, NULL, NULL) != XERR_OK)
		log_warnx("user %s: provisioning claim not released; it is "
		    "taken over after %d s", user_id, PHONE_CLAIM_STALE);
}

/* Appends PUBLIC_BASE_URL, prefix and the escaped user id to url. */
static enum xerr
phone_url(const struct cfg *cfg, const char *prefix, const char *user_id,
    struct buf *url)
{
	enum xerr	 rc;

	buf_reset(url);
	if ((rc = buf_puts(url, cfg->public_base_url)) ||
	    (rc = buf_puts(url, prefix)) ||
	    (rc = http_path_escape(user_id, url)))
		return rc;
	return XERR_OK;
}

/*
 * Buys a number for user_id: number, else one in area_code, else the
 * first local US number Twilio offers.  Twilio calls us back at
 * /phone/status/<id>; calls and messages go to /phone/voice/<id> and
 * /phone/sms/<id> under the same public base (served by the assistant).
 */
static enum xerr
phone_buy(struct http *http, const struct cfg *cfg, const char *user_id,
    const char *fname, const char *area_code, const char *number,
    struct twilio_number *out, char *errbuf, size_t errsz)
{
	struct twilio_error	 terr;
	struct twilio_buy	 b;
	struct json_object	*offer = NULL;
	struct buf		*voice = NULL, *sms = NULL, *status = NULL;
	const char		*pick;
	char			 picked[TWILIO_E164_MAX + 1];
	enum xerr		 rc;

	memset(&b, 0, sizeof(b));
	if ((voice = buf_new(PHONE_URL_MAX)) == NULL ||
	    (sms = buf_new(PHONE_URL_MAX)) == NULL ||
	    (status = buf_new(PHONE_URL_MAX)) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = phone_url(cfg, "/phone/voice/", user_id, voice)) ||
	    (rc = phone_url(cfg, "/phone/sms/", user_id, sms)) ||
	    (rc = phone_url(cfg, "/phone/status/", user_id, status)))
		goto out;
	if (number == NULL && area_code == NULL) {
		rc = twilio_search_local(http, cfg, "US", NULL, NULL, 1,
		    &offer, &terr);
		if (rc) {
			phone_twilio_msg(errbuf, errsz, "offer a number", &terr);
			if (rc == XERR_NOTFOUND)
				rc = XERR_UPSTREAM;
			goto out;
		}
		pick = jsonx_str(jsonx_idx(offer, "available_phone_numbers",
		    0), "phone_number");
		if (!twilio_e164_valid(pick)) {
			snprintf(errbuf, errsz, "Twilio offers no local number");
			rc = XERR_NOTFOUND;
			goto out;
		}
		snprintf(picked, sizeof(picked), "%s", pick);
		number = picked;
	}
	b.phone_number = number;
	b.area_code = area_code;
	b.friendly_name = fname;
	b.voice_url = buf_data(voice);
	b.sms_url = buf_data(sms);
	b.status_callback = buf_data(status);
	rc = twilio_number_buy(http, cfg, &b, out, &terr);
	if (rc == XERR_OK) {
		log_info("user %s: bought %s (%s)", user_id, out->phone_number,
		    out->sid);
		goto out;
	}
	if (rc == XERR_NOTFOUND || (rc == XERR_UNPROCESSABLE &&
	    twilio_no_number(&terr))) {
		snprintf(errbuf, errsz, "no number available%s%s: %s",
		    number ? " as " : " in area code ",
		    number ? number : area_code, terr.message);
		rc = XERR_NOTFOUND;
	} else
		phone_twilio_msg(errbuf, errsz, "sell a number", &terr);
out:
	json_object_put(offer);
	buf_free(voice);
	buf_free(sms);
	buf_free(status);
	return rc;
}

/*
 * Enqueues the e-mail tmpl about number (SID sid) in the caller's
 * transaction, once per number and template.
 */
static enum xerr
phone_notify(struct db *db, const char *user_id, const char *tmpl,
    const char *sid, const char *number)
{
	struct json_object	*f;
	enum xerr		 rc;

	if ((f = json_object_new_object()) == NULL ||
	    jsonx_add_str(f, "phone_number", number)) {
		json_object_put(f);
		return XERR_NOMEM;
	}
	rc = jobs_notify(db, user_id, tmpl, sid, f);
	json_object_put(f);
	return rc;
}

/*
 * Records num as user_id's, in one transaction: the user's row (only
 * while our claim holds) and the history row.
 */
static enum xerr
phone_store(struct db *db, const char *user_id, int64_t claim,
    const struct twilio_number *num, struct phone_info *out, char *errbuf,
    size_t errsz)
{
	struct dbv	 args[5];
	uint64_t	 affected = 0;
	int64_t		 now = (int64_t)time(NULL);
	enum xerr	 rc;

	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	args[0] = DB_STR(num->phone_number);
	args[1] = DB_STR(num->sid);
	args[2] = DB_INT(now);
	args[3] = DB_STR(user_id);
	args[4] = DB_INT(claim);
	if ((rc = db_exec(db, STMT_PHONE_ACTIVATE, args, 5, &affected, NULL)))
		goto fail;
	if (affected != 1) {
		snprintf(errbuf, errsz, "the provisioning claim was taken "
		    "over; the other call adopts %s", num->phone_number);
		snprintf(out->status, sizeof(out->status), "provisioning");
		rc = XERR_CONFLICT;
		goto fail;
	}
	args[0] = DB_STR(user_id);
	args[1] = DB_STR(num->phone_number);
	args[2] = DB_STR(num->sid);
	args[3] = DB_INT(now);
	if ((rc = db_exec(db, STMT_PHONE_HISTORY_OPEN, args, 4, NULL, NULL)) ||
	    (rc = phone_notify(db, user_id, "phone_provisioned", num->sid,
	    num->phone_number)))
		goto fail;
	if ((rc = db_commit(db)) != XERR_OK)
		goto fail;
	snprintf(out->status, sizeof(out->status), "active");
	memcpy(out->phone_number, num->phone_number, sizeof(out->phone_number));
	memcpy(out->sid, num->sid, sizeof(out->sid));
	out->provisioned_at = now;
	return XERR_OK;
fail:
	db_rollback(db);
	if (rc == XERR_DUP) {
		/* Twilio never sells one number twice at once: a person looks. */
		log_errorx("user %s: Twilio sold %s (%s), which our records "
		    "give to another user or held before", user_id,
		    num->phone_number, num->sid);
		snprintf(errbuf, errsz, "Twilio sold %s, which our records "
		    "already hold", num->phone_number);
		rc = XERR_UNPROCESSABLE;
	} else if (errbuf[0] == '\0')
		snprintf(errbuf, errsz, "could not record the number");
	return rc;
}

/* Claims, reconciles with Twilio, buys when needed, records. */
enum xerr
phone_provision(struct db *db, struct http *http, const struct cfg *cfg,
    const char *user_id, const char *area_code, const char *phone_number,
    struct phone_info *out, char *errbuf, size_t errsz)
{
	struct twilio_number	 num;
	struct twilio_error	 terr;
	char			 fname[TWILIO_FRIENDLY_MAX + 1];
	int64_t			 claim = 0;
	size_t			 found = 0;
	int			 adopted = 0;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	errbuf[0] = '\0';
	if (!ids_user_ok(user_id)) {
		snprintf(errbuf, errsz, "user id cannot name a number");
		return XERR_BADREQ;
	}
	if (area_code != NULL && phone_number != NULL) {
		snprintf(errbuf, errsz, "give area_code or phone_number, "
		    "not both");
		return XERR_BADREQ;
	}
	if (area_code != NULL && !phone_valid_area_code(area_code)) {
		snprintf(errbuf, errsz, "area_code must be three digits");
		return XERR_BADREQ;
	}
	if (phone_number != NULL && !twilio_e164_valid(phone_number)) {
		snprintf(errbuf, errsz, "phone_number must be E.164, "
		    "e.g. +14155550100");
		return XERR_BADREQ;
	}
	if ((rc = phone_claim(db, user_id, &claim, out, errbuf, errsz)))
		return rc;

	phone_friendly_name(user_id, fname, sizeof(fname));
	if ((rc = twilio_number_find(http, cfg, fname, &num, &found, &terr))) {
		phone_twilio_msg(errbuf, errsz, "list our numbers", &terr);
		if (rc == XERR_NOTFOUND)
			rc = XERR_UPSTREAM;
		goto fail;
	}
	if (found > 0) {
		/* An earlier attempt bought it and died before recording. */
		if (found > 1)
			log_errorx("user %s: Twilio holds %zu numbers named "
			    "%s; adopting %s, release the others", user_id,
			    found, fname, num.sid);
		log_info("user %s: adopting %s (%s) from Twilio", user_id,
		    num.phone_number, num.sid);
		adopted = 1;
	} else if ((rc = phone_buy(http, cfg, user_id, fname, area_code,
	    phone_number, &num, errbuf, errsz)))
		goto fail;
	if ((rc = phone_store(db, user_id, claim, &num, out, errbuf, errsz)))
		goto fail;
	out->adopted = adopted;
	return XERR_OK;
fail:
	if (rc != XERR_CONFLICT)
		phone_unclaim(db, user_id, claim);
	return rc;
}

/* Releases at Twilio first, then clears our record. */
enum xerr
phone_release(struct db *db, struct http *http, const struct cfg *cfg,
    const char *user_id, struct phone_info *out, char *errbuf, size_t errsz)
{
	struct twilio_error	 terr;
	struct phone_info	 cur;
	struct dbv		 args[3];
	uint64_t		 affected = 0;
	int64_t			 now;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	errbuf[0] = '\0';
	if ((rc = phone_get(db, user_id, &cur, NULL, 0)) == XERR_NOTFOUND) {
		snprintf(errbuf, errsz, "no such user");
		return rc;
	}
	if (rc)
		return rc;
	if (strcmp(cur.status, "provisioning") == 0) {
		snprintf(errbuf, errsz, "a number is being provisioned for "
		    "this user");
		return XERR_CONFLICT;
	}
	if (cur.phone_number[0] == '\0' || cur.sid[0] == '\0') {
		snprintf(errbuf, errsz, "this user holds no number");
		return XERR_NOTFOUND;
	}
	if ((rc = twilio_number_release(http, cfg, cur.sid, &terr))) {
		if (rc == XERR_BADREQ) {
			log_errorx("user %s: stored sid is malformed", user_id);
			snprintf(errbuf, errsz, "the stored number id is "
			    "malformed");
			return XERR_UNPROCESSABLE;
		}
		phone_twilio_msg(errbuf, errsz, "release the number", &terr);
		return rc;
	}

	now = (int64_t)time(NULL);
	if ((rc = db_begin(db)) != XERR_OK)
		goto fail;
	args[0] = DB_STR(user_id);
	args[1] = DB_STR(cur.sid);
	if ((rc = db_exec(db, STMT_PHONE_CLEAR, args, 2, &affected, NULL)))
		goto fail;
	if (affected == 0)
		log_info("user %s: %s was cleared by another call", user_id,
		    cur.sid);
	args[0] = DB_INT(now);
	args[1] = DB_STR(user_id);
	args[2] = DB_STR(cur.sid);
	if ((rc = db_exec(db, STMT_PHONE_HISTORY_CLOSE, args, 3, &affected,
	    NULL)))
		goto fail;
	if (affected == 0)
		log_warnx("user %s: no open history row for %s", user_id,
		    cur.sid);
	if ((rc = phone_notify(db, user_id, "phone_released", cur.sid,
	    cur.phone_number)))
		goto fail;
	if ((rc = db_commit(db)) != XERR_OK)
		goto fail;
	log_info("user %s: released %s (%s)", user_id, cur.phone_number,
	    cur.sid);
	*out = cur;
	snprintf(out->status, sizeof(out->status), "none");
	out->provisioned_at = now;
	return XERR_OK;
fail:
	db_rollback(db);
	snprintf(errbuf, errsz, "released at Twilio but not recorded; "
	    "try again");
	return rc;
}

/* ---- handlers ---- */

/* Answers 400 when name is given more than once; returns -1 then. */
static int
phone_query_once_or_reply(struct req *r, const char *name)
{
	if (kv_count_name(r->query, name) <= 1)
		return 0;
	req_error(r, XERR_BADREQ, NULL, "%s given more than once", name);
	return -1;
}

/* Returns the query parameter name, NULL when absent or empty. */
static const char *
phone_query(const struct req *r, const char *name)
{
	const char	*v = kv_get(r->query, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/*
 * Loads the caller's record and answers 403 when the tier has no phone.
 * Returns 0, or -1 when it has answered.
 */
static int
phone_eligible_or_reply(struct req *r, struct phone_info *info)
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
phone_add_caps(struct json_object *to, struct json_object *caps)
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
phone_offers(struct json_object *reply, long long limit)
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
		phone_add_caps(o, jsonx_get(item, "capabilities"));
		json_object_array_add(arr, o);
	}
	return root;
}

/* GET /api/phone/search: 200, 400, 401, 403, 502, 503 (see phone.h). */
void
phone_api_search(struct req *r)
{
	struct twilio_error	 terr;
	struct phone_info	 info;
	struct json_object	*reply = NULL, *root = NULL;
	const char		*country, *area, *contains, *s;
	long long		 limit = PHONE_SEARCH_LIMIT;
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if (phone_query_once_or_reply(r, "country") ||
	    phone_query_once_or_reply(r, "area_code") ||
	    phone_query_once_or_reply(r, "contains") ||
	    phone_query_once_or_reply(r, "limit"))
		return;
	if ((country = phone_query(r, "country")) == NULL)
		country = "US";
	area = phone_query(r, "area_code");
	contains = phone_query(r, "contains");
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
	if ((s = phone_query(r, "limit")) != NULL &&
	    phone_parse_uint(s, 1, PHONE_SEARCH_MAX, &limit) != 0) {
		req_error(r, XERR_BADREQ, NULL, "limit must be 1 to %d",
		    PHONE_SEARCH_MAX);
		return;
	}
	if (phone_eligible_or_reply(r, &info) != 0)
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
	if ((root = phone_offers(reply, limit)) == NULL)
		req_error(r, XERR_NOMEM, NULL, "out of memory");
	else
		req_reply_json(r, 200, root);
	json_object_put(root);
	json_object_put(reply);
}

/* Builds the JSON of a user's record. */
static struct json_object *
phone_info_json(const struct phone_info *info)
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
phone_provision_body_or_reply(struct req *r, struct json_object **root,
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
 * (see phone.h).
 */
void
phone_api_provision(struct req *r)
{
	struct phone_info	 info;
	struct json_object	*body = NULL, *o = NULL;
	const char		*area, *number;
	char			 err[PHONE_ERR_MAX];
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if (phone_provision_body_or_reply(r, &body, &area, &number) != 0)
		goto out;
	rc = phone_provision(r->db, r->http, r->cfg, r->user_id, area, number,
	    &info, err, sizeof(err));
	switch (rc) {
	case XERR_OK:
		if ((o = phone_info_json(&info)) == NULL) {
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

/* DELETE /api/phone/release: 200, 401, 404, 409, 502, 503 (see phone.h). */
void
phone_api_release(struct req *r)
{
	struct phone_info	 info;
	struct json_object	*o;
	char			 err[PHONE_ERR_MAX];
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
phone_twilio_view(struct json_object *t)
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
	phone_add_caps(o, jsonx_get(t, "capabilities"));
	return o;
}

/* GET /api/phone/details: 200, 401, 503; Twilio failing is a warning. */
void
phone_api_details(struct req *r)
{
	struct twilio_error	 terr;
	struct phone_info	 info;
	struct json_object	*o = NULL, *t = NULL, *view = NULL;
	char			 tier[33], warn[PHONE_ERR_MAX];
	enum xerr		 rc;

	if (auth_require_or_reply(r, AUTH_USER) != 0)
		return;
	if ((rc = phone_get(r->db, r->user_id, &info, tier, sizeof(tier)))) {
		req_error(r, rc == XERR_NOTFOUND ? XERR_UNAUTH : rc, NULL,
		    "cannot read the user");
		return;
	}
	if ((o = phone_info_json(&info)) == NULL) {
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
			view = phone_twilio_view(t);
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
phone_record_call(struct db *db, const char *user_id, const char *call_sid,
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
 * phone.h).  The signature is checked before anything is read from the
 * form.
 */
void
phone_status_callback(struct req *r)
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
	if ((url = buf_new(PHONE_URL_MAX)) == NULL) {
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
	    phone_parse_uint(dur, 0, PHONE_CALL_MAX, &duration) != 0) {
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
		rc = phone_record_call(r->db, user, call_sid, status, duration,
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
