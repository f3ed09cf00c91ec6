/*
 * worker: runs the jobs of the outbox (see domain/jobs.h).
 *
 * Each job kind has one runner.  A runner's side effect must be idempotent
 * because a job can run again after a crash: invoice items carry the
 * Idempotency-Key "<invoice id>:<kind>" (":r<n>" appended after Stripe
 * saved a failure under the key) and, after a 5xx or a timeout, are first
 * looked for on the invoice by their metadata[xsb_line]; phone purchases
 * reconcile with Twilio first, e-mails carry a Message-ID checked before
 * sending.
 */
#ifndef WORKER_H
#define WORKER_H

#include "core/xerr.h"

struct cfg;
struct db;
struct http;
struct job;

struct worker_ctx {
	const struct cfg	*cfg;
	struct db		*db;
	struct http		*http;
	char			 id[96];	/* host:pid, the lease owner */
};

/* Returns the comma-separated kinds this worker runs (static). */
const char	*worker_kinds(void);

#define WORKER_ID_MAX	64	/* jobs.locked_by's width */

/*
 * Writes the worker's id, "host:pid", into out (at least WORKER_ID_MAX +
 * 1 bytes), within WORKER_ID_MAX characters: of a longer host name, its
 * end (where generated names such as a pod's differ) is kept.  A longer
 * id would be refused by MariaDB's strict mode at every claim.
 */
void		 worker_id_make(char *out, size_t outsz, const char *host,
		    long pid);

/*
 * Runs one claimed job and sets its outcome in job (failed, permanent,
 * error), which jobs_record() stores.  Several threads may run jobs at
 * once, each with a worker_ctx of its own.
 */
void		 worker_run(struct worker_ctx *w, struct job *job);

#endif
