#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "core/cfg.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ratelimit.h"
#include "core/req.h"
#include "core/server.h"

#define SERVER_MAX_PROCS	256
#define SERVER_STOP_GRACE	20	/* seconds before SIGKILL on stop */

static volatile sig_atomic_t server_stop;	/* master and children */
static volatile sig_atomic_t server_busy;	/* child: request in flight */
static unsigned long	server_nbusy;	/* threaded child: requests in flight */

/* Child: an idle process exits at once, a busy one after its request. */
static void
server_child_sig(int sig)
{
	(void)sig;
	if (!server_busy)
		_exit(0);
	server_stop = 1;
}

static void
server_master_sig(int sig)
{
	(void)sig;
	server_stop = 1;
}

static int
server_read(void *io, char *buf, int n)
{
	return FCGX_GetStr(buf, n, ((FCGX_Request *)io)->in);
}

static int
server_write(void *io, const char *buf, int n)
{
	return FCGX_PutStr(buf, n, ((FCGX_Request *)io)->out);
}

/*
 * Answers GET /healthz: 200 only when MariaDB answers and can commit
 * (db_health()), else 503 with Retry-After and the reason, so a balancer
 * sends no traffic to a node that cannot write.
 */
static void
server_healthz(struct req *r)
{
	struct json_object	*o;
	char			 why[160];
	enum xerr		 rc;

	rc = db_health(r->db, why, sizeof(why));
	if (rc == XERR_DB_GONE || rc == XERR_UNAVAILABLE) {
		req_error_status(r, xerr_status(XERR_UNAVAILABLE),
		    "Retry-After: 5\r\n", rc == XERR_DB_GONE ?
		    "database_unavailable" : "database_cannot_commit", "%s",
		    why);
		return;
	}
	if (rc != XERR_OK) {
		req_error_status(r, xerr_status(XERR_UNAVAILABLE),
		    "Retry-After: 5\r\n", "database_unavailable",
		    "the health query failed (%s)", xerr_code(rc));
		return;
	}
	if ((o = json_object_new_object()) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	json_object_object_add(o, "status", json_object_new_string("ok"));
	req_reply_json(r, 200, o);
	json_object_put(o);
}

/* Prepares, dispatches and finishes one accepted request. */
static void
server_serve(const struct cfg *cfg, struct db *db, struct http *http,
    FCGX_Request *fr, server_handler handle)
{
	struct req	 r;
	struct timespec	 t0, t1;
	enum xerr	 rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = req_open(&r, cfg, fr->envp, server_read, server_write, fr);
	r.db = db;
	r.http = http;
	if (rc == XERR_TOOBIG)
		req_error(&r, rc, NULL, "request body exceeds %lu bytes",
		    cfg->max_body);
	else if (rc != XERR_OK)
		req_error(&r, rc, NULL, "malformed request");
	else if (strcmp(r.path, "/healthz") == 0 &&
	    strcmp(r.method, "GET") != 0 && strcmp(r.method, "HEAD") != 0)
		req_error(&r, XERR_METHOD, NULL, "method %s not allowed here",
		    r.method);
	else if (strcmp(r.path, "/healthz") == 0)
		server_healthz(&r);
	else
		handle(&r);
	if (r.status == 0)
		req_error(&r, XERR_INTERNAL, NULL, "no reply");
	if (db_in_txn(db)) {
		log_errorx("handler left a transaction open; rolled back");
		db_rollback(db);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("%s %s %d %.3fms", r.method, r.path, r.status,
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	req_clear(&r);
}

/* The accept loop of one pool process. Never returns. */
static void
server_child(const struct cfg *cfg, const struct db_stmts *stmts, int fd,
    server_handler handle)
{
	FCGX_Request	 fr;
	struct db	*db = NULL;
	struct http	*http = NULL;
	struct sigaction sa;
	sigset_t	 term, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = server_child_sig;	/* no SA_RESTART */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);

	jsonx_thread_init();
	if (db_open(cfg, stmts, &db) != XERR_OK ||
	    http_open(cfg, &http) != XERR_OK)
		log_fatalx("out of memory at start");
	http_set_timeout(http, cfg->http_interactive_timeout_ms);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, fd, 0) != 0)
		log_fatalx("FCGX_Init failed");
	while (!server_stop) {
		if (FCGX_Accept_r(&fr) < 0) {
			if (server_stop)
				break;
			continue;
		}
		/* From here a SIGTERM only marks the stop. */
		sigprocmask(SIG_BLOCK, &term, &old);
		server_busy = 1;
		sigprocmask(SIG_SETMASK, &old, NULL);
		server_serve(cfg, db, http, &fr, handle);
		FCGX_Finish_r(&fr);
		server_busy = 0;
	}
	http_close(http);
	db_close(db);
	_exit(0);
}

