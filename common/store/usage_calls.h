/*
 * usage_calls: the group commit's typed access to usage_events
 * (sql/003_usage.sql, 011_audit.sql): which idempotency keys are recorded,
 * and several usage rows in one statement, up to 16, for the batches of
 * call statuses of domain/phone.c.  (domain/usage.c writes a row alone;
 * these are the batch's, kept apart so that each file has one owner.)
 * Only usage_calls.c knows the statements (store/stmt.c), their argument
 * order and columns; callers pass values, nothing is kept.
 */
#ifndef USAGE_CALLS_H
#define USAGE_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* One usage row to write (texts borrowed from the caller). */
struct usage_calls_row {
	const char	*user_id;
	const char	*kind;			/* voice or sms */
	int64_t		 quantity;
	int64_t		 occurred_at;
	const char	*source;
	const char	*idem_key;
	const char	*reported_by;
};

/*
 * Sets found[i] to 1 when keys[i] is recorded, else 0, for i < n: 8 keys
 * a statement, a plain read.  Errors of db_query().
 */
enum xerr	 usage_calls_recorded(struct db *db, const char *const *keys,
		    size_t n, unsigned char *found);

/*
 * Writes the n rows (n >= 1, distinct keys), up to 16 a statement; a key
 * recorded already is left as it is, and *inserted counts the rows
 * actually written, so n - *inserted keys were recorded meanwhile.  Only
 * inside a transaction (the caller rolls back on an error).  XERR_BADREQ
 * for a bad kind, quantity or time (nothing written); errors of
 * db_exec().
 */
enum xerr	 usage_calls_insert(struct db *db,
		    const struct usage_calls_row *rows, size_t n,
		    uint64_t *inserted);

#endif
