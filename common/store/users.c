#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "store/cell.h"
#include "store/rows.h"
#include "store/stmt.h"
#include "store/users.h"

/* The columns of STMT_USER_GET, in its order. */
enum users_col {
	USERS_C_ID,
	USERS_C_EMAIL,
	USERS_C_CUSTOMER,
	USERS_C_TIER,
	USERS_C_JWT_VERSION,
	USERS_C_SUBSCRIPTION,
	USERS_C_CYCLE_START,
	USERS_C_CYCLE_END,
	USERS_C_TRIAL_END,
	USERS_C_PAST_DUE,
	USERS_C_PHONE_NUMBER,
	USERS_C_PHONE_SID,
	USERS_C_PHONE_STATUS,
	USERS_C_PROVISIONED_AT,
	USERS_C_PHONE_ERROR,
	USERS_C_GRACE_UNTIL,
	USERS_C_PHONE_SEARCH,
	USERS_C__MAX
};

/*
 * Copies column c of row 0 into out (outsz bytes), setting bit in *nulls
 * when it is NULL.  XERR_DB when it does not fit.
 */
static enum xerr
users_text(const struct db_res *res, enum users_col c, char *out,
    size_t outsz, unsigned int bit, unsigned int *nulls)
{
	return cell_text(res, 0, c, out, outsz, bit, nulls);
}

/* Returns column c of row 0 as an integer, setting bit when NULL. */
static int64_t
users_int(const struct db_res *res, enum users_col c, unsigned int bit,
    unsigned int *nulls)
{
	if (db_res_isnull(res, 0, c))
		*nulls |= bit;
	return db_res_int(res, 0, c, 0);
}

/* Fills row from row 0 of res (STMT_USER_GET's columns). */
static enum xerr
users_fill(const struct db_res *res, struct users_row *row)
{
	unsigned int	*n = &row->nulls;
	enum xerr	 rc;

	if (db_res_cols(res) != USERS_C__MAX)
		return XERR_INTERNAL;
	if ((rc = users_text(res, USERS_C_ID, row->id, sizeof(row->id), 0,
	    n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_EMAIL, row->email,
	    sizeof(row->email), 0, n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_CUSTOMER, row->stripe_customer_id,
	    sizeof(row->stripe_customer_id), USERS_NULL_CUSTOMER,
	    n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_TIER, row->tier, sizeof(row->tier),
	    0, n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_SUBSCRIPTION, row->subscription_id,
	    sizeof(row->subscription_id), USERS_NULL_SUBSCRIPTION,
	    n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_PHONE_NUMBER, row->phone_number,
	    sizeof(row->phone_number), USERS_NULL_PHONE_NUMBER,
	    n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_PHONE_SID, row->phone_sid,
	    sizeof(row->phone_sid), USERS_NULL_PHONE_SID, n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_PHONE_STATUS, row->phone_status,
	    sizeof(row->phone_status), 0, n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_PHONE_ERROR, row->phone_error,
	    sizeof(row->phone_error), USERS_NULL_PHONE_ERROR, n)) != XERR_OK ||
	    (rc = users_text(res, USERS_C_PHONE_SEARCH, row->phone_search,
	    sizeof(row->phone_search), USERS_NULL_PHONE_SEARCH,
	    n)) != XERR_OK)
		return rc;
	row->jwt_version = users_int(res, USERS_C_JWT_VERSION, 0, n);
	row->billing_cycle_start = users_int(res, USERS_C_CYCLE_START,
	    USERS_NULL_CYCLE_START, n);
	row->billing_cycle_end = users_int(res, USERS_C_CYCLE_END,
	    USERS_NULL_CYCLE_END, n);
	row->trial_end = users_int(res, USERS_C_TRIAL_END,
	    USERS_NULL_TRIAL_END, n);
	row->past_due = users_int(res, USERS_C_PAST_DUE, 0, n) != 0;
	row->phone_provisioned_at = users_int(res, USERS_C_PROVISIONED_AT,
	    USERS_NULL_PROVISIONED_AT, n);
	row->phone_grace_until = users_int(res, USERS_C_GRACE_UNTIL,
	    USERS_NULL_GRACE_UNTIL, n);
	return XERR_OK;
}

