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
 */
#ifndef SERVER_H
#define SERVER_H

struct req;

/*
 * A program's request handler.  It answers r exactly once, with
 * req_reply_json() or req_error(); an unanswered request gets a 500.
 */
typedef void	(*server_handler)(struct req *r);

/* Runs the program; returns the process exit status. */
int		 server_main(const char *prog, int argc, char *argv[],
		    server_handler handle);

#endif
