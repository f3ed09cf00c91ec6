#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/http.h"
#include "loopback.h"

#define CAP	4096		/* reply cap of the test configuration */
#define BIG	100000		/* what the big replies send */

/*
 * A tiny HTTP/1.1 server in a child process, on 127.0.0.1 and a port the
 * kernel picks.  It serves requests one connection at a time, keeping each
 * connection open for as many requests as the client sends.
 */
enum srv_mode {
	SRV_ECHO,	/* 201, body describes the request */
	SRV_BIG_LEN,	/* 200 with Content-Length: BIG */
	SRV_BIG_CLOSE,	/* 200, BIG bytes, no length, then close */
	SRV_HANG,	/* reads the request, never answers */
};

static pid_t		 srv_pid = -1;
static int		 srv_port;
static struct cfg	*cfg;
static struct http	*http;

static void
srv_write(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0)
			_exit(0);
		p += n;
		len -= (size_t)n;
	}
}

/* Returns the value of header name in the head of a request, or NULL. */
static const char *
srv_header(const char *head, const char *name, char *val, size_t sz)
{
	const char	*p = head;
	size_t		 nl = strlen(name), n;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			n = strcspn(p, "\r\n");
			snprintf(val, sz, "%.*s", (int)n, p);
			return val;
		}
	}
	return NULL;
}

/* Serves one connection; returns when the client closes it. */
static void
srv_conn(int fd, enum srv_mode mode, int nconn)
{
	static char	 in[65536], out[70000], big[BIG];
	char		 method[16], path[256], cl[32], ct[128], au[128], xt[128];
	char		*end;
	size_t		 have = 0, headlen, bodylen;
	ssize_t		 n;
	int		 nreq = 0, len;

	for (;;) {
		/* Read a head, then its body. */
		while ((end = memmem(in, have, "\r\n\r\n", 4)) == NULL) {
			if (have == sizeof(in) - 1 ||
			    (n = read(fd, in + have, sizeof(in) - 1 - have)) <= 0)
				return;
			have += (size_t)n;
		}
		*end = '\0';
		headlen = (size_t)(end - in) + 4;
		bodylen = srv_header(in, "Content-Length", cl, sizeof(cl)) ?
		    strtoul(cl, NULL, 10) : 0;
		while (have < headlen + bodylen) {
			if ((n = read(fd, in + have, sizeof(in) - 1 - have)) <= 0)
				return;
			have += (size_t)n;
		}
		nreq++;
		if (sscanf(in, "%15s %255s", method, path) != 2)
			return;

		switch (mode) {
		case SRV_HANG:
			sleep(30);
			_exit(0);
		case SRV_BIG_LEN:
			len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\n"
			    "Content-Length: %d\r\n\r\n", BIG);
			srv_write(fd, out, (size_t)len);
			memset(big, 'b', sizeof(big));
			srv_write(fd, big, sizeof(big));
			break;
		case SRV_BIG_CLOSE:
			len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\n"
			    "Connection: close\r\n\r\n");
			srv_write(fd, out, (size_t)len);
			memset(big, 'b', sizeof(big));
			srv_write(fd, big, sizeof(big));
			return;
		case SRV_ECHO: {
			char	 body[1024];
			int	 blen;

			blen = snprintf(body, sizeof(body),
			    "%s %s conn=%d req=%d len=%zu auth=%s xtest=%s "
			    "ct=%s body=%.*s", method, path, nconn, nreq,
			    bodylen,
			    srv_header(in, "Authorization", au, sizeof(au)) ?
			    au : "-",
			    srv_header(in, "X-Test", xt, sizeof(xt)) ?
			    xt : "-",
			    srv_header(in, "Content-Type", ct, sizeof(ct)) ?
			    ct : "-",
			    (int)bodylen, in + headlen);
			len = snprintf(out, sizeof(out),
			    "HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n",
			    strncmp(path, "/missing", 8) == 0 ?
			    "404 Not Found" : "201 Created", blen,
			    strncmp(path, "/twilio", 7) == 0 ?
			    "Twilio-Request-Id: RQ0123abcd\r\n" :
			    strncmp(path, "/noid", 5) == 0 ? "" :
			    "Request-Id: req_123\r\n");
			srv_write(fd, out, (size_t)len);
			srv_write(fd, body, (size_t)blen);
			break;
		}
		}
		/* Keep what followed this request (pipelining, unused). */
		memmove(in, in + headlen + bodylen, have - headlen - bodylen);
		have -= headlen + bodylen;
	}
}

