/*
 * db: MariaDB through Connector/C, prepared statements only.
 *
 * The statements are not ours to know: a handle runs those of the table
 * it is opened with (struct db_stmts; the project's is store/stmt.h's
 * stmt_table()), each named by its number there.  A statement is prepared
 * on first use and reused for the life of the
 * connection.  Arguments are bound from an array of struct dbv; results are
 * read into a struct db_res whose cells are strings (NULL for SQL NULL).
 *
 * When the server has gone away (2006/2013), a statement outside a
 * transaction is retried once on a new connection; inside a transaction the
 * error is XERR_DB_GONE and the caller must roll back and start over,
 * because the server has already discarded the transaction.
 *
 * The process's connection generation (db_generation()) and the time of
 * the server's last answer (db_answered_within()) are statics of db.c, one
 * per process, shared by its handles.
 *
 * Every way the server aborts a transaction is XERR_DEADLOCK, the one
 * retryable error (see db_classify()): the caller rolls back and, where
 * the request is idempotent, runs the transaction again a bounded number
 * of times, else answers 503 with Retry-After.  That includes a statement
 * after which the server says it is in no transaction, though the handle
 * is in one (the server ended it without an error; db.c's db_txn_check()).
 */
#ifndef DB_H
#define DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"

struct db;
struct db_res;

/*
 * A table of statements, numbered from 0: sql(i) is the SQL of statement
 * i (NULL when i is no statement), name(i) its name for the log ("?"
 * when none), ping the statement db_ping() runs, health the one
 * db_health() runs (one row: @@read_only, @@innodb_read_only, @@wsrep_on,
 * and the status wsrep_ready, wsrep_cluster_status,
 * wsrep_local_state_comment).  Borrowed: it must outlive every handle
 * opened with it.
 */
struct db_stmts {
	size_t		   n;
	unsigned int	   ping;
	unsigned int	   health;
	const char	*(*sql)(unsigned int i);
	const char	*(*name)(unsigned int i);
};

enum dbv_type {
	DBV_NULL = 0,
	DBV_INT,
	DBV_STR,
};

/* One bound argument. Strings are borrowed for the call only. */
struct dbv {
	enum dbv_type	 type;
	long long	 i;
	const char	*s;
	size_t		 len;
};

#define DB_NULL		((struct dbv){ .type = DBV_NULL })
#define DB_INT(x)	((struct dbv){ .type = DBV_INT, .i = (long long)(x) })
#define DB_STR(x)	db_str(x)
#define DB_BLOB(p, n)	((struct dbv){ .type = DBV_STR, .s = (p), .len = (n) })
#define DB_NARGS(a)	(sizeof(a) / sizeof((a)[0]))

/* Where an error was seen: on a statement, or on COMMIT. */
enum db_phase {
	DB_PHASE_STMT = 0,
	DB_PHASE_COMMIT,
};

/*
 * Maps a server or client error number e, its SQLSTATE (may be NULL) and
 * the phase it was seen in to our error enum, without a server:
 * XERR_DUP for a duplicate key; XERR_DEADLOCK for every abort that is worth
 * running the transaction again (deadlock 1213, also Galera's
 * certification failure at COMMIT; lock wait timeout 1205; 1047 "WSREP
 * has not yet prepared node"; SQLSTATE 40001; a COMMIT failing with no
 * number); XERR_DB_GONE for a lost connection (2006, 2013, ...); else
 * XERR_DB.  e is the connection's number when the statement's was 0.
 */
enum xerr	 db_classify(unsigned int e, const char *sqlstate,
		    enum db_phase phase);

/*
 * How often a statement run on its own (outside a transaction) is run
 * when the server aborts it (XERR_DEADLOCK): db_exec() and db_query()
 * run it again themselves, after db_retry_pause(), up to DB_TRIES runs.
 * Callers of transactions use the same bound.
 */
#define DB_TRIES	3
#define DB_PAUSE_MIN_MS	10
#define DB_PAUSE_MAX_MS	50

/*
 * Sleeps a random DB_PAUSE_MIN_MS..DB_PAUSE_MAX_MS milliseconds, so two
 * clients that conflicted do not meet again at once.
 */
void		 db_retry_pause(void);

/* Returns a string argument, or a NULL argument when s is NULL. */
struct dbv	 db_str(const char *s);

/* Initialises Connector/C; call once before starting threads. */
void		 db_library_init(void);

/*
 * Returns a handle that runs the statements of stmts and connects using
 * cfg (both borrowed, must outlive the handle) on first use, so a program
 * starts while MariaDB is down.  Caller frees with db_close().
 * XERR_NOMEM.
 */
enum xerr	 db_open(const struct cfg *cfg, const struct db_stmts *stmts,
		    struct db **out);

/* Closes the connection and its statements. NULL is a no-op. */
void		 db_close(struct db *db);

