/*
 * cell: the one copy of a result's text cell into a caller's buffer, for
 * the typed accessors of store/ (users, stripe_events, ...), so that a
 * row they return borrows nothing from the result; and the one way back,
 * a number that may be NULL as a statement's argument.
 */
#ifndef CELL_H
#define CELL_H

#include <stddef.h>

#include <stdint.h>

#include "core/db.h"
#include "core/xerr.h"

/*
 * Copies the cell (row, col) of res into out (outsz bytes, NUL-terminated;
 * "" when it is SQL NULL, with bit set in *nulls).  XERR_DB (out "") when
 * it does not fit, which the schema's widths never allow.
 */
enum xerr	 cell_text(const struct db_res *res, size_t row, size_t col,
		    char *out, size_t outsz, unsigned int bit,
		    unsigned int *nulls);

/*
 * Copies the cell (row, col) of res into out (outsz bytes), cut to fit;
 * "" when it is SQL NULL.  For readers whose fields hold what the schema
 * allows and that cut rather than fail.
 */
void		 cell_text_cut(const struct db_res *res, size_t row, size_t col,
		    char *out, size_t outsz);

/* v as a statement's argument, or SQL NULL when bit is set in nulls. */
struct dbv	 cell_arg_int(int64_t v, unsigned int nulls, unsigned int bit);

#endif
