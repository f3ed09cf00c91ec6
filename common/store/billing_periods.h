/*
 * billing_periods: the periods of each subscription (sql/009_billing.sql),
 * recorded by the webhook for the rating engine (docs/BILLING.md).  Only
 * billing_periods.c knows its statement (store/stmt.c).  Strings are
 * borrowed for the call.
 */
#ifndef BILLING_PERIODS_H
#define BILLING_PERIODS_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Records the period [start, end) of subscription sub of user_id; a
 * period already recorded (same start) is kept as it is.  Errors of
 * db_exec().
 */
enum xerr	 billing_periods_insert(struct db *db, const char *sub,
		    int64_t start, int64_t end, const char *user_id);

#endif
