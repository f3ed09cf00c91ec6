#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "core/crypto.h"
#include "core/jwt.h"

#define SECRET	"test-secret-0123456789abcdef0123456789"
#define ISS	"https://xswarm.ai"
#define AUD	"xswarm-billing"
#define NOW	1700000100LL
#define HDR	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/*
 * Built with node's crypto only (createHmac over base64url segments) from
 * HDR and the payload
 * {"iss":"https://xswarm.ai","aud":"xswarm-billing","userId":"user_42",
 *  "jwtVersion":3,"role":"admin","iat":1700000000,"nbf":1700000000,
 *  "exp":1700003600}
 * with SECRET: jwt_sign() must produce these bytes.
 */
static const char vec_signed[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL3hzd2FybS5haSIsImF1ZCI6Inhzd2FybS1iaWxsaW5nIiwid"
    "XNlcklkIjoidXNlcl80MiIsImp3dFZlcnNpb24iOjMsInJvbGUiOiJhZG1pbiIsImlhdC"
    "I6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9."
    "MnEabS05x-W8zCLYGRvGwy61dbFXyJBNpicyqrKrKwM";

/*
 * Made by node (JSON.stringify + createHmac) with the secret
 * "node-secret-\u00e9-0123456789" (UTF-8): header {"typ":"JWT","alg":"HS256"},
 * payload {"sub":"x","userId":"Ab-9_z","email":"a@b.c",
 * "aud":["xswarm-app","xswarm-billing"],"iss":"https://xswarm.ai",
 * "jwtVersion":12,"iat":1750000000,"exp":1750086400}.
 */
#define NODE_SECRET	"node-secret-\xc3\xa9-0123456789"
static const char vec_node[] =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
    "eyJzdWIiOiJ4IiwidXNlcklkIjoiQWItOV96IiwiZW1haWwiOiJhQGIuYyIsImF1ZCI6W"
    "yJ4c3dhcm0tYXBwIiwieHN3YXJtLWJpbGxpbmciXSwiaXNzIjoiaHR0cHM6Ly94c3dhcm"
    "0uYWkiLCJqd3RWZXJzaW9uIjoxMiwiaWF0IjoxNzUwMDAwMDAwLCJleHAiOjE3NTAwOD"
    "Y0MDB9."
    "Lb5TXvTUph0Az-rSGX9AEoegk5mL7rEEbcSXS0_NCYk";

static void
setup(void)
{
	ck_assert_int_eq(crypto_init(), XERR_OK);
}

/* Returns header.payload.signature for the given JSON texts; free()d by the caller. */
static char *
mk(const char *secret, const char *hdr, const char *payload)
{
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	char		*h, *p, *s, *tok;
	size_t		 sz;

	ck_assert_int_eq(crypto_b64_encode(hdr, strlen(hdr), 1, &h), XERR_OK);
	ck_assert_int_eq(crypto_b64_encode(payload, strlen(payload), 1, &p),
	    XERR_OK);
	sz = strlen(h) + strlen(p) + 64;
	ck_assert_ptr_nonnull(tok = malloc(sz));
	snprintf(tok, sz, "%s.%s", h, p);
	crypto_hmac_sha256(secret, strlen(secret), tok, strlen(tok), mac);
	ck_assert_int_eq(crypto_b64_encode(mac, sizeof(mac), 1, &s), XERR_OK);
	snprintf(tok + strlen(tok), sz - strlen(tok), ".%s", s);
	free(h);
	free(p);
	free(s);
	return tok;
}

/* A valid payload with one claim's JSON text replaced (or "" to drop it). */
static char *
payload(const char *iss, const char *aud, const char *uid, const char *ver,
    const char *role, const char *exp, const char *nbf)
{
	char	 buf[8192];
	size_t	 n = 0;

#define ADD(k, v) do {							\
	if ((v)[0] != '\0')						\
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,		\
		    "%s\"%s\":%s", n > 1 ? "," : "", k, v);		\
} while (0)
	n = (size_t)snprintf(buf, sizeof(buf), "{");
	ADD("iss", iss);
	ADD("aud", aud);
	ADD("userId", uid);
	ADD("jwtVersion", ver);
	ADD("role", role);
	ADD("iat", "1700000000");
	ADD("nbf", nbf);
	ADD("exp", exp);
