/*
 * billing_periods: the periods of each subscription that Stripe announced
 * (sql/009_billing.sql), recorded by the webhook and read by the rating
 * engine (docs/BILLING.md).  Only billing_periods.c knows the statements
 * (store/stmt.c) and their columns; readers get [start, end) pairs, copied
 * out.  Strings are borrowed for the call.
 */
#ifndef BILLING_PERIODS_H
#define BILLING_PERIODS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Records the period [start, end) of subscription sub of user_id; a
 * period already recorded (same start) keeps its end, unless restate is
 * set (the event is the newest of the subscription: its end wins).
 * Errors of db_exec().
 */
enum xerr	 billing_periods_insert(struct db *db, const char *sub,
		    int64_t start, int64_t end, const char *user_id,
		    int restate);

/*
 * Reads the known periods of subscription overlapping [from, to), in
 * order, as [start, end) pairs into *periods (the caller's, to free();
 * NULL when none) and their number into *n.  XERR_NOMEM; errors of
 * db_query().
 */
enum xerr	 billing_periods_overlapping(struct db *db,
		    const char *subscription, int64_t from, int64_t to,
		    int64_t (**periods)[2], size_t *n);

/*
 * Sets [*start, *end) to the stored period of any subscription of user_id
 * that holds at, the latest begun at or before it, and *found; *found 0
 * when none does.  Errors of db_query().
 */
enum xerr	 billing_periods_of_user_at(struct db *db,
		    const char *user_id, int64_t at, int64_t *start,
		    int64_t *end, int *found);

#endif
