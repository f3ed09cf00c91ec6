/*
 * xsb-worker: runs the outbox's jobs until SIGTERM.
 *
 * Several workers may run at once, on one machine or many: jobs are
 * claimed with SELECT ... FOR UPDATE SKIP LOCKED under a lease.  A stop
 * signal lets the jobs in hand finish; a killed worker's jobs are claimed
 * again when their leases expire.
 *
 * Inside one worker, WORKER_CONCURRENCY runner threads (a database and an
 * HTTP handle each) run jobs at once, since a job's time is mostly a
 * remote call's.  The main thread claims as many due jobs as there are
 * idle runners, in one transaction, and records the outcomes of the jobs
 * finished since its last look, in one transaction.  A job is claimed
 * only for a runner that starts it at once; while it runs, the main
 * thread renews its lease every third of JOB_LEASE_SECONDS (a job slower
 * than its lease, Stripe or Twilio being slow, is not claimed again and
 * run twice at once; the main thread waits at most WORKER_POLL_MS, which
 * cfg_load() keeps under a third of the lease), for at most
 * WORKER_LEASE_RENEWALS leases; its outcome is recorded as soon as the
 * main thread sees it, under the claim that ran it (domain/jobs.h).
 *
 * A rollup thread (its own database connection) rolls the stored Stripe
 * events into the counts /metrics reads every METRICS_ROLLUP_SECONDS
 * (metrics_db_rollup(); sql/012_metrics_rollup.sql).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/metrics_db.h"
#include "store/stmt.h"
#include "domain/jobs.h"
#include "app/worker.h"

#define WORKER_MAX_CONCURRENCY	64

/*
 * Events per rollup transaction (a few tens of ms of row locks), and the
 * most one run takes on (a backlog, such as a table's first rollup after
 * the migration, goes on at the next run).
 */
#define WORKER_ROLLUP_CHUNK	5000
#define WORKER_ROLLUP_MAX	1000000

/*
 * A job kind whose run does nothing: the claim, the lease and the record
 * of the outcome alone (benchmarks, checks of a deployment's queue).
 */
#define WORKER_NOOP	"noop"

/*
 * A job still running after this many leases is left to its lease: it is
 * claimed again, as a worker's that died would be (the outcome of the run
 * left behind then changes nothing), and it is dead once its lease ran out
 * JOBS_LEASE_EXPIRIES times in a row.
 */
#define WORKER_LEASE_RENEWALS	10

/*
 * The claims not yet recorded, and when they were made: the main
 * thread's.  A job may be held twice (its lease ran out and this worker
 * claimed it again): each claim is its own, named by its attempt.
 */
static struct {
	struct jobs_lease lease;
	time_t		 at;
	int		 left;		/* past WORKER_LEASE_RENEWALS (logged) */
} held[WORKER_MAX_CONCURRENCY];
static size_t	 nheld;

static volatile sig_atomic_t stop;

/* What the main thread and the runners share, under mu. */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 todo_cv;	/* a job to run, or the stop */
	pthread_cond_t	 done_cv;	/* a job finished */
	struct job	*todo[WORKER_MAX_CONCURRENCY];
	size_t		 ntodo;
	struct job	*done[WORKER_MAX_CONCURRENCY];
	size_t		 ndone;
	size_t		 inflight;	/* claimed, outcome not yet taken */
	int		 quit;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
    PTHREAD_COND_INITIALIZER, { NULL }, 0, { NULL }, 0, 0, 0 };

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Sleeps ms milliseconds or until a signal. */
static void
nap(unsigned long ms)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/*
 * The rollup thread: a run every cfg->metrics_rollup_seconds, the first at
 * start, until the stop.
 */
static void *
rollup_main(void *arg)
{
	struct worker_ctx *w = arg;
	unsigned long	 waited;
	size_t		 n, total;
	enum xerr	 rc;

	while (!stop) {
		/* A chunk at a time, so that a stop is not kept waiting. */
		total = 0;
		do {
			rc = metrics_db_rollup(w->db, WORKER_ROLLUP_CHUNK, &n);
			total += n;
		} while (rc == XERR_OK && n == WORKER_ROLLUP_CHUNK && !stop &&
		    total < WORKER_ROLLUP_MAX);
		if (rc != XERR_OK)
			log_warnx("metrics rollup: %s after %zu events",
			    xerr_code(rc), total);
		else if (total > 0)
			log_debug("metrics rollup: %zu events", total);
		for (waited = 0; !stop && waited <
		    w->cfg->metrics_rollup_seconds * 1000; waited += 200)
			nap(200);
	}
	return NULL;
}