#undef ADD
	snprintf(buf + n, sizeof(buf) - n, "}");
	return strdup(buf);
}

#define P_ISS	"\"" ISS "\""
#define P_AUD	"\"" AUD "\""
#define P_UID	"\"user_42\""
#define P_VER	"3"
#define P_EXP	"1700003600"
#define P_NBF	"1700000000"

/* Verifies a token from hdr and the payload pl (freed) at now. */
static enum xerr
check(const char *hdr, char *pl, long long now, struct jwt_claims *c,
    const char **why)
{
	char		*tok = mk(SECRET, hdr, pl);
	enum xerr	 rc;

	rc = jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, now, c, why);
	free(tok);
	free(pl);
	return rc;
}

#define REFUSED(rc, why, want) do {					\
	ck_assert_int_eq((rc), XERR_UNAUTH);				\
	ck_assert_ptr_nonnull(why);					\
	ck_assert_str_eq((why), (want));				\
} while (0)

START_TEST(sign_known_vector)
{
	struct jwt_claims	 c;
	char			*tok;

	memset(&c, 0, sizeof(c));
	snprintf(c.user_id, sizeof(c.user_id), "user_42");
	c.jwt_version = 3;
	c.role = JWT_ROLE_ADMIN;
	c.iat = c.nbf = 1700000000;
	c.exp = 1700003600;
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c, &tok),
	    XERR_OK);
	ck_assert_str_eq(tok, vec_signed);
	free(tok);
}
END_TEST

START_TEST(verify_known_vector)
{
	struct jwt_claims	 c;
	const char		*why = "x";

	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD,
	    vec_signed, NOW, &c, &why), XERR_OK);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(c.user_id, "user_42");
	ck_assert_int_eq(c.jwt_version, 3);
	ck_assert_int_eq(c.role, JWT_ROLE_ADMIN);
	ck_assert_int_eq(c.iat, 1700000000);
	ck_assert_int_eq(c.nbf, 1700000000);
	ck_assert_int_eq(c.exp, 1700003600);
}
END_TEST

START_TEST(verify_node_vector)
{
	struct jwt_claims	 c;
	const char		*why = NULL;

	ck_assert_int_eq(jwt_verify(NODE_SECRET, strlen(NODE_SECRET), ISS,
	    AUD, vec_node, 1750000100, &c, &why), XERR_OK);
	ck_assert_str_eq(c.user_id, "Ab-9_z");
	ck_assert_int_eq(c.jwt_version, 12);
	ck_assert_int_eq(c.role, JWT_ROLE_USER);
	ck_assert_int_eq(c.iat, 1750000000);
	ck_assert_int_eq(c.nbf, 0);
	ck_assert_int_eq(c.exp, 1750086400);

	/* Same token, our secret: refused. */
	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD,
	    vec_node, 1750000100, &c, &why), XERR_UNAUTH);
	ck_assert_str_eq(why, "bad_signature");
	ck_assert_str_eq(c.user_id, "");
}
END_TEST

START_TEST(round_trip_roles)
{
	struct jwt_claims	 c, got;
	const char		*why, *d1, *d2;
	unsigned char		*pl;
	size_t			 pllen;
	char			*tok;
	int			 r;

	for (r = JWT_ROLE_USER; r <= JWT_ROLE_SERVICE; r++) {
		memset(&c, 0, sizeof(c));
		memset(c.user_id, 'a', JWT_USER_ID_MAX);	/* longest id */
		c.jwt_version = 1;
		c.role = (enum jwt_role)r;
		c.iat = c.nbf = NOW;
		c.exp = NOW + 900;
		ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c,
		    &tok), XERR_OK);
		ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD,
		    tok, NOW, &got, &why), XERR_OK);
		ck_assert_str_eq(got.user_id, c.user_id);
		ck_assert_int_eq(got.role, r);
		ck_assert_int_eq(got.jwt_version, 1);
		/* A user's token carries no role claim. */
		d1 = strchr(tok, '.');
		d2 = strrchr(tok, '.');
		ck_assert_int_eq(crypto_b64_decode(d1 + 1,
		    (size_t)(d2 - d1 - 1), 1, &pl, &pllen), XERR_OK);
		ck_assert_int_eq(strstr((char *)pl, "\"role\"") != NULL,
		    r != JWT_ROLE_USER);
		free(pl);
		free(tok);
	}
}
END_TEST

