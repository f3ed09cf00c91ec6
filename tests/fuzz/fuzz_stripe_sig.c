/*
 * fuzz_stripe_sig: stripe_sig_verify() on arbitrary headers and bodies.
 *
 * Input: the first line is the Stripe-Signature header, the rest the raw
 * body.  Invariants:
 *  - the call returns XERR_OK with no reason, or XERR_BADREQ with one of
 *    the documented reasons; nothing else, never a sanitizer report; an
 *    empty header is "missing_header", one over STRIPE_SIG_MAX_HEADER
 *    "malformed_header";
 *  - the body signed with one of our secrets (crypto_hmac_sha256, header
 *    laid out in one of a few ways chosen by the input's last bytes, the
 *    timestamp within 400 s of now) verifies exactly when the timestamp
 *    is within tolerance;
 *  - with one byte of the body changed, the same header never verifies.
 */
#include "fuzz.h"

#include "core/crypto.h"
#include "remote/stripe_sig.h"

/* The secrets and time of the npm stripe vector in check_stripe_sig.c. */
static char	 secret1[] = "whsec_test_secret_1";
static char	 secret2[] = "whsec_test_secret_2";
static char	 empty[] = "";
static char *const secrets[] = { secret1, empty, secret2 };
#define NSECRETS	(sizeof(secrets) / sizeof(secrets[0]))
#define NOW		1700000100LL
#define TOL		300

static const char *const reasons[] = {
	"missing_header", "malformed_header", "no_v1_signature",
	"timestamp_out_of_tolerance", "no_matching_signature",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (crypto_init() != XERR_OK)
		abort();
	return 0;
}

/* Verifies and checks the result's shape; returns why, or NULL for OK. */
static const char *
verify(const char *hdr, const char *body, size_t bodylen)
{
	const char	*why = "unset";
	enum xerr	 rc;
	size_t		 i;

	rc = stripe_sig_verify(hdr, body, bodylen, secrets, NSECRETS, TOL,
	    NOW, &why);
	if (rc == XERR_OK) {
		FUZZ_ASSERT(why == NULL);
		return NULL;
	}
	FUZZ_ASSERT(rc == XERR_BADREQ);
	FUZZ_ASSERT(why != NULL);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (why == reasons[i] || strcmp(why, reasons[i]) == 0)
			return why;
	FUZZ_ASSERT(!"unknown reason");
	return why;
}

/*
 * Signs body at now + dt with one of our secrets (dt, the secret, the
 * header's layout and the byte to change all taken from sel), checks
 * acceptance, then checks that the body with one byte changed fails.
 */
static void
signed_case(const uint8_t *body, size_t bodylen, uint64_t sel)
{
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	char		 hex[2 * CRYPTO_SHA256_LEN + 1], hdr[512];
	char		 pre[32], *msg, *tampered;
	const char	*secret, *why;
	long long	 t, dt;
	size_t		 prelen, at;
	int		 n;

	dt = (long long)(sel % 801) - 400;
	t = NOW + dt;
	secret = (sel >> 10) & 1 ? secret2 : secret1;
	prelen = (size_t)snprintf(pre, sizeof(pre), "%lld.", t);
	if ((msg = malloc(prelen + bodylen + 1)) == NULL)
		abort();
	memcpy(msg, pre, prelen);
	if (bodylen > 0)
		memcpy(msg + prelen, body, bodylen);
	crypto_hmac_sha256(secret, strlen(secret), msg, prelen + bodylen,
	    mac);
	free(msg);
	if (crypto_hex(mac, sizeof(mac), hex, sizeof(hex)) != XERR_OK)
		abort();

	switch ((sel >> 11) & 3) {
	case 0:
		n = snprintf(hdr, sizeof(hdr), "t=%lld,v1=%s", t, hex);
		break;
	case 1:
		n = snprintf(hdr, sizeof(hdr), "v1=%s,t=%lld", hex, t);
		break;
	case 2:
		n = snprintf(hdr, sizeof(hdr), " t=%lld , v0=%s,\tv1=%064d, "
		    "v1=%s ", t, hex, 0, hex);
		break;
	default:
		n = snprintf(hdr, sizeof(hdr), "t=%lld,v1=%.63s,v1=%s,scheme=x",
		    t, hex, hex);
		break;
	}
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(hdr));

	why = verify(hdr, (const char *)body, bodylen);
	if (dt >= -TOL && dt <= TOL)
		FUZZ_ASSERT(why == NULL);
	else
		FUZZ_ASSERT(why != NULL &&
		    strcmp(why, "timestamp_out_of_tolerance") == 0);

	/* One byte changed (or, for an empty body, one added). */
	tampered = fuzz_memdup(body, bodylen);	/* a NUL follows */
	at = bodylen > 0 ? (size_t)(sel >> 13) % bodylen : 0;
	tampered[at] ^= (char)(1 + ((sel >> 40) & 0x7f));
	why = verify(hdr, tampered, bodylen > 0 ? bodylen : 1);
	FUZZ_ASSERT(why != NULL);
	if (dt >= -TOL && dt <= TOL)
		FUZZ_ASSERT(strcmp(why, "no_matching_signature") == 0);
	free(tampered);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_tail tail = { data, size };
	const uint8_t	*body;
	size_t		 hlen, bodylen;
	const char	*why;
	char		*hdr;

	if (size == 0)
		return 0;
	fuzz_split_line(data, size, &hlen, &body, &bodylen);
	hdr = fuzz_memdup(data, hlen);
	why = verify(hdr, (const char *)body, bodylen);
	if (hdr[0] == '\0')
		FUZZ_ASSERT(strcmp(why, "missing_header") == 0);
	else if (strlen(hdr) > STRIPE_SIG_MAX_HEADER)
		FUZZ_ASSERT(strcmp(why, "malformed_header") == 0);
	/* The body as its own byte string, so NULs in it are kept. */
	signed_case(body, bodylen, fuzz_tail_u64(&tail, 8));
	free(hdr);
	return 0;
}
