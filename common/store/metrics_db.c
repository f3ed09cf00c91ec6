#include <string.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/metrics_db.h"
#include "store/stmt.h"

/*
 * One family counted in the database: stmt's rows give the label values
 * (columns 0 .. nlabels-1) and, in column col, the value.
 */
struct metrics_db_q {
	const char	*name;
	const char	*type;
	const char	*help;
	const char	*labels[2];
	size_t		 nlabels;
	size_t		 col;
	const char	*only;		/* rows whose column 1 is this, or all */
};

/* Appends one family of the rows of res. */
static enum xerr
metrics_db_rows(struct buf *out, const struct metrics_db_q *q,
    const struct db_res *res)
{
	const char	*lb[4];
	size_t		 i, l;
	enum xerr	 rc;

	if ((rc = metrics_family(out, q->name, q->type, q->help)))
		return rc;
	for (i = 0; i < db_res_rows(res); i++) {
		if (q->only != NULL && (db_res_str(res, i, 1) == NULL ||
		    strcmp(db_res_str(res, i, 1), q->only) != 0))
			continue;
		for (l = 0; l < q->nlabels; l++) {
			lb[2 * l] = q->labels[l];
			lb[2 * l + 1] = db_res_str(res, i, l);
		}
		if ((rc = metrics_sample(out, q->name, lb, q->nlabels,
		    db_res_str(res, i, q->col))))
			return rc;
	}
	return XERR_OK;
}

static const struct metrics_db_q metrics_db_events[] = {
	{ "xsb_stripe_events", "gauge", "Stripe events stored, by type and "
	  "outcome (processed, ignored, unmatched, stale, failed).",
	  { "type", "status" }, 2, 2 },
};

static const struct metrics_db_q metrics_db_jobs[] = {
	{ "xsb_jobs", "gauge", "Jobs of the outbox not done yet, by kind "
	  "and state (pending, running, dead); absent means none.",
	  { "kind", "state" }, 2, 2 },
	{ "xsb_jobs_oldest_age_seconds", "gauge", "Age of the oldest job of "
	  "each kind and state, since it was enqueued.",
	  { "kind", "state" }, 2, 3 },
	{ "xsb_jobs_due", "gauge", "Pending jobs whose time has come, not "
	  "claimed yet.", { "kind", "state" }, 2, 4, "pending" },
	{ "xsb_jobs_due_lag_seconds", "gauge", "How long the oldest due "
	  "pending job has waited for a worker.", { "kind", "state" }, 2, 5,
	  "pending" },
};

static const struct metrics_db_q metrics_db_notifications[] = {
	{ "xsb_notifications", "gauge", "E-mail notifications by template "
	  "and state (sending, sent, failed).",
	  { "template", "state" }, 2, 2 },
};

static const struct metrics_db_q metrics_db_bills[] = {
	{ "xsb_bills_unposted", "gauge", "Bills rated but not yet all at "
	  "Stripe (docs/BILLING.md).", { NULL }, 0, 0 },
	{ "xsb_bill_reconcile_mismatches", "gauge", "Posted bills whose "
	  "lines the daily reconcile found different at Stripe.", { NULL }, 0,
	  1 },
	{ "xsb_bill_reconcile_errors", "gauge", "Posted bills the daily "
	  "reconcile could not check (reconcile_state error, the reason "
	  "in reconcile_detail).", { NULL }, 0, 3 },
	{ "xsb_usage_unbilled_rows", "gauge", "Usage rows of a final bill's "
	  "period that arrived after it: billed by no bill.", { NULL }, 0, 2 },
};

/*
 * Runs s and appends its families.  *qrc is the query's result: a query
 * that fails is logged and its families left out.
 */
static enum xerr
metrics_db_query(struct db *db, struct buf *out, enum stmt s,
    const struct metrics_db_q *qs, size_t n, enum xerr *qrc)
{
	struct db_res	*res = NULL;
	size_t		 i;
	enum xerr	 rc = XERR_OK;

	if ((*qrc = db_query(db, s, NULL, 0, &res)) != XERR_OK) {
		log_warnx("metrics: %s failed; its series are left out",
		    stmt_name(s));
		return XERR_OK;
	}
	for (i = 0; i < n && rc == XERR_OK; i++)
		rc = metrics_db_rows(out, &qs[i], res);
	db_res_free(res);
	return rc;
}

#define NQ(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Appends the families counted in MariaDB: events, then jobs,
 * notifications and bills.
 */
enum xerr
metrics_db_render(struct db *db, struct buf *out)
{
	enum xerr	 rc, qrc;

	if ((rc = metrics_db_query(db, out, STMT_METRICS_EVENTS, metrics_db_events,
	    NQ(metrics_db_events), &qrc)) != XERR_OK)
		return rc;
	if (qrc != XERR_OK)
		return qrc;
	if ((rc = metrics_db_query(db, out, STMT_METRICS_JOBS, metrics_db_jobs,
	    NQ(metrics_db_jobs), &qrc)) != XERR_OK)
		return rc;
	if ((rc = metrics_db_query(db, out, STMT_METRICS_NOTIFICATIONS,
	    metrics_db_notifications, NQ(metrics_db_notifications), &qrc)))
		return rc;
	return metrics_db_query(db, out, STMT_METRICS_BILLS, metrics_db_bills,
	    NQ(metrics_db_bills), &qrc);
}

