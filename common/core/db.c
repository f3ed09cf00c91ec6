#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"

#define DB_CELL_INIT	256	/* first buffer size for a result column */
#define DB_MAX_COLS	64
#define DB_MAX_ROWS	100000	/* a query reading more is a bug */

struct db {
	const struct cfg	*cfg;
	const struct db_stmts	*stmts;
	MYSQL			*m;		/* NULL when disconnected */
	MYSQL_STMT		**st;		/* stmts->n, NULL until prepared */
	int			 in_txn;
};

/*
 * The process's view of its server, shared by all its handles (db.h):
 * gen changes whenever a connection is established, cannot be, or is
 * found lost; answered is the CLOCK_MONOTONIC millisecond of the server's
 * last answer, 0 before the first.  Handles live on many threads: both
 * are read and written as atomics.  answered is written only when the
 * millisecond changed, so threads answered at once write it once.
 */
static struct {
	uint64_t	 gen;
	int64_t		 answered;
} db_proc = { 1, 0 };

struct db_cell {
	char	*p;		/* NULL for SQL NULL */
	size_t	 len;
};

struct db_res {
	struct db_cell	*cells;		/* rows * cols */
	size_t		 rows;
	size_t		 cols;
	size_t		 cap;		/* rows allocated */
};

struct dbv
db_str(const char *s)
{
	if (s == NULL)
		return DB_NULL;
	return (struct dbv){ .type = DBV_STR, .s = s, .len = strlen(s) };
}

/* MariaDB's "WSREP has not yet prepared node for application use". */
#define DB_ER_WSREP_NOT_READY	1047

enum xerr
db_classify(unsigned int e, const char *sqlstate, enum db_phase phase)
{
	switch (e) {
	case ER_DUP_ENTRY:
	case ER_DUP_ENTRY_WITH_KEY_NAME:
		return XERR_DUP;
	case ER_LOCK_DEADLOCK:		/* also Galera's certification failure */
	case ER_LOCK_WAIT_TIMEOUT:
	case DB_ER_WSREP_NOT_READY:
		return XERR_DEADLOCK;
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	case CR_COMMANDS_OUT_OF_SYNC:
		return XERR_DB_GONE;
	/*
	 * A server that refuses writes (read_only: a replica, a demoted
	 * primary) cannot commit, now or on a retry: the caller answers 503
	 * and the balancer's /healthz moves traffic.  Nothing reruns it.
	 */
	case ER_OPTION_PREVENTS_STATEMENT:
		return XERR_UNAVAILABLE;
	default:
		break;
	}
	/* SQLSTATE 40001 is a serialization failure: the transaction aborted. */
	if (sqlstate != NULL && strncmp(sqlstate, "40001", 5) == 0)
		return XERR_DEADLOCK;
	/* A COMMIT that fails with no number was aborted by the server. */
	if (e == 0 && phase == DB_PHASE_COMMIT)
		return XERR_DEADLOCK;
	return XERR_DB;
}

/* Returns the CLOCK_MONOTONIC time in milliseconds (never 0). */
static int64_t
db_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

/* Notes a new connection, or one that failed or was lost. */
static void
db_new_generation(void)
{
	__atomic_add_fetch(&db_proc.gen, 1, __ATOMIC_RELEASE);
}

/* Notes that the server answered. */
static void
db_answered(void)
{
	int64_t	 now = db_now_ms();

	if (__atomic_load_n(&db_proc.answered, __ATOMIC_RELAXED) != now)
		__atomic_store_n(&db_proc.answered, now, __ATOMIC_RELAXED);
}

uint64_t
db_generation(void)
{
	return __atomic_load_n(&db_proc.gen, __ATOMIC_ACQUIRE);
}

int
db_answered_within(unsigned int ms)
{
	int64_t	 at = __atomic_load_n(&db_proc.answered, __ATOMIC_RELAXED);

	return at != 0 && db_now_ms() - at < (int64_t)ms;
}

/* Drops the connection and every statement prepared on it. */
static void
db_disconnect(struct db *db)
{
	size_t	 i;

	for (i = 0; i < db->stmts->n; i++) {
		if (db->st[i] != NULL)
			mysql_stmt_close(db->st[i]);
		db->st[i] = NULL;
	}
	if (db->m != NULL)
		mysql_close(db->m);
	db->m = NULL;
	db->in_txn = 0;
}

