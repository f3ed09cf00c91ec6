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
 * second number; then it buys.  A number the user names is bought only
 * when Twilio's search offers it as a search would pick one (a local
 * voice and SMS number of PHONE_COUNTRY), so a user cannot make us buy
 * a toll-free number, one of another country or one without SMS.  A
 * claim left by a process that died is taken over after
 * PHONE_CLAIM_STALE seconds.
 *
 * The API never waits for Twilio: phone_request() claims and queues a
 * phone_provision job in one transaction, and the worker buys
 * (phone_provision_job()).  A provisioning that fails for good leaves
 * phone_status 'none' with phone_error, shown as "failed".
 *
 * A lapse (the tier loses its phone: unpaid, canceled) starts a grace
 * (phone_grace_start()): the number stays held, phone_grace_until set,
 * and a phone_grace_release job runs at its end; the number is released
 * then only if the tier still has no phone.  Paying again ends the grace
 * (phone_grace_end()).  A number in grace is held: its phone_numbers row
 * stays open (held_to NULL) until the release, as the fee wants.
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
struct job;

#define PHONE_USER_ID_MAX	64
#define PHONE_CLAIM_STALE	600	/* seconds; far above a claim's calls */
#define PHONE_COUNTRY		"US"	/* a search's country when not asked */
#define PHONE_NATIONAL_MAX	15	/* national digits, E.164's at most */

/* A user's number as we record it. */
struct phone_info {
	char		 status[17];	/* "none", "provisioning", "active" */
	char		 phone_number[TWILIO_E164_MAX + 1];	/* "" when none */
	char		 sid[TWILIO_SID_LEN + 1];		/* "" when none */
	int64_t		 provisioned_at;	/* unix seconds, 0 when none */
	int		 adopted;	/* 1: found at Twilio, not bought now */
	char		 error[513];	/* why the last provisioning failed */
	int64_t		 grace_until;	/* 0: not in a grace */
	char		 search[1025];	/* stored preference (JSON), "" none */
	int64_t		 next_at;	/* XERR_TOOMANY: the next allowed */
};

/*
 * Which number a user wants: a given E.164 number, or a search (Twilio's
 * AvailablePhoneNumbers/<country>/Local with AreaCode, Contains, InRegion,
 * InLocality, InPostalCode, NearNumber, NearLatLong, Distance).  "" is
 * not asked.  Filled by phone_want_set(), so every member is valid.
 */
struct phone_want {
	char		 phone_number[TWILIO_E164_MAX + 1];
	char		 country[3];
	char		 area_code[4];
	char		 contains[11];
	char		 region[65];
	char		 locality[65];
	char		 postal_code[11];
	char		 near_number[TWILIO_E164_MAX + 1];
	char		 near_lat_long[40];
	char		 distance[4];
};

/*
 * Sets member name (the API's names: phone_number, country, area_code,
 * contains, region, locality, postal_code, near_number, near_lat_long,
 * distance) of *w to value after checking its form.  Returns XERR_OK, or
 * XERR_BADREQ with a message in errbuf (unknown name, bad value).
 */
enum xerr	 phone_want_set(struct phone_want *w, const char *name,
		    const char *value, char *errbuf, size_t errsz);

/*
 * Fills *w (cleared on entry) from a JSON object of those names (string
 * values; null or "" is not asked), then checks the whole with
 * phone_want_check().  XERR_BADREQ with errbuf for anything else.
 */
enum xerr	 phone_want_from_json(struct json_object *o,
		    struct phone_want *w, char *errbuf, size_t errsz);

/*
 * Checks that the members of *w go together: phone_number alone, and a
 * number of PHONE_COUNTRY (phone_national()); distance only with
 * near_number or near_lat_long.  XERR_BADREQ with errbuf.
 */
enum xerr	 phone_want_check(const struct phone_want *w, char *errbuf,
		    size_t errsz);

/* Returns *w as a JSON object of the members asked (caller puts), or NULL. */
struct json_object *phone_want_json(const struct phone_want *w);

/* Returns 1 when *w asks for anything (a member set), else 0. */
int		 phone_want_any(const struct phone_want *w);

/*
 * Points *q at *w's members (borrowed), country PHONE_COUNTRY when not
 * asked.
 */
void		 phone_want_query(const struct phone_want *w,
		    struct twilio_search *q);

