-- 011: least privilege: the admin audit trail, and who reported each usage
-- row (common/app/admin.c, common/domain/usage.c; docs/OPERATIONS.md).
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

-- One row per admin request that passed authentication: who (the admin
-- token's userId and the first 8 characters of the public key that signed
-- it), what (action, target, outcome: "ok" or the error code answered, and
-- the HTTP status), when (unix seconds) and from where (REMOTE_ADDR and
-- X-Forwarded-For as nginx passes them).  A change is written in the
-- transaction of the change where it has one; rows are never updated or
-- deleted by the programs.
CREATE TABLE IF NOT EXISTS admin_audit (
  id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at             BIGINT NOT NULL,
  actor          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  actor_key      VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  action         VARCHAR(48) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  outcome        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status         SMALLINT NOT NULL,
  detail         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  remote_addr    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  forwarded_for  VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  request_id     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  KEY admin_audit_at (at, id),
  KEY admin_audit_actor (actor, id),
  KEY admin_audit_action (action, id)
) ENGINE=InnoDB;

-- The service that reported a usage row: the service token's userId for
-- POST /api/usage, 'twilio' for Twilio's callbacks.  `source` keeps its
-- meaning (where the fact comes from: app, twilio).  Rows from before this
-- migration were reported by their source.
ALTER TABLE usage_events
  ADD COLUMN IF NOT EXISTS reported_by VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER source;
UPDATE usage_events SET reported_by = source WHERE reported_by IS NULL;
ALTER TABLE usage_events
  MODIFY reported_by VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '';
