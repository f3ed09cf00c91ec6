#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/batch.h"
#include "core/db.h"
#include "core/metrics.h"
#include "store/stmt.h"
#include "domain/usage.h"
#include "domain/usage_reads.h"

/* The most requests a batch reads: what the store's statements hold. */
#define USAGE_READS_LIMIT	BILLING_READS_USERS_MAX
_Static_assert(USAGE_READS_LIMIT <= USAGE_EVENTS_SUMS_MAX,
    "a batch's users must fit one read of their sums");

/*
 * How far before the earliest period start of a batch its tier histories
 * are read: more than a month, so that a monthly subscription's renewal
 * before the period's own (the tier in force at its start) is read.
 */
#define USAGE_READS_HISTORY_BEFORE	(45 * 86400)

/* A request's read while it waits (the submitter's; see batch.h). */
struct usage_reads_pending {
	struct batch_item	 item;
	const char		*user_id;
	struct usage_reads_out	*out;
	enum xerr		 rc;
};

/* The reader's queue; NULL until usage_reads_start() (then each alone). */
static struct batch	*usage_reads_q;

/*
 * Gives each request of it (n) whose span (slot) is rated the history
 * entries of that span (rows with its slot, read from some moment before
 * its period on), when they hold the tier in force at the period's start:
 * the first of them took effect at that start or before.  Then they are
 * all a rating of the period looks at (rating_stretches()); the entries
 * before them are not.  A request left without (no entry that early, none
 * read, no memory) has usage_report_of() read the whole history on the
 * request's own connection.
 */
static void
usage_reads_histories(struct usage_reads_pending **it, size_t n,
    const size_t *slot, const struct tier_history_row *rows, size_t nrows)
{
	struct usage_reads_out	*o;
	size_t			 i, k, c;

	for (i = 0; i < n; i++) {
		o = it[i]->out;
		if (it[i]->rc != XERR_OK || !o->rated)
			continue;
		/* rows are in order of slot, then of effect */
		for (k = 0; k < nrows && rows[k].slot != slot[i]; k++)
			continue;
		if (k == nrows || rows[k].effective_at > o->start)
			continue;
		for (c = 0; k + c < nrows && rows[k + c].slot == slot[i]; c++)
			continue;
		if ((o->hist = calloc(c, sizeof(*o->hist))) == NULL)
			continue;
		memcpy(o->hist, &rows[k], c * sizeof(*o->hist));
		o->nhist = c;
	}
}

/*
 * Reads the n requests of it (1 to USAGE_READS_LIMIT) on db, at now: the
 * users in one round trip, then in another the sums of those found (each
 * user once) and the tier histories of the rated ones (their entries from
 * USAGE_READS_HISTORY_BEFORE before the earliest period on).
 */
static void
usage_reads_run_on(struct db *db, struct usage_reads_pending **it, size_t n,
    int64_t now)
{
	struct billing_reads_user	*users[USAGE_READS_LIMIT] = { NULL };
	const char			*ids[USAGE_READS_LIMIT] = { NULL };
	struct usage_events_span	 spans[USAGE_READS_LIMIT];
	struct usage_events_sums	 sums[USAGE_READS_LIMIT];
	struct tier_history_row		*hist = NULL;
	size_t				 slot[USAGE_READS_LIMIT];
	enum xerr			 found[USAGE_READS_LIMIT];
	struct usage_reads_out		*o;
	const struct billing_reads_user	*u;
	size_t				 i, j, m = 0, nhist = 0;
	int64_t				 since = now;
	enum xerr			 rc;

	for (i = 0; i < n; i++) {
		ids[i] = it[i]->user_id;
		users[i] = &it[i]->out->user;
	}
	if ((rc = billing_reads_users(db, ids, n, users, found)) != XERR_OK)
		for (i = 0; i < n; i++)
			found[i] = rc;
	for (i = 0; i < n; i++) {
		o = it[i]->out;
		it[i]->rc = o->user_rc = found[i];
		if (found[i] != XERR_OK)
			continue;
		u = &o->user;
		o->rated = usage_period_pick(usage_row_live(u), u->period_start,
		    u->period_end, now, &o->start, &o->end);
		/* One span per user: the same row and now, the same period. */
		for (j = 0; j < m && strcmp(spans[j].user_id, ids[i]) != 0; j++)
			continue;
		if ((slot[i] = j) == m) {
			spans[m].user_id = ids[i];
			spans[m].start = o->start;
			spans[m].end = o->end;
			spans[m++].subscription = o->rated ?
			    u->subscription_id : NULL;
		}
	}
	if (m == 0)
		return;
	for (j = 0; j < m; j++)
		if (spans[j].subscription != NULL && spans[j].start < since)
			since = spans[j].start;
	rc = usage_events_sums_many(db, spans, m,
	    since - USAGE_READS_HISTORY_BEFORE, sums, &hist, &nhist);
	for (i = 0; i < n; i++) {
		if (found[i] != XERR_OK)
			continue;
		if (rc != XERR_OK)
			it[i]->rc = rc;
		else
			it[i]->out->sums = sums[slot[i]];
	}
	if (rc == XERR_OK)
		usage_reads_histories(it, n, slot, hist, nhist);
	free(hist);
}

/* The reader's own connection (batch_ops.open). */
static void *
usage_reads_open(void *arg)
{
	const struct cfg	*cfg = arg;
	struct db		*db = NULL;

	if (db_open(cfg, stmt_table(), &db) != XERR_OK)
		return NULL;
	return db;
}

/* Reads a batch the queue hands the reader (batch_ops.run). */
static void
usage_reads_run(void *state, struct batch_item **items, size_t n)
{
	struct usage_reads_pending	*it[USAGE_READS_LIMIT];
	size_t				 i;

	for (i = 0; i < n; i++)
		it[i] = (struct usage_reads_pending *)(void *)
		    ((char *)items[i] - offsetof(struct usage_reads_pending,
		    item));
	usage_reads_run_on(state, it, n, (int64_t)time(NULL));
	if (n > 1) {
		metrics_inc(METRICS_USAGE_READ_BATCHES);
		metrics_add(METRICS_USAGE_READ_BATCHED, n);
	}
}

enum xerr
usage_reads_start(const struct cfg *cfg)
{
	struct batch_ops	 ops = { "xsb-usage-read", usage_reads_open,
	    usage_reads_run, (void *)(uintptr_t)cfg };
	size_t			 max;

	if (cfg->billing_read_batch_max <= 1)
		return XERR_OK;
	max = cfg->billing_read_batch_max < USAGE_READS_LIMIT ?
	    cfg->billing_read_batch_max : USAGE_READS_LIMIT;
	/* One reader: a second would only split the queue. */
	return batch_start(&ops, 1, max, max, &usage_reads_q);
}

enum xerr
usage_reads_get(struct db *db, const char *user_id,
    struct usage_reads_out *out)
{
	struct usage_reads_pending	 p, *one = &p;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.user_id = user_id;
	p.out = out;
	if (usage_reads_q == NULL)
		usage_reads_run_on(db, &one, 1, (int64_t)time(NULL));
	else
		batch_submit(usage_reads_q, &p.item);
	return p.rc;
}

void
usage_reads_out_free(struct usage_reads_out *out)
{
	if (out == NULL)
		return;
	free(out->hist);
	out->hist = NULL;
	out->nhist = 0;
}
