#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/jwt.h"

#define SECRET	"test-secret-0123456789abcdef0123456789"
#define ISS	"https://xswarm.ai"
#define AUD	"xswarm-billing"
#define NOW	1700000100LL
#define HDR	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define MAXLIFE	86400LL		/* USER_JWT_MAX_LIFETIME's default */

/*
 * Built with node's crypto only (createHmac over base64url segments) from
 * HDR and the payload
 * {"iss":"https://xswarm.ai","aud":"xswarm-billing","userId":"user_42",
 *  "jwtVersion":3,"iat":1700000000,"nbf":1700000000,"exp":1700003600}
 * with SECRET: jwt_sign() must produce these bytes.
 */
static const char vec_signed[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL3hzd2FybS5haSIsImF1ZCI6Inhzd2FybS1iaWxsaW5nIiwid"
    "XNlcklkIjoidXNlcl80MiIsImp3dFZlcnNpb24iOjMsImlhdCI6MTcwMDAwMDAwMCwibm"
    "JmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9."
    "QCwqdQdhGAP7mmRdS9BM7sqb5D9E1Zu5_MGF9GlvaoE";

/*
 * The same, made by node, with "role":"admin" after "jwtVersion": a token
 * of the app's key claiming admin, which must be refused.
 */
static const char vec_hs256_admin[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL3hzd2FybS5haSIsImF1ZCI6Inhzd2FybS1iaWxsaW5nIiwid"
    "XNlcklkIjoidXNlcl80MiIsImp3dFZlcnNpb24iOjMsInJvbGUiOiJhZG1pbiIsImlhdC"
    "I6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9."
    "MnEabS05x-W8zCLYGRvGwy61dbFXyJBNpicyqrKrKwM";

/*
 * RFC 8032 section 7.1, TEST 1: the secret key (seed), its public key and
 * the signature of the empty message.
 */
static const char rfc8032_seed[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc8032_pk[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc8032_sig[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821"
    "590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

#define AUD_ADMIN	"xswarm-billing-admin"
#define AUD_SERVICE	"xswarm-billing-service"
#define ADMIN_LIFE	3600LL

/*
 * Made by node (crypto.sign(null, ...) with the RFC 8032 TEST 1 key) from
 * {"alg":"EdDSA","typ":"JWT"} and the payload
 * {"iss":"https://xswarm.ai","aud":"xswarm-billing-admin","userId":"ops",
 *  "role":"admin","iat":1700000000,"nbf":1700000000,"exp":1700003600}:
 * jwt_sign_eddsa() must produce these bytes.
 */
static const char vec_eddsa[] =
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL3hzd2FybS5haSIsImF1ZCI6Inhzd2FybS1iaWxsaW5nLWFkb"
    "WluIiwidXNlcklkIjoib3BzIiwicm9sZSI6ImFkbWluIiwiaWF0IjoxNzAwMDAwMDAwLC"
    "JuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0."
    "ZxtZZLT5quFfaLiSQqNS6YJ6CIkolaHWw6AD5zD38Rq6fcoQgnSXj8-ajIssfedJw1BUXu"
    "Ul-Is5os8EYtfECA";

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

/*
 * Returns header.payload.signature for the given JSON texts, signed with
 * the HS256 secret or, when sk is not NULL, the Ed25519 key sk (libsodium
 * directly, not jwt.c); free()d by the caller.
 */
static char *
mk_with(const char *secret, const unsigned char *sk, const char *hdr,
    const char *payload)
{
	unsigned char	 sig[crypto_sign_BYTES];
	char		*h, *p, *s, *tok;
	size_t		 sz, siglen = CRYPTO_SHA256_LEN;

	ck_assert_int_eq(crypto_b64_encode(hdr, strlen(hdr), 1, &h), XERR_OK);
	ck_assert_int_eq(crypto_b64_encode(payload, strlen(payload), 1, &p),
	    XERR_OK);
	sz = strlen(h) + strlen(p) + 128;
	ck_assert_ptr_nonnull(tok = malloc(sz));
	snprintf(tok, sz, "%s.%s", h, p);
	if (sk == NULL)
		crypto_hmac_sha256(secret, strlen(secret), tok, strlen(tok),
		    sig);
	else {
		siglen = sizeof(sig);
		ck_assert_int_eq(crypto_sign_detached(sig, NULL,
		    (unsigned char *)tok, strlen(tok), sk), 0);
	}
	ck_assert_int_eq(crypto_b64_encode(sig, siglen, 1, &s), XERR_OK);
	snprintf(tok + strlen(tok), sz - strlen(tok), ".%s", s);
	free(h);
	free(p);
	free(s);
	return tok;
}

/* An HS256-signed token of the JSON texts; free()d by the caller. */
static char *
mk(const char *secret, const char *hdr, const char *payload)
{
	return mk_with(secret, NULL, hdr, payload);
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

	rc = jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, now, c, why);
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
	c.role = JWT_ROLE_USER;
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

	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE,
	    vec_signed, NOW, &c, &why), XERR_OK);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(c.user_id, "user_42");
	ck_assert_int_eq(c.jwt_version, 3);
	ck_assert_int_eq(c.role, JWT_ROLE_USER);
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
	    AUD, MAXLIFE, vec_node, 1750000100, &c, &why), XERR_OK);
	ck_assert_str_eq(c.user_id, "Ab-9_z");
	ck_assert_int_eq(c.jwt_version, 12);
	ck_assert_int_eq(c.role, JWT_ROLE_USER);
	ck_assert_int_eq(c.iat, 1750000000);
	ck_assert_int_eq(c.nbf, 0);
	ck_assert_int_eq(c.exp, 1750086400);

	/* Same token, our secret: refused. */
	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE,
	    vec_node, 1750000100, &c, &why), XERR_UNAUTH);
	ck_assert_str_eq(why, "bad_signature");
	ck_assert_str_eq(c.user_id, "");
}
END_TEST

