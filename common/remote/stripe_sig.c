#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crypto.h"
#include "remote/stripe_sig.h"

struct stripe_sig_hdr {
	long long	 t;
	int		 has_t;
	const char	*v1[STRIPE_SIG_MAX_V1];
	size_t		 v1len[STRIPE_SIG_MAX_V1];
	size_t		 nv1;
};

/*
 * Parses a decimal timestamp: 1 to 18 digits, nothing else, so it cannot
 * overflow.  Returns 0, or -1.
 */
static int
stripe_sig_time(const char *s, size_t len, long long *t)
{
	size_t	 i;

	if (len == 0 || len > 18)
		return -1;
	*t = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*t = *t * 10 + (s[i] - '0');
	}
	return 0;
}

/*
 * Splits the header into its items.  Returns NULL, or why it is refused.
 */
static const char *
stripe_sig_parse(const char *h, size_t len, struct stripe_sig_hdr *out)
{
	const char	*item, *end = h + len, *comma, *a, *b, *eq;

	memset(out, 0, sizeof(*out));
	for (item = h; item <= end; item = comma + 1) {
		if ((comma = memchr(item, ',', (size_t)(end - item))) == NULL)
			comma = end;
		for (a = item; a < comma && (*a == ' ' || *a == '\t'); a++)
			continue;
		for (b = comma; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
			continue;
		if ((eq = memchr(a, '=', (size_t)(b - a))) == NULL)
			return "malformed_header";
		if (eq - a == 1 && a[0] == 't') {
			if (out->has_t ||
			    stripe_sig_time(eq + 1, (size_t)(b - eq - 1),
			    &out->t) != 0)
				return "malformed_header";
			out->has_t = 1;
		} else if (eq - a == 2 && a[0] == 'v' && a[1] == '1') {
			if (out->nv1 == STRIPE_SIG_MAX_V1)
				return "malformed_header";
			out->v1[out->nv1] = eq + 1;
			out->v1len[out->nv1] = (size_t)(b - eq - 1);
			out->nv1++;
		}
		/* Any other scheme (v0, ...) is not ours to check. */
	}
	if (!out->has_t)
		return "malformed_header";
	if (out->nv1 == 0)
		return "no_v1_signature";
	return NULL;
}

/* Returns 1 when t lies within tolerance seconds of now. */
static int
stripe_sig_fresh(long long t, long long tolerance, long long now)
{
	long long	 d;

	if (tolerance < 0 || __builtin_sub_overflow(now, t, &d) ||
	    d == LLONG_MIN)
		return 0;
	if (d < 0)
		d = -d;
	return d <= tolerance;
}

enum xerr
stripe_sig_verify(const char *header, const char *body, size_t bodylen,
    char *const *secrets, size_t nsecrets, long long tolerance,
    long long now, const char **why)
{
	struct stripe_sig_hdr	 hdr;
	const char		*reason = "missing_header";
	unsigned char		 mac[CRYPTO_SHA256_LEN], sig[CRYPTO_SHA256_LEN];
	char			*msg = NULL;
	size_t			 hlen, plen, i, j, n;
	int			 len, match = 0;
	enum xerr		 rc = XERR_BADREQ;

	if (why != NULL)
		*why = NULL;
	if (header == NULL || header[0] == '\0')
		goto fail;
	reason = "malformed_header";
	if ((hlen = strnlen(header, STRIPE_SIG_MAX_HEADER + 1)) >
	    STRIPE_SIG_MAX_HEADER)
		goto fail;
	if ((reason = stripe_sig_parse(header, hlen, &hdr)) != NULL)
		goto fail;
	reason = "timestamp_out_of_tolerance";
	if (!stripe_sig_fresh(hdr.t, tolerance, now))
		goto fail;

	/* The signed text is "<t>.<body>", t as Stripe's parser reads it. */
	reason = "no_matching_signature";
	plen = 20;
	if (bodylen > SIZE_MAX - plen - 1 ||
	    (msg = malloc(plen + bodylen + 1)) == NULL) {
		rc = XERR_NOMEM;
		goto fail;
	}
	len = snprintf(msg, plen + 1, "%lld.", hdr.t);
	if (len < 0 || (size_t)len > plen) {
		rc = XERR_INTERNAL;
		goto fail;
	}
	if (bodylen > 0)
		memcpy(msg + len, body, bodylen);

	for (i = 0; i < nsecrets; i++) {
		if (secrets[i] == NULL || secrets[i][0] == '\0')
			continue;
		crypto_hmac_sha256(secrets[i], strlen(secrets[i]), msg,
		    (size_t)len + bodylen, mac);
		for (j = 0; j < hdr.nv1; j++) {
			if (hdr.v1len[j] != 2 * sizeof(sig) ||
			    crypto_unhex(hdr.v1[j], hdr.v1len[j], sig,
			    sizeof(sig), &n) != XERR_OK)
				continue;
			/* No early exit: the time spent says nothing. */
			match |= crypto_ct_equal(sig, mac, sizeof(mac));
		}
	}
	sodium_memzero(mac, sizeof(mac));
	if (!match)
		goto fail;
	rc = XERR_OK;
fail:
	if (rc == XERR_BADREQ && why != NULL)
		*why = reason;
	free(msg);
	return rc;
}
