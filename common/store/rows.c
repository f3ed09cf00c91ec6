#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/rows.h"

/* Fills the struct at p from row i of res. */
static enum xerr
rows_fill(const struct db_res *res, size_t i, const struct rows_col *spec,
    size_t ncols, unsigned char *p, unsigned int *nulls)
{
	int64_t		 v;
	size_t		 c;
	enum xerr	 rc;

	for (c = 0; c < ncols; c++) {
		if (spec[c].kind == ROWS_TEXT) {
			if ((rc = cell_text(res, i, c, (char *)p + spec[c].off,
			    spec[c].size, spec[c].null, nulls)) != XERR_OK)
				return rc;
			continue;
		}
		if (db_res_isnull(res, i, c))
			*nulls |= spec[c].null;
		v = db_res_int(res, i, c, 0);
		memcpy(p + spec[c].off, &v, sizeof(v));
	}
	return XERR_OK;
}

enum xerr
rows_read(const struct db_res *res, const struct rows_col *spec,
    size_t ncols, size_t elemsz, size_t nulls_off, void **out, size_t *n)
{
	unsigned char	*a;
	unsigned int	 nulls;
	size_t		 i, nr = db_res_rows(res);
	enum xerr	 rc;

	*out = NULL;
	*n = 0;
	if (nr == 0)
		return XERR_OK;
	if (db_res_cols(res) != ncols)
		return XERR_INTERNAL;
	if ((a = calloc(nr, elemsz)) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < nr; i++) {
		nulls = 0;
		if ((rc = rows_fill(res, i, spec, ncols, a + i * elemsz,
		    &nulls)) != XERR_OK) {
			free(a);
			return rc;
		}
		memcpy(a + i * elemsz + nulls_off, &nulls, sizeof(nulls));
	}
	*out = a;
	*n = nr;
	return XERR_OK;
}

enum xerr
rows_int(struct db *db, unsigned int s, const struct dbv *args, size_t nargs,
    int64_t def, int64_t *out)
{
	struct db_res	*res = NULL;
	enum xerr	 rc;

	*out = def;
	if ((rc = db_query(db, s, args, nargs, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else
		*out = db_res_int(res, 0, 0, def);
	db_res_free(res);
	return rc;
}
