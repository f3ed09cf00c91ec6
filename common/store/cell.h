/*
 * cell: the one copy of a result's text cell into a caller's buffer, for
 * the typed accessors of store/ (users, stripe_events, ...), so that a
 * row they return borrows nothing from the result.
 */
#ifndef CELL_H
#define CELL_H

#include <stddef.h>

#include "core/xerr.h"

struct db_res;

/*
 * Copies the cell (row, col) of res into out (outsz bytes, NUL-terminated;
 * "" when it is SQL NULL, with bit set in *nulls).  XERR_DB (out "") when
 * it does not fit, which the schema's widths never allow.
 */
enum xerr	 cell_text(const struct db_res *res, size_t row, size_t col,
		    char *out, size_t outsz, unsigned int bit,
		    unsigned int *nulls);

#endif
