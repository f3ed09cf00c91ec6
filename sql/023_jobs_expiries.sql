-- 023: a job's lease expiries.  A job whose run crashes its worker
-- (SIGKILL, out of memory, a bug) or hangs past its lease renewals was
-- claimed again when its lease expired, forever: attempts count claims,
-- and a job waiting on Stripe's events legitimately goes past
-- JOB_MAX_ATTEMPTS, so they could not tell it.  expiries counts the claims
-- of a job found running with its lease expired since its last recorded
-- failure (or an operator's retry); the claim that would make it
-- JOBS_LEASE_EXPIRIES (common/domain/jobs.h) makes the job dead instead of
-- running it again, with a last_error that says so (docs/OPERATIONS.md,
-- "Dead jobs").
--
-- Only adds a column at the end, instantly (no copy of the table, writes
-- go on): older programs keep working beside newer ones.  On Galera the
-- ALTER runs in total order and every node waits for it (docs/
-- OPERATIONS.md, "Migrations").
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
ALTER TABLE jobs
  ADD COLUMN IF NOT EXISTS expiries SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  ALGORITHM=INSTANT;
