/*
 * auth: who is calling an API endpoint.
 *
 * An API call carries "Authorization: Bearer <JWT>" (see core/jwt.h): a
 * user token (HS256 under JWT_SECRET), or an admin or service token (EdDSA
 * under ADMIN_JWT_PUBLIC_KEYS or SERVICE_JWT_PUBLIC_KEYS, each with its own
 * audience and maximum lifetime).  Beyond a user token's own checks, its
 * jwtVersion must equal the user's jwt_version in the database, so bumping
 * that column revokes every token issued before.  Admin and service tokens
 * need no user row: they are revoked by rotating their keys, and, when
 * they carry a jwtVersion and their userId names a row, by that row's
 * jwt_version too.
 */
#ifndef AUTH_H
#define AUTH_H

#include "core/xerr.h"

struct req;

enum auth_need {
	AUTH_USER,	/* a valid user token of an existing user */
	AUTH_SERVICE,	/* role service or admin (the app reporting usage) */
	AUTH_ADMIN,	/* role admin */
};

/*
 * Authenticates r.  On success fills r->user_id, r->role and r->key_id
 * and returns 0.
 * Otherwise it has answered (401 for a missing, malformed, forged,
 * expired, revoked token or an unknown user; 403 when the token is of
 * another kind than need; 429 rate_limited with Retry-After when a user
 * token's user has spent its allowance of requests a minute to the
 * billing or the phone API, per r->path (core/ratelimit.h); 503 with
 * Retry-After when the database does not answer) and
 * returns -1: the
 * caller only returns.
 */
int		 auth_require_or_reply(struct req *r, enum auth_need need);

/*
 * For a caller that reads the user's row anyway (AUTH_USER): verifies the
 * token without the database, fills r->user_id and r->role, and sets
 * *version to the token's jwtVersion; returns 0, or -1 after a 401 (a 403
 * for an admin or service token).  The caller then passes the row's
 * jwt_version (-1 for no row) and *version to
 * auth_user_version_or_reply(), which answers 401 (unknown user, revoked)
 * as auth_require_or_reply() would, then takes the user's rate (429 as
 * above) and returns -1 after answering, else 0: a revoked token spends
 * nothing of its user's allowance.  auth_version_or_reply() is the check
 * alone.
 */
int		 auth_user_token_or_reply(struct req *r, long long *version);
int		 auth_user_version_or_reply(struct req *r, long long version,
		    long long want);
int		 auth_version_or_reply(struct req *r, long long version,
		    long long want);

/*
 * Answers that the token's row could not be read (the database's error
 * rc) as req_fail() does: 503 database_unavailable with Retry-After when
 * the database is away or busy, else 500.  Returns -1.
 */
int		 auth_db_or_reply(struct req *r, enum xerr rc);

#endif
