#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sodium.h>

#include "core/crypto.h"

#define CRYPTO_B64_ALNUM	"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
				"abcdefghijklmnopqrstuvwxyz0123456789"
#define CRYPTO_B64_URL		CRYPTO_B64_ALNUM "-_"
#define CRYPTO_B64_STD		CRYPTO_B64_ALNUM "+/="

/* A non-NULL pointer for empty inputs: libraries may not accept NULL. */
static const unsigned char crypto_empty[1];

/*
 * HMACs are libcrypto's, through one context per thread and digest, made
 * at the thread's first HMAC of that digest and set up again with each
 * call's key: libcrypto's HMAC() fetches the algorithms at every call
 * (its locks), and libsodium's SHA-256 does not use the CPU's SHA
 * instructions (7 against 1.5 us for a Stripe event's signature here).
 * crypto_hmac is fetched once, by crypto_init().  A thread that cannot
 * have a context computes HMAC-SHA256 with libsodium (the same MAC) and
 * HMAC-SHA1 with HMAC().
 */
enum crypto_md {
	CRYPTO_MD_SHA256,
	CRYPTO_MD_SHA1,
	CRYPTO_MD__MAX
};

static const char *const crypto_md_names[CRYPTO_MD__MAX] = {
	"SHA256", "SHA1",
};

static EVP_MAC		*crypto_hmac;
static pthread_key_t	 crypto_ctx_key;
static int		 crypto_ctx_ok;

/* A thread's contexts (the key's destructor frees them). */
struct crypto_ctxs {
	EVP_MAC_CTX	*ctx[CRYPTO_MD__MAX];
};

static void
crypto_ctxs_free(void *p)
{
	struct crypto_ctxs	*c = p;
	size_t			 i;

	for (i = 0; i < CRYPTO_MD__MAX; i++)
		EVP_MAC_CTX_free(c->ctx[i]);
	free(c);
}

enum xerr
crypto_init(void)
{
	if (sodium_init() < 0)
		return XERR_INTERNAL;
	if (crypto_hmac == NULL) {
		crypto_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		crypto_ctx_ok = crypto_hmac != NULL &&
		    pthread_key_create(&crypto_ctx_key, crypto_ctxs_free) == 0;
	}
	return XERR_OK;
}

/*
 * The calling thread's HMAC context of md, set up with key; NULL when it
 * cannot be had (the caller falls back).
 */
static EVP_MAC_CTX *
crypto_hmac_ctx(enum crypto_md md, const void *key, size_t keylen)
{
	struct crypto_ctxs	*c;
	EVP_MAC_CTX		*x;
	OSSL_PARAM		 p[2];

	if (!crypto_ctx_ok)
		return NULL;
	if ((c = pthread_getspecific(crypto_ctx_key)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		if (pthread_setspecific(crypto_ctx_key, c) != 0) {
			free(c);
			return NULL;
		}
	}
	if ((x = c->ctx[md]) == NULL) {
		if ((x = EVP_MAC_CTX_new(crypto_hmac)) == NULL)
			return NULL;
		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)crypto_md_names[md], 0);
		p[1] = OSSL_PARAM_construct_end();
		if (EVP_MAC_CTX_set_params(x, p) != 1) {
			EVP_MAC_CTX_free(x);
			return NULL;
		}
		c->ctx[md] = x;
	}
	if (EVP_MAC_init(x, key, keylen, NULL) != 1)
		return NULL;
	return x;
}

/* HMAC of msg with md under key into out (outlen bytes); -1 on failure. */
static int
crypto_hmac_run(enum crypto_md md, const void *key, size_t keylen,
    const void *msg, size_t msglen, unsigned char *out, size_t outlen)
{
	EVP_MAC_CTX	*x;
	size_t		 got = 0;

	if ((x = crypto_hmac_ctx(md, key, keylen)) == NULL ||
	    EVP_MAC_update(x, msg, msglen) != 1 ||
	    EVP_MAC_final(x, out, &got, outlen) != 1 || got != outlen)
		return -1;
	return 0;
}

