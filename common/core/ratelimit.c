#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/log.h"
#include "core/ratelimit.h"

/* A request costs this many units: the milliseconds of a minute. */
#define RATELIMIT_UNIT	60000LL

struct ratelimit_slot {
	uint64_t	 hash;		/* of class and key; 0: free */
	int64_t		 units;		/* allowance left, RATELIMIT_UNIT each */
	int64_t		 last_ms;	/* when units was last brought up */
};

struct ratelimit_table {
	pthread_mutex_t		 lock;	/* process-shared, robust */
	struct ratelimit_slot	 slot[RATELIMIT_SLOTS];
};

/* The process's table (inherited across fork), or NULL before the first use. */
static struct ratelimit_table	*ratelimit_tab;

/*
 * Maps a zeroed table and its process-shared robust lock.  Returns NULL
 * when it cannot.
 */
static struct ratelimit_table *
ratelimit_map(void)
{
	struct ratelimit_table	*t;
	pthread_mutexattr_t	 a;
	int			 ok;

	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		log_warn("ratelimit: mmap");
		return NULL;
	}
	ok = pthread_mutexattr_init(&a) == 0;
	ok = ok && pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) == 0;
	ok = ok && pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0;
	ok = ok && pthread_mutex_init(&t->lock, &a) == 0;
	pthread_mutexattr_destroy(&a);
	if (!ok) {
		log_warnx("ratelimit: cannot make a shared lock");
		munmap(t, sizeof(*t));
		return NULL;
	}
	return t;
}

enum xerr
ratelimit_open(void)
{
	if (ratelimit_tab != NULL)
		return XERR_OK;
	ratelimit_tab = ratelimit_map();
	return ratelimit_tab != NULL ? XERR_OK : XERR_NOMEM;
}

int64_t
ratelimit_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a of cls, a NUL and key; never 0 (0 marks a free slot). */
static uint64_t
ratelimit_hash(const char *cls, const char *key)
{
	uint64_t	 h = 14695981039346656037ULL;
	const char	*s;

	for (s = cls; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (s = key; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/* Locks t's table, making it consistent when its holder died. */
static void
ratelimit_lock(struct ratelimit_table *t)
{
	if (pthread_mutex_lock(&t->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&t->lock);
}

/*
 * Returns the slot of hash h in t: its own, a free one (made full), or
 * the one idle the longest among the RATELIMIT_PROBE it may use.
 */
static struct ratelimit_slot *
ratelimit_slot(struct ratelimit_table *t, uint64_t h, int64_t cap,
    int64_t now_ms)
{
	struct ratelimit_slot	*s, *old = NULL;
	size_t			 i;

	for (i = 0; i < RATELIMIT_PROBE; i++) {
		s = &t->slot[(h + i) % RATELIMIT_SLOTS];
		if (s->hash == h)
			return s;
		if (s->hash == 0 || old == NULL || s->last_ms < old->last_ms)
			old = s;
		if (s->hash == 0)
			break;
	}
	old->hash = h;
	old->units = cap;
	old->last_ms = now_ms;
	return old;
}

long
ratelimit_take(const char *cls, const char *key, unsigned long per_minute,
    int64_t now_ms)
{
	struct ratelimit_slot	*s;
	int64_t			 cap, rate, gained, wait_ms;
	long			 wait = 0;

	if (per_minute == 0)
		return 0;
	if (ratelimit_tab == NULL && ratelimit_open() != XERR_OK)
		return 0;	/* no table: nothing to count with */
	rate = (int64_t)per_minute;	/* units gained per millisecond */
	cap = rate * RATELIMIT_UNIT;
	ratelimit_lock(ratelimit_tab);
	s = ratelimit_slot(ratelimit_tab, ratelimit_hash(cls, key), cap,
	    now_ms);
	if (now_ms > s->last_ms) {
		gained = (now_ms - s->last_ms) * rate;
		s->units = gained >= cap - s->units ? cap : s->units + gained;
		s->last_ms = now_ms;
	}
	if (s->units > cap)	/* the allowance was lowered */
		s->units = cap;
	if (s->units >= RATELIMIT_UNIT)
		s->units -= RATELIMIT_UNIT;
	else {
		wait_ms = (RATELIMIT_UNIT - s->units + rate - 1) / rate;
		wait = (long)((wait_ms + 999) / 1000);
		if (wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(&ratelimit_tab->lock);
	return wait;
}
