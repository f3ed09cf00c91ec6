#include <stdint.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/disputes.h"

/* The columns of STMT_DISPUTE_LOCK, in its order. */
enum disputes_lock_col {
	DISPUTES_L_IS_OPEN,
	DISPUTES_L_STATUS,
};

enum xerr
disputes_lock(struct db *db, const char *id, struct disputes_lock_row *row)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_STR(id);
	if ((rc = db_query(db, STMT_DISPUTE_LOCK, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) != 1)
		rc = XERR_NOTFOUND;
	else {
		row->is_open = db_res_int(res, 0, DISPUTES_L_IS_OPEN, 0) != 0;
		rc = cell_text(res, 0, DISPUTES_L_STATUS, row->status,
		    sizeof(row->status), 0, &nulls);
	}
	db_res_free(res);
	return rc;
}

enum xerr
disputes_insert(struct db *db, const struct disputes_row *d)
{
	struct dbv	 a[10];

	a[0] = DB_STR(d->id);
	a[1] = DB_STR(d->user_id);
	a[2] = DB_STR(d->charge_id);
	a[3] = DB_INT(d->amount);
	a[4] = DB_STR(d->currency);
	a[5] = DB_STR(d->reason);
	a[6] = DB_STR(d->status);
	a[7] = DB_INT(d->is_open);
	a[8] = DB_INT(d->created);
	a[9] = DB_STR(d->closed_event_id);
	return db_exec(db, STMT_DISPUTE_INSERT, a, 10, NULL, NULL);
}

enum xerr
disputes_close(struct db *db, const char *id, const char *status,
    const char *reason, const char *closed_event_id)
{
	struct dbv	 a[4];

	a[0] = DB_STR(status);
	a[1] = DB_STR(reason);
	a[2] = DB_STR(closed_event_id);
	a[3] = DB_STR(id);
	return db_exec(db, STMT_DISPUTE_CLOSE, a, 4, NULL, NULL);
}
