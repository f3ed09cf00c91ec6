/*
 * fuzz_jwt: jwt_verify() on arbitrary tokens, and jwt_sign() round trips.
 *
 * Input: the whole input (up to its first NUL) is a bearer token; its last
 * bytes also make up a set of claims.  Invariants:
 *  - jwt_verify() returns XERR_OK with no reason and claims that obey
 *    every documented rule (userId, jwtVersion, role, exp/nbf at now), or
 *    XERR_UNAUTH with a documented reason and zeroed claims; a token over
 *    JWT_MAX_TOKEN or without a dot is "malformed";
 *  - claims that verified sign again into a token that verifies to the
 *    same claims;
 *  - jwt_sign() of the claims taken from the input succeeds exactly when
 *    they are valid, and its token verifies, giving back the same claims,
 *    exactly when exp and nbf admit now; otherwise it is refused as
 *    "expired" or "not_yet_valid".
 */
#include <limits.h>

#include "fuzz.h"

#include "core/crypto.h"
#include "core/jwt.h"

/* As in check_jwt.c, so its signed vector is a seed that verifies. */
#define SECRET	"test-secret-0123456789abcdef0123456789"
#define ISS	"https://xswarm.ai"
#define AUD	"xswarm-billing"
#define NOW	1700000100LL

static const char *const reasons[] = {
	"malformed", "bad_alg", "bad_signature", "expired", "not_yet_valid",
	"bad_issuer", "bad_audience", "bad_claims",
};

static const char	 id_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (crypto_init() != XERR_OK)
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

/* Returns the reason now is refused for c, or NULL when it is admitted. */
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
	return NULL;
}

static int
claims_eq(const struct jwt_claims *a, const struct jwt_claims *b)
{
	return strcmp(a->user_id, b->user_id) == 0 &&
	    a->jwt_version == b->jwt_version && a->role == b->role &&
	    a->iat == b->iat && a->nbf == b->nbf && a->exp == b->exp;
}

/* Verifies token and checks the result's shape; returns why, NULL for OK. */
static const char *
verify(const char *token, struct jwt_claims *c)
{
	static const struct jwt_claims zero;
	const char	*why = "unset";
	enum xerr	 rc;
	size_t		 i;

	rc = jwt_verify(SECRET, strlen(SECRET), ISS, AUD, token, NOW, c, &why);
	if (rc == XERR_OK) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(user_id_ok(c->user_id));
		FUZZ_ASSERT(c->jwt_version >= 1);
		FUZZ_ASSERT(c->role == JWT_ROLE_USER ||
		    c->role == JWT_ROLE_ADMIN || c->role == JWT_ROLE_SERVICE);
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

/* Signs c; checks the outcome against the rules and verifies the token. */
static void
round_trip(const struct jwt_claims *c)
{
	struct jwt_claims	 got;
	const char		*why, *expect;
	char			*tok = NULL;
	enum xerr		 rc;
	int			 valid;

	valid = user_id_ok(c->user_id) && c->jwt_version >= 1 &&
	    (unsigned)c->role <= JWT_ROLE_SERVICE;
	rc = jwt_sign(SECRET, strlen(SECRET), ISS, AUD, c, &tok);
	if (!valid) {
		FUZZ_ASSERT(rc == XERR_BADREQ);
		FUZZ_ASSERT(tok == NULL);
		return;
	}
	FUZZ_ASSERT(rc == XERR_OK);
	FUZZ_ASSERT(tok != NULL && strlen(tok) <= JWT_MAX_TOKEN);
	why = verify(tok, &got);
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
	    1 + (long long)fuzz_tail_u64(t, 1);
	c->role = (enum jwt_role)(fuzz_tail_u64(t, 1) % 4);
	c->iat = (long long)fuzz_tail_u64(t, 8);
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

	token = fuzz_memdup(data, size);
	why = verify(token, &c);
	if (strlen(token) > JWT_MAX_TOKEN || strchr(token, '.') == NULL)
		FUZZ_ASSERT(why != NULL && strcmp(why, "malformed") == 0);
	if (why == NULL) {
		/* What verified signs again into the same claims. */
		FUZZ_ASSERT(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c,
		    &tok2) == XERR_OK);
		FUZZ_ASSERT(verify(tok2, &again) == NULL);
		FUZZ_ASSERT(claims_eq(&c, &again));
		free(tok2);
	}
	free(token);

	claims_from(&tail, &c);
	round_trip(&c);
	return 0;
}