/*
 * Provisions a number for user_id: the one *want names (E.164) when
 * given and Twilio's search of local voice and SMS numbers of
 * PHONE_COUNTRY, narrowed to its national digits (Contains), lists it;
 * else one in its area code when that is all it asks, else the first
 * that Twilio offers to its search (want NULL or empty: the first local
 * US number).  A number Twilio already holds under the user's
 * FriendlyName is adopted before any of this (no search, no purchase).
 * claim 0 claims the user's row first (and gives it
 * back on failure); another claim continues that claim (the caller
 * decides what a failure does to it).  *out (cleared on entry) and errbuf
 * (a message fit for a reply, never a secret) are filled as below.
 * Returns:
 *   XERR_OK		the user holds a number now, bought or adopted; *out
 *   XERR_CONFLICT	nothing done: the user already holds a number
 *			(out->status "active": a job counts this done) or
 *			another call is provisioning (out->status
 *			"provisioning": a job retries later)
 *   XERR_FORBIDDEN	the user's tier may hold no number (permanent)
 *   XERR_BADREQ	bad area_code or phone_number (one not of
 *			PHONE_COUNTRY), both given, a search Twilio refused
 *			(400), or no such user (permanent)
 *   XERR_NOTFOUND	Twilio has no number as asked (code 21422, no local
 *			number offered, or the named number not among the
 *			offers); permanent for these inputs
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
		    const struct phone_want *want, int64_t claim,
		    struct phone_info *out, char *errbuf, size_t errsz);

/*
 * Claims user_id's row and queues the phone_provision job that buys *want
 * (NULL: the user's stored preference), in one transaction; *out is the
 * record after the claim ("provisioning").  Never calls Twilio.  Returns
 * XERR_OK, or as phone_provision() before it calls Twilio
 * (XERR_CONFLICT, XERR_FORBIDDEN, XERR_BADREQ, database errors), or
 * XERR_TOOMANY when the user was given PHONE_NUMBERS_PER_30_DAYS numbers
 * in the last 30 days (out->next_at: when the next may be; nothing
 * claimed or queued).
 */
enum xerr	 phone_request(struct db *db, const struct cfg *cfg,
		    const char *user_id, const struct phone_want *want,
		    struct phone_info *out, char *errbuf, size_t errsz);

/*
 * Runs a phone_provision job for user_id: payload (borrowed) {claim,
 * want} from phone_request(), or {} (a subscription entered a phone
 * tier: claims now and buys the user's stored preference).  last is 1 on
 * the job's last attempt.  Returns what a job runner returns: XERR_OK
 * done (bought, adopted, already held, or a claim no longer ours);
 * XERR_UNPROCESSABLE failed for good (the reason is the user's
 * phone_error, status "failed"); other codes retry.
 */
enum xerr	 phone_provision_job(struct db *db, struct http *http,
		    const struct cfg *cfg, const char *user_id,
		    struct json_object *payload, int last, char *errbuf,
		    size_t errsz);

/*
 * Starts the grace of user_id's number in the caller's transaction (the
 * tier lost its phone): phone_grace_until = now + PHONE_GRACE_DAYS unless
 * a grace runs already, and a phone_grace_release job due at its end,
 * keyed "phone_grace_release:<user>:<end>" (once per grace; without a
 * number held, "phone_grace_release:<subject>", once per event), its
 * payload {user_id, subject, until: the end}.  Harmless for a user
 * without a number.
 */
enum xerr	 phone_grace_start(struct db *db, const struct cfg *cfg,
		    const char *user_id, const char *subject);

/* Ends user_id's grace (the tier has a phone again), caller's transaction. */
enum xerr	 phone_grace_end(struct db *db, const char *user_id);

/*
 * Runs job (borrowed), a phone_grace_release (or older phone_release) job
 * of its user: keeps the number (ending the grace) when the tier has a
 * phone again, else releases it (phone_release()) once the grace has
 * ended by the database's clock, not the host's.  While the job's own
 * grace (its payload's until) still runs by that clock, it queues itself
 * again due at the end, keyed "<its grace's key>:after:<job id>", and is
 * done; while another grace runs, that grace's own job releases.  Returns
 * what a job runner returns.
 */
enum xerr	 phone_grace_release(struct db *db, struct http *http,
		    const struct cfg *cfg, const struct job *job, char *errbuf,
		    size_t errsz);

/* What an inbound call or text to user_id's number may do. */
enum phone_inbound {
	PHONE_IN_OK,		/* the user's number, a tier with phone */
	PHONE_IN_NO_TIER,	/* the user's number, a tier without phone */
	PHONE_IN_NOT_THEIRS,	/* no such user, or not their number */
};

/*
 * Says in *verdict what a call or text to number `to` for user_id may do.
 * XERR_OK, or a database error.
 */
enum xerr	 phone_inbound(struct db *db, const char *user_id,
		    const char *to, enum phone_inbound *verdict);

