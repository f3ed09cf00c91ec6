#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/batch.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/http.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/call_events.h"
#include "store/phone_numbers.h"
#include "store/stmt.h"
#include "store/usage_calls.h"
#include "store/users.h"
#include "store/users_phone.h"
#include "remote/twilio.h"
#include "domain/jobs.h"
#include "domain/phone.h"
#include "domain/tiers.h"
#include "domain/usage.h"


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

/*
 * The countries whose numbers a phone_number may name: their calling
 * code and how many national digits follow it.  Only the country of
 * searches is here, since phone_number comes alone (no country beside it).
 */
static const struct {
	const char	*country;
	const char	*code;
	size_t		 national;
} phone_codes[] = {
	{ PHONE_COUNTRY, "1", 10 },	/* NANP: area code and 7 digits */
};

/* Splits e164 into the country's calling code and its national digits. */
int
phone_national(const char *country, const char *e164, char *out,
    size_t outsz)
{
	size_t	 i, n;

	if (outsz > 0)
		out[0] = '\0';
	if (country == NULL || !twilio_e164_valid(e164))
		return -1;
	for (i = 0; i < sizeof(phone_codes) / sizeof(phone_codes[0]); i++) {
		if (strcmp(country, phone_codes[i].country) != 0)
			continue;
		n = strlen(phone_codes[i].code);
		if (strncmp(e164 + 1, phone_codes[i].code, n) != 0 ||
		    strlen(e164 + 1 + n) != phone_codes[i].national ||
		    phone_codes[i].national >= outsz)
			return -1;
		memcpy(out, e164 + 1 + n, phone_codes[i].national + 1);
		return 0;
	}
	return -1;
}

/* Parses a plain decimal in [min, max]; 0, or -1 leaving *out alone. */
int
phone_parse_uint(const char *s, long long min, long long max,
    long long *out)
{
	return kv_uint(s, 18, 0, min, max, out);
}

/* Returns 1 when every byte of s is in set and its length is in [min, max]. */
static int
phone_chars(const char *s, const char *set, size_t min, size_t max)
{
	size_t	 n = strlen(s);

	return n >= min && n <= max && strspn(s, set) == n;
}

/*
 * Returns 1 for "lat,long" in decimal degrees: latitude within [-90, 90],
 * longitude within [-180, 180], at most 6 decimals each.
 */
static int
phone_valid_lat_long(const char *s)
{
	const char	*p = s;
	long long	 deg, lim;
	int		 part, digits;

	for (part = 0; part < 2; part++) {
		lim = part == 0 ? 90 : 180;
		if (*p == '-')
			p++;
		for (deg = 0, digits = 0; *p >= '0' && *p <= '9'; p++)
			if (++digits > 3 || (deg = deg * 10 + (*p - '0')) > lim)
				return 0;
		if (digits == 0)
			return 0;
		if (*p == '.') {
			for (p++, digits = 0; *p >= '0' && *p <= '9'; p++)
				if (++digits > 6 || (deg == lim && *p != '0'))
					return 0;
			if (digits == 0)
				return 0;
		}
		if (part == 0 && *p++ != ',')
			return 0;
	}
	return *p == '\0';
}

#define PHONE_LETTERS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* Checks value against the form of member name, then stores it in *w. */
enum xerr
phone_want_set(struct phone_want *w, const char *name, const char *v,
    char *errbuf, size_t errsz)
{
	long long	 d;
	char		*dst;
	size_t		 dstsz;
	int		 ok;

	if (v == NULL)
		v = "";
	if (strcmp(name, "phone_number") == 0) {
		dst = w->phone_number, dstsz = sizeof(w->phone_number);
		ok = twilio_e164_valid(v);
	} else if (strcmp(name, "country") == 0) {
		dst = w->country, dstsz = sizeof(w->country);
		ok = phone_valid_country(v);
	} else if (strcmp(name, "area_code") == 0) {
		dst = w->area_code, dstsz = sizeof(w->area_code);
		ok = phone_valid_area_code(v);
	} else if (strcmp(name, "contains") == 0) {
		dst = w->contains, dstsz = sizeof(w->contains);
		ok = phone_valid_contains(v);
	} else if (strcmp(name, "region") == 0) {
		dst = w->region, dstsz = sizeof(w->region);
		ok = phone_chars(v, PHONE_LETTERS " .-", 2, 64);
	} else if (strcmp(name, "locality") == 0) {
		dst = w->locality, dstsz = sizeof(w->locality);
		ok = phone_chars(v, PHONE_LETTERS " .'-", 1, 64);
	} else if (strcmp(name, "postal_code") == 0) {
		dst = w->postal_code, dstsz = sizeof(w->postal_code);
		ok = phone_chars(v, PHONE_LETTERS "0123456789 -", 3, 10);
	} else if (strcmp(name, "near_number") == 0) {
		dst = w->near_number, dstsz = sizeof(w->near_number);
		ok = twilio_e164_valid(v);
	} else if (strcmp(name, "near_lat_long") == 0) {
		dst = w->near_lat_long, dstsz = sizeof(w->near_lat_long);
		ok = phone_valid_lat_long(v);
	} else if (strcmp(name, "distance") == 0) {
		dst = w->distance, dstsz = sizeof(w->distance);
		ok = phone_parse_uint(v, 0, 500, &d) == 0;
	} else {
		snprintf(errbuf, errsz, "unknown member %.64s", name);
		return XERR_BADREQ;
	}
	if (*v == '\0')
		return XERR_OK;
	if (!ok || strlen(v) >= dstsz) {
		snprintf(errbuf, errsz, "%s is malformed (see docs/API.md, "
		    "GET /api/phone/search)", name);
		return XERR_BADREQ;
	}
	snprintf(dst, dstsz, "%s", v);
	return XERR_OK;
}

/* Refuses members that do not go together (see domain/phone.h). */
enum xerr
phone_want_check(const struct phone_want *w, char *errbuf, size_t errsz)
{
	char	 national[PHONE_NATIONAL_MAX + 1];
	int	 search = w->country[0] || w->area_code[0] || w->contains[0] ||
	    w->region[0] || w->locality[0] || w->postal_code[0] ||
	    w->near_number[0] || w->near_lat_long[0] || w->distance[0];

	if (w->phone_number[0] && search) {
		snprintf(errbuf, errsz, "give phone_number alone, or search "
		    "members without it");
		return XERR_BADREQ;
	}
	/* A search without a country offers no other (phone_offered()). */
	if (w->phone_number[0] && phone_national(PHONE_COUNTRY,
	    w->phone_number, national, sizeof(national)) != 0) {
		snprintf(errbuf, errsz, "phone_number %s is no %s number: only "
		    "local %s numbers are sold (see GET /api/phone/search)",
		    w->phone_number, PHONE_COUNTRY, PHONE_COUNTRY);
		return XERR_BADREQ;
	}
	if (w->near_number[0] && w->near_lat_long[0]) {
		snprintf(errbuf, errsz, "give near_number or near_lat_long, "
		    "not both");
		return XERR_BADREQ;
	}
	if (w->distance[0] && !w->near_number[0] && !w->near_lat_long[0]) {
		snprintf(errbuf, errsz, "distance needs near_number or "
		    "near_lat_long");
		return XERR_BADREQ;
	}
	return XERR_OK;
}

