#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/req.h"
#include "store/users.h"
#include "app/apierr.h"
#include "app/auth.h"

/*
 * The token's row could not be read: 503 with Retry-After when the
 * database is away or busy, else 500 (req_fail()).
 */
int
auth_db_or_reply(struct req *r, enum xerr rc)
{
	req_fail(r, rc, "checking the token");
	return -1;
}

/*
 * Verifies tok against each of the nkeys keys of one role in turn, so
 * that the key that signed it is known: *which is its index.  Returns as
 * jwt_verify_eddsa(); *decided is set when a key matched (its reason
 * stands, success or not).
 */
static enum xerr
auth_eddsa_keys(const struct cfg *cfg, const struct cfg_keys *keys,
    const char *aud, enum jwt_role role, unsigned long max_life,
    const char *tok, long long now, struct jwt_claims *c, const char **why,
    size_t *which, int *decided)
{
	enum xerr	 rc = XERR_UNAUTH;
	size_t		 i;

	*decided = 0;
	for (i = 0; i < keys->n; i++) {
		rc = jwt_verify_eddsa((const unsigned char (*)[JWT_ED25519_PK_LEN])
		    &keys->key[i], 1, cfg->jwt_issuer, aud, role,
		    (long long)max_life, tok, now, c, why);
		if (rc == XERR_OK || (*why != NULL &&
		    strcmp(*why, "bad_signature") != 0)) {
			*which = i;
			*decided = 1;
			return rc;
		}
	}
	*why = "bad_signature";
	return rc;
}

/*
 * Verifies the EdDSA token tok against the admin keys, then the service
 * keys, into *c, and writes the id of the key that signed it to key_id
 * (9 bytes; see struct req).  Returns XERR_OK or XERR_UNAUTH with *why:
 * the first verification whose key matched decides the reason.
 */
static enum xerr
auth_eddsa(const struct cfg *cfg, const char *tok, long long now,
    struct jwt_claims *c, const char **why, char *key_id)
{
	const struct cfg_keys *keys = &cfg->admin_jwt_keys;
	char		*b64 = NULL;
	size_t		 which = 0;
	int		 decided;
	enum xerr	 rc;

	*why = "bad_signature";
	rc = auth_eddsa_keys(cfg, keys, cfg->admin_jwt_audience,
	    JWT_ROLE_ADMIN, cfg->admin_jwt_max_lifetime, tok, now, c, why,
	    &which, &decided);
	if (!decided) {
		keys = &cfg->service_jwt_keys;
		rc = auth_eddsa_keys(cfg, keys, cfg->service_jwt_audience,
		    JWT_ROLE_SERVICE, cfg->service_jwt_max_lifetime, tok, now,
		    c, why, &which, &decided);
	}
	key_id[0] = '\0';
	/* 6 bytes are the first 8 characters of the configured key. */
	if (rc == XERR_OK && crypto_b64_encode(keys->key[which], 6, 1,
	    &b64) == XERR_OK)
		snprintf(key_id, 9, "%s", b64);
	free(b64);
	return rc;
}

/*
 * Answers 429 with Retry-After and returns -1 when the user of r has
 * spent the allowance of the API r is part of (RATE_LIMIT_PHONE_PER_MINUTE
 * for /api/phone/, else RATE_LIMIT_BILLING_PER_MINUTE), counted on this
 * node by core/ratelimit.h; returns 0 otherwise.
 */
static int
auth_rate_or_reply(struct req *r)
{
	const char	*cls = "billing";
	unsigned long	 per_minute = r->cfg->rate_limit_billing;
	char		 hdr[48];
	long		 wait;

	if (r->path != NULL && strncmp(r->path, "/api/phone/", 11) == 0) {
		cls = "phone";
		per_minute = r->cfg->rate_limit_phone;
	}
	if ((wait = ratelimit_take(cls, r->user_id, per_minute,
	    ratelimit_now_ms())) == 0)
		return 0;
	snprintf(hdr, sizeof(hdr), "Retry-After: %ld\r\n", wait);
	req_error_status(r, 429, hdr, "rate_limited", "more than %lu requests "
	    "a minute to the %s API; try again in %ld s", per_minute, cls,
	    wait);
	return -1;
}

/*
 * Verifies r's bearer token into *c: HS256 under JWT_SECRET for users,
 * EdDSA under the operators' public keys for admin and service.  Returns
 * 0, or -1 after a 401.
 */
