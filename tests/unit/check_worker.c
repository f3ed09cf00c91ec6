/*
 * Unit tests for common/app/worker.c without a database: the worker's id,
 * which must fit jobs.locked_by.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "app/worker.h"

START_TEST(worker_id_fits_locked_by)
{
	char	 id[96], host[80];

	worker_id_make(id, sizeof(id), "vm", 4242);
	ck_assert_str_eq(id, "vm:4242");
	/* A pod name of 63 characters: its end kept, 64 in all. */
	memset(host, 'a', 49);
	memcpy(host + 49, "-7f9c8d6b5-x2k", 14);
	host[63] = '\0';
	ck_assert_uint_eq(strlen(host), 63);
	worker_id_make(id, sizeof(id), host, 4194304);
	ck_assert_uint_eq(strlen(id), WORKER_ID_MAX);
	ck_assert_str_eq(id + strlen(id) - 22, "-7f9c8d6b5-x2k:4194304");
	/* Exactly at the limit: unchanged. */
	memset(host, 'b', 59);
	host[59] = '\0';
	worker_id_make(id, sizeof(id), host, 1234);
	ck_assert_uint_eq(strlen(id), 64);
	ck_assert_int_eq(id[0], 'b');
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("worker");
	TCase	*tc = tcase_create("worker");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, worker_id_fits_locked_by);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
