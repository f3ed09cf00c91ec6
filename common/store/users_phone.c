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

/* Places of STMT_CALL_USERS_8. */
#define USERS_PHONE_IDS		8

enum xerr
users_phone_known(struct db *db, const char *const *ids, size_t n,
    unsigned char *known)
{
	struct db_res	*res = NULL;
	struct dbv	 a[USERS_PHONE_IDS];
	const char	*id;
	size_t		 i, j, k, m;
	enum xerr	 rc;

	memset(known, 0, n);
	for (i = 0; i < n; i += USERS_PHONE_IDS) {
		m = n - i < USERS_PHONE_IDS ? n - i : USERS_PHONE_IDS;
		for (k = 0; k < USERS_PHONE_IDS; k++)
			a[k] = k < m ? DB_STR(ids[i + k]) : DB_NULL;
		if ((rc = db_query(db, STMT_CALL_USERS_8, a, USERS_PHONE_IDS,
		    &res)) != XERR_OK)
			return rc;
		for (j = 0; j < db_res_rows(res); j++) {
			id = db_res_str(res, j, 0);	/* its one column */
			for (k = i; k < i + m; k++)
				if (strcmp(ids[k], id) == 0)
					known[k] = 1;
		}
		db_res_free(res);
		res = NULL;
	}
	return XERR_OK;
}

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