/* Fills *w member by member from a JSON object, then checks the whole. */
enum xerr
phone_want_from_json(struct json_object *o, struct phone_want *w,
    char *errbuf, size_t errsz)
{
	enum xerr	 rc;

	memset(w, 0, sizeof(*w));
	if (o == NULL)
		return XERR_OK;
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(errbuf, errsz, "the number wanted must be an object");
		return XERR_BADREQ;
	}
	json_object_object_foreach(o, key, val) {
		if (val != NULL && !json_object_is_type(val, json_type_string)) {
			snprintf(errbuf, errsz, "%.64s must be a string", key);
			return XERR_BADREQ;
		}
		if ((rc = phone_want_set(w, key, val == NULL ||
		    *json_object_get_string(val) == '\0' ? NULL :
		    json_object_get_string(val), errbuf, errsz)) != XERR_OK)
			return rc;
	}
	return phone_want_check(w, errbuf, errsz);
}

/* The members of struct phone_want by API name, for the JSON forms. */
#define PHONE_WANT_MEMBERS(X)						\
	X(phone_number) X(country) X(area_code) X(contains) X(region)	\
	X(locality) X(postal_code) X(near_number) X(near_lat_long)	\
	X(distance)

/* Writes the members asked as a JSON object of strings. */
struct json_object *
phone_want_json(const struct phone_want *w)
{
	struct json_object	*o;
	int			 bad = 0;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
#define X(m) if (w->m[0] != '\0') bad |= jsonx_add_str(o, #m, w->m);
	PHONE_WANT_MEMBERS(X)
#undef X
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
phone_want_any(const struct phone_want *w)
{
	int	 any = 0;

#define X(m) any |= w->m[0] != '\0';
	PHONE_WANT_MEMBERS(X)
#undef X
	return any;
}

/* Maps the API's members onto Twilio's search parameters. */
void
phone_want_query(const struct phone_want *w, struct twilio_search *q)
{
#define N(m) (w->m[0] != '\0' ? w->m : NULL)
	memset(q, 0, sizeof(*q));
	q->country = w->country[0] != '\0' ? w->country : PHONE_COUNTRY;
	q->area_code = N(area_code);
	q->contains = N(contains);
	q->in_region = N(region);
	q->in_locality = N(locality);
	q->in_postal_code = N(postal_code);
	q->near_number = N(near_number);
	q->near_lat_long = N(near_lat_long);
	q->distance = N(distance);
#undef N
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

/* Copies src into dst (dstsz bytes), cut to fit as snprintf() does. */
static void
phone_copy(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%.*s", (int)dstsz - 1, src);
}

/* Loads user_id's phone columns and tier. */
enum xerr
phone_get(struct db *db, const char *user_id, struct phone_info *out,
    char *tier, size_t tiersz)
{
	struct users_row	 u;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	if (tier != NULL)
		tier[0] = '\0';
	if ((rc = users_by_id(db, user_id, &u)) != XERR_OK)
		return rc;
	if (tier != NULL)
		phone_copy(tier, tiersz, u.tier);
	phone_copy(out->status, sizeof(out->status), u.phone_status);
	phone_copy(out->phone_number, sizeof(out->phone_number),
	    u.phone_number);
	phone_copy(out->sid, sizeof(out->sid), u.phone_sid);
	out->provisioned_at = u.phone_provisioned_at;
	phone_copy(out->error, sizeof(out->error), u.phone_error);
	out->grace_until = u.phone_grace_until;
	phone_copy(out->search, sizeof(out->search), u.phone_search);
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
	uint64_t	 affected = 0;
	int64_t		 now = (int64_t)time(NULL);
	char		 tier[33];
	int		 ok;
	enum xerr	 rc;

	if ((rc = users_phone_claim(db, user_id, now, now - PHONE_CLAIM_STALE,
	    &affected)))
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
	if (rc || (rc = tiers_phone_eligible(db, tier, &ok)))
		return rc;
	if (!ok) {
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
	if (users_phone_unclaim(db, user_id, claim) != XERR_OK)
		log_warnx("user %s: provisioning claim not released; it is "
		    "taken over after %d s", user_id, PHONE_CLAIM_STALE);
}

enum xerr
phone_urls_make(const struct cfg *cfg, const char *user_id,
    struct phone_urls *out)
{
	static const struct {
		const char	*prefix;
		size_t		 off;
	} urls[] = {
		{ "/phone/voice/", offsetof(struct phone_urls, voice) },
		{ "/phone/sms/", offsetof(struct phone_urls, sms) },
		{ "/phone/status/", offsetof(struct phone_urls, status) },
	};
	struct buf	*url;
	size_t		 i;
	enum xerr	 rc = XERR_OK;

	memset(out, 0, sizeof(*out));
	if ((url = buf_new(PHONE_URL_MAX - 1)) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]) && rc == XERR_OK;
	    i++) {
		buf_reset(url);
		if ((rc = buf_puts(url, cfg->public_base_url)) ||
		    (rc = buf_puts(url, urls[i].prefix)) ||
		    (rc = http_path_escape(user_id, url)))
			break;
		memcpy((char *)out + urls[i].off, buf_data(url),
		    buf_len(url) + 1);
	}
	buf_free(url);
	if (rc != XERR_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* Returns 1 when *w asks an area code and nothing else of a search. */
static int
phone_want_area_only(const struct phone_want *w)
{
	struct phone_want	 only;

	memset(&only, 0, sizeof(only));
	memcpy(only.area_code, w->area_code, sizeof(only.area_code));
	if (strcmp(w->country, "US") == 0 || w->country[0] == '\0')
		memcpy(only.country, w->country, sizeof(only.country));
	return w->area_code[0] != '\0' && memcmp(&only, w, sizeof(only)) == 0;
}

/*
 * Asks Twilio for the local voice and SMS numbers *q describes, at most
 * limit, into *offer (caller puts; NULL when there are none).  Returns
 * XERR_OK, also for Twilio's 404 (no numbers of that country: none
 * offered); XERR_BADREQ when Twilio refused the search (a 400); else
 * Twilio's failure (twilio.h).  errbuf says why on failure.
 */
static enum xerr
phone_offers(struct http *http, const struct cfg *cfg,
    const struct twilio_search *q, unsigned limit, struct json_object **offer,
    char *errbuf, size_t errsz)
{
	struct twilio_error	 terr;
	enum xerr		 rc;

	rc = twilio_search_local(http, cfg, q, limit, offer, &terr);
	if (rc == XERR_UNPROCESSABLE && terr.status == 400) {
		snprintf(errbuf, errsz, "Twilio refused the search: %s",
		    terr.message);
		return XERR_BADREQ;
	}
	if (rc == XERR_NOTFOUND)
		return XERR_OK;
	if (rc != XERR_OK)
		phone_twilio_msg(errbuf, errsz, "offer a number", &terr);
	return rc;
}

/*
 * Picks the first number Twilio offers to *w's search into picked.
 * XERR_NOTFOUND (with errbuf) when it offers none.
 */
static enum xerr
phone_pick(struct http *http, const struct cfg *cfg,
    const struct phone_want *w, char *picked, size_t pickedsz, char *errbuf,
    size_t errsz)
{
	struct twilio_search	 q;
	struct json_object	*offer = NULL;
	const char		*pick;
	enum xerr		 rc;

	phone_want_query(w, &q);
	if ((rc = phone_offers(http, cfg, &q, 1, &offer, errbuf, errsz)))
		goto out;
	pick = jsonx_str(jsonx_idx(offer, "available_phone_numbers", 0),
	    "phone_number");
	if (!twilio_e164_valid(pick)) {
		snprintf(errbuf, errsz, "no number available as asked (%s); "
		    "ask for less, e.g. only a country or a region",
		    q.country);
		rc = XERR_NOTFOUND;
		goto out;
	}
	snprintf(picked, pickedsz, "%s", pick);
out:
	json_object_put(offer);
	return rc;
}

#define PHONE_OFFERED_PAGE	5	/* offers read to find one number */

/*
 * Asks Twilio whether it offers the number *w names as a search would
 * pick one: the same search (local, voice and SMS, *w's country),
 * narrowed with Contains to the number's national digits.  XERR_OK when
 * the answer lists exactly that number; XERR_NOTFOUND (with errbuf) when
 * it does not; else as phone_offers().
 */
static enum xerr
phone_offered(struct http *http, const struct cfg *cfg,
    const struct phone_want *w, char *errbuf, size_t errsz)
{
	struct twilio_search	 q;
	struct json_object	*offer = NULL, *item;
	const char		*num;
	char			 national[PHONE_NATIONAL_MAX + 1];
	size_t			 i;
	enum xerr		 rc;

	phone_want_query(w, &q);
	if (phone_national(q.country, w->phone_number, national,
	    sizeof(national)) != 0) {
		/* phone_want_check() refuses it first; a want unchecked. */
		snprintf(errbuf, errsz, "phone_number %s is no %s number",
		    w->phone_number, q.country);
		return XERR_BADREQ;
	}
	q.contains = national;
	if ((rc = phone_offers(http, cfg, &q, PHONE_OFFERED_PAGE, &offer,
	    errbuf, errsz)))
		goto out;
	rc = XERR_NOTFOUND;
	for (i = 0; (item = jsonx_idx(offer, "available_phone_numbers", i)) !=
	    NULL; i++)
		if ((num = jsonx_str(item, "phone_number")) != NULL &&
		    strcmp(num, w->phone_number) == 0) {
			rc = XERR_OK;
			goto out;
		}
	snprintf(errbuf, errsz, "%s is not offered as a local %s number "
	    "with voice and SMS; provision one GET /api/phone/search offers",
	    w->phone_number, q.country);
out:
	json_object_put(offer);
	return rc;
}

/*
 * Buys a number for user_id as *w asks (see phone_provision()).  Twilio
 * calls us back at /phone/status/<id>; calls and texts go to
 * /phone/voice/<id> and /phone/sms/<id> under the same public base
 * (app/phone_api.h answers them).
 */
static enum xerr
phone_buy(struct http *http, const struct cfg *cfg, const char *user_id,
    const char *fname, const struct phone_want *w, struct twilio_number *out,
    char *errbuf, size_t errsz)
{
	struct twilio_error	 terr;
	struct twilio_buy	 b;
	struct phone_urls	 urls;
	const char		*number = NULL, *area_code = NULL;
	char			 picked[TWILIO_E164_MAX + 1];
	enum xerr		 rc;

	memset(&b, 0, sizeof(b));
	if ((rc = phone_urls_make(cfg, user_id, &urls)))
		goto out;
	if (w->phone_number[0] != '\0') {
		/* Never buy what a search would not have picked. */
		if ((rc = phone_offered(http, cfg, w, errbuf, errsz)))
			goto out;
		number = w->phone_number;
	} else if (phone_want_area_only(w))
		area_code = w->area_code;
	else {
		if ((rc = phone_pick(http, cfg, w, picked, sizeof(picked),
		    errbuf, errsz)))
			goto out;
		number = picked;
	}
	b.phone_number = number;
	b.area_code = area_code;
	b.friendly_name = fname;
	b.voice_url = urls.voice;
	b.sms_url = urls.sms;
	b.status_callback = urls.status;
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
	uint64_t	 affected = 0;
	int64_t		 now = (int64_t)time(NULL);
	enum xerr	 rc;

	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = users_phone_activate(db, user_id, num->phone_number,
	    num->sid, now, claim, &affected)))
		goto fail;
	if (affected != 1) {
		snprintf(errbuf, errsz, "the provisioning claim was taken "
		    "over; the other call adopts %s", num->phone_number);
		snprintf(out->status, sizeof(out->status), "provisioning");
		rc = XERR_CONFLICT;
		goto fail;
	}
	if ((rc = phone_numbers_open(db, user_id, num->phone_number,
	    num->sid, now)) ||
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

/*
 * A number this run bought and could not record: another run of the same
 * provisioning (its job's lease ran out) recorded its own first.  When the
 * user now holds another number, ours would cost a month's rent for
 * nothing: it is released at Twilio at once (else logged, and
 * `xsb-admin orphans` lists it).  A user still provisioning keeps it for
 * the run that adopts it by name.
 */
static void
phone_surplus(struct db *db, struct http *http, const struct cfg *cfg,
    const char *user_id, const struct twilio_number *num)
{
	struct phone_info	 cur;
	struct twilio_error	 terr;

	if (phone_get(db, user_id, &cur, NULL, 0) != XERR_OK ||
	    cur.sid[0] == '\0' || strcmp(cur.sid, num->sid) == 0)
		return;
	if (twilio_number_release(http, cfg, num->sid, &terr) == XERR_OK)
		log_warnx("user %s: released %s (%s), bought by a second run "
		    "of the provisioning; the user holds %s", user_id,
		    num->phone_number, num->sid, cur.phone_number);
	else
		log_errorx("user %s: %s (%s) bought by a second run of the "
		    "provisioning, not released (%s): release it by hand",
		    user_id, num->phone_number, num->sid, terr.message);
}

/* Claims (unless given a claim), reconciles with Twilio, buys, records. */
enum xerr
phone_provision(struct db *db, struct http *http, const struct cfg *cfg,
    const char *user_id, const struct phone_want *want, int64_t claim,
    struct phone_info *out, char *errbuf, size_t errsz)
{
	struct phone_want	 none;
	struct twilio_number	 num;
	struct twilio_error	 terr;
	char			 fname[TWILIO_FRIENDLY_MAX + 1];
	size_t			 found = 0;
	int			 adopted = 0, own = claim == 0;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	errbuf[0] = '\0';
	if (want == NULL) {
		memset(&none, 0, sizeof(none));
		want = &none;
	}
	if (!ids_user_ok(user_id)) {
		snprintf(errbuf, errsz, "user id cannot name a number");
		return XERR_BADREQ;
	}
	if ((rc = phone_want_check(want, errbuf, errsz)))
		return rc;
	if (own && (rc = phone_claim(db, user_id, &claim, out, errbuf, errsz)))
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
	} else if ((rc = phone_buy(http, cfg, user_id, fname, want, &num,
	    errbuf, errsz)))
		goto fail;
	if ((rc = phone_store(db, user_id, claim, &num, out, errbuf, errsz))) {
		if (rc == XERR_CONFLICT && !adopted)
			phone_surplus(db, http, cfg, user_id, &num);
		goto fail;
	}
	out->adopted = adopted;
	return XERR_OK;
fail:
	if (own && rc != XERR_CONFLICT)
		phone_unclaim(db, user_id, claim);
	return rc;
}

/* Claims and queues the purchase in one transaction; never calls Twilio. */
#define PHONE_CAP_SECONDS	(30 * 86400)	/* PHONE_NUMBERS_PER_30_DAYS's */

/*
 * Refuses (XERR_TOOMANY, errbuf, out->next_at) a claim of user_id's, in
 * its transaction, when the user was given PHONE_NUMBERS_PER_30_DAYS
 * numbers in the last 30 days: each was a purchase, its month paid at
 * Twilio whether held or released, so provisioning and releasing again
 * and again would spend without limit.
 */
static enum xerr
phone_cap(struct db *db, const struct cfg *cfg, const char *user_id,
    struct phone_info *out, char *errbuf, size_t errsz)
{
	int64_t		 now = (int64_t)time(NULL), at;
	time_t		 t;
	struct tm	 tm;
	char		 when[32];
	int		 found;
	enum xerr	 rc;

	if (cfg->phone_numbers_per_30_days == 0)
		return XERR_OK;
	if ((rc = phone_numbers_nth_since(db, user_id, now -
	    PHONE_CAP_SECONDS, (unsigned int)cfg->phone_numbers_per_30_days,
	    &at, &found)) || !found)
		return rc;
	out->next_at = at + PHONE_CAP_SECONDS;
	t = (time_t)out->next_at;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(errbuf, errsz, "%lu numbers were given to you in the last "
	    "30 days, the most there may be; the next may be provisioned "
	    "from %s", cfg->phone_numbers_per_30_days, when);
	return XERR_TOOMANY;
}

enum xerr
phone_request(struct db *db, const struct cfg *cfg, const char *user_id,
    const struct phone_want *want, struct phone_info *out, char *errbuf,
    size_t errsz)
{
	struct json_object	*p = NULL, *w = NULL;
	char			 key[128], nonce[17];
	int64_t			 claim = 0;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	errbuf[0] = '\0';
	if (!ids_user_ok(user_id)) {
		snprintf(errbuf, errsz, "user id cannot name a number");
		return XERR_BADREQ;
	}
	if (want != NULL && (rc = phone_want_check(want, errbuf, errsz)))
		return rc;
	if ((p = json_object_new_object()) == NULL ||
	    (want != NULL && (w = phone_want_json(want)) == NULL)) {
		json_object_put(p);
		return XERR_NOMEM;
	}
	if (w != NULL)
		json_object_object_add(p, "want", w);
	if ((rc = db_begin(db)) != XERR_OK)
		goto out;
	if ((rc = phone_claim(db, user_id, &claim, out, errbuf, errsz)) ||
	    (rc = phone_cap(db, cfg, user_id, out, errbuf, errsz)))
		goto fail;
	/* Two claims of one second (after a quick failure) are two jobs. */
	crypto_random_hex(nonce, 8);
	snprintf(key, sizeof(key), "phone_provision:%s:%lld:%s", user_id,
	    (long long)claim, nonce);
	if (jsonx_add_int(p, "claim", claim) || jsonx_add_str(p, "user_id",
	    user_id)) {
		rc = XERR_NOMEM;
		goto fail;
	}
	if ((rc = jobs_enqueue(db, "phone_provision", key, user_id, p)) ||
	    (rc = db_commit(db)))
		goto fail;
	snprintf(out->status, sizeof(out->status), "provisioning");
	out->provisioned_at = claim;
	log_info("user %s: provisioning queued (claim %lld)", user_id,
	    (long long)claim);
	goto out;
fail:
	db_rollback(db);
	if (errbuf[0] == '\0')
		snprintf(errbuf, errsz, "could not queue the provisioning");
out:
	json_object_put(p);
	return rc;
}

/* Records why user_id's provisioning failed for good (claim 0: none held). */
static void
phone_failed(struct db *db, const char *user_id, int64_t claim,
    const char *why)
{
	char		 msg[512];

	snprintf(msg, sizeof(msg), "%s", why[0] ? why : "provisioning failed");
	if ((claim ? users_phone_fail(db, user_id, claim, msg) :
	    users_phone_set_error(db, user_id, msg)) != XERR_OK)
		log_warnx("user %s: the failure was not recorded", user_id);
	log_warnx("user %s: provisioning failed: %s", user_id, msg);
}

/* Reads the user's stored preference into *w; an unreadable one is none. */
static void
phone_stored_want(const struct phone_info *info, const char *user_id,
    struct phone_want *w)
{
	struct json_object	*o = NULL;
	char			 err[256];

	memset(w, 0, sizeof(*w));
	if (info->search[0] == '\0')
		return;
	if (jsonx_parse(info->search, strlen(info->search), &o) != XERR_OK ||
	    phone_want_from_json(o, w, err, sizeof(err)) != XERR_OK) {
		log_warnx("user %s: stored number preference unusable; "
		    "buying any", user_id);
		memset(w, 0, sizeof(*w));
	}
	json_object_put(o);
}

/* Runs one attempt of a phone_provision job and says what the job does next. */
enum xerr
phone_provision_job(struct db *db, struct http *http, const struct cfg *cfg,
    const char *user_id, struct json_object *payload, int last,
    char *errbuf, size_t errsz)
{
	struct phone_info	 info, cur;
	struct phone_want	 want;
	int64_t			 claim = 0;
	enum xerr		 rc;

	errbuf[0] = '\0';
	if (jsonx_int(payload, "claim", &claim) != 0)
		claim = 0;
	if ((rc = phone_get(db, user_id, &cur, NULL, 0)) == XERR_NOTFOUND)
		return XERR_OK;		/* the user is gone: nothing to buy */
	if (rc)
		return rc;
	if (claim != 0 && (strcmp(cur.status, "provisioning") != 0 ||
	    cur.provisioned_at != claim)) {
		log_info("user %s: claim %lld is no longer ours (%s)", user_id,
		    (long long)claim, cur.status);
		return XERR_OK;
	}
	if (jsonx_get(payload, "want") != NULL) {
		if (phone_want_from_json(jsonx_get(payload, "want"), &want,
		    errbuf, errsz) != XERR_OK) {
			phone_failed(db, user_id, claim, errbuf);
			return XERR_UNPROCESSABLE;
		}
	} else
		phone_stored_want(&cur, user_id, &want);

	rc = phone_provision(db, http, cfg, user_id, &want, claim, &info,
	    errbuf, errsz);
	switch (rc) {
	case XERR_OK:
		log_info("user %s: number %s %s", user_id, info.phone_number,
		    info.adopted ? "adopted" : "bought");
		return XERR_OK;
	case XERR_CONFLICT:
		/* Active: done.  Provisioning elsewhere: retry later. */
		return strcmp(info.status, "active") == 0 ? XERR_OK :
		    XERR_UPSTREAM;
	case XERR_FORBIDDEN:
	case XERR_NOTFOUND:
	case XERR_BADREQ:
	case XERR_UNPROCESSABLE:
		phone_failed(db, user_id, claim, errbuf);
		return XERR_UNPROCESSABLE;
	default:
		if (last)
			phone_failed(db, user_id, claim, errbuf);
		return rc;
	}
}

/*
 * The payload of a phone_grace_release job: the user, the subject (the
 * event) when known, and until, the end of the grace the job belongs to.
 * Caller puts it; NULL when out of memory.
 */
static struct json_object *
phone_grace_payload(const char *user_id, const char *subject, int64_t until)
{
	struct json_object	*p;

	if ((p = json_object_new_object()) == NULL)
		return NULL;
	if (jsonx_add_str(p, "user_id", user_id) ||
	    (subject != NULL && jsonx_add_str(p, "subject", subject)) ||
	    jsonx_add_int(p, "until", until)) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

/* Sets the grace's end (unless one runs) and queues its release job. */
enum xerr
phone_grace_start(struct db *db, const struct cfg *cfg, const char *user_id,
    const char *subject)
{
	struct phone_info	 info;
	struct json_object	*p;
	char			 key[300];
	int64_t			 until;
	enum xerr		 rc;

	until = (int64_t)time(NULL) + (int64_t)cfg->phone_grace_days * 86400;
	if ((rc = users_phone_grace_start(db, user_id, until)))
		return rc;
	/* One job per grace: a second lapse within it finds the first. */
	if (phone_get(db, user_id, &info, NULL, 0) == XERR_OK &&
	    info.grace_until > 0) {
		until = info.grace_until;
		snprintf(key, sizeof(key), "phone_grace_release:%s:%lld",
		    user_id, (long long)until);
	} else
		snprintf(key, sizeof(key), "phone_grace_release:%s", subject);
	if ((p = phone_grace_payload(user_id, subject, until)) == NULL)
		return XERR_NOMEM;
	rc = jobs_enqueue_at(db, "phone_grace_release", key, user_id, p,
	    until);
	json_object_put(p);
	if (rc == XERR_OK)
		log_info("user %s: tier without phone; number held until %lld "
		    "unless paid again", user_id, (long long)until);
	return rc;
}

/* Clears the grace: the number stays. */
enum xerr
phone_grace_end(struct db *db, const char *user_id)
{
	uint64_t	 affected = 0;
	enum xerr	 rc;

	rc = users_phone_grace_end(db, user_id, &affected);
	if (rc == XERR_OK && affected > 0)
		log_info("user %s: phone tier again; grace ended, number kept",
		    user_id);
	return rc;
}

/*
 * After a grace release: a user who came back to a phone tier while the
 * number was being released (the subscription's event saw the number
 * still held, so it only ended the grace) gets a new one, queued here.
 * Read after the release's commit: a return committed before it is seen
 * here; one committed after it sees no number and queues its own.
 */
static enum xerr
phone_grace_regrant(struct db *db, const struct cfg *cfg, const char *user_id,
    char *errbuf, size_t errsz)
{
	struct phone_info	 info;
	char			 tier[33];
	int			 ok;
	enum xerr		 rc;

	if ((rc = phone_get(db, user_id, &info, tier, sizeof(tier))) ||
	    (rc = tiers_phone_eligible(db, tier, &ok)) || !ok ||
	    strcmp(info.status, "none") != 0)
		return rc == XERR_NOTFOUND ? XERR_OK : rc;
	log_warnx("user %s: back on %s while the number was released: a new "
	    "one is provisioned", user_id, tier);
	rc = phone_request(db, cfg, user_id, NULL, &info, errbuf, errsz);
	/* Refused by the cap: the user sees why (GET /api/phone/details). */
	if (rc == XERR_TOOMANY) {
		phone_failed(db, user_id, 0, errbuf);
		return XERR_OK;
	}
	/* Queued meanwhile by the subscription's own event. */
	return rc == XERR_CONFLICT ? XERR_OK : rc;
}

/*
 * Returns the end of the grace job belongs to: its payload's until, or
 * for a job queued before payloads carried it, the until of its key
 * "phone_grace_release:<user>:<until>"; 0 when it names none (a job keyed
 * by its event, queued while no number was held, or an older
 * phone_release job).
 */
static int64_t
phone_grace_of(const struct job *job)
{
	const char	*k = job->dedupe_key;
	char		 prefix[128];
	int64_t		 until = 0;
	size_t		 n;

	if (jsonx_int(job->payload, "until", &until) == 0)
		return until;
	n = (size_t)snprintf(prefix, sizeof(prefix), "phone_grace_release:%s:",
	    job->user_id);
	if (n >= sizeof(prefix) || strncmp(k, prefix, n) != 0 ||
	    k[n] == '\0' || strspn(k + n, "0123456789") != strlen(k + n) ||
	    strlen(k + n) > 18)
		return 0;
	return (int64_t)strtoll(k + n, NULL, 10);
}

/*
 * The grace of a job that ran before its end by the database's clock (an
 * operator's retry, or a due time read on another clock): the same job
 * again, due at the end by the database's clock, keyed after this one
 * (so a retry of this one queues no second).
 */
static enum xerr
phone_grace_later(struct db *db, const struct job *job, int64_t until,
    int64_t left)
{
	struct json_object	*p;
	char			 key[256];
	enum xerr		 rc;

	snprintf(key, sizeof(key), "phone_grace_release:%s:%lld:after:%lld",
	    job->user_id, (long long)until, job->id);
	if ((p = phone_grace_payload(job->user_id, jsonx_str(job->payload,
	    "subject"), until)) == NULL)
		return XERR_NOMEM;
	rc = jobs_enqueue_at(db, "phone_grace_release", key, job->user_id, p,
	    until);
	json_object_put(p);
	if (rc == XERR_OK)
		log_info("user %s: grace runs %lld s more by the database's "
		    "clock; its release is queued again for then", job->user_id,
		    (long long)left);
	return rc;
}

/*
 * Keeps, waits or releases, as the tier and the grace say.  Whether the
 * grace has ended is the database's answer (users_phone_grace_left()),
 * never this host's clock: the job is due at the end by the database's
 * clock, and a host whose clock is behind it would otherwise find the
 * grace still running, end the job and keep the number for good.
 */
enum xerr
phone_grace_release(struct db *db, struct http *http, const struct cfg *cfg,
    const struct job *job, char *errbuf, size_t errsz)
{
	struct phone_info	 info;
	const char		*user_id = job->user_id;
	char			 tier[33];
	int64_t			 mine, until, left;
	int			 ok;
	enum xerr		 rc;

	errbuf[0] = '\0';
	if ((rc = phone_get(db, user_id, &info, tier, sizeof(tier))) ==
	    XERR_NOTFOUND)
		return XERR_OK;
	if (rc || (rc = tiers_phone_eligible(db, tier, &ok)))
		return rc;
	if (ok)
		return phone_grace_end(db, user_id);
	if ((rc = users_phone_grace_left(db, user_id, &until, &left)) ==
	    XERR_NOTFOUND)
		return XERR_OK;
	if (rc)
		return rc;
	mine = phone_grace_of(job);
	if (until != 0 && left > 0) {
		if (mine == until)
			return phone_grace_later(db, job, until, left);
		log_info("user %s: grace runs until %lld; its own job releases",
		    user_id, (long long)until);
		return XERR_OK;
	}
	rc = phone_release(db, http, cfg, user_id, &info, errbuf, errsz);
	switch (rc) {
	case XERR_OK:
		log_info("user %s: grace over, %s released", user_id,
		    info.phone_number);
		return phone_grace_regrant(db, cfg, user_id, errbuf, errsz);
	case XERR_NOTFOUND:
		return XERR_OK;
	case XERR_CONFLICT:
		return XERR_UPSTREAM;
	default:
		return rc;
	}
}

/* Says whether `to` is user_id's number and whether their tier has a phone. */
enum xerr
phone_inbound(struct db *db, const char *user_id, const char *to,
    enum phone_inbound *verdict)
{
	struct phone_info	 info;
	char			 tier[33];
	int			 ok;
	enum xerr		 rc;

	*verdict = PHONE_IN_NOT_THEIRS;
	if (!ids_user_ok(user_id))
		return XERR_OK;
	rc = phone_get(db, user_id, &info, tier, sizeof(tier));
	if (rc == XERR_NOTFOUND)
		return XERR_OK;
	if (rc)
		return rc;
	if (to == NULL || info.phone_number[0] == '\0' ||
	    strcmp(info.phone_number, to) != 0)
		return XERR_OK;
	if ((rc = tiers_phone_eligible(db, tier, &ok)) != XERR_OK)
		return rc;
	*verdict = ok ? PHONE_IN_OK : PHONE_IN_NO_TIER;
	return XERR_OK;
}

/* Stores the preference as JSON, or NULL to clear it. */
enum xerr
phone_search_store(struct db *db, const char *user_id,
    const struct phone_want *want)
{
	struct json_object	*o = NULL;
	uint64_t		 affected = 0;
	const char		*js = NULL;
	enum xerr		 rc;

	if (want != NULL) {
		if ((o = phone_want_json(want)) == NULL ||
		    (js = json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN)) == NULL) {
			json_object_put(o);
			return XERR_NOMEM;
		}
		if (json_object_object_length(o) == 0)
			js = NULL;
	}
	rc = users_phone_search_set(db, user_id, js, &affected);
	json_object_put(o);
	if (rc == XERR_OK && affected == 0) {
		/* Same value again is 0 rows too: ask whether the user exists. */
		struct phone_info info;

		rc = phone_get(db, user_id, &info, NULL, 0);
	}
	return rc;
}

/* Releases at Twilio first, then clears our record. */
enum xerr
phone_release(struct db *db, struct http *http, const struct cfg *cfg,
    const char *user_id, struct phone_info *out, char *errbuf, size_t errsz)
{
	struct twilio_error	 terr;
	struct phone_info	 cur;
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
	if ((rc = users_phone_clear(db, user_id, cur.sid, &affected)))
		goto fail;
	if (affected == 0)
		log_info("user %s: %s was cleared by another call", user_id,
		    cur.sid);
	if ((rc = phone_numbers_close(db, user_id, cur.sid, now, &affected)))
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

/* One call status's statements, in the caller's transaction. */
static enum xerr
phone_call_stmts(struct db *db, const char *user_id, const char *call_sid,
    const char *status, long long duration, int *dup)
{
	char		 key[48];
	enum xerr	 rc;

	*dup = 0;
	snprintf(key, sizeof(key), "call:%s", call_sid);
	if (duration >= 0 && strcmp(status, "completed") == 0 &&
	    (rc = usage_record(db, user_id, "voice", duration,
	    (int64_t)time(NULL), "twilio", key, dup)))
		return rc;
	return call_events_insert(db, user_id, call_sid, status, duration);
}

/*
 * One call status in a transaction of its own, after reading that the
 * user exists (XERR_NOTFOUND otherwise, nothing written).
 */
static enum xerr
phone_call_alone(struct db *db, const char *user_id, const char *call_sid,
    const char *status, long long duration, int *dup)
{
	struct phone_info	 info;
	enum xerr		 rc;

	*dup = 0;
	if ((rc = phone_get(db, user_id, &info, NULL, 0)) != XERR_OK)
		return rc;
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = phone_call_stmts(db, user_id, call_sid, status, duration,
	    dup)) != XERR_OK || (rc = db_commit(db)) != XERR_OK) {
		db_rollback(db);
		return rc;
	}
	return XERR_OK;
}

/*
 * Twilio's count of a text whose key the app recorded first (POST
 * /api/usage under "twilio:sms:<sid>"): Twilio bills us per segment, so
 * its count replaces the app's, unless a bill has counted the row already
 * (then it stays as billed, and a differing count is logged).  In the
 * caller's transaction.
 *
 * The user's row is written first, as the rating writes it before it
 * reads the period's rows (rating_rate()): on one server the two take
 * turns in that order; on Galera, where neither's locks reach the other
 * node, a take and a rating that overlap both write that row, so the
 * later one fails certification and runs again, seeing the other's
 * commit.  Without it a take could change a row that a bill on another
 * node counts at the old quantity.
 */
static enum xerr
phone_sms_take(struct db *db, const char *user_id, const char *key,
    long long segments)
{
	int64_t		 was;
	int		 taken;
	char		 was_user[65];
	enum xerr	 rc;

	if ((rc = users_touch(db, user_id)) != XERR_OK ||
	    (rc = usage_calls_take(db, key, user_id, was_user,
	    sizeof(was_user), segments, &was, &taken)))
		return rc;
	/* Twilio's signed word: the message went through this user's number. */
	if (taken && was_user[0] != '\0' && strcmp(was_user, user_id) != 0)
		log_warnx("user %s: %s: reported first for user %s; Twilio's "
		    "callback is this user's: the row moves here", user_id,
		    key, was_user);
	if (taken)
		log_info("user %s: %s: Twilio's %lld segments replace the %lld "
		    "reported first", user_id, key, segments, (long long)was);
	else if (was >= 0 && was != segments)
		log_warnx("user %s: %s: Twilio counts %lld segments, %lld were "
		    "reported first and billed already: left as billed",
		    user_id, key, segments, (long long)was);
	return XERR_OK;
}

/*
 * One text into the usage ledger under its key, as a statement of its own
 * after reading that the user exists (XERR_NOTFOUND otherwise, nothing
 * written); a key recorded first by another source (a plain read says so)
 * then takes Twilio's count (phone_sms_take(), a transaction of its own).
 */
static enum xerr
phone_sms_alone(struct db *db, const char *user_id, const char *key,
    long long segments, int64_t at, int *dup)
{
	struct phone_info	 info;
	unsigned char		 known = 0, recorded = 0;
	enum xerr		 rc;

	*dup = 0;
	if ((rc = phone_get(db, user_id, &info, NULL, 0)) != XERR_OK)
		return rc;
	if ((rc = usage_record(db, user_id, "sms", segments, at, "twilio", key,
	    dup)) != XERR_OK || !*dup)
		return rc;
	if ((rc = usage_calls_read(db, &user_id, &key, 1, &known,
	    &recorded)) != XERR_OK || recorded != USAGE_CALLS_OTHER)
		return rc;
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = phone_sms_take(db, user_id, key, segments)) != XERR_OK ||
	    (rc = db_commit(db)) != XERR_OK)
		db_rollback(db);
	return rc;
}

