/*
 * Unit tests for common/core/req.c: parameters, headers, body cap, JSON and
 * form bodies, replies and the error writer.  The FastCGI streams are
 * replaced by memory readers and writers.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/req.h"
#include "memio.h"

static struct cfg	 tcfg;
static struct mem	 mem;
static struct req	 r;

static void
setup(void)
{
	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.max_body = 64;
	memset(&mem, 0, sizeof(mem));
}

static void
teardown(void)
{
	req_clear(&r);
}

static enum xerr
open_with(char **env, const char *body)
{
	mem.in = body;
	mem.inlen = body ? strlen(body) : 0;
	return req_open(&r, &tcfg, env, mem_read, mem_write, &mem);
}

START_TEST(req_params_and_headers)
{
	char *env[] = { "REQUEST_METHOD=POST", "DOCUMENT_URI=/api/x",
	    "QUERY_STRING=limit=5&cursor=a%2Fb", "REQUEST_ID=abc123",
	    "HTTP_STRIPE_SIGNATURE=t=1,v1=2", "CONTENT_TYPE=application/json",
	    "CONTENT_LENGTH=2", "REMOTE_ADDR=127.0.0.1", NULL };

	ck_assert_int_eq(open_with(env, "{}"), XERR_OK);
	ck_assert_str_eq(r.method, "POST");
	ck_assert_str_eq(r.path, "/api/x");
	ck_assert_str_eq(r.id, "abc123");
	ck_assert_str_eq(kv_get(r.query, "limit"), "5");
	ck_assert_str_eq(kv_get(r.query, "cursor"), "a/b");
	ck_assert_str_eq(req_header(&r, "Stripe-Signature"), "t=1,v1=2");
	ck_assert_str_eq(req_header(&r, "stripe-signature"), "t=1,v1=2");
	ck_assert_str_eq(req_header(&r, "Content-Type"), "application/json");
	ck_assert_ptr_null(req_header(&r, "X-Missing"));
	ck_assert_str_eq(r.remote_addr, "127.0.0.1");
	ck_assert_uint_eq(r.bodylen, 2);
	ck_assert_str_eq(r.body, "{}");
}
END_TEST

START_TEST(req_param_prefix_not_confused)
{
	char *env[] = { "HTTP_X_AB=1", "HTTP_X_A=2", NULL };

	ck_assert_int_eq(open_with(env, NULL), XERR_OK);
	ck_assert_str_eq(req_header(&r, "X-A"), "2");
	ck_assert_str_eq(r.method, "GET");
	ck_assert_str_eq(r.path, "/");
}
END_TEST

START_TEST(req_bad_request_id_replaced)
{
	char *env[] = { "REQUEST_ID=bad id\"with quotes", NULL };

	ck_assert_int_eq(open_with(env, NULL), XERR_OK);
	ck_assert_ptr_null(strchr(r.id, '"'));
	ck_assert_int_eq(strncmp(r.id, "local-", 6), 0);
}
END_TEST

START_TEST(req_body_cap)
{
	char *env_at[] = { "CONTENT_LENGTH=64", NULL };
	char *env_over[] = { "CONTENT_LENGTH=65", NULL };
	char big[80];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(open_with(env_at, big), XERR_OK);
	ck_assert_uint_eq(r.bodylen, 64);
	req_clear(&r);
	setup();
	ck_assert_int_eq(open_with(env_over, big), XERR_TOOBIG);
	/* nothing was read from the client */
	ck_assert_int_eq(mem.reads, 0);
	ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(req_body_length_malformed)
{
	char *env_neg[] = { "CONTENT_LENGTH=-1", NULL };
	char *env_junk[] = { "CONTENT_LENGTH=12abc", NULL };
	char *env_huge[] = { "CONTENT_LENGTH=99999999999999999999999", NULL };

	ck_assert_int_eq(open_with(env_neg, "x"), XERR_BADREQ);
	req_clear(&r);
	ck_assert_int_eq(open_with(env_junk, "x"), XERR_BADREQ);
	req_clear(&r);
	ck_assert_int_eq(open_with(env_huge, "x"), XERR_BADREQ);
}
END_TEST

START_TEST(req_body_short_read)
{
	char *env[] = { "CONTENT_LENGTH=10", NULL };

	ck_assert_int_eq(open_with(env, "abc"), XERR_BADREQ);
}
END_TEST

START_TEST(req_bad_query)
{
	char *env[] = { "QUERY_STRING=a=%zz", NULL };

	ck_assert_int_eq(open_with(env, NULL), XERR_BADREQ);
	ck_assert_ptr_nonnull(r.query);
}
END_TEST