START_TEST(sign_rejects)
{
	struct jwt_claims	 c;
	char			*tok = (char *)"x";

	memset(&c, 0, sizeof(c));
	snprintf(c.user_id, sizeof(c.user_id), "bad id");
	c.jwt_version = 1;
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c, &tok),
	    XERR_BADREQ);
	ck_assert_ptr_null(tok);
	snprintf(c.user_id, sizeof(c.user_id), "ok");
	c.jwt_version = 0;
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c, &tok),
	    XERR_BADREQ);
	c.jwt_version = 1;
	c.role = (enum jwt_role)7;
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c, &tok),
	    XERR_BADREQ);
	c.role = JWT_ROLE_USER;
	ck_assert_int_eq(jwt_sign("", 0, ISS, AUD, &c, &tok), XERR_INTERNAL);
	c.user_id[0] = '\0';
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c, &tok),
	    XERR_BADREQ);
}
END_TEST

START_TEST(empty_secret)
{
	struct jwt_claims	 c;
	const char		*why;

	ck_assert_int_eq(jwt_verify("", 0, ISS, AUD, vec_signed, NOW, &c,
	    &why), XERR_INTERNAL);
	ck_assert_int_eq(jwt_verify(NULL, 0, ISS, AUD, vec_signed, NOW, &c,
	    &why), XERR_INTERNAL);
}
END_TEST

/* Headers: the algorithm is ours, not the token's. */
static const struct {
	const char	*hdr;
	const char	*why;	/* NULL: accepted */
} headers[] = {
	{ HDR, NULL },
	{ "{\"alg\":\"HS256\"}", NULL },
	{ "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"k1\"}", NULL },
	{ "{\"alg\":\"none\",\"typ\":\"JWT\"}", "bad_alg" },
	{ "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", "bad_alg" },
	{ "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", "bad_alg" },
	{ "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "bad_alg" },
	{ "{\"alg\":\"HS256 \",\"typ\":\"JWT\"}", "bad_alg" },
	{ "{\"alg\":[\"HS256\"]}", "bad_alg" },
	{ "{\"typ\":\"JWT\"}", "bad_alg" },
	{ "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", "malformed" },
	{ "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "malformed" },
	{ "not json", "malformed" },
	{ "[\"HS256\"]", "malformed" },
	{ "{\"alg\":\"HS256\"}x", "malformed" },
	{ "{\"alg\":\"HS256\",}", "malformed" },
	{ "{'alg':'HS256'}", "malformed" },
	{ "", "malformed" },
};

START_TEST(header_rules)
{
	struct jwt_claims	 c;
	const char		*why = NULL;
	size_t			 i = (size_t)_i;
	char			*tok, *pl;
	enum xerr		 rc;

	pl = payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP, P_NBF);
	tok = mk(SECRET, headers[i].hdr, pl);
	free(pl);
	rc = jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c, &why);
	if (headers[i].why == NULL)
		ck_assert_msg(rc == XERR_OK, "%s: %s", headers[i].hdr, why);
	else {
		ck_assert_msg(rc == XERR_UNAUTH && why != NULL &&
		    strcmp(why, headers[i].why) == 0, "%s: got %s",
		    headers[i].hdr, why ? why : "ok");
	}
	free(tok);
}
END_TEST

