#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/usage_calls.h"

/* Places of STMT_CALL_BATCH_READ_32: as many ids, then as many keys. */
#define USAGE_CALLS_READ	32

/* The arguments of a row of STMT_CALL_USAGE_INSERT_*, in its order. */
enum usage_calls_arg {
	USAGE_CALLS_A_USER,
	USAGE_CALLS_A_KIND,
	USAGE_CALLS_A_QUANTITY,
	USAGE_CALLS_A_OCCURRED,
	USAGE_CALLS_A_SOURCE,
	USAGE_CALLS_A_KEY,
	USAGE_CALLS_A_REPORTED_BY,
	USAGE_CALLS_A__MAX
};

/* Sets out[k] to v at the places i <= k < i + m whose want[k] is got. */
static void
usage_calls_mark(const char *const *want, size_t i, size_t m,
    const char *got, unsigned char v, unsigned char *out)
{
	size_t	 k;

	for (k = i; k < i + m; k++)
		if (want[k] != NULL && strcmp(want[k], got) == 0)
			out[k] = v;
}

enum xerr
usage_calls_read(struct db *db, const char *const *ids,
    const char *const *keys, size_t n, unsigned char *known,
    unsigned char *recorded)
{
	struct db_res	*res = NULL;
	struct dbv	 a[2 * USAGE_CALLS_READ];
	const char	*v;
	long long	 w;
	size_t		 i, j, k, m;
	enum xerr	 rc;

	memset(known, 0, n);
	memset(recorded, 0, n);
	for (i = 0; i < n; i += USAGE_CALLS_READ) {
		m = n - i < USAGE_CALLS_READ ? n - i : USAGE_CALLS_READ;
		for (k = 0; k < USAGE_CALLS_READ; k++) {
			a[k] = k < m ? DB_STR(ids[i + k]) : DB_NULL;
			a[USAGE_CALLS_READ + k] = k < m && keys[i + k] != NULL ?
			    DB_STR(keys[i + k]) : DB_NULL;
		}
		if ((rc = db_query(db, STMT_CALL_BATCH_READ_32, a,
		    2 * USAGE_CALLS_READ, &res)) != XERR_OK)
			return rc;
		for (j = 0; j < db_res_rows(res); j++) {
			if ((v = db_res_str(res, j, 1)) == NULL)
				continue;
			/* Column 0: 0 a user's id, else who recorded a key. */
			w = db_res_int(res, j, 0, -1);
			if (w == 0)
				usage_calls_mark(ids, i, m, v, 1, known);
			else
				usage_calls_mark(keys, i, m, v, w ==
				    USAGE_CALLS_TWILIO ? USAGE_CALLS_TWILIO :
				    USAGE_CALLS_OTHER, recorded);
		}
		db_res_free(res);
		res = NULL;
	}
	return XERR_OK;
}

/* The checks of domain/usage.c's usage_insert(), on one row. */
static int
usage_calls_valid(const struct usage_calls_row *r)
{
	return (strcmp(r->kind, "voice") == 0 || strcmp(r->kind, "sms") == 0) &&
	    r->quantity >= 0 && r->quantity <= 1000000000LL &&
	    r->occurred_at > 0;
}

/* STMT_CALL_USAGE_INSERT_* of 1, 2, 4, 8 and 16 rows, for db_exec_rows(). */
static const unsigned int usage_calls_inserts[] = {
	STMT_CALL_USAGE_INSERT_1, STMT_CALL_USAGE_INSERT_2,
	STMT_CALL_USAGE_INSERT_4, STMT_CALL_USAGE_INSERT_8,
	STMT_CALL_USAGE_INSERT_16,
};

enum xerr
usage_calls_insert(struct db *db, const struct usage_calls_row *rows,
    size_t n, uint64_t *inserted)
{
	const struct usage_calls_row	*r;
	struct dbv			*a, *v;
	size_t				 i;
	enum xerr			 rc;

	*inserted = 0;
	for (i = 0; i < n; i++)
		if (!usage_calls_valid(&rows[i]))
			return XERR_BADREQ;
	if (n == 0)
		return XERR_OK;
	if ((a = calloc(n, USAGE_CALLS_A__MAX * sizeof(*a))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < n; i++) {
		r = &rows[i];
		v = &a[i * USAGE_CALLS_A__MAX];
		v[USAGE_CALLS_A_USER] = DB_STR(r->user_id);
		v[USAGE_CALLS_A_KIND] = DB_STR(r->kind);
		v[USAGE_CALLS_A_QUANTITY] = DB_INT(r->quantity);
		v[USAGE_CALLS_A_OCCURRED] = DB_INT(r->occurred_at);
		v[USAGE_CALLS_A_SOURCE] = DB_STR(r->source);
		v[USAGE_CALLS_A_KEY] = DB_STR(r->idem_key);
		v[USAGE_CALLS_A_REPORTED_BY] = DB_STR(r->reported_by);
	}
	rc = db_exec_rows(db, usage_calls_inserts,
	    sizeof(usage_calls_inserts) / sizeof(usage_calls_inserts[0]), a,
	    USAGE_CALLS_A__MAX, n, inserted);
	free(a);
	return rc;
}

enum xerr
usage_calls_take(struct db *db, const char *key, const char *user_id,
    char *was_user, size_t wsz, int64_t quantity, int64_t *was, int *taken)
{
	struct db_res	*res = NULL;
	struct dbv	 a[3];
	const char	*u;
	uint64_t	 changed = 0;
	int64_t		 id;
	enum xerr	 rc;

	*was = -1;
	*taken = 0;
	if (wsz > 0)
		was_user[0] = '\0';
	a[0] = DB_STR(key);
	if ((rc = db_query(db, STMT_CALL_USAGE_OTHER_LOCK, a, 1, &res)))
		return rc;
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return XERR_OK;
	}
	id = db_res_int(res, 0, 0, 0);
	*was = db_res_int(res, 0, 1, 0);
	if ((u = db_res_str(res, 0, 2)) != NULL && wsz > 0)
		snprintf(was_user, wsz, "%s", u);
	db_res_free(res);
	a[0] = DB_INT(quantity);
	a[1] = DB_STR(user_id);
	a[2] = DB_INT(id);
	if ((rc = db_exec(db, STMT_CALL_USAGE_TAKE, a, 3, &changed, NULL)))
		return rc;
	*taken = changed > 0;
	return XERR_OK;
}
