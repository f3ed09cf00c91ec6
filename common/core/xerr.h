/*
 * xerr: the one error enum of the library.
 *
 * Every function of common/ that can fail returns an enum xerr; XERR_OK is 0
 * so callers write `if (rc) goto fail;`.  xerr_status() maps a code to the
 * HTTP status a handler answers, xerr_code() to the stable machine-readable
 * "code" string of the JSON error reply.
 */
#ifndef XERR_H
#define XERR_H

enum xerr {
	XERR_OK = 0,
	XERR_BADREQ,		/* 400 malformed input */
	XERR_UNAUTH,		/* 401 missing or bad credentials */
	XERR_FORBIDDEN,		/* 403 authenticated but not allowed */
	XERR_NOTFOUND,		/* 404 no such resource */
	XERR_METHOD,		/* 405 method not allowed on this path */
	XERR_CONFLICT,		/* 409 state conflict (already exists, same tier) */
	XERR_TOOMANY,		/* 429 a limit of the caller reached for now */
	XERR_TOOBIG,		/* 413 body over the cap */
	XERR_MEDIATYPE,		/* 415 wrong content type */
	XERR_UNPROCESSABLE,	/* 422 well-formed but semantically wrong */
	XERR_UPSTREAM,		/* 502 Stripe/Twilio/SMTP failed or answered badly */
	XERR_UNAVAILABLE,	/* 503 database down or read-only, shutting down */
	XERR_NOMEM,		/* 500 allocation failed */
	XERR_DB,		/* 500 database error */
	XERR_DB_GONE,		/* 503 connection to MariaDB lost */
	XERR_DUP,		/* 409 duplicate key (uniqueness violated) */
	XERR_DEADLOCK,		/* 503 the server aborted the transaction: retry */
	XERR_CONFIG,		/* bad configuration (start-up only) */
	XERR_INTERNAL,		/* 500 a bug: should not happen */
	XERR__MAX
};

/* Returns the HTTP status for rc (200 for XERR_OK). */
int		 xerr_status(enum xerr rc);

/* Returns the stable error code string for rc, e.g. "bad_request". Static. */
const char	*xerr_code(enum xerr rc);

/*
 * Returns 1 when rc says the database is away, busy or read-only
 * (XERR_DB_GONE, XERR_DEADLOCK, XERR_UNAVAILABLE): worth trying again, as
 * 503 with Retry-After.  Every other error, XERR_DB included, is not.
 */
int		 xerr_db_retry(enum xerr rc);

#endif