/* What each request thread of a threaded process needs. */
struct server_thread {
	const struct cfg	*cfg;
	const struct db_stmts	*stmts;
	int			 fd;
	server_handler		 handle;
};

/*
 * A request thread: accepts a connection and serves its requests until
 * nginx closes it (several, with fastcgi_keep_conn), then the next one.
 */
static void *
server_thread_main(void *arg)
{
	const struct server_thread *t = arg;
	FCGX_Request	 fr;
	struct db	*db = NULL;
	struct http	*http = NULL;

	pthread_setname_np(pthread_self(), "xsb-request");
	jsonx_thread_init();
	if (db_open(t->cfg, t->stmts, &db) != XERR_OK ||
	    http_open(t->cfg, &http) != XERR_OK ||
	    FCGX_InitRequest(&fr, t->fd, 0) != 0)
		log_fatalx("out of memory at start");
	http_set_timeout(http, t->cfg->http_interactive_timeout_ms);
	for (;;) {
		if (FCGX_Accept_r(&fr) < 0) {
			usleep(1000);	/* EMFILE and the like: no busy loop */
			continue;
		}
		__atomic_add_fetch(&server_nbusy, 1, __ATOMIC_SEQ_CST);
		server_serve(t->cfg, db, http, &fr, t->handle);
		FCGX_Finish_r(&fr);
		__atomic_sub_fetch(&server_nbusy, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/*
 * A threaded pool process.  SIGTERM and SIGINT are blocked in every thread
 * and taken here: the process exits once no request is in flight (or
 * after the grace period).  Never returns.
 */
static void
server_child_threads(const struct cfg *cfg, const struct db_stmts *stmts,
    int fd, server_handler handle, server_init init)
{
	static struct server_thread t;
	struct sigaction sa;
	pthread_attr_t	 attr;
	pthread_t	 tid;
	sigset_t	 term;
	unsigned long	 n = 1, i;
	time_t		 deadline;
	int		 sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	pthread_sigmask(SIG_BLOCK, &term, NULL);	/* inherited by threads */

	db_library_init();
	http_library_init();
	if (FCGX_Init() != 0)
		log_fatalx("FCGX_Init failed");
	if (init(cfg, &n) != XERR_OK)
		log_fatalx("process start failed");
	/*
	 * One malloc arena per thread: threads sharing an arena contend for
	 * its lock, and a preempted holder stalls the others.
	 */
	mallopt(M_ARENA_MAX, (int)(n + 8));
	t.cfg = cfg;
	t.stmts = stmts;
	t.fd = fd;
	t.handle = handle;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < n; i++)
		if (pthread_create(&tid, &attr, server_thread_main, &t) != 0)
			log_fatalx("cannot start request thread %lu", i);
	pthread_attr_destroy(&attr);

	while (sigwait(&term, &sig) != 0)
		;
	deadline = time(NULL) + SERVER_STOP_GRACE;
	while (__atomic_load_n(&server_nbusy, __ATOMIC_SEQ_CST) > 0 &&
	    time(NULL) < deadline)
		usleep(5000);
	_exit(0);
}

static pid_t
server_spawn(const struct cfg *cfg, const struct db_stmts *stmts, int fd,
    server_handler handle, server_init init)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0 && init != NULL)
		server_child_threads(cfg, stmts, fd, handle, init);
	if (pid == 0)
		server_child(cfg, stmts, fd, handle);
	return pid;
}

