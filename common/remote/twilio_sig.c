#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "remote/twilio_sig.h"

/* Orders pairs i and j of params by name, then by value, as bytes. */
static int
twilio_sig_cmp(const struct kv *params, size_t i, size_t j)
{
	int	 c;

	if ((c = strcmp(kv_name(params, i), kv_name(params, j))) != 0)
		return c;
	return strcmp(kv_value(params, i), kv_value(params, j));
}

enum xerr
twilio_sig_base(const char *url, const struct kv *params, struct buf *out)
{
	size_t		 idx[KV_MAX_PAIRS], n, i, j, t;
	enum xerr	 rc;

	if ((rc = buf_puts(out, url)) != XERR_OK)
		return rc;
	if ((n = kv_count(params)) > KV_MAX_PAIRS)
		return XERR_INTERNAL;
	/* Insertion sort: at most KV_MAX_PAIRS, usually a dozen. */
	for (i = 0; i < n; i++) {
		for (j = i; j > 0 && twilio_sig_cmp(params, idx[j - 1], i) > 0;
		    j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	for (i = 0; i < n; i++) {
		t = idx[i];
		if (i > 0 && twilio_sig_cmp(params, idx[i - 1], t) == 0)
			continue;
		if ((rc = buf_puts(out, kv_name(params, t))) != XERR_OK ||
		    (rc = buf_puts(out, kv_value(params, t))) != XERR_OK)
			return rc;
	}
	return XERR_OK;
}

/* Returns an upper bound of the base's length, with room for a port. */
static size_t
twilio_sig_base_max(const char *url, const struct kv *params)
{
	size_t	 i, n;

	n = strlen(url) + 8;
	for (i = 0; i < kv_count(params); i++)
		n += strlen(kv_name(params, i)) + strlen(kv_value(params, i));
	return n;
}

/*
 * Writes base64(HMAC-SHA1(token, base of url and params)) to out, using b
 * as scratch.
 */
static enum xerr
twilio_sig_compute(const char *token, const char *url,
    const struct kv *params, struct buf *b, char **out)
{
	unsigned char	 mac[CRYPTO_SHA1_LEN];
	enum xerr	 rc;

	*out = NULL;
	buf_reset(b);
	if ((rc = twilio_sig_base(url, params, b)) != XERR_OK ||
	    (rc = crypto_hmac_sha1(token, strlen(token), buf_data(b),
	    buf_len(b), mac)) != XERR_OK)
		return rc;
	return crypto_b64_encode(mac, sizeof(mac), 0, out);
}

enum xerr
twilio_sig_sign(const char *auth_token, const char *url,
    const struct kv *params, char **out)
{
	struct buf	*b;
	enum xerr	 rc;

	*out = NULL;
	if ((b = buf_new(twilio_sig_base_max(url, params))) == NULL)
		return XERR_NOMEM;
	rc = twilio_sig_compute(auth_token, url, params, b, out);
	buf_free(b);
	return rc;
}

/*
 * Writes to alt the other form of url Twilio's libraries try: without its
 * port when it has one, else with the scheme's default port.  The URL is
 * split as twilio-node does: scheme "://", user info up to the last '@'
 * of the authority, a port after the last ']' (IPv6).  Returns XERR_OK,
 * XERR_NOTFOUND when url has no scheme (no other form), buf errors.
 */
static enum xerr
twilio_sig_alt_url(const char *url, struct buf *alt)
{
	const char	*p, *auth, *end, *host, *port, *br;
	enum xerr	 rc;
	size_t		 i;
	int		 https;

	p = url;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return XERR_NOTFOUND;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= '0' && *p <= '9') || *p == '+' || *p == '.' || *p == '-')
		p++;
	if (strncmp(p, "://", 3) != 0)
		return XERR_NOTFOUND;
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	for (host = end; host > auth && host[-1] != '@'; host--)
		continue;
	for (br = end; br > host && br[-1] != ']'; br--)
		continue;
	port = NULL;
	for (i = (size_t)(br - host); host + i < end; i++)
		if (host[i] == ':') {
			port = host + i;
			break;
		}
	https = (size_t)(auth - url) == 8 &&
	    strncasecmp(url, "https://", 8) == 0;
	buf_reset(alt);
	if (port != NULL)
		rc = buf_append(alt, url, (size_t)(port - url));
	else if ((rc = buf_append(alt, url, (size_t)(end - url))) == XERR_OK)
		rc = buf_puts(alt, https ? ":443" : ":80");
	if (rc != XERR_OK)
		return rc;
	return buf_puts(alt, end);
}

int
twilio_sig_valid(const char *auth_token, const char *url,
    const struct kv *params, const char *signature_b64)
{
	struct buf	*b = NULL, *alt = NULL;
	char		*sig = NULL;
	size_t		 max;
	int		 ok = 0;
	enum xerr	 rc;

	if (auth_token == NULL || auth_token[0] == '\0' || url == NULL ||
	    signature_b64 == NULL || signature_b64[0] == '\0')
		return 0;
	max = twilio_sig_base_max(url, params);
	if ((b = buf_new(max)) == NULL || (alt = buf_new(max)) == NULL)
		goto fail;

	if (twilio_sig_compute(auth_token, url, params, b, &sig) != XERR_OK)
		goto fail;
	ok = crypto_ct_streq(sig, signature_b64);
	free(sig);
	sig = NULL;

	if ((rc = twilio_sig_alt_url(url, alt)) == XERR_NOTFOUND)
		goto fail;
	if (rc != XERR_OK || twilio_sig_compute(auth_token, buf_data(alt),
	    params, b, &sig) != XERR_OK) {
		ok = 0;
		goto fail;
	}
	ok |= crypto_ct_streq(sig, signature_b64);
fail:
	free(sig);
	buf_free(b);
	buf_free(alt);
	return ok;
}
