#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "core/jwt.h"

static const char	 jwt_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char	 jwt_header_ed[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
static const char *const jwt_algs[] = { "HS256", "EdDSA" };
static const char *const jwt_roles[] = { "user", "admin", "service" };

/*
 * Decodes one base64url segment.  Returns XERR_UNAUTH when it is not
 * strict base64url, XERR_NOMEM; see crypto_b64_decode() for the rest.
 */
static enum xerr
jwt_segment(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	enum xerr	 rc;

	if ((rc = crypto_b64_decode(s, len, 1, out, outlen)) == XERR_BADREQ)
		rc = XERR_UNAUTH;
	return rc;
}

/* Adds val under key to o; puts val and returns -1 when it cannot. */
static int
jwt_add(json_object *o, const char *key, json_object *val)
{
	if (val == NULL)
		return -1;
	if (json_object_object_add(o, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/*
 * Parses len bytes as one strict JSON object, valid UTF-8 and nothing after
 * it.  Returns the root (caller puts it) or NULL.
 */
static json_object *
jwt_json(const unsigned char *s, size_t len)
{
	json_tokener	*tok;
	json_object	*o = NULL;

	if (len == 0 || len > INT_MAX)
		return NULL;
	if ((tok = jsonx_tokener()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, (const char *)s, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	jsonx_tokener_done(tok);
	return o;
}

/*
 * Reads a NumericDate: an integer, or a finite number of plausible size
 * whose fraction is dropped.  Returns 0, or -1 when o is not one.
 */
static int
jwt_date(json_object *o, long long *v)
{
	double	 d;

	if (json_object_is_type(o, json_type_int)) {
		*v = (long long)json_object_get_int64(o);
		return 0;
	}
	if (json_object_is_type(o, json_type_double)) {
		d = json_object_get_double(o);
		if (!isfinite(d) || d < -1e15 || d > 1e15)
			return -1;
		*v = (long long)floor(d);
		return 0;
	}
	return -1;
}

/* Returns 1 when o is the string s. */
static int
jwt_str_is(json_object *o, const char *s)
{
	return json_object_is_type(o, json_type_string) &&
	    (size_t)json_object_get_string_len(o) == strlen(s) &&
	    strcmp(json_object_get_string(o), s) == 0;
}

/* Returns 1 when "aud" is audience or an array holding it. */
static int
jwt_aud_ok(json_object *aud, const char *audience)
{
	size_t	 i, n;

	if (jwt_str_is(aud, audience))
		return 1;
	if (!json_object_is_type(aud, json_type_array))
		return 0;
	n = json_object_array_length(aud);
	for (i = 0; i < n; i++)
		if (jwt_str_is(json_object_array_get_idx(aud, i), audience))
			return 1;
	return 0;
}

/* What a verification expects besides the signature. */
struct jwt_want {
	enum jwt_alg	 alg;
	const char	*issuer, *audience;
	enum jwt_role	 role;		/* the only role accepted */
	long long	 max_life;	/* exp - iat at most */
};

/*
 * Checks the payload's claims at now against w and fills *c.  Returns
 * NULL, or the reason the token is refused.
 */
static const char *
jwt_claims_check(json_object *p, const struct jwt_want *w, long long now,
    struct jwt_claims *c)
{
	json_object	*o;
	const char	*s;
	size_t		 len, i;
	long long	 t;

	/* Leeway saturates instead of overflowing near the ends of time. */
	if (!json_object_object_get_ex(p, "exp", &o) || jwt_date(o, &c->exp))
		return "bad_claims";
	if (__builtin_add_overflow(c->exp, JWT_LEEWAY, &t))
		t = LLONG_MAX;
	if (now >= t)
		return "expired";
	if (json_object_object_get_ex(p, "nbf", &o)) {
		if (jwt_date(o, &c->nbf))
			return "bad_claims";
		if (__builtin_sub_overflow(c->nbf, JWT_LEEWAY, &t))
			t = LLONG_MIN;
		if (now < t)
			return "not_yet_valid";
	}
	/* iat is required, not in the future, and bounds the lifetime. */
	if (!json_object_object_get_ex(p, "iat", &o) || jwt_date(o, &c->iat))
		return "bad_claims";
	if (__builtin_sub_overflow(c->iat, JWT_LEEWAY, &t) || now < t)
		return "not_yet_valid";
	if (c->exp < c->iat || __builtin_sub_overflow(c->exp, c->iat, &t) ||
	    t > w->max_life)
		return "bad_lifetime";

	if (!json_object_object_get_ex(p, "iss", &o) ||
	    !jwt_str_is(o, w->issuer))
		return "bad_issuer";
	if (!json_object_object_get_ex(p, "aud", &o) ||
	    !jwt_aud_ok(o, w->audience))
		return "bad_audience";

	if (!json_object_object_get_ex(p, "userId", &o) ||
	    !json_object_is_type(o, json_type_string))
		return "bad_claims";
	s = json_object_get_string(o);
	len = (size_t)json_object_get_string_len(o);
	if (!(ids_user_ok(s) && strlen(s) == len))
		return "bad_claims";
	memcpy(c->user_id, s, len);
	c->user_id[len] = '\0';

	/* Users need the version that revokes; key holders may omit it. */
	if (json_object_object_get_ex(p, "jwtVersion", &o)) {
		if (!json_object_is_type(o, json_type_int) ||
		    (c->jwt_version = json_object_get_int64(o)) < 1)
			return "bad_claims";
	} else if (w->alg == JWT_ALG_HS256)
		return "bad_claims";

	c->role = JWT_ROLE_USER;
	if (json_object_object_get_ex(p, "role", &o)) {
		for (i = 0; i < sizeof(jwt_roles) / sizeof(jwt_roles[0]); i++)
			if (jwt_str_is(o, jwt_roles[i]))
				break;
		if (i == sizeof(jwt_roles) / sizeof(jwt_roles[0]))
			return "bad_claims";
		c->role = (enum jwt_role)i;
	}
	/* The key decides the role: a claim cannot raise it. */
	if (c->role != w->role)
		return "bad_role";
	return NULL;
}

enum jwt_alg
jwt_alg(const char *token)
{
	const char	*dot;
	unsigned char	*hdr = NULL;
	size_t		 toklen, hdrlen, i;
	json_object	*h = NULL, *o;
	enum jwt_alg	 alg = JWT_ALG_OTHER;

	if (token == NULL ||
	    (toklen = strnlen(token, JWT_MAX_TOKEN + 1)) > JWT_MAX_TOKEN ||
	    (dot = memchr(token, '.', toklen)) == NULL ||
	    jwt_segment(token, (size_t)(dot - token), &hdr, &hdrlen) != XERR_OK)
		goto out;
	if ((h = jwt_json(hdr, hdrlen)) == NULL ||
	    !json_object_object_get_ex(h, "alg", &o))
		goto out;
	for (i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++)
		if (jwt_str_is(o, jwt_algs[i]))
			alg = (enum jwt_alg)i;
out:
	json_object_put(h);
	free(hdr);
	return alg;
}

/*
 * Returns 1 when sig is the signature of the len bytes at msg under the
 * HS256 secret or one of the Ed25519 keys w's algorithm calls for.
 */
static int
jwt_sig_ok(const struct jwt_want *w, const char *secret, size_t secretlen,
    const unsigned char (*keys)[JWT_ED25519_PK_LEN], size_t nkeys,
    const char *msg, size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	size_t		 i;
	int		 ok = 0;

	if (w->alg == JWT_ALG_HS256) {
		crypto_hmac_sha256(secret, secretlen, msg, len, mac);
		return siglen == sizeof(mac) &&
		    crypto_ct_equal(sig, mac, sizeof(mac));
	}
	if (siglen != crypto_sign_BYTES)
		return 0;
	for (i = 0; i < nkeys; i++)
		ok |= crypto_sign_verify_detached(sig,
		    (const unsigned char *)msg, len, keys[i]) == 0;
	return ok;
}

/* The verification both algorithms share; see jwt_verify(). */
static enum xerr
jwt_check(const struct jwt_want *w, const char *secret, size_t secretlen,
    const unsigned char (*keys)[JWT_ED25519_PK_LEN], size_t nkeys,
    const char *token, long long now, struct jwt_claims *out,
    const char **why)
{
	struct jwt_claims	 c;
	const char		*dot1, *dot2, *end, *reason = "malformed";
	unsigned char		*hdr = NULL, *sig = NULL, *pl = NULL;
	size_t			 toklen, hdrlen, siglen, pllen;
	json_object		*h = NULL, *p = NULL, *o;
	enum xerr		 rc = XERR_UNAUTH;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (why != NULL)
		*why = NULL;

	/* Shape: three non-empty segments, the whole within the cap. */
	if (token == NULL ||
	    (toklen = strnlen(token, JWT_MAX_TOKEN + 1)) > JWT_MAX_TOKEN)
		goto fail;
	end = token + toklen;
	if ((dot1 = memchr(token, '.', toklen)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) == NULL ||
	    memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL ||
	    dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == end)
		goto fail;

	/* The header decides nothing but is checked: our alg or go away. */
	if ((rc = jwt_segment(token, (size_t)(dot1 - token), &hdr,
	    &hdrlen)) != XERR_OK)
		goto fail;
	rc = XERR_UNAUTH;
	if ((h = jwt_json(hdr, hdrlen)) == NULL)
		goto fail;
	if (!json_object_object_get_ex(h, "alg", &o) ||
	    !jwt_str_is(o, jwt_algs[w->alg])) {
		reason = "bad_alg";
		goto fail;
	}
	/* RFC 7515 4.1.11: extensions we do not understand must fail. */
	if ((json_object_object_get_ex(h, "typ", &o) &&
	    !jwt_str_is(o, "JWT")) ||
	    json_object_object_get_ex(h, "crit", NULL))
		goto fail;

	/* The signature, before a byte of the payload is read. */
	if ((rc = jwt_segment(dot2 + 1, (size_t)(end - dot2 - 1), &sig,
	    &siglen)) != XERR_OK)
		goto fail;
	rc = XERR_UNAUTH;
	reason = "bad_signature";
	if (!jwt_sig_ok(w, secret, secretlen, keys, nkeys, token,
	    (size_t)(dot2 - token), sig, siglen))
		goto fail;

	reason = "malformed";
	if ((rc = jwt_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), &pl,
	    &pllen)) != XERR_OK)
		goto fail;
	rc = XERR_UNAUTH;
	if ((p = jwt_json(pl, pllen)) == NULL)
		goto fail;
	if ((reason = jwt_claims_check(p, w, now, &c)) != NULL)
		goto fail;

	*out = c;
	rc = XERR_OK;
fail:
	if (rc == XERR_UNAUTH && why != NULL)
		*why = reason;
	json_object_put(h);
	json_object_put(p);
	free(hdr);
	free(sig);
	free(pl);
	return rc;
}

enum xerr
jwt_verify(const char *secret, size_t secretlen, const char *issuer,
    const char *audience, long long max_life, const char *token,
    long long now, struct jwt_claims *out, const char **why)
{
	struct jwt_want	 w = { JWT_ALG_HS256, issuer, audience, JWT_ROLE_USER,
			    max_life };

	memset(out, 0, sizeof(*out));
	if (why != NULL)
		*why = NULL;
	if (secret == NULL || secretlen == 0 || issuer == NULL ||
	    audience == NULL)
		return XERR_INTERNAL;
	return jwt_check(&w, secret, secretlen, NULL, 0, token, now, out, why);
}

enum xerr
jwt_verify_eddsa(const unsigned char (*keys)[JWT_ED25519_PK_LEN],
    size_t nkeys, const char *issuer, const char *audience,
    enum jwt_role role, long long max_life, const char *token, long long now,
    struct jwt_claims *out, const char **why)
{
	struct jwt_want	 w = { JWT_ALG_EDDSA, issuer, audience, role,
			    max_life };

	memset(out, 0, sizeof(*out));
	if (why != NULL)
		*why = NULL;
	if (keys == NULL || nkeys == 0 || issuer == NULL || audience == NULL ||
	    role == JWT_ROLE_USER ||
	    (unsigned)role >= sizeof(jwt_roles) / sizeof(jwt_roles[0]))
		return XERR_INTERNAL;
	return jwt_check(&w, NULL, 0, keys, nkeys, token, now, out, why);
}

/*
 * Signs c with the HS256 secret (sk NULL) or the Ed25519 secret key sk;
 * see jwt_sign() and jwt_sign_eddsa().
 */
static enum xerr
jwt_make(const char *secret, size_t secretlen, const unsigned char *sk,
    const char *issuer, const char *audience, const struct jwt_claims *c,
    char **out)
{
	json_object	*p = NULL;
	struct buf	*b = NULL;
	char		*h64 = NULL, *p64 = NULL, *s64 = NULL;
	const char	*json, *hdr = sk ? jwt_header_ed : jwt_header;
	unsigned char	 sig[crypto_sign_BYTES];
	size_t		 idlen, siglen = CRYPTO_SHA256_LEN;
	enum xerr	 rc;

	*out = NULL;
	if (issuer == NULL || audience == NULL)
		return XERR_INTERNAL;
	idlen = strnlen(c->user_id, sizeof(c->user_id));
	if (!(ids_user_ok(c->user_id) && strlen(c->user_id) == idlen) ||
	    (sk == NULL && c->jwt_version < 1) || c->jwt_version < 0 ||
	    (unsigned)c->role >= sizeof(jwt_roles) / sizeof(jwt_roles[0]) ||
	    (sk == NULL) != (c->role == JWT_ROLE_USER))
		return XERR_BADREQ;

	/* json-c keeps insertion order, which fixes the bytes signed. */
	rc = XERR_NOMEM;
	if ((p = json_object_new_object()) == NULL ||
	    jwt_add(p, "iss", json_object_new_string(issuer)) ||
	    jwt_add(p, "aud", json_object_new_string(audience)) ||
	    jwt_add(p, "userId",
	    json_object_new_string_len(c->user_id, (int)idlen)) ||
	    (c->jwt_version > 0 && jwt_add(p, "jwtVersion",
	    json_object_new_int64(c->jwt_version))) ||
	    (c->role != JWT_ROLE_USER && jwt_add(p, "role",
	    json_object_new_string(jwt_roles[c->role]))) ||
	    jwt_add(p, "iat", json_object_new_int64(c->iat)) ||
	    jwt_add(p, "nbf", json_object_new_int64(c->nbf)) ||
	    jwt_add(p, "exp", json_object_new_int64(c->exp)))
		goto fail;
	if ((json = json_object_to_json_string_ext(p,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL)
		goto fail;

	if ((rc = crypto_b64_encode(hdr, strlen(hdr), 1, &h64)) != XERR_OK ||
	    (rc = crypto_b64_encode(json, strlen(json), 1, &p64)) != XERR_OK)
		goto fail;
	if ((b = buf_new(JWT_MAX_TOKEN)) == NULL) {
		rc = XERR_NOMEM;
		goto fail;
	}
	if ((rc = buf_printf(b, "%s.%s", h64, p64)) != XERR_OK)
		goto fail;
	if (sk == NULL)
		crypto_hmac_sha256(secret, secretlen, buf_data(b), buf_len(b),
		    sig);
	else {
		siglen = sizeof(sig);
		if (crypto_sign_detached(sig, NULL,
		    (const unsigned char *)buf_data(b), buf_len(b), sk) != 0) {
			rc = XERR_INTERNAL;
			goto fail;
		}
	}
	if ((rc = crypto_b64_encode(sig, siglen, 1, &s64)) != XERR_OK ||
	    (rc = buf_printf(b, ".%s", s64)) != XERR_OK)
		goto fail;
	if ((*out = buf_steal(b, NULL)) == NULL) {
		rc = XERR_NOMEM;
		goto fail;
	}
	rc = XERR_OK;
fail:
	sodium_memzero(sig, sizeof(sig));
	json_object_put(p);
	buf_free(b);
	free(h64);
	free(p64);
	free(s64);
	return rc;
}

enum xerr
jwt_sign(const char *secret, size_t secretlen, const char *issuer,
    const char *audience, const struct jwt_claims *c, char **out)
{
	*out = NULL;
	if (secret == NULL || secretlen == 0)
		return XERR_INTERNAL;
	return jwt_make(secret, secretlen, NULL, issuer, audience, c, out);
}

enum xerr
jwt_sign_eddsa(const unsigned char sk[JWT_ED25519_SK_LEN],
    const char *issuer, const char *audience, const struct jwt_claims *c,
    char **out)
{
	*out = NULL;
	if (sk == NULL)
		return XERR_INTERNAL;
	return jwt_make(NULL, 0, sk, issuer, audience, c, out);
}
