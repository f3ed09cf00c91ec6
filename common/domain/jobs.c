#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/jobs_db.h"
#include "domain/jobs.h"

enum xerr
jobs_enqueue(struct db *db, const char *kind, const char *dedupe_key,
    const char *user_id, struct json_object *payload)
{
	const char	*p;

	p = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);
	if (p == NULL)
		return XERR_NOMEM;
	return jobs_db_insert(db, kind, dedupe_key, user_id, p);
}

enum xerr
jobs_enqueue_at(struct db *db, const char *kind, const char *dedupe_key,
    const char *user_id, struct json_object *payload, int64_t at)
{
	const char	*p;

	p = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);
	if (p == NULL)
		return XERR_NOMEM;
	return jobs_db_insert_at(db, kind, dedupe_key, user_id, p, at);
}

enum xerr
jobs_notify(struct db *db, const char *user_id, const char *tmpl,
    const char *subject, struct json_object *fields)
{
	char	 key[320];

	if (jsonx_add_str(fields, "template", tmpl) ||
	    jsonx_add_str(fields, "user_id", user_id))
		return XERR_NOMEM;
	snprintf(key, sizeof(key), "notify:%s:%s", tmpl, subject);
	return jobs_enqueue(db, "notify", key, user_id, fields);
}

unsigned long
jobs_backoff(const struct cfg *cfg, int attempts)
{
	unsigned long	 d = cfg->job_backoff_base_seconds;
	int		 i;

	for (i = 1; i < attempts && d < cfg->job_backoff_max_seconds; i++)
		d *= 2;
	if (d > cfg->job_backoff_max_seconds)
		d = cfg->job_backoff_max_seconds;
	/* Jitter: between half and the whole delay, so retries spread out. */
	if (d > 1)
		d = d / 2 + crypto_random_below((uint32_t)(d / 2 + 1));
	return d;
}

void
jobs_free(struct job *job)
{
	if (job == NULL)
		return;
	json_object_put(job->payload);
	free(job);
}

/* Returns the job of a claimed row c as a new job; NULL on no memory. */
static struct job *
jobs_from_claim(const struct jobs_db_claim *c)
{
	struct job	*job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->id = c->id;
	memcpy(job->kind, c->kind, sizeof(job->kind));
	memcpy(job->dedupe_key, c->dedupe_key, sizeof(job->dedupe_key));
	memcpy(job->user_id, c->user_id, sizeof(job->user_id));
	job->attempts = (int)c->attempts + 1;
	job->created = c->created;
	if (jsonx_parse(c->payload, c->payload_len, &job->payload) !=
	    XERR_OK) {
		log_errorx("job %lld: payload is not JSON", job->id);
		job->payload = json_object_new_object();
	}
	return job;
}

/*
 * Writes the ids of jobs[0..n-1] with done set to want_done (-1: all) as
 * a JSON array into ids (caller frees); *count is how many.  With claims
 * set, each is the pair [id, attempts] that names its claim (store/
 * jobs_db.h).
 */
static enum xerr
jobs_ids(struct job *const *jobs, size_t n, int want_done, int claims,
    struct buf **ids, size_t *count)
{
	size_t		 i;
	enum xerr	 rc;

	*count = 0;
	if ((*ids = buf_new(64 * 1024)) == NULL)
		return XERR_NOMEM;
	if ((rc = buf_puts(*ids, "[")) != XERR_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (want_done >= 0 && (jobs[i]->failed == 0) != want_done)
			continue;
		if (claims)
			rc = buf_printf(*ids, "%s[%lld,%d]", *count ? "," : "",
			    jobs[i]->id, jobs[i]->attempts);
		else
			rc = buf_printf(*ids, "%s%lld", *count ? "," : "",
			    jobs[i]->id);
		if (rc != XERR_OK)
			return rc;
		(*count)++;
	}
	return buf_puts(*ids, "]");
}

/*
 * Makes dead, in the claim's transaction, the job of c picked with its
 * lease expired for the JOBS_LEASE_EXPIRIES-th time in a row.
 */
