/*
 * ids: the shapes of identifiers we accept from outside.
 *
 * Our user ids are [A-Za-z0-9_-]{1,64}: safe in URLs (Twilio's callback
 * paths), logs and JWT claims.  Stripe's and Twilio's ids are opaque to
 * us: printable ASCII without spaces, compared byte for byte.
 */
#ifndef IDS_H
#define IDS_H

#include <stddef.h>

#define IDS_USER_MAX	64

/* Returns 1 when s (may be NULL) matches ^[A-Za-z0-9_-]{1,64}$. */
int		 ids_user_ok(const char *s);

/* Returns 1 when s (may be NULL) is 1 to max printable ASCII bytes, no space. */
int		 ids_ext_ok(const char *s, size_t max);

#endif