/*
 * Records a text Twilio handled for user_id (message sid, segments as
 * Twilio bills them) in the usage ledger: kind sms, source twilio, key
 * "twilio:sms:<sid>", so an inbound webhook, its retries and a status
 * callback count once.  *dup is 1 when it was recorded before.  A key
 * the app recorded first (POST /api/usage) takes Twilio's count unless a
 * bill covers its row (then it stays as billed; a differing count is
 * logged).
 * XERR_NOTFOUND, nothing written, when user_id is no user.  rid names the
 * request in log lines (may be NULL).  Once phone_calls_start() ran, it
 * is queued and stored with the call statuses (phone_call_record()).
 */
enum xerr	 phone_sms_record(struct db *db, const char *rid,
		    const char *user_id, const char *sid, long long segments,
		    int *dup);

/*
 * A text whose segments Twilio could not tell now (its status callback
 * had no NumSegments and the fetch of the message failed): queues an
 * sms_segments job, once per message, that asks Twilio again and records
 * it (phone_sms_segments_job()), so that it is billed although Twilio
 * does not send that callback again.  Errors of the store.
 */
enum xerr	 phone_sms_later(struct db *db, const char *user_id,
		    const char *sid);

/*
 * Runs an sms_segments job (payload {user_id, sid}): Twilio's segments
 * of the message, then phone_sms_record().  XERR_UPSTREAM (retried)
 * while Twilio cannot say; XERR_UNPROCESSABLE when Twilio has no such
 * message; XERR_OK when recorded, or the user is gone.
 */
enum xerr	 phone_sms_segments_job(struct db *db, struct http *http,
		    const struct cfg *cfg, const struct job *job, char *err,
		    size_t errsz);

/*
 * Records one call status Twilio reported for user_id (call sid, its
 * status, duration in seconds, < 0 when not said): voice usage once per
 * CallSid when the call completed (kind voice, source twilio, key
 * "call:<sid>"; *dup is 1 when it was recorded before), and the status
 * once per (call, status), in one transaction, committed durably before
 * it returns.  XERR_NOTFOUND, nothing written, when user_id is no user.
 * rid names the request in log lines (may be NULL).
 *
 * Once phone_calls_start() ran (xsb-phone), the call is queued instead
 * of run on db: a committer thread stores whatever calls are queued, up
 * to PHONE_BATCH_MAX, in one transaction with one commit (its users and
 * usage keys read first, its rows written several a statement), then
 * wakes each caller (group commit, core/batch.h).  When the batch fails,
 * it is rolled back and each of its calls runs alone as above, so a batch
 * never changes an outcome.  Errors of db_exec() and db_commit().
 */
enum xerr	 phone_call_record(struct db *db, const char *rid,
		    const char *user_id, const char *call_sid,
		    const char *status, long long duration, int *dup);

/*
 * Starts the process's group commit of call statuses and texts:
 * PHONE_COMMITTERS threads, each with its own database connection, that
 * live as long as the process.  Called once, before any request.  XERR_NOMEM,
 * XERR_INTERNAL.
 */
enum xerr	 phone_calls_start(const struct cfg *cfg);

/* Stores *want (NULL: none) as user_id's preference.  XERR_NOTFOUND. */
enum xerr	 phone_search_store(struct db *db, const char *user_id,
		    const struct phone_want *want);

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

#define PHONE_URL_MAX	2048	/* one URL Twilio calls, with its NUL */

/*
 * The URLs Twilio calls about user_id's number: PUBLIC_BASE_URL, then
 * /phone/voice/, /phone/sms/ or /phone/status/, then the user id escaped
 * as one path segment (app/phone_api.h answers them).
 */
struct phone_urls {
	char	 voice[PHONE_URL_MAX];
	char	 sms[PHONE_URL_MAX];
	char	 status[PHONE_URL_MAX];
};

/*
 * Fills *out for user_id: what a number is bought with and re-pointed
 * at.  XERR_BADREQ for an id that is no path segment ("", ".", ".."),
 * XERR_TOOBIG for a URL of PHONE_URL_MAX bytes or more, XERR_NOMEM; *out
 * is then all "".
 */
enum xerr	 phone_urls_make(const struct cfg *cfg, const char *user_id,
		    struct phone_urls *out);

/*
 * Writes into out (outsz bytes) the national digits of e164 as a number
 * of country: the digits after the country's calling code, e.g.
 * "4155550123" of "+14155550123" for US (+1 and 10 digits).  Returns 0,
 * or -1 (out "") when e164 is no E.164 number of country, or country is
 * not one whose numbers we sell (only PHONE_COUNTRY's are known).
 */
int		 phone_national(const char *country, const char *e164,
		    char *out, size_t outsz);

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
