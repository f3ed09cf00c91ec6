#include <stdint.h>
#include <stdlib.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/billing_periods.h"

enum xerr
billing_periods_insert(struct db *db, const char *sub, int64_t start,
    int64_t end, const char *user_id, int restate)
{
	struct dbv	 a[4];

	a[0] = DB_STR(sub);
	a[1] = DB_INT(start);
	a[2] = DB_INT(end);
	a[3] = DB_STR(user_id);
	return db_exec(db, restate ? STMT_RATING_PERIOD_RESTATE :
	    STMT_RATING_PERIOD_INSERT, a, 4, NULL, NULL);
}

enum xerr
billing_periods_overlapping(struct db *db, const char *subscription,
    int64_t from, int64_t to, int64_t (**periods)[2], size_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[3];
	size_t		 i, m;
	enum xerr	 rc;

	*periods = NULL;
	*n = 0;
	a[0] = DB_STR(subscription);
	a[1] = DB_INT(from);
	a[2] = DB_INT(to);
	if ((rc = db_query(db, STMT_RATING_PERIODS, a, 3, &res)))
		return rc;
	m = db_res_rows(res);
	if (m > 0 && (*periods = calloc(m, sizeof(**periods))) == NULL) {
		db_res_free(res);
		return XERR_NOMEM;
	}
	/* Columns: period_start, period_end. */
	for (i = 0; i < m; i++) {
		(*periods)[i][0] = db_res_int(res, i, 0, 0);
		(*periods)[i][1] = db_res_int(res, i, 1, 0);
	}
	*n = m;
	db_res_free(res);
	return XERR_OK;
}

enum xerr
billing_periods_of_user_at(struct db *db, const char *user_id, int64_t at,
    int64_t *start, int64_t *end, int *found)
{
	enum { A_USER, A_FROM, A_TO, A__MAX };
	struct db_res	*res = NULL;
	struct dbv	 a[A__MAX];
	enum xerr	 rc;

	*start = *end = 0;
	*found = 0;
	a[A_USER] = DB_STR(user_id);
	a[A_FROM] = DB_INT(at);
	a[A_TO] = DB_INT(at);
	if ((rc = db_query(db, STMT_BILLING_PERIOD_OF_USER_AT, a, A__MAX,
	    &res)))
		return rc;
	/* Columns: period_start, period_end. */
	if (db_res_rows(res) > 0) {
		*start = db_res_int(res, 0, 0, 0);
		*end = db_res_int(res, 0, 1, 0);
		*found = 1;
	}
	db_res_free(res);
	return XERR_OK;
}
