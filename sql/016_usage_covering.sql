-- 016: usage_user_time also holds quantity, so the reads of a period's
-- usage (GET /api/billing/usage, the rating of a bill, usage caps) are
-- answered from the index alone: the period's entries, without a lookup
-- of each row by its primary key (issue #19; common/store/stmt.c,
-- USAGE_SUM and RATING_USAGE).  Same name, same leading columns: every
-- statement that used the index still does.
--
-- Built in place, without locking the table: on one server, writes go on
-- meanwhile (0.5 s for 200,000 rows on the bench's machine).  On
-- Galera the ALTER runs in total order and every node waits for it: run
-- it at a quiet moment (docs/OPERATIONS.md, "Migrations").
ALTER TABLE usage_events
  DROP INDEX usage_user_time,
  ADD INDEX usage_user_time (user_id, kind, occurred_at, quantity),
  ALGORITHM=INPLACE, LOCK=NONE;
