/*
 * batch: a group-commit queue.  Threads submit items and wait; committer
 * threads take whatever is queued (up to a maximum) and hand the lot to
 * one call, then wake each submitter.  It knows nothing of what an item
 * is or what a committer does with a batch (domain/evstore.c stores
 * Stripe events with it).
 *
 * A committer takes work when no other committer is busy, or when
 * pipeline_min items wait: with several committers, one fills its batch
 * while another waits for its commit, without splitting the queue into
 * small batches (each costs its own round trips).
 *
 * Ownership: the queue is made once per process by batch_start and lives
 * as long as the process (its threads never end).  An item belongs to its
 * submitter: it is embedded in the submitter's own struct (first member or
 * not: use the container's offset), stays on the submitter's stack while
 * batch_submit waits, and is the committer's to read and write between
 * being taken and the wake-up.
 */
#ifndef BATCH_H
#define BATCH_H

#include <semaphore.h>
#include <stddef.h>

#include "core/xerr.h"

struct batch;

struct batch_item {
	struct batch_item	*next;		/* the queue's */
	sem_t			 done;		/* posted once run */
};

struct batch_ops {
	const char	*thread_name;		/* at most 15 characters */
	/*
	 * Runs first in each committer thread, with arg: returns the
	 * thread's own state (a connection, buffers), which run is given.
	 * NULL ends the process (nothing can be committed without it).
	 */
	void		*(*open)(void *arg);
	/* Does the work of the n items (n >= 1, n <= max), in order. */
	void		 (*run)(void *state, struct batch_item **items,
			    size_t n);
	void		*arg;
};

/*
 * Starts committers threads running ops (copied), each taking batches of
 * at most max items; *out is the queue.  XERR_NOMEM, or XERR_INTERNAL when
 * a thread cannot be started.
 */
enum xerr	 batch_start(const struct batch_ops *ops,
		    unsigned long committers, size_t max, size_t pipeline_min,
		    struct batch **out);

/* Queues it and returns once a committer has run it. */
void		 batch_submit(struct batch *b, struct batch_item *it);

#endif
