#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

#include "core/batch.h"
#include "core/log.h"

struct batch {
	struct batch_ops	 ops;
	size_t			 max;
	size_t			 pipeline_min;
	pthread_mutex_t		 mu;
	pthread_cond_t		 work;
	struct batch_item	*head;
	struct batch_item	**tailp;
	size_t			 len;		/* items queued */
	unsigned		 busy;		/* committers inside a batch */
};

/* With b->mu held: whether a committer should take work now. */
static int
batch_ready(const struct batch *b)
{
	return b->head != NULL &&
	    (b->busy == 0 || b->len >= b->pipeline_min);
}

/* A committer thread: its own state, batch after batch. */
static void *
batch_committer(void *arg)
{
	struct batch		*b = arg;
	struct batch_item	**it;
	void			*state;
	size_t			 n, i;
	int			 again;

	pthread_setname_np(pthread_self(), b->ops.thread_name);
	if ((it = calloc(b->max, sizeof(*it))) == NULL ||
	    (state = b->ops.open(b->ops.arg)) == NULL)
		log_fatalx("%s: cannot start", b->ops.thread_name);
	for (;;) {
		pthread_mutex_lock(&b->mu);
		while (!batch_ready(b))
			pthread_cond_wait(&b->work, &b->mu);
		for (n = 0; n < b->max && b->head != NULL; n++) {
			it[n] = b->head;
			b->head = b->head->next;
		}
		if (b->head == NULL)
			b->tailp = &b->head;
		b->len -= n;
		b->busy++;
		pthread_mutex_unlock(&b->mu);

		b->ops.run(state, it, n);

		pthread_mutex_lock(&b->mu);
		b->busy--;
		again = batch_ready(b);
		pthread_mutex_unlock(&b->mu);
		if (again)
			pthread_cond_signal(&b->work);	/* another committer */

		/* No lock held: a woken thread runs without waiting for us. */
		for (i = 0; i < n; i++)
			sem_post(&it[i]->done);
	}
	return NULL;
}

enum xerr
batch_start(const struct batch_ops *ops, unsigned long committers,
    size_t max, size_t pipeline_min, struct batch **out)
{
	struct batch	*b;
	pthread_t	 tid;
	unsigned long	 i;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return XERR_NOMEM;
	b->ops = *ops;
	b->max = max > 0 ? max : 1;
	b->pipeline_min = pipeline_min;
	b->tailp = &b->head;
	if (pthread_mutex_init(&b->mu, NULL) != 0 ||
	    pthread_cond_init(&b->work, NULL) != 0) {
		free(b);
		return XERR_INTERNAL;
	}
	/* Threads already started use b: it is never freed. */
	for (i = 0; i < committers; i++)
		if (pthread_create(&tid, NULL, batch_committer, b) != 0) {
			log_warnx("cannot start committer thread");
			return XERR_INTERNAL;
		}
	*out = b;
	return XERR_OK;
}

void
batch_submit(struct batch *b, struct batch_item *it)
{
	int	 ready;

	sem_init(&it->done, 0, 0);
	it->next = NULL;
	pthread_mutex_lock(&b->mu);
	*b->tailp = it;
	b->tailp = &it->next;
	b->len++;
	ready = batch_ready(b);
	pthread_mutex_unlock(&b->mu);
	/* After the unlock: a woken committer does not wait for the lock. */
	if (ready)
		pthread_cond_signal(&b->work);
	while (sem_wait(&it->done) != 0)
		;	/* EINTR */
	sem_destroy(&it->done);
}