/*
 * Group commit of call statuses and texts (phone_calls_start()): request
 * threads verify and read Twilio's callbacks in parallel and queue them; a
 * committer takes whatever is queued and stores the lot in one
 * transaction with one commit, then wakes each request thread to answer.
 * Nothing is answered before the commit that holds it.  The batch writes
 * what phone_call_alone() or phone_sms_alone() would write for each, in a
 * few statements for all of them (8 users or keys a read, up to 16 rows a
 * write): which users exist, which usage keys are recorded, the new usage
 * rows, the call_events rows.
 */
struct phone_call_pending {
	struct batch_item	 item;		/* the queue's */
	const char		*rid;		/* the submitter's */
	const char		*user_id;
	const char		*call_sid;	/* NULL: a text */
	const char		*status;
	const char		*kind;		/* of its usage: voice, sms */
	long long		 quantity;	/* call: duration (-1 none) */
	int64_t			 at;		/* when it came */
	char			 key[48];	/* "call:<sid>", "twilio:sms:<sid>",
						   "" no usage */
	enum xerr		 rc;		/* the outcome, once done */
	int			 dup;
	int			 other;		/* key recorded by the app */
};

/*
 * A committer takes work when no other committer is busy, or when
 * PHONE_CALLS_PIPELINE_MIN calls wait (core/batch.h).
 */
