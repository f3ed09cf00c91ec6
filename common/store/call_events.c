#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "store/call_events.h"
#include "store/stmt.h"

/* The arguments of STMT_CALL_EVENT_INSERT, in its order. */
enum call_events_arg {
	CALL_EVENTS_A_USER,
	CALL_EVENTS_A_SID,
	CALL_EVENTS_A_STATUS,
	CALL_EVENTS_A_DURATION,
	CALL_EVENTS_A__MAX
};

enum xerr
call_events_insert(struct db *db, const char *user_id, const char *call_sid,
    const char *status, long long duration)
{
	struct dbv	 a[CALL_EVENTS_A__MAX];

	a[CALL_EVENTS_A_USER] = DB_STR(user_id);
	a[CALL_EVENTS_A_SID] = DB_STR(call_sid);
	a[CALL_EVENTS_A_STATUS] = DB_STR(status);
	a[CALL_EVENTS_A_DURATION] = duration >= 0 ? DB_INT(duration) :
	    DB_NULL;
	return db_exec(db, STMT_CALL_EVENT_INSERT, a, CALL_EVENTS_A__MAX,
	    NULL, NULL);
}

/* Rows of STMT_CALL_EVENT_INSERT_8. */
#define CALL_EVENTS_ROWS	8

enum xerr
call_events_insert_rows(struct db *db, const struct call_events_row *rows,
    size_t n)
{
	struct dbv			 a[CALL_EVENTS_ROWS * CALL_EVENTS_A__MAX];
	const struct call_events_row	*r;
	struct dbv			*v;
	size_t				 i, k;
	enum xerr			 rc;

	for (i = 0; i < n; i += CALL_EVENTS_ROWS) {
		for (k = 0; k < CALL_EVENTS_ROWS; k++) {
			/* Unused places repeat the last row: a no-op. */
			r = &rows[i + k < n ? i + k : n - 1];
			v = &a[k * CALL_EVENTS_A__MAX];
			v[CALL_EVENTS_A_USER] = DB_STR(r->user_id);
			v[CALL_EVENTS_A_SID] = DB_STR(r->call_sid);
			v[CALL_EVENTS_A_STATUS] = DB_STR(r->status);
			v[CALL_EVENTS_A_DURATION] = r->duration >= 0 ?
			    DB_INT(r->duration) : DB_NULL;
		}
		if ((rc = db_exec(db, STMT_CALL_EVENT_INSERT_8, a,
		    DB_NARGS(a), NULL, NULL)) != XERR_OK)
			return rc;
	}
	return XERR_OK;
}
