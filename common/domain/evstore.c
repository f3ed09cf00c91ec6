#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/batch.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/metrics_db.h"
#include "store/stmt.h"
#include "store/stripe_events.h"
#include "domain/events.h"
#include "domain/apply.h"
#include "domain/evstore.h"

#define EVSTORE_TXN_TRIES	3	/* a deadlocked one runs again */

/*
 * A small per-process memory of event ids whose outcome is final, so a
 * redelivery seen by this process again costs no database round trip.
 * Only final outcomes are remembered (never "failed"), and replays bypass
 * it; a lost entry only means one primary-key lookup more.
 *
 * What it remembers is what one server holds: after a failover DB_HOST
 * may lead to a promoted replica that never got an event this process
 * stored (semi-sync fallen back to async), and the operator resends it.
 * So each entry keeps the connection generation (db_generation()) read
 * before the statements that learnt it, and is trusted only while that
 * generation stands (no connection of the process established or lost
 * since) and while the server has answered the process in the last
 * EVSTORE_SEEN_FRESH_MS (a connection lost while idle is found only on
 * its next use).  Otherwise the delivery asks the database, whose answer
 * finds a lost connection and starts a new generation.
 *
 * Request threads read it on every delivery and committers write it, so
 * it takes no lock (a reader preempted while holding one would stall every
 * other request thread): each slot is a sequence lock.  A writer makes the
 * sequence odd (skipping the slot if another writer holds it), stores the
 * id and its generation, and makes it even again; a reader copies them
 * between two reads of an even, unchanged sequence, else it reports "not
 * seen".  They are kept in atomic words, so no access is a data race.
 */
#define EVSTORE_SEEN_SLOTS	4096
#define EVSTORE_SEEN_WORDS	8	/* ids up to 63 bytes */
#define EVSTORE_SEEN_FRESH_MS	1000

struct evstore_seen_slot {
	uint64_t	 seq;
	uint64_t	 gen;		/* db_generation() it was learnt in */
	uint64_t	 w[EVSTORE_SEEN_WORDS];
};

/*
 * The process's state.  A static, documented here: its users (a request
 * handler of the FastCGI pool, a worker job, an admin call) get no handle
 * to pass, and there is one per process.  seen is the memory above; q is
 * the group-commit queue, NULL until evstore_start (then each delivery is
 * stored on its caller's connection).  q is set before the request
 * threads start and never changes after.
 */
static struct {
	struct evstore_seen_slot	 seen[EVSTORE_SEEN_SLOTS];
	struct batch			*q;
} evstore_proc;

static struct evstore_seen_slot *
evstore_seen_slot(const char *id)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return &evstore_proc.seen[h % EVSTORE_SEEN_SLOTS];
}

/* Packs id (NUL-padded) into words; 0 when it does not fit. */
static int
evstore_seen_pack(const char *id, uint64_t w[EVSTORE_SEEN_WORDS])
{
	size_t	 len = strlen(id);

	if (len >= EVSTORE_SEEN_WORDS * 8)
		return 0;
	memset(w, 0, EVSTORE_SEEN_WORDS * 8);
	memcpy(w, id, len);
	return 1;
}

/*
 * Whether id was remembered with a final outcome in the current
 * connection generation, which the server still answers.
 */
