-- 018: the audit trail read by time.  GET /api/admin/audit pages newest
-- first in (at, id) order (ADMIN_AUDIT_LIST, common/store/admin_audit.c).
-- In id order, a window in the past walked the primary key back from the
-- newest row, reading every later row to return a page (190,050 rows
-- for 50 of 200,000); along (at, id), and (actor, at, id) or (action,
-- at, id) with a filter, a page reads its own rows.
--
-- Built in place, without locking the table: the programs' audit rows are
-- written meanwhile on one server; on Galera the ALTER runs in total order
-- and every node waits for it (docs/OPERATIONS.md, "Migrations").  The
-- table holds a row per admin request ever made.
ALTER TABLE admin_audit
  DROP KEY admin_audit_actor,
  DROP KEY admin_audit_action,
  ADD KEY admin_audit_actor (actor, at, id),
  ADD KEY admin_audit_action (action, at, id),
  ALGORITHM=INPLACE, LOCK=NONE;
