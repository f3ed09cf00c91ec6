/*
 * users_phone: typed writes of the phone columns of the users row
 * (phone_status, phone_number, phone_sid, phone_provisioned_at,
 * phone_error, phone_grace_until, phone_search; sql/001_init.sql and
 * later), as domain/phone.c runs them.  The users row is read with
 * users_by_id() (store/users.h); these are the phone's writes of it, and
 * the one read that needs the database's clock (users_phone_grace_left()),
 * kept apart from store/users so that each file has one owner.  Only
 * users_phone.c knows the statements (store/stmt.c) and their argument
 * order; callers pass values, nothing is kept.
 *
 * Each runs one statement on db, in the caller's transaction if one is
 * open.  *affected (may be NULL) gets the rows changed, the way a caller
 * tells "done" from "the condition did not hold".  Errors of db_exec().
 */
#ifndef USERS_PHONE_H
#define USERS_PHONE_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Claims id for provisioning at time now: phone_status 'provisioning',
 * phone_provisioned_at now, phone_error NULL, only when the tier has a
 * phone, no number is held, and the status is 'none' or a claim older
 * than stale_before.
 */
enum xerr	 users_phone_claim(struct db *db, const char *id, int64_t now,
		    int64_t stale_before, uint64_t *affected);

/* Gives the claim of time claim back (status 'none'), if still held. */
enum xerr	 users_phone_unclaim(struct db *db, const char *id,
		    int64_t claim);

/*
 * Makes number (sid) id's, active since now, only while the claim of
 * time claim holds and no number is held.
 */
enum xerr	 users_phone_activate(struct db *db, const char *id,
		    const char *number, const char *sid, int64_t now,
		    int64_t claim, uint64_t *affected);

/*
 * Ends the claim of time claim with error why (status 'none'), if it
 * still holds and no number is held.
 */
enum xerr	 users_phone_fail(struct db *db, const char *id, int64_t claim,
		    const char *why);

/* Sets phone_error to why while no number is held. */
enum xerr	 users_phone_set_error(struct db *db, const char *id,
		    const char *why);

/*
 * Sets phone_grace_until to until unless a grace runs already, while a
 * number is held.
 */
enum xerr	 users_phone_grace_start(struct db *db, const char *id,
		    int64_t until);

/*
 * Reads id's grace: *until its end (phone_grace_until, 0 when none runs)
 * and *left the seconds to it by the database's clock (until -
 * UNIX_TIMESTAMP(); 0 or less: ended; 0 when none runs).  The database's
 * clock is the one a job's due time is read by, so a job due at the end
 * finds it ended whatever the clock of the host running it says.
 * XERR_NOTFOUND when there is no such user; errors of db_query().
 */
enum xerr	 users_phone_grace_left(struct db *db, const char *id,
		    int64_t *until, int64_t *left);

/* Clears phone_grace_until, when set. */
enum xerr	 users_phone_grace_end(struct db *db, const char *id,
		    uint64_t *affected);

/* Sets phone_search to json (NULL: none). */
enum xerr	 users_phone_search_set(struct db *db, const char *id,
		    const char *json, uint64_t *affected);

/*
 * Clears the number of id (status 'none', grace and claim time NULL)
 * while it is still sid.
 */
enum xerr	 users_phone_clear(struct db *db, const char *id,
		    const char *sid, uint64_t *affected);

#endif
