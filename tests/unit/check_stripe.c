#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "loopback.h"
#include "remote/stripe.h"

/* The list of stripe_list_find() and stripe_create_once() here. */
#define ITEMS	"/v1/invoiceitems"

/* Stripe as a child process on 127.0.0.1 (loopback_canned()). */
static pid_t		 fake_pid = -1;
static int		 fake_port, fake_log = -1;
static struct cfg	 fcfg;
static struct http	*http;

static void
fake_start(const struct canned *table)
{
	static char		 base[64];

	fake_pid = loopback_canned(table, &fake_port, &fake_log);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", fake_port);
	fcfg.stripe_api_base = base;
}

/* Returns the head of the next request the fake read (static). */
static const char *
fake_next(void)
{
	return loopback_next(fake_log);
}

static void
setup(void)
{
	memset(&fcfg, 0, sizeof(fcfg));
	fcfg.http_connect_timeout_ms = 1000;
	fcfg.http_timeout_ms = 3000;
	fcfg.http_max_response = 65536;
	fcfg.stripe_secret_key = "sk_test_unit";
	fcfg.stripe_api_version = "2026-10-28.endive";
	ck_assert_int_eq(http_open(&fcfg, &http), XERR_OK);
}

static void
teardown(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
	}
	fake_pid = -1;
	if (fake_log >= 0)
		close(fake_log);
	fake_log = -1;
	http_close(http);
	http = NULL;
}

