-- 013: /metrics counts notifications, and the admin API lists the latest
-- events, without reading the whole table (issue #19;
-- common/store/metrics_db.c, docs/OPERATIONS.md "Metrics rollup").
--
-- Notifications are rolled up as 012 does Stripe events: xsb-worker's
-- rollup thread marks the rows it counts (metrics_state: the state
-- counted; metrics_prev: the one it replaces; metrics_round: the run) and
-- adds them to metrics_notification_counts in the same transaction, with
-- the same round.  metrics_key is -1 while the row's state is not the one
-- counted (new, or changed since); a scrape adds those rows to the counts.
-- Existing rows start dirty: the first runs count them.  PERSISTENT
-- rebuilds the table (see 012 for why not VIRTUAL).
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
ALTER TABLE notifications
  ADD COLUMN IF NOT EXISTS metrics_state VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN IF NOT EXISTS metrics_prev VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN IF NOT EXISTS metrics_round BIGINT NULL,
  ADD COLUMN IF NOT EXISTS metrics_key BIGINT AS (IF(metrics_state <=> state, metrics_round, -1)) PERSISTENT,
  ADD KEY IF NOT EXISTS notifications_metrics (metrics_key);

-- Notifications counted by the rollup, by template and state (n may be 0).
CREATE TABLE IF NOT EXISTS metrics_notification_counts (
  template  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  state     VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  n         BIGINT NOT NULL,
  PRIMARY KEY (template, state)
) ENGINE=InnoDB;

-- GET /api/admin/events without ?status= lists the latest events
-- (ADMIN_EVENTS_RECENT, ORDER BY received_at DESC, id DESC): without this
-- it sorted the whole table.  The primary key (id) is the index's suffix,
-- so the order is the index's, read backwards, a page at a time.
ALTER TABLE stripe_events ADD KEY IF NOT EXISTS stripe_events_received (received_at);
