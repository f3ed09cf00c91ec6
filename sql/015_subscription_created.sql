-- 015: when Stripe created each subscription (its object's `created`), so
-- that of two live subscriptions of one user the account follows the
-- newer whatever order their events arrive in (common/domain/
-- subscriptions.c).  NULL for rows written before; they count as oldest.
-- Only adds a column: older programs keep working beside newer ones.
ALTER TABLE subscriptions
  ADD COLUMN stripe_created BIGINT NULL AFTER customer_id;
