/*
 * billing_periods: typed access to the periods of a subscription that
 * Stripe announced (sql/009_billing.sql), as the rating engine reads them
 * (STMT_RATING_PERIODS).  Only billing_periods.c knows the columns; the
 * caller gets [start, end) pairs, copied out.  The writes stay with the
 * webhook's appliers.
 */
#ifndef BILLING_PERIODS_H
#define BILLING_PERIODS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Reads the known periods of subscription overlapping [from, to), in
 * order, as [start, end) pairs into *periods (the caller's, to free();
 * NULL when none) and their number into *n.  XERR_NOMEM; errors of
 * db_query().
 */
enum xerr	 billing_periods_overlapping(struct db *db,
		    const char *subscription, int64_t from, int64_t to,
		    int64_t (**periods)[2], size_t *n);

#endif
