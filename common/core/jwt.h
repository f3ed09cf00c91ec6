/*
 * jwt: HS256 JSON Web Tokens (RFC 7519) as the xswarm apps issue them.
 *
 * Only HS256 exists here: the algorithm is fixed by the server, never taken
 * from the token, so "none", "HS512" or an RSA key confusion cannot be
 * forced on us.  The signature is checked, in constant time, before any
 * byte of the payload is parsed.
 */
#ifndef JWT_H
#define JWT_H

#include <stddef.h>

#include "core/xerr.h"

#define JWT_MAX_TOKEN	4096	/* longer tokens are refused unread */
#define JWT_LEEWAY	30	/* seconds of clock skew allowed on exp, nbf */
#define JWT_USER_ID_MAX	64

enum jwt_role {
	JWT_ROLE_USER,
	JWT_ROLE_ADMIN,
	JWT_ROLE_SERVICE
};

struct jwt_claims {
	char		 user_id[JWT_USER_ID_MAX + 1];	/* "userId" */
	long long	 jwt_version;	/* "jwtVersion", >= 1 */
	enum jwt_role	 role;		/* "role", user when absent */
	long long	 iat, nbf, exp;	/* 0 when absent (iat, nbf) */
};

/*
 * Verifies token at time now (Unix seconds) against secret, issuer and
 * audience.  The token must be three base64url segments without padding;
 * the header must say "alg":"HS256" and, if it has "typ", "JWT"; the
 * payload must hold a numeric "exp" with now < exp + JWT_LEEWAY, if it
 * has "nbf" now >= nbf - JWT_LEEWAY, "iss" equal to issuer, "aud" equal to
 * audience or an array containing it, "userId" of 1 to 64 characters from
 * [A-Za-z0-9_-], an integer "jwtVersion" >= 1 and, optionally, "role" one
 * of "user", "admin", "service".
 *
 * Returns XERR_OK with *out filled, or XERR_UNAUTH with *why (when why is
 * not NULL) one of the static strings "malformed", "bad_alg",
 * "bad_signature", "expired", "not_yet_valid", "bad_issuer",
 * "bad_audience", "bad_claims".  XERR_INTERNAL for an empty secret or a
 * NULL issuer or audience, XERR_NOMEM.  *out is zeroed and *why NULL on entry.
 */
enum xerr	 jwt_verify(const char *secret, size_t secretlen,
		    const char *issuer, const char *audience, const char *token,
		    long long now, struct jwt_claims *out, const char **why);

/*
 * Signs c as an HS256 token with header {"alg":"HS256","typ":"JWT"} and
 * payload iss, aud, userId, jwtVersion, role (left out for users), iat,
 * nbf, exp, in that order.  On success *out is the token (caller frees
 * with free()); XERR_BADREQ for claims jwt_verify() would refuse (bad
 * userId, jwtVersion < 1, unknown role), XERR_TOOBIG past JWT_MAX_TOKEN,
 * XERR_INTERNAL for an empty secret or a NULL issuer or audience,
 * XERR_NOMEM.
 */
enum xerr	 jwt_sign(const char *secret, size_t secretlen,
		    const char *issuer, const char *audience,
		    const struct jwt_claims *c, char **out);

#endif
