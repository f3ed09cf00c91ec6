/*
 * bills: typed access to the bills table (sql/009_billing.sql), the
 * rated bills of the rating engine (domain/rating.c) that domain/bill.c
 * posts to Stripe and reconciles.  Only bills.c knows the columns of its
 * statements (store/stmt.c: BILL_GET, BILL_INSERT, BILL_BY_ID,
 * BILL_SET_ONEOFF, BILL_POSTED, BILLS_OF_USER, RECONCILE_DUE,
 * RECONCILE_SET, RECONCILE_ERROR); callers see the structs below, every text copied out,
 * nothing borrowed.  What a bill holds and when it is posted are the
 * domain's.
 */
#ifndef BILLS_H
#define BILLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Bits of bills_row.nulls. */
#define BILLS_NULL_INVOICE	0x01u	/* invoice_id */
#define BILLS_NULL_ONEOFF	0x02u	/* oneoff_invoice_id */

/* One bills row; texts "" when NULL (their bit in nulls). */
struct bills_row {
	int64_t		 id;
	char		 user_id[65];
	char		 subscription_id[256];
	char		 customer_id[256];
	char		 kind[9];		/* "cycle" or "final" */
	int64_t		 period_start;
	int64_t		 period_end;
	int64_t		 usage_end;
	char		 invoice_id[256];	/* the renewal's draft, or "" */
	char		 oneoff_invoice_id[256];
	char		 state[9];		/* "rated" or "posted" */
	unsigned int	 nulls;			/* BILLS_NULL_* */
	char		*computation;		/* bills_of_user() only: the
						   caller's (bills_list_free()) */
};

/* A new bill (bills_insert()). */
struct bills_new {
	const char	*user_id;
	const char	*subscription_id;
	const char	*customer_id;
	const char	*kind;
	int64_t		 period_start;
	int64_t		 period_end;
	int64_t		 usage_end;
	const char	*invoice_id;		/* NULL: none */
	const char	*computation;		/* JSON text */
};

/* Sets *id to the bill of (subscription, period_start), 0 when none. */
enum xerr	 bills_id_of(struct db *db, const char *subscription,
		    int64_t period_start, int64_t *id);

/* Inserts b; *id is its id.  Errors of db_exec() (XERR_DUP: there is one). */
enum xerr	 bills_insert(struct db *db, const struct bills_new *b,
		    int64_t *id);

/*
 * Reads bill id into *row (cleared first; computation NULL).
 * XERR_NOTFOUND when there is none; errors of db_query().  A text longer
 * than its field is cut (never, with the schema's widths).
 */
enum xerr	 bills_by_id(struct db *db, int64_t id, struct bills_row *row);

/* Records the bill's one-off invoice, unless one is recorded already. */
enum xerr	 bills_set_oneoff(struct db *db, int64_t id,
		    const char *invoice);

/* Marks bill id posted (now). */
enum xerr	 bills_set_posted(struct db *db, int64_t id);

/*
 * Reads user_id's bills (of period_start only, unless it is 0), newest
 * first, 100 at most, into *rows (the caller's, to bills_list_free();
 * NULL when none) and their number into *n, with their computations.
 * XERR_NOMEM; errors of db_query().
 */
enum xerr	 bills_of_user(struct db *db, const char *user_id,
		    int64_t period_start, struct bills_row **rows, size_t *n);

/* Frees n rows of bills_of_user(). */
void		 bills_list_free(struct bills_row *rows, size_t n);

/*
 * Reads into ids (max of them) the bills posted in the last 60 days and
 * not reconciled since before (500 at most): never reconciled first, then
 * the longest since; *n is their number.  Errors of db_query().
 */
enum xerr	 bills_reconcile_due(struct db *db, int64_t before,
		    int64_t *ids, size_t max, size_t *n);

/* Records the reconcile of bill id at now: state, detail, unbilled rows. */
enum xerr	 bills_set_reconciled(struct db *db, int64_t id, int64_t now,
		    const char *state, const char *detail, int64_t unbilled);

/*
 * Records that the reconcile at now could not check bill id: state
 * "error", why as the detail; its unbilled rows stay as last counted.
 */
enum xerr	 bills_set_reconcile_error(struct db *db, int64_t id,
		    int64_t now, const char *why);

#endif
