-- 001: initial schema. Times from Stripe/Twilio are unix seconds (BIGINT);
-- bookkeeping times are DATETIME(6) in UTC (each connection sets +00:00).
-- Stripe and Twilio ids are case-sensitive: ascii_bin collation.
--
-- Safe to run again after an interruption (IF NOT EXISTS, IF EXISTS, ON
-- DUPLICATE KEY UPDATE): edited so after it shipped, with no change to the
-- schema it makes; scripts/migrate accepts the checksum recorded for the
-- earlier text (docs/OPERATIONS.md, 1.6).

CREATE TABLE IF NOT EXISTS tiers (
  name               VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  display_name       VARCHAR(64) NOT NULL,
  rank               INT NOT NULL,                -- orders tiers for upgrade/downgrade
  monthly_price_cents BIGINT NOT NULL,            -- -1 = custom pricing
  voice_minutes_included BIGINT NOT NULL,         -- -1 = unlimited
  sms_included       BIGINT NOT NULL,             -- -1 = unlimited
  phone_eligible     TINYINT(1) NOT NULL,
  phone_fee_cents    BIGINT NOT NULL,
  stripe_price_id    VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL UNIQUE
) ENGINE=InnoDB;

INSERT INTO tiers VALUES
  ('ai_buddy',           'AI Buddy',            0,     0,   0,   0, 0,   0, NULL),
  ('ai_secretary',       'AI Secretary',        1,  4000, 100, 100, 1, 500, NULL),
  ('ai_project_manager', 'AI Project Manager',  2, 28000, 500, 500, 1, 500, NULL),
  ('ai_cto',             'AI CTO',              3,    -1,  -1,  -1, 1, 500, NULL)
ON DUPLICATE KEY UPDATE name = name;

CREATE TABLE IF NOT EXISTS users (
  id                 VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  email              VARCHAR(320) NOT NULL,
  stripe_customer_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL UNIQUE,
  tier               VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'ai_buddy',
  jwt_version        INT NOT NULL DEFAULT 1,
  subscription_id    VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  billing_cycle_start BIGINT NULL,
  billing_cycle_end  BIGINT NULL,
  trial_end          BIGINT NULL,
  past_due           TINYINT(1) NOT NULL DEFAULT 0,
  phone_number       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL UNIQUE,
  phone_sid          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL UNIQUE,
  phone_status       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'none',
  phone_provisioned_at BIGINT NULL,
  created_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  CONSTRAINT fk_users_tier FOREIGN KEY (tier) REFERENCES tiers (name)
) ENGINE=InnoDB;
