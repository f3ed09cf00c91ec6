/*
 * Unit tests for common/core/ratelimit.c: the allowance of a bucket, its
 * refill, Retry-After, keys and classes apart, and one table shared by
 * the processes forked after ratelimit_open().
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ratelimit.h"

#define T0	1000000000LL	/* a monotonic time, ms */

/* Takes n requests of (cls, key) at now; returns how many were allowed. */
static int
take_n(const char *cls, const char *key, unsigned long per, int64_t now, int n)
{
	int	 ok = 0;

	while (n-- > 0)
		ok += ratelimit_take(cls, key, per, now) == 0;
	return ok;
}

START_TEST(rl_allowance_then_refused)
{
	ck_assert_int_eq(ratelimit_open(), XERR_OK);
	ck_assert_int_eq(take_n("billing", "u-allow", 60, T0, 60), 60);
	/* 60 a minute: one more each second; the 61st waits 1 s. */
	ck_assert_int_eq(ratelimit_take("billing", "u-allow", 60, T0), 1);
	ck_assert_int_eq(ratelimit_take("billing", "u-allow", 60, T0 + 999), 1);
	ck_assert_int_eq(ratelimit_take("billing", "u-allow", 60, T0 + 1000), 0);
	ck_assert_int_eq(ratelimit_take("billing", "u-allow", 60, T0 + 1000), 1);
}
END_TEST

START_TEST(rl_retry_after_rounds_up)
{
	/* 2 a minute: a request every 30 s. */
	ck_assert_int_eq(take_n("billing", "u-slow", 2, T0, 2), 2);
	ck_assert_int_eq(ratelimit_take("billing", "u-slow", 2, T0), 30);
	ck_assert_int_eq(ratelimit_take("billing", "u-slow", 2, T0 + 100), 30);
	ck_assert_int_eq(ratelimit_take("billing", "u-slow", 2, T0 + 29001), 1);
	ck_assert_int_eq(ratelimit_take("billing", "u-slow", 2, T0 + 30000), 0);
}
END_TEST

START_TEST(rl_refill_caps_at_one_minute)
{
	ck_assert_int_eq(take_n("phone", "u-idle", 10, T0, 10), 10);
	/* An hour idle gives back one minute's allowance, not sixty. */
	ck_assert_int_eq(take_n("phone", "u-idle", 10, T0 + 3600000, 20), 10);
}
END_TEST

START_TEST(rl_keys_and_classes_apart)
{
	ck_assert_int_eq(take_n("billing", "u-a", 5, T0, 6), 5);
	ck_assert_int_eq(take_n("billing", "u-b", 5, T0, 5), 5);
	ck_assert_int_eq(take_n("phone", "u-a", 5, T0, 5), 5);
	/* 0 is no limit. */
	ck_assert_int_eq(take_n("billing", "u-a", 0, T0, 100), 100);
}
END_TEST

START_TEST(rl_many_keys_forget_only)
{
	char	 key[32];
	int	 i;

	/* More keys than slots: old buckets are reused, none is refused. */
	for (i = 0; i < RATELIMIT_SLOTS * 2; i++) {
		snprintf(key, sizeof(key), "many-%d", i);
		ck_assert_int_eq(ratelimit_take("billing", key, 1, T0 + i), 0);
	}
}
END_TEST

START_TEST(rl_shared_across_fork)
{
	pid_t	 pid;
	int	 st, i;

	ck_assert_int_eq(ratelimit_open(), XERR_OK);
	for (i = 0; i < 4; i++) {
		ck_assert_int_ne(pid = fork(), -1);
		if (pid == 0)
			_exit(take_n("billing", "u-fork", 20, T0, 5) == 5 ? 0 : 1);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	/* Four processes took the whole allowance of 20. */
	ck_assert_int_eq(ratelimit_take("billing", "u-fork", 20, T0), 3);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("ratelimit");
	TCase	*tc = tcase_create("buckets");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, rl_allowance_then_refused);
	tcase_add_test(tc, rl_retry_after_rounds_up);
	tcase_add_test(tc, rl_refill_caps_at_one_minute);
	tcase_add_test(tc, rl_keys_and_classes_apart);
	tcase_add_test(tc, rl_many_keys_forget_only);
	tcase_add_test(tc, rl_shared_across_fork);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
