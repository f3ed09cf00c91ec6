#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/bills.h"

/* The columns of STMT_BILL_BY_ID, in its order. */
enum bills_col {
	BILLS_C_ID,
	BILLS_C_USER,
	BILLS_C_SUB,
	BILLS_C_CUSTOMER,
	BILLS_C_KIND,
	BILLS_C_PS,
	BILLS_C_PE,
	BILLS_C_UE,
	BILLS_C_INVOICE,
	BILLS_C_ONEOFF,
	BILLS_C_STATE
};

/* The columns of STMT_BILLS_OF_USER, in its order. */
enum bills_user_col {
	BILLS_U_ID,
	BILLS_U_SUB,
	BILLS_U_KIND,
	BILLS_U_PS,
	BILLS_U_PE,
	BILLS_U_UE,
	BILLS_U_INVOICE,
	BILLS_U_ONEOFF,
	BILLS_U_STATE,
	BILLS_U_COMPUTATION
};

enum xerr
bills_id_of(struct db *db, const char *subscription, int64_t period_start,
    int64_t *id)
{
	struct db_res	*res = NULL;
	struct dbv	 a[2];
	enum xerr	 rc;

	*id = 0;
	a[0] = DB_STR(subscription);
	a[1] = DB_INT(period_start);
	if ((rc = db_query(db, STMT_BILL_GET, a, 2, &res)))
		return rc;
	if (db_res_rows(res) == 1)
		*id = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	return XERR_OK;
}

enum xerr
bills_insert(struct db *db, const struct bills_new *b, int64_t *id)
{
	struct dbv	 a[9];
	uint64_t	 ins = 0;
	enum xerr	 rc;

	*id = 0;
	a[0] = DB_STR(b->user_id);
	a[1] = DB_STR(b->subscription_id);
	a[2] = DB_STR(b->customer_id);
	a[3] = DB_STR(b->kind);
	a[4] = DB_INT(b->period_start);
	a[5] = DB_INT(b->period_end);
	a[6] = DB_INT(b->usage_end);
	a[7] = DB_STR(b->invoice_id);
	a[8] = DB_STR(b->computation);
	if ((rc = db_exec(db, STMT_BILL_INSERT, a, 9, NULL, &ins)))
		return rc;
	*id = (int64_t)ins;
	return XERR_OK;
}

enum xerr
bills_by_id(struct db *db, int64_t id, struct bills_row *row)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_INT(id);
	if ((rc = db_query(db, STMT_BILL_BY_ID, a, 1, &res)))
		return rc;
	if (db_res_rows(res) != 1) {
		db_res_free(res);
		return XERR_NOTFOUND;
	}
	row->id = id;
	cell_text_cut(res, 0, BILLS_C_USER, row->user_id, sizeof(row->user_id));
	cell_text_cut(res, 0, BILLS_C_SUB, row->subscription_id,
	    sizeof(row->subscription_id));
	cell_text_cut(res, 0, BILLS_C_CUSTOMER, row->customer_id,
	    sizeof(row->customer_id));
	cell_text_cut(res, 0, BILLS_C_KIND, row->kind, sizeof(row->kind));
	row->period_start = db_res_int(res, 0, BILLS_C_PS, 0);
	row->period_end = db_res_int(res, 0, BILLS_C_PE, 0);
	row->usage_end = db_res_int(res, 0, BILLS_C_UE, 0);
	cell_text_cut(res, 0, BILLS_C_INVOICE, row->invoice_id,
	    sizeof(row->invoice_id));
	cell_text_cut(res, 0, BILLS_C_ONEOFF, row->oneoff_invoice_id,
	    sizeof(row->oneoff_invoice_id));
	cell_text_cut(res, 0, BILLS_C_STATE, row->state, sizeof(row->state));
	if (db_res_isnull(res, 0, BILLS_C_INVOICE))
		row->nulls |= BILLS_NULL_INVOICE;
	if (db_res_isnull(res, 0, BILLS_C_ONEOFF))
		row->nulls |= BILLS_NULL_ONEOFF;
	db_res_free(res);
	return XERR_OK;
}

enum xerr
bills_set_oneoff(struct db *db, int64_t id, const char *invoice)
{
	struct dbv	 a[2];

	a[0] = DB_STR(invoice);
	a[1] = DB_INT(id);
	return db_exec(db, STMT_BILL_SET_ONEOFF, a, 2, NULL, NULL);
}

