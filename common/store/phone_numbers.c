#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "store/phone_numbers.h"
#include "store/cell.h"
#include "store/stmt.h"

/* The columns of STMT_PHONE_ADMIN_NUMBERS, in its order. */
enum phone_numbers_col {
	PHONE_NUMBERS_C_ID,
	PHONE_NUMBERS_C_USER,
	PHONE_NUMBERS_C_NUMBER,
	PHONE_NUMBERS_C_SID,
	PHONE_NUMBERS_C_HELD_FROM,
	PHONE_NUMBERS_C_HELD_TO,
	PHONE_NUMBERS_C_GRACE,
	PHONE_NUMBERS_C__MAX
};

enum xerr
phone_numbers_open(struct db *db, const char *user_id, const char *number,
    const char *sid, int64_t held_from)
{
	enum { A_USER, A_NUMBER, A_SID, A_FROM, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_USER] = DB_STR(user_id);
	a[A_NUMBER] = DB_STR(number);
	a[A_SID] = DB_STR(sid);
	a[A_FROM] = DB_INT(held_from);
	return db_exec(db, STMT_PHONE_HISTORY_OPEN, a, A__MAX, NULL, NULL);
}

enum xerr
phone_numbers_close(struct db *db, const char *user_id, const char *sid,
    int64_t held_to, uint64_t *affected)
{
	enum { A_TO, A_USER, A_SID, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_TO] = DB_INT(held_to);
	a[A_USER] = DB_STR(user_id);
	a[A_SID] = DB_STR(sid);
	return db_exec(db, STMT_PHONE_HISTORY_CLOSE, a, A__MAX, affected,
	    NULL);
}

enum xerr
phone_numbers_nth_since(struct db *db, const char *user_id, int64_t since,
    unsigned int n, int64_t *at, int *found)
{
	enum { A_USER, A_SINCE, A_SKIP, A__MAX };
	struct dbv	 a[A__MAX];
	struct db_res	*res = NULL;
	enum xerr	 rc;

	*at = 0;
	*found = 0;
	if (n == 0)
		return XERR_INTERNAL;
	a[A_USER] = DB_STR(user_id);
	a[A_SINCE] = DB_INT(since);
	a[A_SKIP] = DB_INT((int64_t)n - 1);
	if ((rc = db_query(db, STMT_PHONE_HISTORY_NTH_SINCE, a, A__MAX,
	    &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) > 0) {
		*at = db_res_int(res, 0, 0, 0);
		*found = 1;
	}
	db_res_free(res);
	return XERR_OK;
}

/* Copies column c of row i into out (NULL: ""), as cell_text(). */
static enum xerr
phone_numbers_text(const struct db_res *res, size_t i,
    enum phone_numbers_col c, char *out, size_t outsz)
{
	unsigned int	 nulls = 0;

	return cell_text(res, i, c, out, outsz, 0, &nulls);
}

/* Fills *row from row i of res (STMT_PHONE_ADMIN_NUMBERS's columns). */
static enum xerr
phone_numbers_fill(const struct db_res *res, size_t i,
    struct phone_numbers_row *row)
{
	enum xerr	 rc;

	if ((rc = phone_numbers_text(res, i, PHONE_NUMBERS_C_USER,
	    row->user_id, sizeof(row->user_id))) != XERR_OK ||
	    (rc = phone_numbers_text(res, i, PHONE_NUMBERS_C_NUMBER,
	    row->phone_number, sizeof(row->phone_number))) != XERR_OK ||
	    (rc = phone_numbers_text(res, i, PHONE_NUMBERS_C_SID,
	    row->phone_sid, sizeof(row->phone_sid))) != XERR_OK)
		return rc;
	row->id = db_res_int(res, i, PHONE_NUMBERS_C_ID, 0);
	row->held_from = db_res_int(res, i, PHONE_NUMBERS_C_HELD_FROM, 0);
	row->held_to = db_res_int(res, i, PHONE_NUMBERS_C_HELD_TO, 0);
	row->grace_until = db_res_int(res, i, PHONE_NUMBERS_C_GRACE, 0);
	if (db_res_isnull(res, i, PHONE_NUMBERS_C_HELD_TO))
		row->nulls |= PHONE_NUMBERS_NULL_HELD_TO;
	if (db_res_isnull(res, i, PHONE_NUMBERS_C_GRACE))
		row->nulls |= PHONE_NUMBERS_NULL_GRACE;
	return XERR_OK;
}

enum xerr
phone_numbers_page(struct db *db, int64_t after, int held_only,
    size_t limit, struct phone_numbers_row **rows, size_t *n)
{
	enum { A_AFTER, A_HELD, A_LIMIT, A__MAX };
	struct phone_numbers_row	*out = NULL;
	struct db_res			*res = NULL;
	struct dbv			 a[A__MAX];
	size_t				 i, m;
	enum xerr			 rc;

	*rows = NULL;
	*n = 0;
	a[A_AFTER] = DB_INT(after);
	a[A_HELD] = DB_INT(held_only ? 1 : 0);
	a[A_LIMIT] = DB_INT(limit);
	if ((rc = db_query(db, STMT_PHONE_ADMIN_NUMBERS, a, A__MAX, &res)))
		return rc;
	if ((m = db_res_rows(res)) == 0)
		goto out;
	if (db_res_cols(res) != PHONE_NUMBERS_C__MAX) {
		rc = XERR_INTERNAL;
		goto out;
	}
	if ((out = calloc(m, sizeof(*out))) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	for (i = 0; i < m; i++)
		if ((rc = phone_numbers_fill(res, i, &out[i])) != XERR_OK)
			goto out;
	*rows = out;
	*n = m;
	out = NULL;
out:
	free(out);
	db_res_free(res);
	return rc;
}
