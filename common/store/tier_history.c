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

/*
 * Copies the rows of res into a new *rows: columns from col on are tier
 * and effective_at; with subs, column 0 is the subscription, matched to
 * its slot in subs (n of them).
 */
static enum xerr
tier_history_fill(struct db_res *res, size_t col, const char *const *subs,
    size_t n, struct tier_history_row **rows, size_t *nrows)
{
	const char	*sub;
	size_t		 i, k, m = db_res_rows(res);

	if (m > 0 && (*rows = calloc(m, sizeof(**rows))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < m; i++) {
		snprintf((*rows)[i].tier, sizeof((*rows)[i].tier), "%s",
		    db_res_str(res, i, col));
		(*rows)[i].effective_at = db_res_int(res, i, col + 1, 0);
		if (subs == NULL || (sub = db_res_str(res, i, 0)) == NULL)
			continue;
		for (k = 0; k < n && strcmp(subs[k], sub) != 0; k++)
			continue;
		(*rows)[i].slot = k;
	}
	*nrows = m;
	return XERR_OK;
}

enum xerr
tier_history_of(struct db *db, const char *subscription,
    struct tier_history_row **rows, size_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	*rows = NULL;
	*n = 0;
	a[0] = DB_STR(subscription);
	if ((rc = db_query(db, STMT_RATING_HISTORY, a, 1, &res)))
		return rc;
	/* Columns: tier, effective_at. */
	rc = tier_history_fill(res, 0, NULL, 0, rows, n);
	db_res_free(res);
	return rc;
}

enum xerr
tier_history_of_many(struct db *db, const char *const *subs, size_t n,
    struct tier_history_row **rows, size_t *nrows)
{
	struct db_res	*res = NULL;
	struct dbv	 a[TIER_HISTORY_SUBS_MAX];
	size_t		 i;
	enum xerr	 rc;

	*rows = NULL;
	*nrows = 0;
	if (n == 0 || n > TIER_HISTORY_SUBS_MAX)
		return XERR_INTERNAL;
	for (i = 0; i < TIER_HISTORY_SUBS_MAX; i++)
		a[i] = DB_STR(subs[i < n ? i : n - 1]);
	if ((rc = db_query(db, STMT_RATING_HISTORY_16, a,
	    TIER_HISTORY_SUBS_MAX, &res)))
		return rc;
	/* Columns: subscription_id, tier, effective_at. */
	rc = tier_history_fill(res, 1, subs, n, rows, nrows);
	db_res_free(res);
	return rc;
}
