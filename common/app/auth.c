#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/req.h"
#include "store/stmt.h"
#include "app/auth.h"

/* Verifies r's bearer token into *c; returns 0, or -1 after a 401. */
static int
auth_token(struct req *r, struct jwt_claims *c)
{
	const struct cfg *cfg = r->cfg;
	const char	*h, *why = NULL;
	enum xerr	 rc;

	h = req_header(r, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		req_error(r, XERR_UNAUTH, "missing_token",
		    "Authorization: Bearer <token> required");
		return -1;
	}
	rc = jwt_verify(cfg->jwt_secret, strlen(cfg->jwt_secret),
	    cfg->jwt_issuer, cfg->jwt_audience, h + 7, (long long)time(NULL),
	    c, &why);
	if (rc != XERR_OK) {
		req_error(r, XERR_UNAUTH, "invalid_token", "token rejected: %s",
		    why ? why : "invalid");
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

	if (auth_token(r, &c) != 0)
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
	args[0] = DB_STR(c.user_id);
	if (db_query(r->db, STMT_USER_JWT_VERSION, args, 1, &res) != XERR_OK) {
		req_error(r, XERR_UNAVAILABLE, "database_unavailable",
		    "cannot check the token now");
		return -1;
	}
	version = db_res_rows(res) ? db_res_int(res, 0, 0, -1) : -1;
	db_res_free(res);
	if (auth_version_or_reply(r, version, c.jwt_version) != 0)
		return -1;
	if ((need == AUTH_ADMIN && c.role != JWT_ROLE_ADMIN) ||
	    (need == AUTH_SERVICE && c.role == JWT_ROLE_USER)) {
		req_error(r, XERR_FORBIDDEN, "forbidden",
		    "this call needs %s token",
		    need == AUTH_ADMIN ? "an admin" : "a service");
		return -1;
	}
	memcpy(r->user_id, c.user_id, sizeof(r->user_id));
	r->role = (int)c.role;
	log_debug("user %s role %d", r->user_id, r->role);
	return 0;
}