#define PHONE_CALLS_PIPELINE_MIN	8
#define PHONE_CALLS_BATCH_LIMIT		256	/* PHONE_BATCH_MAX's bound */

static struct batch	*phone_calls_q;

/* A committer's state: its connection and the rows of a batch. */
struct phone_calls_committer {
	struct db		*db;
	const char		*ids[PHONE_CALLS_BATCH_LIMIT];
	const char		*keys[PHONE_CALLS_BATCH_LIMIT];
	unsigned char		 found[PHONE_CALLS_BATCH_LIMIT];	/* users */
	unsigned char		 recorded[PHONE_CALLS_BATCH_LIMIT]; /* keys */
	struct usage_calls_row	 usage[PHONE_CALLS_BATCH_LIMIT];
	struct call_events_row	 events[PHONE_CALLS_BATCH_LIMIT];
};

/*
 * Reads which users of the batch exist (rc XERR_NOTFOUND for the others,
 * left out) and which usage keys are recorded (dup), in one read for a
 * batch of up to 32; a key seen earlier in the batch is a dup too.
 * Errors of db_query().
 */
static enum xerr
phone_calls_read(struct phone_calls_committer *c,
    struct phone_call_pending **it, size_t n)
{
	size_t		 i, j;
	enum xerr	 rc;

