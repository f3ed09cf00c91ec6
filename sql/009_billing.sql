-- 009: the rating engine (docs/BILLING.md): the periods Stripe states, the
-- tier history of each subscription, and frozen bills with their lines and
-- the usage rows they cover.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

-- Every billing period of a subscription we have seen, as Stripe states it
-- (items' current_period_start/end, renewal invoices' period).
CREATE TABLE IF NOT EXISTS billing_periods (
  subscription_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  period_start    BIGINT NOT NULL,
  period_end      BIGINT NOT NULL,
  user_id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (subscription_id, period_start),
  KEY billing_periods_user (user_id, period_start)
) ENGINE=InnoDB;

-- The tier each customer.subscription.* event says the subscription
-- granted from the event's created time on, applied or stale alike.
CREATE TABLE IF NOT EXISTS tier_history (
  id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id        VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  subscription_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  tier            VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  effective_at    BIGINT NOT NULL,
  event_rank      INT NOT NULL,
  UNIQUE KEY tier_history_once (event_id),
  KEY tier_history_sub (subscription_id, effective_at, event_rank, id),
  CONSTRAINT fk_tier_history_tier FOREIGN KEY (tier) REFERENCES tiers (name)
) ENGINE=InnoDB;

-- A bill: one period of one subscription, rated once.  kind 'cycle' (a
-- renewal invoice's period) or 'final' (the last period, up to ended_at).
CREATE TABLE IF NOT EXISTS bills (
  id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  subscription_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  customer_id     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind            VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  period_start    BIGINT NOT NULL,
  period_end      BIGINT NOT NULL,
  usage_end       BIGINT NOT NULL,
  invoice_id      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  oneoff_invoice_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  state           VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'rated',
  computation     TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  created_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  posted_at       DATETIME(6) NULL,
  -- the daily reconcile: when, 'ok' or 'mismatch' and why, and usage rows
  -- of a final bill's period that arrived after it (billed by no bill)
  reconciled_at   BIGINT NULL,
  reconcile_state VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
  reconcile_detail VARCHAR(512) NULL,
  unbilled_rows   INT NOT NULL DEFAULT 0,
  UNIQUE KEY bills_once (subscription_id, period_start),
  KEY bills_user (user_id, period_start),
  KEY bills_state (state, created_at),
  KEY bills_posted (posted_at),
  KEY bills_reconcile (reconcile_state),
  KEY bills_unbilled (unbilled_rows),
  CONSTRAINT bills_kind CHECK (kind IN ('cycle', 'final')),
  CONSTRAINT bills_state CHECK (state IN ('rated', 'posted'))
) ENGINE=InnoDB;

-- The lines of a bill, frozen when rated; target and item once posted.
CREATE TABLE IF NOT EXISTS bill_lines (
  bill_id         BIGINT NOT NULL,
  kind            VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  quantity        BIGINT NOT NULL,
  unit_decimal    VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  amount_cents    BIGINT NOT NULL,
  description     VARCHAR(255) NOT NULL,
  target          VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NULL,
  stripe_item_id  VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  posted_at       DATETIME(6) NULL,
  PRIMARY KEY (bill_id, kind),
  CONSTRAINT fk_bill_lines_bill FOREIGN KEY (bill_id) REFERENCES bills (id),
  CONSTRAINT bill_lines_kind CHECK (kind IN ('voice', 'sms', 'phone',
    'voice_adjust', 'sms_adjust')),
  CONSTRAINT bill_lines_quantity CHECK (quantity > 0 AND amount_cents >= 0)
) ENGINE=InnoDB;

-- Which bill covers a usage row: one at most.  for_period_start is the
-- period the row belongs to (earlier than the bill's for late usage).
CREATE TABLE IF NOT EXISTS bill_usage (
  usage_id         BIGINT NOT NULL PRIMARY KEY,
  bill_id          BIGINT NOT NULL,
  for_period_start BIGINT NOT NULL,
  KEY bill_usage_bill (bill_id),
  CONSTRAINT fk_bill_usage_bill FOREIGN KEY (bill_id) REFERENCES bills (id)
) ENGINE=InnoDB;

-- Events stored unmatched (no user for their customer yet), applied when
-- the customer becomes known.
CREATE TABLE IF NOT EXISTS unmatched_events (
  event_id    VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  customer_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created     BIGINT NOT NULL,
  KEY unmatched_events_customer (customer_id, created)
) ENGINE=InnoDB;

-- The daily reconcile of posted bills with what Stripe holds: the first
-- run; each run queues the next (the bill_reconcile job).
INSERT INTO jobs (kind, dedupe_key, payload) VALUES
  ('bill_reconcile', 'bill_reconcile:first', '{}')
ON DUPLICATE KEY UPDATE dedupe_key = dedupe_key;
