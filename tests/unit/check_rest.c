#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/rest.h"
#include "loopback.h"

static pid_t		 srv_pid = -1;
static int		 srv_port, srv_log = -1;
static struct cfg	 tcfg;
static struct http	*http;
static char		 base[64];

static const struct canned replies[] = {
	{ "POST /v1/made", "HTTP/1.1 201 Created\r\n", "{\"id\":\"x_1\"}" },
	{ "GET /v1/list", "HTTP/1.1 200 OK\r\nRequest-Id: req_7\r\n",
	    "{\"data\":[]}" },
	{ "DELETE /v1/gone", "HTTP/1.1 204 No Content\r\n", "" },
	{ "GET /v1/array", "HTTP/1.1 200 OK\r\n", "[1,2]" },
	{ "GET /v1/html", "HTTP/1.1 200 OK\r\n", "<html>ok</html>" },
	{ "GET /v1/moved", "HTTP/1.1 302 Found\r\nLocation: /v1/list\r\n",
	    "{}" },
	{ "GET /v1/continue", "HTTP/1.1 199 Odd\r\n", "{}" },
	{ "POST /v1/bad", "HTTP/1.1 400 Bad Request\r\n",
	    "{\"error\":{\"code\":\"parameter_unknown\"}}" },
	{ "GET /v1/slow", "HTTP/1.1 429 Too Many Requests\r\n", "{}" },
	{ "GET /v1/down", "HTTP/1.1 503 Service Unavailable\r\n"
	    "Stripe-Should-Retry: false\r\n", "<html>down</html>" },
	{ NULL, "HTTP/1.1 404 Not Found\r\n", "{\"message\":\"none\"}" },
};

static void
setup(void)
{
	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.http_connect_timeout_ms = 1000;
	tcfg.http_timeout_ms = 5000;
	tcfg.http_max_response = 65536;
	ck_assert_int_eq(http_open(&tcfg, &http), XERR_OK);
	srv_pid = loopback_canned(replies, &srv_port, &srv_log);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv_port);
}

static void
teardown(void)
{
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
	}
	srv_pid = -1;
	if (srv_log >= 0)
		close(srv_log);
	srv_log = -1;
	http_close(http);
	http = NULL;
}

/* Calls method on base + path with form "a=b&c=d e"; returns the result. */
static enum xerr
call(const char *method, const char *path, int need_json,
    struct rest_reply *rr)
{
	static const char *const hdrs[] = { "Idempotency-Key: k1",
	    "Stripe-Version: v9" };
	struct rest_req	 rq;
	struct buf	*form, *url;
	enum xerr	 rc;

	ck_assert_ptr_nonnull(form = buf_new(256));
	ck_assert_ptr_nonnull(url = buf_new(256));
	ck_assert_int_eq(http_form_add(form, "a", "b"), XERR_OK);
	ck_assert_int_eq(http_form_add(form, "c", "d e"), XERR_OK);
	ck_assert_int_eq(buf_printf(url, "%s%s", base, path), XERR_OK);
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = buf_data(url);
	rq.form = form;
	rq.bearer = "sk_unit";
	rq.headers = hdrs;
	rq.nheaders = 2;
	rq.need_json = need_json;
	rc = rest_call(http, &rq, rr);
	buf_free(form);
	buf_free(url);
	return rc;
}