/*
 * The process's connection generation, for what a process remembers of
 * the server's data (evstore's memory of stored events): a number,
 * shared by all the process's handles, that changes whenever one of them
 * establishes a connection, fails to, or finds its connection lost.  A
 * fact learnt under one generation need not hold under another: DB_HOST
 * may now lead to another server (a proxy moved to a promoted replica
 * that lacks the last commits) or to one restarted without them.  Read
 * it before the statements that learn the fact.  Costs an atomic load.
 */
uint64_t	 db_generation(void);

/*
 * Whether a statement, a START TRANSACTION or a COMMIT of any of the
 * process's handles was answered by the server in the last ms
 * milliseconds.  A connection lost while idle is only found on its next
 * use, so a generation is only trusted while the process still hears
 * from its server.  Costs a clock read and an atomic load.
 */
int		 db_answered_within(unsigned int ms);

/* Checks that the server answers (reconnecting if needed). */
enum xerr	 db_ping(struct db *db);

/*
 * Checks that this server can commit a write now, with one query: when
 * Galera is on, the node is ready, in the Primary component and Synced;
 * and the server is not read-only.  XERR_OK; XERR_UNAVAILABLE with the
 * reason in why (a short sentence) when it cannot commit; XERR_DB_GONE
 * (why says so) when it does not answer; XERR_DB, XERR_NOMEM.
 */
enum xerr	 db_health(struct db *db, char *why, size_t whysz);

/* Starts, commits or rolls back a transaction. Rollback never fails. */
enum xerr	 db_begin(struct db *db);
enum xerr	 db_commit(struct db *db);
void		 db_rollback(struct db *db);

/*
 * Commits and starts the next transaction at once (COMMIT AND CHAIN), so
 * the next one costs no START TRANSACTION round trip; on success the
 * handle is still in a transaction, which holds nothing until its first
 * statement, unless the server's answer says no transaction followed
 * (then the handle is out of any, as after db_commit(); callers test
 * db_in_txn() before their next one).  On an error the handle is out of
 * any transaction.
 */
enum xerr	 db_commit_chain(struct db *db);

/* Returns 1 inside a transaction. */
int		 db_in_txn(const struct db *db);

/*
 * Runs a statement that returns no rows.  *affected (may be NULL) gets the
 * affected-row count, *insert_id (may be NULL) the AUTO_INCREMENT id.
 * XERR_DUP on a duplicate key, XERR_DEADLOCK when the server aborted the
 * transaction (db_classify(); outside a transaction only after DB_TRIES
 * runs), XERR_DB_GONE, XERR_DB.
 */
enum xerr	 db_exec(struct db *db, unsigned int s,
		    const struct dbv *args, size_t nargs, uint64_t *affected,
		    uint64_t *insert_id);

/* The most arguments a statement binds (db.c binds them on its stack). */
#define DB_MAX_ARGS	160

/*
 * Inserts nrows rows of nargs arguments each, args[row * nargs + col], in
 * few executions: s[k] (k < ns) is the statement of the same columns with
 * 2^k rows in its VALUES list.  An execution takes the largest while that
 * many rows are left, then the smallest that holds the rest, its unused
 * places repeating the last row (17 rows: 16, then 1; 15 rows: 16, one
 * place repeated).  So s must make a row met twice a no-op (ON DUPLICATE
 * KEY UPDATE), and *affected (may be NULL), the executions' affected rows
 * added up, counts the rows that were new (the connection does not ask
 * for found rows, so an unchanged row counts 0).  Each execution reports
 * its own error (not MariaDB's array binding, whose aborts Galera reports
 * late: see db.c).  Only inside a transaction: on an error some rows may
 * have been applied, and the caller rolls back.  Errors as db_exec;
 * XERR_INTERNAL outside a transaction or when 2^(ns-1) rows take more than
 * DB_MAX_ARGS.
 */
enum xerr	 db_exec_rows(struct db *db, const unsigned int *s, size_t ns,
		    const struct dbv *args, size_t nargs, size_t nrows,
		    uint64_t *affected);

/*
 * Runs a statement that returns rows, read completely.  On success *out is
 * set (caller frees with db_res_free()).
 */
enum xerr	 db_query(struct db *db, unsigned int s,
		    const struct dbv *args, size_t nargs, struct db_res **out);

/* Frees a result. NULL is a no-op. */
void		 db_res_free(struct db_res *res);

size_t		 db_res_rows(const struct db_res *res);
size_t		 db_res_cols(const struct db_res *res);

/* Returns a cell (borrowed, NUL-terminated) or NULL for SQL NULL. */
const char	*db_res_str(const struct db_res *res, size_t row, size_t col);

/* Returns the byte length of a cell (0 for NULL). */
size_t		 db_res_len(const struct db_res *res, size_t row, size_t col);

/* Returns a cell as an integer; def for NULL or a non-number. */
long long	 db_res_int(const struct db_res *res, size_t row, size_t col,
		    long long def);

/* Returns 1 when the cell is SQL NULL. */
int		 db_res_isnull(const struct db_res *res, size_t row, size_t col);

#endif