	for (i = 0; i < n; i++) {
		c->ids[i] = it[i]->user_id;
		c->keys[i] = it[i]->key[0] != '\0' ? it[i]->key : NULL;
	}
	if ((rc = usage_calls_read(c->db, c->ids, c->keys, n, c->found,
	    c->recorded)) != XERR_OK)
		return rc;
	for (i = 0; i < n; i++) {
		it[i]->rc = c->found[i] ? XERR_OK : XERR_NOTFOUND;
		if (it[i]->rc != XERR_OK || c->keys[i] == NULL)
			continue;
		it[i]->dup = c->recorded[i] != 0;
		it[i]->other = c->recorded[i] == USAGE_CALLS_OTHER;
		for (j = 0; j < i && !it[i]->dup; j++)
			it[i]->dup = it[j]->rc == XERR_OK &&
			    strcmp(it[j]->key, it[i]->key) == 0;
	}
	return XERR_OK;
}

/*
 * Runs the n calls of a batch in one transaction, committed and chained
 * to the next (no START TRANSACTION round trip for the next batch).  On
 * an error, rolled back (out of any transaction); XERR_CONFLICT when a
 * usage key was recorded by another transaction meanwhile.
 */
static enum xerr
phone_calls_txn(struct phone_calls_committer *c,
    struct phone_call_pending **it, size_t n)
{
	struct db		*db = c->db;
	struct phone_call_pending *p;
	uint64_t		 inserted = 0;
	size_t			 i, nu = 0, ne = 0;
	enum xerr		 rc;

