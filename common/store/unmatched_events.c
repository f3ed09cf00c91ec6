#include <stdint.h>

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