START_TEST(round_trip_user)
{
	struct jwt_claims	 c, got;
	const char		*why, *d1, *d2;
	unsigned char		*pl;
	size_t			 pllen;
	char			*tok;

	memset(&c, 0, sizeof(c));
	memset(c.user_id, 'a', JWT_USER_ID_MAX);	/* longest id */
	c.jwt_version = 1;
	c.role = JWT_ROLE_USER;
	c.iat = c.nbf = NOW;
	c.exp = NOW + 900;
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c,
	    &tok), XERR_OK);
	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE,
	    tok, NOW, &got, &why), XERR_OK);
	ck_assert_str_eq(got.user_id, c.user_id);
	ck_assert_int_eq(got.role, JWT_ROLE_USER);
	ck_assert_int_eq(got.jwt_version, 1);
	/* A user's token carries no role claim. */
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	ck_assert_int_eq(crypto_b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), 1,
	    &pl, &pllen), XERR_OK);
	ck_assert_ptr_null(strstr((char *)pl, "\"role\""));
	free(pl);
	free(tok);
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
	/* The app's key signs users only. */
	c.role = JWT_ROLE_ADMIN;
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c, &tok),
	    XERR_BADREQ);
	c.role = JWT_ROLE_SERVICE;
	ck_assert_int_eq(jwt_sign(SECRET, strlen(SECRET), ISS, AUD, &c, &tok),
	    XERR_BADREQ);
	ck_assert_ptr_null(tok);
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

	ck_assert_int_eq(jwt_verify("", 0, ISS, AUD, MAXLIFE, vec_signed, NOW, &c,
	    &why), XERR_INTERNAL);
	ck_assert_int_eq(jwt_verify(NULL, 0, ISS, AUD, MAXLIFE, vec_signed, NOW, &c,
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
	rc = jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c, &why);
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
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c,
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
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, out, NOW, &c,
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
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c,
	    &why), why, "bad_signature");

	/* A short signature (16 bytes) is a bad one, not a crash. */
	snprintf(sig, strlen(sig) + 1, "AAAAAAAAAAAAAAAAAAAAAA");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c,
	    &why), why, "bad_signature");

	/* Padding is not base64url. */
	ck_assert_ptr_nonnull(tok = realloc(tok, strlen(vec_signed) + 2));
	snprintf(tok, strlen(vec_signed) + 2, "%s=", vec_signed);
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
}
END_TEST

