-- 019: the outbox's retention.  The daily jobs_purge job deletes done jobs
-- older than JOB_RETENTION_DAYS (common/domain/jobs.h, jobs_purge()); this
-- is its first run, and each run queues the next, as bill_reconcile does.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
INSERT INTO jobs (kind, dedupe_key, payload) VALUES
  ('jobs_purge', 'jobs_purge:first', '{}')
ON DUPLICATE KEY UPDATE dedupe_key = dedupe_key;
