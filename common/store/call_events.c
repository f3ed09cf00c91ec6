#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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

/* STMT_CALL_EVENT_INSERT of 1, 2, 4, 8 and 16 rows, for db_exec_rows(). */
static const unsigned int call_events_inserts[] = {
	STMT_CALL_EVENT_INSERT, STMT_CALL_EVENT_INSERT_2,
	STMT_CALL_EVENT_INSERT_4, STMT_CALL_EVENT_INSERT_8,
	STMT_CALL_EVENT_INSERT_16,
};

enum xerr
call_events_insert_rows(struct db *db, const struct call_events_row *rows,
    size_t n)
{
	const struct call_events_row	*r;
	struct dbv			*a, *v;
	size_t				 i;
	enum xerr			 rc;

	if (n == 0)
		return XERR_OK;
	if ((a = calloc(n, CALL_EVENTS_A__MAX * sizeof(*a))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < n; i++) {
		r = &rows[i];
		v = &a[i * CALL_EVENTS_A__MAX];
		v[CALL_EVENTS_A_USER] = DB_STR(r->user_id);
		v[CALL_EVENTS_A_SID] = DB_STR(r->call_sid);
		v[CALL_EVENTS_A_STATUS] = DB_STR(r->status);
		v[CALL_EVENTS_A_DURATION] = r->duration >= 0 ?
		    DB_INT(r->duration) : DB_NULL;
	}
	rc = db_exec_rows(db, call_events_inserts,
	    sizeof(call_events_inserts) / sizeof(call_events_inserts[0]), a,
	    CALL_EVENTS_A__MAX, n, NULL);
	free(a);
	return rc;
}
