/*
 * admin: the operators' endpoints, /api/admin/... in xsb-billing.
 *
 * Every handler first requires an admin token (role admin, see auth.h):
 * 401 for a missing, bad or revoked token, 403 for a user or service
 * token, before anything else is read.  Replies are JSON; every change is
 * logged with the admin's user id.  Every request past that check leaves
 * one row in admin_audit (sql/011_audit.sql): who (token userId, key id),
 * what (action, target, outcome, status), when, from where; a change's row
 * is committed with the change where it is one transaction, a read's or
 * an outcome's before the reply (503 instead when it cannot be written).  docs/API.md describes requests and
 * replies, docs/OPERATIONS.md when to use them; scripts/xsb-admin wraps
 * them for a shell.
 *
 * Changes go through the code paths the system uses anyway: a replay or
 * a resync is an event run through evstore_apply() (same ordering rules,
 * same outbox), a retried job is claimed by the worker as any other.
 */
#ifndef ADMIN_H
#define ADMIN_H

struct req;

#define ADMIN_LIMIT_DEFAULT	50	/* rows of a list */
#define ADMIN_LIMIT_MAX		500
#define ADMIN_REPOINT_DEFAULT	20	/* numbers per repoint call */
#define ADMIN_REPOINT_MAX	100
#define ADMIN_TWILIO_PAGES	100	/* pages of 1000 numbers read at most */

/*
 * POST /api/admin/users {"id"?, "email", "tier"?}: creates a user (id a
 * fresh UUID when not given, tier ai_buddy by default).  201 the user;
 * 400 bad_json, bad_user_id, bad_email, bad_tier; 401; 403; 409
 * user_exists; 415; 503.
 */
void		 admin_user_create(struct req *r);

/*
 * GET /api/admin/users/<id>: the user's billing state: row,
 * subscriptions (the current one apart), last invoices, usage of the
 * current period, phone numbers held, last jobs.  200; 401; 403; 404
 * no_such_user; 500; 503.
 */
void		 admin_user_get(struct req *r);

/*
 * POST /api/admin/users/<id>/revoke-tokens: bumps jwt_version, so every
 * token issued before is refused (401 token_revoked).  200 the new
 * version; 401; 403; 404 no_such_user or an unknown action; 503.
 */
void		 admin_user_action(struct req *r);

/*
 * GET /api/admin/events?status=&limit=: stored Stripe events, newest
 * first, all or of one status (processed, ignored, unmatched, stale,
 * failed).  200; 400 bad_status, bad_limit; 401; 403; 503.
 */
void		 admin_events(struct req *r);

/*
 * POST /api/admin/events/<id>/replay: applies a stored unmatched or
 * failed event again (evstore_apply() with replay), e.g. once its user
 * exists, or an ignored one of a type this release acts on.  200 the
 * outcome; 401; 403; 404 no_such_event or an unknown action; 409
 * not_replayable (its status is final, or it is still ignored); 500
 * processing_failed (recorded as failed, with the reason); 503.
 */
void		 admin_event_action(struct req *r);

/*
 * GET /api/admin/jobs?state=&limit=: jobs of one state (pending,
 * running, dead, done; default dead), latest run_after first.  200; 400
 * bad_state, bad_limit; 401; 403; 503.
 */
void		 admin_jobs(struct req *r);

/*
 * POST /api/admin/jobs/<id>/retry: a dead (or waiting) job due now, with
 * its attempts reset to 0.  POST /api/admin/jobs/dead/retry?kind=: every
 * dead job (of one kind).  200; 400 bad_kind; 401; 403; 404 no_such_job
 * or an unknown action; 409 not_retryable (running or done); 503.
 */
void		 admin_job_action(struct req *r);

/*
 * POST /api/admin/subscriptions/<id>/resync: reads the subscription
 * from Stripe and applies it as a customer.subscription.updated event
 * with id resync_<id>_<unix time> and created now would be.  200 the
 * outcome; 401; 403; 404 no_such_subscription (at Stripe) or an unknown
 * action; 500; 502 stripe_error; 503.
 */
void		 admin_subscription_action(struct req *r);

/*
 * GET /api/admin/phone/orphans: every number of the Twilio account
 * beside users.phone_sid: numbers named "xsb..." that no user holds,
 * and users whose number Twilio no longer has.  Twilio's pages are read
 * while another still ends before nginx's 30 s (app/page.h); when the
 * last was not among them the answer is 200 with complete false: what
 * was read, users' numbers gone unknown (null).  200; 401; 403; 500
 * past ADMIN_TWILIO_PAGES; 502 twilio_error; 503.
 */
void		 admin_phone_orphans(struct req *r);

/*
 * GET /api/admin/phone/numbers?after=&limit=&held=1: the numbers we hold
 * or held (phone_api_admin_numbers() of app/phone_api.h says what), the
 * call recorded as phone.numbers before the answer.  200; 400; 401; 403;
 * 503.
 */
void		 admin_phone_numbers(struct req *r);

/*
 * POST /api/admin/phone/repoint?after=&limit=: points the VoiceUrl,
 * SmsUrl and StatusCallback of the numbers users hold at the current
 * PUBLIC_BASE_URL, one Twilio call each, limit users (ids after after)
 * per call; next_after continues.  200 with each number's outcome; 400
 * bad_after, bad_limit; 401; 403; 503.
 */
void		 admin_phone_repoint(struct req *r);

/*
 * GET /api/admin/audit?actor=&action=&since=&until=&before=&limit=: the
 * audit records, newest first: of one actor (token userId), one action,
 * at in [since, until) (unix seconds), ids below before (the next_before
 * of the previous page; null on the last).  200; 400 bad_actor,
 * bad_action, bad_since, bad_until, bad_before, bad_limit; 401; 403; 503.
 */
void		 admin_audit_list(struct req *r);

#endif
