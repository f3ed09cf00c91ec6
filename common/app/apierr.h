/*
 * apierr: the one way an API handler turns an enum xerr into its error
 * reply.
 *
 * Each API keeps, beside its handlers, tables of what the errors of a
 * domain call mean to its clients: the HTTP status, the stable "code" of
 * {"error":{"code","message"}} (docs/API.md and the tests name them), and
 * a message.  apierr_reply() looks err up and answers through
 * req_error_status(), so no handler writes its own switch of statuses.
 * Tables are static, owned by the API's file, and end with a row whose
 * err is XERR_OK.
 */
#ifndef APIERR_H
#define APIERR_H

#include <stddef.h>

#include "core/req.h"
#include "core/xerr.h"

/* A row's err that matches every error no earlier row names. */
#define APIERR_ANY	XERR__MAX

/* One row: what err means to a client. */
struct apierr {
	enum xerr	 err;		/* what the call returned; XERR_OK ends */
	int		 status;	/* 0: xerr_status() of what was returned */
	const char	*code;		/* NULL: xerr_code() of it */
	/*
	 * NULL: the caller's detail.  Otherwise the message, where one "%s"
	 * (if any) stands for the detail; no other '%' is read.
	 */
	const char	*message;
	/*
	 * Extra headers of the reply (each "Name: value\r\n", such as a
	 * Retry-After), or NULL: none.
	 */
	const char	*extra;
};

/*
 * Resolves err by table (NULL: no rows) into *out: the first row whose
 * err is err or APIERR_ANY, with its defaults filled in (out->err is err,
 * status and code), or, when none is, err's own status and code with
 * message NULL; but a database away, busy or read-only (XERR_DB_GONE,
 * XERR_DEADLOCK, XERR_UNAVAILABLE) that no row names is 503
 * database_unavailable with Retry-After, as req_fail() answers it.
 */
void		 apierr_find(const struct apierr *table, enum xerr err,
		    struct apierr *out);

/*
 * Writes the message of *e for detail (NULL: "") into buf (sz bytes,
 * cut to fit): e->message with its "%s" replaced by detail, or detail.
 */
void		 apierr_message(const struct apierr *e, const char *detail,
		    char *buf, size_t sz);

/*
 * Answers r with the error reply of err by table (apierr_find(),
 * apierr_message()), with the row's extra headers.  detail says what failed, for the message; it must
 * hold no secret.
 */
void		 apierr_reply(struct req *r, const struct apierr *table,
		    enum xerr err, const char *detail);

#endif
