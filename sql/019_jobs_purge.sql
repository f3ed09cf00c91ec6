-- 019: the outbox's retention.  The daily jobs_purge job deletes done jobs
-- older than JOB_RETENTION_DAYS (common/domain/jobs.h, jobs_purge()); this
-- is its first run, and each run queues the next, as bill_reconcile does.
INSERT INTO jobs (kind, dedupe_key, payload) VALUES
  ('jobs_purge', 'jobs_purge:first', '{}');
