-- 007: charges, disputes and deleted customers: what refunds, disputes and
-- customer.deleted need (common/webhook.c; docs/WEBHOOKS.md).  Refunds
-- themselves are billing_events rows of kind `refund`, keyed by the refund
-- id (billing_events_once), so a refund is one row whatever event names it.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

-- The charges Stripe told us about (charge.succeeded, charge.refunded),
-- tying a charge and its PaymentIntent to a user: a dispute names only its
-- charge and PaymentIntent, never the customer.  Amounts in cents.
CREATE TABLE IF NOT EXISTS charges (
  id              VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  payment_intent  VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  amount          BIGINT NOT NULL,
  amount_refunded BIGINT NOT NULL DEFAULT 0,
  currency        VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'usd',
  created         BIGINT NOT NULL,
  updated_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY charges_payment_intent (payment_intent),
  KEY charges_user (user_id)
) ENGINE=InnoDB;

-- One row per Stripe dispute.  A user with an open dispute (is_open = 1)
-- is flagged; charge.dispute.closed clears it and keeps the outcome in
-- status (won, lost, warning_closed, ...).  A closed dispute never opens
-- again, whatever order the events arrive in.
CREATE TABLE IF NOT EXISTS disputes (
  id             VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  charge_id      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  amount         BIGINT NOT NULL,
  currency       VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'usd',
  reason         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  status         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  is_open        TINYINT(1) NOT NULL,
  created        BIGINT NOT NULL,
  closed_event_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  updated_at     DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY disputes_user_open (user_id, is_open)
) ENGINE=InnoDB;

-- Stripe customers deleted (customer.deleted), with the user they were
-- linked to.  A deleted customer is never linked to a user again; a later
-- checkout makes a new one.  Refunds and disputes of its old charges still
-- find the user through this row.
CREATE TABLE IF NOT EXISTS customers_deleted (
  customer_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  event_id    VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  deleted_at  BIGINT NOT NULL
) ENGINE=InnoDB;
