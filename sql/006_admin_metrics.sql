-- 006: indexes for /metrics and the admin API (common/metrics.c, common/admin.c).
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

-- /metrics counts stored events by type and status at every scrape: from
-- this index alone that reads ~25 ms per 200k events; from the table, with
-- its payloads, ~1.2 s (measured in docs/SCALING.md).
ALTER TABLE stripe_events ADD KEY IF NOT EXISTS stripe_events_type_status (type, status);

-- GET /api/admin/users/<id> lists the user's latest jobs.
ALTER TABLE jobs ADD KEY IF NOT EXISTS jobs_user (user_id, id);
