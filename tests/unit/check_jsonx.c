/* Unit tests for common/jsonx.c: readers, and the per-thread locale. */
#include <check.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/jsonx.h"

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

int
main(void)
{
	Suite	*s = suite_create("jsonx");
	TCase	*tc = tcase_create("jsonx");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, jsonx_readers);
	tcase_add_test(tc, jsonx_locale);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
