#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/req.h"
#include "store/stmt.h"
#include "app/auth.h"

/*
 * Verifies the EdDSA token tok against the admin keys, then the service
 * keys, into *c.  Returns XERR_OK or XERR_UNAUTH with *why: the first
 * verification whose key matched decides the reason.
 */
static enum xerr
auth_eddsa(const struct cfg *cfg, const char *tok, long long now,
    struct jwt_claims *c, const char **why)
{
	enum xerr	 rc = XERR_UNAUTH;

	*why = "bad_signature";
	if (cfg->admin_jwt_keys.n > 0) {
		rc = jwt_verify_eddsa((const unsigned char (*)[JWT_ED25519_PK_LEN])
		    cfg->admin_jwt_keys.key, cfg->admin_jwt_keys.n,
		    cfg->jwt_issuer, cfg->admin_jwt_audience, JWT_ROLE_ADMIN,
		    (long long)cfg->admin_jwt_max_lifetime, tok, now, c, why);
		if (rc == XERR_OK || (*why != NULL &&
		    strcmp(*why, "bad_signature") != 0))
			return rc;
	}
	if (cfg->service_jwt_keys.n > 0)
		rc = jwt_verify_eddsa((const unsigned char (*)[JWT_ED25519_PK_LEN])
		    cfg->service_jwt_keys.key, cfg->service_jwt_keys.n,
		    cfg->jwt_issuer, cfg->service_jwt_audience,
		    JWT_ROLE_SERVICE, (long long)cfg->service_jwt_max_lifetime,
		    tok, now, c, why);
	return rc;
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
		rc = auth_eddsa(cfg, tok, now, c, &why);
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
		    "an admin" : need == AUTH_SERVICE ? "a service" : "a user");
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
auth_require_or_reply(struct req *r, enum auth_need need)
{
	struct jwt_claims c;
	struct db_res	*res = NULL;
	struct dbv	 args[1];
	long long	 version;

	if (auth_token(r, &c) != 0)
		return -1;
	/*
	 * The row's jwt_version revokes: a user's tokens always; an admin's or
	 * service's when it carries a jwtVersion and its userId names a row.
	 * Otherwise a key token stands on its key alone (rotation revokes).
	 */
	if (c.role == JWT_ROLE_USER || c.jwt_version > 0) {
		args[0] = DB_STR(c.user_id);
		if (db_query(r->db, STMT_USER_JWT_VERSION, args, 1, &res) !=
		    XERR_OK) {
			req_error(r, XERR_UNAVAILABLE, "database_unavailable",
			    "cannot check the token now");
			return -1;
		}
		version = db_res_rows(res) ? db_res_int(res, 0, 0, -1) : -1;
		db_res_free(res);
		if ((c.role == JWT_ROLE_USER || version >= 0) &&
		    auth_version_or_reply(r, version, c.jwt_version) != 0)
			return -1;
	}
	if (auth_role_or_reply(r, &c, need) != 0)
		return -1;
	memcpy(r->user_id, c.user_id, sizeof(r->user_id));
	r->role = (int)c.role;
	log_debug("user %s role %d", r->user_id, r->role);
	return 0;
}
