/*
 * Unit tests for common/core/jsonx.c: readers, the per-thread locale, the
 * strict parser and its per-thread tokener.
 */
#include <check.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/jsonx.h"
#include "core/xerr.h"

#include "threads.h"

START_TEST(jsonx_readers)
{
	struct json_object	*o;
	int64_t			 n = 0;

	o = json_tokener_parse("{\"id\":\"evt_1\",\"data\":{\"object\":"
	    "{\"customer\":{\"id\":\"cus_9\"},\"plan\":\"cus_x\","
	    "\"n\":42,\"items\":{\"data\":[{\"id\":\"si_1\"}]}}}}");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(jsonx_str(o, "id"), "evt_1");
	ck_assert_ptr_null(jsonx_str(o, "data"));	/* not a string */
	ck_assert_ptr_null(jsonx_str(o, "data.nope"));
	/* An expanded object or a plain id: both give the id. */
	ck_assert_str_eq(jsonx_id(jsonx_path(o, "data.object"), "customer"),
	    "cus_9");
	ck_assert_str_eq(jsonx_id(jsonx_path(o, "data.object"), "plan"),
	    "cus_x");
	ck_assert_int_eq(jsonx_int(o, "data.object.n", &n), 0);
	ck_assert_int_eq(n, 42);
	ck_assert_str_eq(jsonx_str(jsonx_idx(o, "data.object.items.data", 0),
	    "id"), "si_1");
	ck_assert_ptr_null(jsonx_idx(o, "data.object.items.data", 1));
	json_object_put(o);
}
END_TEST

/* Parses a decimal number after jsonx_thread_init(); returns the locale. */
static void *
jsonx_thread(void *arg)
{
	struct json_object	*o;
	double			*d = arg;

	jsonx_thread_init();
	o = json_tokener_parse("{\"x\":1.5}");
	*d = o != NULL ? json_object_get_double(json_object_object_get(o,
	    "x")) : -1;
	json_object_put(o);
	return (void *)uselocale((locale_t)0);
}

START_TEST(jsonx_locale)
{
	pthread_t	 t;
	void		*loc = NULL;
	double		 d = 0;

	/*
	 * The thread's locale becomes glibc's static "C" object, the one
	 * newlocale(LC_ALL_MASK, "C", 0) returns (json-c's per-parse
	 * duplocale/newlocale/freelocale then take no process-wide lock),
	 * and numbers still parse with a '.'.
	 */
	ck_assert_int_eq(pthread_create(&t, NULL, jsonx_thread, &d), 0);
	ck_assert_int_eq(pthread_join(t, &loc), 0);
	ck_assert_ptr_eq(loc, (void *)newlocale(LC_ALL_MASK, "C", (locale_t)0));
	ck_assert(d == 1.5);
	/* The calling thread is untouched. */
	ck_assert_ptr_eq((void *)uselocale((locale_t)0), (void *)LC_GLOBAL_LOCALE);
}
END_TEST

START_TEST(jsonx_parse_rules)
{
	struct json_object	*o = NULL;
	char			 deep[200];
	int			 i;

	ck_assert_int_eq(jsonx_parse("{\"a\":1}", 7, &o), XERR_OK);
	json_object_put(o);
	ck_assert_int_eq(jsonx_parse("{\"a\":1} x", 9, &o), XERR_BADREQ);
	ck_assert_int_eq(jsonx_parse("{\"a\":1", 6, &o), XERR_BADREQ);
	ck_assert_int_eq(jsonx_parse("['a']", 5, &o), XERR_BADREQ);
	ck_assert_int_eq(jsonx_parse("[1,]", 4, &o), XERR_BADREQ);
	ck_assert_int_eq(jsonx_parse("{\"a\":01}", 8, &o), XERR_BADREQ);
	ck_assert_int_eq(jsonx_parse("", 0, &o), XERR_BADREQ);
	ck_assert_int_eq(jsonx_parse("\"\xff\"", 3, &o), XERR_BADREQ);
	ck_assert_int_eq(jsonx_parse("{\"a\":\"\0\"}", 9, &o), XERR_BADREQ);
	for (i = 0; i < 100; i++)
		deep[i] = '[';
	for (i = 100; i < 200; i++)
		deep[i] = ']';
	ck_assert_int_eq(jsonx_parse(deep, 200, &o), XERR_BADREQ);
	ck_assert_ptr_null(o);
}
END_TEST

/*
 * One tokener serves every parse of a thread: what a failed parse left (an
 * open object, a string half read, a nesting at its limit) never reaches
 * the next one, and each thread has its own.
 */