/* A runner thread: runs the jobs handed to it until told to quit. */
static void *
runner_main(void *arg)
{
	struct worker_ctx *w = arg;
	struct job	*job;

	jsonx_thread_init();
	for (;;) {
		pthread_mutex_lock(&q.mu);
		while (q.ntodo == 0 && !q.quit)
			pthread_cond_wait(&q.todo_cv, &q.mu);
		if (q.ntodo == 0) {
			pthread_mutex_unlock(&q.mu);
			break;
		}
		job = q.todo[--q.ntodo];
		pthread_mutex_unlock(&q.mu);

		log_set_rid(job->dedupe_key);
		if (strcmp(job->kind, WORKER_NOOP) == 0)
			job->failed = 0;
		else
			worker_run(w, job);
		log_set_rid(NULL);

		pthread_mutex_lock(&q.mu);
		q.done[q.ndone++] = job;
		pthread_cond_signal(&q.done_cv);
		pthread_mutex_unlock(&q.mu);
	}
	return NULL;
}

/*
 * Records the outcomes of jobs[0..n-1] in one transaction (again after a
 * deadlock), then frees them.  Unrecorded, their leases expire and they
 * run again: every job's side effect is idempotent.
 */
static void
record(struct db *db, const struct cfg *cfg, const char *id,
    struct job **jobs, size_t n)
{
	size_t		 i;
	int		 tries;
	enum xerr	 rc = XERR_OK;

	for (tries = 1; n > 0; tries++) {
		rc = jobs_record(db, cfg, id, jobs, n);
		if (rc != XERR_DEADLOCK || tries >= DB_TRIES)
			break;
		db_retry_pause();
	}
	if (rc != XERR_OK)
		log_warnx("%zu jobs: outcomes not recorded (%s); their leases "
		    "will expire and they will run again", n, xerr_code(rc));
	for (i = 0; i < n; i++)
		jobs_free(jobs[i]);
}

/*
 * Claims up to room due jobs and hands them to the runners.  Returns the
 * number claimed, or -1 when the database is away or a race was lost.
 */
static long
claim(struct db *db, const struct cfg *cfg, const char *id,
    const char *kinds, size_t room, int *conflicts)
{
	struct job	*got[WORKER_MAX_CONCURRENCY];
	size_t		 n = 0, i;
	enum xerr	 rc;

	rc = jobs_claim_batch(db, cfg, id, kinds, room, got, &n);
	if (rc == XERR_DEADLOCK && *conflicts < DB_TRIES) {
		/* Lost a race for a job: try again soon, jittered. */
		(*conflicts)++;
		db_retry_pause();
		return 0;
	}
	*conflicts = 0;
	if (rc != XERR_OK)
		return -1;
	if (n == 0)
		return 0;
	for (i = 0; i < n && nheld < WORKER_MAX_CONCURRENCY; i++) {
		held[nheld].lease.id = got[i]->id;
		held[nheld].lease.attempt = got[i]->attempts;
		held[nheld].left = 0;
		held[nheld++].at = time(NULL);
	}
	pthread_mutex_lock(&q.mu);
	for (i = 0; i < n; i++)
		q.todo[q.ntodo++] = got[i];
	q.inflight += n;
	if (n == 1)
		pthread_cond_signal(&q.todo_cv);
	else
		pthread_cond_broadcast(&q.todo_cv);
	pthread_mutex_unlock(&q.mu);
	return (long)n;
}

/*
 * Takes the finished jobs into out (up to WORKER_MAX_CONCURRENCY); when
 * none is finished and wait_ms > 0, first waits up to wait_ms for one.
 */
static size_t
take_done(struct job **out, unsigned long wait_ms)
{
	struct timespec	 until;
	size_t		 n;

	pthread_mutex_lock(&q.mu);
	if (q.ndone == 0 && wait_ms > 0 && q.inflight > 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)(wait_ms / 1000);
		until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&q.done_cv, &q.mu, &until);
	}
	n = q.ndone;
	memcpy(out, q.done, n * sizeof(*out));
	q.ndone = 0;
	q.inflight -= n;
	pthread_mutex_unlock(&q.mu);
	return n;
}

/* Forgets the claims of jobs[0..n-1], finished. */
static void
unhold(struct job *const *jobs, size_t n)
{
	size_t	 i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < nheld; k++)
			if (held[k].lease.id == jobs[i]->id &&
			    held[k].lease.attempt == jobs[i]->attempts) {
				held[k] = held[--nheld];
				break;
			}
}

/*
 * Renews the leases of the jobs running for at most WORKER_LEASE_RENEWALS
 * leases, when a third of a lease has passed since *last.
 */
