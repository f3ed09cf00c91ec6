/*
 * memio: the FastCGI streams of a request replaced by a memory reader and
 * writer, for the unit tests of req and of what writes replies through it
 * (check_req.c, check_apierr.c).  Pass mem_read, mem_write and a struct
 * mem to req_open().  Header only.
 */
#ifndef MEMIO_H
#define MEMIO_H

#include <string.h>

#include <check.h>

struct mem {
	const char	*in;
	size_t		 inlen, inpos;
	char		 out[8192];
	size_t		 outlen;
	int		 reads;
};

static inline int
mem_read(void *io, char *buf, int n)
{
	struct mem	*m = io;
	size_t		 left = m->inlen - m->inpos;

	m->reads++;
	if ((size_t)n > left)
		n = (int)left;
	memcpy(buf, m->in + m->inpos, (size_t)n);
	m->inpos += (size_t)n;
	return n;
}

static inline int
mem_write(void *io, const char *buf, int n)
{
	struct mem	*m = io;

	ck_assert_uint_lt(m->outlen + (size_t)n, sizeof(m->out));
	memcpy(m->out + m->outlen, buf, (size_t)n);
	m->outlen += (size_t)n;
	m->out[m->outlen] = '\0';
	return n;
}

#endif