static void
srv_start(enum srv_mode mode)
{
	int			 s, c, nconn = 0;

	s = loopback_listen(&srv_port);
	ck_assert_int_ge(srv_pid = fork(), 0);
	if (srv_pid == 0) {
		/* Never outlive the test, even when it dies on an assert. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		for (;;) {
			if ((c = accept(s, NULL, NULL)) < 0)
				_exit(1);
			srv_conn(c, mode, ++nconn);
			close(c);
		}
	}
	close(s);
}

static void
srv_stop(void)
{
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
	}
	srv_pid = -1;
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(cfg = calloc(1, sizeof(*cfg)));
	cfg->http_connect_timeout_ms = 1000;
	cfg->http_timeout_ms = 3000;
	cfg->http_max_response = CAP;
	ck_assert_int_eq(http_open(cfg, &http), XERR_OK);
}

static void
teardown(void)
{
	srv_stop();
	http_close(http);
	http = NULL;
	free(cfg);
	cfg = NULL;
}

/* Makes "http://127.0.0.1:<port><path>" in url. */
static const char *
url(char *buf, size_t sz, const char *path)
{
	snprintf(buf, sz, "http://127.0.0.1:%d%s", srv_port, path);
	return buf;
}

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(form_encoding)
{
	struct buf	*b;

	ck_assert_ptr_nonnull(b = buf_new(1024));
	ck_assert_int_eq(http_form_add(b, "a b", "c&d=e"), XERR_OK);
	ck_assert_str_eq(buf_data(b), "a%20b=c%26d%3De");
	ck_assert_int_eq(http_form_add(b, "metadata[user_id]", "u_1"), XERR_OK);
	ck_assert_int_eq(http_form_add(b, "name", "caf\xc3\xa9"), XERR_OK);
	ck_assert_int_eq(http_form_add(b, "empty", ""), XERR_OK);
	ck_assert_int_eq(http_form_add(b, "k", "-._~+/*%\n"), XERR_OK);
	ck_assert_str_eq(buf_data(b), "a%20b=c%26d%3De"
	    "&metadata%5Buser_id%5D=u_1"
	    "&name=caf%C3%A9"
	    "&empty="
	    "&k=-._~%2B%2F%2A%25%0A");
	ck_assert_int_eq(http_form_add(b, "", "x"), XERR_BADREQ);
	ck_assert_int_eq(http_form_add(b, "x", NULL), XERR_BADREQ);
	buf_free(b);
}
END_TEST

START_TEST(form_long_and_capped)
{
	struct buf	*b;
	char		 v[1000];

	/* Longer than the encoder's chunk, all escaped. */
	memset(v, ' ', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	ck_assert_ptr_nonnull(b = buf_new(4000));
	ck_assert_int_eq(http_form_add(b, "v", v), XERR_OK);
	ck_assert_uint_eq(buf_len(b), 2 + 3 * (sizeof(v) - 1));
	ck_assert_int_eq(http_form_add(b, "w", v), XERR_TOOBIG);
	buf_free(b);
}
END_TEST

START_TEST(path_escaping)
{
	struct buf	*b;

	ck_assert_ptr_nonnull(b = buf_new(256));
	ck_assert_int_eq(http_path_escape("cus_123-AB.c~", b), XERR_OK);
	ck_assert_str_eq(buf_data(b), "cus_123-AB.c~");
	buf_reset(b);
	ck_assert_int_eq(http_path_escape("a/b?c#d%e f&g", b), XERR_OK);
	ck_assert_str_eq(buf_data(b), "a%2Fb%3Fc%23d%25e%20f%26g");
	buf_reset(b);
	ck_assert_int_eq(http_path_escape("...", b), XERR_OK);
	ck_assert_str_eq(buf_data(b), "...");
	ck_assert_int_eq(http_path_escape("..", b), XERR_BADREQ);
	ck_assert_int_eq(http_path_escape(".", b), XERR_BADREQ);
	ck_assert_int_eq(http_path_escape("", b), XERR_BADREQ);
	ck_assert_int_eq(http_path_escape(NULL, b), XERR_BADREQ);
	buf_free(b);
}
END_TEST

START_TEST(post_then_get)
{
	static const char *const hdrs[] = { "X-Test: one",
	    "Content-Type: application/x-www-form-urlencoded" };
	struct http_req		 req;
	struct http_resp	 resp;
	char			 u[128];

	srv_start(SRV_ECHO);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url(u, sizeof(u), "/v1/customers");
	req.headers = hdrs;
	req.nheaders = 2;
	req.body = "email=a%40b.c";
	req.bodylen = strlen(req.body);
	req.userpwd = "sk_test_x:";
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_int_eq(resp.status, 201);
	ck_assert_str_eq(resp.body, "POST /v1/customers conn=1 req=1 len=13 "
	    "auth=Basic c2tfdGVzdF94Og== xtest=one "
	    "ct=application/x-www-form-urlencoded body=email=a%40b.c");
	ck_assert_uint_eq(resp.len, strlen(resp.body));
	ck_assert_str_eq(resp.request_id, "req_123");
	http_resp_clear(&resp);

	/* Nothing of the POST survives: method, body, headers, auth. */
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url(u, sizeof(u), "/twilio/x");
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_int_eq(resp.status, 201);
	/* Same connection, second request: kept alive. */
	ck_assert_str_eq(resp.body, "GET /twilio/x conn=1 req=2 len=0 "
	    "auth=- xtest=- ct=- body=");
	ck_assert_str_eq(resp.request_id, "RQ0123abcd");
	http_resp_clear(&resp);

	/* Any status is the caller's to judge; no id header, no id. */
	req.url = url(u, sizeof(u), "/missing/noid");
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_int_eq(resp.status, 404);
	http_resp_clear(&resp);
	req.url = url(u, sizeof(u), "/noid");
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_ptr_null(resp.request_id);
	http_resp_clear(&resp);
	http_resp_clear(NULL);
}
END_TEST

START_TEST(other_methods)
{
	struct http_req		 req;
	struct http_resp	 resp;
	char			 u[128];

	srv_start(SRV_ECHO);
	memset(&req, 0, sizeof(req));
	req.method = "DELETE";
	req.url = url(u, sizeof(u), "/v1/subscriptions/sub_1");
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_str_eq(resp.body, "DELETE /v1/subscriptions/sub_1 conn=1 "
	    "req=1 len=0 auth=- xtest=- ct=- body=");
	http_resp_clear(&resp);

	req.method = "POST";		/* POST without a body */
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_ptr_nonnull(strstr(resp.body, "POST "));
	ck_assert_ptr_nonnull(strstr(resp.body, " len=0 "));
	http_resp_clear(&resp);

	req.method = "PATCH";
	req.body = "a=1";
	req.bodylen = 3;
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_ptr_nonnull(strstr(resp.body, "PATCH "));
	ck_assert_ptr_nonnull(strstr(resp.body, " body=a=1"));
	http_resp_clear(&resp);
}
END_TEST

START_TEST(bad_requests)
{
	static const char *const crlf[] = { "X-A: b\r\nX-Evil: 1" };
	struct http_req		 req;
	struct http_resp	 resp;

	memset(&req, 0, sizeof(req));
	req.url = "http://127.0.0.1:1/";
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_BADREQ);
	req.method = "get";
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_BADREQ);
	req.method = "GET";
	req.body = "x";
	req.bodylen = 1;
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_BADREQ);
	req.body = NULL;
	req.headers = crlf;
	req.nheaders = 1;
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_BADREQ);
	ck_assert_ptr_null(resp.body);
	req.nheaders = 0;
	req.url = NULL;
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_BADREQ);
	/* Only http and https. */
	req.url = "file:///etc/passwd";
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_UPSTREAM);
	ck_assert_ptr_null(resp.body);
}
END_TEST

