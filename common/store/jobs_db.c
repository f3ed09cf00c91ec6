#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/jobs_db.h"
#include "store/rows.h"
#include "store/stmt.h"

/* The columns of STMT_JOB_CLAIM_EXPIRED_N and _DUE_N, in their order. */
enum jobs_db_pick_col {
	JOBS_DB_P_ID,
	JOBS_DB_P_KIND,
	JOBS_DB_P_KEY,
	JOBS_DB_P_USER,
	JOBS_DB_P_PAYLOAD,
	JOBS_DB_P_ATTEMPTS,
	JOBS_DB_P_CREATED,
	JOBS_DB_P_EXPIRIES,
	JOBS_DB_P_LOCKED,
	JOBS_DB_P__MAX
};

/* The columns of STMT_ADMIN_USER_JOBS and _JOBS_BY_STATE, in their order. */
static const struct rows_col jobs_db_list_cols[] = {
	ROWS_INT_COL(struct jobs_db_row, id, 0),
	ROWS_TEXT_COL(struct jobs_db_row, kind, 0),
	ROWS_TEXT_COL(struct jobs_db_row, dedupe_key, 0),
	ROWS_TEXT_COL(struct jobs_db_row, user_id, JOBS_DB_NULL_USER),
	ROWS_TEXT_COL(struct jobs_db_row, state, 0),
	ROWS_INT_COL(struct jobs_db_row, attempts, 0),
	ROWS_INT_COL(struct jobs_db_row, run_after, 0),
	ROWS_TEXT_COL(struct jobs_db_row, last_error, JOBS_DB_NULL_ERROR),
	ROWS_INT_COL(struct jobs_db_row, created, 0),
	ROWS_INT_COL(struct jobs_db_row, updated, 0),
};

enum xerr
jobs_db_insert(struct db *db, const char *kind, const char *dedupe_key,
    const char *user_id, const char *payload)
{
	struct dbv	 a[4];

	a[0] = DB_STR(kind);
	a[1] = DB_STR(dedupe_key);
	a[2] = DB_STR(user_id);
	a[3] = DB_STR(payload);
	return db_exec(db, STMT_JOB_ENQUEUE, a, 4, NULL, NULL);
}

enum xerr
jobs_db_insert_at(struct db *db, const char *kind, const char *dedupe_key,
    const char *user_id, const char *payload, int64_t at)
{
	struct dbv	 a[5];

	a[0] = DB_STR(kind);
	a[1] = DB_STR(dedupe_key);
	a[2] = DB_STR(user_id);
	a[3] = DB_STR(payload);
	a[4] = DB_INT(at);
	return db_exec(db, STMT_JOB_ENQUEUE_AT, a, 5, NULL, NULL);
}

/* Fills c from row i of a pick. */
static enum xerr
jobs_db_claim_fill(const struct db_res *res, size_t i,
    struct jobs_db_claim *c)
{
	unsigned int	 n = 0;
	size_t		 len;
	enum xerr	 rc;

	c->id = db_res_int(res, i, JOBS_DB_P_ID, 0);
	c->attempts = db_res_int(res, i, JOBS_DB_P_ATTEMPTS, 0);
	c->created = db_res_int(res, i, JOBS_DB_P_CREATED, 0);
	c->expiries = db_res_int(res, i, JOBS_DB_P_EXPIRIES, 0);
	if ((rc = cell_text(res, i, JOBS_DB_P_KIND, c->kind, sizeof(c->kind),
	    0, &n)) != XERR_OK ||
	    (rc = cell_text(res, i, JOBS_DB_P_KEY, c->dedupe_key,
	    sizeof(c->dedupe_key), 0, &n)) != XERR_OK ||
	    (rc = cell_text(res, i, JOBS_DB_P_USER, c->user_id,
	    sizeof(c->user_id), JOBS_DB_NULL_USER, &n)) != XERR_OK ||
	    (rc = cell_text(res, i, JOBS_DB_P_LOCKED, c->locked_by,
	    sizeof(c->locked_by), JOBS_DB_NULL_LOCKED, &n)) != XERR_OK)
		return rc;
	c->nulls = n;
	len = db_res_len(res, i, JOBS_DB_P_PAYLOAD);
	if ((c->payload = malloc(len + 1)) == NULL)
		return XERR_NOMEM;
	if (len > 0)
		memcpy(c->payload, db_res_str(res, i, JOBS_DB_P_PAYLOAD), len);
	c->payload[len] = '\0';
	c->payload_len = len;
	return XERR_OK;
}

void
jobs_db_claims_free(struct jobs_db_claim *rows, size_t n)
{
	size_t	 i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++)
		free(rows[i].payload);
	free(rows);
}

enum xerr
jobs_db_pick(struct db *db, enum jobs_db_pick which, const char *kinds,
    size_t max, struct jobs_db_claim **rows, size_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[2];
	size_t		 i, nr;
	enum xerr	 rc;

	*rows = NULL;
	*n = 0;
	a[0] = DB_STR(kinds);
	a[1] = DB_INT((long long)max);
	if ((rc = db_query(db, which == JOBS_DB_EXPIRED ?
	    STMT_JOB_CLAIM_EXPIRED_N : STMT_JOB_CLAIM_DUE_N, a, 2, &res)) !=
	    XERR_OK)
		return rc;
	if ((nr = db_res_rows(res)) > max)
		nr = max;
	if (nr == 0)
		goto out;
	if (db_res_cols(res) != JOBS_DB_P__MAX) {
		rc = XERR_INTERNAL;
		goto out;
	}
	if ((*rows = calloc(nr, sizeof(**rows))) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if ((rc = jobs_db_claim_fill(res, i, &(*rows)[i])) != XERR_OK) {
			jobs_db_claims_free(*rows, i + 1);
			*rows = NULL;
			goto out;
		}
	}
	*n = nr;
out:
	db_res_free(res);
	return rc;
}