START_TEST(req_utf8_scrubbed)
{
	char	 s[] = "ok \xc3\xa9 cut \xc3 bad \xff over \xc0\xaf end";

	req_utf8_scrub(s);
	ck_assert_str_eq(s, "ok \xc3\xa9 cut ? bad ? over ?? end");
}
END_TEST

START_TEST(req_json_needs_type)
{
	char *env[] = { "CONTENT_TYPE=text/plain", "CONTENT_LENGTH=2", NULL };
	char *env2[] = { "CONTENT_TYPE=application/json; charset=utf-8",
	    "CONTENT_LENGTH=2", NULL };
	struct json_object *o = NULL;

	ck_assert_int_eq(open_with(env, "{}"), XERR_OK);
	ck_assert_int_eq(req_json(&r, &o), XERR_MEDIATYPE);
	req_clear(&r);
	setup();
	ck_assert_int_eq(open_with(env2, "{}"), XERR_OK);
	ck_assert_int_eq(req_json(&r, &o), XERR_OK);
	json_object_put(o);
}
END_TEST

START_TEST(req_form_body)
{
	char *env[] = { "CONTENT_TYPE=application/x-www-form-urlencoded",
	    "CONTENT_LENGTH=21", NULL };
	struct kv *kv = NULL;

	ck_assert_int_eq(open_with(env, "CallSid=CA1&To=%2B1555"), XERR_OK);
	ck_assert_int_eq(req_form(&r, &kv), XERR_OK);
	ck_assert_str_eq(kv_get(kv, "CallSid"), "CA1");
	ck_assert_str_eq(kv_get(kv, "To"), "+155");
	kv_free(kv);
}
END_TEST

START_TEST(req_error_writer)
{
	char *env[] = { NULL };

	ck_assert_int_eq(open_with(env, NULL), XERR_OK);
	req_error(&r, XERR_CONFLICT, "same_tier", "already on %s", "ai_cto");
	ck_assert_int_eq(r.status, 409);
	ck_assert_ptr_nonnull(strstr(mem.out, "Status: 409 Conflict\r\n"));
	ck_assert_ptr_nonnull(strstr(mem.out,
	    "Content-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(mem.out, "\r\n\r\n{\"error\":{\"code\":"
	    "\"same_tier\",\"message\":\"already on ai_cto\"}}"));
	/* a second reply is dropped */
	req_error(&r, XERR_INTERNAL, NULL, "late");
	ck_assert_ptr_null(strstr(mem.out, "late"));
	ck_assert_int_eq(r.status, 409);
}
END_TEST

START_TEST(req_error_default_code)
{
	char *env[] = { NULL };

	ck_assert_int_eq(open_with(env, NULL), XERR_OK);
	req_error(&r, XERR_TOOBIG, NULL, "too big");
	ck_assert_ptr_nonnull(strstr(mem.out, "Status: 413 "));
	ck_assert_ptr_nonnull(strstr(mem.out, "\"code\":\"payload_too_large\""));
}
END_TEST

START_TEST(req_content_length_header)
{
	char		*env[] = { NULL };
	const char	*p;

	ck_assert_int_eq(open_with(env, NULL), XERR_OK);
	req_reply(&r, 200, "text/plain", "X-A: b\r\n", "hello", 5);
	ck_assert_ptr_nonnull(strstr(mem.out, "Content-Length: 5\r\n"));
	ck_assert_ptr_nonnull(strstr(mem.out, "X-A: b\r\n"));
	p = strstr(mem.out, "\r\n\r\n");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p + 4, "hello");
}
END_TEST

static Suite *
req_suite(void)
{
	Suite	*s = suite_create("req");
	TCase	*tc;

	tc = tcase_create("params");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, req_params_and_headers);
	tcase_add_test(tc, req_param_prefix_not_confused);
	tcase_add_test(tc, req_bad_request_id_replaced);
	tcase_add_test(tc, req_bad_query);
	suite_add_tcase(s, tc);

	tc = tcase_create("body");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, req_body_cap);
	tcase_add_test(tc, req_body_length_malformed);
	tcase_add_test(tc, req_body_short_read);
	tcase_add_test(tc, req_utf8_scrubbed);
	tcase_add_test(tc, req_json_needs_type);
	tcase_add_test(tc, req_form_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, req_error_writer);
	tcase_add_test(tc, req_error_default_code);
	tcase_add_test(tc, req_content_length_header);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(req_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
