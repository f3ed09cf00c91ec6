/*
 * fuzz_jwt: jwt_verify() and jwt_verify_eddsa() on arbitrary tokens, and
 * jwt_sign() / jwt_sign_eddsa() round trips.
 *
 * Input: the whole input (up to its first NUL) is a bearer token; its last
 * bytes also make up a set of claims.  Invariants:
 *  - jwt_verify() (HS256, users) and jwt_verify_eddsa() (the RFC 8032 TEST 1
 *    key, admin) return XERR_OK with no reason and claims that obey every
 *    documented rule (userId, jwtVersion, the expected role, exp/nbf/iat at
 *    now, the lifetime), or XERR_UNAUTH with a documented reason and zeroed
 *    claims; a token over JWT_MAX_TOKEN or without a dot is "malformed";
 *  - claims that verified sign again into a token that verifies to the
 *    same claims;
 *  - signing the claims taken from the input (HS256 for a user, EdDSA for
 *    admin and service) succeeds exactly when they are valid, and the token
 *    verifies, giving back the same claims, exactly when exp, nbf and iat
 *    admit now and the lifetime is within the maximum; otherwise it is
 *    refused as "expired", "not_yet_valid" or "bad_lifetime".
 */
#include <limits.h>

#include <sodium.h>

#include "fuzz.h"

#include "core/crypto.h"
#include "core/jwt.h"

/* As in check_jwt.c, so its signed vector is a seed that verifies. */
#define SECRET	"test-secret-0123456789abcdef0123456789"
#define ISS	"https://xswarm.ai"
#define AUD	"xswarm-billing"
#define NOW	1700000100LL
#define MAXLIFE	86400LL
#define AUD_ADMIN	"xswarm-billing-admin"
#define AUD_SERVICE	"xswarm-billing-service"

/*
 * RFC 8032 TEST 1's seed, so check_jwt.c's EdDSA vector (corpus
 * eddsa_admin) is a seed that verifies.
 */
static const unsigned char ed_seed[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4,
	0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
	0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};
static unsigned char	 ed_pk[1][JWT_ED25519_PK_LEN];
static unsigned char	 ed_sk[JWT_ED25519_SK_LEN];

static const char *const reasons[] = {
	"malformed", "bad_alg", "bad_signature", "expired", "not_yet_valid",
	"bad_issuer", "bad_audience", "bad_claims", "bad_lifetime", "bad_role",
};

static const char	 id_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (crypto_init() != XERR_OK ||
	    crypto_sign_seed_keypair(ed_pk[0], ed_sk, ed_seed) != 0)
		abort();
	return 0;
}

/*
 * The userId rule, written out independently of jwt.c.  s is the claims'
 * array, which may be full and unterminated.
 */
static int
user_id_ok(const char *s)
{
	size_t	 n = strnlen(s, JWT_USER_ID_MAX + 1);

	return n >= 1 && n <= JWT_USER_ID_MAX && strspn(s, id_chars) == n;
}

/*
 * Returns the reason now is refused for c, or NULL when it is admitted,
 * in jwt.h's order: exp, nbf, then iat (not in the future, exp - iat from
 * 0 to MAXLIFE).
 */
static const char *
time_reason(const struct jwt_claims *c)
{
	long long	 t;

	if (__builtin_add_overflow(c->exp, JWT_LEEWAY, &t))
		t = LLONG_MAX;
	if (NOW >= t)
		return "expired";
	if (__builtin_sub_overflow(c->nbf, JWT_LEEWAY, &t))
		t = LLONG_MIN;
	if (NOW < t)
		return "not_yet_valid";
	if (__builtin_sub_overflow(c->iat, JWT_LEEWAY, &t) || NOW < t)
		return "not_yet_valid";
	if (c->exp < c->iat || __builtin_sub_overflow(c->exp, c->iat, &t) ||
	    t > MAXLIFE)
		return "bad_lifetime";
	return NULL;
}

static int
claims_eq(const struct jwt_claims *a, const struct jwt_claims *b)
{
	return strcmp(a->user_id, b->user_id) == 0 &&
	    a->jwt_version == b->jwt_version && a->role == b->role &&
	    a->iat == b->iat && a->nbf == b->nbf && a->exp == b->exp;
}

/*
 * Verifies token as role (user: HS256, else EdDSA under the TEST 1 key)
 * and checks the result's shape; returns why, NULL for OK.
 */