enum xerr
jobs_db_claim(struct db *db, enum jobs_db_pick which, const char *ids,
    unsigned long lease_seconds, const char *worker)
{
	struct dbv	 a[3];

	a[0] = DB_STR(ids);
	a[1] = DB_INT(lease_seconds);
	a[2] = DB_STR(worker);
	return db_exec(db, which == JOBS_DB_EXPIRED ?
	    STMT_JOB_CLAIM_MARK_EXPIRED_N : STMT_JOB_CLAIM_MARK_N, a, 3, NULL,
	    NULL);
}

enum xerr
jobs_db_expired_dead(struct db *db, long long id, const char *error)
{
	struct dbv	 a[2];

	a[0] = DB_STR(error);
	a[1] = DB_INT(id);
	return db_exec(db, STMT_JOB_EXPIRED_DEAD, a, 2, NULL, NULL);
}

enum xerr
jobs_db_extend(struct db *db, const char *claims, unsigned long lease_seconds,
    const char *worker, uint64_t *affected)
{
	struct dbv	 a[3];

	a[0] = DB_STR(claims);
	a[1] = DB_INT(lease_seconds);
	a[2] = DB_STR(worker);
	return db_exec(db, STMT_JOB_EXTEND_N, a, 3, affected, NULL);
}

enum xerr
jobs_db_done(struct db *db, const char *claims, const char *worker,
    uint64_t *affected)
{
	struct dbv	 a[2];

	a[0] = DB_STR(claims);
	a[1] = DB_STR(worker);
	return db_exec(db, STMT_JOB_DONE_N, a, 2, affected, NULL);
}

enum xerr
jobs_db_fail(struct db *db, long long id, long long attempt,
    const char *worker, const char *state, unsigned long delay,
    const char *error, uint64_t *affected)
{
	struct dbv	 a[6];

	a[0] = DB_STR(state);
	a[1] = DB_INT(delay);
	a[2] = DB_STR(error);
	a[3] = DB_INT(id);
	a[4] = DB_INT(attempt);
	a[5] = DB_STR(worker);
	return db_exec(db, STMT_JOB_FAIL, a, 6, affected, NULL);
}

/* Runs list s with a and reads its rows into *rows, *n. */
static enum xerr
jobs_db_list(struct db *db, enum stmt s, const struct dbv *a, size_t na,
    struct jobs_db_row **rows, size_t *n)
{
	struct db_res	*res = NULL;
	void		*v = NULL;
	enum xerr	 rc;

	*rows = NULL;
	*n = 0;
	if ((rc = db_query(db, s, a, na, &res)) != XERR_OK)
		return rc;
	rc = rows_read(res, jobs_db_list_cols, sizeof(jobs_db_list_cols) /
	    sizeof(jobs_db_list_cols[0]), sizeof(**rows),
	    offsetof(struct jobs_db_row, nulls), &v, n);
	*rows = v;
	db_res_free(res);
	return rc;
}

enum xerr
jobs_db_of_user(struct db *db, const char *user_id, long long limit,
    struct jobs_db_row **rows, size_t *n)
{
	struct dbv	 a[2];

	a[0] = DB_STR(user_id);
	a[1] = DB_INT(limit);
	return jobs_db_list(db, STMT_ADMIN_USER_JOBS, a, 2, rows, n);
}

enum xerr
jobs_db_in_state(struct db *db, const char *state, long long limit,
    struct jobs_db_row **rows, size_t *n)
{
	struct dbv	 a[2];

	a[0] = DB_STR(state);
	a[1] = DB_INT(limit);
	return jobs_db_list(db, STMT_ADMIN_JOBS_BY_STATE, a, 2, rows, n);
}

enum xerr
jobs_db_state(struct db *db, long long id, char state[17])
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	state[0] = '\0';
	a[0] = DB_INT(id);
	if ((rc = db_query(db, STMT_ADMIN_JOB_STATE, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else
		rc = cell_text(res, 0, 0, state, 17, 0, &nulls);
	db_res_free(res);
	return rc;
}

enum xerr
jobs_db_retry(struct db *db, long long id, uint64_t *affected)
{
	struct dbv	 a[1];

	a[0] = DB_INT(id);
	return db_exec(db, STMT_ADMIN_JOB_RETRY, a, 1, affected, NULL);
}

enum xerr
jobs_db_retry_dead(struct db *db, const char *kind, uint64_t *affected)
{
	struct dbv	 a[2];

	a[0] = DB_STR(kind);
	a[1] = DB_STR(kind);
	return db_exec(db, STMT_ADMIN_JOBS_RETRY_DEAD, a, 2, affected, NULL);
}

enum xerr
jobs_db_purge(struct db *db, unsigned long days, size_t limit,
    uint64_t *deleted)
{
	struct dbv	 a[3];

	*deleted = 0;
	a[0] = DB_INT((int64_t)days);
	a[1] = DB_INT((int64_t)days);
	a[2] = DB_INT((int64_t)limit);
	return db_exec(db, STMT_JOBS_PURGE, a, 3, deleted, NULL);
}
