/*
 * usage_calls: the group commit's typed access to usage_events
 * (sql/003_usage.sql, 011_audit.sql): which idempotency keys are recorded
 * (with which users exist, in the same read: the batch's one read before
 * it writes), and several usage rows in one statement, up to 16, for the
 * batches of call statuses and texts of domain/phone.c.  (domain/usage.c
 * writes a row alone; these are the batch's, kept apart so that each file
 * has one owner.)
 * Only usage_calls.c knows the statements (store/stmt.c), their argument
 * order and columns; callers pass values, nothing is kept.
 */
#ifndef USAGE_CALLS_H
#define USAGE_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Who recorded a usage key, as usage_calls_read() says. */
#define USAGE_CALLS_TWILIO	1
#define USAGE_CALLS_OTHER	2

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
 * For i < n: known[i] is 1 when the user ids[i] exists, recorded[i] is
 * USAGE_CALLS_TWILIO when Twilio recorded the usage key keys[i],
 * USAGE_CALLS_OTHER when another source did (the app, under Twilio's key
 * of a text), else 0 (keys[i] may be NULL: no usage; 0 then).  Both in
 * one plain read of 32 ids and 32 keys (a batch of up to 32 is one round
 * trip).  Errors of db_query().
 */
enum xerr	 usage_calls_read(struct db *db, const char *const *ids,
		    const char *const *keys, size_t n, unsigned char *known,
		    unsigned char *recorded);

/*
 * Gives Twilio's count, quantity, and user, user_id, to the row under key
 * when another source recorded it (source not twilio): the row is
 * locked, then takes them with source and reported_by "twilio" unless a
 * bill covers it.  *was is the row's quantity before (-1: no such row,
 * nothing done) and was_user (wsz bytes) its user before; *taken is 1
 * when it was changed, 0 when a bill covers it (left as billed).  Only
 * inside a transaction.  Errors of db_query(), db_exec().
 */
enum xerr	 usage_calls_take(struct db *db, const char *key,
		    const char *user_id, char *was_user, size_t wsz,
		    int64_t quantity, int64_t *was, int *taken);

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