START_TEST(alg_none_unsigned)
{
	struct jwt_claims	 c;
	const char		*why;
	char			*tok, *dot, *pl;

	/* The classic: alg none and no signature at all. */
	pl = payload(P_ISS, P_AUD, P_UID, P_VER, "\"admin\"", P_EXP, P_NBF);
	tok = mk(SECRET, "{\"alg\":\"none\",\"typ\":\"JWT\"}", pl);
	free(pl);
	dot = strrchr(tok, '.');
	dot[1] = '\0';
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
}
END_TEST

/* Swaps the payload of a valid token for another one: signature fails. */
START_TEST(tampered_payload)
{
	struct jwt_claims	 c;
	const char		*why;
	char			*good, *evil, *out, *pl;
	const char		*g1, *g2, *e1, *e2;
	size_t			 sz;

	pl = payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP, P_NBF);
	good = mk(SECRET, HDR, pl);
	free(pl);
	pl = payload(P_ISS, P_AUD, P_UID, P_VER, "\"admin\"", P_EXP, P_NBF);
	evil = mk("other", HDR, pl);
	free(pl);
	g1 = strchr(good, '.');
	g2 = strrchr(good, '.');
	e1 = strchr(evil, '.');
	e2 = strrchr(evil, '.');
	sz = strlen(good) + strlen(evil);
	ck_assert_ptr_nonnull(out = malloc(sz));
	snprintf(out, sz, "%.*s%.*s%s", (int)(g1 - good), good,
	    (int)(e2 - e1), e1, g2);
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, out, NOW, &c,
	    &why), why, "bad_signature");
	ck_assert_str_eq(c.user_id, "");
	free(good);
	free(evil);
	free(out);
}
END_TEST

START_TEST(tampered_signature)
{
	struct jwt_claims	 c;
	const char		*why;
	char			*tok, *sig;

	ck_assert_ptr_nonnull(tok = strdup(vec_signed));
	sig = strrchr(tok, '.') + 1;
	sig[0] = sig[0] == 'M' ? 'N' : 'M';
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c,
	    &why), why, "bad_signature");

	/* A short signature (16 bytes) is a bad one, not a crash. */
	snprintf(sig, strlen(sig) + 1, "AAAAAAAAAAAAAAAAAAAAAA");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c,
	    &why), why, "bad_signature");

	/* Padding is not base64url. */
	ck_assert_ptr_nonnull(tok = realloc(tok, strlen(vec_signed) + 2));
	snprintf(tok, strlen(vec_signed) + 2, "%s=", vec_signed);
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
}
END_TEST

START_TEST(wrong_secret)
{
	struct jwt_claims	 c;
	const char		*why;

	REFUSED(jwt_verify(SECRET "x", strlen(SECRET) + 1, ISS, AUD,
	    vec_signed, NOW, &c, &why), why, "bad_signature");
}
END_TEST

START_TEST(time_rules)
{
	struct jwt_claims	 c;
	const char		*why;

	/* exp 1700003600: refused from exp + 30 s on. */
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    P_EXP, ""), 1700003629, &c, &why), XERR_OK);
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP, ""),
	    1700003630, &c, &why), why, "expired");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP, ""),
	    1800000000, &c, &why), why, "expired");

	/* nbf 1700000000: accepted from nbf - 30 s on. */
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    P_EXP, P_NBF), 1699999970, &c, &why), XERR_OK);
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP,
	    P_NBF), 1699999969, &c, &why), why, "not_yet_valid");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP,
	    "1700003000"), NOW, &c, &why), why, "not_yet_valid");

	/* exp is required and numeric; fractions are dropped. */
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "", "", ""),
	    NOW, &c, &why), why, "bad_claims");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    "\"1700003600\"", ""), NOW, &c, &why), why, "bad_claims");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP,
	    "null"), NOW, &c, &why), why, "bad_claims");
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    "1700003600.9", ""), NOW, &c, &why), XERR_OK);
	ck_assert_int_eq(c.exp, 1700003600);

	/* The ends of time do not overflow. */
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    "9223372036854775807", "-9223372036854775808"), NOW, &c, &why),
	    XERR_OK);
}
END_TEST