static enum xerr
jobs_expired_dead(struct db *db, const struct jobs_db_claim *c)
{
	char	 error[512];

	snprintf(error, sizeof(error), "lease ran out %d times (its run "
	    "crashed or hung its worker; last held by %.200s)",
	    JOBS_LEASE_EXPIRIES, c->locked_by[0] ? c->locked_by : "-");
	jsonx_utf8_scrub(error);
	log_errorx("job %lld (%s) dead after %lld attempts: %s", c->id,
	    c->kind, c->attempts, error);
	return jobs_db_expired_dead(db, c->id, error);
}

/*
 * Picks up to max - *got jobs of which into out[*got..] and marks them
 * claimed by worker with one statement, in the caller's transaction.  On
 * an error the jobs read so far stay in out (counted in *got) for the
 * caller to free.
 */
static enum xerr
jobs_pick(struct db *db, const struct cfg *cfg, enum jobs_db_pick which,
    const char *worker, const char *kinds, size_t max, struct job **out,
    size_t *got)
{
	struct jobs_db_claim	*rows = NULL;
	struct buf		*ids = NULL;
	size_t			 i, first = *got, n, nrows;
	enum xerr		 rc;

	if ((rc = jobs_db_pick(db, which, kinds, max - *got, &rows,
	    &nrows)) != XERR_OK)
		return rc;
	for (i = 0; i < nrows && *got < max; i++) {
		if (which == JOBS_DB_EXPIRED &&
		    rows[i].expiries + 1 >= JOBS_LEASE_EXPIRIES) {
			if ((rc = jobs_expired_dead(db, &rows[i])) != XERR_OK)
				goto out;
			continue;
		}
		if ((out[*got] = jobs_from_claim(&rows[i])) == NULL) {
			rc = XERR_NOMEM;
			goto out;
		}
		(*got)++;
	}
	if (*got == first)
		goto out;
	if ((rc = jobs_ids(out + first, *got - first, -1, 0, &ids, &n)) !=
	    XERR_OK)
		goto out;
	rc = jobs_db_claim(db, which, buf_data(ids), cfg->job_lease_seconds,
	    worker);
out:
	buf_free(ids);
	jobs_db_claims_free(rows, nrows);
	return rc;
}

enum xerr
jobs_claim_batch(struct db *db, const struct cfg *cfg, const char *worker,
    const char *kinds, size_t max, struct job **out, size_t *n)
{
	size_t		 i, got = 0;
	enum xerr	 rc;

	*n = 0;
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	/* Jobs whose worker died first: they are the oldest. */
	if ((rc = jobs_pick(db, cfg, JOBS_DB_EXPIRED, worker, kinds,
	    max, out, &got)) != XERR_OK)
		goto fail;
	if (got < max && (rc = jobs_pick(db, cfg, JOBS_DB_DUE,
	    worker, kinds, max, out, &got)) != XERR_OK)
		goto fail;
	if ((rc = db_commit(db)) != XERR_OK)
		goto fail;
	*n = got;
	return XERR_OK;
fail:
	db_rollback(db);
	for (i = 0; i < got; i++) {
		jobs_free(out[i]);
		out[i] = NULL;
	}
	return rc;
}

enum xerr
jobs_record(struct db *db, const struct cfg *cfg, const char *worker,
    struct job *const *jobs, size_t n)
{
	struct buf	*ids = NULL;
	uint64_t	 affected = 0;
	size_t		 i, ndone;
	int		 txn;
	enum xerr	 rc;

