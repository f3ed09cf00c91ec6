/*
 * fuzz_twilio_sig: twilio_sig_base(), twilio_sig_sign() and
 * twilio_sig_valid() on arbitrary URLs and form bodies.
 *
 * Input: the first line is the URL Twilio called, the rest the
 * application/x-www-form-urlencoded body, parsed with kv_parse() (a body
 * it refuses is used as no parameters).  Invariants:
 *  - twilio_sig_base() gives exactly what a reference written here from
 *    the header gives: the URL, then each pair's name and value, sorted by
 *    name then value as bytes, a pair equal to the one before it skipped;
 *  - the signature twilio_sig_sign() computes is 28 characters and
 *    validates for (url, params), and not under another token;
 *  - with one parameter's value changed (which pair and how from the
 *    input's last bytes), it no longer validates, unless the change leaves
 *    a string Twilio signs identical: the same base for the URL as given,
 *    or for the URL with its port taken out or put in (the scheme has no
 *    separators, so such collisions exist and Twilio's libraries accept
 *    them too).
 */
#include "fuzz.h"

#include "core/buf.h"
#include "core/crypto.h"
#include "core/kv.h"
#include "remote/twilio_sig.h"

#define TOKEN		"12345"	/* Twilio's documented example */
#define OTHER_TOKEN	"12346"
#define BASE_MAX	(1 << 20)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (crypto_init() != XERR_OK)
		abort();
	return 0;
}

static const struct kv	*sort_kv;

static int
pair_cmp(const void *a, const void *b)
{
	size_t	 i = *(const size_t *)a, j = *(const size_t *)b;
	int	 c;

	if ((c = strcmp(kv_name(sort_kv, i), kv_name(sort_kv, j))) != 0)
		return c;
	return strcmp(kv_value(sort_kv, i), kv_value(sort_kv, j));
}

/* The reference base: a new string (caller frees). */
static char *
ref_base(const char *url, const struct kv *kv)
{
	size_t	*idx, n = kv_count(kv), i, len, at;
	char	*out;

	len = strlen(url) + 1;
	for (i = 0; i < n; i++)
		len += strlen(kv_name(kv, i)) + strlen(kv_value(kv, i));
	if ((out = malloc(len)) == NULL ||
	    (idx = calloc(n + 1, sizeof(*idx))) == NULL)
		abort();
	for (i = 0; i < n; i++)
		idx[i] = i;
	sort_kv = kv;
	qsort(idx, n, sizeof(*idx), pair_cmp);
	at = strlen(url);
	memcpy(out, url, at);
	for (i = 0; i < n; i++) {
		if (i > 0 && pair_cmp(&idx[i - 1], &idx[i]) == 0)
			continue;
		len = strlen(kv_name(kv, idx[i]));
		memcpy(out + at, kv_name(kv, idx[i]), len);
		at += len;
		len = strlen(kv_value(kv, idx[i]));
		memcpy(out + at, kv_value(kv, idx[i]), len);
		at += len;
	}
	out[at] = '\0';
	free(idx);
	return out;
}

/* twilio_sig_base() into a new string (caller frees), checked by ref_base(). */
static char *
base(const char *url, const struct kv *kv)
{
	struct buf	*b;
	char		*ref, *s;

	if ((b = buf_new(BASE_MAX)) == NULL)
		abort();
	FUZZ_ASSERT(twilio_sig_base(url, kv, b) == XERR_OK);
	ref = ref_base(url, kv);
	FUZZ_ASSERT(strlen(ref) == buf_len(b));
	FUZZ_ASSERT(strcmp(ref, buf_data(b)) == 0);
	free(ref);
	if ((s = buf_steal(b, NULL)) == NULL)
		abort();
	buf_free(b);
	return s;
}

/*
 * Returns 1 when a and b differ only by a ":port" (a ':' and the bytes
 * after it up to a '/', '?', '#' or the end) present in one of them: the
 * two forms of a URL twilio_sig_valid() tries.  Looser than the real rule
 * (which port is removed or which is added), never stricter.
 */
