#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/notifications.h"
#include "store/stmt.h"

/* The columns of STMT_NOTIFY_GET, in its order. */
enum notifications_col {
	NOTIFICATIONS_C_STATE,
	NOTIFICATIONS_C_ATTEMPTS,
	NOTIFICATIONS_C__MAX
};

enum xerr
notifications_get(struct db *db, const char *dedupe_key,
    struct notifications_state *st)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	memset(st, 0, sizeof(*st));
	a[0] = DB_STR(dedupe_key);
	if ((rc = db_query(db, STMT_NOTIFY_GET, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) != 1)
		rc = XERR_NOTFOUND;
	else if (db_res_cols(res) != NOTIFICATIONS_C__MAX)
		rc = XERR_INTERNAL;
	else if ((rc = cell_text(res, 0, NOTIFICATIONS_C_STATE, st->state,
	    sizeof(st->state), 0, &nulls)) == XERR_OK)
		st->attempts = db_res_int(res, 0, NOTIFICATIONS_C_ATTEMPTS, 0);
	db_res_free(res);
	if (rc != XERR_OK)
		memset(st, 0, sizeof(*st));
	return rc;
}

enum xerr
notifications_begin(struct db *db, const struct notifications_msg *m)
{
	struct dbv	 a[7];

	a[0] = DB_STR(m->dedupe_key);
	a[1] = DB_STR(m->message_id);
	a[2] = DB_STR(m->tmpl);
	a[3] = DB_STR(m->user_id);
	a[4] = DB_STR(m->recipient);
	a[5] = DB_STR(m->subject);
	a[6] = DB_INT(m->job_id);
	return db_exec(db, STMT_NOTIFY_BEGIN, a, 7, NULL, NULL);
}

enum xerr
notifications_sent(struct db *db, const char *dedupe_key)
{
	struct dbv	 a[1];

	a[0] = DB_STR(dedupe_key);
	return db_exec(db, STMT_NOTIFY_SENT, a, 1, NULL, NULL);
}

enum xerr
notifications_fail(struct db *db, const char *dedupe_key, const char *state,
    const char *error)
{
	struct dbv	 a[3];

	a[0] = DB_STR(state);
	a[1] = DB_STR(error);
	a[2] = DB_STR(dedupe_key);
	return db_exec(db, STMT_NOTIFY_FAIL, a, 3, NULL, NULL);
}
