#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonx.h"

void
jsonx_thread_init(void)
{
	locale_t	 c;

	if ((c = newlocale(LC_ALL_MASK, "C", (locale_t)0)) != (locale_t)0)
		uselocale(c);
}

/* The key of each thread's tokener (jsonx_tokener()). */
static pthread_key_t	 jsonx_tok_key;
static pthread_once_t	 jsonx_tok_once = PTHREAD_ONCE_INIT;
static int		 jsonx_tok_ok;

static void
jsonx_tok_free(void *tok)
{
	json_tokener_free(tok);
}

static void
jsonx_tok_init(void)
{
	jsonx_tok_ok = pthread_key_create(&jsonx_tok_key, jsonx_tok_free) == 0;
}

struct json_tokener *
jsonx_tokener(void)
{
	struct json_tokener	*tok;

	if (pthread_once(&jsonx_tok_once, jsonx_tok_init) != 0 ||
	    !jsonx_tok_ok)
		return NULL;
	if ((tok = pthread_getspecific(jsonx_tok_key)) != NULL) {
		json_tokener_reset(tok);
		return tok;
	}
	if ((tok = json_tokener_new_ex(JSONX_DEPTH)) == NULL)
		return NULL;
	if (pthread_setspecific(jsonx_tok_key, tok) != 0) {
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	return tok;
}

void
jsonx_tokener_done(struct json_tokener *tok)
{
	json_tokener_reset(tok);
}

struct json_object *
jsonx_get(struct json_object *obj, const char *key)
{
	struct json_object	*v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

struct json_object *
jsonx_path(struct json_object *obj, const char *path)
{
	char		 key[64];
	const char	*dot;
	size_t		 len;

	while (obj != NULL) {
		dot = strchr(path, '.');
		len = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (len == 0 || len >= sizeof(key))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		obj = jsonx_get(obj, key);
		if (dot == NULL)
			return obj;
		path = dot + 1;
	}
	return NULL;
}

struct json_object *
jsonx_idx(struct json_object *obj, const char *path, size_t i)
{
	struct json_object *a = jsonx_path(obj, path);

	if (a == NULL || !json_object_is_type(a, json_type_array) ||
	    i >= json_object_array_length(a))
		return NULL;
	return json_object_array_get_idx(a, i);
}

const char *
jsonx_str(struct json_object *obj, const char *path)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *
jsonx_id(struct json_object *obj, const char *path)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v != NULL && json_object_is_type(v, json_type_object))
		return jsonx_str(v, "id");
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
jsonx_int(struct json_object *obj, const char *path, int64_t *out)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

int
jsonx_bool(struct json_object *obj, const char *path, int def)
{
	struct json_object *v = jsonx_path(obj, path);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v) ? 1 : 0;
}

