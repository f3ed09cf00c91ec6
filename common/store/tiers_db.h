/*
 * tiers_db: typed access to the tiers table (sql/001_init.sql), the
 * one source of each subscription tier's rank, amounts, allowances and
 * phone eligibility.  Only tiers_db.c knows the columns of STMT_TIERS_ALL;
 * callers see struct tiers_row, copied out, nothing borrowed.  What the
 * tiers mean (Stripe prices, the cache) is domain/tiers.h's.
 */
#ifndef TIERS_DB_H
#define TIERS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Bits of tiers_row.nulls. */
#define TIERS_NULL_DISPLAY_NAME	0x01u

/* One row of the tiers table; texts NUL-terminated. */
struct tiers_row {
	char		 name[33];
	char		 display_name[65 * 4];	/* VARCHAR(64) of utf8mb4 */
	int64_t		 price_cents;		/* -1: custom pricing */
	int64_t		 voice_included;	/* minutes, -1 unlimited */
	int64_t		 sms_included;		/* messages, -1 unlimited */
	int		 phone_eligible;
	int64_t		 phone_fee_cents;
	int		 rank;			/* orders upgrades: 0 free .. */
	unsigned int	 nulls;			/* TIERS_NULL_*: "" when NULL */
};

/*
 * Reads the whole table, up to max rows, into rows (the caller's), and
 * their number into *n.  A text longer than its field is cut (never,
 * with the schema's widths).  Errors of db_query() (then *n is 0).
 */
enum xerr	 tiers_all(struct db *db, struct tiers_row *rows, size_t max,
		    size_t *n);

#endif
