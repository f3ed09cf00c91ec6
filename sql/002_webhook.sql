-- 002: Stripe events, subscriptions, invoices, billing events, the job outbox.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

-- Every verified Stripe event, stored before we answer 2xx.
-- status: processed (effects applied), ignored (type we do not handle),
-- unmatched (no user for its customer; replayable), stale (older than what
-- was already applied), failed (an effect failed; redelivery retries it).
CREATE TABLE IF NOT EXISTS stripe_events (
  id           VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  type         VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  api_version  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  livemode     TINYINT(1) NOT NULL,
  created      BIGINT NOT NULL,
  object_id    VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  user_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  payload      MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  status       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  attempts     INT NOT NULL DEFAULT 1,
  last_error   VARCHAR(1024) NULL,
  received_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  processed_at DATETIME(6) NULL,
  KEY stripe_events_status (status, received_at),
  KEY stripe_events_object (object_id, created)
) ENGINE=InnoDB;

-- Our copy of each Stripe subscription, with the ordering of the last event
-- applied to it (see docs/WEBHOOKS.md for the rule).
CREATE TABLE IF NOT EXISTS subscriptions (
  id                   VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id              VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  customer_id          VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status               VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  tier                 VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  price_id             VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  item_id              VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  current_period_start BIGINT NULL,
  current_period_end   BIGINT NULL,
  cancel_at_period_end TINYINT(1) NOT NULL DEFAULT 0,
  trial_end            BIGINT NULL,
  deleted              TINYINT(1) NOT NULL DEFAULT 0,
  last_event_id        VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  last_event_created   BIGINT NOT NULL,
  last_event_rank      INT NOT NULL,
  created_at           DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at           DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY subscriptions_user (user_id)
) ENGINE=InnoDB;

-- Billing history: one row per Stripe invoice, upserted by its id.
CREATE TABLE IF NOT EXISTS invoices (
  id                   VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id              VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  subscription_id      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  number               VARCHAR(64) NULL,
  status               VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  billing_reason       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  currency             VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'usd',
  amount_due           BIGINT NOT NULL DEFAULT 0,
  amount_paid          BIGINT NOT NULL DEFAULT 0,
  period_start         BIGINT NULL,
  period_end           BIGINT NULL,
  attempt_count        INT NOT NULL DEFAULT 0,
  next_payment_attempt BIGINT NULL,
  hosted_invoice_url   VARCHAR(1024) NULL,
  created              BIGINT NOT NULL,
  updated_at           DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY invoices_user (user_id, created)
) ENGINE=InnoDB;

-- What happened to a user's billing, one row per (event, kind).
CREATE TABLE IF NOT EXISTS billing_events (
  id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  event_id     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  amount_cents BIGINT NULL,
  detail       VARCHAR(1024) NULL,
  created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY billing_events_once (event_id, kind),
  KEY billing_events_user (user_id, id)
) ENGINE=InnoDB;

-- The outbox of side effects (Stripe, Twilio, e-mail), written in the same
-- transaction as their cause and run by xsb-worker.  dedupe_key makes each
-- side effect enqueued at most once.
CREATE TABLE IF NOT EXISTS jobs (
  id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  dedupe_key   VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  payload      TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  state        VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pending',
  attempts     INT NOT NULL DEFAULT 0,
  run_after    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  lease_until  DATETIME(6) NULL,
  locked_by    VARCHAR(64) NULL,
  last_error   VARCHAR(1024) NULL,
  result       TEXT NULL,
  created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY jobs_once (dedupe_key),
  KEY jobs_due (state, run_after),
  KEY jobs_lease (state, lease_until)
) ENGINE=InnoDB;