/*
 * Connects with the session settings every statement relies on: UTC, READ
 * COMMITTED (no gap locks between concurrent webhook inserts), utf8mb4.
 */
static enum xerr
db_connect(struct db *db)
{
	const struct cfg *cfg = db->cfg;
	unsigned int	 ctimeout = 5, rwtimeout = 30;
	my_bool		 no = 0;
	const char	*sock;

	if (db->m != NULL)
		return XERR_OK;
	if ((db->m = mysql_init(NULL)) == NULL)
		return XERR_NOMEM;
	mysql_options(db->m, MYSQL_OPT_CONNECT_TIMEOUT, &ctimeout);
	mysql_options(db->m, MYSQL_OPT_READ_TIMEOUT, &rwtimeout);
	mysql_options(db->m, MYSQL_OPT_WRITE_TIMEOUT, &rwtimeout);
	mysql_options(db->m, MYSQL_OPT_RECONNECT, &no);
	mysql_options(db->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(db->m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	mysql_options(db->m, MYSQL_INIT_COMMAND,
	    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
	sock = cfg->db_socket[0] != '\0' ? cfg->db_socket : NULL;
	if (mysql_real_connect(db->m, sock ? NULL : cfg->db_host,
	    cfg->db_user, cfg->db_password, cfg->db_name,
	    sock ? 0 : (unsigned int)cfg->db_port, sock, 0) == NULL) {
		log_warnx("db: connect to %s failed: %s",
		    sock ? sock : cfg->db_host, mysql_error(db->m));
		mysql_close(db->m);
		db->m = NULL;
		db_new_generation();
		return XERR_DB_GONE;
	}
	/* Perhaps another server than before (a failover): db.h. */
	db_new_generation();
	return XERR_OK;
}

void
db_library_init(void)
{
	if (mysql_library_init(0, NULL, NULL) != 0)
		log_fatalx("MariaDB Connector/C failed to initialise");
}

enum xerr
db_open(const struct cfg *cfg, const struct db_stmts *stmts, struct db **out)
{
	struct db	*db;

	*out = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return XERR_NOMEM;
	if ((db->st = calloc(stmts->n, sizeof(*db->st))) == NULL) {
		free(db);
		return XERR_NOMEM;
	}
	db->cfg = cfg;
	db->stmts = stmts;
	*out = db;
	return XERR_OK;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db->st);
	free(db);
}

enum xerr
db_ping(struct db *db)
{
	struct db_res	*res = NULL;
	enum xerr	 rc;

	rc = db_query(db, db->stmts->ping, NULL, 0, &res);
	db_res_free(res);
	return rc;
}

/* Returns 1 when cell col of res is the number 1 or the word ON. */
static int
db_on(const struct db_res *res, size_t col)
{
	const char	*v = db_res_str(res, 0, col);

	return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "ON") == 0);
}

enum xerr
db_health(struct db *db, char *why, size_t whysz)
{
	struct db_res	*res = NULL;
	const char	*cluster, *state;
	enum xerr	 rc;

	snprintf(why, whysz, "ok");
	rc = db_query(db, db->stmts->health, NULL, 0, &res);
	if (rc == XERR_DB_GONE) {
		snprintf(why, whysz, "MariaDB does not answer");
		goto out;
	}
	/*
	 * The query takes no lock: an abort is Galera's 1047, a node outside
	 * the Primary component refusing even this read.
	 */
	if (rc == XERR_DEADLOCK) {
		snprintf(why, whysz, "Galera node is not ready (it refuses "
		    "queries: not in the Primary component, or not synced)");
		rc = XERR_UNAVAILABLE;
		goto out;
	}
	if (rc != XERR_OK)
		goto out;
	if (db_res_rows(res) != 1 || db_res_cols(res) != 6) {
		rc = XERR_DB;
		goto out;
	}
	cluster = db_res_str(res, 0, 4);
	state = db_res_str(res, 0, 5);
	rc = XERR_UNAVAILABLE;
	if (db_on(res, 2) && !db_on(res, 3))
		snprintf(why, whysz, "Galera node is not ready (wsrep_ready)");
	else if (db_on(res, 2) && (cluster == NULL ||
	    strcmp(cluster, "Primary") != 0))
		snprintf(why, whysz, "Galera node is not in the Primary "
		    "component (wsrep_cluster_status %s)",
		    cluster != NULL ? cluster : "unknown");
	else if (db_on(res, 2) && (state == NULL ||
	    strcmp(state, "Synced") != 0))
		snprintf(why, whysz, "Galera node is not Synced "
		    "(wsrep_local_state_comment %s)",
		    state != NULL ? state : "unknown");
	else if (db_on(res, 0))
		snprintf(why, whysz, "MariaDB is read-only (read_only)");
	else if (db_on(res, 1))
		snprintf(why, whysz, "MariaDB is read-only (innodb_read_only)");
	else
		rc = XERR_OK;
out:
	db_res_free(res);
	return rc;
}

