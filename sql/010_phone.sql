-- 010: phone numbers that work (issue #16).
--
-- phone_error: why the last provisioning of the user failed for good (the
-- API shows the status "failed" with it while phone_status is 'none');
-- cleared by the next claim.
-- phone_grace_until: the number is held through a lapse (unpaid, canceled)
-- until then (unix seconds); the release job runs at that time and
-- releases only when the tier still has no phone; NULL outside a grace.
-- phone_search: the user's stored number preference (a JSON object of
-- country, area_code, contains, region, locality, postal_code,
-- near_number, near_lat_long, distance) that automatic provisioning uses.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).
ALTER TABLE users
  ADD COLUMN IF NOT EXISTS phone_error VARCHAR(512) NULL,
  ADD COLUMN IF NOT EXISTS phone_grace_until BIGINT NULL,
  ADD COLUMN IF NOT EXISTS phone_search VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;

-- Operators list numbers held now, in grace, and released, by user.
ALTER TABLE phone_numbers ADD KEY IF NOT EXISTS phone_numbers_open (held_to, id);