static int
port_variant(const char *a, const char *b)
{
	const char	*l, *s;
	size_t		 i, j;

	l = strlen(a) > strlen(b) ? a : b;
	s = l == a ? b : a;
	for (i = 0; s[i] != '\0' && s[i] == l[i]; i++)
		continue;
	if (l[i] != ':')
		return 0;
	for (j = i + 1; ; j++) {
		if (strcmp(l + j, s + i) == 0)
			return 1;
		if (l[j] == '\0' || strchr("/?#", l[j]) != NULL)
			return 0;
	}
}

/*
 * Returns 1 when the signature of (url, orig) may validate (url, changed):
 * their bases are equal, or the base of changed for some port form of url
 * equals the base of orig.
 */
static int
collides(const char *url, const struct kv *orig, const struct kv *changed)
{
	char	*b1, *b2;
	size_t	 l1, l2, lurl, tail;
	int	 r;

	b1 = base(url, orig);
	b2 = base(url, changed);
	lurl = strlen(url);
	l1 = strlen(b1);
	l2 = strlen(b2);
	tail = l2 - lurl;	/* the parameters' part of b2 */
	r = strcmp(b1, b2) == 0 ||
	    (l1 >= tail && strcmp(b1 + l1 - tail, b2 + lurl) == 0 &&
	    (b1[l1 - tail] = '\0', port_variant(b1, url)));
	free(b1);
	free(b2);
	return r;
}

/* Returns a copy of kv with value k replaced as sel says. */
static struct kv *
change_one(const struct kv *kv, size_t k, uint64_t sel)
{
	struct kv	*out;
	char		*v;
	size_t		 i, len;

	if ((out = kv_new()) == NULL)
		abort();
	for (i = 0; i < kv_count(kv); i++) {
		len = strlen(kv_value(kv, i));
		v = fuzz_memdup(kv_value(kv, i), len + 1);
		if (i == k) {
			if (len > 0 && (sel & 1)) {
				/* Change one byte, never into a NUL. */
				v[(sel >> 1) % len] ^= (char)(1 +
				    ((sel >> 32) % 255));
				if (v[(sel >> 1) % len] == '\0')
					v[(sel >> 1) % len] = 'x';
			} else {
				v[len] = (char)('a' + (sel >> 1) % 26);
				v[len + 1] = '\0';
			}
		}
		FUZZ_ASSERT(kv_add(out, kv_name(kv, i), v) == XERR_OK);
		free(v);
	}
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_tail tail = { data, size };
	struct kv	*kv = NULL, *changed;
	const uint8_t	*body;
	size_t		 urllen, bodylen;
	uint64_t	 sel;
	char		*url, *sig = NULL, *b;

	fuzz_split_line(data, size, &urllen, &body, &bodylen);
	url = fuzz_memdup(data, urllen);
	if (kv_parse((const char *)body, bodylen, &kv) != XERR_OK)
		kv = NULL;
	sel = fuzz_tail_u64(&tail, 8);

	b = base(url, kv);
	FUZZ_ASSERT(strncmp(b, url, strlen(url)) == 0);
	free(b);

	FUZZ_ASSERT(twilio_sig_sign(TOKEN, url, kv, &sig) == XERR_OK);
	FUZZ_ASSERT(sig != NULL && strlen(sig) == TWILIO_SIG_B64_LEN);
	FUZZ_ASSERT(twilio_sig_valid(TOKEN, url, kv, sig) == 1);
	FUZZ_ASSERT(twilio_sig_valid(OTHER_TOKEN, url, kv, sig) == 0);
	FUZZ_ASSERT(twilio_sig_valid(TOKEN, url, kv, "") == 0);
	FUZZ_ASSERT(twilio_sig_valid("", url, kv, sig) == 0);

	if (kv_count(kv) > 0) {
		changed = change_one(kv, (size_t)(sel >> 8) % kv_count(kv),
		    sel);
		if (twilio_sig_valid(TOKEN, url, changed, sig))
			FUZZ_ASSERT(collides(url, kv, changed));
		kv_free(changed);
	}
	free(sig);
	free(url);
	kv_free(kv);
	return 0;
}
