/*
 * txn-probe: runs core/db.c against the MariaDB of the environment (the
 * programs' settings, cfg_load()) with a statement table of its own, and
 * prints one line per case: its name, then "ok" or what went wrong.
 * faults.test.mjs runs it against the integration stack.
 *
 *   ended   a prepared COMMIT inside a transaction of ours: the server
 *           ends the transaction and says no error; db_exec() must call
 *           it an abort (XERR_DEADLOCK), and the handle must then roll
 *           back and run a statement cleanly (no "Commands out of sync").
 *   ended-select  the same with a statement that returns rows read after
 *           the server ended the transaction (db_query()).
 *   chain   COMMIT AND CHAIN keeps the handle in a transaction the server
 *           has open (@@in_transaction is 1 in it).
 *
 * The counters go to the stack's file (METRICS_FILE), as a program's do.
 * Exits 0 when every case is ok, 1 otherwise, 2 when it cannot start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"

enum {
	P_PING,
	P_HEALTH,
	P_COMMIT,
	P_IN_TXN,
	P__MAX
};

static const char *const probe_sql[P__MAX] = {
	"SELECT 1",
	"SELECT @@read_only, @@innodb_read_only, @@wsrep_on, 'ON', "
	    "'Primary', 'Synced'",
	"COMMIT",
	"SELECT @@in_transaction",
};
static const char *const probe_names[P__MAX] = {
	"PING", "HEALTH", "COMMIT", "IN_TXN",
};

static const char *
probe_sql_of(unsigned int i)
{
	return i < P__MAX ? probe_sql[i] : NULL;
}

static const char *
probe_name_of(unsigned int i)
{
	return i < P__MAX ? probe_names[i] : "?";
}

/* @@in_transaction as the handle reads it now, -1 on an error. */
static long long
probe_in_txn(struct db *db)
{
	struct db_res	*res = NULL;
	long long	 v = -1;

	if (db_query(db, P_IN_TXN, NULL, 0, &res) == XERR_OK &&
	    db_res_rows(res) == 1)
		v = db_res_int(res, 0, 0, -1);
	db_res_free(res);
	return v;
}

static int
probe_report(const char *name, const char *fault)
{
	printf("%s %s\n", name, fault == NULL ? "ok" : fault);
	return fault == NULL ? 0 : 1;
}

int
main(void)
{
	static const struct db_stmts stmts = { P__MAX, P_PING, P_HEALTH,
	    probe_sql_of, probe_name_of };
	struct cfg	*cfg = NULL;
	struct db	*db = NULL;
	struct db_res	*res = NULL;
	char		 err[256];
	const char	*fault;
	enum xerr	 rc;
	int		 bad = 0;

	log_init("txn-probe", LOG_LEVEL_INFO);
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK) {
		fprintf(stderr, "txn-probe: %s\n", err);
		return 2;
	}
	metrics_open(cfg->metrics_file);	/* the stack's /metrics counts */
	if (db_open(cfg, &stmts, &db) != XERR_OK || db_ping(db) != XERR_OK) {
		fprintf(stderr, "txn-probe: no database\n");
		cfg_free(cfg);
		return 2;
	}

	fault = NULL;
	if (db_begin(db) != XERR_OK)
		fault = "db_begin failed";
	else if ((rc = db_exec(db, P_COMMIT, NULL, 0, NULL, NULL)) !=
	    XERR_DEADLOCK)
		fault = rc == XERR_OK ? "a statement after which the server "
		    "had no transaction passed" : "not XERR_DEADLOCK";
	db_rollback(db);
	if (fault == NULL && probe_in_txn(db) != 0)
		fault = "the handle is not usable, or in a transaction, after "
		    "the rollback";
	bad |= probe_report("ended", fault);

	fault = NULL;
	if (db_begin(db) != XERR_OK)
		fault = "db_begin failed";
	else if (db_exec(db, P_COMMIT, NULL, 0, NULL, NULL) != XERR_DEADLOCK)
		fault = "the COMMIT passed";
	else if (!db_in_txn(db))
		fault = "the handle left its transaction before the rollback";
	else if ((rc = db_query(db, P_IN_TXN, NULL, 0, &res)) !=
	    XERR_DEADLOCK)
		fault = rc == XERR_OK ? "rows read outside the transaction "
		    "passed" : "not XERR_DEADLOCK";
	db_res_free(res);
	res = NULL;
	db_rollback(db);
	if (fault == NULL && probe_in_txn(db) != 0)
		fault = "the handle is not usable after the rollback";
	bad |= probe_report("ended-select", fault);

	fault = NULL;
	if (db_begin(db) != XERR_OK || db_commit_chain(db) != XERR_OK)
		fault = "db_begin or db_commit_chain failed";
	else if (!db_in_txn(db))
		fault = "the handle left the chained transaction";
	else if (probe_in_txn(db) != 1)
		fault = "the server has no chained transaction";
	db_rollback(db);
	bad |= probe_report("chain", fault);

	db_close(db);
	cfg_free(cfg);
	return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}