START_TEST(wrong_secret)
{
	struct jwt_claims	 c;
	const char		*why;

	REFUSED(jwt_verify(SECRET "x", strlen(SECRET) + 1, ISS, AUD, MAXLIFE,
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

	/* The ends of time do not overflow, and an exp in 2100 is too long. */
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    "9223372036854775807", "-9223372036854775808"), NOW, &c, &why),
	    why, "bad_lifetime");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    "4102444800", ""), NOW, &c, &why), why, "bad_lifetime");
	/* iat 1700000000 + MAXLIFE is the longest a user token may run. */
	ck_assert_int_eq(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    "1700086400", ""), NOW, &c, &why), XERR_OK);
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "",
	    "1700086401", ""), NOW, &c, &why), why, "bad_lifetime");
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

	/* HS256 is the app's key: a role above user is refused. */
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "\"admin\"",
	    P_EXP, ""), NOW, &c, &why), why, "bad_role");
	REFUSED(check(HDR, payload(P_ISS, P_AUD, P_UID, P_VER, "\"service\"",
	    P_EXP, ""), NOW, &c, &why), why, "bad_role");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE,
	    vec_hs256_admin, NOW, &c, &why), why, "bad_role");
	ck_assert_str_eq(c.user_id, "");
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

START_TEST(iat_rules)
{
	struct jwt_claims	 c;
	const char		*why;
	char			*tok;

	/* iat missing. */
	tok = mk(SECRET, HDR, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	    "\"userId\":\"u\",\"jwtVersion\":1,\"exp\":1700003600}");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW,
	    &c, &why), why, "bad_claims");
	free(tok);
	/* iat in the future beyond the leeway, then within it. */
	tok = mk(SECRET, HDR, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	    "\"userId\":\"u\",\"jwtVersion\":1,\"iat\":1700000200,"
	    "\"exp\":1700003600}");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW,
	    &c, &why), why, "not_yet_valid");
	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE,
	    tok, 1700000170, &c, &why), XERR_OK);
	free(tok);
	/* exp before iat. */
	tok = mk(SECRET, HDR, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	    "\"userId\":\"u\",\"jwtVersion\":1,\"iat\":1700000000,"
	    "\"exp\":1699999999}");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok,
	    1699999990, &c, &why), why, "bad_lifetime");
	free(tok);
}
END_TEST