int
db_in_txn(const struct db *db)
{
	return db->in_txn;
}

/*
 * Notes the failure of what (a statement's name or "COMMIT", ...), reading
 * the error of st (NULL for one of the connection).  A statement whose own
 * error number is 0 after a failure was aborted from outside (a Galera
 * brute-force abort): the connection's error is the one that counts.  A
 * lost connection is dropped.  The number is stored in *errnum (may be NULL).
 */
static enum xerr
db_fail(struct db *db, const char *what, MYSQL_STMT *st, enum db_phase phase,
    unsigned int *errnum)
{
	unsigned int	 e = 0;
	const char	*msg = "", *state = "";
	enum xerr	 rc;

	if (st != NULL) {
		e = mysql_stmt_errno(st);
		msg = mysql_stmt_error(st);
		state = mysql_stmt_sqlstate(st);
	}
	if (e == 0 && db->m != NULL) {
		e = mysql_errno(db->m);
		msg = mysql_error(db->m);
		state = mysql_sqlstate(db->m);
	}
	if (errnum != NULL)
		*errnum = e;
	rc = db_classify(e, state, phase);
	if (rc == XERR_DUP)
		log_debug("db: %s: duplicate key", what);
	else if (e == 0)
		log_warnx("db: %s: failed without an error number", what);
	else
		log_warnx("db: %s: error %u (%s): %s", what, e, state, msg);
	if (rc == XERR_DB_GONE) {
		db_disconnect(db);
		db_new_generation();
	}
	return rc;
}

/* Returns the name of statement s for the log. */
static const char *
db_name(const struct db *db, unsigned int s)
{
	const char	*n = db->stmts->name(s);

	return n != NULL ? n : "?";
}

enum xerr
db_begin(struct db *db)
{
	enum xerr	 rc;

	if (db->in_txn)
		return XERR_INTERNAL;
	if ((rc = db_connect(db)) != XERR_OK)
		return rc;
	if (mysql_real_query(db->m, "START TRANSACTION", 17) != 0) {
		/* Nothing was done yet: one reconnect is safe. */
		rc = db_fail(db, "START TRANSACTION", NULL, DB_PHASE_STMT,
		    NULL);
		if (rc != XERR_DB_GONE || (rc = db_connect(db)) != XERR_OK)
			return rc;
		if (mysql_real_query(db->m, "START TRANSACTION", 17) != 0)
			return db_fail(db, "START TRANSACTION", NULL,
			    DB_PHASE_STMT, NULL);
	}
	db->in_txn = 1;
	db_answered();
	return XERR_OK;
}

enum xerr
db_commit(struct db *db)
{
	if (!db->in_txn || db->m == NULL)
		return XERR_INTERNAL;
	db->in_txn = 0;
	if (mysql_commit(db->m) != 0)
		return db_fail(db, "COMMIT", NULL, DB_PHASE_COMMIT, NULL);
	db_answered();
	return XERR_OK;
}

/* Whether the server's last answer said it is in a transaction. */
static int
db_status_in_txn(struct db *db)
{
	unsigned int	 status = SERVER_STATUS_IN_TRANS;

	mariadb_get_infov(db->m, MARIADB_CONNECTION_SERVER_STATUS, &status);
	return (status & SERVER_STATUS_IN_TRANS) != 0;
}

