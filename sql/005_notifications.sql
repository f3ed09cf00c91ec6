-- 005: e-mail notifications, one row per message (see docs/NOTIFICATIONS.md).
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

-- Keyed by the dedupe key of the notify job that sends it, so one job has
-- one message whatever happens to the job.  message_id is deterministic
-- (<sha256(dedupe_key)@xswarm-billing>): a message sent again after a crash
-- carries the same Message-ID and the receiving side can drop it.
-- state: sending (a transaction is under way, or ended without an answer
-- to the end of data: the relay may have accepted it), deferred (the last
-- attempt was refused or cut before the message was handed over: nothing
-- was delivered; the job retries), sent (the relay answered 250 to the end
-- of data), failed (refused for good, or unsendable).
CREATE TABLE IF NOT EXISTS notifications (
  dedupe_key  VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  message_id  VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  template    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  recipient   VARCHAR(320) NOT NULL,
  subject     VARCHAR(500) NOT NULL,
  state       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  attempts    INT NOT NULL DEFAULT 1,          -- SMTP transactions started
  job_id      BIGINT NULL,
  last_error  VARCHAR(1024) NULL,
  created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  sent_at     DATETIME(6) NULL,
  UNIQUE KEY notifications_message (message_id),
  KEY notifications_user (user_id, created_at),
  CONSTRAINT notifications_state CHECK (state IN ('sending', 'deferred', 'sent', 'failed'))
) ENGINE=InnoDB;
