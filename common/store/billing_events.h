/*
 * billing_events: a user's billing history (sql/002_webhook.sql), one
 * row per kind and subject.  Only billing_events.c knows its statement
 * (store/stmt.c).  Strings given are borrowed for the call.
 */
#ifndef BILLING_EVENTS_H
#define BILLING_EVENTS_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Writes the row of kind about subject (an event id, or what several
 * events name) for user_id, once: a second is a no-op.  amount may be
 * NULL (no amount); detail (may be NULL) is cut to 1000 characters.
 * Errors of db_exec().
 */
enum xerr	 billing_events_insert(struct db *db, const char *user_id,
		    const char *subject, const char *kind,
		    const int64_t *amount, const char *detail);

#endif