#undef NQ

/*
 * One rollup transaction: up to chunk events and up to chunk
 * notifications marked with the next round and added to their counts.
 * *n is the larger of the two numbers.
 */
static enum xerr
metrics_db_rollup_chunk(struct db *db, size_t chunk, uint64_t *n)
{
	struct db_res	*res = NULL;
	struct dbv	 a[2];
	int64_t		 round;
	uint64_t	 nn = 0;
	enum xerr	 rc;

	*n = 0;
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = db_exec(db, STMT_METRICS_ROLLUP_NEXT, NULL, 0, NULL,
	    NULL)) != XERR_OK ||
	    (rc = db_query(db, STMT_METRICS_ROLLUP_ROUND, NULL, 0,
	    &res)) != XERR_OK)
		goto fail;
	rc = XERR_INTERNAL;
	if (db_res_rows(res) != 1 || (round = db_res_int(res, 0, 0, -1)) < 1)
		goto fail;
	a[0] = DB_INT(round);
	a[1] = DB_INT((int64_t)chunk);
	if ((rc = db_exec(db, STMT_METRICS_ROLLUP_MARK, a, 2, n,
	    NULL)) != XERR_OK)
		goto fail;
	a[1] = DB_INT(round);
	if (*n > 0 && (rc = db_exec(db, STMT_METRICS_ROLLUP_ADD, a, 2, NULL,
	    NULL)) != XERR_OK)
		goto fail;
	a[1] = DB_INT((int64_t)chunk);
	if ((rc = db_exec(db, STMT_METRICS_ROLLUP_NOTIF_MARK, a, 2, &nn,
	    NULL)) != XERR_OK)
		goto fail;
	a[1] = DB_INT(round);
	if (nn > 0 && (rc = db_exec(db, STMT_METRICS_ROLLUP_NOTIF_ADD, a, 2,
	    NULL, NULL)) != XERR_OK)
		goto fail;
	if (nn > *n)
		*n = nn;
	db_res_free(res);
	if ((rc = db_commit(db)) != XERR_OK)
		*n = 0;
	return rc;
fail:
	db_res_free(res);
	db_rollback(db);
	*n = 0;
	return rc;
}

enum xerr
metrics_db_rollup(struct db *db, size_t chunk, size_t *rolled)
{
	uint64_t	 n = 0;
	size_t		 tries = 0;
	enum xerr	 rc = XERR_OK;

	*rolled = 0;
	if (chunk == 0)
		return XERR_OK;
	while ((rc = metrics_db_rollup_chunk(db, chunk, &n)) == XERR_DEADLOCK &&
	    ++tries < DB_TRIES)
		db_retry_pause();
	if (rc == XERR_OK)
		*rolled = (size_t)n;
	return rc;
}

/* Pairs of one STMT_METRICS_COUNT_ADD_4 and its arguments per pair. */
#define METRICS_DB_COUNT_ROWS	4
#define METRICS_DB_COUNT_ARGS	4

size_t
metrics_db_tally(struct metrics_db_count *counts, size_t nc,
    const char *type, const char *status)
{
	size_t	 k;

	for (k = 0; k < nc; k++)
		if (strcmp(counts[k].type, type) == 0 &&
		    strcmp(counts[k].status, status) == 0)
			break;
	if (k == nc) {
		counts[nc].type = type;
		counts[nc].status = status;
		counts[nc++].n = 0;
	}
	counts[k].n++;
	return nc;
}

/* Adds sign times each of the n counts of c to shard's rows. */
static enum xerr
metrics_db_add(struct db *db, unsigned int shard,
    const struct metrics_db_count *c, size_t n, int sign)
{
	struct dbv	 a[METRICS_DB_COUNT_ROWS * METRICS_DB_COUNT_ARGS];
	const struct metrics_db_count *p;
	size_t		 i, k;
	enum xerr	 rc;

	if (shard >= METRICS_DB_SHARDS || !db_in_txn(db))
		return XERR_INTERNAL;
	for (i = 0; i < n; i += METRICS_DB_COUNT_ROWS) {
		/* Places past the last pair add 0 to it. */
		for (k = 0; k < METRICS_DB_COUNT_ROWS; k++) {
			p = &c[i + k < n ? i + k : n - 1];
			a[k * METRICS_DB_COUNT_ARGS] = DB_STR(p->type);
			a[k * METRICS_DB_COUNT_ARGS + 1] = DB_STR(p->status);
			a[k * METRICS_DB_COUNT_ARGS + 2] = DB_INT(shard);
			a[k * METRICS_DB_COUNT_ARGS + 3] =
			    DB_INT(i + k < n ? sign * p->n : 0);
		}
		if ((rc = db_exec(db, STMT_METRICS_COUNT_ADD_4, a,
		    METRICS_DB_COUNT_ROWS * METRICS_DB_COUNT_ARGS, NULL,
		    NULL)) != XERR_OK)
			return rc;
	}
	return XERR_OK;
}

enum xerr
metrics_db_count(struct db *db, unsigned int shard,
    const struct metrics_db_count *c, size_t n)
{
	if (shard == 0)
		return XERR_INTERNAL;
	return metrics_db_add(db, shard, c, n, 1);
}

enum xerr
metrics_db_uncount(struct db *db, const struct metrics_db_count *c,
    size_t n)
{
	return metrics_db_add(db, 0, c, n, -1);
}
