#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/admin_db.h"
#include "store/rows.h"
#include "store/stmt.h"

#define ADMIN_DB_NCOLS(a)	(sizeof(a) / sizeof((a)[0]))

/* The columns of STMT_ADMIN_USER_SUBS, in its order. */
static const struct rows_col admin_db_sub_cols[] = {
	ROWS_TEXT_COL(struct admin_db_sub, id, 0),
	ROWS_TEXT_COL(struct admin_db_sub, status, 0),
	ROWS_TEXT_COL(struct admin_db_sub, tier, 0),
	ROWS_TEXT_COL(struct admin_db_sub, price_id, 0),
	ROWS_TEXT_COL(struct admin_db_sub, item_id, ADMIN_DB_NULL_ITEM),
	ROWS_INT_COL(struct admin_db_sub, current_period_start,
	    ADMIN_DB_NULL_PERIOD_START),
	ROWS_INT_COL(struct admin_db_sub, current_period_end,
	    ADMIN_DB_NULL_PERIOD_END),
	ROWS_INT_COL(struct admin_db_sub, cancel_at_period_end, 0),
	ROWS_INT_COL(struct admin_db_sub, trial_end, ADMIN_DB_NULL_TRIAL_END),
	ROWS_INT_COL(struct admin_db_sub, deleted, 0),
	ROWS_TEXT_COL(struct admin_db_sub, last_event_id, 0),
	ROWS_INT_COL(struct admin_db_sub, last_event_created, 0),
	ROWS_TEXT_COL(struct admin_db_sub, customer_id, 0),
};

/* The columns of STMT_ADMIN_SUB_GET, in its order. */
static const struct rows_col admin_db_oursub_cols[] = {
	ROWS_TEXT_COL(struct admin_db_oursub, user_id, 0),
	ROWS_TEXT_COL(struct admin_db_oursub, status, 0),
	ROWS_TEXT_COL(struct admin_db_oursub, tier, 0),
	ROWS_INT_COL(struct admin_db_oursub, deleted, 0),
	ROWS_INT_COL(struct admin_db_oursub, current_period_end,
	    ADMIN_DB_NULL_PERIOD_END),
	ROWS_INT_COL(struct admin_db_oursub, cancel_at_period_end, 0),
	ROWS_TEXT_COL(struct admin_db_oursub, last_event_id, 0),
};

/* The columns of STMT_BILLING_INVOICES, in its order. */
static const struct rows_col admin_db_invoice_cols[] = {
	ROWS_TEXT_COL(struct admin_db_invoice, id, 0),
	ROWS_TEXT_COL(struct admin_db_invoice, number, ADMIN_DB_NULL_NUMBER),
	ROWS_TEXT_COL(struct admin_db_invoice, status, 0),
	ROWS_TEXT_COL(struct admin_db_invoice, billing_reason,
	    ADMIN_DB_NULL_REASON),
	ROWS_TEXT_COL(struct admin_db_invoice, currency, 0),
	ROWS_INT_COL(struct admin_db_invoice, amount_due, 0),
	ROWS_INT_COL(struct admin_db_invoice, amount_paid, 0),
	ROWS_INT_COL(struct admin_db_invoice, period_start,
	    ADMIN_DB_NULL_INV_START),
	ROWS_INT_COL(struct admin_db_invoice, period_end, ADMIN_DB_NULL_INV_END),
	ROWS_INT_COL(struct admin_db_invoice, attempt_count, 0),
	ROWS_INT_COL(struct admin_db_invoice, next_payment_attempt,
	    ADMIN_DB_NULL_NEXT_ATTEMPT),
	ROWS_TEXT_COL(struct admin_db_invoice, hosted_invoice_url,
	    ADMIN_DB_NULL_HOSTED),
	ROWS_INT_COL(struct admin_db_invoice, created, 0),
	ROWS_TEXT_COL(struct admin_db_invoice, subscription_id,
	    ADMIN_DB_NULL_INV_SUB),
};

/* The columns of STMT_ADMIN_USER_PHONES, in its order. */
static const struct rows_col admin_db_phone_cols[] = {
	ROWS_TEXT_COL(struct admin_db_phone, phone_number, 0),
	ROWS_TEXT_COL(struct admin_db_phone, phone_sid, 0),
	ROWS_INT_COL(struct admin_db_phone, held_from, 0),
	ROWS_INT_COL(struct admin_db_phone, held_to, ADMIN_DB_NULL_HELD_TO),
};