	/* After a batch the connection is already in the next transaction. */
	if (!db_in_txn(db) && (rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = phone_calls_read(c, it, n)) != XERR_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((p = it[i])->rc != XERR_OK)
			continue;
		if (p->key[0] != '\0' && !p->dup)
			c->usage[nu++] = (struct usage_calls_row){ p->user_id,
			    p->kind, p->quantity, p->at, "twilio", p->key,
			    "twilio" };
		if (p->call_sid != NULL)
			c->events[ne++] = (struct call_events_row){
			    p->user_id, p->call_sid, p->status, p->quantity };
	}
	if (nu > 0 && (rc = usage_calls_insert(db, c->usage, nu,
	    &inserted)) == XERR_OK && inserted != nu)
		rc = XERR_CONFLICT;
	/* Texts the app recorded first take Twilio's count (rare). */
	for (i = 0; rc == XERR_OK && i < n; i++)
		if ((p = it[i])->rc == XERR_OK && p->other) {
			log_set_rid(p->rid);
			rc = phone_sms_take(db, p->user_id, p->key,
			    p->quantity);
			log_set_rid(NULL);
		}
	if (rc != XERR_OK || (ne > 0 &&
	    (rc = call_events_insert_rows(db, c->events, ne)) != XERR_OK) ||
	    (rc = db_commit_chain(db)) != XERR_OK)
		goto fail;
	return XERR_OK;
fail:
	db_rollback(db);
	return rc;
}

