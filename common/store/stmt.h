/*
 * stmt: every SQL statement of the project, in one table (stmt.c), named by
 * this enum.  All are `?`-parameterized; none is ever built with string
 * formatting.  Keep the enum and the table in the same order; sections by
 * area.
 */
#ifndef STMT_H
#define STMT_H

struct db_stmts;

enum stmt {
	/* health */
	STMT_PING,
	STMT_HEALTH,

	/* users */
	STMT_USER_GET,
	STMT_USER_GET_BY_CUSTOMER,
	STMT_USER_INSERT,
	STMT_USER_JWT_VERSION,
	STMT_USER_LOCK,
	STMT_USER_LOCK_BY_CUSTOMER,
	STMT_USER_LOCK_BY_CUSTOMER_16,
	STMT_USER_SET_CUSTOMER,
	STMT_USER_SET_SUBSCRIPTION,
	STMT_USER_SET_TRIAL_END,
	STMT_USER_SET_CYCLE,

	/* stripe events */
	STMT_EVENT_STATUS,
	STMT_EVENT_STATUS_16,
	STMT_EVENT_LOCK,
	STMT_EVENT_INSERT,
	STMT_EVENT_FINISH,
	STMT_EVENT_FAIL,

	/* subscriptions */
	STMT_SUB_LOCK,
	STMT_SUB_UPSERT,

	/* invoices and billing events */
	STMT_INVOICE_LOCK,
	STMT_INVOICE_UPSERT,
	STMT_BEVENT_INSERT,

	/* usage */
	STMT_USAGE_INSERT,
	STMT_USAGE_BY_KEY,
	STMT_USAGE_SUM,
	STMT_TIERS_ALL,

	/* phone */
	STMT_PHONE_USER_GET,
	STMT_PHONE_CLAIM,
	STMT_PHONE_UNCLAIM,
	STMT_PHONE_ACTIVATE,
	STMT_PHONE_HISTORY_OPEN,
	STMT_PHONE_CLEAR,
	STMT_PHONE_HISTORY_CLOSE,
	STMT_CALL_EVENT_INSERT,

	/* jobs */
	STMT_JOB_ENQUEUE,
	STMT_JOB_CLAIM_PICK,
	STMT_JOB_CLAIM_MARK,
	STMT_JOB_DONE,
	STMT_JOB_FAIL,

	/* notifications */
	STMT_NOTIFY_USER,
	STMT_NOTIFY_GET,
	STMT_NOTIFY_BEGIN,
	STMT_NOTIFY_SENT,
	STMT_NOTIFY_FAIL,

	/* billing api */
	STMT_BILLING_USER,
	STMT_BILLING_INVOICES,
	STMT_BILLING_EVENTS,

	/* admin */
	STMT_ADMIN_USER_SUBS,
	STMT_ADMIN_USER_JOBS,
	STMT_ADMIN_USER_PHONES,
	STMT_ADMIN_USER_REVOKE,
	STMT_ADMIN_EVENTS_RECENT,
	STMT_ADMIN_EVENTS_BY_STATUS,
	STMT_ADMIN_EVENT_GET,
	STMT_ADMIN_JOBS_BY_STATE,
	STMT_ADMIN_JOB_STATE,
	STMT_ADMIN_JOB_RETRY,
	STMT_ADMIN_JOBS_RETRY_DEAD,
	STMT_ADMIN_SUB_GET,
	STMT_ADMIN_PHONES_HELD,
	STMT_ADMIN_PHONES_PAGE,

	/* metrics */
	STMT_METRICS_EVENTS,
	STMT_METRICS_JOBS,
	STMT_METRICS_NOTIFICATIONS,

	/* payments: charges, refunds, disputes, deleted customers */
	STMT_CHARGE_UPSERT,
	STMT_CHARGE_USER,
	STMT_DISPUTE_LOCK,
	STMT_DISPUTE_INSERT,
	STMT_DISPUTE_CLOSE,
	STMT_DISPUTES_OPEN,
	STMT_CUSTOMER_DELETED_INSERT,
	STMT_CUSTOMER_DELETED_USER,
	STMT_USER_CLEAR_CUSTOMER,
	STMT_SUBS_CANCEL_BY_CUSTOMER,

	/* phone (#16): async provisioning, grace, preferences, admin list */
	STMT_PHONE_FAIL,
	STMT_PHONE_SET_ERROR,
	STMT_PHONE_JOB_ENQUEUE_AT,
	STMT_PHONE_GRACE_START,
	STMT_PHONE_GRACE_END,
	STMT_PHONE_SEARCH_SET,
	STMT_PHONE_ADMIN_NUMBERS,

	STMT__MAX
};

/* Returns the SQL text of s (static). */
const char	*stmt_sql(enum stmt s);

/* Returns the enum name of s without the prefix, for logs (static). */
const char	*stmt_name(enum stmt s);

/*
 * Returns the table every database handle is opened with (db_open() of
 * core/db.h): these statements, numbered by enum stmt (static).
 */
const struct db_stmts *stmt_table(void);

#endif
