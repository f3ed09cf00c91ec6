#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/billing_reads.h"

/* The columns of STMT_BILLING_USER. */
enum billing_reads_col {
	BR_C_EMAIL,
	BR_C_CUSTOMER,
	BR_C_TIER,
	BR_C_SUBSCRIPTION,
	BR_C_STATUS,
	BR_C_ITEM,
	BR_C_PERIOD_START,
	BR_C_PERIOD_END,
	BR_C_CANCELLING,
	BR_C_DELETED,
	BR_C_LAST_EVENT,
	BR_C_JWT_VERSION,
	BR_C__USER
};

/*
 * Copies column c of row (NULL: "") into out, as cell_text(), but a text
 * longer than out is XERR_INTERNAL (billing_reads.h).
 */
static enum xerr
billing_reads_text(const struct db_res *res, size_t row, size_t c,
    char *out, size_t outsz)
{
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	rc = cell_text(res, row, c, out, outsz, 0, &nulls);
	return rc == XERR_DB ? XERR_INTERNAL : rc;
}

/* Fills *u from row of res (columns 0-11). */
static enum xerr
billing_reads_fill(const struct db_res *res, size_t row,
    struct billing_reads_user *u)
{
	enum xerr	 rc;

	memset(u, 0, sizeof(*u));
	if (db_res_cols(res) < BR_C__USER)
		return XERR_INTERNAL;
	if ((rc = billing_reads_text(res, row, BR_C_EMAIL, u->email,
	    sizeof(u->email))) != XERR_OK ||
	    (rc = billing_reads_text(res, row, BR_C_CUSTOMER, u->customer,
	    sizeof(u->customer))) != XERR_OK ||
	    (rc = billing_reads_text(res, row, BR_C_TIER, u->tier,
	    sizeof(u->tier))) != XERR_OK ||
	    (rc = billing_reads_text(res, row, BR_C_SUBSCRIPTION,
	    u->subscription_id, sizeof(u->subscription_id))) != XERR_OK ||
	    (rc = billing_reads_text(res, row, BR_C_STATUS, u->status,
	    sizeof(u->status))) != XERR_OK ||
	    (rc = billing_reads_text(res, row, BR_C_ITEM, u->item_id,
	    sizeof(u->item_id))) != XERR_OK ||
	    (rc = billing_reads_text(res, row, BR_C_LAST_EVENT,
	    u->last_event_id, sizeof(u->last_event_id))) != XERR_OK) {
		memset(u, 0, sizeof(*u));
		return rc;
	}
	if (db_res_isnull(res, row, BR_C_CUSTOMER))
		u->nulls |= BILLING_READS_NULL_CUSTOMER;
	if (db_res_isnull(res, row, BR_C_STATUS))
		u->nulls |= BILLING_READS_NULL_STATUS;
	if (db_res_isnull(res, row, BR_C_DELETED))
		u->nulls |= BILLING_READS_NULL_DELETED;
	if (db_res_isnull(res, row, BR_C_JWT_VERSION))
		u->nulls |= BILLING_READS_NULL_JWT_VERSION;
	u->period_start = db_res_int(res, row, BR_C_PERIOD_START, 0);
	u->period_end = db_res_int(res, row, BR_C_PERIOD_END, 0);
	u->cancel_at_period_end =
	    db_res_int(res, row, BR_C_CANCELLING, 0) != 0;
	u->deleted = db_res_int(res, row, BR_C_DELETED, 1) != 0;
	u->jwt_version = db_res_int(res, row, BR_C_JWT_VERSION, -1);
	return XERR_OK;
}

enum xerr
billing_reads_user(struct db *db, const char *user_id,
    struct billing_reads_user *u)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	memset(u, 0, sizeof(*u));
	a[0] = DB_STR(user_id);
	if ((rc = db_query(db, STMT_BILLING_USER, a, 1, &res)) != XERR_OK)
		return rc;
	rc = db_res_rows(res) == 1 ? billing_reads_fill(res, 0, u) :
	    XERR_NOTFOUND;
	db_res_free(res);
	return rc;
}

/* STMT_BILLING_USERS_* of 2, 4, 8 and 16 ids. */
static const unsigned int billing_reads_many[] = {
	STMT_BILLING_USERS_2, STMT_BILLING_USERS_4, STMT_BILLING_USERS_8,
	STMT_BILLING_USERS_16,
};

enum xerr
billing_reads_users(struct db *db, const char *const *ids, size_t n,
    struct billing_reads_user *const *out, enum xerr *found)
{
	struct db_res	*res = NULL;
	struct dbv	 a[BILLING_READS_USERS_MAX];
	const char	*id;
	size_t		 i, j, m, k = 0;
	enum xerr	 rc;

	if (n == 0 || n > BILLING_READS_USERS_MAX)
		return XERR_INTERNAL;
	for (i = 0; i < n; i++)
		found[i] = XERR_NOTFOUND;
	if (n == 1) {
		found[0] = billing_reads_user(db, ids[0], out[0]);
		return found[0] == XERR_OK || found[0] == XERR_NOTFOUND ||
		    found[0] == XERR_INTERNAL ? XERR_OK : found[0];
	}
	/* The smallest statement that holds n, padded with the last id. */
	for (m = 2; m < n; m *= 2)
		k++;
	for (i = 0; i < m; i++)
		a[i] = DB_STR(ids[i < n ? i : n - 1]);
	if ((rc = db_query(db, billing_reads_many[k], a, m, &res)) != XERR_OK)
		return rc;
	for (j = 0; j < db_res_rows(res); j++) {
		if ((id = db_res_str(res, j, BR_C__USER)) == NULL)
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(ids[i], id) == 0)
				found[i] = billing_reads_fill(res, j, out[i]);
	}
	db_res_free(res);
	return XERR_OK;
}

enum xerr
billing_reads_sub(struct db *db, const char *subscription, int lock,
    struct billing_reads_sub *out)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	a[0] = DB_STR(subscription);
	if ((rc = db_query(db, lock ? STMT_RATING_SUB_LOCK :
	    STMT_RATING_SUB_GET, a, 1, &res)))
		return rc;
	if (db_res_rows(res) != 1) {
		db_res_free(res);
		return XERR_NOTFOUND;
	}
	/* Columns: user_id, customer_id, deleted. */
	snprintf(out->user_id, sizeof(out->user_id), "%s",
	    db_res_str(res, 0, 0));
	snprintf(out->customer_id, sizeof(out->customer_id), "%s",
	    db_res_str(res, 0, 1));
	out->deleted = db_res_int(res, 0, 2, 0) != 0;
	db_res_free(res);
	return XERR_OK;
}

enum xerr
billing_reads_phone_held(struct db *db, const char *user_id, int64_t from,
    int64_t to, int *held)
{
	struct db_res	*res = NULL;
	struct dbv	 a[3];
	enum xerr	 rc;

	*held = 0;
	a[0] = DB_STR(user_id);
	a[1] = DB_INT(to);
	a[2] = DB_INT(from);
	if ((rc = db_query(db, STMT_RATING_PHONE_HELD, a, 3, &res)))
		return rc;
	*held = db_res_int(res, 0, 0, 0) > 0;
	db_res_free(res);
	return XERR_OK;
}
