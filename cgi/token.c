/*
 * xsb-token: mints API tokens, and the keypairs admin and service tokens
 * are signed with.
 *
 *   xsb-token -u USER_ID [-t TTL_SECONDS] [-v VERSION]
 *   xsb-token -r admin|service -k PRIVATE_KEY_FILE [-u NAME] [-t TTL_SECONDS]
 *             [-v VERSION]
 *   xsb-token keygen PRIVATE_KEY_FILE
 *
 * A user token is HS256 under JWT_SECRET; without -v the user's jwt_version
 * is read from the database, so the token is valid until it expires or the
 * version is bumped.  An admin or service token is EdDSA (Ed25519) under
 * the private key in PRIVATE_KEY_FILE, names NAME (default the role) and
 * needs no user row; when a database answers and holds a user row NAME
 * (or -v is given) it carries that jwtVersion, so bumping the row revokes
 * it too.  TTL defaults to, and may not exceed, the role's
 * *_JWT_MAX_LIFETIME.  The configuration is read like the servers'
 * (JWT_ISSUER, the audiences, DB_*).  Prints the token alone on stdout.
 *
 * keygen writes a new keypair: the private key (base64url of libsodium's 64
 * bytes) to PRIVATE_KEY_FILE, created mode 0600 and never overwritten, and
 * prints the public key (base64url of 32 bytes), the value
 * ADMIN_JWT_PUBLIC_KEYS or SERVICE_JWT_PUBLIC_KEYS takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/cfg.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "store/stmt.h"
#include "store/users.h"

#define TOKEN_KEYFILE_MAX	256	/* bytes read from a private key file */

static void
usage(void)
{
	fprintf(stderr, "usage: xsb-token -u user_id [-t ttl_seconds] "
	    "[-v jwt_version]\n"
	    "       xsb-token -r admin|service -k private_key_file [-u name] "
	    "[-t ttl_seconds] [-v jwt_version]\n"
	    "       xsb-token keygen private_key_file\n");
	exit(2);
}

/*
 * Writes a new Ed25519 keypair: the secret key to path (created 0600,
 * never overwritten), the public key to stdout.  Returns the exit status.
 */
static int
token_keygen(const char *path)
{
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES];
	char		*pk64 = NULL, *sk64 = NULL;
	size_t		 len;
	int		 fd = -1, status = 1;

	crypto_sign_keypair(pk, sk);
	if (crypto_b64_encode(pk, sizeof(pk), 1, &pk64) != XERR_OK ||
	    crypto_b64_encode(sk, sizeof(sk), 1, &sk64) != XERR_OK) {
		fprintf(stderr, "xsb-token: out of memory\n");
		goto out;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "xsb-token: %s: %s\n", path, strerror(errno));
		goto out;
	}
	len = strlen(sk64);
	sk64[len] = '\n';
	if (write(fd, sk64, len + 1) != (ssize_t)(len + 1) || fsync(fd) != 0) {
		fprintf(stderr, "xsb-token: %s: %s\n", path, strerror(errno));
		unlink(path);
		goto out;
	}
	sk64[len] = '\0';
	printf("%s\n", pk64);
	status = 0;
out:
	if (fd != -1)
		close(fd);
	sodium_memzero(sk, sizeof(sk));
	if (sk64 != NULL)
		sodium_memzero(sk64, strlen(sk64));
	free(sk64);
	free(pk64);
	return status;
}

/*
 * Reads the Ed25519 secret key written by keygen from path into sk.
 * Returns 0, or -1 after a message.
 */
static int
token_read_key(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
	char		 text[TOKEN_KEYFILE_MAX];
	unsigned char	*raw = NULL;
	size_t		 rawlen = 0, len;
	ssize_t		 n;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "xsb-token: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "xsb-token: %s: %s\n", path, strerror(errno));
		goto out;
	}
	len = (size_t)n;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (crypto_b64_decode(text, len, 1, &raw, &rawlen) != XERR_OK ||
	    rawlen != crypto_sign_SECRETKEYBYTES) {
		fprintf(stderr, "xsb-token: %s: not a private key written by "
		    "xsb-token keygen\n", path);
		goto out;
	}
	memcpy(sk, raw, rawlen);
	rc = 0;
