/*
 * xsb-worker: runs the outbox's jobs until SIGTERM.
 *
 * Several workers may run at once, on one machine or many: jobs are
 * claimed with SELECT ... FOR UPDATE SKIP LOCKED under a lease.  A stop
 * signal lets the job in hand finish; a killed worker's job is claimed
 * again when its lease expires.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/stmt.h"
#include "domain/jobs.h"
#include "app/worker.h"

static volatile sig_atomic_t stop;

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

int
main(int argc, char *argv[])
{
	struct worker_ctx w;
	struct cfg	*cfg = NULL;
	struct job	*job;
	struct sigaction sa;
	char		 err[256], host[64];
	unsigned long	 idle = 0;
	int		 conflicts = 0;
	enum xerr	 rc;

	(void)argc;
	(void)argv;
	log_init("worker", LOG_LEVEL_INFO);
	if (sodium_init() < 0)
		log_fatalx("libsodium failed to initialise");
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK)
		log_fatalx("configuration: %s", err);
	log_init("worker", (enum log_level)cfg->log_level);
	metrics_open(cfg->metrics_file);
	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(w.id, sizeof(w.id), "%s:%ld", host, (long)getpid());
	if (db_open(cfg, stmt_table(), &w.db) != XERR_OK ||
	    http_open(cfg, &w.http) != XERR_OK)
		log_fatalx("out of memory at start");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake the nap */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	log_info("worker %s running kinds %s", w.id, worker_kinds());

	while (!stop) {
		rc = jobs_claim(w.db, cfg, w.id, worker_kinds(), &job);
		if (rc == XERR_DEADLOCK && conflicts < DB_TRIES) {
			/* Lost a race for a job: try again soon, jittered. */
			conflicts++;
			db_retry_pause();
			continue;
		}
		conflicts = 0;
		if (rc == XERR_DEADLOCK) {
			nap(cfg->worker_poll_ms);
			continue;
		}
		if (rc != XERR_OK) {
			/* The database is away: back off, up to 5 s. */
			idle = idle < 5000 ? idle + 500 : 5000;
			nap(idle);
			continue;
		}
		idle = 0;
		if (job == NULL) {
			nap(cfg->worker_poll_ms);
			continue;
		}
		log_set_rid(job->dedupe_key);
		if (worker_run(&w, job) != XERR_OK)
			log_warnx("job %lld: outcome not recorded; its lease "
			    "will expire and it will run again", job->id);
		log_set_rid(NULL);
		jobs_free(job);
	}
	log_info("worker %s stopped", w.id);
	http_close(w.http);
	db_close(w.db);
	cfg_free(cfg);
	return 0;
}
