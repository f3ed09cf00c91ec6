-- 014: the webhook's batches count their events as they store them
-- (issue #19; common/store/metrics_db.c, docs/OPERATIONS.md "Metrics
-- rollup").
--
-- A batch stores its events counted already (metrics_status = status,
-- metrics_round = 0: metrics_key 0, "counted when stored") and adds them
-- to metrics_event_counts in the same transaction, so the rollup no longer
-- marks each new event; it still counts what changes later (a replay, a
-- failure retried) and the events stored one by one.
--
-- Each committer adds to its own shard (1 .. 63, drawn when it starts)
-- so that committers of several processes or Galera nodes do not queue
-- on, or conflict over, one row per type and status; two that draw the
-- same shard only wait for each other.  The rollup adds to shard 0.  The
-- table stays at most 64 rows per type and status; a scrape sums them.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).  Run again, it drops and adds the
-- same primary key (a rebuild of a table of a few hundred rows).
ALTER TABLE metrics_event_counts
  ADD COLUMN IF NOT EXISTS shard TINYINT UNSIGNED NOT NULL DEFAULT 0 AFTER status,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (type, status, shard);
