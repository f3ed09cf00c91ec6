/*
 * fuzz_kv: kv_parse() on arbitrary query strings and form bodies, and the
 * round trip through http_form_add().
 *
 * Input: the whole input is the string parsed (it may hold NULs).
 * Invariants:
 *  - kv_parse() succeeds exactly when a reference decoder written here
 *    from the header's rules does ('&' separates, empty segments are
 *    skipped, the first '=' splits, '+' is a space, %XX decodes, a bad
 *    escape, a NUL or more than KV_MAX_PAIRS pairs refuse the input), and
 *    then gives the same pairs, byte for byte, in the same order: so no
 *    name or value is cut short by a NUL, and the count is at most
 *    KV_MAX_PAIRS;
 *  - on failure *out is NULL, and XERR_BADREQ is the only error;
 *  - every pair re-encoded with http_form_add() (which refuses an empty
 *    name, as documented: such pairs are checked to be refused and left
 *    out) gives a body of unreserved characters, %XX, '&' and '=' only,
 *    and parsing that body gives the same pairs again.
 */
#include "fuzz.h"

#include "core/buf.h"
#include "core/http.h"
#include "core/kv.h"

struct ref_pair {
	char	*name, *value;
	size_t	 namelen, valuelen;
};

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) into a new buffer; returns NULL when it is refused. */
static char *
ref_decode(const uint8_t *s, size_t n, size_t *outlen)
{
	char	*out;
	size_t	 i, o = 0;
	int	 hi, lo;

	if ((out = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (n - i < 3)
				goto bad;
			if ((hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				goto bad;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = s[i] == '+' ? ' ' : (char)s[i];
		if (out[o - 1] == '\0')
			goto bad;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
}

static void
ref_free(struct ref_pair *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

/*
 * The reference parser.  Returns 0 with *out (n pairs, ref_free()) or -1
 * when the input is refused.
 */
static int
ref_parse(const uint8_t *s, size_t len, struct ref_pair **out, size_t *n)
{
	struct ref_pair	*p;
	size_t		 i = 0, j, eq, np = 0;

	*out = NULL;
	*n = 0;
	if ((p = calloc(KV_MAX_PAIRS, sizeof(*p))) == NULL)
		abort();
	while (i < len) {
		for (j = i; j < len && s[j] != '&'; j++)
			continue;
		if (j > i) {
			for (eq = i; eq < j && s[eq] != '='; eq++)
				continue;
			if (np == KV_MAX_PAIRS)
				goto bad;
			p[np].name = ref_decode(s + i, eq - i, &p[np].namelen);
			if (p[np].name == NULL)
				goto bad;
			p[np].value = ref_decode(s + (eq < j ? eq + 1 : j),
			    eq < j ? j - eq - 1 : 0, &p[np].valuelen);
			np++;
			if (p[np - 1].value == NULL)
				goto bad;
		}
		i = j + 1;
	}
	*out = p;
	*n = np;
	return 0;
bad:
	ref_free(p, np);
	return -1;
}

/* Returns 1 when kv holds exactly the n pairs of p. */
static int
same_pairs(const struct kv *kv, const struct ref_pair *p, size_t n)
{
	size_t	 i;

	if (kv_count(kv) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (strlen(kv_name(kv, i)) != p[i].namelen ||
		    memcmp(kv_name(kv, i), p[i].name, p[i].namelen) != 0 ||
		    strlen(kv_value(kv, i)) != p[i].valuelen ||
		    memcmp(kv_value(kv, i), p[i].value, p[i].valuelen) != 0)
			return 0;
	return 1;
}

/* Re-encodes kv's pairs with a non-empty name and parses them again. */
static void
round_trip(const struct kv *kv, size_t inlen)
{
	struct kv	*again = NULL;
	struct buf	*form;
	const char	*f;
	size_t		 i, j, m = 0;
	char		 c;

	if ((form = buf_new(3 * inlen + 2 * kv_count(kv) + 16)) == NULL)
		abort();
	for (i = 0; i < kv_count(kv); i++) {
		if (kv_name(kv, i)[0] == '\0') {
			FUZZ_ASSERT(http_form_add(form, kv_name(kv, i),
			    kv_value(kv, i)) == XERR_BADREQ);
			continue;
		}
		FUZZ_ASSERT(http_form_add(form, kv_name(kv, i),
		    kv_value(kv, i)) == XERR_OK);
		m++;
	}
	f = buf_data(form);
	for (i = 0; i < buf_len(form); i++) {
		c = f[i];
		FUZZ_ASSERT((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~%&=", c) != NULL);
	}
	FUZZ_ASSERT(kv_parse(f, buf_len(form), &again) == XERR_OK);
	FUZZ_ASSERT(kv_count(again) == m);
	for (i = 0, j = 0; i < kv_count(kv); i++) {
		if (kv_name(kv, i)[0] == '\0')
			continue;
		FUZZ_ASSERT(strcmp(kv_name(kv, i), kv_name(again, j)) == 0);
		FUZZ_ASSERT(strcmp(kv_value(kv, i), kv_value(again, j)) == 0);
		j++;
	}
	kv_free(again);
	buf_free(form);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ref_pair	*ref;
	struct kv	*kv = (struct kv *)&ref;	/* must be cleared */
	size_t		 nref, i;
	enum xerr	 rc;
	int		 refrc;

	rc = kv_parse((const char *)data, size, &kv);
	refrc = ref_parse(data, size, &ref, &nref);
	if (rc != XERR_OK) {
		FUZZ_ASSERT(rc == XERR_BADREQ);
		FUZZ_ASSERT(kv == NULL);
		FUZZ_ASSERT(refrc == -1);
		return 0;
	}
	FUZZ_ASSERT(refrc == 0);
	FUZZ_ASSERT(kv != NULL);
	FUZZ_ASSERT(kv_count(kv) <= KV_MAX_PAIRS);
	FUZZ_ASSERT(same_pairs(kv, ref, nref));
	for (i = 0; i < kv_count(kv); i++)
		FUZZ_ASSERT(kv_get(kv, kv_name(kv, i)) != NULL);
	round_trip(kv, size);
	ref_free(ref, nref);
	kv_free(kv);
	return 0;
}
