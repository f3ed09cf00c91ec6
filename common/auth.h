/*
 * auth: who is calling an API endpoint.
 *
 * An API call carries "Authorization: Bearer <JWT>" (HS256, see jwt.h).
 * Beyond the token's own checks, its jwtVersion must equal the user's
 * jwt_version in the database, so bumping that column revokes every token
 * issued before.
 */
#ifndef AUTH_H
#define AUTH_H

struct req;

enum auth_need {
	AUTH_USER,	/* any valid token of an existing user */
	AUTH_SERVICE,	/* role service or admin (the app reporting usage) */
	AUTH_ADMIN,	/* role admin */
};

/*
 * Authenticates r.  On success fills r->user_id and r->role and returns 0.
 * Otherwise it has answered (401 for a missing, malformed, forged,
 * expired, revoked token or an unknown user; 403 when the role is not
 * enough; 503 when the database does not answer) and returns -1: the
 * caller only returns.
 */
int		 auth_require_or_reply(struct req *r, enum auth_need need);

#endif
