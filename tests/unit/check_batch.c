/*
 * Unit tests for common/core/batch.c: every submitted item is run once, by
 * a committer with its own state, in batches of at most max, and its
 * submitter returns only after that.
 */
#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/batch.h"
#include "core/xerr.h"

#define SUBMITTERS	16
#define PER_SUBMITTER	50
#define MAX		4

struct item {
	struct batch_item	 item;
	int			 runs;		/* set by the committer */
	int			 state_ok;
};

struct committer {
	int	 magic;
};

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static size_t		 biggest, batches, opened;

static void *
test_open(void *arg)
{
	struct committer	*c;

	if (arg != &mu || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->magic = 42;
	pthread_mutex_lock(&mu);
	opened++;
	pthread_mutex_unlock(&mu);
	return c;
}

static void
test_run(void *state, struct batch_item **items, size_t n)
{
	struct committer	*c = state;
	struct item		*it;
	size_t			 i;

	usleep(200);	/* a commit's wait, so that the queue fills */
	for (i = 0; i < n; i++) {
		it = (struct item *)(void *)((char *)items[i] -
		    offsetof(struct item, item));
		it->runs++;
		it->state_ok = c->magic == 42;
	}
	pthread_mutex_lock(&mu);
	batches++;
	if (n > biggest)
		biggest = n;
	pthread_mutex_unlock(&mu);
}

static struct batch	*q;

static void *
submitter(void *arg)
{
	struct item	 it;
	int		*bad = arg;
	int		 i;

	for (i = 0; i < PER_SUBMITTER; i++) {
		memset(&it, 0, sizeof(it));
		batch_submit(q, &it.item);
		if (it.runs != 1 || !it.state_ok)
			(*bad)++;
	}
	return NULL;
}

START_TEST(batch_runs_each_once)
{
	struct batch_ops	 ops = { "test-committer", test_open, test_run,
	    &mu };
	pthread_t		 t[SUBMITTERS];
	int			 bad[SUBMITTERS] = { 0 };
	size_t			 i;

	ck_assert_int_eq(batch_start(&ops, 2, MAX, 2, &q), XERR_OK);
	ck_assert_ptr_nonnull(q);
	for (i = 0; i < SUBMITTERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, submitter,
		    &bad[i]), 0);
	for (i = 0; i < SUBMITTERS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(bad[i], 0);
	}
	pthread_mutex_lock(&mu);
	ck_assert_uint_le(biggest, MAX);
	ck_assert_uint_ge(biggest, 2);	/* some batches held several */
	ck_assert_uint_lt(batches, SUBMITTERS * PER_SUBMITTER);
	ck_assert_uint_eq(opened, 2);
	pthread_mutex_unlock(&mu);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("batch");
	TCase	*tc = tcase_create("batch");
	SRunner	*sr;
	int	 failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, batch_runs_each_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
