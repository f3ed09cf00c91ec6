/*
 * billing_reads: typed access to the reads of the billing side that join
 * users to the subscription they follow (sql/001_init.sql,
 * sql/002_webhook.sql): STMT_BILLING_USER, and the rating engine's reads
 * of a subscription's owner and of phone numbers held.  Only
 * billing_reads.c knows their columns; callers see the structs below,
 * every text copied out, nothing borrowed.  The usage ledger locks the
 * user with users_lock() (store/users.h).  Which subscription counts as
 * live, and which period holds, is domain/usage.h's one period model:
 * these rows say what the tables hold.
 */
#ifndef BILLING_READS_H
#define BILLING_READS_H

#include <stdint.h>

#include "core/xerr.h"
#include "store/usage_events.h"

struct db;

/* Bits of billing_reads_user.nulls. */
#define BILLING_READS_NULL_CUSTOMER	0x01u	/* users.stripe_customer_id */
#define BILLING_READS_NULL_STATUS	0x02u	/* no subscription row joined */
#define BILLING_READS_NULL_DELETED	0x04u	/* subscriptions.deleted */
#define BILLING_READS_NULL_JWT_VERSION	0x08u	/* users.jwt_version */

/*
 * The user and the subscription they follow (STMT_BILLING_USER's
 * columns); the subscription's fields are "" or 0 when no row is joined
 * (BILLING_READS_NULL_STATUS).
 */
struct billing_reads_user {
	char		 email[1284];		/* VARCHAR(320) of utf8mb4 */
	char		 customer[256];
	char		 tier[33];
	char		 subscription_id[256];
	char		 status[33];
	char		 item_id[256];
	int64_t		 period_start;		/* 0 when NULL */
	int64_t		 period_end;
	int		 cancel_at_period_end;	/* 0 or 1 */
	int		 deleted;		/* 0 or 1; 1 when NULL */
	char		 last_event_id[256];
	int64_t		 jwt_version;		/* -1 when NULL */
	unsigned int	 nulls;			/* BILLING_READS_NULL_* */
};

/*
 * Reads user_id and the subscription they follow into *u (cleared
 * first).  XERR_NOTFOUND for an unknown user; XERR_INTERNAL when a text
 * is longer than its field; errors of db_query().
 */
enum xerr	 billing_reads_user(struct db *db, const char *user_id,
		    struct billing_reads_user *u);

/* The most ids billing_reads_users() reads at once. */
#define BILLING_READS_USERS_MAX	16

/*
 * Reads the n ids (1 to BILLING_READS_USERS_MAX; one may repeat) as
 * billing_reads_user() does, in one round trip: found[i] is what reading
 * ids[i] into *out[i] gave (XERR_OK, XERR_NOTFOUND, XERR_INTERNAL).
 * Returns XERR_OK when the read ran (found says the rest), XERR_INTERNAL
 * for n out of range, errors of db_query().
 */
enum xerr	 billing_reads_users(struct db *db, const char *const *ids,
		    size_t n, struct billing_reads_user *const *out,
		    enum xerr *found);

/* A subscription's owner, as the rating engine reads it. */
struct billing_reads_sub {
	char		 user_id[65];
	char		 customer_id[256];
	int		 deleted;		/* 0 or 1 */
};

/*
 * Reads the owner of subscription into *out (STMT_RATING_SUB_LOCK with
 * lock, a locking read that serializes the rating of its periods; else
 * STMT_RATING_SUB_GET).  XERR_NOTFOUND when we have no row of it; errors
 * of db_query().
 */
enum xerr	 billing_reads_sub(struct db *db, const char *subscription,
		    int lock, struct billing_reads_sub *out);

/*
 * Sets *held when user_id held a phone number at a moment of [from, to)
 * (STMT_RATING_PHONE_HELD).  Errors of db_query().
 */
enum xerr	 billing_reads_phone_held(struct db *db, const char *user_id,
		    int64_t from, int64_t to, int *held);

#endif
