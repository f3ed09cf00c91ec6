/*
 * bill_lines: typed access to the lines of a bill (sql/009_billing.sql):
 * one per kind (voice, sms, phone, voice_adjust, sms_adjust), so five at
 * most.  Only bill_lines.c knows the columns of its statements
 * (store/stmt.c: BILL_LINE_INSERT, BILL_LINES, BILL_LINE_TARGET,
 * BILL_LINE_POSTED, BILL_LINES_PENDING); callers see struct
 * bill_lines_row and struct bill_lines_pending_row, copied out.
 */
#ifndef BILL_LINES_H
#define BILL_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

#define BILL_LINES_MAX	5	/* kinds of line: the table's CHECK */

/* Bits of bill_lines_row.nulls. */
#define BILL_LINES_NULL_TARGET	0x01u
#define BILL_LINES_NULL_ITEM	0x02u	/* stripe_item_id */

/* One bill_lines row; texts "" when NULL (their bit in nulls). */
struct bill_lines_row {
	char		 kind[17];
	int64_t		 quantity;
	char		 unit_decimal[17];
	int64_t		 amount_cents;
	char		 description[1021];	/* VARCHAR(255) of utf8mb4 */
	char		 target[9];		/* "invoice", "pending" or "" */
	char		 stripe_item_id[256];	/* "" until posted */
	unsigned int	 nulls;			/* BILL_LINES_NULL_* */
};

/* Inserts a line of bill_id. */
enum xerr	 bill_lines_insert(struct db *db, int64_t bill_id,
		    const char *kind, int64_t quantity, const char *unit,
		    int64_t cents, const char *description);

/*
 * Reads the lines of bill_id, in the order of their kinds, up to max,
 * into rows; *n is their number.  A text longer than its field is cut
 * (never, with the schema's widths).  Errors of db_query().
 */
enum xerr	 bill_lines_of(struct db *db, int64_t bill_id,
		    struct bill_lines_row *rows, size_t max, size_t *n);

/*
 * Moves the target of line kind of bill_id from from ("" or NULL: none
 * yet) to target while it is not posted.  XERR_CONFLICT when the line is
 * not at from any more, or posted (another run of its job moved it).
 */
enum xerr	 bill_lines_set_target(struct db *db, int64_t bill_id,
		    const char *kind, const char *from, const char *target);

/* A line another bill posted as a pending invoice item. */
struct bill_lines_pending_row {
	int64_t		 bill_id;
	char		 kind[17];
	char		 stripe_item_id[256];
};

#define BILL_LINES_PENDING_MAX	32	/* BILL_LINES_PENDING's LIMIT */

/*
 * Reads into rows (max of them, BILL_LINES_PENDING_MAX at most) the lines
 * that the bills of subscription other than bill_id posted as pending
 * invoice items (target "pending", an item recorded), the newest period
 * first; *n is their number.  Whether Stripe has since put them on an
 * invoice is Stripe's to say.  Errors of db_query().
 */
enum xerr	 bill_lines_pending(struct db *db, const char *subscription,
		    int64_t bill_id, struct bill_lines_pending_row *rows,
		    size_t max, size_t *n);

/* Records line kind of bill_id as posted (now) as Stripe's item. */
enum xerr	 bill_lines_set_posted(struct db *db, int64_t bill_id,
		    const char *kind, const char *item);

#endif
