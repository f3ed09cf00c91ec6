#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/event_replay.h"
#include "store/stmt.h"

/* The columns of STMT_ADMIN_EVENT_GET, in its order. */
enum event_replay_col {
	EVENT_REPLAY_C_STATUS,
	EVENT_REPLAY_C_TYPE,
	EVENT_REPLAY_C_PAYLOAD,
	EVENT_REPLAY_C__MAX
};

void
event_replay_clear(struct event_replay_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->payload);
	memset(ev, 0, sizeof(*ev));
}

/* Fills ev from row 0 of res (STMT_ADMIN_EVENT_GET's columns). */
static enum xerr
event_replay_fill(const struct db_res *res, struct event_replay_event *ev)
{
	unsigned int	 nulls = 0;
	size_t		 len;
	enum xerr	 rc;

	if (db_res_cols(res) != EVENT_REPLAY_C__MAX)
		return XERR_INTERNAL;
	if ((rc = cell_text(res, 0, EVENT_REPLAY_C_STATUS, ev->status,
	    sizeof(ev->status), 0, &nulls)) != XERR_OK ||
	    (rc = cell_text(res, 0, EVENT_REPLAY_C_TYPE, ev->type,
	    sizeof(ev->type), 0, &nulls)) != XERR_OK)
		return rc;
	len = db_res_len(res, 0, EVENT_REPLAY_C_PAYLOAD);
	if ((ev->payload = malloc(len + 1)) == NULL)
		return XERR_NOMEM;
	if (len > 0)
		memcpy(ev->payload, db_res_str(res, 0, EVENT_REPLAY_C_PAYLOAD),
		    len);
	ev->payload[len] = '\0';
	ev->len = len;
	return XERR_OK;
}

enum xerr
event_replay_get(struct db *db, const char *id, struct event_replay_event *ev)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	memset(ev, 0, sizeof(*ev));
	a[0] = DB_STR(id);
	if ((rc = db_query(db, STMT_ADMIN_EVENT_GET, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else
		rc = event_replay_fill(res, ev);
	db_res_free(res);
	if (rc != XERR_OK)
		event_replay_clear(ev);
	return rc;
}

enum xerr
event_replay_unmatched(struct db *db, const char *customer,
    const struct event_replay_id *after, struct event_replay_id **ids,
    size_t *n)
{
	enum { A_CUSTOMER, A_AFTER, A_AT, A_ID, A__MAX };
	enum { C_ID, C_CREATED };
	struct db_res	*res = NULL;
	struct dbv	 a[A__MAX];
	unsigned int	 nulls = 0;
	size_t		 i, nr;
	enum xerr	 rc;

	*ids = NULL;
	*n = 0;
	a[A_CUSTOMER] = DB_STR(customer);
	a[A_AFTER] = DB_INT(after != NULL ? after->created : INT64_MIN);
	a[A_AT] = DB_INT(after != NULL ? after->created : INT64_MIN);
	a[A_ID] = DB_STR(after != NULL ? after->id : "");
	if ((rc = db_query(db, STMT_UNMATCHED_OF_CUSTOMER, a, A__MAX,
	    &res)) != XERR_OK)
		return rc;
	if ((nr = db_res_rows(res)) == 0)
		goto out;
	if ((*ids = calloc(nr, sizeof(**ids))) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nr && rc == XERR_OK; i++) {
		rc = cell_text(res, i, C_ID, (*ids)[i].id,
		    sizeof((*ids)[i].id), 0, &nulls);
		(*ids)[i].created = db_res_int(res, i, C_CREATED, 0);
	}
	if (rc != XERR_OK) {
		free(*ids);
		*ids = NULL;
		goto out;
	}
	*n = nr;
out:
	db_res_free(res);
	return rc;
}

enum xerr
event_replay_unmatched_done(struct db *db, const char *id)
{
	struct dbv	 a[1];

	a[0] = DB_STR(id);
	return db_exec(db, STMT_UNMATCHED_DELETE, a, 1, NULL, NULL);
}
