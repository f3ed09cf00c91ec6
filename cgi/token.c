/*
 * xsb-token: mints an API token (HS256 JWT) for a user, for curl-driven use.
 *
 *   xsb-token -u USER_ID [-r user|admin|service] [-t TTL_SECONDS] [-v VERSION]
 *
 * Reads the configuration like the servers (JWT_SECRET, JWT_ISSUER,
 * JWT_AUDIENCE, DB_*); without -v it reads the user's jwt_version from the
 * database, so the token is valid until it expires or the version is
 * bumped.  Prints the token alone on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "store/stmt.h"

static void
usage(void)
{
	fprintf(stderr, "usage: xsb-token -u user_id [-r user|admin|service] "
	    "[-t ttl_seconds] [-v jwt_version]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct cfg	*cfg = NULL;
	struct db	*db = NULL;
	struct db_res	*res = NULL;
	struct jwt_claims c;
	struct dbv	 args[1];
	char		 err[256], *tok = NULL, *end;
	const char	*user = NULL;
	long long	 ttl = 86400, version = 0, now;
	int		 ch, status = 1;

	memset(&c, 0, sizeof(c));
	c.role = JWT_ROLE_USER;
	log_init("token", LOG_LEVEL_WARN);
	while ((ch = getopt(argc, argv, "u:r:t:v:")) != -1) {
		switch (ch) {
		case 'u':
			user = optarg;
			break;
		case 'r':
			if (strcmp(optarg, "admin") == 0)
				c.role = JWT_ROLE_ADMIN;
			else if (strcmp(optarg, "service") == 0)
				c.role = JWT_ROLE_SERVICE;
			else if (strcmp(optarg, "user") != 0)
				usage();
			break;
		case 't':
			ttl = strtoll(optarg, &end, 10);
			if (*end != '\0' || ttl < 60 || ttl > 365LL * 86400)
				usage();
			break;
		case 'v':
			version = strtoll(optarg, &end, 10);
			if (*end != '\0' || version < 1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (user == NULL || strlen(user) >= sizeof(c.user_id))
		usage();
	if (sodium_init() < 0)
		log_fatalx("libsodium failed to initialise");
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK)
		log_fatalx("configuration: %s", err);
	if (version == 0) {
		args[0] = DB_STR(user);
		if (db_open(cfg, stmt_table(), &db) != XERR_OK ||
		    db_query(db, STMT_USER_JWT_VERSION, args, 1, &res) !=
		    XERR_OK) {
			fprintf(stderr, "xsb-token: cannot read the user from "
			    "the database (give -v to skip)\n");
			goto out;
		}
		if (db_res_rows(res) == 0) {
			fprintf(stderr, "xsb-token: no user %s\n", user);
			goto out;
		}
		version = db_res_int(res, 0, 0, 1);
	}
	now = (long long)time(NULL);
	snprintf(c.user_id, sizeof(c.user_id), "%s", user);
	c.jwt_version = version;
	c.iat = c.nbf = now;
	c.exp = now + ttl;
	if (jwt_sign(cfg->jwt_secret, strlen(cfg->jwt_secret), cfg->jwt_issuer,
	    cfg->jwt_audience, &c, &tok) != XERR_OK) {
		fprintf(stderr, "xsb-token: cannot sign (bad user id?)\n");
		goto out;
	}
	printf("%s\n", tok);
	status = 0;
out:
	free(tok);
	db_res_free(res);
	db_close(db);
	cfg_free(cfg);
	return status;
}
