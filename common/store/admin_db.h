/*
 * admin_db: typed access to what the admin API (app/admin.c) alone reads
 * and writes of tables with no accessor of their own for it: a user's
 * subscriptions, invoices, phone numbers and open disputes, the stored
 * Stripe events, the numbers users hold, and the two writes to users
 * (create, revoke the tokens).  The jobs it lists are store/jobs_db.h's,
 * its audit trail store/admin_audit.h's.  Only admin_db.c knows the
 * columns of these statements (store/stmt.c).
 *
 * A row is the caller's: texts copied into arrays sized by the schema's
 * widths (sql/), nothing borrowed; numbers are int64_t (a flag is 0 or
 * 1); a NULL column reads as "" or 0 and has its bit in nulls
 * (ADMIN_DB_NULL_*, per struct).  A list is a new array the caller frees
 * (NULL when empty).  Every function runs in the caller's transaction when
 * there is one.  Errors: those of db_query() and db_exec(); XERR_DB when a
 * stored text is longer than its field (never, with the schema's widths);
 * XERR_NOMEM.
 */
#ifndef ADMIN_DB_H
#define ADMIN_DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* A subscription of a user (most recent event first). */
#define ADMIN_DB_NULL_ITEM		0x01u
#define ADMIN_DB_NULL_PERIOD_START	0x02u
#define ADMIN_DB_NULL_PERIOD_END	0x04u
#define ADMIN_DB_NULL_TRIAL_END		0x08u
struct admin_db_sub {
	char		 id[256];
	char		 status[33];
	char		 tier[33];
	char		 price_id[256];
	char		 item_id[256];
	int64_t		 current_period_start;
	int64_t		 current_period_end;
	int64_t		 cancel_at_period_end;
	int64_t		 trial_end;
	int64_t		 deleted;
	char		 last_event_id[256];
	int64_t		 last_event_created;
	char		 customer_id[256];
	unsigned int	 nulls;
};

/* The user's subscriptions, up to 20. */
enum xerr	 admin_db_user_subs(struct db *db, const char *user_id,
		    struct admin_db_sub **rows, size_t *n);

/* Our row of a subscription, as a resync shows it. */
struct admin_db_oursub {
	char		 user_id[65];
	char		 status[33];
	char		 tier[33];
	int64_t		 deleted;
	int64_t		 current_period_end;	/* ADMIN_DB_NULL_PERIOD_END */
	int64_t		 cancel_at_period_end;
	char		 last_event_id[256];
	unsigned int	 nulls;
};

/* Reads subscription id into *row.  XERR_NOTFOUND when there is none. */
enum xerr	 admin_db_sub(struct db *db, const char *id,
		    struct admin_db_oursub *row);

/* An invoice of a user (newest first). */
#define ADMIN_DB_NULL_NUMBER		0x01u
#define ADMIN_DB_NULL_REASON		0x02u
#define ADMIN_DB_NULL_INV_START		0x04u
#define ADMIN_DB_NULL_INV_END		0x08u
#define ADMIN_DB_NULL_NEXT_ATTEMPT	0x10u
#define ADMIN_DB_NULL_HOSTED		0x20u
#define ADMIN_DB_NULL_INV_SUB		0x40u
struct admin_db_invoice {
	char		 id[256];
	char		 number[257];		/* VARCHAR(64), utf8mb4 */
	char		 status[33];
	char		 billing_reason[65];
	char		 currency[9];
	int64_t		 amount_due;
	int64_t		 amount_paid;
	int64_t		 period_start;
	int64_t		 period_end;
	int64_t		 attempt_count;
	int64_t		 next_payment_attempt;
	char		 hosted_invoice_url[4097];	/* VARCHAR(1024), utf8mb4 */
	int64_t		 created;
	char		 subscription_id[256];
	unsigned int	 nulls;
};

/* The user's newest limit invoices (STMT_BILLING_INVOICES's first page). */
enum xerr	 admin_db_user_invoices(struct db *db, const char *user_id,
		    int64_t limit, struct admin_db_invoice **rows, size_t *n);

/* A number a user held or holds (phone_numbers), newest first. */
#define ADMIN_DB_NULL_HELD_TO		0x01u
struct admin_db_phone {
	char		 phone_number[33];
	char		 phone_sid[65];
	int64_t		 held_from;
	int64_t		 held_to;
	unsigned int	 nulls;
};

/* The user's numbers, up to 20. */
enum xerr	 admin_db_user_phones(struct db *db, const char *user_id,
		    struct admin_db_phone **rows, size_t *n);

/* An open dispute of a user, oldest first. */
#define ADMIN_DB_NULL_DISPUTE_REASON	0x01u
struct admin_db_dispute {
	char		 id[256];
	char		 status[33];
	char		 reason[65];
	int64_t		 amount;
	char		 currency[9];
	int64_t		 created;
	unsigned int	 nulls;
};

enum xerr	 admin_db_user_disputes(struct db *db, const char *user_id,
		    struct admin_db_dispute **rows, size_t *n);

/* A stored Stripe event, as the list shows it. */
#define ADMIN_DB_NULL_OBJECT		0x01u
#define ADMIN_DB_NULL_USER		0x02u
#define ADMIN_DB_NULL_ERROR		0x04u
#define ADMIN_DB_NULL_PROCESSED		0x08u
struct admin_db_event {
	char		 id[256];
	char		 type[129];
	char		 status[17];
	int64_t		 created;
	char		 object_id[256];
	char		 user_id[65];
	int64_t		 attempts;
	char		 last_error[4097];	/* VARCHAR(1024), utf8mb4 */
	int64_t		 received_at;
	int64_t		 processed_at;
	unsigned int	 nulls;
};

/*
 * The limit events received last, of status (NULL: any), newest first.
 */
enum xerr	 admin_db_events(struct db *db, const char *status,
		    int64_t limit, struct admin_db_event **rows, size_t *n);

/* A number a user holds now (users.phone_sid set). */
#define ADMIN_DB_NULL_PHONE_NUMBER	0x01u
struct admin_db_held {
	char		 user_id[65];
	char		 phone_number[33];
	char		 phone_sid[65];
	char		 phone_status[17];	/* admin_db_phones_page(): "" */
	unsigned int	 nulls;
};

/* Every number held, in SID order (byte order, as ascii_bin). */
enum xerr	 admin_db_phones_held(struct db *db,
		    struct admin_db_held **rows, size_t *n);

/*
 * Up to limit numbers held, of the users after user id after ("" from
 * the start), in user order; phone_status is not read.
 */
enum xerr	 admin_db_phones_page(struct db *db, const char *after,
		    int64_t limit, struct admin_db_held **rows, size_t *n);

/*
 * Inserts user id with email and tier (STMT_USER_INSERT); *affected gets
 * the rows inserted.  XERR_DUP when the user exists.
 */
enum xerr	 admin_db_user_insert(struct db *db, const char *id,
		    const char *email, const char *tier, uint64_t *affected);

/*
 * Revokes every token of user id (jwt_version one more); *affected is 0
 * when there is no such user.
 */
enum xerr	 admin_db_user_revoke(struct db *db, const char *id,
		    uint64_t *affected);

#endif