enum xerr
db_commit_chain(struct db *db)
{
	if (!db->in_txn || db->m == NULL)
		return XERR_INTERNAL;
	if (mysql_real_query(db->m, "COMMIT AND CHAIN", 16) != 0) {
		db->in_txn = 0;
		return db_fail(db, "COMMIT AND CHAIN", NULL, DB_PHASE_COMMIT,
		    NULL);
	}
	db_answered();
	/*
	 * Committed; if the server says no transaction follows (seen on
	 * Galera), the caller's next one starts with START TRANSACTION, not
	 * in autocommit (db_txn_check()).
	 */
	if (!db_status_in_txn(db)) {
		log_info("db: COMMIT AND CHAIN: committed, but no transaction "
		    "was chained");
		metrics_inc(METRICS_DB_CHAINS_LOST);
		db->in_txn = 0;
	}
	return XERR_OK;
}

void
db_rollback(struct db *db)
{
	if (db->m != NULL && db->in_txn && mysql_rollback(db->m) != 0)
		db_fail(db, "ROLLBACK", NULL, DB_PHASE_STMT, NULL);
	db->in_txn = 0;
}

/* Returns the prepared statement s, preparing it on first use. */
static enum xerr
db_prepare(struct db *db, unsigned int s, MYSQL_STMT **out)
{
	const char	*sql = db->stmts->sql(s);
	MYSQL_STMT	*st;
	enum xerr	 rc;

	*out = NULL;
	if (sql == NULL)
		return XERR_INTERNAL;
	if ((rc = db_connect(db)) != XERR_OK)
		return rc;
	if (db->st[s] != NULL) {
		*out = db->st[s];
		return XERR_OK;
	}
	if ((st = mysql_stmt_init(db->m)) == NULL)
		return XERR_NOMEM;
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		rc = db_fail(db, db_name(db, s), st, DB_PHASE_STMT, NULL);
		mysql_stmt_close(st);
		return rc;
	}
	db->st[s] = st;
	*out = st;
	return XERR_OK;
}

/*
 * Checks, after statement s ran inside one of our transactions, that the
 * server still has that transaction open.  Its answer's status says so
 * (SERVER_STATUS_IN_TRANS); when it does not, the status may be that of an
 * earlier packet, so the statement's rows are read in (their last packet
 * carries the status at its end) and, if the status still says no, the
 * server is asked (@@in_transaction).  A transaction the server ended
 * without an error to us (Galera after a COMMIT AND CHAIN that chained
 * none, which db_commit_chain() catches first; docs/SCALING.md) would
 * otherwise have the statements after it commit one by one, outside it
 * and its locks: that is XERR_DEADLOCK, so the caller rolls back and runs
 * again.
 */
static enum xerr
db_txn_check(struct db *db, unsigned int s, MYSQL_STMT *st)
{
	MYSQL_RES	*r;
	MYSQL_ROW	 row;
	int		 alive;

	if (db_status_in_txn(db))
		return XERR_OK;
	if (mysql_stmt_field_count(st) > 0 && mysql_stmt_store_result(st) != 0)
		return db_fail(db, db_name(db, s), st, DB_PHASE_STMT, NULL);
	if (db_status_in_txn(db))
		return XERR_OK;
	if (mysql_real_query(db->m, "SELECT @@in_transaction", 23) != 0 ||
	    (r = mysql_store_result(db->m)) == NULL) {
		mysql_stmt_free_result(st);
		return db_fail(db, "SELECT @@in_transaction", NULL,
		    DB_PHASE_STMT, NULL);
	}
	row = mysql_fetch_row(r);
	alive = row == NULL || row[0] == NULL || strcmp(row[0], "0") != 0;
	mysql_free_result(r);
	if (alive) {
		log_info("db: %s: the answer's status said no transaction; "
		    "the server says it is in one", db_name(db, s));
		return XERR_OK;
	}
	mysql_stmt_free_result(st);
	log_errorx("db: %s: the server ended the transaction without an "
	    "error; treated as an abort", db_name(db, s));
	metrics_inc(METRICS_DB_TXN_ENDED);
	return XERR_DEADLOCK;
}

