/*
 * events: a Stripe event as the appliers see it, and the reads every
 * applier shares: finding (and locking) the user an event is about, the
 * read-ahead of a batch's users, and the rows an event writes whatever its
 * type (billing_events, jobs, notifications).
 *
 * Ownership: struct events_ev belongs to its caller (on its stack); its
 * strings are borrowed from root, which events_parse makes and
 * events_free puts, and from payload, the caller's body, which must
 * outlive it.  A struct events_pre belongs to the batch that reads it
 * ahead (domain/evstore.c); an event borrows it through ev->pre while its
 * effects run.
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"
#include "store/unmatched_events.h"

struct cfg;
struct db;
struct json_object;
struct apply_type;
struct users_lock_row;

/* One event being applied. Strings are borrowed from root. */
struct events_ev {
	const struct cfg	*cfg;
	struct db		*db;
	struct json_object	*root;
	struct json_object	*obj;		/* data.object */
	const char		*id;
	const char		*type;
	int64_t			 created;
	const char		*api_version;	/* NULL: absent or too long */
	const char		*object_id;	/* data.object.id, or NULL */
	int			 livemode;
	/* The type's row (apply_lookup), set by evstore; NULL: ignored. */
	const struct apply_type	*t;
	const char		*payload;	/* the raw body, stored as is */
	size_t			 len;
	const char		*status;	/* outcome, static */
	char			 err[256];	/* why an effect failed */

	struct events_pre	*pre;		/* users read ahead, or NULL */

	/* The user, once events_user() has locked the row ("" before). */
	char			 user_id[65];
	char			 user_tier[33];
	char			 user_sub[256];	/* "" when none */
	int			 user_has_phone;
};

/*
 * The users of a batch's customers, read (and locked) in one statement per
 * USERS_LOCK_IDS customers (store/users.h) before the batch's effects run,
 * as typed rows (rows, nrows of them, allocated by events_pre_read).  A
 * row answers events_user() once: after an event of the batch has had its
 * user, that user is read again (an effect may have changed the row).  A
 * customer asked for and not found is a trusted miss until an effect links
 * a customer (valid is cleared).  The batch's unmatched events are kept
 * in unmatched (borrowing the events' strings) and written with its rows
 * (events_pre_write()).  The events applied so far are kept in applied
 * (their rows are written at the batch's end).  Zeroed before use;
 * events_pre_free frees what events_pre_read read.
 */
#define EVENTS_BATCH_LIMIT	256	/* most events in a batch */
/*
 * Seconds after a customer is linked when its unmatched events are looked
 * at again (a replay_unmatched job): longer than any commit of a batch
 * that stored one of them unmatched meanwhile (lock waits included).
 */
#define EVENTS_RELINK_CHECK_S	300

struct events_pre {
	const char	*asked[EVENTS_BATCH_LIMIT];	/* from the events */
	size_t		 nasked;
	struct users_lock_row *rows;			/* their users */
	size_t		 nrows;
	char		 touched[EVENTS_BATCH_LIMIT][65]; /* users given */
	size_t		 ntouched;
	int		 valid;
	struct unmatched_events_row unmatched[EVENTS_BATCH_LIMIT];
	size_t		 nunmatched;
	/* The batch's events whose effects ran, in order (borrowed). */
	const struct events_ev *applied[EVENTS_BATCH_LIMIT];
	size_t		 napplied;
};

/*
 * The event id if it is one applied earlier in ev's batch (ev->pre), else
 * NULL (no batch, or not there): such an event is not stored until its
 * batch ends.
 */
const struct events_ev *events_applied(const struct events_ev *ev,
		    const char *id);

/*
 * Parses and checks a delivery's body into ev (root, id, type, ...; t is
 * left NULL).  XERR_BADREQ with errbuf set when it is not an event we can
 * store.  The caller calls events_free(ev) in every case.
 */
enum xerr	 events_parse(struct events_ev *ev, const struct cfg *cfg,
		    const char *payload, size_t len, char *errbuf,
		    size_t errsz);

/* Puts what events_parse made. */
void		 events_free(struct events_ev *ev);

/*
 * Notes why an effect failed (in ev->err, scrubbed to UTF-8); returns rc
 * for `return events_fail(...)`.
 */
enum xerr	 events_fail(struct events_ev *ev, enum xerr rc,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Finds and locks the user the event is about: by Stripe customer id, else
 * by the user id we put in metadata (or client_reference_id), linking the
 * customer to a user who has none.  XERR_NOTFOUND when no user matches,
 * with ev->user_id still "": an applier returns it as is, and the event
 * is "unmatched" (domain/apply.h).
 */
enum xerr	 events_user(struct events_ev *ev, const char *customer,
		    const char *user_id);

/*
 * Writes the billing_events row of kind, once per kind and subject: the
 * event, or (subject not NULL) what several events may name, such as an
 * invoice that both invoice.paid and invoice.payment_succeeded report.
 */
enum xerr	 events_bevent(struct events_ev *ev, const char *subject,
		    const char *kind, const int64_t *amount,
		    const char *detail);

/*
 * Enqueues a side effect of kind, once per (kind, subject): the subject is
 * what the effect is about, or the event when NULL, so a redelivered or
 * replayed event finds its job already there.  payload is borrowed.
 */
enum xerr	 events_job(struct events_ev *ev, const char *kind,
		    const char *subject, struct json_object *payload);

/* Enqueues the notification tmpl about this event, with fields (borrowed). */
enum xerr	 events_notify(struct events_ev *ev, const char *tmpl,
		    struct json_object *fields);

/* Enqueues a phone job (provision or release) for the user. */
enum xerr	 events_phone_job(struct events_ev *ev, const char *kind);

/* Notes the customer ev names, to be read ahead (a live event of a batch). */
void		 events_pre_add(struct events_pre *pre,
		    const struct events_ev *ev);

/* Reads ahead, and locks, the users of the customers added to pre. */
enum xerr	 events_pre_read(struct db *db, struct events_pre *pre);

/*
 * Keeps ev aside for customer until a user is linked to it (D5), or, for
 * an event that names no customer (a dispute), for its charge until the
 * charge is recorded: in the batch's list when ev is in a batch (written
 * by events_pre_write()), else at once.  Errors of
 * unmatched_events_insert().
 */
enum xerr	 events_keep_unmatched(struct events_ev *ev,
		    const char *customer);

/*
 * Queues the replay of the events kept unmatched under key (a customer
 * now linked to the event's user, or a charge now recorded for it:
 * docs/BILLING.md "Unmatched events"), if there are any: once per key; the
 * worker applies them in the order Stripe created them.
 */
enum xerr	 events_replay_job(struct events_ev *ev, const char *key);

/* Writes the unmatched events the batch kept (events_keep_unmatched()). */
enum xerr	 events_pre_write(struct db *db, struct events_pre *pre);

/* Frees what events_pre_read read. */
void		 events_pre_free(struct events_pre *pre);

#endif