void
crypto_sha256(const void *msg, size_t msglen,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	crypto_hash_sha256(out, msg, msglen);
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char out[CRYPTO_SHA256_LEN])
{
	crypto_auth_hmacsha256_state	 st;

	if (key == NULL)
		key = crypto_empty;
	if (msg == NULL)
		msg = crypto_empty;
	if (crypto_hmac_run(CRYPTO_MD_SHA256, key, keylen, msg, msglen, out,
	    CRYPTO_SHA256_LEN) == 0)
		return;
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, msglen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

enum xerr
crypto_hmac_sha1(const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char out[CRYPTO_SHA1_LEN])
{
	unsigned int	 len = 0;

	memset(out, 0, CRYPTO_SHA1_LEN);
	if (keylen > INT_MAX)
		return XERR_BADREQ;
	if (key == NULL)
		key = crypto_empty;
	if (msg == NULL)
		msg = crypto_empty;
	if (crypto_hmac_run(CRYPTO_MD_SHA1, key, keylen, msg, msglen, out,
	    CRYPTO_SHA1_LEN) == 0)
		return XERR_OK;
	if (HMAC(EVP_sha1(), key, (int)keylen, msg, msglen, out, &len) ==
	    NULL || len != CRYPTO_SHA1_LEN) {
		memset(out, 0, CRYPTO_SHA1_LEN);
		return XERR_INTERNAL;
	}
	return XERR_OK;
}

int
crypto_ct_equal(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return 1;
	return sodium_memcmp(a, b, len) == 0;
}

int
crypto_ct_streq(const char *a, const char *b)
{
	size_t	 alen, blen;

	if (a == NULL || b == NULL)
		return 0;
	alen = strlen(a);
	blen = strlen(b);
	if (alen != blen)
		return 0;
	return crypto_ct_equal(a, b, alen);
}

uint32_t
crypto_random_below(uint32_t n)
{
	return randombytes_uniform(n);
}

void
crypto_random_hex(char *out, size_t nbytes)
{
	unsigned char	 chunk[32];
	size_t		 n;

	out[0] = '\0';
	while (nbytes > 0) {
		n = nbytes < sizeof(chunk) ? nbytes : sizeof(chunk);
		randombytes_buf(chunk, n);
		/* Writes 2n digits and a NUL, overwritten by the next round. */
		sodium_bin2hex(out, 2 * n + 1, chunk, n);
		out += 2 * n;
		nbytes -= n;
	}
	sodium_memzero(chunk, sizeof(chunk));
}

void
crypto_uuid4(char out[CRYPTO_UUID_LEN + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 b[16];
	size_t			 i, o = 0;

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = digits[b[i] >> 4];
		out[o++] = digits[b[i] & 0x0f];
	}
	out[o] = '\0';
}

enum xerr
crypto_hex(const unsigned char *bin, size_t len, char *out, size_t outsz)
{
	if (len > (SIZE_MAX - 1) / 2 || outsz < 2 * len + 1) {
		if (outsz > 0)
			out[0] = '\0';
		return XERR_TOOBIG;
	}
	if (len == 0) {
		out[0] = '\0';
		return XERR_OK;
	}
	sodium_bin2hex(out, outsz, bin, len);
	return XERR_OK;
}

enum xerr
crypto_unhex(const char *hex, size_t hexlen, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	size_t	 n = 0;

	*outlen = 0;
	if (hexlen % 2 != 0 || hexlen / 2 > outsz)
		return XERR_BADREQ;
	if (hexlen == 0)
		return XERR_OK;
	/* With no ignore set and no end pointer, any stray byte fails. */
	if (sodium_hex2bin(out, outsz, hex, hexlen, NULL, &n, NULL) != 0 ||
	    n != hexlen / 2)
		return XERR_BADREQ;
	*outlen = n;
	return XERR_OK;
}

static int
crypto_b64_variant(int urlsafe_nopad)
{
	return urlsafe_nopad ? sodium_base64_VARIANT_URLSAFE_NO_PADDING :
	    sodium_base64_VARIANT_ORIGINAL;
}

enum xerr
crypto_b64_encode(const void *bin, size_t len, int urlsafe_nopad, char **out)
{
	char	*s;
	size_t	 sz;
	int	 variant = crypto_b64_variant(urlsafe_nopad);

	*out = NULL;
	if (len > SIZE_MAX / 4 * 3 - 3)
		return XERR_TOOBIG;
	if (bin == NULL)
		bin = crypto_empty;
	sz = sodium_base64_encoded_len(len, variant);
	if ((s = malloc(sz)) == NULL)
		return XERR_NOMEM;
	sodium_bin2base64(s, sz, bin, len, variant);
	*out = s;
	return XERR_OK;
}

enum xerr
crypto_b64_decode(const char *s, size_t len, int urlsafe_nopad,
    unsigned char **out, size_t *outlen)
{
	unsigned char	*bin = NULL;
	size_t		 max, n = 0;
	enum xerr	 rc;

	*out = NULL;
	*outlen = 0;
	/*
	 * libsodium's decoders take some bytes above 0x7f for characters of
	 * the alphabet ("...\x92" decodes as "..._"): only the alphabet goes
	 * to it, so one text has one spelling (found by fuzz_cursor).
	 */
	if (memchr(s, '\0', len) != NULL || strspn(s, urlsafe_nopad ?
	    CRYPTO_B64_URL : CRYPTO_B64_STD) < len)
		return XERR_BADREQ;
	max = len / 4 * 3 + 3;
	if ((bin = malloc(max + 1)) == NULL)
		return XERR_NOMEM;
	/*
	 * No ignore set and no end pointer: libsodium then fails on any
	 * character it did not consume, and on non-zero padding bits.
	 */
	if (len > 0 && sodium_base642bin(bin, max, s, len, NULL, &n, NULL,
	    crypto_b64_variant(urlsafe_nopad)) != 0) {
		rc = XERR_BADREQ;
		goto fail;
	}
	bin[n] = '\0';
	*out = bin;
	*outlen = n;
	return XERR_OK;
fail:
	free(bin);
	return rc;
}
