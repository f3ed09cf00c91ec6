-- 003: the usage ledger and phone number history.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

-- Usage, one row per reported fact; never updated or deleted.  Voice is in
-- seconds per call (billed per started minute per call), SMS in messages.
CREATE TABLE IF NOT EXISTS usage_events (
  id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind            VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  quantity        BIGINT NOT NULL,
  occurred_at     BIGINT NOT NULL,
  source          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  idempotency_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY usage_once (idempotency_key),
  KEY usage_user_time (user_id, kind, occurred_at),
  CONSTRAINT usage_kind CHECK (kind IN ('voice', 'sms')),
  CONSTRAINT usage_quantity CHECK (quantity >= 0)
) ENGINE=InnoDB;

-- Every number a user has held, for the monthly phone fee and audits.
CREATE TABLE IF NOT EXISTS phone_numbers (
  id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  phone_number VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  phone_sid    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  held_from    BIGINT NOT NULL,
  held_to      BIGINT NULL,
  UNIQUE KEY phone_numbers_sid (phone_sid),
  KEY phone_numbers_user (user_id, held_from)
) ENGINE=InnoDB;

-- Statuses Twilio reported for calls (voice usage is in usage_events).
CREATE TABLE IF NOT EXISTS call_events (
  id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  call_sid     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  call_status  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  duration     BIGINT NULL,
  received_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY call_events_once (call_sid, call_status)
) ENGINE=InnoDB;
