/*
 * ratelimit: per-key token buckets shared by the processes of one program.
 *
 * A bucket holds at most one minute's allowance (per_minute requests) and
 * refills continuously at per_minute per minute; each request takes one.
 * The table lives in an anonymous shared mapping made by ratelimit_open()
 * before the program forks its pool, so every process of the program on
 * this host counts against the same buckets (not across hosts: each node
 * allows its own share).  Without ratelimit_open() (a test, a tool) the
 * first call maps a private table.  The table has RATELIMIT_SLOTS slots;
 * when every slot a key may use is taken, the bucket idle the longest is
 * reused, which only ever forgets a bucket (it then starts full).
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stdint.h>

#include "core/xerr.h"

#define RATELIMIT_SLOTS	8192	/* buckets in the table */
#define RATELIMIT_PROBE	8	/* slots a key may use */

/*
 * Maps the shared table (call once, before fork).  XERR_NOMEM when the
 * mapping or its lock cannot be made: then each process counts alone.
 */
enum xerr	 ratelimit_open(void);

/*
 * Takes one request from the bucket of (cls, key) at now_ms (a monotonic
 * clock in milliseconds) with an allowance of per_minute.  Returns 0 when
 * the request may go on, else the whole seconds (>= 1) until the bucket
 * holds one request again, for Retry-After.  per_minute 0 always returns
 * 0.  cls and key are borrowed for the call.
 */
long		 ratelimit_take(const char *cls, const char *key,
		    unsigned long per_minute, int64_t now_ms);

/* Returns CLOCK_MONOTONIC in milliseconds. */
int64_t		 ratelimit_now_ms(void);

#endif
