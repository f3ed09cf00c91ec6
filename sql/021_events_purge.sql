-- 021: the retention of stored Stripe events.  The daily events_purge job
-- deletes processed, ignored and stale events received more than
-- STRIPE_EVENT_RETENTION_DAYS ago (common/domain/evstore.h,
-- evstore_purge()), taking them off metrics_event_counts in the same
-- transaction; this is its first run, and each run queues the next, as
-- jobs_purge does.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
INSERT INTO jobs (kind, dedupe_key, payload) VALUES
  ('events_purge', 'events_purge:first', '{}')
ON DUPLICATE KEY UPDATE dedupe_key = dedupe_key;
