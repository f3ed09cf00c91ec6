/*
 * billing_history: typed access to GET /api/billing/history's one read
 * (STMT_BILLING_HISTORY): a page of the user's invoices and one of their
 * billing events (sql/002_webhook.sql), newest first.  Only
 * billing_history.c knows the statement's columns; callers see the
 * structs below, every text copied out, nothing borrowed.  The pages are
 * the caller's (billing_history_free()); where a page ends and the
 * cursor of the next are the caller's too (app/billing.c).  A billing
 * event is written by billing_events_insert() (store/billing_events.h).
 */
#ifndef BILLING_HISTORY_H
#define BILLING_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Bits of billing_history_invoice.nulls: the nullable columns. */
#define BILLING_HISTORY_NULL_NUMBER		0x01u
#define BILLING_HISTORY_NULL_REASON		0x02u	/* billing_reason */
#define BILLING_HISTORY_NULL_PERIOD_START	0x04u
#define BILLING_HISTORY_NULL_PERIOD_END		0x08u
#define BILLING_HISTORY_NULL_NEXT_ATTEMPT	0x10u	/* next_payment_attempt */
#define BILLING_HISTORY_NULL_URL		0x20u	/* hosted_invoice_url */
#define BILLING_HISTORY_NULL_SUBSCRIPTION	0x40u
/* Bits of billing_history_event.nulls. */
#define BILLING_HISTORY_NULL_AMOUNT		0x01u	/* amount_cents */
#define BILLING_HISTORY_NULL_DETAIL		0x02u

/* One invoices row; texts "" when NULL (their bit in nulls). */
struct billing_history_invoice {
	char		 id[256];
	char		 number[257];		/* VARCHAR(64) of utf8mb4 */
	char		 status[33];
	char		 billing_reason[65];
	char		 currency[9];
	int64_t		 amount_due;
	int64_t		 amount_paid;
	int64_t		 period_start;
	int64_t		 period_end;
	int64_t		 attempt_count;
	int64_t		 next_payment_attempt;
	char		 hosted_invoice_url[4097];	/* VARCHAR(1024) */
	int64_t		 created;
	char		 subscription_id[256];
	unsigned int	 nulls;			/* BILLING_HISTORY_NULL_* */
};

/* One billing_events row. */
struct billing_history_event {
	int64_t		 id;
	char		 event_id[256];		/* Stripe's */
	char		 kind[65];
	int64_t		 amount_cents;
	char		 detail[4097];		/* VARCHAR(1024) */
	int64_t		 created;		/* unix seconds */
	unsigned int	 nulls;			/* BILLING_HISTORY_NULL_* */
};

/* Both pages of one read. */
struct billing_history {
	struct billing_history_invoice	*invoices;
	size_t				 ninvoices;
	struct billing_history_event	*events;
	size_t				 nevents;
};

/*
 * Reads into *out (the caller's, to billing_history_free()) up to rows
 * of user_id's invoices below (invoice_created, invoice_id) in (created,
 * id) order, none when invoice_created is 0, and up to rows of their
 * billing events below event_before in id order, none when it is 0; each
 * list newest first.  One round trip.  XERR_NOMEM; XERR_DB when a text is
 * longer than its field (never, with the schema's widths); errors of
 * db_query().
 */
enum xerr	 billing_history_read(struct db *db, const char *user_id,
		    int64_t invoice_created, const char *invoice_id,
		    int64_t event_before, int rows,
		    struct billing_history *out);

/* Frees the pages of *h (which may be zeroed) and zeroes it. */
void		 billing_history_free(struct billing_history *h);

#endif