static int
auth_token(struct req *r, struct jwt_claims *c)
{
	const struct cfg *cfg = r->cfg;
	const char	*h, *tok, *why = NULL;
	long long	 now = (long long)time(NULL);
	enum xerr	 rc = XERR_UNAUTH;

	h = req_header(r, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		req_error(r, XERR_UNAUTH, "missing_token",
		    "Authorization: Bearer <token> required");
		return -1;
	}
	tok = h + 7;
	switch (jwt_alg(tok)) {
	case JWT_ALG_HS256:
		rc = jwt_verify(cfg->jwt_secret, strlen(cfg->jwt_secret),
		    cfg->jwt_issuer, cfg->jwt_audience,
		    (long long)cfg->user_jwt_max_lifetime, tok, now, c, &why);
		break;
	case JWT_ALG_EDDSA:
		rc = auth_eddsa(cfg, tok, now, c, &why, r->key_id);
		break;
	case JWT_ALG_OTHER:
		memset(c, 0, sizeof(*c));
		why = "bad_alg";
		break;
	}
	if (rc != XERR_OK) {
		req_error(r, XERR_UNAUTH, "invalid_token", "token rejected: %s",
		    why ? why : "invalid");
		return -1;
	}
	return 0;
}

/*
 * Answers 403 and returns -1 when the role of c is not enough for need;
 * returns 0 otherwise.  Admin covers service, but no key token is a user.
 */
static int
auth_role_or_reply(struct req *r, const struct jwt_claims *c,
    enum auth_need need)
{
	if ((need == AUTH_ADMIN && c->role != JWT_ROLE_ADMIN) ||
	    (need == AUTH_SERVICE && c->role == JWT_ROLE_USER) ||
	    (need == AUTH_USER && c->role != JWT_ROLE_USER)) {
		req_error(r, XERR_FORBIDDEN, "forbidden",
		    "this call needs %s token", need == AUTH_ADMIN ?
		    "an admin" : need == AUTH_SERVICE ? "a service or admin" :
		    "a user");
		return -1;
	}
	return 0;
}

int
auth_version_or_reply(struct req *r, long long version, long long want)
{
	if (version < 0) {
		req_error(r, XERR_UNAUTH, "invalid_token", "unknown user");
		return -1;
	}
	if (version != want) {
		req_error(r, XERR_UNAUTH, "token_revoked",
		    "token was revoked; sign in again");
		return -1;
	}
	return 0;
}

int
auth_user_token_or_reply(struct req *r, long long *version)
{
	struct jwt_claims c;

	if (auth_token(r, &c) != 0 || auth_role_or_reply(r, &c, AUTH_USER) != 0)
		return -1;
	memcpy(r->user_id, c.user_id, sizeof(r->user_id));
	r->role = (int)c.role;
	*version = c.jwt_version;
	return 0;
}

int
auth_user_version_or_reply(struct req *r, long long version, long long want)
{
	if (auth_version_or_reply(r, version, want) != 0)
		return -1;
	return auth_rate_or_reply(r);
}

int
auth_require_or_reply(struct req *r, enum auth_need need)
{
	struct jwt_claims c;
	int64_t		 v;
	long long	 version;
	enum xerr	 rc;

	if (auth_token(r, &c) != 0)
		return -1;
	/*
	 * The row's jwt_version revokes: a user's tokens always; an admin's or
	 * service's when it carries a jwtVersion and its userId names a row.
	 * Otherwise a key token stands on its key alone (rotation revokes).
	 */
	if (c.role == JWT_ROLE_USER || c.jwt_version > 0) {
		if ((rc = users_jwt_version(r->db, c.user_id, &v)) !=
		    XERR_OK && rc != XERR_NOTFOUND)
			return auth_db_or_reply(r, rc);
		version = rc == XERR_OK ? (long long)v : -1;
		if ((c.role == JWT_ROLE_USER || version >= 0) &&
		    auth_version_or_reply(r, version, c.jwt_version) != 0)
			return -1;
	}
	if (auth_role_or_reply(r, &c, need) != 0)
		return -1;
	memcpy(r->user_id, c.user_id, sizeof(r->user_id));
	r->role = (int)c.role;
	log_debug("user %s role %d", r->user_id, r->role);
	return c.role == JWT_ROLE_USER ? auth_rate_or_reply(r) : 0;
}
