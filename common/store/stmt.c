#include <stddef.h>

#include "core/db.h"
#include "store/stmt.h"

#define S(id, text)	[STMT_##id] = { #id, text }

/* The parts of the several-row statements: a row's places, n times. */
#define ROWS_2(r)	r ", " r
#define ROWS_4(r)	ROWS_2(r) ", " ROWS_2(r)
#define ROWS_8(r)	ROWS_4(r) ", " ROWS_4(r)
#define ROWS_16(r)	ROWS_8(r) ", " ROWS_8(r)
/*
 * A several-row statement id_2 .. id_16 (and id_1 with S_ROWS): into,
 * then row 2, 4, 8 or 16 times, then dup (db_exec_rows()).
 */
#define S_ROWS_2_16(id, into, row, dup)					\
	S(id##_2, into ROWS_2(row) dup), S(id##_4, into ROWS_4(row) dup),	\
	S(id##_8, into ROWS_8(row) dup), S(id##_16, into ROWS_16(row) dup)
#define S_ROWS(id, into, row, dup)					\
	S(id##_1, into row dup), S_ROWS_2_16(id, into, row, dup)
/* The places of an IN list of 8 and of 32. */
#define Q8		"?, ?, ?, ?, ?, ?, ?, ?"
#define Q32		Q8 ", " Q8 ", " Q8 ", " Q8
/* A condition n times, any of which holds. */
#define OR_2(r)		r " OR " r
#define OR_4(r)		OR_2(r) " OR " OR_2(r)
#define OR_8(r)		OR_4(r) " OR " OR_4(r)
#define OR_16(r)	OR_8(r) " OR " OR_8(r)
/*
 * The caller and the subscription they follow (BILLING_USER, a column
 * list left open for more), and the tables they are read from.
 */
#define BILLING_USER_COLS \
	"SELECT u.email, u.stripe_customer_id, u.tier, u.subscription_id, " \
	"s.status, s.item_id, s.current_period_start, " \
	"s.current_period_end, s.cancel_at_period_end, s.deleted, " \
	"s.last_event_id, u.jwt_version"
#define BILLING_USER_FROM \
	" FROM users u LEFT JOIN subscriptions s " \
	"ON s.id = u.subscription_id AND s.user_id = u.id "
/*
 * A user's usage over [start, end) and the numbers held in it (USAGE_SUM:
 * user, end, start, user, start, end).
 */
#define USAGE_SUM_COLS \
	"COALESCE(SUM(IF(kind = 'voice', quantity, 0)), 0), " \
	"COALESCE(SUM(IF(kind = 'voice', (quantity + 59) DIV 60, 0)), 0), " \
	"COALESCE(SUM(kind = 'voice'), 0), " \
	"COALESCE(SUM(IF(kind = 'sms', quantity, 0)), 0), " \
	"(SELECT COUNT(*) FROM phone_numbers p WHERE p.user_id = ? " \
	"AND p.held_from < ? AND (p.held_to IS NULL OR p.held_to > ?)) " \
	"FROM usage_events WHERE user_id = ? AND kind IN ('voice', 'sms') " \
	"AND occurred_at >= ? AND occurred_at < ?"
/*
 * USAGE_SUMS_n: n users' usage, each over its own period (user, start,
 * end, n times), then the numbers they held (n users, then the latest end
 * and the earliest start), then the tier histories of n subscriptions (n
 * ids, '' for none, then the earliest effective_at wanted), in no order;
 * its kind first:
 *   0: a user's usage of one kind: user, 1 for sms (0 voice), the sum of
 *      quantity, of started minutes, the count;
 *   1: a number held in the span of the batch: user, held_from, held_to
 *      (INT64_MAX while held), for usage_events.c to count in each user's
 *      own period;
 *   2: a history entry: subscription, effective_at, event_rank, id, 0, 0,
 *      tier.
 * One SELECT of ORed ranges, not a part per user: MariaDB optimizes each
 * part of a statement at every execution.  The usage part groups by kind
 * (in index order), not IF(kind = ...) sums: a comparison per group, not
 * four per row.  The numbers are one IN list, not n ranges (half the
 * part's cost to plan).  No ORDER BY: it would sort the whole union in a
 * temporary table; usage_events.c orders the history entries.  An open
 * holding's held_to is NULL: COALESCE, not "IS NULL OR", keeps the
 * optimizer from weighing phone_numbers_open at every execution;
 * phone_numbers_user reads it.
 */
#define USAGE_SUMS_HEAD \
	"SELECT 0, user_id, kind = 'sms', SUM(quantity), " \
	"SUM((quantity + 59) DIV 60), COUNT(*), 0, NULL " \
	"FROM usage_events WHERE kind IN ('voice', 'sms') AND ("
#define USAGE_SUMS_RANGE \
	"(user_id = ? AND occurred_at >= ? AND occurred_at < ?)"
#define USAGE_SUMS_MID \
	") GROUP BY user_id, kind UNION ALL " \
	"SELECT 1, user_id, held_from, " \
	"COALESCE(held_to, 9223372036854775807), 0, 0, 0, NULL " \
	"FROM phone_numbers WHERE user_id IN ("
#define USAGE_SUMS_HIST \
	") AND held_from < ? " \
	"AND COALESCE(held_to, 9223372036854775807) > ? UNION ALL " \
	"SELECT 2, subscription_id, effective_at, event_rank, id, 0, 0, " \
	"tier FROM tier_history WHERE subscription_id IN ("
#define USAGE_SUMS(n) \
	USAGE_SUMS_HEAD OR_##n(USAGE_SUMS_RANGE) USAGE_SUMS_MID \
	ROWS_##n("?") USAGE_SUMS_HIST ROWS_##n("?") ") " \
	"AND effective_at >= ?"
/* An event row's INSERT and columns, the list left open for more. */
#define EVENT_INTO \
	"INSERT INTO stripe_events (id, type, api_version, livemode, " \
	"created, object_id, payload, status, user_id, processed_at"
#define EVENT_INSERT_INTO	EVENT_INTO ") VALUES "
#define EVENT_ROW	"(?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6))"
/*
 * A batch's rows are stored counted (sql/014): metrics_status is the
 * row's own status (a column set earlier in the row), round 0.
 */
#define EVENT_ROWS_INTO \
	EVENT_INTO ", metrics_status, metrics_round) VALUES "
#define EVENT_COUNTED_ROW \
	"(?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6), status, 0)"
#define EVENT_COUNT_ROW	"(?, ?, ?, ?)"
#define ROWS_DUP	" ON DUPLICATE KEY UPDATE id = id"
#define CALL_EVENT_INTO \
	"INSERT INTO call_events (user_id, call_sid, call_status, duration) " \
	"VALUES "
#define CALL_EVENT_ROW	"(?, ?, ?, ?)"
#define CALL_USAGE_INTO \
	"INSERT INTO usage_events (user_id, kind, quantity, occurred_at, " \
	"source, idempotency_key, reported_by) VALUES "
#define CALL_USAGE_ROW	"(?, ?, ?, ?, ?, ?, ?)"
#define UNMATCHED_INSERT_INTO \
	"INSERT INTO unmatched_events (event_id, customer_id, created) VALUES "
#define UNMATCHED_ROW	"(?, ?, ?)"
#define UNMATCHED_DUP	" ON DUPLICATE KEY UPDATE event_id = event_id"
#define BILL_COVER_INTO \
	"INSERT INTO bill_usage (usage_id, bill_id, for_period_start) VALUES "
#define BILL_COVER_ROW	"(?, ?, ?)"
#define BILL_COVER_DUP	" ON DUPLICATE KEY UPDATE usage_id = usage_id"

/*
 * The SQL of the project.  Column lists are explicit so a result's column
 * numbers are fixed by the statement, not by the table.
 */
static const struct {
	const char	*name;
	const char	*sql;
} stmts[STMT__MAX] = {
	/* health */
	S(PING, "SELECT 1"),
	/*
	 * The status is read in a derived table: beside an aggregate in one
	 * select list, MariaDB 10.11 reads @@GLOBAL.read_only as 0 even
	 * when it is 1.
	 */
	S(HEALTH,
	    "SELECT @@GLOBAL.read_only, @@GLOBAL.innodb_read_only, "
	    "@@GLOBAL.wsrep_on, s.ready, s.cluster, s.state FROM ("
	    "SELECT MAX(IF(VARIABLE_NAME = 'WSREP_READY', VARIABLE_VALUE, "
	    "NULL)) AS ready, "
	    "MAX(IF(VARIABLE_NAME = 'WSREP_CLUSTER_STATUS', VARIABLE_VALUE, "
	    "NULL)) AS cluster, "
	    "MAX(IF(VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT', "
	    "VARIABLE_VALUE, NULL)) AS state "
	    "FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN "
	    "('WSREP_READY', 'WSREP_CLUSTER_STATUS', "
	    "'WSREP_LOCAL_STATE_COMMENT')) AS s"),

	/* users */
	S(USER_GET,
	    "SELECT id, email, stripe_customer_id, tier, jwt_version, "
	    "subscription_id, billing_cycle_start, billing_cycle_end, "
	    "trial_end, past_due, phone_number, phone_sid, phone_status, "
	    "phone_provisioned_at, phone_error, phone_grace_until, "
	    "phone_search FROM users WHERE id = ?"),
	S(USER_INSERT,
	    "INSERT INTO users (id, email, tier) VALUES (?, ?, ?)"),
	S(USER_JWT_VERSION,
	    "SELECT jwt_version FROM users WHERE id = ?"),
	/* Locking the user row serializes every event of one customer. */
	S(USER_LOCK,
	    "SELECT id, tier, subscription_id, phone_number, "
	    "stripe_customer_id, phone_status FROM users WHERE id = ? "
	    "FOR UPDATE"),
	/*
	 * A write of the user's row, so that a decision made under its lock
	 * (the usage cap, a subscription event's) certifies against one made
	 * on another Galera node, where the lock does not reach.
	 */
	S(USER_TOUCH,
	    "UPDATE users SET updated_at = NOW(6) WHERE id = ?"),
	S(USER_LOCK_BY_CUSTOMER,
	    "SELECT id, tier, subscription_id, phone_number, "
	    "stripe_customer_id, phone_status FROM users "
	    "WHERE stripe_customer_id = ? FOR UPDATE"),
	S(USER_LOCK_BY_CUSTOMER_16,
	    "SELECT id, tier, subscription_id, phone_number, "
	    "stripe_customer_id, phone_status FROM users "
	    "WHERE stripe_customer_id IN "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) FOR UPDATE"),
	S(USER_SET_CUSTOMER,
	    "UPDATE users SET stripe_customer_id = ? WHERE id = ? "
	    "AND stripe_customer_id IS NULL"),
	S(USER_SET_SUBSCRIPTION,
	    "UPDATE users SET tier = ?, subscription_id = ?, "
	    "billing_cycle_start = ?, billing_cycle_end = ?, trial_end = ?, "
	    "past_due = ? WHERE id = ?"),
	S(USER_SET_TRIAL_END,
	    "UPDATE users SET trial_end = ? WHERE id = ?"),
	/* Forward only: a paid invoice of an earlier period comes late. */
	S(USER_SET_CYCLE,
	    "UPDATE users SET billing_cycle_start = ?, billing_cycle_end = ? "
	    "WHERE id = ? AND (billing_cycle_end IS NULL OR "
	    "billing_cycle_end <= ?)"),

	/* stripe events */
	S(EVENT_STATUS,
	    "SELECT status FROM stripe_events WHERE id = ?"),
	S(EVENT_STATUS_16,
	    "SELECT id, status FROM stripe_events WHERE id IN "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) FOR UPDATE"),
	S(EVENT_LOCK,
	    "SELECT status FROM stripe_events WHERE id = ? FOR UPDATE"),
	S(EVENT_INSERT, EVENT_INSERT_INTO EVENT_ROW),
	/*
	 * A batch's rows, 1, 2, 4, 8 or 16 an execution (db_exec_rows()):
	 * a row met twice is a no-op, and the affected count says whether
	 * each was new.
	 */
	S_ROWS(EVENT_ROWS, EVENT_ROWS_INTO, EVENT_COUNTED_ROW, ROWS_DUP),
	S(EVENT_FINISH,
	    "UPDATE stripe_events SET status = ?, user_id = ?, "
	    "last_error = NULL, processed_at = NOW(6), "
	    "attempts = attempts + 1 WHERE id = ?"),
	/* A failure is recorded apart from the rolled-back effects. */
	S(EVENT_FAIL,
	    "INSERT INTO stripe_events (id, type, api_version, livemode, "
	    "created, object_id, payload, status, last_error) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, 'failed', LEFT(?, 1000)) "
	    "ON DUPLICATE KEY UPDATE attempts = IF(status = 'failed', "
	    "attempts + 1, attempts), last_error = IF(status = 'failed', "
	    "VALUES(last_error), last_error)"),

	/*
	 * The daily purge (evstore_purge(), domain/evstore.h): a chunk of
	 * the events of one final status received before a Unix time,
	 * oldest first along stripe_events_status, locked with the status
	 * they are counted under for /metrics; then deleted by id.
	 */
	S(EVENT_PURGE_PICK,
	    "SELECT id, type, metrics_status FROM stripe_events "
	    "FORCE INDEX (stripe_events_status) WHERE status = ? "
	    "AND received_at < FROM_UNIXTIME(?) "
	    "ORDER BY received_at, id LIMIT ? FOR UPDATE"),
	S(EVENT_DELETE_16,
	    "DELETE FROM stripe_events WHERE id IN (" ROWS_16("?") ")"),

	/* subscriptions */
	S(SUB_LOCK,
	    "SELECT user_id, status, tier, deleted, last_event_created, "
	    "last_event_rank, COALESCE(stripe_created, 0), last_event_id "
	    "FROM subscriptions WHERE id = ? FOR UPDATE"),
	/*
	 * The user's newest other subscription that grants a tier (for when
	 * the one they follow is deleted while another is still charged).
	 */
	S(SUB_OTHER_LIVE,
	    "SELECT id, customer_id, status, tier, current_period_start, "
	    "current_period_end, cancel_at_period_end, trial_end "
	    "FROM subscriptions WHERE user_id = ? AND id <> ? AND deleted = 0 "
	    "AND status IN ('active', 'trialing', 'past_due') "
	    "ORDER BY COALESCE(stripe_created, 0) DESC, "
	    "last_event_created DESC, id DESC LIMIT 1"),
	S(SUB_UPSERT,
	    "INSERT INTO subscriptions (id, user_id, customer_id, status, "
	    "tier, price_id, item_id, current_period_start, "
	    "current_period_end, cancel_at_period_end, trial_end, deleted, "
	    "last_event_id, last_event_created, last_event_rank, "
	    "stripe_created) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), "
	    "stripe_created = COALESCE(VALUES(stripe_created), "
	    "stripe_created), "
	    "customer_id = VALUES(customer_id), status = VALUES(status), "
	    "tier = VALUES(tier), price_id = VALUES(price_id), "
	    "item_id = VALUES(item_id), "
	    "current_period_start = VALUES(current_period_start), "
	    "current_period_end = VALUES(current_period_end), "
	    "cancel_at_period_end = VALUES(cancel_at_period_end), "
	    "trial_end = VALUES(trial_end), deleted = VALUES(deleted), "
	    "last_event_id = VALUES(last_event_id), "
	    "last_event_created = VALUES(last_event_created), "
	    "last_event_rank = VALUES(last_event_rank)"),

	/* invoices and billing events */
	S(INVOICE_LOCK,
	    "SELECT status, attempt_count FROM invoices WHERE id = ? "
	    "FOR UPDATE"),
	S(INVOICE_UPSERT,
	    "INSERT INTO invoices (id, user_id, subscription_id, number, "
	    "status, billing_reason, currency, amount_due, amount_paid, "
	    "period_start, period_end, attempt_count, next_payment_attempt, "
	    "hosted_invoice_url, created) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE status = VALUES(status), "
	    "number = COALESCE(VALUES(number), number), "
	    "amount_due = VALUES(amount_due), "
	    "amount_paid = VALUES(amount_paid), "
	    "attempt_count = VALUES(attempt_count), "
	    "next_payment_attempt = VALUES(next_payment_attempt), "
	    "hosted_invoice_url = COALESCE(VALUES(hosted_invoice_url), "
	    "hosted_invoice_url)"),
	S(BEVENT_INSERT,
	    "INSERT INTO billing_events (user_id, event_id, kind, "
	    "amount_cents, detail) VALUES (?, ?, ?, ?, LEFT(?, 1000)) "
	    "ON DUPLICATE KEY UPDATE id = id"),

	/* usage */
	S(USAGE_INSERT,
	    "INSERT INTO usage_events (user_id, kind, quantity, occurred_at, "
	    "source, idempotency_key, reported_by) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)"),
	S(USAGE_BY_KEY,
	    "SELECT id, user_id, kind, quantity, occurred_at, source, "
	    "reported_by FROM usage_events WHERE idempotency_key = ?"),
	/*
	 * One round trip for a period's bill: voice is billed per started
	 * minute of each call, and the phone fee is due when a number was
	 * held at any time in the period.  kind IN (...) (every kind there
	 * is) lets the range on occurred_at use usage_user_time (user_id,
	 * kind, occurred_at, quantity; sql/016): the period's entries are
	 * read, from the index alone, not the user's whole history.
	 */
	S(USAGE_SUM, "SELECT " USAGE_SUM_COLS),
	/*
	 * USAGE_SUM for 2, 4, 8 or 16 users at once (GET /api/billing/usage's
	 * reads in batches, domain/usage_reads.c); padding repeats a user.
	 */
	S(USAGE_SUMS_2, USAGE_SUMS(2)),
	S(USAGE_SUMS_4, USAGE_SUMS(4)),
	S(USAGE_SUMS_8, USAGE_SUMS(8)),
	S(USAGE_SUMS_16, USAGE_SUMS(16)),
	S(TIERS_ALL,
	    "SELECT name, monthly_price_cents, voice_minutes_included, "
	    "sms_included, phone_eligible, phone_fee_cents, display_name, "
	    "rank FROM tiers"),

	/* phone */
	/*
	 * The claim that makes one provisioning per user: the tier is
	 * checked in the same statement, so a downgrade committed first
	 * wins; a claim older than its third argument is taken over.
	 * While provisioning, phone_provisioned_at is the claim's time.
	 */
	S(PHONE_CLAIM,
	    "UPDATE users u JOIN tiers t ON t.name = u.tier "
	    "SET u.phone_status = 'provisioning', u.phone_provisioned_at = ?, "
	    "u.phone_error = NULL WHERE u.id = ? AND t.phone_eligible = 1 "
	    "AND u.phone_number IS NULL AND (u.phone_status = 'none' OR "
	    "(u.phone_status = 'provisioning' AND "
	    "(u.phone_provisioned_at IS NULL OR u.phone_provisioned_at < ?)))"),
	S(PHONE_UNCLAIM,
	    "UPDATE users SET phone_status = 'none', "
	    "phone_provisioned_at = NULL WHERE id = ? "
	    "AND phone_status = 'provisioning' AND phone_provisioned_at = ? "
	    "AND phone_number IS NULL"),
	S(PHONE_ACTIVATE,
	    "UPDATE users SET phone_number = ?, phone_sid = ?, "
	    "phone_status = 'active', phone_provisioned_at = ? WHERE id = ? "
	    "AND phone_status = 'provisioning' AND phone_provisioned_at = ? "
	    "AND phone_number IS NULL"),
	S(PHONE_HISTORY_OPEN,
	    "INSERT INTO phone_numbers (user_id, phone_number, phone_sid, "
	    "held_from) VALUES (?, ?, ?, ?)"),
	S(PHONE_CLEAR,
	    "UPDATE users SET phone_number = NULL, phone_sid = NULL, "
	    "phone_status = 'none', phone_provisioned_at = NULL, "
	    "phone_grace_until = NULL WHERE id = ? AND phone_sid = ?"),
	S(PHONE_HISTORY_CLOSE,
	    "UPDATE phone_numbers SET held_to = ? WHERE user_id = ? "
	    "AND phone_sid = ? AND held_to IS NULL"),
	/*
	 * When a user got the n-th latest of their numbers given since a
	 * time (none: fewer): the cap on numbers a user is given.  Along
	 * phone_numbers_user, read backwards.
	 */
	S(PHONE_HISTORY_NTH_SINCE,
	    "SELECT held_from FROM phone_numbers WHERE user_id = ? "
	    "AND held_from >= ? ORDER BY held_from DESC LIMIT 1 OFFSET ?"),
	/* One row per (call, status): Twilio may send a status twice. */
	S(CALL_EVENT_INSERT, CALL_EVENT_INTO CALL_EVENT_ROW ROWS_DUP),
	/*
	 * A batch of call statuses and texts (domain/phone.c): which of 32
	 * users exist and which of 32 usage keys are recorded, in one read
	 * (unused places NULL; column 0 says which), and the rows, 1, 2, 4,
	 * 8 or 16 an execution (db_exec_rows(): a row met twice is a no-op;
	 * the usage rows' affected count says whether a key was recorded
	 * meanwhile).
	 */
	S(CALL_BATCH_READ_32,
	    "SELECT 0, id FROM users WHERE id IN (" Q32 ") "
	    "UNION ALL SELECT IF(source = 'twilio', 1, 2), idempotency_key "
	    "FROM usage_events WHERE idempotency_key IN (" Q32 ")"),
	/*
	 * Twilio's count of a text another source recorded first under
	 * Twilio's key: the row is locked, then taken over unless a bill
	 * covers it (read after the lock: a rating that held the row has
	 * committed its cover by then; one that comes later waits for it).
	 */
	S(CALL_USAGE_OTHER_LOCK,
	    "SELECT id, quantity, user_id FROM usage_events "
	    "WHERE idempotency_key = ? AND source <> 'twilio' FOR UPDATE"),
	/* Twilio's count and user (its signed callback's) take the row. */
	S(CALL_USAGE_TAKE,
	    "UPDATE usage_events u SET quantity = ?, user_id = ?, "
	    "source = 'twilio', reported_by = 'twilio' WHERE u.id = ? AND "
	    "NOT EXISTS (SELECT 1 FROM bill_usage b WHERE b.usage_id = u.id)"),
	S_ROWS(CALL_USAGE_INSERT, CALL_USAGE_INTO, CALL_USAGE_ROW, ROWS_DUP),
	S_ROWS_2_16(CALL_EVENT_INSERT, CALL_EVENT_INTO, CALL_EVENT_ROW,
	    ROWS_DUP),

	/* jobs */
	S(JOB_ENQUEUE,
	    "INSERT INTO jobs (kind, dedupe_key, user_id, payload) "
	    "VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id"),
	/*
	 * The outcome of one claim: the worker's, and the attempt it made
	 * (each claim adds one), so that a run whose job was claimed again
	 * meanwhile, by this worker too, changes nothing.  A recorded
	 * failure starts the count of lease expiries again.
	 */
	S(JOB_FAIL,
	    "UPDATE jobs SET state = ?, run_after = NOW(6) + INTERVAL ? SECOND, "
	    "last_error = LEFT(?, 1000), lease_until = NULL, expiries = 0 "
	    "WHERE id = ? AND attempts = ? AND locked_by = ? "
	    "AND state = 'running'"),

	/* notifications */
	S(NOTIFY_GET,
	    "SELECT state, attempts FROM notifications WHERE dedupe_key = ?"),
	/* A message already sent stays sent, whatever runs again. */
	S(NOTIFY_BEGIN,
	    "INSERT INTO notifications (dedupe_key, message_id, template, "
	    "user_id, recipient, subject, state, job_id) "
	    "VALUES (?, ?, ?, ?, ?, LEFT(?, 500), 'sending', ?) "
	    "ON DUPLICATE KEY UPDATE attempts = attempts + 1, "
	    "recipient = VALUES(recipient), subject = VALUES(subject), "
	    "job_id = VALUES(job_id), last_error = NULL, "
	    "state = IF(state = 'sent', state, 'sending')"),
	S(NOTIFY_SENT,
	    "UPDATE notifications SET state = 'sent', sent_at = NOW(6), "
	    "last_error = NULL WHERE dedupe_key = ?"),
	S(NOTIFY_FAIL,
	    "UPDATE notifications SET state = IF(state = 'sent', state, ?), "
	    "last_error = LEFT(?, 1000) WHERE dedupe_key = ?"),

	/* billing api */
	/* The user and the subscription they follow, if we have its row. */
	S(BILLING_USER, BILLING_USER_COLS BILLING_USER_FROM "WHERE u.id = ?"),
	/*
	 * BILLING_USER for 2, 4, 8 or 16 ids at once (padding repeats an id),
	 * each row's id last.
	 */
	S(BILLING_USERS_2, BILLING_USER_COLS ", u.id" BILLING_USER_FROM
	    "WHERE u.id IN (" ROWS_2("?") ")"),
	S(BILLING_USERS_4, BILLING_USER_COLS ", u.id" BILLING_USER_FROM
	    "WHERE u.id IN (" ROWS_4("?") ")"),
	S(BILLING_USERS_8, BILLING_USER_COLS ", u.id" BILLING_USER_FROM
	    "WHERE u.id IN (" ROWS_8("?") ")"),
	S(BILLING_USERS_16, BILLING_USER_COLS ", u.id" BILLING_USER_FROM
	    "WHERE u.id IN (" ROWS_16("?") ")"),
	/* Keyset pages, newest first: (created, id) below the cursor's. */
	S(BILLING_INVOICES,
	    "SELECT id, number, status, billing_reason, currency, amount_due, "
	    "amount_paid, period_start, period_end, attempt_count, "
	    "next_payment_attempt, hosted_invoice_url, created, "
	    "subscription_id FROM invoices WHERE user_id = ? "
	    "AND (created < ? OR (created = ? AND id < ?)) "
	    "ORDER BY created DESC, id DESC LIMIT ?"),
	/*
	 * GET /api/billing/history in one round trip: a page of invoices
	 * (BILLING_INVOICES' columns, when the first ? is > 0) then one of
	 * billing events (columns 0-5, when the seventh is > 0), each with
	 * a row beyond the page.  Columns 14-16 (part 'i' or 'e', and the
	 * side's own order) put them in that order; BINARY is ascii_bin's
	 * byte order, the cursor's.  Each side is read along its user's
	 * index from the cursor, whatever the statistics say: on a small
	 * table MariaDB would walk the primary key of every user's rows.
	 */
	S(BILLING_HISTORY,
	    "SELECT * FROM ("
	    "(SELECT id, number, status, billing_reason, currency, "
	    "amount_due, amount_paid, period_start, period_end, "
	    "attempt_count, next_payment_attempt, hosted_invoice_url, "
	    "created, subscription_id, 'i' AS part, created AS k1, "
	    "CAST(id AS BINARY) AS k2 "
	    "FROM invoices FORCE INDEX (invoices_user) "
	    "WHERE ? > 0 AND user_id = ? "
	    "AND (created < ? OR (created = ? AND id < ?)) "
	    "ORDER BY created DESC, id DESC LIMIT ?) "
	    "UNION ALL "
	    "(SELECT id, event_id, kind, amount_cents, detail, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), NULL, NULL, NULL, NULL, "
	    "NULL, NULL, NULL, NULL, 'e', id, CAST('' AS BINARY) "
	    "FROM billing_events FORCE INDEX (billing_events_user) "
	    "WHERE ? > 0 AND user_id = ? AND id < ? "
	    "ORDER BY id DESC LIMIT ?)) AS h "
	    "ORDER BY part DESC, k1 DESC, k2 DESC"),

	/* admin */
	S(ADMIN_USER_SUBS,
	    "SELECT id, status, tier, price_id, item_id, current_period_start, "
	    "current_period_end, cancel_at_period_end, trial_end, deleted, "
	    "last_event_id, last_event_created, customer_id FROM subscriptions "
	    "WHERE user_id = ? ORDER BY last_event_created DESC, id LIMIT 20"),
	/* The columns of every job list: see admin_job_json(). */
	S(ADMIN_USER_JOBS,
	    "SELECT id, kind, dedupe_key, user_id, state, attempts, "
	    "FLOOR(UNIX_TIMESTAMP(run_after)), last_error, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), "
	    "FLOOR(UNIX_TIMESTAMP(updated_at)) FROM jobs WHERE user_id = ? "
	    "ORDER BY id DESC LIMIT ?"),
	S(ADMIN_USER_PHONES,
	    "SELECT phone_number, phone_sid, held_from, held_to "
	    "FROM phone_numbers WHERE user_id = ? ORDER BY held_from DESC "
	    "LIMIT 20"),
	/* Every token issued before carries the old version: all revoked. */
	S(ADMIN_USER_REVOKE,
	    "UPDATE users SET jwt_version = jwt_version + 1 WHERE id = ?"),
	/* The columns of every event list: see admin_event_json(). */
	S(ADMIN_EVENTS_RECENT,
	    "SELECT id, type, status, created, object_id, user_id, attempts, "
	    "last_error, FLOOR(UNIX_TIMESTAMP(received_at)), "
	    "FLOOR(UNIX_TIMESTAMP(processed_at)) FROM stripe_events "
	    "ORDER BY received_at DESC, id DESC LIMIT ?"),
	S(ADMIN_EVENTS_BY_STATUS,
	    "SELECT id, type, status, created, object_id, user_id, attempts, "
	    "last_error, FLOOR(UNIX_TIMESTAMP(received_at)), "
	    "FLOOR(UNIX_TIMESTAMP(processed_at)) FROM stripe_events "
	    "WHERE status = ? ORDER BY received_at DESC, id DESC LIMIT ?"),
	S(ADMIN_EVENT_GET,
	    "SELECT status, type, payload FROM stripe_events WHERE id = ?"),
	S(ADMIN_JOBS_BY_STATE,
	    "SELECT id, kind, dedupe_key, user_id, state, attempts, "
	    "FLOOR(UNIX_TIMESTAMP(run_after)), last_error, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), "
	    "FLOOR(UNIX_TIMESTAMP(updated_at)) FROM jobs WHERE state = ? "
	    "ORDER BY run_after DESC, id DESC LIMIT ?"),
	S(ADMIN_JOB_STATE,
	    "SELECT state FROM jobs WHERE id = ?"),
	/*
	 * A retried job starts afresh: due now, with the whole
	 * JOB_MAX_ATTEMPTS and backoff again; last_error stays until the
	 * next attempt replaces it.
	 */
	S(ADMIN_JOB_RETRY,
	    "UPDATE jobs SET state = 'pending', run_after = NOW(6), "
	    "attempts = 0, expiries = 0, lease_until = NULL, locked_by = NULL "
	    "WHERE id = ? AND state IN ('dead', 'pending')"),
	S(ADMIN_JOBS_RETRY_DEAD,
	    "UPDATE jobs SET state = 'pending', run_after = NOW(6), "
	    "attempts = 0, expiries = 0, lease_until = NULL, locked_by = NULL "
	    "WHERE state = 'dead' AND (? = '' OR kind = ?)"),
	S(ADMIN_SUB_GET,
	    "SELECT user_id, status, tier, deleted, current_period_end, "
	    "cancel_at_period_end, last_event_id FROM subscriptions "
	    "WHERE id = ?"),
	/* In SID order (ascii_bin: byte order), for the merge with Twilio's. */
	S(ADMIN_PHONES_HELD,
	    "SELECT id, phone_number, phone_sid, phone_status FROM users "
	    "WHERE phone_sid IS NOT NULL ORDER BY phone_sid"),
	S(ADMIN_PHONES_PAGE,
	    "SELECT id, phone_number, phone_sid FROM users "
	    "WHERE phone_sid IS NOT NULL AND id > ? ORDER BY id LIMIT ?"),

	/* metrics: counted at scrape time */
	/*
	 * The rollup's counts (sql/012_metrics_rollup.sql) plus the events
	 * not counted as they stand (metrics_key -1: new, or their status
	 * changed since): exact, and it reads the rows changed since the last
	 * rollup, not the table.  A pair whose events all moved on is left
	 * out, as a GROUP BY of the table would.  The index is forced: its
	 * statistics lag behind the rollup (the share of rows at -1 is
	 * never what it was when they were taken).
	 */
	S(METRICS_EVENTS,
	    "SELECT type, status, SUM(n) FROM ("
	    "SELECT type, status, n FROM metrics_event_counts "
	    "UNION ALL SELECT type, status, 1 FROM stripe_events "
	    "FORCE INDEX (stripe_events_metrics) WHERE metrics_key = -1 "
	    "UNION ALL SELECT type, metrics_status, -1 FROM stripe_events "
	    "FORCE INDEX (stripe_events_metrics) "
	    "WHERE metrics_key = -1 AND metrics_status IS NOT NULL) AS c "
	    "GROUP BY type, status HAVING SUM(n) > 0"),
	/*
	 * Done jobs are left out: read along jobs_due (its state), whatever
	 * the statistics say; when most jobs wait (a backlog) MariaDB would
	 * scan the whole table, done ones included.
	 */
	S(METRICS_JOBS,
	    "SELECT kind, state, COUNT(*), "
	    "FLOOR(UNIX_TIMESTAMP(NOW(6)) - UNIX_TIMESTAMP(MIN(created_at))), "
	    "COALESCE(SUM(state = 'pending' AND run_after <= NOW(6)), 0), "
	    "COALESCE(FLOOR(UNIX_TIMESTAMP(NOW(6)) - UNIX_TIMESTAMP(MIN("
	    "IF(state = 'pending' AND run_after <= NOW(6), run_after, NULL)))), "
	    "0) FROM jobs FORCE INDEX (jobs_due) "
	    "WHERE state IN ('pending', 'running', 'dead') "
	    "GROUP BY kind, state"),
	/* The same for notifications (sql/013_metrics_notifications.sql). */
	S(METRICS_NOTIFICATIONS,
	    "SELECT template, state, SUM(n) FROM ("
	    "SELECT template, state, n FROM metrics_notification_counts "
	    "UNION ALL SELECT template, state, 1 FROM notifications "
	    "FORCE INDEX (notifications_metrics) WHERE metrics_key = -1 "
	    "UNION ALL SELECT template, metrics_state, -1 FROM notifications "
	    "FORCE INDEX (notifications_metrics) "
	    "WHERE metrics_key = -1 AND metrics_state IS NOT NULL) AS c "
	    "GROUP BY template, state HAVING SUM(n) > 0"),
	/*
	 * One rollup run, one transaction (metrics_db_rollup()): the next
	 * round, under the row's lock (runs take turns); the events not
	 * counted as they stand, a chunk of them, marked with it; what they
	 * add to (and, for a changed status, take from) the counts.
	 */
	S(METRICS_ROLLUP_NEXT,
	    "UPDATE metrics_rollup SET round = round + 1, rolled_at = NOW(6) "
	    "WHERE id = 1"),
	S(METRICS_ROLLUP_ROUND,
	    "SELECT round FROM metrics_rollup WHERE id = 1"),
	S(METRICS_ROLLUP_MARK,
	    "UPDATE stripe_events FORCE INDEX (stripe_events_metrics) "
	    "SET metrics_prev = metrics_status, "
	    "metrics_status = status, metrics_round = ? "
	    "WHERE metrics_key = -1 ORDER BY id LIMIT ?"),
	S(METRICS_ROLLUP_ADD,
	    "INSERT INTO metrics_event_counts (type, status, n) "
	    "SELECT t, s, SUM(d) FROM ("
	    "SELECT type AS t, metrics_status AS s, 1 AS d FROM stripe_events "
	    "FORCE INDEX (stripe_events_metrics) WHERE metrics_key = ? "
	    "UNION ALL SELECT type, metrics_prev, -1 FROM stripe_events "
	    "FORCE INDEX (stripe_events_metrics) "
	    "WHERE metrics_key = ? AND metrics_prev IS NOT NULL) AS c "
	    "GROUP BY t, s ON DUPLICATE KEY UPDATE n = n + VALUES(n)"),
	/*
	 * A batch's events counted as it stores them (sql/014): 4 (type,
	 * status) pairs an execution into the committer's shard, unused
	 * places repeating the last pair with 0.
	 */
	S(METRICS_COUNT_ADD_4,
	    "INSERT INTO metrics_event_counts (type, status, shard, n) VALUES "
	    ROWS_4(EVENT_COUNT_ROW) " ON DUPLICATE KEY UPDATE n = n + VALUES(n)"),
	/* The same run marks and counts notifications too (013). */
	S(METRICS_ROLLUP_NOTIF_MARK,
	    "UPDATE notifications FORCE INDEX (notifications_metrics) "
	    "SET metrics_prev = metrics_state, "
	    "metrics_state = state, metrics_round = ? "
	    "WHERE metrics_key = -1 ORDER BY dedupe_key LIMIT ?"),
	S(METRICS_ROLLUP_NOTIF_ADD,
	    "INSERT INTO metrics_notification_counts (template, state, n) "
	    "SELECT t, s, SUM(d) FROM ("
	    "SELECT template AS t, metrics_state AS s, 1 AS d "
	    "FROM notifications FORCE INDEX (notifications_metrics) "
	    "WHERE metrics_key = ? "
	    "UNION ALL SELECT template, metrics_prev, -1 FROM notifications "
	    "FORCE INDEX (notifications_metrics) "
	    "WHERE metrics_key = ? AND metrics_prev IS NOT NULL) AS c "
	    "GROUP BY t, s ON DUPLICATE KEY UPDATE n = n + VALUES(n)"),

	/* payments: charges, refunds, disputes, deleted customers */
	S(CHARGE_UPSERT,
	    "INSERT INTO charges (id, user_id, payment_intent, amount, "
	    "amount_refunded, currency, created) VALUES (?, ?, ?, ?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE "
	    "payment_intent = COALESCE(VALUES(payment_intent), payment_intent), "
	    "amount_refunded = GREATEST(amount_refunded, "
	    "VALUES(amount_refunded))"),
	/* The user of a charge, by its id or its PaymentIntent's. */
	S(CHARGE_USER,
	    "SELECT user_id FROM charges WHERE id = ? UNION ALL "
	    "SELECT user_id FROM charges WHERE payment_intent = ? LIMIT 1"),
	S(DISPUTE_LOCK,
	    "SELECT is_open, status FROM disputes WHERE id = ? FOR UPDATE"),
	S(DISPUTE_INSERT,
	    "INSERT INTO disputes (id, user_id, charge_id, amount, currency, "
	    "reason, status, is_open, created, closed_event_id) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
	S(DISPUTE_CLOSE,
	    "UPDATE disputes SET status = ?, reason = COALESCE(?, reason), "
	    "is_open = 0, closed_event_id = ? WHERE id = ? AND is_open = 1"),
	S(DISPUTES_OPEN,
	    "SELECT id, status, reason, amount, currency, created "
	    "FROM disputes WHERE user_id = ? AND is_open = 1 ORDER BY created"),
	S(CUSTOMER_DELETED_INSERT,
	    "INSERT INTO customers_deleted (customer_id, user_id, event_id, "
	    "deleted_at) VALUES (?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE customer_id = customer_id"),
	S(CUSTOMER_DELETED_USER,
	    "SELECT user_id FROM customers_deleted WHERE customer_id = ?"),
	S(USER_CLEAR_CUSTOMER,
	    "UPDATE users SET stripe_customer_id = NULL WHERE id = ? "
	    "AND stripe_customer_id = ?"),
	/* Stripe cancels every subscription of a customer it deletes. */
	S(SUBS_CANCEL_BY_CUSTOMER,
	    "UPDATE subscriptions SET status = 'canceled', deleted = 1, "
	    "last_event_id = ?, last_event_created = ?, last_event_rank = 2 "
	    "WHERE customer_id = ? AND deleted = 0"),

	/* rating: periods, tier history, bills (docs/BILLING.md) */
	/* Locking the subscription serializes the rating of its periods. */
	S(RATING_SUB_LOCK,
	    "SELECT user_id, customer_id, deleted FROM subscriptions "
	    "WHERE id = ? FOR UPDATE"),
	S(RATING_SUB_GET,
	    "SELECT user_id, customer_id, deleted FROM subscriptions "
	    "WHERE id = ?"),
	S(RATING_HISTORY,
	    "SELECT tier, effective_at FROM tier_history "
	    "WHERE subscription_id = ? ORDER BY effective_at, event_rank, id"),
	S(RATING_HISTORY_INSERT,
	    "INSERT INTO tier_history (event_id, subscription_id, user_id, "
	    "tier, effective_at, event_rank) VALUES (?, ?, ?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE event_id = event_id"),
	S(RATING_PERIOD_INSERT,
	    "INSERT INTO billing_periods (subscription_id, period_start, "
	    "period_end, user_id) VALUES (?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE period_end = period_end"),
	/* The newest event's end of a period wins (a trial extended). */
	S(RATING_PERIOD_RESTATE,
	    "INSERT INTO billing_periods (subscription_id, period_start, "
	    "period_end, user_id) VALUES (?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE period_end = VALUES(period_end)"),
	/* The periods of a subscription that overlap [?, ?). */
	S(RATING_PERIODS,
	    "SELECT period_start, period_end FROM billing_periods "
	    "WHERE subscription_id = ? AND period_end > ? AND period_start < ? "
	    "ORDER BY period_start"),
	/*
	 * The stored period of a user's holding a moment: the latest begun
	 * at or before it (docs/BILLING.md, late usage), along
	 * billing_periods_user read backwards.
	 */
	S(BILLING_PERIOD_OF_USER_AT,
	    "SELECT period_start, period_end FROM billing_periods "
	    "WHERE user_id = ? AND period_start <= ? AND period_end > ? "
	    "ORDER BY period_start DESC LIMIT 1"),
	/*
	 * A user's usage in [?, ?) and the period whose bill covers each row
	 * (NULL: none yet).  The locking read keeps the range as read until
	 * the bill that covers it commits.  kind IN (...), every kind there
	 * is, as in USAGE_SUM: the period's range of usage_user_time is read
	 * (and locked), not the user's whole history.
	 */
	S(RATING_USAGE_LOCK,
	    "SELECT u.id, u.kind, u.quantity, u.occurred_at, "
	    "b.for_period_start FROM usage_events u "
	    "LEFT JOIN bill_usage b ON b.usage_id = u.id "
	    "WHERE u.user_id = ? AND u.kind IN ('voice', 'sms') "
	    "AND u.occurred_at >= ? AND u.occurred_at < ? "
	    "ORDER BY u.id FOR UPDATE"),
	S(RATING_USAGE,
	    "SELECT u.id, u.kind, u.quantity, u.occurred_at, "
	    "b.for_period_start FROM usage_events u "
	    "LEFT JOIN bill_usage b ON b.usage_id = u.id "
	    "WHERE u.user_id = ? AND u.kind IN ('voice', 'sms') "
	    "AND u.occurred_at >= ? AND u.occurred_at < ? "
	    "ORDER BY u.id"),
	S(RATING_PHONE_HELD,
	    "SELECT COUNT(*) FROM phone_numbers WHERE user_id = ? "
	    "AND held_from < ? AND (held_to IS NULL OR held_to > ?)"),
	S(BILL_GET,
	    "SELECT id FROM bills WHERE subscription_id = ? "
	    "AND period_start = ?"),
	S(BILL_INSERT,
	    "INSERT INTO bills (user_id, subscription_id, customer_id, kind, "
	    "period_start, period_end, usage_end, invoice_id, computation) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
	S(BILL_LINE_INSERT,
	    "INSERT INTO bill_lines (bill_id, kind, quantity, unit_decimal, "
	    "amount_cents, description) VALUES (?, ?, ?, ?, ?, ?)"),
	/*
	 * Covers the rows a bill rated, by id (1, 2, 4, 8 or 16 an
	 * execution, db_exec_rows()): never by a range, which would take a
	 * row committed after the rating's read (READ COMMITTED).  A row
	 * covered already is left to its bill; the count says so.
	 */
	S_ROWS(BILL_COVER, BILL_COVER_INTO, BILL_COVER_ROW, BILL_COVER_DUP),
	S(BILL_BY_ID,
	    "SELECT id, user_id, subscription_id, customer_id, kind, "
	    "period_start, period_end, usage_end, invoice_id, "
	    "oneoff_invoice_id, state FROM bills WHERE id = ?"),
	S(BILL_LINES,
	    "SELECT kind, quantity, unit_decimal, amount_cents, description, "
	    "target, stripe_item_id FROM bill_lines WHERE bill_id = ? "
	    "ORDER BY FIELD(kind, 'voice', 'sms', 'phone', 'voice_adjust', "
	    "'sms_adjust')"),
	/*
	 * From the target this run read to the next: a run of the same job
	 * that changed it meanwhile (a lease that ran out) wins, and this one
	 * stops, so one line never goes under two keys.
	 */
	S(BILL_LINE_TARGET,
	    "UPDATE bill_lines SET target = ? WHERE bill_id = ? AND kind = ? "
	    "AND stripe_item_id IS NULL AND target <=> ?"),
	S(BILL_LINE_POSTED,
	    "UPDATE bill_lines SET stripe_item_id = ?, "
	    "posted_at = CURRENT_TIMESTAMP(6) WHERE bill_id = ? AND kind = ?"),
	/*
	 * The lines other bills of a subscription posted as pending items,
	 * newest first, for its last bill's one-off invoice
	 * (BILL_LINES_PENDING_MAX).
	 */
	S(BILL_LINES_PENDING,
	    "SELECT l.bill_id, l.kind, l.stripe_item_id FROM bills b "
	    "JOIN bill_lines l ON l.bill_id = b.id "
	    "WHERE b.subscription_id = ? AND b.id <> ? "
	    "AND l.target = 'pending' AND l.stripe_item_id IS NOT NULL "
	    "ORDER BY b.period_start DESC, l.kind LIMIT 32"),
	S(BILL_SET_ONEOFF,
	    "UPDATE bills SET oneoff_invoice_id = ? WHERE id = ? "
	    "AND oneoff_invoice_id IS NULL"),
	S(BILL_POSTED,
	    "UPDATE bills SET state = 'posted', "
	    "posted_at = CURRENT_TIMESTAMP(6) WHERE id = ?"),
	S(BILLS_OF_USER,
	    "SELECT id, subscription_id, kind, period_start, period_end, "
	    "usage_end, invoice_id, oneoff_invoice_id, state, computation "
	    "FROM bills WHERE user_id = ? AND (? = 0 OR period_start = ?) "
	    "ORDER BY period_start DESC, id DESC LIMIT 100"),
	/* One row, then 2, 4, 8 and 16 (db_exec_rows()). */
	S(UNMATCHED_INSERT, UNMATCHED_INSERT_INTO UNMATCHED_ROW UNMATCHED_DUP),
	S_ROWS_2_16(UNMATCHED_INSERT, UNMATCHED_INSERT_INTO, UNMATCHED_ROW,
	    UNMATCHED_DUP),
	/*
	 * A page of a customer's list after the event (created, event_id)
	 * given, along unmatched_events_customer (its key ends with the
	 * primary key's event_id).
	 */
	S(UNMATCHED_OF_CUSTOMER,
	    "SELECT event_id, created FROM unmatched_events "
	    "WHERE customer_id = ? "
	    "AND (created > ? OR (created = ? AND event_id > ?)) "
	    "ORDER BY created, event_id LIMIT 1000"),
	S(UNMATCHED_ANY,
	    "SELECT 1 FROM unmatched_events WHERE customer_id = ? LIMIT 1"),
	S(UNMATCHED_DELETE,
	    "DELETE FROM unmatched_events WHERE event_id = ?"),
	/*
	 * The daily purge (jobs_purge(), domain/jobs.h): done jobs last
	 * changed more than ? days ago, oldest first along jobs_due, except
	 * those whose row is still a guard: invoice_items (its key marks a
	 * period posted by programs before the rating engine), and a notify
	 * job whose message is not recorded sent.
	 */
	S(JOBS_PURGE,
	    "DELETE FROM jobs WHERE state = 'done' "
	    "AND run_after < NOW(6) - INTERVAL ? DAY "
	    "AND updated_at < NOW(6) - INTERVAL ? DAY "
	    "AND kind <> 'invoice_items' "
	    "AND (kind <> 'notify' OR EXISTS (SELECT 1 FROM notifications n "
	    "WHERE n.dedupe_key = jobs.dedupe_key AND n.state = 'sent')) "
	    "ORDER BY run_after, id LIMIT ?"),
	S(JOB_KEY_EXISTS,
	    "SELECT 1 FROM jobs WHERE dedupe_key = ?"),
	/* A job due at a Unix time (the next daily reconcile). */
	S(JOB_ENQUEUE_AT,
	    "INSERT INTO jobs (kind, dedupe_key, user_id, payload, run_after) "
	    "VALUES (?, ?, ?, ?, FROM_UNIXTIME(?)) "
	    "ON DUPLICATE KEY UPDATE id = id"),
	/*
	 * Bills posted in the last 60 days not reconciled since ?: never
	 * checked first, then the longest since, so that a run stopped at
	 * the limit leaves the others first in line for the next.
	 */
	S(RECONCILE_DUE,
	    "SELECT id FROM bills WHERE state = 'posted' "
	    "AND posted_at > NOW(6) - INTERVAL 60 DAY "
	    "AND (reconciled_at IS NULL OR reconciled_at < ?) "
	    "ORDER BY reconciled_at, id LIMIT 500"),
	/* The rows of a period no bill covers: its range, as RATING_USAGE. */
	S(RECONCILE_UNBILLED,
	    "SELECT COUNT(*) FROM usage_events u "
	    "LEFT JOIN bill_usage c ON c.usage_id = u.id "
	    "WHERE u.user_id = ? AND u.kind IN ('voice', 'sms') "
	    "AND u.occurred_at >= ? AND u.occurred_at < ? "
	    "AND c.usage_id IS NULL"),
	S(RECONCILE_SET,
	    "UPDATE bills SET reconciled_at = ?, reconcile_state = ?, "
	    "reconcile_detail = LEFT(?, 512), unbilled_rows = ? WHERE id = ?"),
	/* A bill that could not be checked: its unbilled rows stay as known. */
	S(RECONCILE_ERROR,
	    "UPDATE bills SET reconciled_at = ?, reconcile_state = 'error', "
	    "reconcile_detail = LEFT(?, 512) WHERE id = ?"),
	/*
	 * Each on an index: bills waiting to post, mismatches, unbilled,
	 * bills the reconcile could not check.
	 */
	S(METRICS_BILLS,
	    "SELECT (SELECT COUNT(*) FROM bills WHERE state = 'rated'), "
	    "(SELECT COUNT(*) FROM bills WHERE reconcile_state = 'mismatch'), "
	    "(SELECT COALESCE(SUM(unbilled_rows), 0) FROM bills "
	    "WHERE unbilled_rows > 0), "
	    "(SELECT COUNT(*) FROM bills WHERE reconcile_state = 'error')"),
	/* least privilege: the admin audit trail, usage caps */
	S(ADMIN_AUDIT_INSERT,
	    "INSERT INTO admin_audit (at, actor, actor_key, action, target, "
	    "outcome, status, detail, remote_addr, forwarded_for, request_id) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
	/*
	 * A page's place: the time of the row a previous page ended at (or
	 * of the nearest row below that id).
	 */
	S(ADMIN_AUDIT_CURSOR,
	    "SELECT at FROM admin_audit WHERE id <= ? ORDER BY id DESC LIMIT 1"),
	/*
	 * Newest first in (at, id) order, in [since, until) and after the
	 * page's place (at, id); an empty actor or action matches all.
	 * Along admin_audit_at, or admin_audit_actor, admin_audit_action or
	 * admin_audit_actor_action with filters (sql/018, 022): a page reads
	 * its own rows, whatever the window.
	 */
	S(ADMIN_AUDIT_LIST,
	    "SELECT id, at, actor, actor_key, action, target, outcome, status, "
	    "detail, remote_addr, forwarded_for, request_id FROM admin_audit "
	    "WHERE at >= ? AND at < ? AND (at < ? OR (at = ? AND id < ?)) "
	    "AND (? = '' OR actor = ?) AND (? = '' OR action = ?) "
	    "ORDER BY at DESC, id DESC LIMIT ?"),
	/* A user's total of one kind in a period (index usage_user_time). */
	/*
	 * As the bill counts it: a call by its started minutes (in seconds,
	 * the cap's unit), anything else by its quantity.
	 */
	S(USAGE_KIND_SUM,
	    "SELECT COALESCE(SUM(IF(kind = 'voice', (quantity + 59) DIV 60 * 60, "
	    "quantity)), 0) FROM usage_events "
	    "WHERE user_id = ? AND kind = ? AND occurred_at >= ? "
	    "AND occurred_at < ?"),
	/*
	 * perf: the worker claims several jobs per transaction.  Each pick
	 * reads one index in its order (jobs_lease, jobs_due: the id is the
	 * last column of both), so its cost is the rows it takes, not the
	 * length of the queue (an OR of the two states sorted every due row).
	 */
	S(JOB_CLAIM_EXPIRED_N,
	    "SELECT id, kind, dedupe_key, user_id, payload, attempts, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), expiries, locked_by "
	    "FROM jobs WHERE state = 'running' AND lease_until < NOW(6) "
	    "AND FIND_IN_SET(kind, ?) > 0 "
	    "ORDER BY lease_until, id LIMIT ? FOR UPDATE SKIP LOCKED"),
	S(JOB_CLAIM_DUE_N,
	    "SELECT id, kind, dedupe_key, user_id, payload, attempts, "
	    "FLOOR(UNIX_TIMESTAMP(created_at)), expiries, locked_by "
	    "FROM jobs WHERE state = 'pending' AND run_after <= NOW(6) "
	    "AND FIND_IN_SET(kind, ?) > 0 "
	    "ORDER BY run_after, id LIMIT ? FOR UPDATE SKIP LOCKED"),
	/*
	 * The ids of a batch as a JSON array ("[4,7,9]"), read first
	 * (STRAIGHT_JOIN), each row then found by its primary key.
	 */
	S(JOB_CLAIM_MARK_N,
	    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) AS j "
	    "STRAIGHT_JOIN jobs ON jobs.id = j.id "
	    "SET jobs.state = 'running', jobs.attempts = jobs.attempts + 1, "
	    "jobs.lease_until = NOW(6) + INTERVAL ? SECOND, jobs.locked_by = ?"),
	/*
	 * The same for jobs picked with their lease expired, one expiry
	 * more.  A statement of its own, not MARK_N adding one when the row
	 * was running: a multi-table UPDATE assigns in no defined order, so
	 * no assignment may read a column another one sets (state).
	 */
	S(JOB_CLAIM_MARK_EXPIRED_N,
	    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) AS j "
	    "STRAIGHT_JOIN jobs ON jobs.id = j.id "
	    "SET jobs.state = 'running', jobs.attempts = jobs.attempts + 1, "
	    "jobs.expiries = jobs.expiries + 1, "
	    "jobs.lease_until = NOW(6) + INTERVAL ? SECOND, jobs.locked_by = ?"),
	/*
	 * A job picked with its lease expired once too often: dead, not run
	 * (its row locked by the pick, in the claim's transaction).
	 */
	S(JOB_EXPIRED_DEAD,
	    "UPDATE jobs SET state = 'dead', expiries = expiries + 1, "
	    "run_after = NOW(6), lease_until = NULL, "
	    "last_error = LEFT(?, 1000) WHERE id = ? AND state = 'running'"),
	/*
	 * The leases of jobs still running, renewed by their claim: the
	 * worker and the attempt it made, as pairs ("[[4,1],[7,3]]").
	 */
	S(JOB_EXTEND_N,
	    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$[0]', "
	    "attempt INT PATH '$[1]')) AS j "
	    "STRAIGHT_JOIN jobs ON jobs.id = j.id "
	    "SET jobs.lease_until = NOW(6) + INTERVAL ? SECOND "
	    "WHERE jobs.attempts = j.attempt AND jobs.locked_by = ? "
	    "AND jobs.state = 'running'"),
	/* Jobs done, by their claim (as JOB_EXTEND_N). */
	S(JOB_DONE_N,
	    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$[0]', "
	    "attempt INT PATH '$[1]')) AS j "
	    "STRAIGHT_JOIN jobs ON jobs.id = j.id "
	    "SET jobs.state = 'done', jobs.result = NULL, "
	    "jobs.lease_until = NULL, jobs.last_error = NULL "
	    "WHERE jobs.attempts = j.attempt AND jobs.locked_by = ? "
	    "AND jobs.state = 'running'"),
	/* phone (#16): async provisioning, grace, preferences, admin list */
	/* A claim that failed for good: the reason stays for the user. */
	S(PHONE_FAIL,
	    "UPDATE users SET phone_status = 'none', "
	    "phone_provisioned_at = NULL, phone_error = ? WHERE id = ? "
	    "AND phone_status = 'provisioning' AND phone_provisioned_at = ? "
	    "AND phone_number IS NULL"),
	S(PHONE_SET_ERROR,
	    "UPDATE users SET phone_error = ? WHERE id = ? "
	    "AND phone_number IS NULL"),
	/* A grace already running keeps its end: a second lapse adds none. */
	S(PHONE_GRACE_START,
	    "UPDATE users SET phone_grace_until = COALESCE(phone_grace_until, "
	    "?) WHERE id = ? AND phone_sid IS NOT NULL"),
	S(PHONE_GRACE_END,
	    "UPDATE users SET phone_grace_until = NULL WHERE id = ? "
	    "AND phone_grace_until IS NOT NULL"),
	/*
	 * The grace's end and the seconds left of it by the database's
	 * clock (the one the grace job's due time is read by), NULL none.
	 */
	S(PHONE_GRACE_LEFT,
	    "SELECT phone_grace_until, phone_grace_until - UNIX_TIMESTAMP() "
	    "FROM users WHERE id = ?"),
	S(PHONE_SEARCH_SET,
	    "UPDATE users SET phone_search = ? WHERE id = ?"),
	/*
	 * Every number held, in grace or released, one page after the id
	 * given (only those held when the second argument is 1); u is the
	 * user while they still hold it.
	 */
	S(PHONE_ADMIN_NUMBERS,
	    "SELECT p.id, p.user_id, p.phone_number, p.phone_sid, "
	    "p.held_from, p.held_to, u.phone_grace_until FROM phone_numbers p "
	    "LEFT JOIN users u ON u.id = p.user_id AND u.phone_sid = p.phone_sid "
	    "WHERE p.id > ? AND (? = 0 OR p.held_to IS NULL) "
	    "ORDER BY p.id LIMIT ?"),
};

const char *
stmt_sql(enum stmt s)
{
	if ((unsigned)s >= STMT__MAX)
		return NULL;
	return stmts[s].sql;
}

const char *
stmt_name(enum stmt s)
{
	if ((unsigned)s >= STMT__MAX || stmts[s].name == NULL)
		return "?";
	return stmts[s].name;
}

/* stmt_sql() by number, for struct db_stmts. */
static const char *
stmt_table_sql(unsigned int i)
{
	return stmt_sql((enum stmt)i);
}

/* stmt_name() by number, for struct db_stmts. */
static const char *
stmt_table_name(unsigned int i)
{
	return stmt_name((enum stmt)i);
}

const struct db_stmts *
stmt_table(void)
{
	static const struct db_stmts table = {
		STMT__MAX, STMT_PING, STMT_HEALTH, stmt_table_sql,
		stmt_table_name
	};

	return &table;
}
