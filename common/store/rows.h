/*
 * rows: reads every row of a result into an array of a typed accessor's
 * structs, column by column as a spec says (the accessor's, private to
 * its .c file: spec[i] is column i of its statement).  A text column is
 * copied into a char array of the struct (cell_text()), a number into an
 * int64_t; a NULL reads as "" or 0 and sets its bit in the struct's
 * unsigned int at nulls_off.  Nothing is borrowed from the result.
 */
#ifndef ROWS_H
#define ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;
struct db_res;
struct dbv;

enum rows_kind {
	ROWS_TEXT,	/* char[size] at off */
	ROWS_INT,	/* int64_t at off */
};

struct rows_col {
	enum rows_kind	 kind;
	size_t		 off;
	size_t		 size;		/* ROWS_TEXT: the array's size */
	unsigned int	 null;		/* the bit of a NULL; 0: never NULL */
};

/* A spec entry for member m of struct type t. */
#define ROWS_TEXT_COL(t, m, bit) \
	{ ROWS_TEXT, offsetof(t, m), sizeof(((t *)0)->m), (bit) }
#define ROWS_INT_COL(t, m, bit) \
	{ ROWS_INT, offsetof(t, m), 0, (bit) }

/*
 * Reads the rows of res into a new array *out of *n structs of elemsz
 * bytes (zeroed first; the caller frees it; NULL when none) as spec's
 * ncols columns say.  XERR_INTERNAL when res has not ncols columns,
 * XERR_DB when a text is longer than its array, XERR_NOMEM.
 */
enum xerr	 rows_read(const struct db_res *res, const struct rows_col *spec,
		    size_t ncols, size_t elemsz, size_t nulls_off, void **out,
		    size_t *n);

/*
 * Runs statement s with its nargs args (db_query()) and reads the first
 * column of its first row into *out (def when it is NULL).  XERR_NOTFOUND
 * (*out def) when there is no row; errors of db_query().
 */
enum xerr	 rows_int(struct db *db, unsigned int s, const struct dbv *args,
		    size_t nargs, int64_t def, int64_t *out);

#endif
