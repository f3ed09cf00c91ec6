/*
 * kv: an ordered list of name/value pairs parsed from a query string or an
 * application/x-www-form-urlencoded body.
 *
 * Names and values are percent-decoded ('+' is a space); repeated names are
 * kept, in order.  Decoded strings may hold any byte but NUL: a pair whose
 * name or value decodes to a NUL byte makes the whole input invalid.
 */
#ifndef KV_H
#define KV_H

#include <stddef.h>

#include "core/xerr.h"

#define KV_MAX_PAIRS	256

struct kv;

/*
 * Parses len bytes of s.  On success *out is set (caller frees with
 * kv_free()); XERR_BADREQ for a malformed escape, a NUL, or more than
 * KV_MAX_PAIRS pairs; XERR_NOMEM.
 */
enum xerr	 kv_parse(const char *s, size_t len, struct kv **out);

/* Returns an empty list (caller frees with kv_free()), or NULL. */
struct kv	*kv_new(void);

/* Appends a copy of name and value. */
enum xerr	 kv_add(struct kv *kv, const char *name, const char *value);

/* Frees kv. NULL is a no-op. */
void		 kv_free(struct kv *kv);

/* Returns the number of pairs. NULL counts as empty. */
size_t		 kv_count(const struct kv *kv);

/* Returns the i-th name or value (borrowed). */
const char	*kv_name(const struct kv *kv, size_t i);
const char	*kv_value(const struct kv *kv, size_t i);

/* Returns the first value for name (borrowed), or NULL. */
const char	*kv_get(const struct kv *kv, const char *name);

/* Returns how many pairs carry name. */
size_t		 kv_count_name(const struct kv *kv, const char *name);

/*
 * Parses s (a value of a query or a form, or any string) as 1 to digits
 * decimal digits, no sign, no space, leading zeros only when zeros, within
 * [min, max], into *out.  Returns 0, or -1 with *out untouched (also for
 * NULL).  digits is at most 18, so the value fits.
 */
int		 kv_uint(const char *s, size_t digits, int zeros, long long min,
		    long long max, long long *out);

#endif
