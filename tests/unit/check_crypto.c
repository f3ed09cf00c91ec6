#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "core/crypto.h"

#include "threads.h"

static void
setup(void)
{
	ck_assert_int_eq(crypto_init(), XERR_OK);
}

/* Decodes a hex literal of a test vector into out; returns its length. */
static size_t
unhex(const char *hex, unsigned char *out, size_t outsz)
{
	size_t	 n;

	ck_assert_int_eq(crypto_unhex(hex, strlen(hex), out, outsz, &n),
	    XERR_OK);
	return n;
}

/*
 * RFC 4231 section 4 (HMAC-SHA256) and RFC 2202 section 3 (HMAC-SHA1).
 * Keys and data given as hex when they are not text.
 */
struct hmac_vec {
	const char	*key;		/* hex */
	const char	*data;		/* hex */
	const char	*sha256;	/* hex, may be truncated */
	const char	*sha1;		/* hex */
};

#define K20_0B	"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
#define K20_0C	"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c"
#define K20_AA	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define K25	"0102030405060708090a0b0c0d0e0f10111213141516171819"
#define D50_DD	"dddddddddddddddddddddddddddddddddddddddddddddddddd" \
		"dddddddddddddddddddddddddddddddddddddddddddddddddd"
#define D50_CD	"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd" \
		"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

/* Hex of "Hi There", "Jefe", "what do ya want for nothing?", ... */
#define HI_THERE	"4869205468657265"
#define JEFE		"4a656665"
#define WHAT_DO_YA	"7768617420646f2079612077616e7420666f72206e6f7468696e673f"
#define TRUNCATION	"546573742057697468205472756e636174696f6e"

