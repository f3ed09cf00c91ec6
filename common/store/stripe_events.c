#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "store/cell.h"
#include "store/rows.h"
#include "store/stmt.h"
#include "store/stripe_events.h"

/* The arguments of STMT_EVENT_INSERT. */
#define STRIPE_EVENTS_INSERT_ARGS	9

/* The column of STMT_EVENT_STATUS and STMT_EVENT_LOCK. */
enum stripe_events_col {
	STRIPE_EVENTS_C_STATUS,
};

/* The columns of STMT_EVENT_STATUS_16, in its order. */
enum stripe_events_status_col {
	STRIPE_EVENTS_S_ID,
	STRIPE_EVENTS_S_STATUS,
	STRIPE_EVENTS_S__MAX
};

/* The columns of STMT_EVENT_PURGE_PICK, in its order. */
static const struct rows_col stripe_events_old_cols[] = {
	ROWS_TEXT_COL(struct stripe_events_old_row, id, 0),
	ROWS_TEXT_COL(struct stripe_events_old_row, type, 0),
	ROWS_TEXT_COL(struct stripe_events_old_row, metrics_status,
	    STRIPE_EVENTS_OLD_UNCOUNTED),
};

/*
 * The arguments of a statement on up to STRIPE_EVENTS_STATUS_IDS ids (the
 * n of ids): places past the last are NULL, which IN matches nowhere.
 * XERR_INTERNAL when n is over STRIPE_EVENTS_STATUS_IDS.
 */
static enum xerr
stripe_events_ids(const char *const *ids, size_t n,
    struct dbv a[STRIPE_EVENTS_STATUS_IDS])
{
	size_t	 i;

	if (n > STRIPE_EVENTS_STATUS_IDS)
		return XERR_INTERNAL;
	for (i = 0; i < STRIPE_EVENTS_STATUS_IDS; i++)
		a[i] = i < n ? DB_STR(ids[i]) : DB_NULL;
	return XERR_OK;
}

/*
 * The first seven arguments of STMT_EVENT_INSERT and STMT_EVENT_FAIL,
 * the same in both: what the event is, before any outcome.
 */
static void
stripe_events_what(const struct stripe_events_row *r, struct dbv a[7])
{
	a[0] = DB_STR(r->id);
	a[1] = DB_STR(r->type);
	a[2] = DB_STR(r->api_version);
	a[3] = DB_INT(r->livemode);
	a[4] = DB_INT(r->created);
	a[5] = DB_STR(r->object_id);
	a[6] = DB_BLOB(r->payload, r->len);
}

/* The arguments of STMT_EVENT_INSERT for r. */
static void
stripe_events_insert_args(const struct stripe_events_row *r,
    struct dbv a[STRIPE_EVENTS_INSERT_ARGS])
{
	stripe_events_what(r, a);
	a[7] = DB_STR(r->status);
	a[8] = DB_STR(r->user_id);
}

enum xerr
stripe_events_insert(struct db *db, const struct stripe_events_row *r)
{
	struct dbv	 a[STRIPE_EVENTS_INSERT_ARGS];

	stripe_events_insert_args(r, a);
	return db_exec(db, STMT_EVENT_INSERT, a, STRIPE_EVENTS_INSERT_ARGS,
	    NULL, NULL);
}

/* STMT_EVENT_ROWS_* of 1, 2, 4, 8 and 16 rows, for db_exec_rows(). */
static const unsigned int stripe_events_inserts[] = {
	STMT_EVENT_ROWS_1, STMT_EVENT_ROWS_2, STMT_EVENT_ROWS_4,
	STMT_EVENT_ROWS_8, STMT_EVENT_ROWS_16,
};