/* Decodes the hex text h into out (n bytes). */
static void
unhex(const char *h, unsigned char *out, size_t n)
{
	size_t	 i;
	unsigned int v;

	ck_assert_uint_eq(strlen(h), 2 * n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

/* The RFC 8032 TEST 1 keypair: pk (32 bytes) and libsodium's sk (64). */
static void
rfc_keys(unsigned char pk[JWT_ED25519_PK_LEN],
    unsigned char sk[JWT_ED25519_SK_LEN])
{
	unsigned char	 seed[crypto_sign_SEEDBYTES], want[JWT_ED25519_PK_LEN];

	unhex(rfc8032_seed, seed, sizeof(seed));
	unhex(rfc8032_pk, want, sizeof(want));
	ck_assert_int_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
	ck_assert_mem_eq(pk, want, sizeof(want));
}

/* An EdDSA-signed token of the JSON texts; free()d by the caller. */
static char *
mk_ed(const unsigned char *sk, const char *hdr, const char *payload)
{
	return mk_with(NULL, sk, hdr, payload);
}

#define EDHDR	"{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"

/* An admin payload with iat and exp as given ("" drops iat). */
static void
ed_payload(char *buf, size_t sz, const char *aud, const char *role,
    const char *iat, const char *exp)
{
	snprintf(buf, sz, "{\"iss\":\"" ISS "\",\"aud\":\"%s\","
	    "\"userId\":\"ops\",\"role\":\"%s\"%s%s,\"exp\":%s}", aud, role,
	    *iat ? ",\"iat\":" : "", iat, exp);
}

START_TEST(eddsa_rfc8032_vector)
{
	unsigned char	 pk[JWT_ED25519_PK_LEN], sk[JWT_ED25519_SK_LEN];
	unsigned char	 sig[crypto_sign_BYTES], want[crypto_sign_BYTES];

	rfc_keys(pk, sk);
	unhex(rfc8032_sig, want, sizeof(want));
	ck_assert_int_eq(crypto_sign_detached(sig, NULL,
	    (const unsigned char *)"", 0, sk), 0);
	ck_assert_mem_eq(sig, want, sizeof(want));
	ck_assert_int_eq(crypto_sign_verify_detached(want,
	    (const unsigned char *)"", 0, pk), 0);
}
END_TEST

START_TEST(eddsa_known_token)
{
	unsigned char	 pk[1][JWT_ED25519_PK_LEN], sk[JWT_ED25519_SK_LEN];
	struct jwt_claims c;
	const char	*why = "x";
	char		*tok;

	rfc_keys(pk[0], sk);
	memset(&c, 0, sizeof(c));
	snprintf(c.user_id, sizeof(c.user_id), "ops");
	c.role = JWT_ROLE_ADMIN;
	c.iat = c.nbf = 1700000000;
	c.exp = 1700003600;
	ck_assert_int_eq(jwt_sign_eddsa(sk, ISS, AUD_ADMIN, &c, &tok),
	    XERR_OK);
	ck_assert_str_eq(tok, vec_eddsa);
	free(tok);
	ck_assert_int_eq(jwt_verify_eddsa(pk, 1, ISS, AUD_ADMIN,
	    JWT_ROLE_ADMIN, ADMIN_LIFE, vec_eddsa, NOW, &c, &why), XERR_OK);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(c.user_id, "ops");
	ck_assert_int_eq(c.role, JWT_ROLE_ADMIN);
	ck_assert_int_eq(c.jwt_version, 0);
	ck_assert_int_eq(jwt_alg(vec_eddsa), JWT_ALG_EDDSA);
	ck_assert_int_eq(jwt_alg(vec_signed), JWT_ALG_HS256);
	ck_assert_int_eq(jwt_alg("e30.e30.x"), JWT_ALG_OTHER);
	ck_assert_int_eq(jwt_alg("nothing"), JWT_ALG_OTHER);
	/* Users are not signed with keys. */
	c.role = JWT_ROLE_USER;
	c.jwt_version = 1;
	ck_assert_int_eq(jwt_sign_eddsa(sk, ISS, AUD_ADMIN, &c, &tok),
	    XERR_BADREQ);
	ck_assert_int_eq(jwt_verify_eddsa(pk, 1, ISS, AUD_ADMIN,
	    JWT_ROLE_USER, ADMIN_LIFE, vec_eddsa, NOW, &c, &why),
	    XERR_INTERNAL);
	ck_assert_int_eq(jwt_verify_eddsa(pk, 0, ISS, AUD_ADMIN,
	    JWT_ROLE_ADMIN, ADMIN_LIFE, vec_eddsa, NOW, &c, &why),
	    XERR_INTERNAL);
}
END_TEST

START_TEST(eddsa_keys_and_rotation)
{
	unsigned char	 keys[2][JWT_ED25519_PK_LEN], sk[2][JWT_ED25519_SK_LEN];
	unsigned char	 other[1][JWT_ED25519_PK_LEN], osk[JWT_ED25519_SK_LEN];
	struct jwt_claims c;
	const char	*why;
	char		 pl[512], *tok;

	crypto_sign_keypair(keys[0], sk[0]);
	crypto_sign_keypair(keys[1], sk[1]);
	crypto_sign_keypair(other[0], osk);
	ed_payload(pl, sizeof(pl), AUD_ADMIN, "admin", "1700000000",
	    "1700003600");

	/* Signed by the new key: accepted while both are listed. */
	tok = mk_ed(sk[1], EDHDR, pl);
	ck_assert_int_eq(jwt_verify_eddsa(keys, 2, ISS, AUD_ADMIN,
	    JWT_ROLE_ADMIN, ADMIN_LIFE, tok, NOW, &c, &why), XERR_OK);
	/* ... and refused once only the old one is. */
	REFUSED(jwt_verify_eddsa(keys, 1, ISS, AUD_ADMIN, JWT_ROLE_ADMIN,
	    ADMIN_LIFE, tok, NOW, &c, &why), why, "bad_signature");
	free(tok);

	/* A key nobody listed. */
	tok = mk_ed(osk, EDHDR, pl);
	REFUSED(jwt_verify_eddsa(keys, 2, ISS, AUD_ADMIN, JWT_ROLE_ADMIN,
	    ADMIN_LIFE, tok, NOW, &c, &why), why, "bad_signature");
	ck_assert_int_eq(jwt_verify_eddsa(other, 1, ISS, AUD_ADMIN,
	    JWT_ROLE_ADMIN, ADMIN_LIFE, tok, NOW, &c, &why), XERR_OK);
	free(tok);
}
END_TEST

START_TEST(eddsa_claims)
{
	unsigned char	 pk[1][JWT_ED25519_PK_LEN], sk[JWT_ED25519_SK_LEN];
	struct jwt_claims c;
	const char	*why;
	char		 pl[512], *tok;

	crypto_sign_keypair(pk[0], sk);
#define ED(aud, role, iat, exp, wantrole, wantaud, life) (		\
	ed_payload(pl, sizeof(pl), aud, role, iat, exp),		\
	tok = mk_ed(sk, EDHDR, pl),					\
	jwt_verify_eddsa(pk, 1, ISS, wantaud, wantrole, life, tok, NOW,	\
	    &c, &why))

	/* Lifetime: 3600 s is the admin's maximum, one more is refused. */
	ck_assert_int_eq(ED(AUD_ADMIN, "admin", "1700000000", "1700003600",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), XERR_OK);
	free(tok);
	REFUSED(ED(AUD_ADMIN, "admin", "1700000000", "1700003601",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), why, "bad_lifetime");
	free(tok);
	/* A service may live 24 h. */
	ck_assert_int_eq(ED(AUD_SERVICE, "service", "1700000000",
	    "1700086400", JWT_ROLE_SERVICE, AUD_SERVICE, MAXLIFE), XERR_OK);
	ck_assert_int_eq(c.role, JWT_ROLE_SERVICE);
	free(tok);
	/* iat missing, iat in the future. */
	REFUSED(ED(AUD_ADMIN, "admin", "", "1700003600", JWT_ROLE_ADMIN,
	    AUD_ADMIN, ADMIN_LIFE), why, "bad_claims");
	free(tok);
	REFUSED(ED(AUD_ADMIN, "admin", "1700000200", "1700003600",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), why, "not_yet_valid");
	free(tok);
	/* Each role its audience: a service token is no admin's. */
	REFUSED(ED(AUD_SERVICE, "service", "1700000000", "1700003600",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), why, "bad_audience");
	free(tok);
	REFUSED(ED(AUD_ADMIN, "admin", "1700000000", "1700003600",
	    JWT_ROLE_SERVICE, AUD_SERVICE, MAXLIFE), why, "bad_audience");
	free(tok);
	REFUSED(ED("xswarm-billing", "admin", "1700000000", "1700003600",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), why, "bad_audience");
	free(tok);
	/* The right audience, the wrong role claim. */
	REFUSED(ED(AUD_ADMIN, "service", "1700000000", "1700003600",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), why, "bad_role");
	free(tok);
	REFUSED(ED(AUD_ADMIN, "user", "1700000000", "1700003600",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), why, "bad_role");
	free(tok);
	/* Expired. */
	REFUSED(ED(AUD_ADMIN, "admin", "1699990000", "1699993600",
	    JWT_ROLE_ADMIN, AUD_ADMIN, ADMIN_LIFE), why, "expired");
	free(tok);
#undef ED
}
END_TEST

START_TEST(eddsa_alg_confusion)
{
	unsigned char	 pk[1][JWT_ED25519_PK_LEN], sk[JWT_ED25519_SK_LEN];
	struct jwt_claims c;
	const char	*why;
	char		 pl[512], pkstr[JWT_ED25519_PK_LEN + 1], *tok, *b64;

	crypto_sign_keypair(pk[0], sk);
	ed_payload(pl, sizeof(pl), AUD_ADMIN, "admin", "1700000000",
	    "1700003600");

	/* HS256 with the public key (raw, then base64url) as the secret. */
	memcpy(pkstr, pk[0], JWT_ED25519_PK_LEN);
	pkstr[JWT_ED25519_PK_LEN] = '\0';
	tok = mk(pkstr, HDR, pl);
	REFUSED(jwt_verify_eddsa(pk, 1, ISS, AUD_ADMIN, JWT_ROLE_ADMIN,
	    ADMIN_LIFE, tok, NOW, &c, &why), why, "bad_alg");
	free(tok);
	ck_assert_int_eq(crypto_b64_encode(pk[0], JWT_ED25519_PK_LEN, 1, &b64),
	    XERR_OK);
	tok = mk(b64, HDR, pl);
	REFUSED(jwt_verify_eddsa(pk, 1, ISS, AUD_ADMIN, JWT_ROLE_ADMIN,
	    ADMIN_LIFE, tok, NOW, &c, &why), why, "bad_alg");
	/* ... nor is it a user token under the app's key. */
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD_ADMIN, MAXLIFE,
	    tok, NOW, &c, &why), why, "bad_signature");
	free(tok);
	free(b64);
	/* An HMAC signature under an EdDSA header. */
	tok = mk(SECRET, EDHDR, pl);
	REFUSED(jwt_verify_eddsa(pk, 1, ISS, AUD_ADMIN, JWT_ROLE_ADMIN,
	    ADMIN_LIFE, tok, NOW, &c, &why), why, "bad_signature");
	free(tok);
	/* alg none, "EdDSA" spelt otherwise, and EdDSA to the HS256 door. */
	tok = mk_ed(sk, "{\"alg\":\"none\"}", pl);
	REFUSED(jwt_verify_eddsa(pk, 1, ISS, AUD_ADMIN, JWT_ROLE_ADMIN,
	    ADMIN_LIFE, tok, NOW, &c, &why), why, "bad_alg");
	free(tok);
	tok = mk_ed(sk, "{\"alg\":\"Ed25519\"}", pl);
	REFUSED(jwt_verify_eddsa(pk, 1, ISS, AUD_ADMIN, JWT_ROLE_ADMIN,
	    ADMIN_LIFE, tok, NOW, &c, &why), why, "bad_alg");
	free(tok);
	tok = mk_ed(sk, EDHDR, pl);
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD_ADMIN, MAXLIFE,
	    tok, NOW, &c, &why), why, "bad_alg");
	free(tok);
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
		REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, bad[i],
		    NOW, &c, &why), why, "malformed");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, NULL, NOW, &c,
	    &why), why, "malformed");
	/* why may be NULL. */
	ck_assert_int_eq(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, "a.b.c",
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
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
	tok = mk(SECRET, HDR, "{\"exp\":1700003600");
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c,
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
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, tok, NOW, &c,
	    &why), why, "malformed");
	free(tok);
	free(pl);
	free(big);

	/* 4097 bytes of anything. */
	ck_assert_ptr_nonnull(big = malloc(JWT_MAX_TOKEN + 2));
	memset(big, 'a', JWT_MAX_TOKEN + 1);
	big[10] = big[20] = '.';
	big[JWT_MAX_TOKEN + 1] = '\0';
	REFUSED(jwt_verify(SECRET, strlen(SECRET), ISS, AUD, MAXLIFE, big, NOW, &c,
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
	tcase_add_test(tc, round_trip_user);
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
	tcase_add_test(tc, iat_rules);
	tcase_add_test(tc, eddsa_rfc8032_vector);
	tcase_add_test(tc, eddsa_known_token);
	tcase_add_test(tc, eddsa_keys_and_rotation);
	tcase_add_test(tc, eddsa_claims);
	tcase_add_test(tc, eddsa_alg_confusion);
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
