#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/users_phone.h"

/*
 * Each function fills its statement's arguments in their order in
 * store/stmt.c (the names say which); none other knows it.
 */

enum xerr
users_phone_claim(struct db *db, const char *id, int64_t now,
    int64_t stale_before, uint64_t *affected)
{
	enum { A_NOW, A_ID, A_STALE, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_NOW] = DB_INT(now);
	a[A_ID] = DB_STR(id);
	a[A_STALE] = DB_INT(stale_before);
	return db_exec(db, STMT_PHONE_CLAIM, a, A__MAX, affected, NULL);
}

enum xerr
users_phone_unclaim(struct db *db, const char *id, int64_t claim)
{
	enum { A_ID, A_CLAIM, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_ID] = DB_STR(id);
	a[A_CLAIM] = DB_INT(claim);
	return db_exec(db, STMT_PHONE_UNCLAIM, a, A__MAX, NULL, NULL);
}

enum xerr
users_phone_activate(struct db *db, const char *id, const char *number,
    const char *sid, int64_t now, int64_t claim, uint64_t *affected)
{
	enum { A_NUMBER, A_SID, A_NOW, A_ID, A_CLAIM, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_NUMBER] = DB_STR(number);
	a[A_SID] = DB_STR(sid);
	a[A_NOW] = DB_INT(now);
	a[A_ID] = DB_STR(id);
	a[A_CLAIM] = DB_INT(claim);
	return db_exec(db, STMT_PHONE_ACTIVATE, a, A__MAX, affected, NULL);
}

enum xerr
users_phone_fail(struct db *db, const char *id, int64_t claim,
    const char *why)
{
	enum { A_WHY, A_ID, A_CLAIM, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_WHY] = DB_STR(why);
	a[A_ID] = DB_STR(id);
	a[A_CLAIM] = DB_INT(claim);
	return db_exec(db, STMT_PHONE_FAIL, a, A__MAX, NULL, NULL);
}

enum xerr
users_phone_set_error(struct db *db, const char *id, const char *why)
{
	enum { A_WHY, A_ID, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_WHY] = DB_STR(why);
	a[A_ID] = DB_STR(id);
	return db_exec(db, STMT_PHONE_SET_ERROR, a, A__MAX, NULL, NULL);
}

enum xerr
users_phone_grace_start(struct db *db, const char *id, int64_t until)
{
	enum { A_UNTIL, A_ID, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_UNTIL] = DB_INT(until);
	a[A_ID] = DB_STR(id);
	return db_exec(db, STMT_PHONE_GRACE_START, a, A__MAX, NULL, NULL);
}

enum xerr
users_phone_grace_end(struct db *db, const char *id, uint64_t *affected)
{
	enum { A_ID, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_ID] = DB_STR(id);
	return db_exec(db, STMT_PHONE_GRACE_END, a, A__MAX, affected, NULL);
}

enum xerr
users_phone_grace_left(struct db *db, const char *id, int64_t *until,
    int64_t *left)
{
	enum { A_ID, A__MAX };
	enum { C_UNTIL, C_LEFT };
	struct dbv	 a[A__MAX];
	struct db_res	*res = NULL;
	enum xerr	 rc;

	*until = *left = 0;
	a[A_ID] = DB_STR(id);
	if ((rc = db_query(db, STMT_PHONE_GRACE_LEFT, a, A__MAX, &res)))
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else {
		*until = db_res_int(res, 0, C_UNTIL, 0);
		*left = db_res_int(res, 0, C_LEFT, 0);
	}
	db_res_free(res);
	return rc;
}

enum xerr
users_phone_search_set(struct db *db, const char *id, const char *json,
    uint64_t *affected)
{
	enum { A_JSON, A_ID, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_JSON] = json != NULL ? DB_STR(json) : DB_NULL;
	a[A_ID] = DB_STR(id);
	return db_exec(db, STMT_PHONE_SEARCH_SET, a, A__MAX, affected, NULL);
}

enum xerr
users_phone_clear(struct db *db, const char *id, const char *sid,
    uint64_t *affected)
{
	enum { A_ID, A_SID, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_ID] = DB_STR(id);
	a[A_SID] = DB_STR(sid);
	return db_exec(db, STMT_PHONE_CLEAR, a, A__MAX, affected, NULL);
}
