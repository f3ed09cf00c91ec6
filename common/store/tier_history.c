#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/tier_history.h"

enum xerr
tier_history_insert(struct db *db, const char *event_id, const char *sub,
    const char *user_id, const char *tier, int64_t effective_at,
    int event_rank)
{
	struct dbv	 a[6];

	a[0] = DB_STR(event_id);
	a[1] = DB_STR(sub);
	a[2] = DB_STR(user_id);
	a[3] = DB_STR(tier);
	a[4] = DB_INT(effective_at);
	a[5] = DB_INT(event_rank);
	return db_exec(db, STMT_RATING_HISTORY_INSERT, a, 6, NULL, NULL);
}

enum xerr
tier_history_of(struct db *db, const char *subscription,
    struct tier_history_row **rows, size_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	size_t		 i, m;
	enum xerr	 rc;

	*rows = NULL;
	*n = 0;
	a[0] = DB_STR(subscription);
	if ((rc = db_query(db, STMT_RATING_HISTORY, a, 1, &res)))
		return rc;
	m = db_res_rows(res);
	if (m > 0 && (*rows = calloc(m, sizeof(**rows))) == NULL) {
		db_res_free(res);
		return XERR_NOMEM;
	}
	/* Columns: tier, effective_at. */
	for (i = 0; i < m; i++) {
		snprintf((*rows)[i].tier, sizeof((*rows)[i].tier), "%s",
		    db_res_str(res, i, 0));
		(*rows)[i].effective_at = db_res_int(res, i, 1, 0);
	}
	*n = m;
	db_res_free(res);
	return XERR_OK;
}

