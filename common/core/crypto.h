/*
 * crypto: the project's only door to libsodium and OpenSSL libcrypto.
 *
 * HMAC-SHA256 (JWT, Stripe webhooks) and HMAC-SHA1 (Twilio webhooks)
 * come from libcrypto, through a context per thread (libsodium's
 * HMAC-SHA256 when a thread cannot have one); SHA-256, random numbers and
 * constant-time comparisons from libsodium.  Nothing here is hand-written
 * crypto.
 * Comparisons of secrets and MACs go through crypto_ct_equal() or
 * crypto_ct_streq(), whose time does not depend on where inputs differ.
 * crypto_init() must have been called before any other function.
 */
#ifndef CRYPTO_H
#define CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

#define CRYPTO_SHA256_LEN	32
#define CRYPTO_SHA1_LEN		20
#define CRYPTO_UUID_LEN		36	/* characters, without the NUL */

/*
 * Initialises libsodium and fetches libcrypto's HMAC; call once at
 * start-up, before any thread is started.  XERR_INTERNAL on failure.
 */
enum xerr	 crypto_init(void);

/* Writes SHA-256(msg) to out. */
void		 crypto_sha256(const void *msg, size_t msglen,
		    unsigned char out[CRYPTO_SHA256_LEN]);

/*
 * Writes HMAC-SHA256(key, msg) to out.  Keys of any length are accepted
 * (longer than 64 bytes are hashed first, as RFC 2104 says).
 */
void		 crypto_hmac_sha256(const void *key, size_t keylen,
		    const void *msg, size_t msglen,
		    unsigned char out[CRYPTO_SHA256_LEN]);

/*
 * Writes HMAC-SHA1(key, msg) to out.  XERR_BADREQ when keylen does not fit
 * libcrypto's int, XERR_INTERNAL when libcrypto fails; out is zeroed then.
 */
enum xerr	 crypto_hmac_sha1(const void *key, size_t keylen,
		    const void *msg, size_t msglen,
		    unsigned char out[CRYPTO_SHA1_LEN]);

/* Returns 1 when the len bytes at a and b are equal, else 0. Constant time. */
int		 crypto_ct_equal(const void *a, const void *b, size_t len);

/*
 * Returns 1 when strings a and b are equal, 0 if not.  Strings of different
 * lengths return 0 at once (their length is not secret); the contents are
 * compared in constant time.  NULL equals nothing.
 */
int		 crypto_ct_streq(const char *a, const char *b);

/* Writes 2 * nbytes random lowercase hex digits and a NUL to out. */
void		 crypto_random_hex(char *out, size_t nbytes);

/* Returns a uniformly random number below n (n > 0), for spreading load. */
uint32_t	 crypto_random_below(uint32_t n);

/* Writes a random (version 4) UUID, lowercase, and a NUL to out. */
void		 crypto_uuid4(char out[CRYPTO_UUID_LEN + 1]);

/*
 * Writes len bytes of bin as lowercase hex and a NUL to out.  XERR_TOOBIG
 * when outsz < 2 * len + 1; out then holds "" (when outsz > 0).
 */
enum xerr	 crypto_hex(const unsigned char *bin, size_t len, char *out,
		    size_t outsz);

/*
 * Decodes exactly hexlen hex digits (either case) into out.  On success
 * *outlen is hexlen / 2.  XERR_BADREQ for an odd length, a non-hex
 * character or an output over outsz; *outlen is 0 then.
 */
enum xerr	 crypto_unhex(const char *hex, size_t hexlen,
		    unsigned char *out, size_t outsz, size_t *outlen);

/*
 * Encodes len bytes as base64: RFC 4648 section 4 with padding, or when
 * urlsafe_nopad is set the URL-safe alphabet of section 5 without padding
 * (JWT).  On success *out is a NUL-terminated string (caller frees with
 * free()); XERR_NOMEM, XERR_TOOBIG for absurd lengths.
 */
enum xerr	 crypto_b64_encode(const void *bin, size_t len,
		    int urlsafe_nopad, char **out);

/*
 * Decodes len characters of base64 in the variant chosen as for
 * crypto_b64_encode().  Strict: characters outside the alphabet, wrong or
 * missing padding, non-zero trailing bits and trailing garbage are
 * XERR_BADREQ.  On success *out holds *outlen bytes followed by a NUL that
 * *outlen does not count (caller frees with free()); on failure *out is
 * NULL and *outlen 0.  XERR_NOMEM.
 */
enum xerr	 crypto_b64_decode(const char *s, size_t len,
		    int urlsafe_nopad, unsigned char **out, size_t *outlen);

#endif
