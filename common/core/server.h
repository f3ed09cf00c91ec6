/*
 * server: the life of a FastCGI program.
 *
 *   xsb-<prog> [-s socket] [-n processes]
 *
 * Loads the configuration (a bad value stops the program with a message),
 * listens on the unix socket given with -s (or on fd 0 when started by
 * spawn-fcgi), forks a pool of processes that each accept requests, and
 * respawns one that dies.  SIGTERM or SIGINT stops it gracefully: idle
 * processes exit at once, a process with a request in flight finishes it
 * first.  Every process answers GET /healthz itself.
 *
 * server_main_threads() runs the same pool, but each process serves with
 * several threads (one FastCGI connection and one database connection
 * each), so that a connection nginx keeps open (fastcgi_keep_conn) pins a
 * thread, not a process, and so that the program can gather work across
 * requests (the webhook's group commit).  Only a program whose handler is
 * thread-safe uses it: xsb-webhook, xsb-billing and xsb-phone do.
 */
#ifndef SERVER_H
#define SERVER_H

#include "core/xerr.h"

struct cfg;
struct db_stmts;
struct req;

/*
 * A program's request handler.  It answers r exactly once, with
 * req_reply_json() or req_error(); an unanswered request gets a 500.
 */
typedef void	(*server_handler)(struct req *r);

/*
 * Runs the program; returns the process exit status.  Every process's
 * database handle runs the statements of stmts (borrowed, static; see
 * core/db.h).
 */
int		 server_main(const char *prog, int argc, char *argv[],
		    const struct db_stmts *stmts, server_handler handle);

/*
 * Called in each process after the fork and before any request: starts
 * what the process needs besides its request threads and sets *threads,
 * the number of request threads.  A failure ends the process (respawned).
 */
typedef enum xerr (*server_init)(const struct cfg *cfg,
		    unsigned long *threads);

/* Runs the program with request threads; returns the exit status. */
int		 server_main_threads(const char *prog, int argc, char *argv[],
		    const struct db_stmts *stmts, server_handler handle,
		    server_init init);

#endif
