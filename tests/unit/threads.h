/*
 * threads: runs one function in the test's own thread and then in
 * THREADS_N threads at once (each given its index), for the unit tests of
 * what keeps state per thread (check_jsonx.c, check_crypto.c).  The
 * function returns NULL when all went well.  Header only.
 */
#ifndef THREADS_H
#define THREADS_H

#include <pthread.h>
#include <stdint.h>

#include <check.h>

#define THREADS_N	4

static inline void
threads_run(void *(*fn)(void *))
{
	pthread_t	 t[THREADS_N];
	void		*r;
	size_t		 i;

	ck_assert_ptr_null(fn(NULL));
	for (i = 0; i < THREADS_N; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fn,
		    (void *)(uintptr_t)i), 0);
	for (i = 0; i < THREADS_N; i++) {
		ck_assert_int_eq(pthread_join(t[i], &r), 0);
		ck_assert_ptr_null(r);
	}
}

#endif
