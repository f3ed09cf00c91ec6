-- 022: an audit page with both filters (an actor and an action) reads its
-- own rows.  Along admin_audit_actor or admin_audit_action alone (018) it
-- read the rows of the one and filtered them on the other: for an action
-- one row in five of the actor's, five rows read per row shown.
--
-- Built in place, without locking the table, as 018 (docs/OPERATIONS.md,
-- "Migrations").
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
ALTER TABLE admin_audit
  ADD KEY IF NOT EXISTS admin_audit_actor_action (actor, action, at, id),
  ALGORITHM=INPLACE, LOCK=NONE;
