-- 006: indexes for /metrics and the admin API (common/metrics.c, common/admin.c).

-- /metrics counts stored events by type and status at every scrape: from
-- this index alone that reads ~25 ms per 200k events; from the table, with
-- its payloads, ~1.2 s (measured in docs/SCALING.md).
ALTER TABLE stripe_events ADD KEY stripe_events_type_status (type, status);

-- GET /api/admin/users/<id> lists the user's latest jobs.
ALTER TABLE jobs ADD KEY jobs_user (user_id, id);