/* Binds args and executes; returns the statement through *out. */
static enum xerr
db_run(struct db *db, unsigned int s, const struct dbv *args, size_t nargs,
    MYSQL_STMT **out, unsigned int *errnum)
{
	MYSQL_BIND	 bind[DB_MAX_ARGS];
	unsigned long	 lens[DB_MAX_ARGS];
	MYSQL_STMT	*st;
	size_t		 i;
	enum xerr	 rc;

	*out = NULL;
	*errnum = 0;
	if (nargs > DB_MAX_ARGS)
		return XERR_INTERNAL;
	if ((rc = db_prepare(db, s, &st)) != XERR_OK) {
		*errnum = CR_SERVER_GONE_ERROR;	/* nothing was sent */
		return rc;
	}
	if (mysql_stmt_param_count(st) != nargs) {
		log_errorx("db: %s: %lu parameters, %zu given", db->stmts->name(s),
		    mysql_stmt_param_count(st), nargs);
		return XERR_INTERNAL;
	}
	memset(bind, 0, sizeof(bind));
	for (i = 0; i < nargs; i++) {
		switch (args[i].type) {
		case DBV_NULL:
			bind[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		case DBV_INT:
			bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
			bind[i].buffer = (void *)&args[i].i;
			break;
		case DBV_STR:
			lens[i] = args[i].len;
			bind[i].buffer_type = MYSQL_TYPE_STRING;
			bind[i].buffer = (void *)args[i].s;
			bind[i].buffer_length = args[i].len;
			bind[i].length = &lens[i];
			break;
		}
	}
	if (nargs > 0 && mysql_stmt_bind_param(st, bind) != 0) {
		return db_fail(db, db_name(db, s), st, DB_PHASE_STMT, errnum);
	}
	if (mysql_stmt_execute(st) != 0) {
		return db_fail(db, db_name(db, s), st, DB_PHASE_STMT, errnum);
	}
	db_answered();
	if (db->in_txn && (rc = db_txn_check(db, s, st)) != XERR_OK)
		return rc;
	*out = st;
	return XERR_OK;
}

/*
 * Whether a failed statement may run again on a new connection: never in a
 * transaction (the server dropped it); a write only when it was never sent
 * (2006), since a lost reply (2013) may hide a committed write.
 */
static int
db_may_retry(const struct db *db, enum xerr rc, unsigned int e, int is_read)
{
	if (rc != XERR_DB_GONE || db->in_txn)
		return 0;
	return is_read || e == CR_SERVER_GONE_ERROR;
}

/*
 * Whether a statement run on its own (autocommit) that the server aborted
 * may run again: the abort undid all of it, so running it again is safe
 * for any statement, up to DB_TRIES runs.  Inside a transaction the
 * caller must roll back and run the whole transaction again.
 */
static int
db_may_rerun(enum xerr rc, int was_txn, int tries)
{
	return rc == XERR_DEADLOCK && !was_txn && tries < DB_TRIES;
}

void
db_retry_pause(void)
{
	static __thread unsigned int seed;
	struct timespec	 ts;

	if (seed == 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (unsigned int)ts.tv_nsec ^ (unsigned int)getpid() ^ 1u;
	}
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(DB_PAUSE_MIN_MS + (unsigned int)rand_r(&seed) %
	    (DB_PAUSE_MAX_MS - DB_PAUSE_MIN_MS + 1)) * 1000000L;
	nanosleep(&ts, NULL);
}

enum xerr
db_exec(struct db *db, unsigned int s, const struct dbv *args, size_t nargs,
    uint64_t *affected, uint64_t *insert_id)
{
	MYSQL_STMT	*st;
	unsigned int	 e;
	enum xerr	 rc;
	int		 was_txn = db->in_txn, tries;

	if (affected != NULL)
		*affected = 0;
	if (insert_id != NULL)
		*insert_id = 0;
	for (tries = 1;; tries++) {
		rc = db_run(db, s, args, nargs, &st, &e);
		if (rc == XERR_DB_GONE && was_txn)
			db->in_txn = 1;	/* caller still owes a rollback */
		if (db_may_retry(db, rc, e, 0))
			rc = db_run(db, s, args, nargs, &st, &e);
		if (!db_may_rerun(rc, was_txn, tries))
			break;
		db_retry_pause();
	}
	if (rc != XERR_OK)
		return rc;
	if (affected != NULL)
		*affected = mysql_stmt_affected_rows(st);
	if (insert_id != NULL)
		*insert_id = mysql_stmt_insert_id(st);
	if (mysql_stmt_field_count(st) > 0)
		mysql_stmt_free_result(st);
	return XERR_OK;
}

/*
 * Not MariaDB's array binding (STMT_ATTR_ARRAY_SIZE, one
 * COM_STMT_BULK_EXECUTE): on Galera, a brute-force abort that lands on a
 * bulk command rolls the transaction back while the command answers OK and
 * the deadlock error is held back for a later command, so the COMMIT that
 * follows succeeds with nothing to commit (issue #15; tests/cluster).  A
 * multi-row VALUES list is one ordinary execution, which reports the abort
 * where it happens.
 */
enum xerr
db_exec_rows(struct db *db, const unsigned int *s, size_t ns,
    const struct dbv *args, size_t nargs, size_t nrows, uint64_t *affected)
{
	struct dbv	 pad[DB_MAX_ARGS];
	const struct dbv *a;
	uint64_t	 n;
	size_t		 r, k, m, left, i;
	enum xerr	 rc;

	if (affected != NULL)
		*affected = 0;
	if (!db->in_txn || nrows == 0 || nrows > DB_MAX_ROWS || ns == 0 ||
	    ns > 16 || ((size_t)1 << (ns - 1)) * nargs > DB_MAX_ARGS)
		return XERR_INTERNAL;
	for (r = 0; r < nrows; r += m) {
		left = nrows - r;
		for (k = 0; k < ns - 1 && ((size_t)1 << k) < left; k++)
			continue;
		m = (size_t)1 << k;
		a = args + r * nargs;
		if (m > left) {
			/* The rest, then the last row again in every place left. */
			memcpy(pad, a, left * nargs * sizeof(*pad));
			for (i = left; i < m; i++)
				memcpy(&pad[i * nargs], &a[(left - 1) * nargs],
				    nargs * sizeof(*pad));
			a = pad;
		}
		n = 0;
		if ((rc = db_exec(db, s[k], a, m * nargs, &n, NULL)) != XERR_OK)
			return rc;
		if (affected != NULL)
			*affected += n;
		if (m > left)
			m = left;
	}
	return XERR_OK;
}

void
db_res_free(struct db_res *res)
{
	size_t	 i;

	if (res == NULL)
		return;
	for (i = 0; i < res->rows * res->cols; i++)
		free(res->cells[i].p);
	free(res->cells);
	free(res);
}

/* Appends the fetched row held in bind[] to res, fetching long columns whole. */
static enum xerr
db_res_push(struct db_res *res, MYSQL_STMT *st, MYSQL_BIND *bind,
    unsigned long *lens, my_bool *nulls)
{
	struct db_cell	*nc, *row;
	MYSQL_BIND	 b;
	size_t		 c, ncap;

	if (res->rows == DB_MAX_ROWS)
		return XERR_INTERNAL;
	if (res->rows == res->cap) {
		ncap = res->cap ? res->cap * 2 : 4;
		if ((nc = reallocarray(res->cells, ncap * res->cols,
		    sizeof(*nc))) == NULL)
			return XERR_NOMEM;
		res->cells = nc;
		res->cap = ncap;
	}
	row = &res->cells[res->rows * res->cols];
	for (c = 0; c < res->cols; c++) {
		row[c].p = NULL;
		row[c].len = 0;
	}
	res->rows++;	/* from here on res_free owns the cells */
	for (c = 0; c < res->cols; c++) {
		if (nulls[c])
			continue;
		if ((row[c].p = malloc(lens[c] + 1)) == NULL)
			return XERR_NOMEM;
		row[c].len = lens[c];
		if (lens[c] <= bind[c].buffer_length)
			memcpy(row[c].p, bind[c].buffer, lens[c]);
		else {
			memset(&b, 0, sizeof(b));
			b.buffer_type = MYSQL_TYPE_STRING;
			b.buffer = row[c].p;
			b.buffer_length = lens[c] + 1;
			if (mysql_stmt_fetch_column(st, &b, (unsigned int)c,
			    0) != 0)
				return XERR_DB;
		}
		row[c].p[lens[c]] = '\0';
	}
	return XERR_OK;
}

/* Reads every row of the executed statement st into a new result. */
static enum xerr
db_fetch(struct db *db, unsigned int s, MYSQL_STMT *st, struct db_res **out)
{
	struct db_res	*res = NULL;
	MYSQL_BIND	 bind[DB_MAX_COLS];
	unsigned long	 lens[DB_MAX_COLS];
	my_bool		 nulls[DB_MAX_COLS], errs[DB_MAX_COLS];
	char		*bufs[DB_MAX_COLS];
	size_t		 c, cols;
	int		 frc;
	enum xerr	 rc = XERR_OK;

	memset(bufs, 0, sizeof(bufs));
	cols = mysql_stmt_field_count(st);
	if (cols == 0 || cols > DB_MAX_COLS) {
		rc = XERR_INTERNAL;
		goto out;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	res->cols = cols;
	memset(bind, 0, sizeof(bind));
	for (c = 0; c < cols; c++) {
		if ((bufs[c] = malloc(DB_CELL_INIT)) == NULL) {
			rc = XERR_NOMEM;
			goto out;
		}
		bind[c].buffer_type = MYSQL_TYPE_STRING;
		bind[c].buffer = bufs[c];
		bind[c].buffer_length = DB_CELL_INIT;
		bind[c].length = &lens[c];
		bind[c].is_null = &nulls[c];
		bind[c].error = &errs[c];
	}
	if (mysql_stmt_bind_result(st, bind) != 0) {
		rc = db_fail(db, db_name(db, s), st, DB_PHASE_STMT, NULL);
		goto out;
	}
	while ((frc = mysql_stmt_fetch(st)) == 0 || frc == MYSQL_DATA_TRUNCATED)
		if ((rc = db_res_push(res, st, bind, lens, nulls)) != XERR_OK)
			goto out;
	if (frc != MYSQL_NO_DATA)
		rc = db_fail(db, db_name(db, s), st, DB_PHASE_STMT, NULL);
out:
	if (db->st[s] != NULL)
		mysql_stmt_free_result(st);
	for (c = 0; c < DB_MAX_COLS; c++)
		free(bufs[c]);
	if (rc != XERR_OK) {
		db_res_free(res);
		return rc;
	}
	*out = res;
	return XERR_OK;
}

enum xerr
db_query(struct db *db, unsigned int s, const struct dbv *args, size_t nargs,
    struct db_res **out)
{
	MYSQL_STMT	*st;
	unsigned int	 e;
	enum xerr	 rc;
	int		 was_txn = db->in_txn, tries;

	*out = NULL;
	for (tries = 1;; tries++) {
		rc = db_run(db, s, args, nargs, &st, &e);
		if (rc == XERR_DB_GONE && was_txn)
			db->in_txn = 1;
		if (db_may_retry(db, rc, e, 1))
			rc = db_run(db, s, args, nargs, &st, &e);
		if (rc == XERR_OK) {
			rc = db_fetch(db, s, st, out);
			if (rc == XERR_DB_GONE && was_txn)
				db->in_txn = 1;
		}
		if (!db_may_rerun(rc, was_txn, tries))
			break;
		db_retry_pause();
	}
	return rc;
}

size_t
db_res_rows(const struct db_res *res)
{
	return res == NULL ? 0 : res->rows;
}

size_t
db_res_cols(const struct db_res *res)
{
	return res == NULL ? 0 : res->cols;
}

static const struct db_cell *
db_cell(const struct db_res *res, size_t row, size_t col)
{
	if (res == NULL || row >= res->rows || col >= res->cols)
		return NULL;
	return &res->cells[row * res->cols + col];
}

const char *
db_res_str(const struct db_res *res, size_t row, size_t col)
{
	const struct db_cell *c = db_cell(res, row, col);

	return c == NULL ? NULL : c->p;
}

size_t
db_res_len(const struct db_res *res, size_t row, size_t col)
{
	const struct db_cell *c = db_cell(res, row, col);

	return c == NULL ? 0 : c->len;
}

int
db_res_isnull(const struct db_res *res, size_t row, size_t col)
{
	const struct db_cell *c = db_cell(res, row, col);

	return c == NULL || c->p == NULL;
}

long long
db_res_int(const struct db_res *res, size_t row, size_t col, long long def)
{
	const char	*s = db_res_str(res, row, col);
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return def;
	return v;
}