START_TEST(issuer_audience)
{
	struct jwt_claims	 c;
	const char		*why;

	REFUSED(check(HDR, payload("\"https://evil.example\"", P_AUD, P_UID,
	    P_VER, "", P_EXP, ""), NOW, &c, &why), why, "bad_issuer");
	REFUSED(check(HDR, payload("", P_AUD, P_UID, P_VER, "", P_EXP, ""),
	    NOW, &c, &why), why, "bad_issuer");
	REFUSED(check(HDR, payload("\"https://xswarm.ai/\"", P_AUD, P_UID,
	    P_VER, "", P_EXP, ""), NOW, &c, &why), why, "bad_issuer");
	REFUSED(check(HDR, payload("[\"" ISS "\"]", P_AUD, P_UID, P_VER, "",
	    P_EXP, ""), NOW, &c, &why), why, "bad_issuer");

	REFUSED(check(HDR, payload(P_ISS, "\"xswarm-app\"", P_UID, P_VER, "",
	    P_EXP, ""), NOW, &c, &why), why, "bad_audience");
	REFUSED(check(HDR, payload(P_ISS, "", P_UID, P_VER, "", P_EXP, ""),
	    NOW, &c, &why), why, "bad_audience");
	REFUSED(check(HDR, payload(P_ISS, "[\"a\",\"b\"]", P_UID, P_VER, "",
	    P_EXP, ""), NOW, &c, &why), why, "bad_audience");
	REFUSED(check(HDR, payload(P_ISS, "[]", P_UID, P_VER, "", P_EXP, ""),
	    NOW, &c, &why), why, "bad_audience");
	REFUSED(check(HDR, payload(P_ISS, "42", P_UID, P_VER, "", P_EXP, ""),
	    NOW, &c, &why), why, "bad_audience");
	ck_assert_int_eq(check(HDR, payload(P_ISS, "[\"a\",\"" AUD "\"]",
	    P_UID, P_VER, "", P_EXP, ""), NOW, &c, &why), XERR_OK);
	ck_assert_int_eq(check(HDR, payload(P_ISS, "[\"" AUD "\"]", P_UID,
	    P_VER, "", P_EXP, ""), NOW, &c, &why), XERR_OK);
}
END_TEST

START_TEST(user_id_rules)
{
	static const char *const bad[] = { "\"a b\"", "\"a/b\"", "\"a.b\"",
	    "\"\\u00e9\"", "\"\"", "\"a\\u0000b\"", "42", "null",
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	    "" };
	struct jwt_claims	 c;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REFUSED(check(HDR, payload(P_ISS, P_AUD, bad[i], P_VER, "",
		    P_EXP, ""), NOW, &c, &why), why, "bad_claims");
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD,
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	    P_VER, "", P_EXP, ""), NOW, &c, &why), XERR_OK);
	ck_assert_uint_eq(strlen(c.user_id), 64);
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, "\"A-z_0-9\"", P_VER,
	    "", P_EXP, ""), NOW, &c, &why), XERR_OK);
	ck_assert_str_eq(c.user_id, "A-z_0-9");
}
END_TEST

START_TEST(version_rules)
{
	static const char *const bad[] = { "", "0", "-1", "\"1\"", "1.5",
	    "1.0", "true", "null" };
	struct jwt_claims	 c;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, bad[i], "",
		    P_EXP, ""), NOW, &c, &why), why, "bad_claims");
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, "1", "",
	    P_EXP, ""), NOW, &c, &why), XERR_OK);
	ck_assert_int_eq(c.jwt_version, 1);
}
END_TEST

