#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/kv.h"

struct kv_pair {
	char	*name;
	char	*value;
};

struct kv {
	struct kv_pair	*pairs;
	size_t		 n;
	size_t		 cap;
};

struct kv *
kv_new(void)
{
	return calloc(1, sizeof(struct kv));
}

void
kv_free(struct kv *kv)
{
	size_t	 i;

	if (kv == NULL)
		return;
	for (i = 0; i < kv->n; i++) {
		free(kv->pairs[i].name);
		free(kv->pairs[i].value);
	}
	free(kv->pairs);
	free(kv);
}

static int
kv_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes len bytes of s into a new string.  Returns NULL with *rc set on a
 * bad escape (a '%' not followed by two hex digits), a decoded NUL, or no
 * memory.
 */
static char *
kv_decode(const char *s, size_t len, enum xerr *rc)
{
	char	*out, *p;
	size_t	 i;
	int	 hi, lo;

	if ((out = malloc(len + 1)) == NULL) {
		*rc = XERR_NOMEM;
		return NULL;
	}
	for (i = 0, p = out; i < len; i++) {
		if (s[i] == '+')
			*p++ = ' ';
		else if (s[i] == '%') {
			if (len - i < 3)
				goto bad;
			if ((hi = kv_hexval(s[i + 1])) < 0 ||
			    (lo = kv_hexval(s[i + 2])) < 0 ||
			    (hi == 0 && lo == 0))
				goto bad;
			*p++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '\0')
			goto bad;
		else
			*p++ = s[i];
	}
	*p = '\0';
	return out;
bad:
	free(out);
	*rc = XERR_BADREQ;
	return NULL;
}

static enum xerr
kv_push(struct kv *kv, char *name, char *value)
{
	struct kv_pair	*np;
	size_t		 ncap;

	if (kv->n == KV_MAX_PAIRS)
		return XERR_BADREQ;
	if (kv->n == kv->cap) {
		ncap = kv->cap ? kv->cap * 2 : 8;
		if ((np = realloc(kv->pairs, ncap * sizeof(*np))) == NULL)
			return XERR_NOMEM;
		kv->pairs = np;
		kv->cap = ncap;
	}
	kv->pairs[kv->n].name = name;
	kv->pairs[kv->n].value = value;
	kv->n++;
	return XERR_OK;
}

enum xerr
kv_add(struct kv *kv, const char *name, const char *value)
{
	char		*n = NULL, *v = NULL;
	enum xerr	 rc;

	if ((n = strdup(name)) == NULL || (v = strdup(value)) == NULL) {
		rc = XERR_NOMEM;
		goto fail;
	}
	if ((rc = kv_push(kv, n, v)) != XERR_OK)
		goto fail;
	return XERR_OK;
fail:
	free(n);
	free(v);
	return rc;
}

/*
 * Empty segments ("a=1&&b=2", a trailing '&') are skipped; a segment
 * without '=' is a name with an empty value, as browsers send it.
 */
enum xerr
kv_parse(const char *s, size_t len, struct kv **out)
{
	struct kv	*kv;
	const char	*seg, *end, *amp, *eq;
	char		*name = NULL, *value = NULL;
	enum xerr	 rc = XERR_OK;

	*out = NULL;
	if ((kv = kv_new()) == NULL)
		return XERR_NOMEM;
	for (seg = s, end = s + len; seg < end; seg = amp + 1) {
		if ((amp = memchr(seg, '&', (size_t)(end - seg))) == NULL)
			amp = end;
		if (amp == seg)
			continue;
		if ((eq = memchr(seg, '=', (size_t)(amp - seg))) == NULL)
			eq = amp;
		if ((name = kv_decode(seg, (size_t)(eq - seg), &rc)) == NULL)
			goto fail;
		value = eq < amp ?
		    kv_decode(eq + 1, (size_t)(amp - eq - 1), &rc) :
		    kv_decode("", 0, &rc);
		if (value == NULL)
			goto fail;
		if ((rc = kv_push(kv, name, value)) != XERR_OK)
			goto fail;
		name = value = NULL;
	}
	*out = kv;
	return XERR_OK;
fail:
	free(name);
	free(value);
	kv_free(kv);
	return rc;
}

size_t
kv_count(const struct kv *kv)
{
	return kv == NULL ? 0 : kv->n;
}

const char *
kv_name(const struct kv *kv, size_t i)
{
	return kv->pairs[i].name;
}

const char *
kv_value(const struct kv *kv, size_t i)
{
	return kv->pairs[i].value;
}

const char *
kv_get(const struct kv *kv, const char *name)
{
	size_t	 i;

	for (i = 0; i < kv_count(kv); i++)
		if (strcmp(kv->pairs[i].name, name) == 0)
			return kv->pairs[i].value;
	return NULL;
}

size_t
kv_count_name(const struct kv *kv, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < kv_count(kv); i++)
		if (strcmp(kv->pairs[i].name, name) == 0)
			n++;
	return n;
}

int
kv_uint(const char *s, size_t digits, int zeros, long long min,
    long long max, long long *out)
{
	size_t		 n;
	long long	 v;
	char		*end;

	if (s == NULL || (n = strlen(s)) == 0 || n > digits || n > 18 ||
	    strspn(s, "0123456789") != n || (!zeros && s[0] == '0' && n > 1))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
