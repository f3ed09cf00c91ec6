/*
 * notify: the e-mails of the billing moments that matter, sent by the
 * worker from `notify` jobs (see docs/NOTIFICATIONS.md).
 *
 * A cause (a webhook event, the phone code) enqueues a job of kind notify
 * whose payload names a template and carries its fields; the worker's
 * runner (worker_notify() in app/worker.c) renders the template with
 * notify_render(), addresses it to the user's current e-mail, puts it
 * together with notify_message() and hands it to the relay
 * (remote/smtp.h).  The templates live in one table in notify.c: a
 * subject and a plain-text body with {{field}} tags, amounts
 * given in integer cents ({{x|money}}), dates in Unix seconds shown in UTC
 * ({{x|date}}: "24 November 2026"), and {{#x}}...{{/x}} / {{^x}}...{{/x}}
 * sections kept only when field x is present / absent.
 *
 * Exactly once: each message has a row in `notifications` keyed by the
 * job's dedupe key and a Message-ID derived from that key.  A job that
 * finds its row `sent` is done without sending.  The one window left is a
 * crash between the relay's final 250 and the write of `sent`: the message
 * is then sent again, with the same Message-ID.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/xerr.h"

#define NOTIFY_MSGID_DOMAIN	"xswarm-billing"
/* "<" 64 hex "@xswarm-billing" ">" NUL */
#define NOTIFY_MSGID_SIZE	(1 + 64 + 1 + sizeof(NOTIFY_MSGID_DOMAIN) + 1)
#define NOTIFY_DATE_SIZE	40
#define NOTIFY_FIELD_MAX	512	/* bytes of one field's value */
#define NOTIFY_MESSAGE_MAX	(64 * 1024)	/* bytes of a whole message */

/* A rendered message: both strings are the caller's (notify_text_clear()). */
struct notify_text {
	char	*subject;	/* UTF-8, one line, not yet header-encoded */
	char	*body;		/* UTF-8, CRLF line ends, ends with CRLF */
};

/* What notify_message() puts together. Every string is borrowed. */
struct notify_mail {
	const char	*from;		/* SMTP_FROM: "Name <a@b>" or "a@b" */
	const char	*to;		/* the recipient's address */
	const char	*subject;	/* UTF-8 */
	const char	*body;		/* CRLF lines, as notify_render() makes */
	const char	*message_id;	/* "<...>", notify_message_id() */
	int64_t		 date;		/* Unix seconds, for the Date header */
};

/* Returns 1 when tmpl names a template of the table, else 0. */
int		 notify_template_known(const char *tmpl);

/*
 * Renders template tmpl with fields (borrowed; the job's payload).  Besides
 * the payload's fields a template may use app_url (app_url without a
 * trailing '/'), billing_url (app_url + "/billing") and update_url (the
 * payload's hosted_invoice_url when it is an https URL, else billing_url).
 * On success *out holds the subject and body (release with
 * notify_text_clear()).  XERR_UNPROCESSABLE for an unknown template, or a
 * field that is missing, of the wrong type, longer than NOTIFY_FIELD_MAX,
 * not UTF-8 or holding a control character; XERR_INTERNAL for a template
 * that does not parse; XERR_NOMEM.  err names the template and the field
 * on failure; *out is cleared on entry.
 */
enum xerr	 notify_render(const char *tmpl, struct json_object *fields,
		    const char *app_url, struct notify_text *out, char *err,
		    size_t errsz);

/* Frees what notify_render() put in t and zeroes it. NULL is a no-op. */
void		 notify_text_clear(struct notify_text *t);

/*
 * Writes t (Unix seconds) as a UTC date for people, "24 November 2026", to
 * out.  XERR_BADREQ for a time before 1970 or after 9999, or an outsz too
 * small; out is "" then.
 */
enum xerr	 notify_date(int64_t t, char *out, size_t outsz);

/*
 * Writes t as an RFC 5322 date-time in UTC, "Tue, 24 Nov 2026 19:53:14
 * +0000", to out.  XERR_BADREQ as for notify_date().
 */
enum xerr	 notify_rfc5322_date(int64_t t, char *out, size_t outsz);

/*
 * Writes the Message-ID of the message of dedupe key key to out:
 * "<" lowercase hex SHA-256 of key "@xswarm-billing>".  The same key always
 * gives the same id, so a message sent twice can be recognised.
 */
void		 notify_message_id(const char *key,
		    char out[NOTIFY_MSGID_SIZE]);

/*
 * Appends the header "name: value" CRLF to out.  A value of printable
 * ASCII is written as it is; any other is written as RFC 2047 encoded
 * words (=?utf-8?B?...?=) of whole UTF-8 characters, at most 75 characters
 * each, folded one per line.  XERR_BADREQ for a value holding CR or LF or
 * one that is not UTF-8; errors of buf_append().
 */
enum xerr	 notify_header(struct buf *out, const char *name,
		    const char *value);

/*
 * Puts the whole message of m together in out (emptied first): Date,
 * From (a non-ASCII display name encoded), To, Subject (encoded when not
 * ASCII), Message-ID, MIME-Version, Content-Type text/plain; charset=utf-8,
 * Content-Transfer-Encoding 8bit, Auto-Submitted, a blank line, the body;
 * CRLF line ends.  Dot-stuffing is left to the SMTP transport.
 * XERR_BADREQ for a header value holding CR or LF, a To that is no
 * address, a body not ending in CRLF; errors of buf_append().
 */
enum xerr	 notify_message(const struct notify_mail *m, struct buf *out);

#endif
