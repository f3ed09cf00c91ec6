/*
 * jsonx: small readers over json-c objects, for Stripe's and our payloads.
 * Every returned object or string is borrowed from the root.
 */
#ifndef JSONX_H
#define JSONX_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/xerr.h"

#define JSONX_DEPTH	32	/* deeper JSON input is rejected */

/*
 * Sets the calling thread's locale to glibc's static "C" locale object.
 * json-c switches to a "C" numeric locale around every parse (duplocale,
 * newlocale, freelocale), and glibc takes its process-wide setlocale lock
 * for each of those unless the thread's locale already is that object:
 * with many request threads the lock serialised them (a preempted holder
 * stalled every other parse).  The programs run in the "C" locale anyway.
 * Call once at the start of every thread that parses JSON.
 */
void		 jsonx_thread_init(void);

/*
 * The calling thread's tokener, reset, for one parse: strict, valid
 * UTF-8, at most JSONX_DEPTH deep.  Made at the thread's first parse and
 * kept until the thread ends (a new one per parse cost four allocations
 * and the reallocations of its string buffer: about a fifth of a usage
 * request's malloc time).  The caller parses with it, then calls
 * jsonx_tokener_done(); it is never used by two parses at once.  NULL
 * when out of memory.
 */
struct json_tokener *jsonx_tokener(void);

/* Resets tok after its parse (drops what a failed one left). */
void		 jsonx_tokener_done(struct json_tokener *tok);

/* Returns member key of obj when obj is an object, else NULL. */
struct json_object *jsonx_get(struct json_object *obj, const char *key);

/* Follows a dotted path ("data.object.id"); NULL when any step is missing. */
struct json_object *jsonx_path(struct json_object *obj, const char *path);

/* Returns element i of the array at path, or NULL (also when it is no array). */
struct json_object *jsonx_idx(struct json_object *obj, const char *path,
		    size_t i);

/* Returns the string at path, or NULL when missing or not a string. */
const char	*jsonx_str(struct json_object *obj, const char *path);

/*
 * Returns the id at path: a string, or the "id" of an expanded object (as
 * Stripe sends "customer" either way). NULL otherwise.
 */
const char	*jsonx_id(struct json_object *obj, const char *path);

/* Stores the integer at path in *out; returns 0, or -1 when missing or not an integer. */
int		 jsonx_int(struct json_object *obj, const char *path,
		    int64_t *out);

/* Returns 1 for true, 0 for false, def when missing or not a boolean. */
int		 jsonx_bool(struct json_object *obj, const char *path, int def);

/* Adds key: string (NULL adds null) to obj. Returns 0 or -1 on no memory. */
int		 jsonx_add_str(struct json_object *obj, const char *key,
		    const char *s);

/* Adds key: integer to obj. Returns 0 or -1. */
int		 jsonx_add_int(struct json_object *obj, const char *key,
		    int64_t v);

/* Adds key: true or false (v nonzero) to obj. Returns 0 or -1. */
int		 jsonx_add_bool(struct json_object *obj, const char *key,
		    int v);

/*
 * Parses a JSON text (a request body, a reply of Stripe or Twilio, a
 * stored payload): strict, valid UTF-8, at most JSONX_DEPTH deep, nothing
 * after the value; no NUL (raw or \u0000), no integer outside int64, no
 * key twice in one object.  On success *out is the root (caller puts it).
 * XERR_BADREQ when malformed, XERR_NOMEM.
 */
enum xerr	 jsonx_parse(const char *s, size_t len,
		    struct json_object **out);

/*
 * Returns the length of the valid UTF-8 sequence at s (avail bytes there),
 * or 0: shortest form only, no surrogates, nothing above U+10FFFF.
 */
size_t		 jsonx_utf8_len(const unsigned char *s, size_t avail);

/*
 * Replaces, in place, every byte of the NUL-terminated s that does not
 * start a valid UTF-8 sequence (jsonx_utf8_len) with '?': what is left is
 * text MariaDB's utf8mb4 and a JSON reply accept.
 */
void		 jsonx_utf8_scrub(char *s);

#endif