static int
evstore_seen(const char *id)
{
	struct evstore_seen_slot	*sl = evstore_seen_slot(id);
	uint64_t		 want[EVSTORE_SEEN_WORDS], s0, s1, gen;
	size_t			 i;
	int			 same;

	if (!evstore_seen_pack(id, want))
		return 0;
	s0 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	if (s0 & 1)
		return 0;
	gen = __atomic_load_n(&sl->gen, __ATOMIC_RELAXED);
	same = gen == db_generation();
	for (i = 0; i < EVSTORE_SEEN_WORDS; i++)
		same &= __atomic_load_n(&sl->w[i], __ATOMIC_RELAXED) == want[i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s1 = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
	return same && s0 == s1 &&
	    db_answered_within(EVSTORE_SEEN_FRESH_MS);
}

/*
 * Remembers id, whose outcome is final, as learnt in generation gen (read
 * before the statements that learnt it).  A busy slot is skipped.
 */
static void
evstore_remember(const char *id, uint64_t gen)
{
	struct evstore_seen_slot	*sl = evstore_seen_slot(id);
	uint64_t		 w[EVSTORE_SEEN_WORDS], s;
	size_t			 i;

	if (!evstore_seen_pack(id, w))
		return;
	s = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
	if ((s & 1) || !__atomic_compare_exchange_n(&sl->seq, &s, s + 1, 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;		/* another writer has the slot */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&sl->gen, gen, __ATOMIC_RELAXED);
	for (i = 0; i < EVSTORE_SEEN_WORDS; i++)
		__atomic_store_n(&sl->w[i], w[i], __ATOMIC_RELAXED);
	__atomic_store_n(&sl->seq, s + 2, __ATOMIC_RELEASE);
}

/*
 * Reads the stored status of event id into status ("" when it is not
 * stored): stripe_events_status(), or with lock its row locked too.
 */
static enum xerr
evstore_stored_status(struct db *db, const char *id, int lock,
    char status[17])
{
	enum xerr	 rc;

	rc = lock ? stripe_events_lock_status(db, id, status) :
	    stripe_events_status(db, id, status);
	return rc == XERR_NOTFOUND ? XERR_OK : rc;
}

/* ev's stripe_events row, with its outcome and user. */
static void
evstore_row(const struct events_ev *ev, struct stripe_events_row *r)
{
	r->id = ev->id;
	r->type = ev->type;
	r->api_version = ev->api_version;
	r->livemode = ev->livemode;
	r->created = ev->created;
	r->object_id = ev->object_id;
	r->payload = ev->payload;
	r->len = ev->len;
	r->status = ev->status;
	r->user_id = ev->user_id[0] ? ev->user_id : NULL;
}

/* Records a failed attempt outside the rolled-back transaction. */
static void
evstore_record_failure(struct events_ev *ev)
{
	struct stripe_events_row r;

	evstore_row(ev, &r);
	if (stripe_events_fail(ev->db, &r, ev->err[0] ? ev->err :
	    "effect failed") != XERR_OK)
		log_warnx("event %s: could not record the failure", ev->id);
}

/*
 * Returns 1 when ev, stored with status st, is to be applied (again): a
 * failure; on a replay also an unmatched event, and an ignored one that
 * this release acts on (ev->t, apply_for(): a type handled since an older
 * node stored it during a rolling upgrade; never a test-mode event in
 * production, still ignored).
 */
static int
evstore_retryable(const char *st, const struct events_ev *ev, int replay)
{
	return strcmp(st, "failed") == 0 ||
	    (replay && strcmp(st, "unmatched") == 0) ||
	    (replay && strcmp(st, "ignored") == 0 && ev->t != NULL);
}

/*
 * An effect that met a duplicate key: a row it inserts was written by a
 * concurrent transaction (another node's, on Galera) since it looked, or
 * it conflicts for good (a customer already linked to another user).
 * Never the event's own row: run again as after a deadlock, the rerun
 * reads what the other wrote; when every try meets it, a failure.
 */
#define EVSTORE_EFFECT_DUP "an effect's row exists already (duplicate key)"

static enum xerr
evstore_effect_dup(struct events_ev *ev)
{
	log_info("event %s (%s): an effect met a duplicate key", ev->id,
	    ev->type);
	return events_fail(ev, XERR_DEADLOCK, "%s", EVSTORE_EFFECT_DUP);
}

/*
 * Inside a transaction: applies ev's effects, then inserts its row with
 * the outcome.  XERR_DUP only when the event's row exists (a duplicate,
 * or a stored failure to apply again).
 */
static enum xerr
evstore_store(struct events_ev *ev)
{
	struct stripe_events_row r;
	enum xerr	 rc;

	if ((rc = apply_effects(ev)) != XERR_OK)
		return rc == XERR_DUP ? evstore_effect_dup(ev) : rc;
	evstore_row(ev, &r);
	return stripe_events_insert(ev->db, &r);
}

/*
 * A type we do not act on is stored in one statement, outside a
 * transaction: "ignored", or "duplicate" when it is there already.  A
 * row stored "failed" (by a node of a release that acts on the type,
 * during a rolling upgrade) is left for that node's redelivery or an
 * operator, and not remembered: its outcome is not final.
 */
static enum xerr
evstore_ignored(struct events_ev *ev, const char **status)
{
	struct stripe_events_row r;
	uint64_t	 gen = db_generation();
	char		 stored[17] = "";
	enum xerr	 rc;

	ev->status = "ignored";
	ev->user_id[0] = '\0';
	evstore_row(ev, &r);
	rc = stripe_events_insert(ev->db, &r);
	if (rc == XERR_DUP && (rc = evstore_stored_status(ev->db, ev->id, 0,
	    stored)) == XERR_OK)
		*status = "duplicate";
	else if (rc == XERR_OK)
		*status = "ignored";
	if (rc == XERR_OK && !evstore_retryable(stored, ev, 0))
		evstore_remember(ev->id, gen);
	return rc;
}

/*
 * Inside a transaction: applies again an event stored "failed" (or
 * "unmatched" or "ignored", replayed: evstore_retryable()), one applier
 * at a time (its row locked), and
 * writes its new outcome.  *done set (a duplicate) when its row says it
 * needs nothing more.
 */
static enum xerr
evstore_again(struct events_ev *ev, int replay, int *done)
{
	char		 stored[17];
	enum xerr	 rc;

	*done = 0;
	if ((rc = evstore_stored_status(ev->db, ev->id, 1, stored)))
		return rc;
	if ((*done = !evstore_retryable(stored, ev, replay)))
		return XERR_OK;
	if ((rc = apply_effects(ev)) != XERR_OK)
		return rc == XERR_DUP ? evstore_effect_dup(ev) : rc;
	return stripe_events_finish(ev->db, ev->id, ev->status,
	    ev->user_id[0] ? ev->user_id : NULL);
}

/*
 * Effects first, then the event row with its outcome, in one transaction,
 * run again after a deadlock.  Concurrent deliveries of one event
 * serialize on the user's row and then on the event's key: the second
 * finds a duplicate and rolls back whatever it did.  Returns XERR_OK with
 * *status set, or an error: *failed set when it is the event's failure (to
 * be recorded), clear when nothing could be tried (no connection).
 */
static enum xerr
evstore_txn(struct events_ev *ev, int replay, const char **status,
    int *failed)
{
	struct db	*db = ev->db;
	uint64_t	 gen = db_generation();
	char		 stored[17] = "";
	int		 tries, again = 0, done;
	enum xerr	 rc;

	*failed = 0;
	for (tries = 0; tries < EVSTORE_TXN_TRIES; tries++) {
		if ((rc = db_begin(db)) != XERR_OK)
			return rc;
		if (again) {
			rc = evstore_again(ev, replay, &done);
			if (rc == XERR_OK && done) {
				db_rollback(db);
				*status = "duplicate";
				return XERR_OK;
			}
		} else if ((rc = evstore_store(ev)) == XERR_DUP) {
			/* Stored before us: a duplicate, unless it failed. */
			db_rollback(db);
			if ((rc = evstore_stored_status(db, ev->id, 0,
			    stored)) != XERR_OK)
				return rc;
			if (evstore_retryable(stored, ev, replay)) {
				again = 1;
				continue;
			}
			evstore_remember(ev->id, gen);
			*status = "duplicate";
			return XERR_OK;
		}
		if (rc == XERR_OK && (rc = db_commit(db)) == XERR_OK) {
			*status = ev->status;
			evstore_remember(ev->id, gen);
			if (strcmp(ev->status, "processed") != 0)
				log_info("event %s (%s): %s", ev->id, ev->type,
				    ev->status);
			return XERR_OK;
		}
		db_rollback(db);
		if (rc != XERR_DEADLOCK || tries + 1 >= EVSTORE_TXN_TRIES)
			break;
	}
	*failed = 1;
	/* Met on every try: a conflict that waiting does not end. */
	if (rc == XERR_DEADLOCK && strcmp(ev->err, EVSTORE_EFFECT_DUP) == 0)
		rc = XERR_CONFLICT;
	return rc != XERR_OK ? rc : XERR_INTERNAL;
}

/*
 * The event failed with rc: its reason into errbuf and the log, the
 * failure recorded (unless the connection is gone).  Returns the error
 * to answer.
 */
static enum xerr
evstore_failed(struct events_ev *ev, enum xerr rc, char *errbuf,
    size_t errsz)
{
	if (ev->err[0] == '\0')
		snprintf(ev->err, sizeof(ev->err), "%s", xerr_code(rc));
	snprintf(errbuf, errsz, "%s", ev->err);
	log_warnx("event %s (%s) failed: %s", ev->id, ev->type, ev->err);
	/* A database gone or read-only would not store the failure either. */
	if (rc != XERR_DB_GONE && rc != XERR_UNAVAILABLE)
		evstore_record_failure(ev);
	/*
	 * An effect that found the object unusable (no customer, no period)
	 * is a failed event like any other: stored, 500.  A 400 (BADREQ)
	 * means refused before anything was stored.
	 */
	if (rc == XERR_BADREQ)
		rc = XERR_UNPROCESSABLE;
	return rc;
}

/* Stores and applies a parsed event on db, in a transaction of its own. */
static enum xerr
evstore_apply_parsed(struct events_ev *ev, struct db *db, int replay,
    const char **status, char *errbuf, size_t errsz)
{
	int		 failed;
	enum xerr	 rc;

	*status = NULL;
	errbuf[0] = '\0';
	ev->db = db;
	if (!replay && evstore_seen(ev->id)) {
		*status = "duplicate";
		return XERR_OK;
	}
	if (ev->t == NULL && !replay)
		return evstore_ignored(ev, status);
	if ((rc = evstore_txn(ev, replay, status, &failed)) == XERR_OK ||
	    !failed)
		return rc;
	return evstore_failed(ev, rc, errbuf, errsz);
}

enum xerr
evstore_apply(struct db *db, const struct cfg *cfg, const char *payload,
    size_t len, int replay, const char **status, char *errbuf, size_t errsz)
{
	struct events_ev ev;
	enum xerr	 rc;

	*status = NULL;
	errbuf[0] = '\0';
	if ((rc = events_parse(&ev, cfg, payload, len, errbuf, errsz)) ==
	    XERR_OK) {
		ev.t = apply_for(&ev);
		rc = evstore_apply_parsed(&ev, db, replay, status, errbuf,
		    errsz);
	}
	events_free(&ev);
	return rc;
}

/*
 * Group commit, in a threaded xsb-webhook (evstore_start).  Request
 * threads verify and parse deliveries in parallel and queue them; a
 * committer thread takes whatever is queued (up to WEBHOOK_BATCH_MAX) and
 * stores the lot in one transaction, each event's effects then its row,
 * exactly as one delivery alone would; then it wakes each request thread
 * to answer.  Nothing is answered before the commit.  When any event of
 * a batch fails (an effect error, a duplicate key, a deadlock), the batch
 * is rolled back and each of its events is applied alone, on the path a
 * single delivery takes, so a batch never changes an outcome.
 */
struct evstore_pending {
	struct batch_item	 item;		/* the queue's */
	struct events_ev	*ev;		/* parsed, the submitter's */
	const char		*rid;		/* request id, for log lines */
	enum xerr		 rc;		/* the outcome, once done */
	const char		*status;
	char			 err[256];
	int			 alone;		/* apply outside the batch */
};

/*
 * A committer takes work when no other committer is busy, or when
 * EVSTORE_PIPELINE_MIN events wait (core/batch.h).
 */
#define EVSTORE_PIPELINE_MIN	8

/* A committer thread's own state. */
struct evstore_committer {
	const struct cfg	*cfg;
	struct db		*db;
	struct stripe_events_row *rows;		/* EVENTS_BATCH_LIMIT */
	struct metrics_db_count	*counts;	/* EVENTS_BATCH_LIMIT */
	unsigned int		 shard;		/* of metrics_event_counts */
	unsigned		 lookup_due;	/* batches: ids read first */
};

/*
 * Reads which events of the batch are stored already: a final outcome is
 * a duplicate (answered without a transaction, remembered as learnt in
 * generation gen), a failed one is applied alone.  On a database error
 * every event is applied alone.  Returns the number found.
 */
static size_t
evstore_batch_lookup(struct db *db, struct evstore_pending **it, size_t n,
    uint64_t gen)
{
	struct stripe_events_status_row rows[STRIPE_EVENTS_STATUS_IDS];
	const char	*ids[STRIPE_EVENTS_STATUS_IDS];
	size_t		 found = 0;
	const char	*id, *st;
	size_t		 i, j, k, m, nrows;

	for (i = 0; i < n; i += STRIPE_EVENTS_STATUS_IDS) {
		m = n - i < STRIPE_EVENTS_STATUS_IDS ? n - i :
		    STRIPE_EVENTS_STATUS_IDS;
		for (k = 0; k < m; k++)
			ids[k] = it[i + k]->ev->id;
		if (stripe_events_status_of(db, ids, m, rows, m, &nrows) !=
		    XERR_OK) {
			for (k = 0; k < n; k++)
				it[k]->alone = 1;
			return n;
		}
		found += nrows;
		for (j = 0; j < nrows; j++) {
			id = rows[j].id;
			st = rows[j].status;
			for (k = i; k < i + m; k++) {
				if (strcmp(it[k]->ev->id, id) != 0 ||
				    it[k]->status != NULL)
					continue;
				if (evstore_retryable(st, it[k]->ev, 0))
					it[k]->alone = 1;
				else {
					it[k]->status = "duplicate";
					evstore_remember(id, gen);
				}
			}
		}
	}
	return found;
}

/*
 * Writes into counts the events of rows by type and status; returns the
 * number of pairs.
 */
static size_t
evstore_batch_counts(const struct stripe_events_row *rows, size_t n,
    struct metrics_db_count *counts)
{
	size_t	 i, nc = 0;

	for (i = 0; i < n; i++)
		nc = metrics_db_tally(counts, nc, rows[i].type, rows[i].status);
	return nc;
}

/*
 * Runs the live events of the batch in one transaction: their users read
 * ahead, each event's effects in turn, then the unmatched ones kept aside
 * and all their rows, up to 16 a statement, counted for /metrics in the
 * committer's shard, then the commit, chained to the next transaction (no
 * START TRANSACTION round trip for the next batch).
 */
static enum xerr
evstore_batch_txn(struct evstore_committer *c, struct events_pre *pre,
    struct evstore_pending **it, size_t n)
{
	struct db		*db = c->db;
	struct stripe_events_row *rows = c->rows;
	struct evstore_pending	*p;
	size_t			 i, live = 0;
	enum xerr		 rc;

	/* After a batch the connection is already in the next transaction. */
	if (!db_in_txn(db) && (rc = db_begin(db)) != XERR_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (!it[i]->alone && it[i]->status == NULL)
			events_pre_add(pre, it[i]->ev);
	if ((rc = events_pre_read(db, pre)) != XERR_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		p = it[i];
		if (p->alone || p->status != NULL)
			continue;
		log_set_rid(p->rid);
		p->ev->pre = pre;
		rc = apply_effects(p->ev);
		p->ev->pre = NULL;
		if (rc != XERR_OK)
			goto fail;
		pre->applied[pre->napplied++] = p->ev;
		evstore_row(p->ev, &rows[live++]);
	}
	log_set_rid(NULL);
	if ((rc = events_pre_write(db, pre)) != XERR_OK ||
	    (rc = stripe_events_insert_rows(db, rows, live)) != XERR_OK ||
	    (rc = metrics_db_count(db, c->shard, c->counts,
	    evstore_batch_counts(rows, live, c->counts))) != XERR_OK ||
	    (rc = db_commit_chain(db)) != XERR_OK)
		goto fail;
	return XERR_OK;
fail:
	log_set_rid(NULL);
	db_rollback(db);
	return rc;
}

#define EVSTORE_LOOKUP_BATCHES	64

/* Stores the n queued events of it on the committer's connection. */
static void
evstore_batch(struct evstore_committer *c, struct evstore_pending **it,
    size_t n)
{
	struct db		*db = c->db;
	struct events_pre		 pre;
	struct evstore_pending	*p;
	uint64_t		 gen = db_generation();
	size_t			 i, j, live = 0;
	enum xerr		 rc;

	for (i = 0; i < n; i++) {
		p = it[i];
		p->ev->db = db;
		p->ev->pre = NULL;
		p->rc = XERR_OK;
		p->status = NULL;
		p->err[0] = '\0';
		/* Alone: one in a batch of one, or an id seen earlier in it. */
		p->alone = n == 1;
		for (j = 0; j < i && !p->alone; j++)
			p->alone = strcmp(it[j]->ev->id, p->ev->id) == 0;
	}
	/*
	 * Redeliveries of stored events come in runs (Stripe retrying after
	 * an outage, a replay): after a batch met one, the next batches look
	 * their ids up first instead of failing on the duplicate key.
	 */
	if (n > 1 && c->lookup_due > 0)
		c->lookup_due = evstore_batch_lookup(db, it, n, gen) > 0 ?
		    EVSTORE_LOOKUP_BATCHES : c->lookup_due - 1;
	for (i = 0; i < n; i++)
		live += !it[i]->alone && it[i]->status == NULL;
	if (live > 1) {
		memset(&pre, 0, sizeof(pre));
		rc = evstore_batch_txn(c, &pre, it, n);
		events_pre_free(&pre);
		if (rc == XERR_OK) {
			metrics_inc(METRICS_WEBHOOK_BATCHES);
			metrics_add(METRICS_WEBHOOK_BATCHED, live);
		} else
			metrics_inc(METRICS_WEBHOOK_BATCH_ROLLBACKS);
		if (rc == XERR_DUP)
			c->lookup_due = EVSTORE_LOOKUP_BATCHES;
		if (rc != XERR_OK)
			log_info("batch of %zu events: %s; each applied alone",
			    live, xerr_code(rc));
		for (i = 0; i < n; i++) {
			p = it[i];
			if (p->alone || p->status != NULL)
				continue;
			if (rc != XERR_OK) {
				p->alone = 1;
				continue;
			}
			p->status = p->ev->status;
			evstore_remember(p->ev->id, gen);
			log_set_rid(p->rid);
			if (strcmp(p->status, "processed") != 0)
				log_info("event %s (%s): %s", p->ev->id,
				    p->ev->type, p->status);
		}
	} else
		for (i = 0; i < n; i++)
			if (it[i]->status == NULL)
				it[i]->alone = 1;
	for (i = 0; i < n; i++) {
		p = it[i];
		if (!p->alone || p->status != NULL)	/* answered (lookup) */
			continue;
		if (db_in_txn(db))
			db_rollback(db);	/* the empty chained one */
		log_set_rid(p->rid);
		p->rc = evstore_apply_parsed(p->ev, db, 0, &p->status, p->err,
		    sizeof(p->err));
	}
	log_set_rid(NULL);
}

/* Opens a committer's own connection and buffers (batch_ops.open). */
static void *
evstore_committer_open(void *arg)
{
	struct evstore_committer	*c;

	jsonx_thread_init();
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cfg = arg;
	if (db_open(c->cfg, stmt_table(), &c->db) != XERR_OK ||
	    (c->rows = calloc(EVENTS_BATCH_LIMIT, sizeof(*c->rows))) == NULL ||
	    (c->counts = calloc(EVENTS_BATCH_LIMIT,
	    sizeof(*c->counts))) == NULL)
		log_fatalx("out of memory at start");
	/* Committers of other processes and nodes draw theirs too. */
	c->shard = 1 + crypto_random_below(METRICS_DB_SHARDS - 1);
	return c;
}

/* Runs a batch the queue hands a committer (batch_ops.run). */
static void
evstore_committer_run(void *state, struct batch_item **items, size_t n)
{
	struct evstore_pending	*it[EVENTS_BATCH_LIMIT];
	size_t			 i;

	for (i = 0; i < n; i++)
		it[i] = (struct evstore_pending *)(void *)((char *)items[i] -
		    offsetof(struct evstore_pending, item));
	/* It may leave the next (empty) transaction open: batch_txn. */
	evstore_batch(state, it, n);
}

enum xerr
evstore_start(const struct cfg *cfg)
{
	struct batch_ops	 ops = { "xsb-committer",
	    evstore_committer_open, evstore_committer_run,
	    (void *)(uintptr_t)cfg };
	size_t			 max;

	max = cfg->webhook_batch_max < EVENTS_BATCH_LIMIT ?
	    cfg->webhook_batch_max : EVENTS_BATCH_LIMIT;
	return batch_start(&ops, cfg->webhook_committers, max,
	    EVSTORE_PIPELINE_MIN, &evstore_proc.q);
}

enum xerr
evstore_deliver(struct events_ev *ev, struct db *db, const char *rid,
    const char **status, char *errbuf, size_t errsz)
{
	struct evstore_pending	 p;

	*status = NULL;
	errbuf[0] = '\0';
	ev->t = apply_for(ev);
	if (evstore_proc.q == NULL)
		return evstore_apply_parsed(ev, db, 0, status, errbuf, errsz);
	if (evstore_seen(ev->id)) {
		*status = "duplicate";
		return XERR_OK;
	}
	memset(&p, 0, sizeof(p));
	p.ev = ev;
	p.rid = rid;
	batch_submit(evstore_proc.q, &p.item);
	*status = p.status;
	snprintf(errbuf, errsz, "%s", p.err);
	return p.rc;
}

/* The final outcomes the purge deletes, each along its own range. */
static const char *const evstore_purged[] = { "processed", "ignored",
    "stale" };

/*
 * One chunk of the events of status received before the Unix time
 * before, in one transaction: locked, taken off the /metrics counts
 * (under the status each is counted as), deleted.  *n is how many were
 * read, *gone how many deleted (the same, or 0 after an error).
 */
static enum xerr
evstore_purge_chunk(struct db *db, const char *status, int64_t before,
    size_t *n, size_t *gone)
{
	struct stripe_events_old_row *rows = NULL;
	struct metrics_db_count	*counts = NULL;
	const char		*ids[STRIPE_EVENTS_STATUS_IDS];
	size_t			 i, k, m, nc = 0;
	uint64_t		 d;
	enum xerr		 rc;

	*n = *gone = 0;
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	if ((rc = stripe_events_old(db, status, before, EVSTORE_PURGE_CHUNK,
	    &rows, n)) != XERR_OK)
		goto out;
	if (*n > 0 && (counts = calloc(*n, sizeof(*counts))) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	for (i = 0; i < *n; i++)
		if (!(rows[i].nulls & STRIPE_EVENTS_OLD_UNCOUNTED))
			nc = metrics_db_tally(counts, nc, rows[i].type,
			    rows[i].metrics_status);
	if (nc > 0 && (rc = metrics_db_uncount(db, counts, nc)) != XERR_OK)
		goto out;
	for (i = 0; i < *n; i += m) {
		m = *n - i < STRIPE_EVENTS_STATUS_IDS ? *n - i :
		    STRIPE_EVENTS_STATUS_IDS;
		for (k = 0; k < m; k++)
			ids[k] = rows[i + k].id;
		if ((rc = stripe_events_delete(db, ids, m, &d)) != XERR_OK)
			goto out;
		*gone += (size_t)d;
	}
	/* Locked rows: each is there to delete, or the counts would drift. */
	if (*gone != *n) {
		log_warnx("events purge: %zu of %zu locked events deleted",
		    *gone, *n);
		rc = XERR_INTERNAL;
		goto out;
	}
	rc = db_commit(db);
out:
	if (rc != XERR_OK) {
		db_rollback(db);
		*n = *gone = 0;
	}
	free(rows);
	free(counts);
	return rc;
}

enum xerr
evstore_purge(struct db *db, const struct cfg *cfg, int64_t now,
    size_t *deleted, int *more)
{
	size_t			 s, n = 0, gone, tries;
	int64_t			 before;
	enum xerr		 rc = XERR_OK;

	*deleted = 0;
	*more = 0;
	if (cfg->event_retention_days == 0)
		return XERR_OK;
	before = now - (int64_t)cfg->event_retention_days * 86400;
	for (s = 0; s < sizeof(evstore_purged) / sizeof(evstore_purged[0]);
	    s++) {
		do {
			tries = 0;
			while ((rc = evstore_purge_chunk(db, evstore_purged[s],
			    before, &n, &gone)) == XERR_DEADLOCK &&
			    ++tries < DB_TRIES)
				db_retry_pause();
			*deleted += gone;
		} while (rc == XERR_OK && n == EVSTORE_PURGE_CHUNK &&
		    *deleted < EVSTORE_PURGE_MAX);
		if (rc != XERR_OK)
			return rc;
		if (n == EVSTORE_PURGE_CHUNK) {		/* at the limit */
			*more = 1;
			break;
		}
	}
	return XERR_OK;
}