START_TEST(fate_table)
{
	/* status, Stripe-Should-Retry, replayed -> fate */
	static const struct {
		long		 status;
		int		 retry, replayed;
		enum xerr	 want;
	} t[] = {
		{ 200, -1, 0, XERR_OK }, { 201, 0, 1, XERR_OK },
		{ 0, -1, 0, XERR_UPSTREAM },
		{ 500, -1, 0, XERR_UPSTREAM }, { 503, -1, 0, XERR_UPSTREAM },
		{ 429, -1, 0, XERR_UPSTREAM }, { 409, -1, 0, XERR_UPSTREAM },
		{ 400, -1, 0, XERR_UNPROCESSABLE },
		{ 401, -1, 0, XERR_UNPROCESSABLE },
		{ 402, -1, 0, XERR_UNPROCESSABLE },
		{ 403, -1, 0, XERR_UNPROCESSABLE },
		{ 404, -1, 0, XERR_NOTFOUND },
		/* Stripe-Should-Retry wins over the status... */
		{ 409, 0, 0, XERR_UNPROCESSABLE },
		{ 500, 0, 0, XERR_UNPROCESSABLE },
		{ 503, 0, 0, XERR_UNPROCESSABLE },
		{ 400, 1, 0, XERR_UPSTREAM }, { 409, 1, 0, XERR_UPSTREAM },
		{ 404, 1, 0, XERR_UPSTREAM },
		{ 404, 0, 0, XERR_NOTFOUND },
		/* ...and a saved failure is answered to every retry. */
		{ 500, -1, 1, XERR_UNPROCESSABLE },
		{ 500, 1, 1, XERR_UPSTREAM },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(stripe_fate(t[i].status, t[i].retry,
		    t[i].replayed) == t[i].want, "row %zu: %ld %d %d", i,
		    t[i].status, t[i].retry, t[i].replayed);
}
END_TEST

START_TEST(header_bool_and_code)
{
	char	 c[STRIPE_CODE_MAX];

	ck_assert_int_eq(stripe_header_bool("true"), 1);
	ck_assert_int_eq(stripe_header_bool("false"), 0);
	ck_assert_int_eq(stripe_header_bool("TRUE"), -1);
	ck_assert_int_eq(stripe_header_bool(""), -1);
	ck_assert_int_eq(stripe_header_bool(NULL), -1);
	stripe_code_copy("parameter_unknown", c, sizeof(c));
	ck_assert_str_eq(c, "parameter_unknown");
	stripe_code_copy("card_declined2", c, sizeof(c));
	ck_assert_str_eq(c, "card_declined2");
	/* Anything that is not a plain token is not quoted to users. */
	stripe_code_copy("sk_test_abc: key", c, sizeof(c));
	ck_assert_str_eq(c, "");
	stripe_code_copy("Bad", c, sizeof(c));
	ck_assert_str_eq(c, "");
	stripe_code_copy("", c, sizeof(c));
	ck_assert_str_eq(c, "");
	stripe_code_copy(NULL, c, sizeof(c));
	ck_assert_str_eq(c, "");
	stripe_code_copy("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
	    "abcdefghijklmnopqrstuvwxyz", c, sizeof(c));
	ck_assert_str_eq(c, "");
	stripe_code_copy("abcdef", c, 4);
	ck_assert_str_eq(c, "");
}
END_TEST

static const struct canned replies[] = {
	{ "POST /v1/ok", "HTTP/1.1 200 OK\r\nRequest-Id: req_1\r\n",
	    "{\"id\":\"ii_1\",\"object\":\"invoiceitem\"}" },
	{ "POST /v1/saved", "HTTP/1.1 500 Internal Server Error\r\n"
	    "Stripe-Should-Retry: false\r\nIdempotent-Replayed: true\r\n",
	    "{\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}" },
	{ "POST /v1/retry409", "HTTP/1.1 409 Conflict\r\n"
	    "Stripe-Should-Retry: true\r\n",
	    "{\"error\":{\"type\":\"idempotency_error\","
	    "\"code\":\"idempotency_key_in_use\",\"message\":\"busy\"}}" },
	{ "POST /v1/bad", "HTTP/1.1 400 Bad Request\r\n",
	    "{\"error\":{\"type\":\"invalid_request_error\","
	    "\"code\":\"parameter_unknown\",\"message\":\"Received unknown "
	    "parameter: nope (key sk_test_****unit)\"}}" },
	{ "POST /v1/declined", "HTTP/1.1 402 Payment Required\r\n",
	    "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
	    "\"decline_code\":\"insufficient_funds\",\"message\":\"no\"}}" },
	{ "GET /v1/html", "HTTP/1.1 502 Bad Gateway\r\n", "<html>bad</html>" },
	{ "GET /v1/okhtml", "HTTP/1.1 200 OK\r\n", "<html>ok</html>" },
	{ "GET /v1/moved", "HTTP/1.1 302 Found\r\nLocation: /v1/ok\r\n",
	    "{\"id\":\"ii_9\"}" },
	{ "GET /v1/invoiceitems?invoice=in_1&limit=100&starting_after=ii_b",
	    "HTTP/1.1 200 OK\r\n",
	    "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"ii_c\","
	    "\"metadata\":{\"xsb_line\":\"in_1:sms\"}}]}" },
	{ "GET /v1/invoiceitems?invoice=in_1&limit=100", "HTTP/1.1 200 OK\r\n",
	    "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"ii_a\","
	    "\"metadata\":{}},{\"id\":\"ii_b\",\"metadata\":{\"xsb_line\":"
	    "\"in_1:voice\"}}]}" },
	{ NULL, "HTTP/1.1 404 Not Found\r\n", "{\"error\":{\"type\":"
	    "\"invalid_request_error\",\"code\":\"resource_missing\","
	    "\"message\":\"Unrecognized request URL\"}}" },
};

/* Calls method path with a small form under key "k1"; returns the fate. */
static enum xerr
call(const char *method, const char *path, struct json_object **out,
    struct stripe_reply *rep)
{
	struct buf	*form;
	enum xerr	 rc;

	ck_assert_ptr_nonnull(form = buf_new(256));
	ck_assert_int_eq(http_form_add(form, "a", "b"), XERR_OK);
	rc = stripe_call(http, &fcfg, method, path,
	    strcmp(method, "POST") == 0 ? form : NULL, "k1", out, rep);
	buf_free(form);
	return rc;
}

START_TEST(call_replies)
{
	struct json_object	*o = NULL;
	struct stripe_reply	 rep;
	const char		*head;

	fake_start(replies);
	ck_assert_int_eq(call("POST", "/v1/ok", &o, &rep), XERR_OK);
	ck_assert_str_eq(jsonx_str(o, "id"), "ii_1");
	ck_assert_int_eq(rep.status, 200);
	json_object_put(o);
	head = fake_next();
	ck_assert_ptr_nonnull(strstr(head, "\r\nAuthorization: Bearer "
	    "sk_test_unit\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\nStripe-Version: "
	    "2026-10-28.endive\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\nIdempotency-Key: k1\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\n\r\na=b"));

	/* A 500 saved for the key: permanent, with both hints read. */
	ck_assert_int_eq(call("POST", "/v1/saved", &o, &rep),
	    XERR_UNPROCESSABLE);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(rep.status, 500);
	ck_assert_int_eq(rep.should_retry, 0);
	ck_assert_int_eq(rep.replayed, 1);
	ck_assert_str_eq(rep.msg, "Stripe 500: boom");
	/* A 409 Stripe says to retry. */
	ck_assert_int_eq(call("POST", "/v1/retry409", &o, &rep),
	    XERR_UPSTREAM);
	ck_assert_int_eq(rep.should_retry, 1);
	ck_assert_int_eq(rep.replayed, 0);
	ck_assert_str_eq(rep.code, "idempotency_key_in_use");
	/* A refusal: its code kept, its message only for the logs. */
	ck_assert_int_eq(call("POST", "/v1/bad", &o, &rep),
	    XERR_UNPROCESSABLE);
	ck_assert_int_eq(rep.status, 400);
	ck_assert_int_eq(rep.should_retry, -1);
	ck_assert_str_eq(rep.code, "parameter_unknown");
	ck_assert_ptr_nonnull(strstr(rep.msg, "unknown parameter"));
	ck_assert_int_eq(call("POST", "/v1/declined", &o, &rep),
	    XERR_UNPROCESSABLE);
	ck_assert_int_eq(rep.status, 402);
	ck_assert_str_eq(rep.code, "card_declined");
	ck_assert_str_eq(rep.decline_code, "insufficient_funds");
	/* Not JSON: a proxy's 502 may pass; a 2xx we cannot read too. */
	ck_assert_int_eq(call("GET", "/v1/html", &o, &rep), XERR_UPSTREAM);
	ck_assert_int_eq(rep.status, 502);
	ck_assert_int_eq(call("GET", "/v1/okhtml", &o, &rep), XERR_UPSTREAM);
	ck_assert_ptr_null(o);
	/* A redirect is not followed, nor a success: stripe_fate(). */
	ck_assert_int_eq(call("GET", "/v1/moved", &o, &rep),
	    XERR_UNPROCESSABLE);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(rep.status, 302);
	ck_assert_int_eq(call("GET", "/v1/nothing", &o, &rep), XERR_NOTFOUND);
	ck_assert_str_eq(rep.code, "resource_missing");
	/* A POST without a key is never sent. */
	ck_assert_int_eq(stripe_call(http, &fcfg, "POST", "/v1/ok", NULL,
	    NULL, &o, &rep), XERR_INTERNAL);
}
END_TEST

START_TEST(call_unreachable)
{
	struct json_object	*o = NULL;
	struct stripe_reply	 rep;

	fcfg.stripe_api_base = "http://127.0.0.1:1";
	ck_assert_int_eq(call("POST", "/v1/ok", &o, &rep), XERR_UPSTREAM);
	ck_assert_int_eq(rep.status, 0);
	ck_assert_int_eq(rep.should_retry, -1);
	ck_assert_str_eq(rep.msg, "Stripe unreachable");
}
END_TEST

/* Matches the item whose metadata[xsb_line] is arg. */
static int
match_line(struct json_object *it, void *arg)
{
	const char	*x = jsonx_str(it, "metadata.xsb_line");

	return x != NULL && strcmp(x, arg) == 0;
}

START_TEST(find_pages)
{
	struct json_object	*o = NULL;
	struct stripe_reply	 rep;

	fake_start(replies);
	/* On the first page: one request. */
	ck_assert_int_eq(stripe_list_find(http, &fcfg, ITEMS, "invoice", "in_1",
	    match_line, "in_1:voice", &o, &rep), XERR_OK);
	ck_assert_str_eq(jsonx_str(o, "id"), "ii_b");
	json_object_put(o);
	ck_assert_ptr_nonnull(strstr(fake_next(),
	    "GET /v1/invoiceitems?invoice=in_1&limit=100 "));
	/* On the second page, after the first page's last id. */
	ck_assert_int_eq(stripe_list_find(http, &fcfg, ITEMS, "invoice", "in_1",
	    match_line, "in_1:sms", &o, &rep), XERR_OK);
	ck_assert_str_eq(jsonx_str(o, "id"), "ii_c");
	json_object_put(o);
	fake_next();
	ck_assert_ptr_nonnull(strstr(fake_next(), "GET /v1/invoiceitems?"
	    "invoice=in_1&limit=100&starting_after=ii_b "));
	/* Nowhere: no item, and no error. */
	ck_assert_int_eq(stripe_list_find(http, &fcfg, ITEMS, "invoice", "in_1",
	    match_line, "in_1:phone", &o, &rep), XERR_OK);
	ck_assert_ptr_null(o);
	/* An invoice Stripe does not know: its error. */
	ck_assert_int_eq(stripe_list_find(http, &fcfg, ITEMS, "invoice", "in_2",
	    match_line, "in_2:sms", &o, &rep), XERR_NOTFOUND);
	ck_assert_ptr_null(o);
}
END_TEST

#define SAVED500	"HTTP/1.1 500 Internal Server Error\r\n" \
	"Stripe-Should-Retry: false\r\n"
#define ERR500		"{\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}"
#define EMPTY		"{\"object\":\"list\",\"has_more\":false,\"data\":[]}"
#define OK200		"HTTP/1.1 200 OK\r\n"

/* Invoices of stripe_create_once(), each failing its own way. */
static const struct canned once[] = {
	/* in_s: a failure saved without an item; the next key creates it. */
	{ "POST /v1/invoiceitems", SAVED500, ERR500, "Idempotency-Key: in_s:sms\r" },
	{ "GET /v1/invoiceitems?invoice=in_s&", OK200, EMPTY, NULL },
	{ "POST /v1/invoiceitems", OK200, "{\"id\":\"ii_new\"}",
	    "Idempotency-Key: in_s:sms:r1\r" },
	/* in_a: a 500 saved after the item was made: found, not posted. */
	{ "POST /v1/invoiceitems", SAVED500, ERR500, "Idempotency-Key: in_a:sms\r" },
	{ "GET /v1/invoiceitems?invoice=in_a&", OK200, "{\"object\":\"list\","
	    "\"has_more\":false,\"data\":[{\"id\":\"ii_made\",\"metadata\":"
	    "{\"xsb_line\":\"in_a:sms\"}}]}", NULL },
	/* in_p: a plain 500 (may not be saved): the same key, later. */
	{ "POST /v1/invoiceitems", "HTTP/1.1 500 Internal Server Error\r\n",
	    ERR500, "Idempotency-Key: in_p:sms\r" },
	{ "GET /v1/invoiceitems?invoice=in_p&", OK200, EMPTY, NULL },
	/* in_r: a refusal: never, and nothing read. */
	{ "POST /v1/invoiceitems", "HTTP/1.1 400 Bad Request\r\n",
	    "{\"error\":{\"code\":\"parameter_unknown\"}}",
	    "Idempotency-Key: in_r:sms\r" },
	/* in_x: every key has a saved failure. */
	{ "POST /v1/invoiceitems", SAVED500, ERR500, "Idempotency-Key: in_x:sms" },
	{ "GET /v1/invoiceitems?invoice=in_x&", OK200, EMPTY, NULL },
	{ NULL, "HTTP/1.1 404 Not Found\r\n", "{}", NULL },
};

/* Runs stripe_create_once() for invoice's sms line. */
static enum xerr
item_once(const char *inv, struct json_object **out, struct stripe_reply *rep)
{
	struct buf	*form;
	char		 key[64];
	enum xerr	 rc;

	snprintf(key, sizeof(key), "%s:sms", inv);
	ck_assert_ptr_nonnull(form = buf_new(256));
	ck_assert_int_eq(http_form_add(form, "invoice", inv), XERR_OK);
	rc = stripe_create_once(http, &fcfg, ITEMS, "invoice", inv, form, key,
	    match_line, key, out, rep);
	buf_free(form);
	return rc;
}

/* Checks that the next request the fake read starts with start and has has. */
static void
next_is(const char *start, const char *has)
{
	const char	*head = fake_next();

	ck_assert_msg(strncmp(head, start, strlen(start)) == 0 &&
	    (has == NULL || strstr(head, has) != NULL), "got %.80s", head);
}

START_TEST(item_once_keys)
{
	struct json_object	*o = NULL;
	struct stripe_reply	 rep;
	int			 i;

	fake_start(once);
	ck_assert_int_eq(item_once("in_s", &o, &rep), XERR_OK);
	ck_assert_str_eq(jsonx_str(o, "id"), "ii_new");
	json_object_put(o);
	next_is("POST /v1/invoiceitems", "Idempotency-Key: in_s:sms\r");
	next_is("GET /v1/invoiceitems?invoice=in_s&limit=100 ", NULL);
	/* The same parameters under the next key. */
	next_is("POST /v1/invoiceitems", "Idempotency-Key: in_s:sms:r1\r");

	ck_assert_int_eq(item_once("in_a", &o, &rep), XERR_OK);
	ck_assert_str_eq(jsonx_str(o, "id"), "ii_made");
	json_object_put(o);
	next_is("POST /v1/invoiceitems", "Idempotency-Key: in_a:sms\r");
	next_is("GET /v1/invoiceitems?invoice=in_a&", NULL);

	ck_assert_int_eq(item_once("in_p", &o, &rep), XERR_UPSTREAM);
	ck_assert_ptr_null(o);
	next_is("POST /v1/invoiceitems", "Idempotency-Key: in_p:sms\r");
	next_is("GET /v1/invoiceitems?invoice=in_p&", NULL);

	ck_assert_int_eq(item_once("in_r", &o, &rep), XERR_UNPROCESSABLE);
	ck_assert_str_eq(rep.code, "parameter_unknown");
	next_is("POST /v1/invoiceitems", "Idempotency-Key: in_r:sms\r");

	ck_assert_int_eq(item_once("in_x", &o, &rep), XERR_UNPROCESSABLE);
	ck_assert_ptr_null(o);
	for (i = 0; i < STRIPE_KEYS_MAX; i++) {
		next_is("POST /v1/invoiceitems", "Idempotency-Key: in_x:sms");
		next_is("GET /v1/invoiceitems?invoice=in_x&", NULL);
	}
	/* Nothing else was sent: the next request is this probe. */
	ck_assert_int_eq(call("GET", "/v1/probe", &o, &rep), XERR_NOTFOUND);
	next_is("GET /v1/probe", NULL);
}
END_TEST

static Suite *
stripe_suite(void)
{
	Suite	*s = suite_create("stripe");
	TCase	*tc;

	tc = tcase_create("pure");
	tcase_add_test(tc, fate_table);
	tcase_add_test(tc, header_bool_and_code);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, call_replies);
	tcase_add_test(tc, call_unreachable);
	tcase_add_test(tc, find_pages);
	tcase_add_test(tc, item_once_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(stripe_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
