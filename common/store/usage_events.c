#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/usage_events.h"

/* The columns of STMT_USAGE_BY_KEY, in its order. */
enum usage_events_col {
	UE_C_ID,
	UE_C_USER,
	UE_C_KIND,
	UE_C_QUANTITY,
	UE_C_OCCURRED_AT,
	UE_C_SOURCE,
	UE_C_REPORTED_BY,
	UE_C__MAX
};

/* The columns of STMT_USAGE_SUM, in its order. */
enum usage_events_sum_col {
	UE_S_VOICE_SECONDS,
	UE_S_VOICE_MINUTES,
	UE_S_CALLS,
	UE_S_SMS,
	UE_S_PHONES,
	UE_S__MAX
};

/* Copies column c of row 0 into out (NULL: ""), as cell_text(). */
static enum xerr
usage_events_text(const struct db_res *res, enum usage_events_col c,
    char *out, size_t outsz)
{
	unsigned int	 nulls = 0;

	return cell_text(res, 0, c, out, outsz, 0, &nulls);
}

enum xerr
usage_events_insert(struct db *db, const char *user_id, const char *kind,
    int64_t quantity, int64_t occurred_at, const char *source,
    const char *idem_key, const char *reported_by)
{
	struct dbv	 a[7];

	a[0] = DB_STR(user_id);
	a[1] = DB_STR(kind);
	a[2] = DB_INT(quantity);
	a[3] = DB_INT(occurred_at);
	a[4] = DB_STR(source);
	a[5] = DB_STR(idem_key);
	a[6] = DB_STR(reported_by);
	return db_exec(db, STMT_USAGE_INSERT, a, 7, NULL, NULL);
}