enum xerr
stripe_events_insert_rows(struct db *db, const struct stripe_events_row *rows,
    size_t n)
{
	struct dbv	*a;
	uint64_t	 added = 0;
	size_t		 i;
	enum xerr	 rc;

	if ((a = calloc(n > 0 ? n : 1, STRIPE_EVENTS_INSERT_ARGS *
	    sizeof(*a))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < n; i++)
		stripe_events_insert_args(&rows[i],
		    &a[i * STRIPE_EVENTS_INSERT_ARGS]);
	rc = db_exec_rows(db, stripe_events_inserts,
	    sizeof(stripe_events_inserts) / sizeof(stripe_events_inserts[0]),
	    a, STRIPE_EVENTS_INSERT_ARGS, n, &added);
	/* One was stored already (the batch's ids are distinct). */
	if (rc == XERR_OK && added != n)
		rc = XERR_DUP;
	free(a);
	return rc;
}

enum xerr
stripe_events_finish(struct db *db, const char *id, const char *status,
    const char *user_id)
{
	struct dbv	 a[3];

	a[0] = DB_STR(status);
	a[1] = DB_STR(user_id);
	a[2] = DB_STR(id);
	return db_exec(db, STMT_EVENT_FINISH, a, 3, NULL, NULL);
}

enum xerr
stripe_events_fail(struct db *db, const struct stripe_events_row *r,
    const char *error)
{
	struct dbv	 a[8];

	stripe_events_what(r, a);
	a[7] = DB_STR(error);
	return db_exec(db, STMT_EVENT_FAIL, a, 8, NULL, NULL);
}

/* Runs s (STMT_EVENT_STATUS or _LOCK) for id, its status into status. */
static enum xerr
stripe_events_status_by(struct db *db, enum stmt s, const char *id,
    char status[17])
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	status[0] = '\0';
	a[0] = DB_STR(id);
	if ((rc = db_query(db, s, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else
		rc = cell_text(res, 0, STRIPE_EVENTS_C_STATUS, status, 17, 0,
		    &nulls);
	db_res_free(res);
	return rc;
}

enum xerr
stripe_events_status(struct db *db, const char *id, char status[17])
{
	return stripe_events_status_by(db, STMT_EVENT_STATUS, id, status);
}

enum xerr
stripe_events_lock_status(struct db *db, const char *id, char status[17])
{
	return stripe_events_status_by(db, STMT_EVENT_LOCK, id, status);
}

enum xerr
stripe_events_status_of(struct db *db, const char *const *ids, size_t n,
    struct stripe_events_status_row *rows, size_t cap, size_t *nrows)
{
	struct db_res	*res = NULL;
	struct dbv	 a[STRIPE_EVENTS_STATUS_IDS];
	unsigned int	 nulls = 0;
	size_t		 i;
	enum xerr	 rc;

	*nrows = 0;
	if ((rc = stripe_events_ids(ids, n, a)) != XERR_OK)
		return rc;
	if ((rc = db_query(db, STMT_EVENT_STATUS_16, a,
	    STRIPE_EVENTS_STATUS_IDS, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) > cap) {
		log_warnx("stripe_events: %zu rows for %zu ids",
		    db_res_rows(res), n);
		rc = XERR_DB;
	} else if (db_res_rows(res) > 0 &&
	    db_res_cols(res) != STRIPE_EVENTS_S__MAX)
		rc = XERR_INTERNAL;
	for (i = 0; rc == XERR_OK && i < db_res_rows(res); i++)
		if ((rc = cell_text(res, i, STRIPE_EVENTS_S_ID, rows[i].id,
		    sizeof(rows[i].id), 0, &nulls)) == XERR_OK)
			rc = cell_text(res, i, STRIPE_EVENTS_S_STATUS,
			    rows[i].status, sizeof(rows[i].status), 0,
			    &nulls);
	if (rc == XERR_OK)
		*nrows = db_res_rows(res);
	db_res_free(res);
	return rc;
}

enum xerr
stripe_events_old(struct db *db, const char *status, int64_t before,
    size_t limit, struct stripe_events_old_row **rows, size_t *nrows)
{
	struct db_res	*res = NULL;
	struct dbv	 a[3];
	void		*v = NULL;
	enum xerr	 rc;

	*rows = NULL;
	*nrows = 0;
	a[0] = DB_STR(status);
	a[1] = DB_INT(before);
	a[2] = DB_INT((int64_t)limit);
	if ((rc = db_query(db, STMT_EVENT_PURGE_PICK, a, 3, &res)) != XERR_OK)
		return rc;
	rc = rows_read(res, stripe_events_old_cols,
	    sizeof(stripe_events_old_cols) / sizeof(stripe_events_old_cols[0]),
	    sizeof(**rows), offsetof(struct stripe_events_old_row, nulls), &v,
	    nrows);
	*rows = v;
	db_res_free(res);
	return rc;
}

enum xerr
stripe_events_delete(struct db *db, const char *const *ids, size_t n,
    uint64_t *deleted)
{
	struct dbv	 a[STRIPE_EVENTS_STATUS_IDS];
	enum xerr	 rc;

	*deleted = 0;
	if ((rc = stripe_events_ids(ids, n, a)) != XERR_OK)
		return rc;
	return db_exec(db, STMT_EVENT_DELETE_16, a, STRIPE_EVENTS_STATUS_IDS,
	    deleted, NULL);
}
