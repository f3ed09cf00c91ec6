/*
 * twilio_sig: validation of the X-Twilio-Signature header of webhooks.
 *
 * Twilio signs the full URL it called (scheme, host, path, query) followed
 * by each POST parameter's name and value, sorted by name, with HMAC-SHA1
 * keyed by the account's auth token, and sends the base64 of the MAC.
 * Twilio's own libraries (twilio-node validateRequest, twilio-python
 * RequestValidator) sort repeated names by value, drop exact duplicates,
 * and accept the URL with and without its port; so do we.
 */
#ifndef TWILIO_SIG_H
#define TWILIO_SIG_H

#include "core/buf.h"
#include "core/kv.h"
#include "core/xerr.h"

#define TWILIO_SIG_B64_LEN	28	/* base64 of 20 bytes, padded */

/*
 * Appends to out the string Twilio signs: url, then for each parameter of
 * params (borrowed, NULL is empty) in byte order of name, then of value,
 * the name followed by the value; a pair identical to the one before it
 * is skipped.  Errors of buf_append() (XERR_TOOBIG, XERR_NOMEM).
 */
enum xerr	 twilio_sig_base(const char *url, const struct kv *params,
		    struct buf *out);

/*
 * Computes the signature Twilio would send for url and params.  On success
 * *out is its base64 (caller frees with free()); XERR_NOMEM, XERR_INTERNAL.
 */
enum xerr	 twilio_sig_sign(const char *auth_token, const char *url,
		    const struct kv *params, char **out);

/*
 * Returns 1 when signature_b64 is base64(HMAC-SHA1(auth_token, base)) for
 * the base of url as given, or of url with its port removed when it has
 * one (any port, as Twilio's libraries do), or with the scheme's default
 * port (":443" for https, ":80" otherwise) added when it has none.  The
 * comparison is constant time.  Returns 0 otherwise, for a NULL or empty
 * token or signature, and on any error.
 */
int		 twilio_sig_valid(const char *auth_token, const char *url,
		    const struct kv *params, const char *signature_b64);

#endif
