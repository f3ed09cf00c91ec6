/*
 * buf: a growable byte buffer with a hard maximum, always NUL-terminated.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

#include "core/xerr.h"

struct buf;

/* Returns a new empty buffer that never grows past max bytes, or NULL. Caller frees with buf_free(). */
struct buf	*buf_new(size_t max);

/* Frees b. NULL is a no-op. */
void		 buf_free(struct buf *b);

/* Appends len bytes; XERR_TOOBIG past the maximum, XERR_NOMEM. */
enum xerr	 buf_append(struct buf *b, const void *p, size_t len);

/* Appends a NUL-terminated string. */
enum xerr	 buf_puts(struct buf *b, const char *s);

/* Appends formatted text. */
enum xerr	 buf_printf(struct buf *b, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* Empties the buffer, keeping its memory. */
void		 buf_reset(struct buf *b);

/* Returns the contents (NUL-terminated, borrowed) and its length. */
const char	*buf_data(const struct buf *b);
size_t		 buf_len(const struct buf *b);

/* Takes the contents out of b (caller frees with free()), leaving b empty. */
char		*buf_steal(struct buf *b, size_t *len);

#endif
