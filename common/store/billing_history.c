#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/billing_history.h"

/*
 * The columns of STMT_BILLING_HISTORY: an invoice's, or, in the first
 * six, a billing event's; then which list the row is of.
 */
enum billing_history_col {
	BH_C_ID,
	BH_C_NUMBER,
	BH_C_STATUS,
	BH_C_REASON,
	BH_C_CURRENCY,
	BH_C_AMOUNT_DUE,
	BH_C_AMOUNT_PAID,
	BH_C_PERIOD_START,
	BH_C_PERIOD_END,
	BH_C_ATTEMPTS,
	BH_C_NEXT_ATTEMPT,
	BH_C_URL,
	BH_C_CREATED,
	BH_C_SUBSCRIPTION,
	BH_C_PART,		/* 'i' or 'e' */
	BH_C__MAX = BH_C_PART + 3,
	/* A billing event's columns. */
	BH_E_ID = 0,
	BH_E_EVENT_ID,
	BH_E_KIND,
	BH_E_AMOUNT,
	BH_E_DETAIL,
	BH_E_CREATED
};

/* Returns column c of row i as an integer, setting bit when NULL. */
static int64_t
billing_history_int(const struct db_res *res, size_t i, size_t c,
    unsigned int bit, unsigned int *nulls)
{
	if (db_res_isnull(res, i, c))
		*nulls |= bit;
	return db_res_int(res, i, c, 0);
}

/* Fills *v from row i of res, an invoice. */
static enum xerr
billing_history_invoice(const struct db_res *res, size_t i,
    struct billing_history_invoice *v)
{
	unsigned int	*n = &v->nulls;
	enum xerr	 rc;

	if ((rc = cell_text(res, i, BH_C_ID, v->id, sizeof(v->id),
	    0, n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_C_NUMBER, v->number,
	    sizeof(v->number), BILLING_HISTORY_NULL_NUMBER, n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_C_STATUS, v->status,
	    sizeof(v->status), 0, n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_C_REASON, v->billing_reason,
	    sizeof(v->billing_reason), BILLING_HISTORY_NULL_REASON,
	    n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_C_CURRENCY, v->currency,
	    sizeof(v->currency), 0, n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_C_URL,
	    v->hosted_invoice_url, sizeof(v->hosted_invoice_url),
	    BILLING_HISTORY_NULL_URL, n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_C_SUBSCRIPTION,
	    v->subscription_id, sizeof(v->subscription_id),
	    BILLING_HISTORY_NULL_SUBSCRIPTION, n)) != XERR_OK)
		return rc;
	v->amount_due = billing_history_int(res, i, BH_C_AMOUNT_DUE, 0, n);
	v->amount_paid = billing_history_int(res, i, BH_C_AMOUNT_PAID, 0, n);
	v->period_start = billing_history_int(res, i, BH_C_PERIOD_START,
	    BILLING_HISTORY_NULL_PERIOD_START, n);
	v->period_end = billing_history_int(res, i, BH_C_PERIOD_END,
	    BILLING_HISTORY_NULL_PERIOD_END, n);
	v->attempt_count = billing_history_int(res, i, BH_C_ATTEMPTS, 0, n);
	v->next_payment_attempt = billing_history_int(res, i,
	    BH_C_NEXT_ATTEMPT, BILLING_HISTORY_NULL_NEXT_ATTEMPT, n);
	v->created = billing_history_int(res, i, BH_C_CREATED, 0, n);
	return XERR_OK;
}

/* Fills *e from row i of res, a billing event. */
static enum xerr
billing_history_event(const struct db_res *res, size_t i,
    struct billing_history_event *e)
{
	unsigned int	*n = &e->nulls;
	enum xerr	 rc;

	if ((rc = cell_text(res, i, BH_E_EVENT_ID, e->event_id,
	    sizeof(e->event_id), 0, n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_E_KIND, e->kind,
	    sizeof(e->kind), 0, n)) != XERR_OK ||
	    (rc = cell_text(res, i, BH_E_DETAIL, e->detail,
	    sizeof(e->detail), BILLING_HISTORY_NULL_DETAIL, n)) != XERR_OK)
		return rc;
	e->id = billing_history_int(res, i, BH_E_ID, 0, n);
	e->amount_cents = billing_history_int(res, i, BH_E_AMOUNT,
	    BILLING_HISTORY_NULL_AMOUNT, n);
	e->created = billing_history_int(res, i, BH_E_CREATED, 0, n);
	return XERR_OK;
}

/* Fills *out from res: its invoices' rows first, then its events'. */
static enum xerr
billing_history_fill(const struct db_res *res, struct billing_history *out)
{
	const char	*part;
	size_t		 rows = db_res_rows(res), ninv, i;
	enum xerr	 rc;

	if (rows > 0 && db_res_cols(res) != BH_C__MAX)
		return XERR_INTERNAL;
	for (ninv = 0; ninv < rows; ninv++)
		if ((part = db_res_str(res, ninv, BH_C_PART)) == NULL ||
		    strcmp(part, "i") != 0)
			break;
	if ((ninv > 0 && (out->invoices = calloc(ninv,
	    sizeof(*out->invoices))) == NULL) ||
	    (rows > ninv && (out->events = calloc(rows - ninv,
	    sizeof(*out->events))) == NULL))
		return XERR_NOMEM;
	for (i = 0; i < ninv; i++)
		if ((rc = billing_history_invoice(res, i,
		    &out->invoices[out->ninvoices++])) != XERR_OK)
			return rc;
	for (i = ninv; i < rows; i++)
		if ((rc = billing_history_event(res, i,
		    &out->events[out->nevents++])) != XERR_OK)
			return rc;
	return XERR_OK;
}

enum xerr
billing_history_read(struct db *db, const char *user_id,
    int64_t invoice_created, const char *invoice_id, int64_t event_before,
    int rows, struct billing_history *out)
{
	struct db_res	*res = NULL;
	struct dbv	 a[10];
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	a[0] = DB_INT(invoice_created);
	a[1] = DB_STR(user_id);
	a[2] = DB_INT(invoice_created);
	a[3] = DB_INT(invoice_created);
	a[4] = DB_STR(invoice_id);
	a[5] = DB_INT(rows);
	a[6] = DB_INT(event_before);
	a[7] = DB_STR(user_id);
	a[8] = DB_INT(event_before);
	a[9] = DB_INT(rows);
	if ((rc = db_query(db, STMT_BILLING_HISTORY, a, 10, &res)) != XERR_OK)
		return rc;
	rc = billing_history_fill(res, out);
	db_res_free(res);
	if (rc != XERR_OK)
		billing_history_free(out);
	return rc;
}

void
billing_history_free(struct billing_history *h)
{
	free(h->invoices);
	free(h->events);
	memset(h, 0, sizeof(*h));
}