/* Opens a committer's own connection and buffers (batch_ops.open). */
static void *
phone_calls_open(void *arg)
{
	const struct cfg		*cfg = arg;
	struct phone_calls_committer	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (db_open(cfg, stmt_table(), &c->db) != XERR_OK) {
		free(c);
		return NULL;
	}
	return c;
}

/* Stores a batch the queue hands a committer (batch_ops.run). */
static void
phone_calls_run(void *state, struct batch_item **items, size_t n)
{
	struct phone_call_pending	*it[PHONE_CALLS_BATCH_LIMIT], *p;
	struct phone_calls_committer	*c = state;
	size_t				 i;
	enum xerr			 rc = XERR_INTERNAL;

	for (i = 0; i < n; i++)
		it[i] = (struct phone_call_pending *)(void *)
		    ((char *)items[i] - offsetof(struct phone_call_pending,
		    item));
	if (n > 1 && (rc = phone_calls_txn(c, it, n)) != XERR_OK) {
		metrics_inc(METRICS_PHONE_BATCH_ROLLBACKS);
		log_info("batch of %zu callbacks: %s; each stored alone", n,
		    xerr_code(rc));
	}
	if (rc == XERR_OK) {
		metrics_inc(METRICS_PHONE_BATCHES);
		metrics_add(METRICS_PHONE_BATCHED, n);
		return;
	}
	/* A batch of one, or one that failed: each alone. */
	for (i = 0; i < n; i++) {
		p = it[i];
		if (db_in_txn(c->db))
			db_rollback(c->db);	/* the empty chained one */
		log_set_rid(p->rid);
		p->rc = p->call_sid == NULL ?
		    phone_sms_alone(c->db, p->user_id, p->key, p->quantity,
		    p->at, &p->dup) :
		    phone_call_alone(c->db, p->user_id, p->call_sid,
		    p->status, p->quantity, &p->dup);
	}
	log_set_rid(NULL);
}

