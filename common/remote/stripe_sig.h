/*
 * stripe_sig: verification of the Stripe-Signature header of webhooks.
 *
 * The header is "t=<unix time>,v1=<hex>[,v1=<hex>...]" where each v1 is
 * HMAC-SHA256 over "<t>.<raw body>" keyed with an endpoint secret.  Other
 * schemes (v0, the test scheme) are ignored, as Stripe's libraries do.
 * During a secret rotation Stripe signs with both secrets, and we accept
 * either of ours.
 */
#ifndef STRIPE_SIG_H
#define STRIPE_SIG_H

#include <stddef.h>

#include "core/xerr.h"

#define STRIPE_SIG_MAX_HEADER	2048	/* longer headers are malformed */
#define STRIPE_SIG_MAX_V1	8	/* more v1 entries are malformed */

/*
 * Verifies header for the bodylen bytes of body.  The header's items are
 * separated by ',' with optional spaces around them; exactly one "t" (a
 * decimal number) is required.  A v1 that is not 64 hex digits is kept but
 * matches nothing.  Each v1 is compared with the HMAC of each non-empty
 * secret (nsecrets of them, borrowed) on the raw 32 bytes, in constant
 * time; any match is enough.  The timestamp must lie within tolerance
 * seconds of now, in the past or the future.
 *
 * Returns XERR_OK, or XERR_BADREQ with *why (when why is not NULL) one of
 * the static strings "missing_header", "malformed_header",
 * "no_v1_signature", "timestamp_out_of_tolerance",
 * "no_matching_signature"; XERR_NOMEM.  *why is NULL on entry.
 */
enum xerr	 stripe_sig_verify(const char *header, const char *body,
		    size_t bodylen, char *const *secrets, size_t nsecrets,
		    long long tolerance, long long now, const char **why);

#endif