enum xerr
usage_events_by_key(struct db *db, const char *idem_key,
    struct usage_events_row *row)
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	enum xerr	 rc;

	memset(row, 0, sizeof(*row));
	a[0] = DB_STR(idem_key);
	if ((rc = db_query(db, STMT_USAGE_BY_KEY, a, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else if (db_res_cols(res) != UE_C__MAX)
		rc = XERR_INTERNAL;
	else if ((rc = usage_events_text(res, UE_C_USER, row->user_id,
	    sizeof(row->user_id))) == XERR_OK &&
	    (rc = usage_events_text(res, UE_C_KIND, row->kind,
	    sizeof(row->kind))) == XERR_OK &&
	    (rc = usage_events_text(res, UE_C_SOURCE, row->source,
	    sizeof(row->source))) == XERR_OK &&
	    (rc = usage_events_text(res, UE_C_REPORTED_BY, row->reported_by,
	    sizeof(row->reported_by))) == XERR_OK) {
		row->id = db_res_int(res, 0, UE_C_ID, 0);
		row->quantity = db_res_int(res, 0, UE_C_QUANTITY, -1);
		row->occurred_at = db_res_int(res, 0, UE_C_OCCURRED_AT, 0);
	}
	db_res_free(res);
	if (rc != XERR_OK)
		memset(row, 0, sizeof(*row));
	return rc;
}

enum xerr
usage_events_kind_sum(struct db *db, const char *user_id, const char *kind,
    int64_t start, int64_t end, int64_t *sum)
{
	struct db_res	*res = NULL;
	struct dbv	 a[4];
	enum xerr	 rc;

	*sum = 0;
	a[0] = DB_STR(user_id);
	a[1] = DB_STR(kind);
	a[2] = DB_INT(start);
	a[3] = DB_INT(end);
	if ((rc = db_query(db, STMT_USAGE_KIND_SUM, a, 4, &res)) != XERR_OK)
		return rc;
	*sum = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	return XERR_OK;
}

enum xerr
usage_events_sums(struct db *db, const char *user_id, int64_t start,
    int64_t end, struct usage_events_sums *out)
{
	struct db_res	*res = NULL;
	struct dbv	 a[6];
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	a[0] = DB_STR(user_id);
	a[1] = DB_INT(end);
	a[2] = DB_INT(start);
	a[3] = DB_STR(user_id);
	a[4] = DB_INT(start);
	a[5] = DB_INT(end);
	if ((rc = db_query(db, STMT_USAGE_SUM, a, 6, &res)) != XERR_OK)
		return rc;
	out->voice_seconds = db_res_int(res, 0, UE_S_VOICE_SECONDS, 0);
	out->voice_minutes = db_res_int(res, 0, UE_S_VOICE_MINUTES, 0);
	out->calls = db_res_int(res, 0, UE_S_CALLS, 0);
	out->sms = db_res_int(res, 0, UE_S_SMS, 0);
	out->phones = db_res_int(res, 0, UE_S_PHONES, 0);
	db_res_free(res);
	return XERR_OK;
}

/* STMT_USAGE_SUMS_* of 2, 4, 8 and 16 parts. */
static const unsigned int usage_events_sums_many_stmts[] = {
	STMT_USAGE_SUMS_2, STMT_USAGE_SUMS_4, STMT_USAGE_SUMS_8,
	STMT_USAGE_SUMS_16,
};

/* A history entry of STMT_USAGE_SUMS_n while it is put in order. */
struct usage_events_hist {
	struct tier_history_row	 row;
	int64_t			 rank, id;
};

/* The order of tier_history_of(), within each slot. */
static int
usage_events_hist_cmp(const void *pa, const void *pb)
{
	const struct usage_events_hist	*a = pa, *b = pb;

	if (a->row.slot != b->row.slot)
		return a->row.slot < b->row.slot ? -1 : 1;
	if (a->row.effective_at != b->row.effective_at)
		return a->row.effective_at < b->row.effective_at ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/*
 * Copies the history entries (kind 2) of res, nh of them, into a new
 * *hist in order: columns subscription, effective_at, event_rank, id,
 * 0, 0, tier after the kind.
 */
static enum xerr
usage_events_hist_fill(const struct db_res *res, size_t nh,
    const struct usage_events_span *spans, size_t n,
    struct tier_history_row **hist, size_t *nhist)
{
	struct usage_events_hist	*h;
	const char			*sub;
	size_t				 i, j, k = 0;

	if (nh == 0)
		return XERR_OK;
	if ((h = calloc(nh, sizeof(*h))) == NULL)
		return XERR_NOMEM;
	for (j = 0; j < db_res_rows(res) && k < nh; j++) {
		if (db_res_int(res, j, 0, -1) != 2 ||
		    (sub = db_res_str(res, j, 1)) == NULL)
			continue;
		for (i = 0; i < n && (spans[i].subscription == NULL ||
		    strcmp(spans[i].subscription, sub) != 0); i++)
			continue;
		if (i == n)
			continue;
		h[k].row.slot = i;
		h[k].row.effective_at = db_res_int(res, j, 2, 0);
		h[k].rank = db_res_int(res, j, 3, 0);
		h[k].id = db_res_int(res, j, 4, 0);
		snprintf(h[k].row.tier, sizeof(h[k].row.tier), "%s",
		    db_res_str(res, j, 7) == NULL ? "" :
		    db_res_str(res, j, 7));
		k++;
	}
	qsort(h, k, sizeof(*h), usage_events_hist_cmp);
	if (k > 0 && (*hist = calloc(k, sizeof(**hist))) == NULL) {
		free(h);
		return XERR_NOMEM;
	}
	for (i = 0; i < k; i++)
		(*hist)[i] = h[i].row;
	*nhist = k;
	free(h);
	return XERR_OK;
}

enum xerr
usage_events_sums_many(struct db *db, const struct usage_events_span *spans,
    size_t n, int64_t hist_since, struct usage_events_sums *out,
    struct tier_history_row **hist, size_t *nhist)
{
	struct db_res			*res = NULL;
	struct dbv			 a[5 * USAGE_EVENTS_SUMS_MAX + 3], *v;
	const struct usage_events_span	*sp;
	struct usage_events_sums	*o;
	const char			*id;
	size_t				 i, j, m, k = 0, nh = 0, subs = 0;
	long long			 kind;
	int64_t				 lo, hi;
	enum xerr			 rc;

	*hist = NULL;
	*nhist = 0;
	if (n == 0 || n > USAGE_EVENTS_SUMS_MAX)
		return XERR_INTERNAL;
	memset(out, 0, n * sizeof(*out));
	for (i = 0; i < n; i++)
		subs += spans[i].subscription != NULL;
	if (n == 1 && subs == 0)
		return usage_events_sums(db, spans[0].user_id, spans[0].start,
		    spans[0].end, &out[0]);
	/* A user twice would have its ranges summed into one row. */
	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(spans[i].user_id, spans[j].user_id) == 0)
				return XERR_INTERNAL;
	/* The smallest statement that holds n, padded with the last span. */
	for (m = 2; m < n; m *= 2)
		k++;
	lo = spans[0].start;
	hi = spans[0].end;
	for (i = 0; i < m; i++) {
		sp = &spans[i < n ? i : n - 1];
		v = &a[3 * i];		/* the usage ranges */
		v[0] = DB_STR(sp->user_id);
		v[1] = DB_INT(sp->start);
		v[2] = DB_INT(sp->end);
		a[3 * m + i] = DB_STR(sp->user_id);	/* the numbers held */
		lo = sp->start < lo ? sp->start : lo;
		hi = sp->end > hi ? sp->end : hi;
		/* The subscriptions ('' matches none). */
		a[4 * m + 2 + i] = DB_STR(sp->subscription == NULL ? "" :
		    sp->subscription);
	}
	a[4 * m] = DB_INT(hi);
	a[4 * m + 1] = DB_INT(lo);
	a[5 * m + 2] = DB_INT(hist_since);
	if ((rc = db_query(db, usage_events_sums_many_stmts[k], a, 5 * m + 3,
	    &res)) != XERR_OK)
		return rc;
	/*
	 * Columns: 0 usage, 1 a number or 2 history, the user, then per
	 * kind: 0 one kind's sums (sms, quantity, minutes, count); 1 a
	 * holding (from, to), counted when it overlaps the user's period.
	 */
	for (j = 0; j < db_res_rows(res); j++) {
		if ((kind = db_res_int(res, j, 0, -1)) == 2) {
			nh++;
			continue;
		}
		if ((id = db_res_str(res, j, 1)) == NULL)
			continue;
		for (i = 0; i < n && strcmp(spans[i].user_id, id) != 0; i++)
			continue;
		if (i == n)
			continue;
		o = &out[i];
		if (kind == 1) {
			o->phones += db_res_int(res, j, 2, INT64_MAX) <
			    spans[i].end &&
			    db_res_int(res, j, 3, INT64_MAX) > spans[i].start;
			continue;
		}
		if (kind != 0)
			continue;
		if (db_res_int(res, j, 2, 0) == 1)
			o->sms = db_res_int(res, j, 3, 0);
		else {
			o->voice_seconds = db_res_int(res, j, 3, 0);
			o->voice_minutes = db_res_int(res, j, 4, 0);
			o->calls = db_res_int(res, j, 5, 0);
		}
	}
	rc = usage_events_hist_fill(res, nh, spans, n, hist, nhist);
	db_res_free(res);
	if (rc != XERR_OK)
		memset(out, 0, n * sizeof(*out));
	return rc;
}