static void
renew(struct db *db, const struct cfg *cfg, const char *id, time_t *last)
{
	struct jobs_lease leases[WORKER_MAX_CONCURRENCY];
	time_t		 now = time(NULL);
	size_t		 i, n = 0, renewed = 0;
	enum xerr	 rc;

	if (nheld == 0 || now - *last < (time_t)(cfg->job_lease_seconds / 3))
		return;
	*last = now;
	for (i = 0; i < nheld; i++) {
		if (now - held[i].at < (time_t)(WORKER_LEASE_RENEWALS *
		    cfg->job_lease_seconds))
			leases[n++] = held[i].lease;
		else if (!held[i].left) {
			held[i].left = 1;
			log_warnx("job %lld attempt %d: still running after %d "
			    "leases, left to its lease (it will be claimed "
			    "again)", held[i].lease.id, held[i].lease.attempt,
			    WORKER_LEASE_RENEWALS);
		}
	}
	if ((rc = jobs_extend(db, cfg, id, leases, n, &renewed)) != XERR_OK)
		log_warnx("%zu leases not renewed: %s", n, xerr_code(rc));
	else if (renewed < n)
		log_warnx("%zu of %zu running jobs: lease lost (claimed again "
		    "after it ran out, or done meanwhile)", n - renewed, n);
}

/* Returns the jobs claimed whose outcome is not yet taken. */
static size_t
inflight(void)
{
	size_t	 n;

	pthread_mutex_lock(&q.mu);
	n = q.inflight;
	pthread_mutex_unlock(&q.mu);
	return n;
}

int
main(int argc, char *argv[])
{
	static struct worker_ctx runners[WORKER_MAX_CONCURRENCY];
	struct worker_ctx w, roll;
	struct cfg	*cfg = NULL;
	struct job	*fin[WORKER_MAX_CONCURRENCY];
	struct sigaction sa;
	pthread_t	 tids[WORKER_MAX_CONCURRENCY], rtid;
	sigset_t	 sigs, old;
	char		 err[256], host[64], kinds[300];
	unsigned long	 idle = 0, nrun, i;
	size_t		 busy, n;
	long		 got;
	time_t		 renewed_at = 0;
	int		 conflicts = 0;

	(void)argc;
	(void)argv;
	log_init("worker", LOG_LEVEL_INFO);
	if (crypto_init() != XERR_OK)
		log_fatalx("libsodium or libcrypto failed to initialise");
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK)
		log_fatalx("configuration: %s", err);
	log_init("worker", (enum log_level)cfg->log_level);
	metrics_open(cfg->metrics_file);
	db_library_init();
	http_library_init();
	jsonx_thread_init();
	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	worker_id_make(w.id, sizeof(w.id), host, (long)getpid());
	if (db_open(cfg, stmt_table(), &w.db) != XERR_OK)
		log_fatalx("out of memory at start");
	snprintf(kinds, sizeof(kinds), "%s,%s", worker_kinds(), WORKER_NOOP);
	nrun = cfg->worker_concurrency;
	if (nrun > WORKER_MAX_CONCURRENCY)
		nrun = WORKER_MAX_CONCURRENCY;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake the nap */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* The runners take no signal: the main thread's nap must wake. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	for (i = 0; i < nrun; i++) {
		runners[i] = w;
		runners[i].db = NULL;
		if (db_open(cfg, stmt_table(), &runners[i].db) != XERR_OK ||
		    http_open(cfg, &runners[i].http) != XERR_OK ||
		    pthread_create(&tids[i], NULL, runner_main,
		    &runners[i]) != 0)
			log_fatalx("cannot start runner %lu", i);
	}
	roll = w;
	roll.db = NULL;
	if (cfg->metrics_rollup_seconds > 0 && (db_open(cfg, stmt_table(),
	    &roll.db) != XERR_OK || pthread_create(&rtid, NULL, rollup_main,
	    &roll) != 0))
		log_fatalx("cannot start the metrics rollup");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_info("worker %s running kinds %s, %lu at once", w.id, kinds,
	    nrun);

	while (!stop || inflight() > 0) {
		got = 0;
		busy = inflight();
		if (!stop && busy < nrun) {
			got = claim(w.db, cfg, w.id, kinds, nrun - busy,
			    &conflicts);
			if (got < 0) {
				/* The database is away: back off, up to 5 s. */
				idle = idle < 5000 ? idle + 500 : 5000;
				if (busy == 0) {
					nap(idle);
					continue;
				}
			} else
				idle = 0;
		}
		/* Wait for an outcome only when nothing more can start. */
		n = take_done(fin, got > 0 && busy + (size_t)got < nrun ? 0 :
		    cfg->worker_poll_ms);
		unhold(fin, n);
		record(w.db, cfg, w.id, fin, n);
		renew(w.db, cfg, w.id, &renewed_at);
		if (got == 0 && n == 0 && busy == 0 && !stop && conflicts == 0)
			nap(cfg->worker_poll_ms);
	}

	pthread_mutex_lock(&q.mu);
	q.quit = 1;
	pthread_cond_broadcast(&q.todo_cv);
	pthread_mutex_unlock(&q.mu);
	for (i = 0; i < nrun; i++) {
		pthread_join(tids[i], NULL);
		http_close(runners[i].http);
		db_close(runners[i].db);
	}
	if (cfg->metrics_rollup_seconds > 0) {
		pthread_join(rtid, NULL);
		db_close(roll.db);
	}
	log_info("worker %s stopped", w.id);
	db_close(w.db);
	cfg_free(cfg);
	return 0;
}
