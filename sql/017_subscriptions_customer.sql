-- 017: subscriptions by customer.  customer.deleted marks every live
-- subscription of the customer canceled (SUBS_CANCEL_BY_CUSTOMER,
-- common/domain/customers.c); without an index on customer_id that UPDATE
-- read the whole table, inside the webhook's transaction.
--
-- Built in place, without locking the table: writes go on meanwhile on
-- one server; on Galera the ALTER runs in total order and every node
-- waits for it (docs/OPERATIONS.md, "Migrations").  The table holds a row
-- per subscription ever made.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
ALTER TABLE subscriptions
  ADD KEY IF NOT EXISTS subscriptions_customer (customer_id, deleted),
  ALGORITHM=INPLACE, LOCK=NONE;