static void *
jsonx_parse_sequence(void *arg)
{
	static const char *const seq[] = {
		"{\"a\":{\"b\":[1,2,{\"c\":\"x", "{\"n\":1}",
		"{\"s\":\"a long string that grows the tokener's buffer\"", "{\"n\":2}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "{\"n\":3}",
		"{\"n\":4} trailing", "{\"n\":4}",
	};
	struct json_object	*o;
	size_t			 i, k;
	int64_t			 want;

	(void)arg;
	for (k = 0; k < 200; k++)
		for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
			o = NULL;
			if (i % 2 == 0) {
				if (jsonx_parse(seq[i], strlen(seq[i]), &o) !=
				    XERR_BADREQ || o != NULL)
					return (void *)1;
				continue;
			}
			want = (int64_t)(i / 2 + 1);
			if (jsonx_parse(seq[i], strlen(seq[i]), &o) != XERR_OK ||
			    json_object_get_int64(jsonx_get(o, "n")) != want ||
			    json_object_object_length(o) != 1) {
				json_object_put(o);
				return (void *)1;
			}
			json_object_put(o);
		}
	return NULL;
}

START_TEST(jsonx_tokener_reused)
{
	threads_run(jsonx_parse_sequence);
}
END_TEST

/* What json-c accepts but reads other than written, or should refuse. */
START_TEST(jsonx_parse_ambiguous_refused)
{
	static const char *bad[] = {
		"{\"a\":1,\"a\":2}",			/* repeated key */
		"{\"b\":{\"a\":1,\"a\":1}}",		/* repeated, nested */
		"{\"a\":\"x\\u0000y\"}",		/* NUL escape */
		"{\"a\\u0000\":1}",			/* NUL escape in a key */
		"[18446744073709551616]",		/* over int64 */
		"[9223372036854775808]",
		"[-9223372036854775809]",
		"[\"\xc0\xaf\"]",			/* overlong "/" */
		"[\"\xed\xa0\x80\"]",			/* UTF-16 surrogate */
		"[\"\xf4\x90\x80\x80\"]",		/* over U+10FFFF */
		"[\"a\x01\"]",				/* raw control character */
		"[NaN]", "[-Infinity]",
		/* Numbers json-c takes; found by tests/fuzz/fuzz_event.c. */
		"[1.]", "[1.e5]", "[00]", "[-01]", "[08.5]", "[0000]",
		"{\"created\":05.}", "[-0.]", "[1.E-5]",
		/* Half surrogates both read as U+FFFD: a repeated key. */
		"{\"\\ud800\":1,\"\\udbff\":2}",
	};
	static const char *good[] = {
		"{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}",
		"{\"k:\":\"v:\\\":\",\"n\":null}",	/* colons in strings */
		"[9223372036854775807,-9223372036854775808,-0,1e400]",
		"[\"\\\\u0000\",\"\\u0001\"]",		/* an escaped backslash, then u0000 */
		"[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x92\xa5\"]",	/* é € 💥 */
		"[true,false,null]",
		"[\"\\ud83d\\ude00\",\"\\uD83D\\uDE00\"]",	/* pairs */
		"[0,-0,0.5,-0.0e-0,1e5,1E+5,2e-3,10,120.25e+10]",
	};
	struct json_object	*o = NULL;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(jsonx_parse(bad[i], strlen(bad[i]), &o) ==
		    XERR_BADREQ, "accepted %s", bad[i]);
		ck_assert_ptr_null(o);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(jsonx_parse(good[i], strlen(good[i]), &o) ==
		    XERR_OK, "refused %s", good[i]);
		json_object_put(o);
	}
}
END_TEST

START_TEST(jsonx_utf8_scrubbed)
{
	char	 s[] = "ok \xc3\xa9 cut \xc3 bad \xff over \xc0\xaf end";
	char	 sur[] = "\xed\xa0\x80!";	/* a surrogate: 3 bytes */
	char	 empty[] = "";

	jsonx_utf8_scrub(s);
	ck_assert_str_eq(s, "ok \xc3\xa9 cut ? bad ? over ?? end");
	jsonx_utf8_scrub(sur);
	ck_assert_str_eq(sur, "?" "?" "?!");
	jsonx_utf8_scrub(empty);
	ck_assert_str_eq(empty, "");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("jsonx");
	TCase	*tc = tcase_create("jsonx");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, jsonx_readers);
	tcase_add_test(tc, jsonx_locale);
	tcase_add_test(tc, jsonx_parse_rules);
	tcase_add_test(tc, jsonx_parse_ambiguous_refused);
	tcase_add_test(tc, jsonx_tokener_reused);
	tcase_add_test(tc, jsonx_utf8_scrubbed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
