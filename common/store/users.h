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

#endif
