/*
 * jobs-probe: claims jobs and records outcomes with domain/jobs.c, as
 * xsb-worker does, but one step at a time as its standard input says, so
 * that a test can put what it likes between the steps (a lease run out, a
 * claim by another worker).  The database is the environment's (the
 * programs' settings, cfg_load()); worker.test.mjs runs it against the
 * integration stack, on job kinds the stack's worker does not run.
 *
 * One command a line, one JSON line answers each:
 *
 *   claim WORKER KINDS MAX	jobs_claim_batch(): {"claimed": [{"slot",
 *				"id", "attempt"}, ...]}; each job claimed is
 *				kept in the next slot
 *   record WORKER SLOT OUTCOME [HEX] ...
 *				jobs_record() of the jobs of those slots in
 *				one batch: OUTCOME done, fail (retried) or
 *				dead (permanent), then for the last two the
 *				error's bytes in hex; {"recorded": n}
 *   extend WORKER SLOT ...	jobs_extend() of those slots' claims:
 *				{"renewed": n}
 *
 * An error answers {"error": "<xerr code>"}; a line it cannot read
 * {"error": "usage"}.  Exits 0 at the end of its input, 2 when it cannot
 * start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/stmt.h"
#include "domain/jobs.h"

#define PROBE_SLOTS	64
#define PROBE_BATCH	16

static struct job	*slots[PROBE_SLOTS];
static size_t		 nslots;

/* Returns the job of slot token s, or NULL. */
static struct job *
probe_slot(const char *s)
{
	char		*end;
	unsigned long	 i;

	if (s == NULL)
		return NULL;
	i = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || i >= nslots)
		return NULL;
	return slots[i];
}

/* Decodes hex into out (outsz bytes, NUL-terminated); 0 on success. */
static int
probe_unhex(const char *hex, char *out, size_t outsz)
{
	size_t		 i, n = strlen(hex);
	unsigned int	 b;

	if (n % 2 != 0 || n / 2 >= outsz)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (char)b;
	}
	out[i] = '\0';
	return 0;
}

static void
probe_claim(struct db *db, const struct cfg *cfg, char **tok)
{
	struct job	*got[PROBE_BATCH];
	unsigned long	 max;
	size_t		 i, n = 0;
	enum xerr	 rc;

	if (tok[0] == NULL || tok[1] == NULL || tok[2] == NULL ||
	    (max = strtoul(tok[2], NULL, 10)) == 0 || max > PROBE_BATCH ||
	    nslots + max > PROBE_SLOTS) {
		printf("{\"error\": \"usage\"}\n");
		return;
	}
	if ((rc = jobs_claim_batch(db, cfg, tok[0], tok[1], max, got, &n)) !=
	    XERR_OK) {
		printf("{\"error\": \"%s\"}\n", xerr_code(rc));
		return;
	}
	printf("{\"claimed\": [");
	for (i = 0; i < n; i++) {
		printf("%s{\"slot\": %zu, \"id\": %lld, \"attempt\": %d}",
		    i ? ", " : "", nslots, got[i]->id, got[i]->attempts);
		slots[nslots++] = got[i];
	}
	printf("]}\n");
}

static void
probe_record(struct db *db, const struct cfg *cfg, char **tok)
{
	struct job	*batch[PROBE_BATCH];
	struct job	*job;
	size_t		 n = 0, k = 1;
	enum xerr	 rc;

	while (tok[0] != NULL && tok[k] != NULL && n < PROBE_BATCH) {
		if ((job = probe_slot(tok[k])) == NULL || tok[k + 1] == NULL)
			goto usage;
		job->failed = strcmp(tok[k + 1], "done") != 0;
		job->permanent = strcmp(tok[k + 1], "dead") == 0;
		job->error[0] = '\0';
		if (job->failed && (tok[k + 2] == NULL ||
		    probe_unhex(tok[k + 2], job->error, sizeof(job->error))))
			goto usage;
		batch[n++] = job;
		k += job->failed ? 3 : 2;
	}
	if (n == 0 || tok[k] != NULL)
		goto usage;
	if ((rc = jobs_record(db, cfg, tok[0], batch, n)) != XERR_OK)
		printf("{\"error\": \"%s\"}\n", xerr_code(rc));
	else
		printf("{\"recorded\": %zu}\n", n);
	return;
usage:
	printf("{\"error\": \"usage\"}\n");
}

static void
probe_extend(struct db *db, const struct cfg *cfg, char **tok)
{
	struct jobs_lease leases[PROBE_BATCH];
	struct job	*job;
	size_t		 n = 0, renewed = 0;
	enum xerr	 rc;

	while (tok[0] != NULL && tok[n + 1] != NULL && n < PROBE_BATCH) {
		if ((job = probe_slot(tok[n + 1])) == NULL) {
			printf("{\"error\": \"usage\"}\n");
			return;
		}
		leases[n].id = job->id;
		leases[n++].attempt = job->attempts;
	}
	if (n == 0) {
		printf("{\"error\": \"usage\"}\n");
		return;
	}
	if ((rc = jobs_extend(db, cfg, tok[0], leases, n, &renewed)) !=
	    XERR_OK)
		printf("{\"error\": \"%s\"}\n", xerr_code(rc));
	else
		printf("{\"renewed\": %zu}\n", renewed);
}

int
main(void)
{
	struct cfg	*cfg = NULL;
	struct db	*db = NULL;
	char		 err[256], line[4096], *tok[2 + 3 * PROBE_BATCH + 2];
	char		*save, *t;
	size_t		 i, n;

	log_init("jobs-probe", LOG_LEVEL_INFO);
	jsonx_thread_init();
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK) {
		fprintf(stderr, "jobs-probe: %s\n", err);
		return 2;
	}
	if (db_open(cfg, stmt_table(), &db) != XERR_OK ||
	    db_ping(db) != XERR_OK) {
		fprintf(stderr, "jobs-probe: no database\n");
		cfg_free(cfg);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		n = 0;
		for (t = strtok_r(line, " \t\r\n", &save); t != NULL &&
		    n + 1 < sizeof(tok) / sizeof(tok[0]);
		    t = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = t;
		tok[n] = NULL;
		if (n == 0)
			continue;
		if (strcmp(tok[0], "claim") == 0)
			probe_claim(db, cfg, tok + 1);
		else if (strcmp(tok[0], "record") == 0)
			probe_record(db, cfg, tok + 1);
		else if (strcmp(tok[0], "extend") == 0)
			probe_extend(db, cfg, tok + 1);
		else
			printf("{\"error\": \"usage\"}\n");
	}
	for (i = 0; i < nslots; i++)
		jobs_free(slots[i]);
	db_close(db);
	cfg_free(cfg);
	return 0;
}
