#include <stdint.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/subscriptions_db.h"

/* The columns of STMT_SUB_LOCK, in its order. */
enum subscriptions_db_col {
	SUBSCRIPTIONS_DB_C_USER,
	SUBSCRIPTIONS_DB_C_STATUS,
	SUBSCRIPTIONS_DB_C_TIER,
	SUBSCRIPTIONS_DB_C_DELETED,
	SUBSCRIPTIONS_DB_C_LAST_CREATED,
	SUBSCRIPTIONS_DB_C_LAST_RANK,
	SUBSCRIPTIONS_DB_C_STRIPE_CREATED,
	SUBSCRIPTIONS_DB_C_LAST_ID,
	SUBSCRIPTIONS_DB_C__MAX
};

enum xerr
subscriptions_db_lock(struct db *db, const char *id,
    struct subscriptions_db_lock_row *row)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_STR(id);
	if ((rc = db_query(db, STMT_SUB_LOCK, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) != 1)
		rc = XERR_NOTFOUND;
	else if (db_res_cols(res) != SUBSCRIPTIONS_DB_C__MAX)
		rc = XERR_INTERNAL;
	else if ((rc = cell_text(res, 0, SUBSCRIPTIONS_DB_C_USER,
	    row->user_id, sizeof(row->user_id), 0, &nulls)) == XERR_OK &&
	    (rc = cell_text(res, 0, SUBSCRIPTIONS_DB_C_STATUS, row->status,
	    sizeof(row->status), 0, &nulls)) == XERR_OK &&
	    (rc = cell_text(res, 0, SUBSCRIPTIONS_DB_C_TIER, row->tier,
	    sizeof(row->tier), 0, &nulls)) == XERR_OK &&
	    (rc = cell_text(res, 0, SUBSCRIPTIONS_DB_C_LAST_ID,
	    row->last_event_id, sizeof(row->last_event_id), 0, &nulls)) ==
	    XERR_OK) {
		row->deleted = db_res_int(res, 0, SUBSCRIPTIONS_DB_C_DELETED,
		    0) != 0;
		row->last_event_created = db_res_int(res, 0,
		    SUBSCRIPTIONS_DB_C_LAST_CREATED, 0);
		row->last_event_rank = db_res_int(res, 0,
		    SUBSCRIPTIONS_DB_C_LAST_RANK, 0);
		row->stripe_created = db_res_int(res, 0,
		    SUBSCRIPTIONS_DB_C_STRIPE_CREATED, 0);
	}
	db_res_free(res);
	if (rc != XERR_OK)
		memset(row, 0, sizeof(*row));
	return rc;
}

enum xerr
subscriptions_db_other_live(struct db *db, const char *user_id,
    const char *except_id, struct subscriptions_db_other *out)
{
	struct db_res	*res = NULL;
	struct dbv	 a[2];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	a[0] = DB_STR(user_id);
	a[1] = DB_STR(except_id);
	if ((rc = db_query(db, STMT_SUB_OTHER_LIVE, a, 2, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) != 1)
		rc = XERR_NOTFOUND;
	else if ((rc = cell_text(res, 0, 0, out->id, sizeof(out->id), 0,
	    &nulls)) == XERR_OK &&
	    (rc = cell_text(res, 0, 1, out->customer_id,
	    sizeof(out->customer_id), 0, &nulls)) == XERR_OK &&
	    (rc = cell_text(res, 0, 2, out->status, sizeof(out->status), 0,
	    &nulls)) == XERR_OK &&
	    (rc = cell_text(res, 0, 3, out->tier, sizeof(out->tier), 0,
	    &nulls)) == XERR_OK) {
		out->period_start = db_res_int(res, 0, 4, 0);
		out->period_end = db_res_int(res, 0, 5, 0);
		out->cancel_at_period_end = db_res_int(res, 0, 6, 0) != 0;
		out->trial_end = db_res_int(res, 0, 7, 0);
	}
	db_res_free(res);
	if (rc != XERR_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

enum xerr
subscriptions_db_upsert(struct db *db, const struct subscriptions_db_values *v)
{
	struct dbv	 a[16];

	a[0] = DB_STR(v->id);
	a[1] = DB_STR(v->user_id);
	a[2] = DB_STR(v->customer_id);
	a[3] = DB_STR(v->status);
	a[4] = DB_STR(v->tier);
	a[5] = DB_STR(v->price_id);
	a[6] = DB_STR(v->item_id);
	a[7] = cell_arg_int(v->current_period_start, v->nulls,
	    SUBSCRIPTIONS_DB_NULL_PERIOD_START);
	a[8] = cell_arg_int(v->current_period_end, v->nulls,
	    SUBSCRIPTIONS_DB_NULL_PERIOD_END);
	a[9] = DB_INT(v->cancel_at_period_end);
	a[10] = cell_arg_int(v->trial_end, v->nulls,
	    SUBSCRIPTIONS_DB_NULL_TRIAL_END);
	a[11] = DB_INT(v->deleted);
	a[12] = DB_STR(v->last_event_id);
	a[13] = DB_INT(v->last_event_created);
	a[14] = DB_INT(v->last_event_rank);
	a[15] = v->stripe_created > 0 ? DB_INT(v->stripe_created) : DB_NULL;
	return db_exec(db, STMT_SUB_UPSERT, a, 16, NULL, NULL);
}

enum xerr
subscriptions_db_cancel_by_customer(struct db *db, const char *customer,
    const char *event_id, int64_t created)
{
	struct dbv	 a[3];

	a[0] = DB_STR(event_id);
	a[1] = DB_INT(created);
	a[2] = DB_STR(customer);
	return db_exec(db, STMT_SUBS_CANCEL_BY_CUSTOMER, a, 3, NULL, NULL);
}