START_TEST(role_rules)
{
	struct jwt_claims	 c;
	const char		*why;

	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER,
	    "\"admin\"", P_EXP, ""), NOW, &c, &why), XERR_OK);
	ck_assert_int_eq(c.role, JWT_ROLE_ADMIN);
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER,
	    "\"service\"", P_EXP, ""), NOW, &c, &why), XERR_OK);
	ck_assert_int_eq(c.role, JWT_ROLE_SERVICE);
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER,
	    "\"user\"", P_EXP, ""), NOW, &c, &why), XERR_OK);
	ck_assert_int_eq(c.role, JWT_ROLE_USER);
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "\"root\"",
	    P_EXP, ""), NOW, &c, &why), why, "bad_claims");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "\"Admin\"",
	    P_EXP, ""), NOW, &c, &why), why, "bad_claims");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "1", P_EXP,
	    ""), NOW, &c, &why), why, "bad_claims");
}
END_TEST

START_TEST(shape_rules)
{
	static const char *const bad[] = { "", ".", "..", "...", "a..c",
	    ".b.c", "a.b.", "a.b", "a.b.c.d", "abc",
	    "eyJhbGciOiJIUzI1NiJ9.e30.e30.e30" };
	struct jwt_claims	 c;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, bad[i],
		    NOW, &c, &why), why, "malformed");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, NULL, NOW, &c,
	    &why), why, "malformed");
	/* why may be NULL. */
	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, "a.b.c",
	    NOW, &c, NULL), XERR_UNAUTH);
}
END_TEST

START_TEST(payload_not_json)
{
	struct jwt_claims	 c;
	const char		*why;
	char			*tok;

	/* Signed, but not a JSON object: refused after the signature. */
	tok = mk(SECRET, HDR, "[1,2,3]");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
	tok = mk(SECRET, HDR, "{\"exp\":1700003600");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
}
END_TEST

START_TEST(oversize)
{
	struct jwt_claims	 c;
	const char		*why;
	char			*tok, *pl, *big;
	size_t			 n;

	/* A correctly signed token, valid but for its size. */
	n = JWT_MAX_TOKEN;
	ck_assert_ptr_nonnull(big = malloc(n + 16));
	memset(big, 'x', n);
	big[0] = '"';
	big[n - 1] = '"';
	big[n] = '\0';
	pl = payload(P_ISS, P_AUD, P_UID, P_VER, "", P_EXP, big);
	/* nbf as a long string would be bad_claims; the size comes first. */
	tok = mk(SECRET, HDR, pl);
	ck_assert_uint_gt(strlen(tok), JWT_MAX_TOKEN);
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
	free(pl);
	free(big);

	/* 4097 bytes of anything. */
	ck_assert_ptr_nonnull(big = malloc(JWT_MAX_TOKEN + 2));
	memset(big, 'a', JWT_MAX_TOKEN + 1);
	big[10] = big[20] = '.';
	big[JWT_MAX_TOKEN + 1] = '\0';
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, big, NOW, &c,
	    &why), why, "malformed");
	free(big);
}
END_TEST

static Suite *
jwt_suite(void)
{
	Suite	*s = suite_create("jwt");
	TCase	*tc;

	tc = tcase_create("vectors");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, sign_known_vector);
	tcase_add_test(tc, verify_known_vector);
	tcase_add_test(tc, verify_node_vector);
	tcase_add_test(tc, round_trip_roles);
	tcase_add_test(tc, sign_rejects);
	tcase_add_test(tc, empty_secret);
	suite_add_tcase(s, tc);

	tc = tcase_create("header");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, header_rules, 0,
	    (int)(sizeof(headers) / sizeof(headers[0])));
	tcase_add_test(tc, alg_none_unsigned);
	suite_add_tcase(s, tc);

	tc = tcase_create("signature");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, tampered_payload);
	tcase_add_test(tc, tampered_signature);
	tcase_add_test(tc, wrong_secret);
	suite_add_tcase(s, tc);

	tc = tcase_create("claims");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, time_rules);
	tcase_add_test(tc, issuer_audience);
	tcase_add_test(tc, user_id_rules);
	tcase_add_test(tc, version_rules);
	tcase_add_test(tc, role_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("shape");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, shape_rules);
	tcase_add_test(tc, payload_not_json);
	tcase_add_test(tc, oversize);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(jwt_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