START_TEST(reply_cap)
{
	struct http_req		 req;
	struct http_resp	 resp;
	char			 u[128];

	srv_start(SRV_BIG_LEN);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url(u, sizeof(u), "/big");
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_UPSTREAM);
	ck_assert_ptr_null(resp.body);
	ck_assert_ptr_null(resp.request_id);
}
END_TEST

START_TEST(reply_cap_no_length)
{
	struct http_req		 req;
	struct http_resp	 resp;
	char			 u[128];

	srv_start(SRV_BIG_CLOSE);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url(u, sizeof(u), "/big");
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_UPSTREAM);
	ck_assert_ptr_null(resp.body);

	/* Under the cap the same server is fine. */
	cfg->http_max_response = BIG;
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_OK);
	ck_assert_uint_eq(resp.len, BIG);
	http_resp_clear(&resp);
}
END_TEST

/*
 * Asks the server that never answers (started by the caller) and returns
 * how long http_do() took; it must have given up (XERR_UPSTREAM).
 */
static double
hang_seconds(void)
{
	struct http_req		 req;
	struct http_resp	 resp;
	char			 u[128];
	double			 t0;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url(u, sizeof(u), "/slow");
	t0 = now_s();
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_UPSTREAM);
	return now_s() - t0;
}

START_TEST(total_timeout)
{
	double	 t;

	srv_start(SRV_HANG);
	cfg->http_connect_timeout_ms = 300;
	cfg->http_timeout_ms = 300;
	t = hang_seconds();
	ck_assert_double_lt(t, 1.0);
	ck_assert_double_ge(t, 0.25);
}
END_TEST

