-- 015: when Stripe created each subscription (its object's `created`), so
-- that of two live subscriptions of one user the account follows the
-- newer whatever order their events arrive in (common/domain/
-- subscriptions.c).  NULL for rows written before; they count as oldest.
-- Only adds a column: older programs keep working beside newer ones.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
ALTER TABLE subscriptions
  ADD COLUMN IF NOT EXISTS stripe_created BIGINT NULL AFTER customer_id;
