/*
 * twilio: calls to Twilio's REST API (2010-04-01) for phone numbers.
 *
 * Every call goes to TWILIO_API_BASE/2010-04-01/Accounts/<account>/...
 * with HTTP Basic auth (account SID, auth token).  Whatever comes from a
 * user is encoded with http_form_add() or http_path_escape(), never pasted.
 * What Twilio answers is checked before anyone stores it: a number is E.164,
 * a SID is its two-letter prefix and 32 hex digits.
 *
 * Every call returns one of:
 *   XERR_OK		a 2xx reply with what the caller asked for
 *   XERR_NOTFOUND	Twilio answered 404
 *   XERR_UNPROCESSABLE	another 4xx (but 429): the request itself is
 *			wrong (credentials, parameters); retrying will not help
 *   XERR_UPSTREAM	no reply, a 5xx or 429, a body that is not JSON, or a
 *			2xx reply without a valid SID or number; may be retried
 *   XERR_BADREQ	an argument that cannot be sent (a malformed SID)
 *   XERR_NOMEM
 * and fills *err (cleared on entry) on every failure.
 */
#ifndef TWILIO_H
#define TWILIO_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/xerr.h"

struct http;

#define TWILIO_SID_LEN		34	/* "PN" + 32 hex digits */
#define TWILIO_E164_MAX		16	/* "+" and at most 15 digits */
#define TWILIO_FRIENDLY_MAX	64	/* Twilio's limit on FriendlyName */

/* Twilio's error code when the number asked for cannot be bought. */
#define TWILIO_ERR_NOT_AVAILABLE	21422

/* Why a call failed, beside its enum xerr. */
struct twilio_error {
	long	 status;	/* HTTP status, 0 without a reply */
	long	 code;		/* Twilio's error code, 0 when none */
	char	 message[256];	/* for logs and error replies; no secret */
};

/* A number of the account, as stored. */
struct twilio_number {
	char	 sid[TWILIO_SID_LEN + 1];
	char	 phone_number[TWILIO_E164_MAX + 1];
	char	 friendly_name[TWILIO_FRIENDLY_MAX + 1];
};

/* What to buy and how Twilio calls us about it.  Strings are borrowed. */
struct twilio_buy {
	const char	*phone_number;	/* E.164, or NULL */
	const char	*area_code;	/* used when phone_number is NULL */
	const char	*friendly_name;	/* required */
	const char	*voice_url;	/* may be NULL */
	const char	*sms_url;	/* may be NULL */
	const char	*status_callback; /* may be NULL */
};

/* Returns 1 when s is prefix (e.g. "PN", "CA") and 32 hex digits. */
int		 twilio_sid_valid(const char *s, const char *prefix);

/* Returns 1 when s is an E.164 number: '+', 7 to 15 digits, no leading 0. */
int		 twilio_e164_valid(const char *s);

/*
 * Fills *out from a failed reply: Twilio's {code, message} or Prism's
 * problem document {title, detail}; a message naming the status when the
 * body says nothing.  body may be NULL.
 */
void		 twilio_error_parse(long status, const char *body, size_t len,
		    struct twilio_error *out);

/*
 * Returns 1 when err says the number asked for cannot be had: Twilio's
 * code 21422, or a 404 answer to a purchase.
 */
int		 twilio_no_number(const struct twilio_error *err);

/*
 * Fills *out from one IncomingPhoneNumber object.  Returns 0, or -1 when
 * its sid or phone_number is missing or malformed (out is then cleared).
 */
int		 twilio_number_parse(struct json_object *obj,
		    struct twilio_number *out);

/*
 * Looks through a list reply ({"incoming_phone_numbers": [...]}) for
 * numbers whose friendly_name is exactly friendly_name and that parse;
 * fills *out with the first.  Returns how many there were (0: out cleared).
 * The filter Twilio applied is not trusted.
 */
size_t		 twilio_number_pick(struct json_object *list,
		    const char *friendly_name, struct twilio_number *out);

/*
 * What a search for local numbers asks Twilio: each member borrowed, NULL
 * when not asked; country (two letters) is required.  The others are
 * Twilio's AreaCode, Contains, InRegion, InLocality, InPostalCode,
 * NearNumber, NearLatLong ("lat,long") and Distance (miles), passed as
 * they are: the caller checks their form.
 */
struct twilio_search {
	const char	*country;
	const char	*area_code;
	const char	*contains;
	const char	*in_region;
	const char	*in_locality;
	const char	*in_postal_code;
	const char	*near_number;
	const char	*near_lat_long;
	const char	*distance;
};

/*
 * Searches local numbers as *q asks that take voice and SMS.  On success
 * *out is the reply (caller puts it); its "available_phone_numbers" is not
 * checked here.
 */
enum xerr	 twilio_search_local(struct http *h, const struct cfg *cfg,
		    const struct twilio_search *q, unsigned limit,
		    struct json_object **out, struct twilio_error *err);

enum xerr	 twilio_number_find(struct http *h, const struct cfg *cfg,
		    const char *friendly_name, struct twilio_number *out,
		    size_t *found, struct twilio_error *err);

/*
 * Buys a number: b->phone_number when set, else one in b->area_code (one
 * of them is required: XERR_BADREQ).  On success *out is what Twilio
 * answered, checked.  A purchase cannot be retried blindly: after an
 * XERR_UPSTREAM the number may have been bought, so look for it with
 * twilio_number_find() first.
 */
enum xerr	 twilio_number_buy(struct http *h, const struct cfg *cfg,
		    const struct twilio_buy *b, struct twilio_number *out,
		    struct twilio_error *err);

/*
 * Reads the num_segments of message sid (SM or MM) into *segments: what
 * Twilio bills the message as.  XERR_BADREQ for a malformed sid;
 * XERR_NOTFOUND for a message Twilio does not know; XERR_UPSTREAM for a
 * failure or a reply without the count.
 */
enum xerr	 twilio_message_segments(struct http *h, const struct cfg *cfg,
		    const char *sid, long long *segments,
		    struct twilio_error *err);

/* Fetches number sid; on success *out is Twilio's object (caller puts it). */
enum xerr	 twilio_number_fetch(struct http *h, const struct cfg *cfg,
		    const char *sid, struct json_object **out,
		    struct twilio_error *err);

/*
 * Releases number sid.  XERR_OK also when Twilio does not know it (404):
 * it is released either way.
 */
enum xerr	 twilio_number_release(struct http *h, const struct cfg *cfg,
		    const char *sid, struct twilio_error *err);

/*
 * Reads one page of all the account's numbers, whatever their names: the
 * first (1000 numbers) when next is NULL, else the page next names, which
 * must be a *next_out of an earlier call.  On success *out is the list
 * reply (caller puts it; "incoming_phone_numbers" is an array, its
 * entries unchecked) and *next_out (borrowed from *out) the next page,
 * or NULL after the last.  Only a full page has a next one; a full page
 * whose next_page_uri does not name our list is XERR_UPSTREAM.
 * XERR_BADREQ for a next that is not such a page.
 */
enum xerr	 twilio_number_page(struct http *h, const struct cfg *cfg,
		    const char *next, struct json_object **out,
		    const char **next_out, struct twilio_error *err);

/*
 * Points number sid's VoiceUrl, SmsUrl and StatusCallback (all POST) at
 * the URLs given (all required).  Setting the same URLs again changes
 * nothing, so a retry is harmless.
 */
enum xerr	 twilio_number_set_urls(struct http *h, const struct cfg *cfg,
		    const char *sid, const char *voice_url, const char *sms_url,
		    const char *status_callback, struct twilio_error *err);

#endif
