#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/invoices_db.h"

/* The columns of STMT_INVOICE_LOCK, in its order. */
enum invoices_db_col {
	INVOICES_DB_C_STATUS,
	INVOICES_DB_C_ATTEMPTS,
};

enum xerr
invoices_db_lock(struct db *db, const char *id,
    struct invoices_db_lock_row *row)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_STR(id);
	if ((rc = db_query(db, STMT_INVOICE_LOCK, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) != 1)
		rc = XERR_NOTFOUND;
	else {
		rc = cell_text(res, 0, INVOICES_DB_C_STATUS, row->status,
		    sizeof(row->status), 0, &nulls);
		row->attempt_count = db_res_int(res, 0, INVOICES_DB_C_ATTEMPTS,
		    0);
	}
	db_res_free(res);
	return rc;
}

enum xerr
invoices_db_upsert(struct db *db, const struct invoices_db_values *v)
{
	struct dbv	 a[15];

	a[0] = DB_STR(v->id);
	a[1] = DB_STR(v->user_id);
	a[2] = DB_STR(v->subscription_id);
	a[3] = DB_STR(v->number);
	a[4] = DB_STR(v->status);
	a[5] = DB_STR(v->billing_reason);
	a[6] = DB_STR(v->currency);
	a[7] = DB_INT(v->amount_due);
	a[8] = DB_INT(v->amount_paid);
	a[9] = cell_arg_int(v->period_start, v->nulls,
	    INVOICES_DB_NULL_PERIOD_START);
	a[10] = cell_arg_int(v->period_end, v->nulls,
	    INVOICES_DB_NULL_PERIOD_END);
	a[11] = DB_INT(v->attempt_count);
	a[12] = cell_arg_int(v->next_payment_attempt, v->nulls,
	    INVOICES_DB_NULL_NEXT_ATTEMPT);
	a[13] = DB_STR(v->hosted_invoice_url);
	a[14] = DB_INT(v->created);
	return db_exec(db, STMT_INVOICE_UPSERT, a, 15, NULL, NULL);
}

enum xerr
invoices_db_items_posted(struct db *db, const char *id, int *posted)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	char		 key[300];
	enum xerr	 rc;

	*posted = 0;
	snprintf(key, sizeof(key), "invoice_items:%s", id);
	a[0] = DB_STR(key);
	if ((rc = db_query(db, STMT_JOB_KEY_EXISTS, a, 1, &res)) != XERR_OK)
		return rc;
	*posted = db_res_rows(res) > 0;
	db_res_free(res);
	return XERR_OK;
}