/* The columns of STMT_DISPUTES_OPEN, in its order. */
static const struct rows_col admin_db_dispute_cols[] = {
	ROWS_TEXT_COL(struct admin_db_dispute, id, 0),
	ROWS_TEXT_COL(struct admin_db_dispute, status, 0),
	ROWS_TEXT_COL(struct admin_db_dispute, reason,
	    ADMIN_DB_NULL_DISPUTE_REASON),
	ROWS_INT_COL(struct admin_db_dispute, amount, 0),
	ROWS_TEXT_COL(struct admin_db_dispute, currency, 0),
	ROWS_INT_COL(struct admin_db_dispute, created, 0),
};

/* The columns of STMT_ADMIN_EVENTS_RECENT and _BY_STATUS, in their order. */
static const struct rows_col admin_db_event_cols[] = {
	ROWS_TEXT_COL(struct admin_db_event, id, 0),
	ROWS_TEXT_COL(struct admin_db_event, type, 0),
	ROWS_TEXT_COL(struct admin_db_event, status, 0),
	ROWS_INT_COL(struct admin_db_event, created, 0),
	ROWS_TEXT_COL(struct admin_db_event, object_id, ADMIN_DB_NULL_OBJECT),
	ROWS_TEXT_COL(struct admin_db_event, user_id, ADMIN_DB_NULL_USER),
	ROWS_INT_COL(struct admin_db_event, attempts, 0),
	ROWS_TEXT_COL(struct admin_db_event, last_error, ADMIN_DB_NULL_ERROR),
	ROWS_INT_COL(struct admin_db_event, received_at, 0),
	ROWS_INT_COL(struct admin_db_event, processed_at,
	    ADMIN_DB_NULL_PROCESSED),
};

/*
 * The columns of STMT_ADMIN_PHONES_HELD, in its order; STMT_ADMIN_PHONES_
 * PAGE has the first three.
 */
static const struct rows_col admin_db_held_cols[] = {
	ROWS_TEXT_COL(struct admin_db_held, user_id, 0),
	ROWS_TEXT_COL(struct admin_db_held, phone_number,
	    ADMIN_DB_NULL_PHONE_NUMBER),
	ROWS_TEXT_COL(struct admin_db_held, phone_sid, 0),
	ROWS_TEXT_COL(struct admin_db_held, phone_status, 0),
};

/*
 * Runs s with a and reads its rows as spec (ncols columns) into *out of
 * *n structs of elemsz bytes, with their nulls at nulls_off.
 */
static enum xerr
admin_db_list(struct db *db, enum stmt s, const struct dbv *a, size_t na,
    const struct rows_col *spec, size_t ncols, size_t elemsz,
    size_t nulls_off, void **out, size_t *n)
{
	struct db_res	*res = NULL;
	enum xerr	 rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_query(db, s, a, na, &res)) != XERR_OK)
		return rc;
	rc = rows_read(res, spec, ncols, elemsz, nulls_off, out, n);
	db_res_free(res);
	return rc;
}

enum xerr
admin_db_user_subs(struct db *db, const char *user_id,
    struct admin_db_sub **rows, size_t *n)
{
	struct dbv	 a[1];
	void		*v = NULL;
	enum xerr	 rc;

	a[0] = DB_STR(user_id);
	rc = admin_db_list(db, STMT_ADMIN_USER_SUBS, a, 1, admin_db_sub_cols,
	    ADMIN_DB_NCOLS(admin_db_sub_cols), sizeof(**rows),
	    offsetof(struct admin_db_sub, nulls), &v, n);
	*rows = v;
	return rc;
}

enum xerr
admin_db_sub(struct db *db, const char *id, struct admin_db_oursub *row)
{
	struct admin_db_oursub *r = NULL;
	struct dbv	 a[1];
	void		*v = NULL;
	size_t		 n;
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_STR(id);
	if ((rc = admin_db_list(db, STMT_ADMIN_SUB_GET, a, 1,
	    admin_db_oursub_cols, ADMIN_DB_NCOLS(admin_db_oursub_cols),
	    sizeof(*r), offsetof(struct admin_db_oursub, nulls), &v, &n)) !=
	    XERR_OK)
		return rc;
	if ((r = v) == NULL)
		return XERR_NOTFOUND;
	*row = r[0];
	free(r);
	return XERR_OK;
}