enum xerr
phone_calls_start(const struct cfg *cfg)
{
	struct batch_ops	 ops = { "xsb-calls", phone_calls_open,
	    phone_calls_run, (void *)(uintptr_t)cfg };
	size_t			 max;

	max = cfg->phone_batch_max < PHONE_CALLS_BATCH_LIMIT ?
	    cfg->phone_batch_max : PHONE_CALLS_BATCH_LIMIT;
	return batch_start(&ops, cfg->phone_committers, max,
	    PHONE_CALLS_PIPELINE_MIN, &phone_calls_q);
}

enum xerr
phone_call_record(struct db *db, const char *rid, const char *user_id,
    const char *call_sid, const char *status, long long duration, int *dup)
{
	struct phone_call_pending	 p;

	*dup = 0;
	if (phone_calls_q == NULL)
		return phone_call_alone(db, user_id, call_sid, status,
		    duration, dup);
	memset(&p, 0, sizeof(p));
	p.rid = rid;
	p.user_id = user_id;
	p.call_sid = call_sid;
	p.status = status;
	p.kind = "voice";
	p.quantity = duration;
	p.at = (int64_t)time(NULL);
	if (duration >= 0 && strcmp(status, "completed") == 0)
		snprintf(p.key, sizeof(p.key), "call:%s", call_sid);
	batch_submit(phone_calls_q, &p.item);
	*dup = p.dup;
	return p.rc;
}

enum xerr
phone_sms_record(struct db *db, const char *rid, const char *user_id,
    const char *sid, long long segments, int *dup)
{
	struct phone_call_pending	 p;

	*dup = 0;
	memset(&p, 0, sizeof(p));
	p.rid = rid;
	p.user_id = user_id;
	p.kind = "sms";
	p.quantity = segments;
	p.at = (int64_t)time(NULL);
	snprintf(p.key, sizeof(p.key), "twilio:sms:%s", sid);
	if (phone_calls_q == NULL)
		return phone_sms_alone(db, user_id, p.key, segments, p.at, dup);
	batch_submit(phone_calls_q, &p.item);
	*dup = p.dup;
	return p.rc;
}

enum xerr
phone_sms_later(struct db *db, const char *user_id, const char *sid)
{
	struct json_object	*p;
	char			 key[128];
	enum xerr		 rc;

	if ((p = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	if (jsonx_add_str(p, "user_id", user_id) ||
	    jsonx_add_str(p, "sid", sid)) {
		json_object_put(p);
		return XERR_NOMEM;
	}
	snprintf(key, sizeof(key), "sms_segments:%s", sid);
	rc = jobs_enqueue(db, "sms_segments", key, user_id, p);
	json_object_put(p);
	return rc;
}

enum xerr
phone_sms_segments_job(struct db *db, struct http *http,
    const struct cfg *cfg, const struct job *job, char *err, size_t errsz)
{
	struct twilio_error	 terr;
	const char		*user = jsonx_str(job->payload, "user_id"),
				*sid = jsonx_str(job->payload, "sid");
	long long		 segments = 0;
	int			 dup = 0;
	enum xerr		 rc;

	if (user == NULL || (!twilio_sid_valid(sid, "SM") &&
	    !twilio_sid_valid(sid, "MM"))) {
		snprintf(err, errsz, "payload without user_id or sid");
		return XERR_UNPROCESSABLE;
	}
	rc = twilio_message_segments(http, cfg, sid, &segments, &terr);
	if (rc == XERR_NOTFOUND) {
		snprintf(err, errsz, "Twilio has no message %s", sid);
		return XERR_UNPROCESSABLE;
	}
	if (rc != XERR_OK) {
		snprintf(err, errsz, "segments of %s: %s", sid, terr.message);
		return XERR_UPSTREAM;
	}
	rc = phone_sms_record(db, job->dedupe_key, user, sid, segments, &dup);
	if (rc == XERR_NOTFOUND) {
		log_warnx("message %s for unknown user %s: ignored", sid, user);
		return XERR_OK;
	}
	if (rc == XERR_OK)
		log_info("message %s for user %s: %lld segments, asked again%s",
		    sid, user, segments, dup ? " (seen before)" : "");
	return rc;
}