int
server_main(const char *prog, int argc, char *argv[],
    const struct db_stmts *stmts, server_handler handle)
{
	return server_main_threads(prog, argc, argv, stmts, handle, NULL);
}

int
server_main_threads(const char *prog, int argc, char *argv[],
    const struct db_stmts *stmts, server_handler handle, server_init init)
{
	struct cfg	*cfg = NULL;
	char		 err[256], *end;
	const char	*sock = NULL;
	pid_t		 pids[SERVER_MAX_PROCS], pid;
	unsigned long	 nproc = 0, i, alive;
	int		 ch, fd = 0, status;
	time_t		 deadline;
	struct sigaction sa;

	log_init(prog, LOG_LEVEL_INFO);
	while ((ch = getopt(argc, argv, "s:n:")) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'n':
			nproc = strtoul(optarg, &end, 10);
			if (*end != '\0' || nproc < 1 || nproc > SERVER_MAX_PROCS)
				log_fatalx("-n: expected 1 to %d",
				    SERVER_MAX_PROCS);
			break;
		default:
			fprintf(stderr, "usage: xsb-%s [-s socket] "
			    "[-n processes]\n", prog);
			return 2;
		}
	}
	if (crypto_init() != XERR_OK)
		log_fatalx("libsodium or libcrypto failed to initialise");
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK)
		log_fatalx("configuration: %s", err);
	log_init(prog, (enum log_level)cfg->log_level);
	metrics_open(cfg->metrics_file);	/* before fork: children share it */
	ratelimit_open();	/* the same: one table of rates per program */
	if (nproc == 0)
		nproc = cfg->fcgi_processes;

	if (sock != NULL) {
		unlink(sock);
		if ((fd = FCGX_OpenSocket(sock, 1024)) < 0)
			log_fatalx("cannot listen on %s", sock);
		/*
		 * Owner and group only: nginx reaches the socket through the
		 * group the service runs under (xswarm-billing-sock, shared
		 * with www-data alone); no other local user may talk FastCGI
		 * past nginx's rules.
		 */
		if (chmod(sock, 0660) == -1)
			log_fatalx("chmod %s: %s", sock, strerror(errno));
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = server_master_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	for (i = 0; i < nproc; i++)
		pids[i] = server_spawn(cfg, stmts, fd, handle, init);
	log_info("listening on %s with %lu processes", sock ? sock : "fd 0",
	    nproc);

	/* Respawn children that die until asked to stop. */
	while (!server_stop) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno != EINTR)
				sleep(1);
			continue;
		}
		for (i = 0; i < nproc; i++) {
			if (pids[i] != pid)
				continue;
			log_warnx("process %ld exited (status %d); respawning",
			    (long)pid, status);
			if (!server_stop) {
				usleep(100000);
				pids[i] = server_spawn(cfg, stmts, fd, handle, init);
			} else
				pids[i] = -1;
		}
	}

	log_info("stopping");
	for (i = 0; i < nproc; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	deadline = time(NULL) + SERVER_STOP_GRACE;
	do {
		alive = 0;
		for (i = 0; i < nproc; i++) {
			if (pids[i] <= 0)
				continue;
			if (waitpid(pids[i], &status, WNOHANG) == pids[i])
				pids[i] = -1;
			else
				alive++;
		}
		if (alive > 0)
			usleep(50000);
	} while (alive > 0 && time(NULL) < deadline);
	for (i = 0; i < nproc; i++)
		if (pids[i] > 0) {
			log_warnx("process %ld did not stop; killing",
			    (long)pids[i]);
			kill(pids[i], SIGKILL);
			waitpid(pids[i], &status, 0);
		}
	if (sock != NULL)
		unlink(sock);
	cfg_free(cfg);
	log_info("stopped");
	return 0;
}
