/*
 * jwt: JSON Web Tokens (RFC 7519) of the three kinds the API accepts.
 *
 * User tokens are HS256 under the secret the xSwarm app shares with us;
 * admin and service tokens are EdDSA (Ed25519, RFC 8037) under keys whose
 * private halves only the operators hold.  The algorithm is fixed by the
 * caller, never taken from the token, so "none", "HS512" or a public key
 * used as an HMAC secret cannot be forced on us, and the key decides the
 * role: an HS256 token claiming "admin" is refused.  The signature is
 * checked before any byte of the payload is parsed.
 */
#ifndef JWT_H
#define JWT_H

#include <stddef.h>

#include "core/xerr.h"

#define JWT_MAX_TOKEN	4096	/* longer tokens are refused unread */
#define JWT_LEEWAY	30	/* seconds of clock skew allowed on exp, nbf */
#define JWT_USER_ID_MAX	64
#define JWT_ED25519_PK_LEN 32	/* crypto_sign_PUBLICKEYBYTES */
#define JWT_ED25519_SK_LEN 64	/* crypto_sign_SECRETKEYBYTES */

enum jwt_alg {
	JWT_ALG_HS256,
	JWT_ALG_EDDSA,
	JWT_ALG_OTHER
};

enum jwt_role {
	JWT_ROLE_USER,
	JWT_ROLE_ADMIN,
	JWT_ROLE_SERVICE
};

struct jwt_claims {
	char		 user_id[JWT_USER_ID_MAX + 1];	/* "userId" */
	long long	 jwt_version;	/* "jwtVersion", >= 1; 0 when absent */
	enum jwt_role	 role;		/* "role", user when absent */
	long long	 iat, nbf, exp;	/* 0 when absent (nbf) */
};

/*
 * Verifies the HS256 user token at time now (Unix seconds) against secret,
 * issuer and audience.  The token must be three base64url segments without
 * padding; the header must say "alg":"HS256" and, if it has "typ", "JWT";
 * the payload must hold a numeric "exp" with now < exp + JWT_LEEWAY, a
 * numeric "iat" with now >= iat - JWT_LEEWAY and exp - iat from 0 to
 * max_life, if it has "nbf" now >= nbf - JWT_LEEWAY, "iss" equal to issuer,
 * "aud" equal to audience or an array containing it, "userId" of 1 to 64
 * characters from [A-Za-z0-9_-], an integer "jwtVersion" >= 1 and, if it
 * has "role", "user".
 *
 * Returns XERR_OK with *out filled, or XERR_UNAUTH with *why (when why is
 * not NULL) one of the static strings "malformed", "bad_alg",
 * "bad_signature", "expired", "not_yet_valid", "bad_lifetime",
 * "bad_issuer", "bad_audience", "bad_role", "bad_claims".  XERR_INTERNAL
 * for an empty secret or a NULL issuer or audience, XERR_NOMEM.  *out is
 * zeroed and *why NULL on entry.
 */
enum xerr	 jwt_verify(const char *secret, size_t secretlen,
		    const char *issuer, const char *audience, long long max_life,
		    const char *token, long long now, struct jwt_claims *out,
		    const char **why);

/*
 * Verifies an EdDSA token of role (admin or service) as jwt_verify() does
 * an HS256 one, except that the header must say "alg":"EdDSA", the
 * signature must be one of the nkeys public keys' (two during a rotation;
 * borrowed), "role" must be present and equal to role, and "jwtVersion" is
 * optional.  XERR_INTERNAL for no key, a NULL issuer or audience or role
 * user.
 */
enum xerr	 jwt_verify_eddsa(const unsigned char (*keys)[JWT_ED25519_PK_LEN],
		    size_t nkeys, const char *issuer, const char *audience,
		    enum jwt_role role, long long max_life, const char *token,
		    long long now, struct jwt_claims *out, const char **why);

/*
 * Returns the algorithm token's header names, without verifying anything:
 * only to choose which verification to run.  JWT_ALG_OTHER for anything
 * else or no readable header.
 */
enum jwt_alg	 jwt_alg(const char *token);

/*
 * Signs c as an HS256 token with header {"alg":"HS256","typ":"JWT"} and
 * payload iss, aud, userId, jwtVersion, role (left out for users), iat,
 * nbf, exp, in that order.  On success *out is the token (caller frees
 * with free()); XERR_BADREQ for claims jwt_verify() would refuse (bad
 * userId, jwtVersion < 1, a role other than user), XERR_TOOBIG past
 * JWT_MAX_TOKEN,
 * XERR_INTERNAL for an empty secret or a NULL issuer or audience,
 * XERR_NOMEM.
 */
enum xerr	 jwt_sign(const char *secret, size_t secretlen,
		    const char *issuer, const char *audience,
		    const struct jwt_claims *c, char **out);

/*
 * Signs c (role admin or service) as an EdDSA token with header
 * {"alg":"EdDSA","typ":"JWT"} under the Ed25519 secret key sk (libsodium's
 * 64 bytes, borrowed); the payload as jwt_sign()'s, "jwtVersion" left out
 * when 0.  XERR_BADREQ for a bad userId, a negative jwtVersion or role
 * user, XERR_INTERNAL for a NULL key, issuer or audience, XERR_TOOBIG,
 * XERR_NOMEM.
 */
enum xerr	 jwt_sign_eddsa(const unsigned char sk[JWT_ED25519_SK_LEN],
		    const char *issuer, const char *audience,
		    const struct jwt_claims *c, char **out);

#endif
