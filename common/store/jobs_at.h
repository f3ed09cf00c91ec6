/*
 * jobs_at: typed insert of a job due at a given time into the jobs table
 * (sql/001_init.sql and later; domain/jobs.h runs the queue), the
 * phone's grace releases.  Only jobs_at.c knows the statement
 * (store/stmt.c) and its argument order.
 */
#ifndef JOBS_AT_H
#define JOBS_AT_H

#include <stdint.h>

#include "core/xerr.h"

struct db;

/*
 * Queues a job of kind for user_id with payload (JSON text), due at
 * run_after (unix seconds); a dedupe_key queued already is left as it
 * is and is no error.  Errors of db_exec().
 */
enum xerr	 jobs_at_insert(struct db *db, const char *kind,
		    const char *dedupe_key, const char *user_id,
		    const char *payload, int64_t run_after);

#endif
