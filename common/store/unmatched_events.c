#include <stdint.h>
#include <stdlib.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/unmatched_events.h"

enum xerr
unmatched_events_insert(struct db *db, const char *event_id,
    const char *customer, int64_t created)
{
	struct dbv	 a[3];

	a[0] = DB_STR(event_id);
	a[1] = DB_STR(customer);
	a[2] = DB_INT(created);
	return db_exec(db, STMT_UNMATCHED_INSERT, a, 3, NULL, NULL);
}

/* STMT_UNMATCHED_INSERT of 1, 2, 4, 8 and 16 rows, for db_exec_rows(). */
static const unsigned int unmatched_events_inserts[] = {
	STMT_UNMATCHED_INSERT, STMT_UNMATCHED_INSERT_2,
	STMT_UNMATCHED_INSERT_4, STMT_UNMATCHED_INSERT_8,
	STMT_UNMATCHED_INSERT_16,
};

enum xerr
unmatched_events_insert_rows(struct db *db,
    const struct unmatched_events_row *rows, size_t n)
{
	struct dbv	*a;
	size_t		 i;
	enum xerr	 rc;

	if (n == 0)
		return XERR_OK;
	if ((a = calloc(n, 3 * sizeof(*a))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < n; i++) {
		a[i * 3] = DB_STR(rows[i].event_id);
		a[i * 3 + 1] = DB_STR(rows[i].customer);
		a[i * 3 + 2] = DB_INT(rows[i].created);
	}
	rc = db_exec_rows(db, unmatched_events_inserts,
	    sizeof(unmatched_events_inserts) /
	    sizeof(unmatched_events_inserts[0]), a, 3, n, NULL);
	free(a);
	return rc;
}

enum xerr
unmatched_events_any(struct db *db, const char *customer, int *any)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	*any = 0;
	a[0] = DB_STR(customer);
	if ((rc = db_query(db, STMT_UNMATCHED_ANY, a, 1, &res)) != XERR_OK)
		return rc;
	*any = db_res_rows(res) > 0;
	db_res_free(res);
	return XERR_OK;
}
