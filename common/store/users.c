#include <string.h>

#include "core/db.h"
#include "core/log.h"
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
	size_t	 len;

	out[0] = '\0';
	if (db_res_isnull(res, 0, c)) {
		*nulls |= bit;
		return XERR_OK;
	}
	if ((len = db_res_len(res, 0, c)) >= outsz) {
		log_warnx("users: column %d is %zu bytes, over %zu", (int)c,
		    len, outsz - 1);
		return XERR_DB;
	}
	memcpy(out, db_res_str(res, 0, c), len);
	out[len] = '\0';
	return XERR_OK;
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
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	*version = 0;
	a[0] = DB_STR(id);
	if ((rc = db_query(db, STMT_USER_JWT_VERSION, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else
		*version = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	return rc;
}
