/*
 * metrics: the counters of the processes, and the writers of Prometheus'
 * text format 0.0.4 that GET /metrics (app/metrics_http.h) answers in.
 *
 * Two kinds of series.  What the database knows (stored Stripe events by
 * type and status, the job queue by kind and state, notifications by
 * template and state) is counted at scrape time.  What only the processes
 * know (webhook signature failures, calls to Stripe, Twilio and the SMTP
 * relay with their latency) is counted in a small shared memory block:
 * METRICS_FILE, mapped MAP_SHARED by every program of the host at start,
 * so the prefork children of the three FastCGI programs and the worker all
 * add to the same fixed slots with atomic increments, and xsb-billing
 * reads them when scraped.  The file is 4 KiB of plain counters, zeroed
 * when created and never reset: counters survive restarts of the programs
 * and start again from zero when the file is removed (a reboot clears
 * /run), which Prometheus' rate() takes as a counter reset.
 *
 * Layout (all little-endian uint64_t, struct metrics_shm in metrics.c):
 * one header word (magic and layout version), METRICS_COUNTERS event
 * counters, then per upstream calls and microseconds per outcome class and
 * a latency histogram.  A change of layout bumps the version; a program
 * that finds a file of another version keeps private counters and says so
 * in its log (remove the file and restart every program).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"

struct buf;

/* Counters of events.  Append only: the position is the slot. */
enum metrics_counter {
	METRICS_SIGNATURE_FAILURES,	/* Stripe-Signature refused */
	METRICS_WEBHOOK_BATCHES,	/* group commits of 2+ events */
	METRICS_WEBHOOK_BATCHED,	/* events stored by them */
	METRICS_WEBHOOK_BATCH_ROLLBACKS, /* batches applied event by event */
	METRICS_PHONE_BATCHES,		/* group commits of 2+ callbacks */
	METRICS_PHONE_BATCHED,		/* callbacks stored by them */
	METRICS_PHONE_BATCH_ROLLBACKS,	/* batches stored one by one */
	METRICS_USAGE_READ_BATCHES,	/* usage read batches of 2+ */
	METRICS_USAGE_READ_BATCHED,	/* requests answered by them */
	METRICS_DB_CHAINS_LOST,		/* COMMIT AND CHAIN chained none */
	METRICS_DB_TXN_ENDED,		/* server ended a transaction unsaid */
	METRICS_COUNTERS = 16		/* slots reserved in the file */
};

/* Who an outbound call went to. */
enum metrics_upstream {
	METRICS_UP_STRIPE,
	METRICS_UP_TWILIO,
	METRICS_UP_SMTP,
	METRICS_UP_OTHER,
	METRICS_UP__MAX
};

/*
 * Maps the counters file at path (created mode 0600 when missing).  When
 * it cannot be used (path empty, no permission, another layout) the
 * counters live in an anonymous shared mapping instead: still shared with
 * the children forked after this call, not with other programs; a warning
 * says why.  Call once per program, before forking.  Returns 0 when the
 * file is shared, -1 on the fallback.
 */
int		 metrics_open(const char *path);

/* Unmaps the counters; increments after it are dropped. */
void		 metrics_close(void);

/* Returns 1 when the counters are those of the file (not a fallback). */
int		 metrics_shared(void);

/* Adds one (n) to counter c.  A no-op before metrics_open(). */
void		 metrics_inc(enum metrics_counter c);
void		 metrics_add(enum metrics_counter c, uint64_t n);

/*
 * Counts one call to upstream up: status is the HTTP status (or the SMTP
 * reply code) of the answer, 0 when none came; usec is its duration.
 */
void		 metrics_upstream(enum metrics_upstream up, long status,
		    uint64_t usec);

/* Returns which upstream url belongs to, by the configured base URLs. */
enum metrics_upstream metrics_upstream_of(const struct cfg *cfg,
		    const char *url);

/* Returns the value of counter c (0 before metrics_open()). */
uint64_t	 metrics_get(enum metrics_counter c);

/*
 * Appends the series of the shared counters to out.  Errors of
 * buf_append() (XERR_TOOBIG, XERR_NOMEM).
 */
enum xerr	 metrics_render_counters(struct buf *out);

/*
 * Appends to out a label value escaped as the text format requires
 * (backslash, double quote and newline).
 */
enum xerr	 metrics_label(struct buf *out, const char *value);

/* Appends the HELP and TYPE lines of a family. */
enum xerr	 metrics_family(struct buf *out, const char *name,
		    const char *type, const char *help);

/*
 * Appends the sample `name{k1="v1",...} value`: labels holds n name/value
 * pairs (values escaped here; NULL is ""), value is the sample as text
 * (NULL or "" is 0).  Errors of buf_append().
 */
enum xerr	 metrics_sample(struct buf *out, const char *name,
		    const char *const *labels, size_t n, const char *value);

/* Appends a sample whose value is a count. */
enum xerr	 metrics_sample_u(struct buf *out, const char *name,
		    const char *const *labels, size_t n, uint64_t v);

/* Appends a sample whose value is microseconds, as seconds. */
enum xerr	 metrics_sample_s(struct buf *out, const char *name,
		    const char *const *labels, size_t n, uint64_t usec);

#endif
