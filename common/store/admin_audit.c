#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "store/admin_audit.h"
#include "store/rows.h"
#include "store/stmt.h"

/* The columns of STMT_ADMIN_AUDIT_LIST, in its order. */
static const struct rows_col admin_audit_cols[] = {
	ROWS_INT_COL(struct admin_audit_row, id, 0),
	ROWS_INT_COL(struct admin_audit_row, at, 0),
	ROWS_TEXT_COL(struct admin_audit_row, actor, 0),
	ROWS_TEXT_COL(struct admin_audit_row, actor_key, 0),
	ROWS_TEXT_COL(struct admin_audit_row, action, 0),
	ROWS_TEXT_COL(struct admin_audit_row, target, ADMIN_AUDIT_NULL_TARGET),
	ROWS_TEXT_COL(struct admin_audit_row, outcome, 0),
	ROWS_INT_COL(struct admin_audit_row, status, 0),
	ROWS_TEXT_COL(struct admin_audit_row, detail, ADMIN_AUDIT_NULL_DETAIL),
	ROWS_TEXT_COL(struct admin_audit_row, remote_addr,
	    ADMIN_AUDIT_NULL_ADDR),
	ROWS_TEXT_COL(struct admin_audit_row, forwarded_for,
	    ADMIN_AUDIT_NULL_FORWARDED),
	ROWS_TEXT_COL(struct admin_audit_row, request_id,
	    ADMIN_AUDIT_NULL_REQUEST),
};

enum xerr
admin_audit_insert(struct db *db, const struct admin_audit_entry *e)
{
	struct dbv	 a[11];

	a[0] = DB_INT(e->at);
	a[1] = DB_STR(e->actor);
	a[2] = DB_STR(e->actor_key);
	a[3] = DB_STR(e->action);
	a[4] = DB_STR(e->target);
	a[5] = DB_STR(e->outcome);
	a[6] = DB_INT(e->status);
	a[7] = DB_STR(e->detail);
	a[8] = DB_STR(e->remote_addr);
	a[9] = DB_STR(e->forwarded_for);
	a[10] = DB_STR(e->request_id);
	return db_exec(db, STMT_ADMIN_AUDIT_INSERT, a, 11, NULL, NULL);
}

/*
 * The page's place in (at, id) order: *at of the row whose id is before
 * (or of the nearest row below it), INT64_MAX for the first page.
 * XERR_NOTFOUND when no row is below: the page is empty.
 */
static enum xerr
admin_audit_cursor(struct db *db, int64_t before, int64_t *at)
{
	struct dbv	 a[1];

	*at = INT64_MAX;
	if (before == INT64_MAX)
		return XERR_OK;
	a[0] = DB_INT(before);
	return rows_int(db, STMT_ADMIN_AUDIT_CURSOR, a, 1, INT64_MAX, at);
}

enum xerr
admin_audit_read(struct db *db, const struct admin_audit_query *q,
    struct admin_audit_row **rows, size_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[10];
	void		*v = NULL;
	int64_t		 at;
	enum xerr	 rc;

	*rows = NULL;
	*n = 0;
	if ((rc = admin_audit_cursor(db, q->before, &at)) != XERR_OK)
		return rc == XERR_NOTFOUND ? XERR_OK : rc;
	a[0] = DB_INT(q->since);
	a[1] = DB_INT(q->until);
	a[2] = DB_INT(at);
	a[3] = DB_INT(at);
	a[4] = DB_INT(q->before);
	a[5] = DB_STR(q->actor);
	a[6] = DB_STR(q->actor);
	a[7] = DB_STR(q->action);
	a[8] = DB_STR(q->action);
	a[9] = DB_INT(q->limit);
	if ((rc = db_query(db, STMT_ADMIN_AUDIT_LIST, a, 10, &res)) !=
	    XERR_OK)
		return rc;
	rc = rows_read(res, admin_audit_cols, sizeof(admin_audit_cols) /
	    sizeof(admin_audit_cols[0]), sizeof(**rows),
	    offsetof(struct admin_audit_row, nulls), &v, n);
	*rows = v;
	db_res_free(res);
	return rc;
}
