/*
 * subscriptions_db: typed access to the subscriptions table
 * (sql/002_webhook.sql), as the webhook's appliers write it
 * (domain/subscriptions.c, domain/customers.c).  Only subscriptions_db.c
 * knows the columns of its statements (store/stmt.c).  Named _db beside
 * domain/subscriptions.  Strings given are borrowed for the call; a row
 * read is the caller's, copied out.
 */
#ifndef SUBSCRIPTIONS_DB_H
#define SUBSCRIPTIONS_DB_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/* What the lock of a subscription reads (texts NUL-terminated). */
struct subscriptions_db_lock_row {
	char		 user_id[65];
	char		 status[33];
	char		 tier[33];
	int		 deleted;		/* 0 or 1 */
	int64_t		 last_event_created;
	int64_t		 last_event_rank;
	int64_t		 stripe_created;	/* Stripe's created; 0 unknown */
	char		 last_event_id[256];
};

/*
 * Reads and locks (FOR UPDATE) subscription id into *row (cleared
 * first).  XERR_NOTFOUND when there is none; XERR_DB when a text is
 * longer than its field; errors of db_query().
 */
enum xerr	 subscriptions_db_lock(struct db *db, const char *id,
		    struct subscriptions_db_lock_row *row);

/* Another live subscription of a user (subscriptions_db_other_live()). */
struct subscriptions_db_other {
	char		 id[256];
	char		 customer_id[256];
	char		 status[33];
	char		 tier[33];
	int64_t		 period_start, period_end;	/* 0: unknown */
	int		 cancel_at_period_end;
	int64_t		 trial_end;			/* 0: none */
};

/*
 * Reads user_id's newest (by Stripe's created) subscription but
 * except_id that grants a tier (active, trialing, past_due; not deleted)
 * into *out.  XERR_NOTFOUND when there is none; errors of db_query().
 */
enum xerr	 subscriptions_db_other_live(struct db *db,
		    const char *user_id, const char *except_id,
		    struct subscriptions_db_other *out);

/* Bits of subscriptions_db_values.nulls: the columns written as NULL. */
#define SUBSCRIPTIONS_DB_NULL_PERIOD_START	0x01u
#define SUBSCRIPTIONS_DB_NULL_PERIOD_END	0x02u
#define SUBSCRIPTIONS_DB_NULL_TRIAL_END		0x04u

/* A subscription's row to write; item_id may be NULL. */
struct subscriptions_db_values {
	const char	*id;
	const char	*user_id;
	const char	*customer_id;
	const char	*status;
	const char	*tier;
	const char	*price_id;
	const char	*item_id;
	int64_t		 current_period_start;
	int64_t		 current_period_end;
	int		 cancel_at_period_end;	/* 0 or 1 */
	int64_t		 trial_end;
	int		 deleted;		/* 0 or 1 */
	const char	*last_event_id;
	int64_t		 last_event_created;
	int		 last_event_rank;
	int64_t		 stripe_created;	/* 0: unknown (kept as stored) */
	unsigned int	 nulls;		/* SUBSCRIPTIONS_DB_NULL_* */
};

/* Inserts or replaces the row of v->id.  Errors of db_exec(). */
enum xerr	 subscriptions_db_upsert(struct db *db,
		    const struct subscriptions_db_values *v);

/*
 * Marks every live subscription of customer canceled and deleted, as
 * event_id (created at created, a deletion's rank) says.  Errors of
 * db_exec().
 */
enum xerr	 subscriptions_db_cancel_by_customer(struct db *db,
		    const char *customer, const char *event_id,
		    int64_t created);

#endif
