#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/bill_lines.h"

/* The columns of STMT_BILL_LINES, in its order. */
enum bill_lines_col {
	BL_C_KIND,
	BL_C_QUANTITY,
	BL_C_UNIT,
	BL_C_CENTS,
	BL_C_DESCRIPTION,
	BL_C_TARGET,
	BL_C_ITEM
};

/* The columns of STMT_BILL_LINES_PENDING, in its order. */
enum bill_lines_pending_col {
	BL_P_BILL,
	BL_P_KIND,
	BL_P_ITEM
};

enum xerr
bill_lines_insert(struct db *db, int64_t bill_id, const char *kind,
    int64_t quantity, const char *unit, int64_t cents,
    const char *description)
{
	struct dbv	 a[6];

	a[0] = DB_INT(bill_id);
	a[1] = DB_STR(kind);
	a[2] = DB_INT(quantity);
	a[3] = DB_STR(unit);
	a[4] = DB_INT(cents);
	a[5] = DB_STR(description);
	return db_exec(db, STMT_BILL_LINE_INSERT, a, 6, NULL, NULL);
}

enum xerr
bill_lines_of(struct db *db, int64_t bill_id, struct bill_lines_row *rows,
    size_t max, size_t *n)
{
	struct db_res		*res = NULL;
	struct bill_lines_row	*l;
	struct dbv		 a[1];
	size_t			 i;
	enum xerr		 rc;

	*n = 0;
	a[0] = DB_INT(bill_id);
	if ((rc = db_query(db, STMT_BILL_LINES, a, 1, &res)))
		return rc;
	for (i = 0; i < db_res_rows(res) && i < max; i++) {
		l = &rows[(*n)++];
		memset(l, 0, sizeof(*l));
		cell_text_cut(res, i, BL_C_KIND, l->kind, sizeof(l->kind));
		l->quantity = db_res_int(res, i, BL_C_QUANTITY, 0);
		cell_text_cut(res, i, BL_C_UNIT, l->unit_decimal,
		    sizeof(l->unit_decimal));
		l->amount_cents = db_res_int(res, i, BL_C_CENTS, 0);
		cell_text_cut(res, i, BL_C_DESCRIPTION, l->description,
		    sizeof(l->description));
		cell_text_cut(res, i, BL_C_TARGET, l->target,
		    sizeof(l->target));
		cell_text_cut(res, i, BL_C_ITEM, l->stripe_item_id,
		    sizeof(l->stripe_item_id));
		if (db_res_isnull(res, i, BL_C_TARGET))
			l->nulls |= BILL_LINES_NULL_TARGET;
		if (db_res_isnull(res, i, BL_C_ITEM))
			l->nulls |= BILL_LINES_NULL_ITEM;
	}
	db_res_free(res);
	return XERR_OK;
}

enum xerr
bill_lines_set_target(struct db *db, int64_t bill_id, const char *kind,
    const char *from, const char *target)
{
	struct dbv	 a[4];
	uint64_t	 n = 0;
	enum xerr	 rc;

	a[0] = DB_STR(target);
	a[1] = DB_INT(bill_id);
	a[2] = DB_STR(kind);
	a[3] = from != NULL && from[0] != '\0' ? DB_STR(from) : DB_NULL;
	if ((rc = db_exec(db, STMT_BILL_LINE_TARGET, a, 4, &n, NULL)))
		return rc;
	return n == 1 ? XERR_OK : XERR_CONFLICT;
}

enum xerr
bill_lines_set_posted(struct db *db, int64_t bill_id, const char *kind,
    const char *item)
{
	struct dbv	 a[3];

	a[0] = DB_STR(item);
	a[1] = DB_INT(bill_id);
	a[2] = DB_STR(kind);
	return db_exec(db, STMT_BILL_LINE_POSTED, a, 3, NULL, NULL);
}

enum xerr
bill_lines_pending(struct db *db, const char *subscription, int64_t bill_id,
    struct bill_lines_pending_row *rows, size_t max, size_t *n)
{
	struct db_res			*res = NULL;
	struct bill_lines_pending_row	*p;
	struct dbv			 a[2];
	size_t				 i;
	enum xerr			 rc;

	*n = 0;
	a[0] = DB_STR(subscription);
	a[1] = DB_INT(bill_id);
	if ((rc = db_query(db, STMT_BILL_LINES_PENDING, a, 2, &res)))
		return rc;
	for (i = 0; i < db_res_rows(res) && i < max; i++) {
		p = &rows[(*n)++];
		memset(p, 0, sizeof(*p));
		p->bill_id = db_res_int(res, i, BL_P_BILL, 0);
		cell_text_cut(res, i, BL_P_KIND, p->kind, sizeof(p->kind));
		cell_text_cut(res, i, BL_P_ITEM, p->stripe_item_id,
		    sizeof(p->stripe_item_id));
	}
	db_res_free(res);
	return XERR_OK;
}