enum xerr
admin_db_user_invoices(struct db *db, const char *user_id, int64_t limit,
    struct admin_db_invoice **rows, size_t *n)
{
	struct dbv	 a[5];
	void		*v = NULL;
	enum xerr	 rc;

	/* The first page: created and id below any. */
	a[0] = DB_STR(user_id);
	a[1] = DB_INT(INT64_MAX);
	a[2] = DB_INT(INT64_MAX);
	a[3] = DB_STR("");
	a[4] = DB_INT(limit);
	rc = admin_db_list(db, STMT_BILLING_INVOICES, a, 5,
	    admin_db_invoice_cols, ADMIN_DB_NCOLS(admin_db_invoice_cols),
	    sizeof(**rows), offsetof(struct admin_db_invoice, nulls), &v, n);
	*rows = v;
	return rc;
}

enum xerr
admin_db_user_phones(struct db *db, const char *user_id,
    struct admin_db_phone **rows, size_t *n)
{
	struct dbv	 a[1];
	void		*v = NULL;
	enum xerr	 rc;

	a[0] = DB_STR(user_id);
	rc = admin_db_list(db, STMT_ADMIN_USER_PHONES, a, 1,
	    admin_db_phone_cols, ADMIN_DB_NCOLS(admin_db_phone_cols),
	    sizeof(**rows), offsetof(struct admin_db_phone, nulls), &v, n);
	*rows = v;
	return rc;
}

enum xerr
admin_db_user_disputes(struct db *db, const char *user_id,
    struct admin_db_dispute **rows, size_t *n)
{
	struct dbv	 a[1];
	void		*v = NULL;
	enum xerr	 rc;

	a[0] = DB_STR(user_id);
	rc = admin_db_list(db, STMT_DISPUTES_OPEN, a, 1,
	    admin_db_dispute_cols, ADMIN_DB_NCOLS(admin_db_dispute_cols),
	    sizeof(**rows), offsetof(struct admin_db_dispute, nulls), &v, n);
	*rows = v;
	return rc;
}

enum xerr
admin_db_events(struct db *db, const char *status, int64_t limit,
    struct admin_db_event **rows, size_t *n)
{
	struct dbv	 a[2];
	void		*v = NULL;
	enum xerr	 rc;

	if (status != NULL) {
		a[0] = DB_STR(status);
		a[1] = DB_INT(limit);
	} else
		a[0] = DB_INT(limit);
	rc = admin_db_list(db, status != NULL ? STMT_ADMIN_EVENTS_BY_STATUS :
	    STMT_ADMIN_EVENTS_RECENT, a, status != NULL ? 2 : 1,
	    admin_db_event_cols, ADMIN_DB_NCOLS(admin_db_event_cols),
	    sizeof(**rows), offsetof(struct admin_db_event, nulls), &v, n);
	*rows = v;
	return rc;
}

enum xerr
admin_db_phones_held(struct db *db, struct admin_db_held **rows, size_t *n)
{
	void		*v = NULL;
	enum xerr	 rc;

	rc = admin_db_list(db, STMT_ADMIN_PHONES_HELD, NULL, 0,
	    admin_db_held_cols, ADMIN_DB_NCOLS(admin_db_held_cols),
	    sizeof(**rows), offsetof(struct admin_db_held, nulls), &v, n);
	*rows = v;
	return rc;
}

enum xerr
admin_db_phones_page(struct db *db, const char *after, int64_t limit,
    struct admin_db_held **rows, size_t *n)
{
	struct dbv	 a[2];
	void		*v = NULL;
	enum xerr	 rc;

	a[0] = DB_STR(after);
	a[1] = DB_INT(limit);
	rc = admin_db_list(db, STMT_ADMIN_PHONES_PAGE, a, 2,
	    admin_db_held_cols, 3, sizeof(**rows),
	    offsetof(struct admin_db_held, nulls), &v, n);
	*rows = v;
	return rc;
}

enum xerr
admin_db_user_insert(struct db *db, const char *id, const char *email,
    const char *tier, uint64_t *affected)
{
	struct dbv	 a[3];

	a[0] = DB_STR(id);
	a[1] = DB_STR(email);
	a[2] = DB_STR(tier);
	return db_exec(db, STMT_USER_INSERT, a, 3, affected, NULL);
}

enum xerr
admin_db_user_revoke(struct db *db, const char *id, uint64_t *affected)
{
	struct dbv	 a[1];

	a[0] = DB_STR(id);
	return db_exec(db, STMT_ADMIN_USER_REVOKE, a, 1, affected, NULL);
}
