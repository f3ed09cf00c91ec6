/*
 * invoices_db: typed access to the invoices table (sql/002_webhook.sql) as
 * the webhook's invoice appliers write it (domain/invoices.c).  Only
 * invoices_db.c knows the columns of its statements (store/stmt.c).
 * Named _db beside domain/invoices.  Strings given are borrowed for the
 * call; a row read is the caller's, copied out.
 */
#ifndef INVOICES_DB_H
#define INVOICES_DB_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/* What the lock of an invoice reads. */
struct invoices_db_lock_row {
	char		 status[33];
	int64_t		 attempt_count;
};

/*
 * Reads and locks (FOR UPDATE) invoice id into *row (cleared first).
 * XERR_NOTFOUND when there is none; XERR_DB when the status is longer
 * than its field; errors of db_query().
 */
enum xerr	 invoices_db_lock(struct db *db, const char *id,
		    struct invoices_db_lock_row *row);

/* Bits of invoices_db_values.nulls: the columns written as NULL. */
#define INVOICES_DB_NULL_PERIOD_START	0x01u
#define INVOICES_DB_NULL_PERIOD_END	0x02u
#define INVOICES_DB_NULL_NEXT_ATTEMPT	0x04u

/*
 * An invoice's row to write; subscription_id, number, billing_reason and
 * hosted_invoice_url may be NULL.
 */
struct invoices_db_values {
	const char	*id;
	const char	*user_id;
	const char	*subscription_id;
	const char	*number;
	const char	*status;
	const char	*billing_reason;
	const char	*currency;
	int64_t		 amount_due;
	int64_t		 amount_paid;
	int64_t		 period_start;
	int64_t		 period_end;
	int64_t		 attempt_count;
	int64_t		 next_payment_attempt;
	const char	*hosted_invoice_url;
	int64_t		 created;
	unsigned int	 nulls;			/* INVOICES_DB_NULL_* */
};

/*
 * Inserts v, or updates the invoice there (its status, amounts, attempts;
 * its number and URL unless v has none).  Errors of db_exec().
 */
enum xerr	 invoices_db_upsert(struct db *db,
		    const struct invoices_db_values *v);

/*
 * Sets *posted to 1 when the overage of invoice id was posted before the
 * rating engine (a job keyed invoice_items:<id> exists in the jobs
 * table), else 0.  Errors of db_query().
 */
enum xerr	 invoices_db_items_posted(struct db *db, const char *id,
		    int *posted);

#endif
