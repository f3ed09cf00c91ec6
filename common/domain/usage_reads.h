/*
 * usage_reads: what GET /api/billing/usage reads of a user (the account
 * with its token version, the period the one period model picks, and the
 * usage sums over it), for several requests at once.
 *
 * Once usage_reads_start() ran (each xsb-billing process, when
 * BILLING_READ_BATCH_MAX is above 1), a request queues its read on
 * core/batch and waits; one reader thread, with a database connection of
 * its own, takes whatever is queued (up to BILLING_READ_BATCH_MAX) and
 * reads it all in two round trips: the users (STMT_BILLING_USERS_n), then
 * the sums of those found over each one's period (STMT_USAGE_SUMS_n; a
 * user asked twice is read once) and, for those with a live subscription
 * whose period it is, the tier history of that subscription from some
 * weeks before the period on, which the rating engine's preview
 * (usage_report_of()) takes instead of reading anything more when it
 * holds the tier in force at the period's start (else the preview reads
 * the whole history itself).  Each read starts after its request was
 * queued, and the period is the one holding when the batch is read, so an
 * answer is as fresh as a read of its own: nothing is kept between
 * batches.  Before usage_reads_start(), or without it, usage_reads_get()
 * reads on the caller's connection, the same statements for one user.
 *
 * Ownership: the queue and the reader live as long as the process.  *out
 * is the caller's, freed with usage_reads_out_free(); the reader writes
 * it before the caller wakes.
 */
#ifndef USAGE_READS_H
#define USAGE_READS_H

#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"
#include "store/billing_reads.h"
#include "store/tier_history.h"
#include "store/usage_events.h"

struct db;

struct usage_reads_out {
	enum xerr		  user_rc;	/* reading the user */
	struct billing_reads_user user;		/* when user_rc is XERR_OK */
	int			  rated;	/* the subscription's period */
	int64_t			  start, end;	/* the period holding now */
	struct usage_events_sums  sums;		/* over [start, end) */
	/* rated: the subscription's tier history, when read (else NULL) */
	struct tier_history_row	 *hist;
	size_t			  nhist;
};

/*
 * Starts the reader of this process when cfg->billing_read_batch_max is
 * above 1 (else nothing).  XERR_NOMEM, XERR_INTERNAL (batch_start()).
 */
enum xerr	 usage_reads_start(const struct cfg *cfg);

/*
 * Reads user_id into *out (cleared first): the user (out->user_rc:
 * XERR_OK, XERR_NOTFOUND, or the read's error), the period holding now
 * (usage_period_pick() over the live subscription) and the sums over it.
 * Returns XERR_OK when all was read; else out->user_rc when the user was
 * not, else the sums' error.  db is the caller's connection, used only
 * without a reader.  The caller logs a failure.
 */
enum xerr	 usage_reads_get(struct db *db, const char *user_id,
		    struct usage_reads_out *out);

/* Frees what usage_reads_get() put in *out (not out itself). */
void		 usage_reads_out_free(struct usage_reads_out *out);

#endif
