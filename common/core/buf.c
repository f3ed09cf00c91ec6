#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

struct buf *
buf_new(size_t max)
{
	struct buf	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max = max;
	return b;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	free(b);
}

/* Makes room for need more bytes plus the NUL. */
static enum xerr
buf_grow(struct buf *b, size_t need)
{
	size_t	 ncap;
	char	*np;

	if (need > b->max || b->len > b->max - need)
		return XERR_TOOBIG;
	if (b->len + need + 1 <= b->cap)
		return XERR_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + need + 1)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if ((np = realloc(b->p, ncap)) == NULL)
		return XERR_NOMEM;
	b->p = np;
	b->cap = ncap;
	return XERR_OK;
}

enum xerr
buf_append(struct buf *b, const void *p, size_t len)
{
	enum xerr	 rc;

	if ((rc = buf_grow(b, len)) != XERR_OK)
		return rc;
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return XERR_OK;
}

enum xerr
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum xerr
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list		 ap;
	int		 n;
	enum xerr	 rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return XERR_INTERNAL;
	if ((rc = buf_grow(b, (size_t)n)) != XERR_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return XERR_OK;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

const char *
buf_data(const struct buf *b)
{
	return b->p != NULL ? b->p : "";
}

size_t
buf_len(const struct buf *b)
{
	return b->len;
}

char *
buf_steal(struct buf *b, size_t *len)
{
	char	*p = b->p;

	if (p == NULL && (p = strdup("")) == NULL)
		return NULL;
	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}
