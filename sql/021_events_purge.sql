-- 021: the retention of stored Stripe events.  The daily events_purge job
-- deletes processed, ignored and stale events received more than
-- STRIPE_EVENT_RETENTION_DAYS ago (common/domain/evstore.h,
-- evstore_purge()), taking them off metrics_event_counts in the same
-- transaction; this is its first run, and each run queues the next, as
-- jobs_purge does.
INSERT INTO jobs (kind, dedupe_key, payload) VALUES
  ('events_purge', 'events_purge:first', '{}');