START_TEST(class_table)
{
	static const struct {
		long		 status;
		enum xerr	 want;
	} t[] = {
		{ 0, XERR_UPSTREAM }, { 100, XERR_UPSTREAM },
		{ 199, XERR_UPSTREAM }, { 200, XERR_OK }, { 201, XERR_OK },
		{ 204, XERR_OK }, { 299, XERR_OK }, { 301, XERR_UPSTREAM },
		{ 302, XERR_UPSTREAM }, { 304, XERR_UPSTREAM },
		{ 400, XERR_UNPROCESSABLE }, { 401, XERR_UNPROCESSABLE },
		{ 402, XERR_UNPROCESSABLE }, { 404, XERR_NOTFOUND },
		{ 409, XERR_UNPROCESSABLE }, { 429, XERR_UPSTREAM },
		{ 499, XERR_UNPROCESSABLE }, { 500, XERR_UPSTREAM },
		{ 503, XERR_UPSTREAM }, { 599, XERR_UPSTREAM },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(rest_class(t[i].status) == t[i].want,
		    "status %ld", t[i].status);
}
END_TEST

START_TEST(post_sends_body_and_headers)
{
	struct rest_reply	 rr;
	const char		*head;

	ck_assert_int_eq(call("POST", "/v1/made", 1, &rr), XERR_OK);
	ck_assert_int_eq(rr.status, 201);
	ck_assert_str_eq(jsonx_str(rr.json, "id"), "x_1");
	rest_reply_clear(&rr);
	ck_assert_ptr_null(rr.json);
	head = loopback_next(srv_log);
	ck_assert_ptr_nonnull(strstr(head, "POST /v1/made HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\nAuthorization: Bearer "
	    "sk_unit\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\nIdempotency-Key: k1\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\nStripe-Version: v9\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\n\r\na=b&c=d%20e"));
}
END_TEST

START_TEST(get_sends_query)
{
	struct rest_reply	 rr;
	const char		*head;

	ck_assert_int_eq(call("GET", "/v1/list", 1, &rr), XERR_OK);
	ck_assert_ptr_nonnull(rr.json);
	ck_assert_str_eq(rr.resp.request_id, "req_7");
	rest_reply_clear(&rr);
	head = loopback_next(srv_log);
	ck_assert_ptr_nonnull(strstr(head, "GET /v1/list?a=b&c=d%20e "));
	ck_assert_ptr_null(strstr(head, "Content-Type:"));
}
END_TEST

START_TEST(basic_auth_and_timeout)
{
	struct rest_req		 rq;
	struct rest_reply	 rr;
	struct timespec		 t0, t1;
	char			 url[128];
	int			 s, port;
	long			 ms;

	memset(&rq, 0, sizeof(rq));
	snprintf(url, sizeof(url), "%s/v1/list", base);
	rq.method = "GET";
	rq.url = url;
	rq.userpwd = "AC1:tok";
	ck_assert_int_eq(rest_call(http, &rq, &rr), XERR_OK);
	rest_reply_clear(&rr);
	/* base64("AC1:tok") */
	ck_assert_ptr_nonnull(strstr(loopback_next(srv_log),
	    "\r\nAuthorization: Basic QUMxOnRvaw==\r\n"));

	/* A listener that never answers: the call's own timeout ends it. */
	s = loopback_listen(&port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/x", port);
	rq.userpwd = NULL;
	rq.timeout_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(rest_call(http, &rq, &rr), XERR_UPSTREAM);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(s);
	ck_assert_int_eq(rr.status, 0);
	ck_assert_ptr_null(rr.json);
	rest_reply_clear(&rr);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) /
	    1000000;
	ck_assert_int_lt(ms, 3000);
}
END_TEST

START_TEST(replies_by_class)
{
	static const struct {
		const char	*method, *path;
		int		 need_json;
		enum xerr	 want;
		long		 status;
		int		 json;		/* rr.json set */
	} t[] = {
		/* 204: no body, fine unless JSON is required. */
		{ "DELETE", "/v1/gone", 0, XERR_OK, 204, 0 },
		{ "DELETE", "/v1/gone", 1, XERR_UPSTREAM, 204, 0 },
		/* A 2xx that is not a JSON object is not a success. */
		{ "GET", "/v1/array", 0, XERR_UPSTREAM, 200, 0 },
		{ "GET", "/v1/html", 0, XERR_UPSTREAM, 200, 0 },
		/*
		 * 3xx (redirects are never followed) neither; a 1xx
		 * alone is no reply at all.
		 */
		{ "GET", "/v1/moved", 1, XERR_UPSTREAM, 302, 1 },
		{ "GET", "/v1/continue", 1, XERR_UPSTREAM, 0, 0 },
		/* Errors keep their body for the caller to read. */
		{ "POST", "/v1/bad", 1, XERR_UNPROCESSABLE, 400, 1 },
		{ "GET", "/v1/slow", 1, XERR_UPSTREAM, 429, 1 },
		{ "GET", "/v1/down", 1, XERR_UPSTREAM, 503, 0 },
		{ "GET", "/v1/nowhere", 1, XERR_NOTFOUND, 404, 1 },
	};
	struct rest_reply	 rr;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(call(t[i].method, t[i].path, t[i].need_json,
		    &rr) == t[i].want, "%s %s", t[i].method, t[i].path);
		ck_assert_int_eq(rr.status, t[i].status);
		ck_assert_int_eq(rr.json != NULL, t[i].json);
		if (i == 6)
			ck_assert_str_eq(jsonx_str(rr.json, "error.code"),
			    "parameter_unknown");
		if (i == 8)
			ck_assert_str_eq(rr.resp.should_retry, "false");
		rest_reply_clear(&rr);
	}
}
END_TEST

START_TEST(refused_before_sending)
{
	static const char *const many[REST_HEADERS_MAX + 1] = { "A: b" };
	struct rest_req		 rq;
	struct rest_reply	 rr;

	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	ck_assert_int_eq(rest_call(http, &rq, &rr), XERR_BADREQ);
	rq.url = base;
	rq.headers = many;
	rq.nheaders = REST_HEADERS_MAX + 1;
	ck_assert_int_eq(rest_call(http, &rq, &rr), XERR_BADREQ);
	ck_assert_int_eq(rr.status, 0);
	/* Nothing listens on port 1. */
	rq.url = "http://127.0.0.1:1/v1/x";
	rq.nheaders = 0;
	ck_assert_int_eq(rest_call(http, &rq, &rr), XERR_UPSTREAM);
	ck_assert_int_eq(rr.status, 0);
	rest_reply_clear(&rr);
	rest_reply_clear(NULL);
}
END_TEST

static Suite *
rest_suite(void)
{
	Suite	*s = suite_create("rest");
	TCase	*tc;

	tc = tcase_create("pure");
	tcase_add_test(tc, class_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, post_sends_body_and_headers);
	tcase_add_test(tc, get_sends_query);
	tcase_add_test(tc, basic_auth_and_timeout);
	tcase_add_test(tc, replies_by_class);
	tcase_add_test(tc, refused_before_sending);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(rest_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
