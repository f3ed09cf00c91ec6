/*
 * phone_numbers: typed access to the history of the numbers we hold or
 * held (sql/003_usage.sql, phone_numbers: one row per number and holder,
 * held_to set at the release).  Only phone_numbers.c knows the statements
 * (store/stmt.c), their argument order and their columns; callers see
 * struct phone_numbers_row.
 *
 * Rows are the caller's: every text is copied into the fixed arrays
 * below (sized by the schema's widths), nothing is borrowed from the
 * database.
 */
#ifndef PHONE_NUMBERS_H
#define PHONE_NUMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Bits of phone_numbers_row.nulls. */
#define PHONE_NUMBERS_NULL_HELD_TO	0x01u	/* held still */
#define PHONE_NUMBERS_NULL_GRACE	0x02u	/* no grace, or not held */

/* One number held, with its holder's grace (phone_numbers_page()). */
struct phone_numbers_row {
	int64_t		 id;
	char		 user_id[65];
	char		 phone_number[33];
	char		 phone_sid[65];
	int64_t		 held_from;
	int64_t		 held_to;		/* 0 when NULL */
	int64_t		 grace_until;		/* users.phone_grace_until */
	unsigned int	 nulls;			/* PHONE_NUMBERS_NULL_* */
};

/*
 * Opens the row of number (sid) held by user_id from held_from.
 * XERR_DUP when the sid has a row already; errors of db_exec().
 */
enum xerr	 phone_numbers_open(struct db *db, const char *user_id,
		    const char *number, const char *sid, int64_t held_from);

/*
 * Closes user_id's open row of sid at held_to; *affected (may be NULL)
 * is 0 when none was open.  Errors of db_exec().
 */
enum xerr	 phone_numbers_close(struct db *db, const char *user_id,
		    const char *sid, int64_t held_to, uint64_t *affected);

/*
 * Sets *at to when user_id was given the n-th latest (n >= 1) of the
 * numbers given since since, and *found; *found 0 when fewer were.
 * Errors of db_query().
 */
enum xerr	 phone_numbers_nth_since(struct db *db, const char *user_id,
		    int64_t since, unsigned int n, int64_t *at, int *found);

/*
 * Reads at most limit rows after the id after, in id order (only the
 * numbers held when held_only), each with its holder's grace while they
 * hold it, into *rows (the caller's to free(); NULL when none) and *n.
 * XERR_NOMEM; XERR_DB when a stored text is longer than its field;
 * errors of db_query().
 */
enum xerr	 phone_numbers_page(struct db *db, int64_t after,
		    int held_only, size_t limit,
		    struct phone_numbers_row **rows, size_t *n);

#endif
