/*
 * jobs: the outbox of side effects.
 *
 * A cause (a webhook event, an API call) enqueues a job in its own
 * transaction; xsb-worker claims due jobs with SELECT ... FOR UPDATE SKIP
 * LOCKED under a lease, runs them, and marks them done, or schedules a
 * retry with exponential backoff and jitter, or marks them dead after
 * JOB_MAX_ATTEMPTS (a job waiting on Stripe's events: after three days).
 * A worker that dies leaves its lease to expire and the job is claimed
 * again (a running job's lease is renewed), so every job's side effect
 * must be idempotent
 * (Stripe Idempotency-Key, Twilio reconcile, e-mail Message-ID check).
 * A job whose lease ran out JOBS_LEASE_EXPIRIES times in a row is dead
 * instead: its run crashes or hangs its worker.
 *
 * A claim owns its job: every claim is an attempt more, and a run's
 * outcome and lease renewals change the job only while it is still
 * running under that claim (the worker and the attempt), so a run whose
 * lease ran out and whose job was claimed again, by any worker, changes
 * nothing.
 */
#ifndef JOBS_H
#define JOBS_H

#include <stdint.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/xerr.h"

struct db;

struct job {
	long long	 id;
	char		 kind[33];
	char		 dedupe_key[256];
	char		 user_id[65];		/* "" when none */
	int		 attempts;		/* including this one: the claim's */
	int64_t		 created;		/* Unix time it was queued */
	struct json_object *payload;		/* owned by the job */
	/* The outcome of the run, which jobs_record() stores. */
	int		 failed;		/* 0: done */
	int		 permanent;		/* failed: dead at once */
	/*
	 * failed: on something that has not arrived yet (Stripe's events of
	 * a subscription): retried past JOB_MAX_ATTEMPTS while the job is
	 * younger than JOBS_WAIT_SECONDS.
	 */
	int		 waiting;
	char		 error[512];		/* failed: why, no secret */
};

/*
 * Enqueues a job of kind for user_id (may be NULL) in the caller's
 * transaction.  A job with the same dedupe_key is kept as it is, so causes
 * redelivered enqueue once.  payload is borrowed.
 */
enum xerr	 jobs_enqueue(struct db *db, const char *kind,
		    const char *dedupe_key, const char *user_id,
		    struct json_object *payload);

/* As jobs_enqueue(), the job due at the Unix time at. */
enum xerr	 jobs_enqueue_at(struct db *db, const char *kind,
		    const char *dedupe_key, const char *user_id,
		    struct json_object *payload, int64_t at);

/*
 * Enqueues an e-mail notification to user_id, a job of kind "notify" with
 * fields (borrowed; "template" and "user_id" are added to it), in the
 * caller's transaction, once per template and subject: what the message is
 * about (an event id, a phone number's SID), so a cause seen again never
 * queues the same message twice.
 */
enum xerr	 jobs_notify(struct db *db, const char *user_id,
		    const char *tmpl, const char *subject,
		    struct json_object *fields);

/*
 * A job whose lease ran out this many times in a row (each time claimed
 * again; a recorded failure or an operator's retry starts the count
 * afresh) is made dead by the claim that finds it expired the last time,
 * not run again: its run crashed its worker (killed, out of memory, a
 * bug) or hung past WORKER_LEASE_RENEWALS (cgi/worker.c).  Attempts cannot
 * tell it: they count claims, and a waiting job goes past
 * JOB_MAX_ATTEMPTS.  A job running in the same worker when it crashed
 * counts the crash too, so the jobs beside a culprit that crashes every
 * worker it runs in may die with it (docs/OPERATIONS.md, "Dead jobs").
 */
#define JOBS_LEASE_EXPIRIES	3

/*
 * Claims up to max (>= 1) due jobs (pending and due, or running with an
 * expired lease) of kinds (comma-separated), the oldest first, for worker,
 * under a lease of JOB_LEASE_SECONDS, in one transaction: out[0..*n-1],
 * each freed by the caller with jobs_free().  *n is 0 when none is due.
 * An expired job at its JOBS_LEASE_EXPIRIES is made dead in the same
 * transaction (logged) and not returned.
 */
enum xerr	 jobs_claim_batch(struct db *db, const struct cfg *cfg,
		    const char *worker, const char *kinds, size_t max,
		    struct job **out, size_t *n);

/*
 * Records the outcome of each of jobs[0..n-1] (its failed, permanent and
 * error fields) under the claim that ran it (worker, its attempts): the
 * done ones with one statement, each failed one as jobs_fail() does, all
 * in one transaction.  A job claimed again meanwhile is left to that
 * claim (logged).  On an error nothing is recorded; the caller may run it
 * again (XERR_DEADLOCK), or leave the leases to expire so that the jobs
 * run again.
 */
enum xerr	 jobs_record(struct db *db, const struct cfg *cfg,
		    const char *worker, struct job *const *jobs, size_t n);

/*
 * Stripe redelivers an event for three days: a job waiting on one
 * (job.waiting) is retried that long after it was queued.
 */
#define JOBS_WAIT_SECONDS	(3 * 86400)

/* A claim a worker holds: its job, and the attempt the claim made. */
struct jobs_lease {
	long long	 id;
	int		 attempt;
};

/*
 * Renews the leases of the n claims that worker is running (a job that
 * outlasts its lease would be claimed again and run twice at once), with
 * one statement; *renewed gets how many it still held.  Errors of
 * db_exec().
 */
enum xerr	 jobs_extend(struct db *db, const struct cfg *cfg,
		    const char *worker, const struct jobs_lease *leases,
		    size_t n, size_t *renewed);

/*
 * Records a failed attempt of job under its claim (worker, job->attempts):
 * pending again after a backoff, or dead when the attempts are spent (or
 * permanent is set; a waiting job's attempts are spent once it is
 * JOBS_WAIT_SECONDS old); nothing when the job was claimed again
 * meanwhile (logged).  error is logged and stored, cut to 1000 bytes and
 * made valid UTF-8 (a remote's message cut in a character would have
 * MariaDB refuse the row, and with it the batch's outcomes); it must hold
 * no secret.
 */
enum xerr	 jobs_fail(struct db *db, const struct cfg *cfg,
		    const struct job *job, const char *worker,
		    const char *error, int permanent);

/* Returns the delay in seconds before attempt n+1 (n >= 1), with jitter. */
unsigned long	 jobs_backoff(const struct cfg *cfg, int attempts);

/* Frees a job. NULL is a no-op. */
void		 jobs_free(struct job *job);

/*
 * The outbox's retention (JOB_RETENTION_DAYS; 0: nothing is deleted):
 * deletes done jobs last changed longer ago than that, oldest first, in
 * statements of JOBS_PURGE_CHUNK, at most JOBS_PURGE_MAX in a call;
 * *deleted gets how many, *more is set when it stopped at that limit.
 * A dead job is never deleted (the operators' to-do, which the alert
 * counts), nor a done one whose row still guards a side effect: an
 * invoice_items job (its key marks a period billed before the rating
 * engine) and a notify job whose message is not recorded sent.  For the
 * other kinds a key queued again after its row is gone finds its effect's
 * own guard: bills_once and a posted bill, the notification sent, the
 * number claim, an event id never applied twice (docs/OPERATIONS.md).
 */
#define JOBS_PURGE_CHUNK	500
#define JOBS_PURGE_MAX		10000
enum xerr	 jobs_purge(struct db *db, const struct cfg *cfg,
		    size_t *deleted, int *more);

#endif