static const struct hmac_vec rfc4231[] = {
	{ K20_0B, HI_THERE,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ JEFE, WHAT_DO_YA,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ K20_AA, D50_DD,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ K25, D50_CD,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	/* Test case 5: output truncated to 128 bits. */
	{ K20_0C, TRUNCATION, "a3b6167473100ee06e0c796c2955552b" },
	/* Cases 6 and 7 use a 131-byte key of 0xaa, filled in below. */
};

static const char rfc4231_6[] =
    "Test Using Larger Than Block-Size Key - Hash Key First";
static const char rfc4231_7[] =
    "This is a test using a larger than block-size key and a larger than "
    "block-size data. The key needs to be hashed before being used by the "
    "HMAC algorithm.";

START_TEST(hmac_sha256_rfc4231)
{
	unsigned char	 key[160], msg[160], want[32], got[32];
	size_t		 klen, mlen, wlen;
	size_t		 i = (size_t)_i;

	klen = unhex(rfc4231[i].key, key, sizeof(key));
	mlen = unhex(rfc4231[i].data, msg, sizeof(msg));
	wlen = unhex(rfc4231[i].sha256, want, sizeof(want));
	crypto_hmac_sha256(key, klen, msg, mlen, got);
	ck_assert_msg(memcmp(got, want, wlen) == 0, "RFC 4231 case %zu", i + 1);
}
END_TEST

/* FIPS 180-2 appendix B.1 and B.2, and the empty message. */
START_TEST(sha256_fips180)
{
	static const struct {
		const char	*msg;
		const char	*hex;
	} v[] = {
		{ "abc", "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039"
		    "a33ce45964ff2167f6ecedd419db06c1" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855" },
	};
	unsigned char	 got[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];
	size_t		 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		crypto_sha256(v[i].msg, strlen(v[i].msg), got);
		ck_assert_uint_eq(unhex(v[i].hex, want, sizeof(want)),
		    sizeof(want));
		ck_assert_mem_eq(got, want, sizeof(want));
	}
}
END_TEST

START_TEST(hmac_sha256_rfc4231_long_key)
{
	unsigned char	 key[131], want[32], got[32];

	memset(key, 0xaa, sizeof(key));
	unhex("60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54", want, sizeof(want));
	crypto_hmac_sha256(key, sizeof(key), rfc4231_6, strlen(rfc4231_6), got);
	ck_assert(memcmp(got, want, 32) == 0);

	unhex("9b09ffa71b942fcb27635fbcd5b0e944"
	    "bfdc63644f0713938a7f51535c3a35e2", want, sizeof(want));
	crypto_hmac_sha256(key, sizeof(key), rfc4231_7, strlen(rfc4231_7), got);
	ck_assert(memcmp(got, want, 32) == 0);
}
END_TEST

static const struct hmac_vec rfc2202[] = {
	{ K20_0B, HI_THERE, NULL, "b617318655057264e28bc0b6fb378c8ef146be00" },
	{ JEFE, WHAT_DO_YA, NULL, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
	{ K20_AA, D50_DD, NULL, "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
	{ K25, D50_CD, NULL, "4c9007f4026250c6bc8414f9bf50c86c2d7235da" },
	{ K20_0C, TRUNCATION, NULL, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" },
	/* Cases 6 and 7 use an 80-byte key of 0xaa, filled in below. */
};

START_TEST(hmac_sha1_rfc2202)
{
	unsigned char	 key[160], msg[160], want[20], got[20];
	size_t		 klen, mlen;
	size_t		 i = (size_t)_i;

	klen = unhex(rfc2202[i].key, key, sizeof(key));
	mlen = unhex(rfc2202[i].data, msg, sizeof(msg));
	unhex(rfc2202[i].sha1, want, sizeof(want));
	ck_assert_int_eq(crypto_hmac_sha1(key, klen, msg, mlen, got), XERR_OK);
	ck_assert_msg(memcmp(got, want, 20) == 0, "RFC 2202 case %zu", i + 1);
}
END_TEST

START_TEST(hmac_sha1_rfc2202_long_key)
{
	static const char d6[] =
	    "Test Using Larger Than Block-Size Key - Hash Key First";
	static const char d7[] =
	    "Test Using Larger Than Block-Size Key and Larger Than One "
	    "Block-Size Data";
	unsigned char	 key[80], want[20], got[20];

	memset(key, 0xaa, sizeof(key));
	unhex("aa4ae5e15272d00e95705637ce8a3b55ed402112", want, sizeof(want));
	ck_assert_int_eq(crypto_hmac_sha1(key, sizeof(key), d6, strlen(d6),
	    got), XERR_OK);
	ck_assert(memcmp(got, want, 20) == 0);

	unhex("e8e99d0f45237d786d6bbaa7965c7808bbff1a91", want, sizeof(want));
	ck_assert_int_eq(crypto_hmac_sha1(key, sizeof(key), d7, strlen(d7),
	    got), XERR_OK);
	ck_assert(memcmp(got, want, 20) == 0);
}
END_TEST

START_TEST(hmac_empty_inputs)
{
	unsigned char	 a[32], b[32], s1[20];
	char		 hex[65];

	/* HMAC-SHA256("", ""), as computed by OpenSSL. */
	crypto_hmac_sha256(NULL, 0, NULL, 0, a);
	crypto_hex(a, 32, hex, sizeof(hex));
	ck_assert_str_eq(hex,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	crypto_hmac_sha256("", 0, "", 0, b);
	ck_assert(memcmp(a, b, 32) == 0);

	ck_assert_int_eq(crypto_hmac_sha1(NULL, 0, NULL, 0, s1), XERR_OK);
	crypto_hex(s1, 20, hex, sizeof(hex));
	ck_assert_str_eq(hex, "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
}
END_TEST

/*
 * Each thread keeps its own HMAC contexts, set up again with every key:
 * threads at once, keys of every kind (empty, short, longer than a block)
 * and messages of every length, each MAC as libsodium (SHA-256) and
 * libcrypto's one-shot HMAC() (SHA-1) compute it.
 */
static void *
hmac_thread(void *arg)
{
	static const char *const keys[] = { "", "whsec_0123456789abcdef",
	    "k0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789" };
	crypto_auth_hmacsha256_state st;
	unsigned char	 msg[3000], got[32], want[32];
	unsigned int	 wl;
	size_t		 i, len, kl;
	const char	*k;

	randombytes_buf(msg, sizeof(msg));
	for (i = 0; i < 600; i++) {
		k = keys[(i + (size_t)(uintptr_t)arg) % 3];
		kl = strlen(k);
		len = randombytes_uniform(sizeof(msg));
		crypto_hmac_sha256(k, kl, msg, len, got);
		/* libsodium's state API hashes a key over a block, too. */
		crypto_auth_hmacsha256_init(&st, (const void *)k, kl);
		crypto_auth_hmacsha256_update(&st, msg, len);
		crypto_auth_hmacsha256_final(&st, want);
		if (memcmp(got, want, 32) != 0)
			return (void *)1;
		if (crypto_hmac_sha1(k, kl, msg, len, got) != XERR_OK ||
		    HMAC(EVP_sha1(), kl ? k : "", (int)kl, msg, len, want,
		    &wl) == NULL || wl != 20 || memcmp(got, want, 20) != 0)
			return (void *)1;
	}
	return NULL;
}

START_TEST(hmac_threads)
{
	threads_run(hmac_thread);
}
END_TEST

START_TEST(ct_equal)
{
	unsigned char	 a[32], b[32];

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	ck_assert_int_eq(crypto_ct_equal(a, b, sizeof(a)), 1);
	b[31] ^= 1;
	ck_assert_int_eq(crypto_ct_equal(a, b, sizeof(a)), 0);
	ck_assert_int_eq(crypto_ct_equal(a, b, 31), 1);
	b[0] ^= 0x80;
	ck_assert_int_eq(crypto_ct_equal(a, b, 31), 0);
	ck_assert_int_eq(crypto_ct_equal(a, b, 0), 1);
}
END_TEST

START_TEST(ct_streq)
{
	ck_assert_int_eq(crypto_ct_streq("secret", "secret"), 1);
	ck_assert_int_eq(crypto_ct_streq("secret", "secreT"), 0);
	ck_assert_int_eq(crypto_ct_streq("secret", "secrets"), 0);
	ck_assert_int_eq(crypto_ct_streq("secrets", "secret"), 0);
	ck_assert_int_eq(crypto_ct_streq("", ""), 1);
	ck_assert_int_eq(crypto_ct_streq("", "a"), 0);
	ck_assert_int_eq(crypto_ct_streq(NULL, ""), 0);
	ck_assert_int_eq(crypto_ct_streq("", NULL), 0);
	ck_assert_int_eq(crypto_ct_streq(NULL, NULL), 0);
}
END_TEST

START_TEST(hex_round_trip)
{
	static const unsigned char bin[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
	    0xff };
	unsigned char	 back[8];
	char		 hex[13], small[12];
	size_t		 n;

	ck_assert_int_eq(crypto_hex(bin, sizeof(bin), hex, sizeof(hex)),
	    XERR_OK);
	ck_assert_str_eq(hex, "00017f80abff");
	ck_assert_int_eq(crypto_unhex(hex, strlen(hex), back, sizeof(back),
	    &n), XERR_OK);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert(memcmp(back, bin, n) == 0);
	ck_assert_int_eq(crypto_unhex("00017F80ABFF", 12, back, sizeof(back),
	    &n), XERR_OK);
	ck_assert(memcmp(back, bin, n) == 0);

	/* Output too small by one: refused, left empty. */
	ck_assert_int_eq(crypto_hex(bin, sizeof(bin), small, sizeof(small)),
	    XERR_TOOBIG);
	ck_assert_str_eq(small, "");
	ck_assert_int_eq(crypto_hex(bin, 0, hex, sizeof(hex)), XERR_OK);
	ck_assert_str_eq(hex, "");
}
END_TEST

START_TEST(hex_rejects)
{
	unsigned char	 out[4];
	size_t		 n = 99;

	ck_assert_int_eq(crypto_unhex("abc", 3, out, sizeof(out), &n),
	    XERR_BADREQ);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(crypto_unhex("zz", 2, out, sizeof(out), &n),
	    XERR_BADREQ);
	ck_assert_int_eq(crypto_unhex("0g", 2, out, sizeof(out), &n),
	    XERR_BADREQ);
	ck_assert_int_eq(crypto_unhex("00 1", 4, out, sizeof(out), &n),
	    XERR_BADREQ);
	ck_assert_int_eq(crypto_unhex("0011223344", 10, out, sizeof(out), &n),
	    XERR_BADREQ);
	ck_assert_int_eq(crypto_unhex("", 0, out, sizeof(out), &n), XERR_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* RFC 4648 section 10 vectors, both alphabets. */
static const struct {
	const char	*bin;
	const char	*std;
	const char	*url;
} b64vec[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	/* Bytes that differ between the alphabets (62 and 63). */
	{ "\xfb\xff\xbf", "+/+/", "-_-_" },
};

START_TEST(b64_round_trip)
{
	unsigned char	*bin = NULL;
	char		*s = NULL;
	size_t		 n, i = (size_t)_i;
	size_t		 blen = strlen(b64vec[i].bin);

	ck_assert_int_eq(crypto_b64_encode(b64vec[i].bin, blen, 0, &s),
	    XERR_OK);
	ck_assert_str_eq(s, b64vec[i].std);
	free(s);
	ck_assert_int_eq(crypto_b64_encode(b64vec[i].bin, blen, 1, &s),
	    XERR_OK);
	ck_assert_str_eq(s, b64vec[i].url);
	free(s);

	ck_assert_int_eq(crypto_b64_decode(b64vec[i].std,
	    strlen(b64vec[i].std), 0, &bin, &n), XERR_OK);
	ck_assert_uint_eq(n, blen);
	ck_assert(memcmp(bin, b64vec[i].bin, n) == 0);
	ck_assert_int_eq(bin[n], '\0');
	free(bin);
	ck_assert_int_eq(crypto_b64_decode(b64vec[i].url,
	    strlen(b64vec[i].url), 1, &bin, &n), XERR_OK);
	ck_assert_uint_eq(n, blen);
	ck_assert(memcmp(bin, b64vec[i].bin, n) == 0);
	free(bin);
}
END_TEST

/* Only the alphabet decodes: libsodium alone took "\x92" for '_'. */
START_TEST(b64_high_bytes_refused)
{
	static const char *const bad[] = {
		"MS4wLjE3OTU0LjAuNzg\x92MDA", "\x92\x92\x92\x92", "QUJD\xff",
		"QU\x80JD", "QUJD\x2e",
	};
	unsigned char	*bin = (unsigned char *)1;
	size_t		 i, n = 1;
	int		 v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (v = 0; v < 2; v++) {
			ck_assert_int_eq(crypto_b64_decode(bad[i],
			    strlen(bad[i]), v, &bin, &n), XERR_BADREQ);
			ck_assert_ptr_null(bin);
			ck_assert_uint_eq(n, 0);
		}
	/* A NUL inside the length given is not the alphabet either. */
	ck_assert_int_eq(crypto_b64_decode("QUJD\0QUJD", 9, 1, &bin, &n),
	    XERR_BADREQ);
	ck_assert_int_eq(crypto_b64_decode("MS4wLjE3OTU0LjAuNzg_MDA", 23, 1,
	    &bin, &n), XERR_OK);
	free(bin);
}
END_TEST

START_TEST(b64_round_trip_random)
{
	unsigned char	 src[257], *bin;
	char		*s;
	size_t		 len, n;
	int		 v;

	for (len = 0; len < sizeof(src); len++) {
		for (n = 0; n < len; n++)
			src[n] = (unsigned char)(n * 37 + len);
		for (v = 0; v < 2; v++) {
			ck_assert_int_eq(crypto_b64_encode(src, len, v, &s),
			    XERR_OK);
			ck_assert_int_eq(crypto_b64_decode(s, strlen(s), v,
			    &bin, &n), XERR_OK);
			ck_assert_uint_eq(n, len);
			ck_assert(len == 0 || memcmp(bin, src, len) == 0);
			free(s);
			free(bin);
		}
	}
}
END_TEST

static const struct {
	const char	*s;
	int		 urlsafe;
} b64bad[] = {
	{ "Zg", 0 },		/* padding missing */
	{ "Zg=", 0 },		/* padding short */
	{ "Zg===", 0 },		/* padding long */
	{ "Zh==", 0 },		/* non-zero trailing bits */
	{ "Zm9v!", 0 },		/* character outside the alphabet */
	{ "Zm9v\n", 0 },	/* trailing white space */
	{ " Zm9v", 0 },		/* leading white space */
	{ "-_-_", 0 },		/* URL-safe alphabet in the standard one */
	{ "Zg==", 1 },		/* padding where there is none */
	{ "+/+/", 1 },		/* standard alphabet in the URL-safe one */
	{ "Zh", 1 },		/* non-zero trailing bits */
	{ "Z", 1 },		/* a lone sixth of a byte */
	{ "Zm9vY", 1 },		/* 5 characters: impossible length */
	{ "Zm9v.", 1 },		/* trailing garbage */
};

START_TEST(b64_rejects)
{
	unsigned char	*bin = (unsigned char *)"x";
	size_t		 n = 99, i = (size_t)_i;

	ck_assert_msg(crypto_b64_decode(b64bad[i].s, strlen(b64bad[i].s),
	    b64bad[i].urlsafe, &bin, &n) == XERR_BADREQ, "accepted \"%s\"",
	    b64bad[i].s);
	ck_assert_ptr_null(bin);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(b64_embedded_nul)
{
	unsigned char	*bin;
	size_t		 n;

	/* The length given wins over the NUL: the NUL is a bad character. */
	ck_assert_int_eq(crypto_b64_decode("Zm9v\0Zm9v", 9, 1, &bin, &n),
	    XERR_BADREQ);
	ck_assert_int_eq(crypto_b64_decode("Zm9v\0Zm9v", 4, 1, &bin, &n),
	    XERR_OK);
	ck_assert_uint_eq(n, 3);
	free(bin);
}
END_TEST

START_TEST(random_hex)
{
	char	 a[2 * 40 + 1], b[2 * 40 + 1];
	size_t	 i;

	memset(a, 'x', sizeof(a));
	crypto_random_hex(a, 40);
	ck_assert_uint_eq(strlen(a), 80);
	for (i = 0; i < 80; i++)
		ck_assert(isxdigit((unsigned char)a[i]) &&
		    !isupper((unsigned char)a[i]));
	crypto_random_hex(b, 40);
	ck_assert_str_ne(a, b);
	crypto_random_hex(a, 0);
	ck_assert_str_eq(a, "");
}
END_TEST

START_TEST(uuid4_format)
{
	char	 u[CRYPTO_UUID_LEN + 1], v[CRYPTO_UUID_LEN + 1];
	size_t	 i;
	int	 k;

	for (k = 0; k < 64; k++) {
		crypto_uuid4(u);
		ck_assert_uint_eq(strlen(u), 36);
		for (i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				ck_assert_int_eq(u[i], '-');
			else
				ck_assert(isxdigit((unsigned char)u[i]) &&
				    !isupper((unsigned char)u[i]));
		}
		ck_assert_int_eq(u[14], '4');
		ck_assert(strchr("89ab", u[19]) != NULL);
	}
	crypto_uuid4(v);
	ck_assert_str_ne(u, v);
}
END_TEST

static Suite *
crypto_suite(void)
{
	Suite	*s = suite_create("crypto");
	TCase	*tc;

	tc = tcase_create("hmac");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, hmac_sha256_rfc4231, 0,
	    (int)(sizeof(rfc4231) / sizeof(rfc4231[0])));
	tcase_add_test(tc, hmac_sha256_rfc4231_long_key);
	tcase_add_test(tc, sha256_fips180);
	tcase_add_loop_test(tc, hmac_sha1_rfc2202, 0,
	    (int)(sizeof(rfc2202) / sizeof(rfc2202[0])));
	tcase_add_test(tc, hmac_sha1_rfc2202_long_key);
	tcase_add_test(tc, hmac_empty_inputs);
	tcase_add_test(tc, hmac_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("compare");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, ct_equal);
	tcase_add_test(tc, ct_streq);
	suite_add_tcase(s, tc);

	tc = tcase_create("encoding");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, hex_round_trip);
	tcase_add_test(tc, hex_rejects);
	tcase_add_loop_test(tc, b64_round_trip, 0,
	    (int)(sizeof(b64vec) / sizeof(b64vec[0])));
	tcase_add_test(tc, b64_round_trip_random);
	tcase_add_loop_test(tc, b64_rejects, 0,
	    (int)(sizeof(b64bad) / sizeof(b64bad[0])));
	tcase_add_test(tc, b64_embedded_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, random_hex);
	tcase_add_test(tc, uuid4_format);
	tcase_add_test(tc, b64_high_bytes_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(crypto_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