enum xerr
bills_set_posted(struct db *db, int64_t id)
{
	struct dbv	 a[1];

	a[0] = DB_INT(id);
	return db_exec(db, STMT_BILL_POSTED, a, 1, NULL, NULL);
}

enum xerr
bills_of_user(struct db *db, const char *user_id, int64_t period_start,
    struct bills_row **rows, size_t *n)
{
	struct db_res	*res = NULL;
	struct bills_row *r;
	struct dbv	 a[3];
	const char	*comp;
	size_t		 i, m;
	enum xerr	 rc;

	*rows = NULL;
	*n = 0;
	a[0] = DB_STR(user_id);
	a[1] = DB_INT(period_start);
	a[2] = DB_INT(period_start);
	if ((rc = db_query(db, STMT_BILLS_OF_USER, a, 3, &res)))
		return rc;
	if ((m = db_res_rows(res)) == 0) {
		db_res_free(res);
		return XERR_OK;
	}
	if ((*rows = calloc(m, sizeof(**rows))) == NULL) {
		db_res_free(res);
		return XERR_NOMEM;
	}
	for (i = 0; i < m; i++) {
		r = &(*rows)[i];
		*n = i + 1;
		r->id = db_res_int(res, i, BILLS_U_ID, 0);
		cell_text_cut(res, i, BILLS_U_SUB, r->subscription_id,
		    sizeof(r->subscription_id));
		cell_text_cut(res, i, BILLS_U_KIND, r->kind, sizeof(r->kind));
		r->period_start = db_res_int(res, i, BILLS_U_PS, 0);
		r->period_end = db_res_int(res, i, BILLS_U_PE, 0);
		r->usage_end = db_res_int(res, i, BILLS_U_UE, 0);
		cell_text_cut(res, i, BILLS_U_INVOICE, r->invoice_id,
		    sizeof(r->invoice_id));
		cell_text_cut(res, i, BILLS_U_ONEOFF, r->oneoff_invoice_id,
		    sizeof(r->oneoff_invoice_id));
		cell_text_cut(res, i, BILLS_U_STATE, r->state, sizeof(r->state));
		if (db_res_isnull(res, i, BILLS_U_INVOICE))
			r->nulls |= BILLS_NULL_INVOICE;
		if (db_res_isnull(res, i, BILLS_U_ONEOFF))
			r->nulls |= BILLS_NULL_ONEOFF;
		if ((comp = db_res_str(res, i, BILLS_U_COMPUTATION)) != NULL &&
		    (r->computation = strdup(comp)) == NULL) {
			db_res_free(res);
			bills_list_free(*rows, *n);
			*rows = NULL;
			*n = 0;
			return XERR_NOMEM;
		}
	}
	db_res_free(res);
	return XERR_OK;
}

void
bills_list_free(struct bills_row *rows, size_t n)
{
	size_t	 i;

	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i].computation);
	free(rows);
}

enum xerr
bills_reconcile_due(struct db *db, int64_t before, int64_t *ids, size_t max,
    size_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	size_t		 i;
	enum xerr	 rc;

	*n = 0;
	a[0] = DB_INT(before);
	if ((rc = db_query(db, STMT_RECONCILE_DUE, a, 1, &res)))
		return rc;
	for (i = 0; i < db_res_rows(res) && i < max; i++)
		ids[(*n)++] = db_res_int(res, i, 0, 0);
	db_res_free(res);
	return XERR_OK;
}

enum xerr
bills_set_reconciled(struct db *db, int64_t id, int64_t now,
    const char *state, const char *detail, int64_t unbilled)
{
	struct dbv	 a[5];

	a[0] = DB_INT(now);
	a[1] = DB_STR(state);
	a[2] = DB_STR(detail);
	a[3] = DB_INT(unbilled);
	a[4] = DB_INT(id);
	return db_exec(db, STMT_RECONCILE_SET, a, 5, NULL, NULL);
}

enum xerr
bills_set_reconcile_error(struct db *db, int64_t id, int64_t now,
    const char *why)
{
	enum { A_NOW, A_WHY, A_ID, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_NOW] = DB_INT(now);
	a[A_WHY] = DB_STR(why);
	a[A_ID] = DB_INT(id);
	return db_exec(db, STMT_RECONCILE_ERROR, a, A__MAX, NULL, NULL);
}