/* http_set_timeout() shortens one client's calls; 0 restores the config's. */
START_TEST(client_timeout)
{
	double	 t;

	srv_start(SRV_HANG);
	cfg->http_connect_timeout_ms = 300;
	cfg->http_timeout_ms = 1500;
	http_set_timeout(http, 300);
	t = hang_seconds();
	ck_assert_double_lt(t, 1.0);
	ck_assert_double_ge(t, 0.25);
	http_set_timeout(http, 0);
	ck_assert_double_ge(hang_seconds(), 1.4);
}
END_TEST

START_TEST(connection_refused)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	struct http_req		 req;
	struct http_resp	 resp;
	char			 u[128];
	int			 s;

	/* A port that was free a moment ago and has no listener. */
	ck_assert_int_ge(s = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &slen), 0);
	srv_port = ntohs(sin.sin_port);
	close(s);

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url(u, sizeof(u), "/");
	ck_assert_int_eq(http_do(http, &req, &resp), XERR_UPSTREAM);
	ck_assert_ptr_null(resp.body);
}
END_TEST

START_TEST(open_close)
{
	struct http	*h = NULL;

	ck_assert_int_eq(http_open(cfg, &h), XERR_OK);
	ck_assert_ptr_nonnull(h);
	http_close(h);
	http_close(NULL);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite	*s = suite_create("http");
	TCase	*tc;

	tc = tcase_create("encoding");
	tcase_add_test(tc, form_encoding);
	tcase_add_test(tc, form_long_and_capped);
	tcase_add_test(tc, path_escaping);
	suite_add_tcase(s, tc);

	tc = tcase_create("requests");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_close);
	tcase_add_test(tc, post_then_get);
	tcase_add_test(tc, other_methods);
	tcase_add_test(tc, bad_requests);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reply_cap);
	tcase_add_test(tc, reply_cap_no_length);
	tcase_add_test(tc, total_timeout);
	tcase_add_test(tc, client_timeout);
	tcase_add_test(tc, connection_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(http_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
