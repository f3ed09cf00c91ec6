#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/bill_usage.h"

/* The columns of STMT_RATING_USAGE(_LOCK), in their order. */
enum bill_usage_col {
	BU_C_ID,
	BU_C_KIND,
	BU_C_QUANTITY,
	BU_C_AT,
	BU_C_COVERED_FOR
};

enum xerr
bill_usage_rows(struct db *db, const char *user_id, int64_t from,
    int64_t to, int lock, struct bill_usage_row **rows, size_t *n)
{
	struct db_res		*res = NULL;
	struct bill_usage_row	*u;
	struct dbv		 a[3];
	size_t			 i, m;
	enum xerr		 rc;

	*rows = NULL;
	*n = 0;
	a[0] = DB_STR(user_id);
	a[1] = DB_INT(from);
	a[2] = DB_INT(to);
	if ((rc = db_query(db, lock ? STMT_RATING_USAGE_LOCK :
	    STMT_RATING_USAGE, a, 3, &res)))
		return rc;
	m = db_res_rows(res);
	if (m > 0 && (*rows = calloc(m, sizeof(**rows))) == NULL) {
		db_res_free(res);
		return XERR_NOMEM;
	}
	for (i = 0; i < m; i++) {
		u = &(*rows)[i];
		u->id = db_res_int(res, i, BU_C_ID, 0);
		u->voice = strcmp(db_res_str(res, i, BU_C_KIND), "voice") == 0;
		u->quantity = db_res_int(res, i, BU_C_QUANTITY, 0);
		u->occurred_at = db_res_int(res, i, BU_C_AT, 0);
		u->covered_for = db_res_isnull(res, i, BU_C_COVERED_FOR) ? -1 :
		    db_res_int(res, i, BU_C_COVERED_FOR, 0);
	}
	*n = m;
	db_res_free(res);
	return XERR_OK;
}

/* STMT_BILL_COVER_* of 1, 2, 4, 8 and 16 rows, for db_exec_rows(). */
static const unsigned int bill_usage_covers[] = {
	STMT_BILL_COVER_1, STMT_BILL_COVER_2, STMT_BILL_COVER_4,
	STMT_BILL_COVER_8, STMT_BILL_COVER_16,
};

/* The arguments of a row of STMT_BILL_COVER_*, in its order. */
enum bill_usage_arg {
	BU_A_USAGE,
	BU_A_BILL,
	BU_A_PERIOD,
	BU_A__MAX
};

enum xerr
bill_usage_cover(struct db *db, int64_t bill_id, int64_t period_start,
    const int64_t *ids, size_t n)
{
	struct dbv	*a;
	uint64_t	 added = 0;
	size_t		 i;
	enum xerr	 rc;

	if (n == 0)
		return XERR_OK;
	if ((a = calloc(n, BU_A__MAX * sizeof(*a))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < n; i++) {
		a[i * BU_A__MAX + BU_A_USAGE] = DB_INT(ids[i]);
		a[i * BU_A__MAX + BU_A_BILL] = DB_INT(bill_id);
		a[i * BU_A__MAX + BU_A_PERIOD] = DB_INT(period_start);
	}
	rc = db_exec_rows(db, bill_usage_covers, sizeof(bill_usage_covers) /
	    sizeof(bill_usage_covers[0]), a, BU_A__MAX, n, &added);
	free(a);
	/* A row another bill covers already: never two bills for one row. */
	if (rc == XERR_OK && added != n)
		rc = XERR_CONFLICT;
	return rc;
}

enum xerr
bill_usage_uncovered(struct db *db, const char *user_id, int64_t from,
    int64_t to, int64_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[3];
	enum xerr	 rc;

	*n = 0;
	a[0] = DB_STR(user_id);
	a[1] = DB_INT(from);
	a[2] = DB_INT(to);
	if ((rc = db_query(db, STMT_RECONCILE_UNBILLED, a, 3, &res)))
		return rc;
	*n = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	return XERR_OK;
}