	if (n == 0)
		return XERR_OK;
	if ((rc = jobs_ids(jobs, n, 1, 1, &ids, &ndone)) != XERR_OK)
		goto out;
	/* All done (the usual case): one statement, its own transaction. */
	txn = ndone < n;
	if (txn && (rc = db_begin(db)) != XERR_OK)
		goto out;
	if (ndone > 0) {
		if ((rc = jobs_db_done(db, buf_data(ids), worker,
		    &affected)) != XERR_OK)
			goto out;
		if (affected < ndone)
			log_warnx("%zu of %zu jobs: lease lost before done "
			    "(claimed again after it ran out; their side "
			    "effects are idempotent)", ndone - (size_t)affected,
			    ndone);
	}
	for (i = 0; i < n; i++)
		if (jobs[i]->failed && (rc = jobs_fail(db, cfg, jobs[i],
		    worker, jobs[i]->error, jobs[i]->permanent)) != XERR_OK)
			goto out;
	if (txn)
		rc = db_commit(db);
out:
	if (rc != XERR_OK && db_in_txn(db))
		db_rollback(db);
	buf_free(ids);
	return rc;
}

enum xerr
jobs_extend(struct db *db, const struct cfg *cfg, const char *worker,
    const struct jobs_lease *leases, size_t n, size_t *renewed)
{
	struct buf	*b;
	uint64_t	 affected = 0;
	size_t		 i;
	enum xerr	 rc;

	*renewed = 0;
	if (n == 0)
		return XERR_OK;
	if ((b = buf_new(48 * n + 8)) == NULL)
		return XERR_NOMEM;
	rc = buf_puts(b, "[");
	for (i = 0; rc == XERR_OK && i < n; i++)
		rc = buf_printf(b, "%s[%lld,%d]", i ? "," : "", leases[i].id,
		    leases[i].attempt);
	if (rc == XERR_OK && (rc = buf_puts(b, "]")) == XERR_OK &&
	    (rc = jobs_db_extend(db, buf_data(b), cfg->job_lease_seconds,
	    worker, &affected)) == XERR_OK)
		*renewed = (size_t)affected;
	buf_free(b);
	return rc;
}

enum xerr
jobs_fail(struct db *db, const struct cfg *cfg, const struct job *job,
    const char *worker, const char *error, int permanent)
{
	char		 text[1001];
	uint64_t	 affected = 0;
	int		 dead;
	unsigned long	 delay;
	enum xerr	 rc;

	/*
	 * At most 1000 bytes (last_error keeps 1000 characters), then valid
	 * UTF-8: MariaDB refuses a character cut, here or by a remote's
	 * client (Stripe's message at 200 bytes), and the batch's outcomes
	 * with it.
	 */
	snprintf(text, sizeof(text), "%s", error);
	jsonx_utf8_scrub(text);
	dead = permanent || ((unsigned long)job->attempts >=
	    cfg->job_max_attempts && !(job->waiting &&
	    (int64_t)time(NULL) - job->created < JOBS_WAIT_SECONDS));
	delay = dead ? 0 : jobs_backoff(cfg, job->attempts);
	if ((rc = jobs_db_fail(db, job->id, job->attempts, worker,
	    dead ? "dead" : "pending", delay, text, &affected)) != XERR_OK)
		return rc;
	if (affected == 0)
		log_warnx("job %lld (%s) attempt %d failed, not recorded: "
		    "claimed again after its lease ran out: %s", job->id,
		    job->kind, job->attempts, text);
	else if (dead)
		log_errorx("job %lld (%s) dead after %d attempts: %s",
		    job->id, job->kind, job->attempts, text);
	else
		log_warnx("job %lld (%s) attempt %d failed, retry in %lus: %s",
		    job->id, job->kind, job->attempts, delay, text);
	return XERR_OK;
}

enum xerr
jobs_purge(struct db *db, const struct cfg *cfg, size_t *deleted, int *more)
{
	uint64_t	 n;
	enum xerr	 rc;

	*deleted = 0;
	*more = 0;
	if (cfg->job_retention_days == 0)
		return XERR_OK;
	do {
		if ((rc = jobs_db_purge(db, cfg->job_retention_days,
		    JOBS_PURGE_CHUNK, &n)) != XERR_OK)
			return rc;
		*deleted += (size_t)n;
	} while (n == JOBS_PURGE_CHUNK && *deleted < JOBS_PURGE_MAX);
	*more = n == JOBS_PURGE_CHUNK;
	return XERR_OK;
}
