#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "store/cell.h"

enum xerr
cell_text(const struct db_res *res, size_t row, size_t col, char *out,
    size_t outsz, unsigned int bit, unsigned int *nulls)
{
	size_t	 len;

	out[0] = '\0';
	if (db_res_isnull(res, row, col)) {
		*nulls |= bit;
		return XERR_OK;
	}
	if ((len = db_res_len(res, row, col)) >= outsz) {
		log_warnx("store: column %zu is %zu bytes, over %zu", col,
		    len, outsz - 1);
		return XERR_DB;
	}
	memcpy(out, db_res_str(res, row, col), len);
	out[len] = '\0';
	return XERR_OK;
}

void
cell_text_cut(const struct db_res *res, size_t row, size_t col, char *out,
    size_t outsz)
{
	const char	*v = db_res_str(res, row, col);

	snprintf(out, outsz, "%s", v != NULL ? v : "");
}

struct dbv
cell_arg_int(int64_t v, unsigned int nulls, unsigned int bit)
{
	return (nulls & bit) ? DB_NULL : DB_INT(v);
}
