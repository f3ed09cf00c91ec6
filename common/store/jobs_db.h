/*
 * jobs_db: typed access to the jobs table (sql/002_webhook.sql), the
 * outbox that domain/jobs.h runs.  The file and its prefix are jobs_db,
 * not jobs, because domain/jobs owns the module name jobs_ (as
 * metrics_db beside core/metrics).  Only jobs_db.c knows the columns of
 * the statements it runs (store/stmt.c); callers see the structs below.
 *
 * A row is the caller's: every text is copied into fixed arrays sized by
 * the schema's widths (a claimed job's payload, up to a TEXT, into memory
 * of its own), so nothing is borrowed from the database.  A column that
 * is SQL NULL reads as "" or 0 and has its bit in nulls (JOBS_DB_NULL_*).
 * Every function runs in the caller's transaction when there is one.
 * Errors: those of db_query() and db_exec(); XERR_DB when a stored text is
 * longer than its field (never, with the schema's widths); XERR_NOMEM.
 */
#ifndef JOBS_DB_H
#define JOBS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Bits of the nulls of a row. */
#define JOBS_DB_NULL_USER	0x01u	/* user_id */
#define JOBS_DB_NULL_ERROR	0x02u	/* last_error */
#define JOBS_DB_NULL_LOCKED	0x04u	/* locked_by */

/* Which due jobs jobs_db_pick() reads, and how jobs_db_claim() marks them. */
enum jobs_db_pick {
	JOBS_DB_EXPIRED,	/* running, with a lease expired: one expiry more */
	JOBS_DB_DUE,		/* pending, due now */
};

/* A job picked to be claimed. */
struct jobs_db_claim {
	long long	 id;
	char		 kind[33];
	char		 dedupe_key[256];
	char		 user_id[65];		/* "" when NULL */
	long long	 attempts;		/* before this claim */
	int64_t		 created;		/* Unix time */
	long long	 expiries;		/* before this claim (sql/023) */
	char		 locked_by[257];	/* the last claim's worker, "" */
	char		*payload;		/* owned, NUL-terminated */
	size_t		 payload_len;
	unsigned int	 nulls;			/* JOBS_DB_NULL_USER, _LOCKED */
};

/* A job as the admin API lists it. */
struct jobs_db_row {
	int64_t		 id;
	char		 kind[33];
	char		 dedupe_key[256];
	char		 user_id[65];
	char		 state[17];
	int64_t		 attempts;
	int64_t		 run_after;		/* Unix time */
	char		 last_error[4097];	/* VARCHAR(1024), utf8mb4 */
	int64_t		 created;
	int64_t		 updated;
	unsigned int	 nulls;			/* JOBS_DB_NULL_* */
};

/*
 * Inserts a job (STMT_JOB_ENQUEUE; user_id may be NULL); one with the same
 * dedupe_key is kept as it is.
 */
enum xerr	 jobs_db_insert(struct db *db, const char *kind,
		    const char *dedupe_key, const char *user_id,
		    const char *payload);

/*
 * Inserts a job (STMT_JOB_ENQUEUE_AT; user_id may be NULL) due at the Unix
 * time at; one with the same dedupe_key is kept as it is.
 */
enum xerr	 jobs_db_insert_at(struct db *db, const char *kind,
		    const char *dedupe_key, const char *user_id,
		    const char *payload, int64_t at);

/*
 * Reads and locks (FOR UPDATE SKIP LOCKED) up to max jobs of which, of
 * kinds (comma-separated), the oldest first, into a new array *rows of *n
 * (freed with jobs_db_claims_free(); NULL when none).
 */
enum xerr	 jobs_db_pick(struct db *db, enum jobs_db_pick which,
		    const char *kinds, size_t max, struct jobs_db_claim **rows,
		    size_t *n);

/* Frees rows[0..n-1] and the array.  NULL is a no-op. */
void		 jobs_db_claims_free(struct jobs_db_claim *rows, size_t n);

/*
 * Marks the jobs of ids (a JSON array of ids, "[4,7]"), picked as which,
 * running for worker under a lease of lease_seconds, an attempt more (and
 * for JOBS_DB_EXPIRED an expiry more), with one statement.
 */
enum xerr	 jobs_db_claim(struct db *db, enum jobs_db_pick which,
		    const char *ids, unsigned long lease_seconds,
		    const char *worker);

/*
 * Makes dead job id, picked with its lease expired (JOBS_DB_EXPIRED), an
 * expiry more, with error (valid UTF-8) as its last_error.
 */
enum xerr	 jobs_db_expired_dead(struct db *db, long long id,
		    const char *error);

/*
 * A claim is named by its job and the attempt it made ("attempts" after
 * jobs_db_claim()): the functions below change a job only while worker
 * holds it running under that claim, so that a run whose job was claimed
 * again (by another worker, or by worker once the lease ran out) changes
 * nothing.  claims is a JSON array of [id, attempt] pairs, "[[4,1],[7,3]]".
 */

/*
 * Renews for lease_seconds from now the leases of claims that worker
 * still holds, with one statement; *affected gets how many.
 */
enum xerr	 jobs_db_extend(struct db *db, const char *claims,
		    unsigned long lease_seconds, const char *worker,
		    uint64_t *affected);

/*
 * Marks done the jobs of claims that worker still holds, with one
 * statement; *affected gets how many.
 */
enum xerr	 jobs_db_done(struct db *db, const char *claims,
		    const char *worker, uint64_t *affected);

/*
 * Records a failed attempt of job id under the claim of attempt that
 * worker holds: state ("pending" or "dead"), due after delay seconds, with
 * error (valid UTF-8: MariaDB refuses a column of utf8mb4 anything else),
 * its lease expiries counted afresh; *affected is 0 when the claim was no
 * longer held.
 */
enum xerr	 jobs_db_fail(struct db *db, long long id, long long attempt,
		    const char *worker, const char *state, unsigned long delay,
		    const char *error, uint64_t *affected);

/*
 * The admin API's lists, newest first, up to limit rows into a new array
 * *rows of *n (the caller frees it; NULL when none): the jobs of a user,
 * the jobs in a state.
 */
enum xerr	 jobs_db_of_user(struct db *db, const char *user_id,
		    long long limit, struct jobs_db_row **rows, size_t *n);
enum xerr	 jobs_db_in_state(struct db *db, const char *state,
		    long long limit, struct jobs_db_row **rows, size_t *n);

/*
 * Reads the state of job id into state (17 bytes).  XERR_NOTFOUND when
 * there is no such job.
 */
enum xerr	 jobs_db_state(struct db *db, long long id, char state[17]);

/*
 * Makes job id, when dead or pending, pending and due now with its
 * attempts and lease expiries afresh; *affected is 0 when it was neither
 * (or is no job).
 */
enum xerr	 jobs_db_retry(struct db *db, long long id, uint64_t *affected);

/*
 * Makes every dead job of kind ("" for all) pending and due now with its
 * attempts and lease expiries afresh; *affected gets how many.
 */
enum xerr	 jobs_db_retry_dead(struct db *db, const char *kind,
		    uint64_t *affected);

/*
 * Deletes up to limit done jobs last changed more than days ago, oldest
 * first, but none whose row still guards a side effect (STMT_JOBS_PURGE
 * says which); *deleted gets how many.  Its own statement: a transaction
 * when the caller has none.
 */
enum xerr	 jobs_db_purge(struct db *db, unsigned long days, size_t limit,
		    uint64_t *deleted);

#endif
