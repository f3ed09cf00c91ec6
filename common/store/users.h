/*
 * users: typed access to the users row (sql/001_init.sql), the first of
 * the store's accessors per table.  Only users.c knows the columns of the
 * statements it runs (store/stmt.c); callers see struct users_row.
 *
 * A row is the caller's: every text is copied into the fixed arrays
 * below (each sized by its column's width in the schema), so nothing is
 * borrowed from the database and a row may outlive the query, the
 * transaction and the handle.  It is about 8 KB: one on the stack of a
 * handler is fine, an array of them is not.  A column that is SQL NULL has its bit in
 * nulls (USERS_NULL_*) and reads as "" or 0.
 */
#ifndef USERS_H
#define USERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Bits of users_row.nulls: the nullable columns. */
#define USERS_NULL_CUSTOMER		0x01u	/* stripe_customer_id */
#define USERS_NULL_SUBSCRIPTION		0x02u	/* subscription_id */
#define USERS_NULL_CYCLE_START		0x04u	/* billing_cycle_start */
#define USERS_NULL_CYCLE_END		0x08u	/* billing_cycle_end */
#define USERS_NULL_TRIAL_END		0x10u	/* trial_end */
#define USERS_NULL_PHONE_NUMBER		0x20u	/* phone_number */
#define USERS_NULL_PHONE_SID		0x40u	/* phone_sid */
#define USERS_NULL_PROVISIONED_AT	0x80u	/* phone_provisioned_at */
#define USERS_NULL_PHONE_ERROR		0x100u	/* phone_error */
#define USERS_NULL_GRACE_UNTIL		0x200u	/* phone_grace_until */
#define USERS_NULL_PHONE_SEARCH		0x400u	/* phone_search */

/* One users row; texts are NUL-terminated, "" when NULL. */
struct users_row {
	char		 id[65];
	char		 email[1281];		/* VARCHAR(320), utf8mb4 */
	char		 stripe_customer_id[256];
	char		 tier[33];
	int64_t		 jwt_version;
	char		 subscription_id[256];
	int64_t		 billing_cycle_start;
	int64_t		 billing_cycle_end;
	int64_t		 trial_end;
	int		 past_due;		/* 0 or 1 */
	char		 phone_number[33];
	char		 phone_sid[65];
	char		 phone_status[17];
	int64_t		 phone_provisioned_at;
	char		 phone_error[2049];	/* VARCHAR(512), utf8mb4 */
	int64_t		 phone_grace_until;
	char		 phone_search[4097];	/* VARCHAR(1024), utf8mb4 */
	unsigned int	 nulls;			/* USERS_NULL_* */
};

/*
 * Reads the user id into *row (the caller's; cleared first).
 * XERR_NOTFOUND when there is no such user; XERR_DB when a stored text
 * is longer than its field (never, with the schema's widths); errors of
 * db_query().
 */
enum xerr	 users_by_id(struct db *db, const char *id,
		    struct users_row *row);

/*
 * Reads only the user's jwt_version into *version (0 when none): the
 * check of every token, so one column.  XERR_NOTFOUND when there is no
 * such user; errors of db_query().
 */
enum xerr	 users_jwt_version(struct db *db, const char *id,
		    int64_t *version);

/*
 * The webhook's accessors (domain/events.c, customers.c, subscriptions.c,
 * invoices.c): the user row locked FOR UPDATE (every event of one
 * customer serializes on it), and the writes an event makes to it.
 */

/* Most customers users_lock_by_customers() takes in one statement. */
#define USERS_LOCK_IDS		16

/*
 * The columns of a locked user (the caller's, copied out; texts are
 * NUL-terminated, "" when NULL, with their USERS_NULL_* bit in nulls:
 * USERS_NULL_CUSTOMER, USERS_NULL_SUBSCRIPTION, USERS_NULL_PHONE_NUMBER).
 */
struct users_lock_row {
	char		 id[65];
	char		 tier[33];
	char		 subscription_id[256];
	char		 phone_number[33];
	char		 stripe_customer_id[256];
	char		 phone_status[17];
	unsigned int	 nulls;			/* USERS_NULL_* */
};

/*
 * Reads and locks (FOR UPDATE) the user id into *row (cleared first).
 * XERR_NOTFOUND when there is no such user; XERR_DB when a text is
 * longer than its field; errors of db_query().
 */
enum xerr	 users_lock(struct db *db, const char *id,
		    struct users_lock_row *row);

/*
 * Writes user id's row (its updated_at), in the caller's transaction:
 * a decision made under users_lock() then conflicts at COMMIT with one
 * made on another Galera node (docs/SCALING.md).  Errors of db_exec().
 */
enum xerr	 users_touch(struct db *db, const char *id);

/*
 * Reads and locks the user of Stripe customer into *row (cleared first).
 * XERR_NOTFOUND when no user has it; other errors as users_lock().
 */
enum xerr	 users_lock_by_customer(struct db *db, const char *customer,
		    struct users_lock_row *row);

/*
 * Reads and locks, in one statement, the users of up to USERS_LOCK_IDS
 * customers (n of them; the rest of the statement's list is NULL), into
 * rows (the caller's, cap of them), in the order the server returns
 * them; *nrows is how many.  A customer no user has is simply absent.
 * XERR_INTERNAL when n is over USERS_LOCK_IDS; XERR_DB when more than
 * cap users come back (never with cap >= n: the column is unique) or a
 * text is too long; errors of db_query().
 */
enum xerr	 users_lock_by_customers(struct db *db,
		    const char *const *customers, size_t n,
		    struct users_lock_row *rows, size_t cap, size_t *nrows);

/*
 * Links Stripe customer to user id when the user has none yet; *affected
 * (may be NULL) is 1 when it was linked, 0 when not.  Errors of db_exec().
 */
enum xerr	 users_set_customer(struct db *db, const char *id,
		    const char *customer, uint64_t *affected);

/*
 * Unlinks customer from user id (when it is still theirs).  Errors of
 * db_exec().
 */
enum xerr	 users_clear_customer(struct db *db, const char *id,
		    const char *customer);

/*
 * What users_set_subscription() writes: the user's tier and subscription,
 * its period and trial end (each NULL when its USERS_NULL_CYCLE_START,
 * USERS_NULL_CYCLE_END or USERS_NULL_TRIAL_END bit is in nulls), and
 * past_due (0 or 1).  Strings are borrowed for the call.
 */
struct users_subscription {
	const char	*tier;
	const char	*subscription_id;
	int64_t		 billing_cycle_start;
	int64_t		 billing_cycle_end;
	int64_t		 trial_end;
	int		 past_due;
	unsigned int	 nulls;			/* USERS_NULL_* */
};

/* Writes s to user id.  Errors of db_exec(). */
enum xerr	 users_set_subscription(struct db *db, const char *id,
		    const struct users_subscription *s);

/* Sets user id's trial_end.  Errors of db_exec(). */
enum xerr	 users_set_trial_end(struct db *db, const char *id,
		    int64_t trial_end);

/*
 * Sets user id's billing cycle [start, end), unless the one stored ends
 * later (a paid invoice of an earlier period, delivered late, does not
 * move it back).  Errors of db_exec().
 */
enum xerr	 users_set_cycle(struct db *db, const char *id, int64_t start,
		    int64_t end);

#endif