static const char *
verify(const char *token, enum jwt_role role, struct jwt_claims *c)
{
	static const struct jwt_claims zero;
	const char	*why = "unset";
	enum xerr	 rc;
	size_t		 i;

	if (role == JWT_ROLE_USER)
		rc = jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE,
		    token, NOW, c, &why);
	else
		rc = jwt_verify_eddsa(ed_pk, 1, ISS, role == JWT_ROLE_ADMIN ?
		    AUD_ADMIN : AUD_SERVICE, role, MAXLIFE, token, NOW, c, &why);
	if (rc == XERR_OK) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(user_id_ok(c->user_id));
		FUZZ_ASSERT(c->jwt_version >= (role == JWT_ROLE_USER));
		FUZZ_ASSERT(c->role == role);
		FUZZ_ASSERT(time_reason(c) == NULL);
		return NULL;
	}
	FUZZ_ASSERT(rc == XERR_UNAUTH);
	FUZZ_ASSERT(why != NULL);
	FUZZ_ASSERT(memcmp(c, &zero, sizeof(zero)) == 0);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(why, reasons[i]) == 0)
			return why;
	FUZZ_ASSERT(!"unknown reason");
	return why;
}

/* Signs c as its role calls for: HS256 for a user, else EdDSA. */
static enum xerr
sign(const struct jwt_claims *c, char **tok)
{
	if (c->role == JWT_ROLE_USER)
		return jwt_sign(SECRET, strlen(SECRET), ISS, AUD, c, tok);
	return jwt_sign_eddsa(ed_sk, ISS, c->role == JWT_ROLE_ADMIN ?
	    AUD_ADMIN : AUD_SERVICE, c, tok);
}

/* Signs c; checks the outcome against the rules and verifies the token. */
static void
round_trip(const struct jwt_claims *c)
{
	struct jwt_claims	 got;
	const char		*why, *expect;
	char			*tok = NULL;
	enum xerr		 rc;
	int			 valid;

	valid = user_id_ok(c->user_id) && (unsigned)c->role <= JWT_ROLE_SERVICE &&
	    (c->role == JWT_ROLE_USER ? c->jwt_version >= 1 :
	    c->jwt_version >= 0);
	rc = sign(c, &tok);
	if (!valid) {
		FUZZ_ASSERT(rc == XERR_BADREQ);
		FUZZ_ASSERT(tok == NULL);
		return;
	}
	FUZZ_ASSERT(rc == XERR_OK);
	FUZZ_ASSERT(tok != NULL && strlen(tok) <= JWT_MAX_TOKEN);
	why = verify(tok, c->role, &got);
	expect = time_reason(c);
	if (expect == NULL) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(claims_eq(c, &got));
	} else
		FUZZ_ASSERT(why != NULL && strcmp(why, expect) == 0);
	free(tok);
}

/*
 * Builds claims from the input's last bytes: a userId mostly from the
 * allowed characters (sometimes raw bytes, sometimes too long), a
 * version, a role (sometimes out of range), and times mostly near now.
 */
static void
claims_from(struct fuzz_tail *t, struct jwt_claims *c)
{
	unsigned	 flags, len, i, b;

	memset(c, 0, sizeof(*c));
	flags = (unsigned)fuzz_tail_u64(t, 1);
	/* 0 to 65 bytes: a full array (65) is left unterminated. */
	len = (unsigned)fuzz_tail_u64(t, 1) % (sizeof(c->user_id) + 1);
	for (i = 0; i < len; i++) {
		b = (unsigned)fuzz_tail_u64(t, 1);
		c->user_id[i] = (char)(flags & 1 ? (unsigned char)b :
		    (unsigned char)id_chars[b & 63]);
	}
	c->jwt_version = flags & 2 ? (long long)fuzz_tail_u64(t, 8) :
	    (long long)fuzz_tail_u64(t, 1) % 3;
	c->role = (enum jwt_role)(fuzz_tail_u64(t, 1) % 4);
	c->iat = flags & 16 ? (long long)fuzz_tail_u64(t, 8) :
	    NOW + (int16_t)fuzz_tail_u64(t, 2);
	c->nbf = flags & 4 ? (long long)fuzz_tail_u64(t, 8) :
	    NOW + (int16_t)fuzz_tail_u64(t, 2);
	c->exp = flags & 8 ? (long long)fuzz_tail_u64(t, 8) :
	    NOW + (int16_t)fuzz_tail_u64(t, 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_tail	 tail = { data, size };
	struct jwt_claims	 c, again;
	const char		*why;
	char			*token, *tok2 = NULL;
	int			 role;

	token = fuzz_memdup(data, size);
	for (role = JWT_ROLE_USER; role <= JWT_ROLE_ADMIN; role++) {
		why = verify(token, (enum jwt_role)role, &c);
		if (strlen(token) > JWT_MAX_TOKEN || strchr(token, '.') == NULL)
			FUZZ_ASSERT(why != NULL && strcmp(why, "malformed") == 0);
		if (why == NULL) {
			/* What verified signs again into the same claims. */
			FUZZ_ASSERT(sign(&c, &tok2) == XERR_OK);
			FUZZ_ASSERT(verify(tok2, c.role, &again) == NULL);
			FUZZ_ASSERT(claims_eq(&c, &again));
			free(tok2);
			tok2 = NULL;
		}
	}
	free(token);

	claims_from(&tail, &c);
	round_trip(&c);
	return 0;
}