int
jsonx_add_str(struct json_object *obj, const char *key, const char *s)
{
	struct json_object *v = NULL;

	if (s != NULL && (v = json_object_new_string(s)) == NULL)
		return -1;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int
jsonx_add_int(struct json_object *obj, const char *key, int64_t v)
{
	struct json_object *o;

	if ((o = json_object_new_int64(v)) == NULL)
		return -1;
	if (json_object_object_add(obj, key, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}

int
jsonx_add_bool(struct json_object *obj, const char *key, int v)
{
	struct json_object *o;

	if ((o = json_object_new_boolean(v != 0)) == NULL)
		return -1;
	if (json_object_object_add(obj, key, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}

/*
 * Returns the length of the valid UTF-8 sequence at s (avail bytes there),
 * or 0: shortest form only, no surrogates, nothing above U+10FFFF.
 */
size_t
jsonx_utf8_len(const unsigned char *s, size_t avail)
{
	size_t	 n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* over U+10FFFF */
	} else
		return 0;
	if (n > avail || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Returns the number of object members in the tree below o. */
static size_t
jsonx_members(struct json_object *o)
{
	size_t	 i, n = 0;

	if (json_object_is_type(o, json_type_array)) {
		for (i = 0; i < json_object_array_length(o); i++)
			n += jsonx_members(json_object_array_get_idx(o, i));
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, val) {
			(void)key;
			n += 1 + jsonx_members(val);
		}
	}
	return n;
}

/*
 * Returns 1 when the n bytes at s are a number as RFC 8259 writes them.
 * json-c also takes "1.", "1.e5", "00", "-01" and "08.5".
 */
static int
jsonx_number_ok(const char *s, size_t n)
{
	size_t	 i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else {
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			continue;
		if (i == d)
			return 0;
	}
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			continue;
		if (i == d)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			continue;
		if (i == d)
			return 0;
	}
	return i == n;
}

/*
 * What json-c accepts but would read other than written, or should not
 * accept, in a text it has parsed: UTF-8 that is not the shortest form or
 * encodes a surrogate (it checks the byte pattern only), a raw control
 * character in a string, NaN and Infinity, a \u0000 escape (our strings
 * are C strings: "a\u0000b" would read as "a"), a number RFC 8259 does
 * not allow, an integer outside int64 (json-c saturates it), and a key
 * repeated in one object (json-c keeps the last).  Outside strings every
 * ':' ends one member, so fewer members in the tree means a repeat.
 * Returns 0 when none is there.
 */
static int
jsonx_ambiguous(const char *s, size_t len, struct json_object *root)
{
	char	 num[24], *end;
	size_t	 i, j, colons = 0;
	int	 instr = 0;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			if ((j = jsonx_utf8_len((const unsigned char *)s + i,
			    len - i)) == 0)
				return -1;
			i += j - 1;
		} else if (instr) {
			if ((unsigned char)s[i] < 0x20)
				return -1;
			if (s[i] == '"')
				instr = 0;
			else if (s[i] == '\\' && i + 1 < len) {
				if (s[i + 1] == 'u' && i + 5 < len &&
				    memcmp(s + i + 2, "0000", 4) == 0)
					return -1;
				i++;
			}
		} else if (s[i] == '"')
			instr = 1;
		else if (s[i] == ':')
			colons++;
		else if (isalpha((unsigned char)s[i])) {
			for (j = i; j < len && isalpha((unsigned char)s[j]); j++)
				;
			if (!((j - i == 4 && (memcmp(s + i, "true", 4) == 0 ||
			    memcmp(s + i, "null", 4) == 0)) ||
			    (j - i == 5 && memcmp(s + i, "false", 5) == 0)))
				return -1;	/* NaN, Infinity */
			i = j - 1;
		} else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
			for (j = i; j < len && strchr("-+.eE0123456789",
			    s[j]) != NULL; j++)
				;
			if (!jsonx_number_ok(s + i, j - i))
				return -1;
			if (memchr(s + i, '.', j - i) == NULL &&
			    memchr(s + i, 'e', j - i) == NULL &&
			    memchr(s + i, 'E', j - i) == NULL) {
				if (j - i >= sizeof(num))
					return -1;
				memcpy(num, s + i, j - i);
				num[j - i] = '\0';
				errno = 0;
				(void)strtoll(num, &end, 10);
				if (errno != 0 || *end != '\0')
					return -1;
			}
			i = j - 1;
		}
	}
	return colons != jsonx_members(root) ? -1 : 0;
}

enum xerr
jsonx_parse(const char *s, size_t len, struct json_object **out)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	enum xerr		 rc = XERR_BADREQ;

	*out = NULL;
	if (len > INT32_MAX || memchr(s, '\0', len) != NULL)
		return XERR_BADREQ;
	if ((tok = jsonx_tokener()) == NULL)
		return XERR_NOMEM;
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (obj != NULL && json_tokener_get_error(tok) == json_tokener_success
	    && json_tokener_get_parse_end(tok) == len &&
	    jsonx_ambiguous(s, len, obj) == 0) {
		*out = obj;
		rc = XERR_OK;
	} else
		json_object_put(obj);
	jsonx_tokener_done(tok);
	return rc;
}

void
jsonx_utf8_scrub(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n, left = strlen(s);

	while (left > 0) {
		if ((n = jsonx_utf8_len(p, left)) == 0)
			n = 1, *p = '?';
		p += n;
		left -= n;
	}
}