enum xerr
users_by_id(struct db *db, const char *id, struct users_row *row)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_STR(id);
	if ((rc = db_query(db, STMT_USER_GET, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else
		rc = users_fill(res, row);
	db_res_free(res);
	if (rc != XERR_OK)
		memset(row, 0, sizeof(*row));
	return rc;
}

enum xerr
users_jwt_version(struct db *db, const char *id, int64_t *version)
{
	struct dbv	 a[1];

	a[0] = DB_STR(id);
	return rows_int(db, STMT_USER_JWT_VERSION, a, 1, 0, version);
}

/*
 * The webhook's accessors: the user row locked, and the writes of an
 * event (users.h).
 */

/* The columns of STMT_USER_LOCK, _BY_CUSTOMER and _BY_CUSTOMER_16. */
enum users_lock_col {
	USERS_L_ID,
	USERS_L_TIER,
	USERS_L_SUBSCRIPTION,
	USERS_L_PHONE_NUMBER,
	USERS_L_CUSTOMER,
	USERS_L_PHONE_STATUS,
	USERS_L__MAX
};

/* Fills row (cleared first) from row i of res (the lock's columns). */
static enum xerr
users_lock_fill(const struct db_res *res, size_t i, struct users_lock_row *row)
{
	unsigned int	*n = &row->nulls;
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	if (db_res_cols(res) != USERS_L__MAX)
		return XERR_INTERNAL;
	if ((rc = cell_text(res, i, USERS_L_ID, row->id, sizeof(row->id), 0,
	    n)) != XERR_OK ||
	    (rc = cell_text(res, i, USERS_L_TIER, row->tier,
	    sizeof(row->tier), 0, n)) != XERR_OK ||
	    (rc = cell_text(res, i, USERS_L_SUBSCRIPTION,
	    row->subscription_id, sizeof(row->subscription_id),
	    USERS_NULL_SUBSCRIPTION, n)) != XERR_OK ||
	    (rc = cell_text(res, i, USERS_L_PHONE_NUMBER, row->phone_number,
	    sizeof(row->phone_number), USERS_NULL_PHONE_NUMBER,
	    n)) != XERR_OK ||
	    (rc = cell_text(res, i, USERS_L_CUSTOMER,
	    row->stripe_customer_id, sizeof(row->stripe_customer_id),
	    USERS_NULL_CUSTOMER, n)) != XERR_OK ||
	    (rc = cell_text(res, i, USERS_L_PHONE_STATUS, row->phone_status,
	    sizeof(row->phone_status), 0, n)) != XERR_OK)
		memset(row, 0, sizeof(*row));
	return rc;
}

/* Runs lock statement s with the one argument key: one row or none. */
static enum xerr
users_lock_one(struct db *db, enum stmt s, const char *key,
    struct users_lock_row *row)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_STR(key);
	if ((rc = db_query(db, s, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) != 1)
		rc = XERR_NOTFOUND;
	else
		rc = users_lock_fill(res, 0, row);
	db_res_free(res);
	return rc;
}

enum xerr
users_lock(struct db *db, const char *id, struct users_lock_row *row)
{
	return users_lock_one(db, STMT_USER_LOCK, id, row);
}

enum xerr
users_touch(struct db *db, const char *id)
{
	struct dbv	 a[1];

	a[0] = DB_STR(id);
	return db_exec(db, STMT_USER_TOUCH, a, 1, NULL, NULL);
}

enum xerr
users_lock_by_customer(struct db *db, const char *customer,
    struct users_lock_row *row)
{
	return users_lock_one(db, STMT_USER_LOCK_BY_CUSTOMER, customer, row);
}

enum xerr
users_lock_by_customers(struct db *db, const char *const *customers,
    size_t n, struct users_lock_row *rows, size_t cap, size_t *nrows)
{
	struct db_res	*res = NULL;
	struct dbv	 a[USERS_LOCK_IDS];
	size_t		 i;
	enum xerr	 rc;

	*nrows = 0;
	if (n > USERS_LOCK_IDS)
		return XERR_INTERNAL;
	for (i = 0; i < USERS_LOCK_IDS; i++)
		a[i] = i < n ? DB_STR(customers[i]) : DB_NULL;
	if ((rc = db_query(db, STMT_USER_LOCK_BY_CUSTOMER_16, a,
	    USERS_LOCK_IDS, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) > cap) {
		log_warnx("users: %zu users for %zu customers",
		    db_res_rows(res), n);
		rc = XERR_DB;
	}
	for (i = 0; rc == XERR_OK && i < db_res_rows(res); i++)
		rc = users_lock_fill(res, i, &rows[i]);
	if (rc == XERR_OK)
		*nrows = db_res_rows(res);
	db_res_free(res);
	return rc;
}

enum xerr
users_set_customer(struct db *db, const char *id, const char *customer,
    uint64_t *affected)
{
	struct dbv	 a[2];

	a[0] = DB_STR(customer);
	a[1] = DB_STR(id);
	return db_exec(db, STMT_USER_SET_CUSTOMER, a, 2, affected, NULL);
}

enum xerr
users_clear_customer(struct db *db, const char *id, const char *customer)
{
	struct dbv	 a[2];

	a[0] = DB_STR(id);
	a[1] = DB_STR(customer);
	return db_exec(db, STMT_USER_CLEAR_CUSTOMER, a, 2, NULL, NULL);
}

enum xerr
users_set_subscription(struct db *db, const char *id,
    const struct users_subscription *s)
{
	struct dbv	 a[7];

	a[0] = DB_STR(s->tier);
	a[1] = DB_STR(s->subscription_id);
	a[2] = cell_arg_int(s->billing_cycle_start, s->nulls,
	    USERS_NULL_CYCLE_START);
	a[3] = cell_arg_int(s->billing_cycle_end, s->nulls,
	    USERS_NULL_CYCLE_END);
	a[4] = cell_arg_int(s->trial_end, s->nulls, USERS_NULL_TRIAL_END);
	a[5] = DB_INT(s->past_due);
	a[6] = DB_STR(id);
	return db_exec(db, STMT_USER_SET_SUBSCRIPTION, a, 7, NULL, NULL);
}

enum xerr
users_set_trial_end(struct db *db, const char *id, int64_t trial_end)
{
	struct dbv	 a[2];

	a[0] = DB_INT(trial_end);
	a[1] = DB_STR(id);
	return db_exec(db, STMT_USER_SET_TRIAL_END, a, 2, NULL, NULL);
}

enum xerr
users_set_cycle(struct db *db, const char *id, int64_t start, int64_t end)
{
	struct dbv	 a[4];

	a[0] = DB_INT(start);
	a[1] = DB_INT(end);
	a[2] = DB_STR(id);
	a[3] = DB_INT(end);
	return db_exec(db, STMT_USER_SET_CYCLE, a, 4, NULL, NULL);
}
