-- 008: an invoice's status is Stripe's (draft, open, paid, void,
-- uncollectible). A failed payment leaves the invoice open; it used to be
-- stored as a status of its own, "payment_failed" (its history is the
-- billing_events row of kind payment_failed, which stays).
UPDATE invoices SET status = 'open' WHERE status = 'payment_failed';
