#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/http.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/stmt.h"
#include "remote/twilio.h"
#include "domain/jobs.h"
#include "domain/phone.h"
#include "domain/tiers.h"

#define PHONE_URL_MAX		2048

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