out:
	if (raw != NULL)
		sodium_memzero(raw, rawlen);
	free(raw);
	sodium_memzero(text, sizeof(text));
	return rc;
}

int
main(int argc, char *argv[])
{
	struct cfg	*cfg = NULL;
	struct db	*db = NULL;
	struct jwt_claims c;
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES];
	char		 err[256], *tok = NULL, *end;
	const char	*user = NULL, *keyfile = NULL, *aud;
	long long	 ttl = 0, version = 0, now, max;
	int64_t		 v;
	int		 ch, status = 1;
	enum xerr	 rc;

	memset(&c, 0, sizeof(c));
	c.role = JWT_ROLE_USER;
	log_init("token", LOG_LEVEL_WARN);
	if (crypto_init() != XERR_OK)
		log_fatalx("libsodium or libcrypto failed to initialise");
	if (argc == 3 && strcmp(argv[1], "keygen") == 0)
		return token_keygen(argv[2]);
	while ((ch = getopt(argc, argv, "k:u:r:t:v:")) != -1) {
		switch (ch) {
		case 'k':
			keyfile = optarg;
			break;
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
			if (*end != '\0' || ttl < 60)
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
	if (optind != argc)
		usage();
	/* Keys sign admin and service tokens, and nothing else. */
	if ((c.role == JWT_ROLE_USER) != (keyfile == NULL) ||
	    (c.role == JWT_ROLE_USER && user == NULL))
		usage();
	if (user == NULL)
		user = c.role == JWT_ROLE_ADMIN ? "admin" : "service";
	if (strlen(user) >= sizeof(c.user_id))
		usage();
	if (cfg_load(&cfg, err, sizeof(err)) != XERR_OK)
		log_fatalx("configuration: %s", err);
	max = (long long)(c.role == JWT_ROLE_ADMIN ?
	    cfg->admin_jwt_max_lifetime : c.role == JWT_ROLE_SERVICE ?
	    cfg->service_jwt_max_lifetime : cfg->user_jwt_max_lifetime);
	if (ttl == 0)
		ttl = max;
	if (ttl > max) {
		fprintf(stderr, "xsb-token: -t %lld is over this role's maximum "
		    "lifetime (%lld s)\n", ttl, max);
		goto out;
	}
	/*
	 * A user token needs the row's version.  A key token takes it when a
	 * database answers and names -u (then bumping the row revokes it too);
	 * on an operator's host without one it stands on its key alone.
	 */
	if (version == 0) {
		if (db_open(cfg, stmt_table(), &db) != XERR_OK ||
		    ((rc = users_jwt_version(db, user, &v)) != XERR_OK &&
		    rc != XERR_NOTFOUND)) {
			if (c.role == JWT_ROLE_USER) {
				fprintf(stderr, "xsb-token: cannot read the user "
				    "from the database (give -v to skip)\n");
				goto out;
			}
		} else if (rc == XERR_OK)
			version = v;
		else if (c.role == JWT_ROLE_USER) {
			fprintf(stderr, "xsb-token: no user %s\n", user);
			goto out;
		}
	}
	now = (long long)time(NULL);
	snprintf(c.user_id, sizeof(c.user_id), "%s", user);
	c.jwt_version = version;
	c.iat = c.nbf = now;
	c.exp = now + ttl;
	if (c.role == JWT_ROLE_USER)
		rc = jwt_sign(cfg->jwt_secret, strlen(cfg->jwt_secret),
		    cfg->jwt_issuer, cfg->jwt_audience, &c, &tok);
	else {
		if (token_read_key(keyfile, sk) != 0)
			goto out;
		aud = c.role == JWT_ROLE_ADMIN ? cfg->admin_jwt_audience :
		    cfg->service_jwt_audience;
		rc = jwt_sign_eddsa(sk, cfg->jwt_issuer, aud, &c, &tok);
	}
	if (rc != XERR_OK) {
		fprintf(stderr, "xsb-token: cannot sign (bad user id?)\n");
		goto out;
	}
	printf("%s\n", tok);
	status = 0;
out:
	sodium_memzero(sk, sizeof(sk));
	free(tok);
	db_close(db);
	cfg_free(cfg);
	return status;
}
