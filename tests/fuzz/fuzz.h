/*
 * fuzz: what every libFuzzer target of tests/fuzz/ shares.
 *
 * A target is one fuzz_<name>.c defining LLVMFuzzerTestOneInput (and, when
 * it needs set-up, LLVMFuzzerInitialize).  A broken invariant is reported
 * with FUZZ_ASSERT, which aborts: libFuzzer then saves the input as a
 * crash, exactly as it does for a sanitizer report.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/*
 * Reads fixed-size values off the end of the input, so that the front
 * stays the text the target parses (seeds stay readable).  A short input
 * gives zeros.
 */
struct fuzz_tail {
	const uint8_t	*p;
	size_t		 n;
};

static inline uint64_t
fuzz_tail_u64(struct fuzz_tail *t, size_t nbytes)
{
	uint64_t	 v = 0;

	while (nbytes-- > 0 && t->n > 0)
		v = v << 8 | t->p[--t->n];
	return v;
}

/* Returns an exact copy of n bytes followed by a NUL; aborts on no memory. */
static inline char *
fuzz_memdup(const void *p, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Splits data at its first '\n': the line (without it) and the rest. */
static inline void
fuzz_split_line(const uint8_t *data, size_t size, size_t *linelen,
    const uint8_t **rest, size_t *restlen)
{
	const uint8_t	*nl = size > 0 ? memchr(data, '\n', size) : NULL;

	*linelen = nl != NULL ? (size_t)(nl - data) : size;
	*rest = nl != NULL ? nl + 1 : data + size;
	*restlen = size - (size_t)(*rest - data);
}

#endif
