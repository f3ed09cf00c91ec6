/*
 * phone: a user's Twilio number: provisioning and release (shared by the
 * /api/phone/... handlers of app/phone_api.h and by xsb-worker), our
 * record of it, and the rules its inputs follow.
 *
 * A user holds at most one number.  users.phone_status is 'none' (no
 * number), 'provisioning' (a call holds the claim; phone_provisioned_at is
 * then the claim's time) or 'active' (phone_number, phone_sid and
 * phone_provisioned_at set).  Every number held is also a phone_numbers
 * row, held_to set when it is released.
 *
 * Provisioning claims the user's row first, so of two concurrent calls
 * one buys and the other is told so; then it asks Twilio for a number
 * already named for the user (FriendlyName "xsb:<user id>") and adopts it
 * instead of buying, so a retry after a crash or a timeout never buys a
 * second number; then it buys.  A claim left by a process that died is
 * taken over after PHONE_CLAIM_STALE seconds.
 */
#ifndef PHONE_H
#define PHONE_H

#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"
#include "remote/twilio.h"

struct db;
struct http;

#define PHONE_USER_ID_MAX	64
#define PHONE_CLAIM_STALE	600	/* seconds; far above a claim's calls */

/* A user's number as we record it. */
struct phone_info {
	char		 status[17];	/* "none", "provisioning", "active" */
	char		 phone_number[TWILIO_E164_MAX + 1];	/* "" when none */
	char		 sid[TWILIO_SID_LEN + 1];		/* "" when none */
	int64_t		 provisioned_at;	/* unix seconds, 0 when none */
	int		 adopted;	/* 1: found at Twilio, not bought now */
};

/*
 * Provisions a number for user_id: the one named phone_number (E.164)
 * when given, else one in area_code (three digits) when given, else the
 * first local US number Twilio offers; both may be NULL, not both set.
 * *out (cleared on entry) and errbuf (a message fit for a reply, never a
 * secret) are filled as below.  Returns:
 *   XERR_OK		the user holds a number now, bought or adopted; *out
 *   XERR_CONFLICT	nothing done: the user already holds a number
 *			(out->status "active": a job counts this done) or
 *			another call is provisioning (out->status
 *			"provisioning": a job retries later)
 *   XERR_FORBIDDEN	the user's tier may hold no number (permanent)
 *   XERR_BADREQ	bad area_code or phone_number, both given, or no such
 *			user (permanent)
 *   XERR_NOTFOUND	Twilio has no number as asked (code 21422, or no
 *			local number offered); permanent for these inputs
 *   XERR_UNPROCESSABLE	Twilio refused the request (credentials,
 *			parameters), or sold a number our records give to
 *			another user; permanent, needs a person
 *   XERR_UPSTREAM	Twilio unreachable or failing: retry
 *   XERR_DB, XERR_DB_GONE, XERR_DEADLOCK, XERR_NOMEM: retry
 * On every failure after the claim the claim is released (phone_status
 * back to 'none') and nothing else is written.  A number bought but not
 * stored (the database failed after the purchase) stays at Twilio under
 * the user's FriendlyName and is adopted by the next attempt.
 */
enum xerr	 phone_provision(struct db *db, struct http *http,
		    const struct cfg *cfg, const char *user_id,
		    const char *area_code, const char *phone_number,
		    struct phone_info *out, char *errbuf, size_t errsz);

/*
 * Releases user_id's number at Twilio (a 404 there counts as released),
 * then clears users.phone_* and closes its phone_numbers row.  *out
 * (cleared on entry) is the number released.  Returns:
 *   XERR_OK		released
 *   XERR_NOTFOUND	no such user, or the user holds no number: nothing
 *			to do (a job counts this done)
 *   XERR_CONFLICT	a provisioning is under way: retry later
 *   XERR_UNPROCESSABLE	Twilio refused the release (permanent)
 *   XERR_UPSTREAM	Twilio unreachable or failing: retry
 *   XERR_DB, XERR_DB_GONE, XERR_DEADLOCK, XERR_NOMEM: retry (a release
 *			done at Twilio but not recorded is found released
 *			by the retry)
 */
enum xerr	 phone_release(struct db *db, struct http *http,
		    const struct cfg *cfg, const char *user_id,
		    struct phone_info *out, char *errbuf, size_t errsz);

/*
 * Reads user_id's record into *out (cleared on entry); *tier (may be
 * NULL; at least 33 bytes) gets the tier.  XERR_NOTFOUND for no such user.
 */
enum xerr	 phone_get(struct db *db, const char *user_id,
		    struct phone_info *out, char *tier, size_t tiersz);

/*
 * Writes the FriendlyName that marks user_id's number at Twilio into out
 * (at least TWILIO_FRIENDLY_MAX + 1 bytes): "xsb:<user id>" when that fits
 * in Twilio's 64 characters, else "xsb#" and 60 hex digits of a hash of
 * the id ('#' never occurs in an id, so the two forms cannot meet).
 */
void		 phone_friendly_name(const char *user_id, char *out,
		    size_t outsz);

/* Input checks of the API, 1 when valid. */
int		 phone_valid_country(const char *s);	/* two of A-Z */
int		 phone_valid_area_code(const char *s);	/* three digits */
int		 phone_valid_contains(const char *s);	/* [0-9A-Za-z*]{2,10} */

/*
 * Parses a decimal without sign or leading zeros within [min, max] into
 * *out.  Returns 0, or -1 (out untouched).
 */
int		 phone_parse_uint(const char *s, long long min, long long max,
		    long long *out);

#endif
