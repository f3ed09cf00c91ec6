/*
 * bill_usage: typed access to which bill covers each usage row
 * (sql/009_billing.sql), read with the rows of usage_events it joins.
 * Only bill_usage.c knows the columns of its statements (store/stmt.c:
 * RATING_USAGE, RATING_USAGE_LOCK, BILL_COVER_*, RECONCILE_UNBILLED);
 * callers see struct bill_usage_row, copied out.
 */
#ifndef BILL_USAGE_H
#define BILL_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* One usage row and its coverage. */
struct bill_usage_row {
	int64_t		 id;
	int		 voice;			/* 1 voice, 0 sms */
	int64_t		 quantity;
	int64_t		 occurred_at;
	int64_t		 covered_for;		/* period start, -1: uncovered */
};

/*
 * Reads user_id's usage rows of [from, to) in id order, each with the
 * period start of the bill that covers it, into *rows (the caller's, to
 * free(); NULL when none) and their number into *n.  lock: a locking read
 * (FOR UPDATE), which keeps the range as read until the bill that covers
 * it commits.  XERR_NOMEM; errors of db_query().
 */
enum xerr	 bill_usage_rows(struct db *db, const char *user_id,
		    int64_t from, int64_t to, int lock,
		    struct bill_usage_row **rows, size_t *n);

/*
 * Covers the n usage rows ids (distinct; n may be 0) by bill_id for the
 * period starting at period_start, up to 16 a statement.  Only inside a
 * transaction (the caller rolls back on an error).  XERR_CONFLICT when a
 * row is covered already (by another bill); errors of db_exec_rows().
 */
enum xerr	 bill_usage_cover(struct db *db, int64_t bill_id,
		    int64_t period_start, const int64_t *ids, size_t n);

/* Sets *n to the number of user_id's uncovered rows of [from, to). */
enum xerr	 bill_usage_uncovered(struct db *db, const char *user_id,
		    int64_t from, int64_t to, int64_t *n);

#endif
