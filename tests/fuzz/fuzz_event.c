/*
 * fuzz_event: the Stripe event parsing behind the webhook, without a
 * database.
 *
 * evstore_apply() stores every well-formed event in MariaDB before (and
 * while) it applies it, so past its first checks it cannot run without a
 * database, and the database is not mocked.  This target therefore drives:
 *  - jsonx_parse() on the raw body, as evstore_apply() does;
 *  - every jsonx_* read evstore_apply() and its handlers make (id, type,
 *    created, data.object, api_version, livemode, customer,
 *    items.data[0].price.id, the period fields on the subscription and on
 *    its first item, trial_end, metadata.user_id, the invoice's amounts,
 *    its subscription in either shape (parent.subscription_details or
 *    top-level) and lines.data[] (parent, type, proration, period)), and tiers_by_price() on the price;
 *  - evstore_apply() itself, with no database (db NULL), for the events
 *    its first checks must refuse (not JSON; no id, type, created or
 *    data.object): it must answer XERR_BADREQ with a reason before it
 *    touches the database.  Whether an event is refused is decided here by
 *    a copy of those checks, so a disagreement shows up as a crash.
 * Invariants: jsonx_parse() accepts exactly what a reference reader
 * written here from RFC 8259 and req.h accepts (ref_accepts()), and gives
 * a root exactly on XERR_OK; in what it accepts no string holds a NUL and
 * no integer is saturated, and json-c's own serialization of the tree is
 * accepted again and parses to an equal tree; each jsonx_* reader agrees
 * with json-c about the value at its path; a dotted path built from the
 * keys of the document leads jsonx_path() back to the same node;
 * ids_ext_ok() follows ids.h; tiers_by_price() names only a paid tier
 * one of whose configured prices is the one asked for (ai_cto has an
 * older price after the one sold).
 */
#include <json-c/json.h>

#include "fuzz.h"

#include "core/cfg.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "domain/tiers.h"
#include "domain/evstore.h"

#define WALK_MAX_NODES	2000
#define PATH_MAX_LEN	512

static char	 price_secretary[] = "price_ai_secretary";
static char	 price_pm[] = "price_ai_project_manager";
static char	 price_cto[] = "price_1NnlpZGPxmnHQRkJuWjM7eRV";
static char	 price_cto_old[] = "price_ai_cto";
static struct cfg cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cfg.stripe_price_secretary.id[0] = price_secretary;
	cfg.stripe_price_secretary.n = 1;
	cfg.stripe_price_project_manager.id[0] = price_pm;
	cfg.stripe_price_project_manager.n = 1;
	cfg.stripe_price_cto.id[0] = price_cto;
	cfg.stripe_price_cto.id[1] = price_cto_old;
	cfg.stripe_price_cto.n = 2;
	return 0;
}

/*
 * A reference JSON reader (RFC 8259), independent of json-c, to check
 * which texts jsonx_parse() accepts: exactly the valid JSON texts whose
 * root is not null, at most JSONX_DEPTH deep (json-c counts a scalar as
 * a level: "[[1]]" is 3 deep), and without what req.h refuses as read
 * other than written: a \u0000 escape, an integer outside int64, a key
 * repeated in one object (keys compared as json-c decodes them).  Raw
 * text must be shortest-form UTF-8 without surrogates.  The reader
 * follows the RFC's grammar to the letter, so the numbers json-c also
 * takes ("1.", "00", "-01") are not JSON here.  One json-c quirk is kept,
 * because the integration tests rely on it: a root number or literal that
 * ends the text ("42", but not "42 ") is refused, json-c waiting for more.
 */
#define REF_DEEP	(JSONX_DEPTH + 8)	/* deeper is not followed */

struct ref {
	const uint8_t	*s;
	size_t		 n, i;
	int		 refused;	/* valid, but req.h refuses it */
	const char	*why;		/* the first reason to refuse */
};

/* Notes why a text, if valid, is refused all the same. */
static void
ref_refuse(struct ref *r, const char *why)
{
	if (!r->refused)
		r->why = why;
	r->refused = 1;
}

static int	ref_value(struct ref *, int);

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

static void
ref_ws(struct ref *r)
{
	while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
	    r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

static int
ref_lit(struct ref *r, const char *lit)
{
	size_t	 len = strlen(lit);

	if (r->n - r->i < len || memcmp(r->s + r->i, lit, len) != 0)
		return -1;
	r->i += len;
	return 0;
}

/* Reads 4 hex digits after "\u"; returns the code unit or -1. */
static long
ref_hex4(struct ref *r)
{
	long	 v = 0;
	int	 k, d;

	if (r->n - r->i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		if ((d = hexval(r->s[r->i + k])) < 0)
			return -1;
		v = v << 4 | d;
	}
	r->i += 4;
	return v;
}

/* Returns the length of the UTF-8 sequence at s (avail bytes), 0 if bad. */
static size_t
ref_utf8(const uint8_t *s, size_t avail)
{
	uint32_t	 cp;
	size_t		 n, k;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Writes code point cp as UTF-8 to out; returns its length. */
static size_t
ref_put_utf8(long cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Reads the 4 hex digits of a \u escape (and the low half when it starts
 * a surrogate pair); returns the code point, or -1 when it is not JSON.
 * Half a pair is valid JSON, read as U+FFFD as json-c does (and as
 * tests/integration/abuse.test.mjs expects: "\ud800" is a string).
 */
static long
ref_escape_u(struct ref *r)
{
	long	 cu, lo;

	if ((cu = ref_hex4(r)) < 0)
		return -1;
	if (cu == 0)
		ref_refuse(r, "a \\u0000 escape");
	if (cu >= 0xdc00 && cu <= 0xdfff)
		return 0xfffd;
	if (cu < 0xd800 || cu > 0xdbff)
		return cu;
	if (r->n - r->i < 6 || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u')
		return 0xfffd;
	r->i += 2;
	if ((lo = ref_hex4(r)) < 0)
		return -1;
	if (lo < 0xdc00 || lo > 0xdfff) {
		r->i -= 6;	/* read again on its own */
		return 0xfffd;
	}
	return 0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00);
}

/*
 * Reads a string after its opening quote; when key is not NULL, stores
 * the decoded bytes there (at most keysz) and their length in *keylen,
 * for the repeated-key check.
 */
static int
ref_string(struct ref *r, uint8_t *key, size_t keysz, size_t *keylen)
{
	static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
	const char	*e;
	size_t		 len = 0, n;
	long		 cp;
	uint8_t		 c, out[4];

	for (;;) {
		if (r->i >= r->n)
			return -1;
		c = r->s[r->i];
		if (c == '"') {
			r->i++;
			break;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if ((n = ref_utf8(r->s + r->i, r->n - r->i)) == 0)
				return -1;
			memcpy(out, r->s + r->i, n);
			r->i += n;
		} else {
			if (++r->i >= r->n)
				return -1;
			c = r->s[r->i++];
			if (c == 'u') {
				if ((cp = ref_escape_u(r)) < 0)
					return -1;
				n = ref_put_utf8(cp, out);
			} else if (c != '\0' && (e = strchr(esc, c)) != NULL) {
				out[0] = (uint8_t)val[e - esc];
				n = 1;
			} else
				return -1;
		}
		if (key != NULL && len + n <= keysz)
			memcpy(key + len, out, n);
		len += n;
	}
	if (keylen != NULL)
		*keylen = len;
	return 0;
}

/* Reads a number; an integer (no fraction, no exponent) must fit int64. */
static int
ref_number(struct ref *r)
{
	size_t	 start = r->i, digits;
	int	 neg = 0, integer = 1;
	uint64_t v = 0, lim;

	if (r->i < r->n && r->s[r->i] == '-')
		neg = 1, r->i++;
	if (r->i >= r->n || r->s[r->i] < '0' || r->s[r->i] > '9')
		return -1;
	if (r->s[r->i] == '0')
		r->i++;
	else
		while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
			r->i++;
	digits = r->i - start - (size_t)neg;
	if (r->i < r->n && r->s[r->i] == '.') {
		integer = 0;
		if (++r->i >= r->n || r->s[r->i] < '0' || r->s[r->i] > '9')
			return -1;
		while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
			r->i++;
	}
	if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
		integer = 0;
		if (++r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		if (r->i >= r->n || r->s[r->i] < '0' || r->s[r->i] > '9')
			return -1;
		while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
			r->i++;
	}
	if (integer) {
		lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		if (digits > 19)
			ref_refuse(r, "an integer outside int64");
		else {
			for (start += (size_t)neg; digits-- > 0; start++)
				v = v * 10 + (uint64_t)(r->s[start] - '0');
			if (v > lim)
				ref_refuse(r, "an integer outside int64");
		}
	}
	return 0;
}

/* Reads an object after '{'; returns its depth or -1. */
static int
ref_object(struct ref *r, int depth)
{
	uint8_t		**keys = NULL;
	size_t		*lens = NULL, nkeys = 0, k, max_len;
	int		 d, max = 1, rc = -1;

	ref_ws(r);
	if (r->i < r->n && r->s[r->i] == '}') {
		r->i++;
		return 1;
	}
	for (;;) {
		if (r->i >= r->n || r->s[r->i] != '"')
			goto out;
		r->i++;
		/* Decoding never makes a string longer than its text. */
		max_len = r->n - r->i;
		keys = realloc(keys, (nkeys + 1) * sizeof(*keys));
		lens = realloc(lens, (nkeys + 1) * sizeof(*lens));
		if (keys == NULL || lens == NULL ||
		    (keys[nkeys] = malloc(max_len + 1)) == NULL)
			abort();
		nkeys++;
		if (ref_string(r, keys[nkeys - 1], max_len,
		    &lens[nkeys - 1]) != 0)
			goto out;
		for (k = 0; k + 1 < nkeys; k++)
			if (lens[k] == lens[nkeys - 1] &&
			    memcmp(keys[k], keys[nkeys - 1], lens[k]) == 0)
				ref_refuse(r, "a repeated key");
		ref_ws(r);
		if (r->i >= r->n || r->s[r->i] != ':')
			goto out;
		r->i++;
		if ((d = ref_value(r, depth + 1)) < 0)
			goto out;
		if (d + 1 > max)
			max = d + 1;
		ref_ws(r);
		if (r->i < r->n && r->s[r->i] == ',') {
			r->i++;
			ref_ws(r);
			continue;
		}
		if (r->i < r->n && r->s[r->i] == '}') {
			r->i++;
			rc = max;
		}
		goto out;
	}
out:
	for (k = 0; k < nkeys; k++)
		free(keys[k]);
	free(keys);
	free(lens);
	return rc;
}

/* Reads an array after '['; returns its depth or -1. */
static int
ref_array(struct ref *r, int depth)
{
	int	 d, max = 1;

	ref_ws(r);
	if (r->i < r->n && r->s[r->i] == ']') {
		r->i++;
		return 1;
	}
	for (;;) {
		if ((d = ref_value(r, depth + 1)) < 0)
			return -1;
		if (d + 1 > max)
			max = d + 1;
		ref_ws(r);
		if (r->i < r->n && r->s[r->i] == ',') {
			r->i++;
			continue;
		}
		if (r->i < r->n && r->s[r->i] == ']') {
			r->i++;
			return max;
		}
		return -1;
	}
}

/*
 * Reads one value at nesting depth (the root is 1) after optional white
 * space; returns how deep it goes (a scalar is 1), REF_DEEP when deeper
 * than that, or -1 when it is not JSON.
 */
static int
ref_value(struct ref *r, int depth)
{
	uint8_t	 c;
	int	 d;

	if (depth >= REF_DEEP)
		return REF_DEEP;
	ref_ws(r);
	if (r->i >= r->n)
		return -1;
	c = r->s[r->i];
	if (c == '{' || c == '[') {
		r->i++;
		d = c == '{' ? ref_object(r, depth) : ref_array(r, depth);
		return d > REF_DEEP ? REF_DEEP : d;
	}
	if (c == '"') {
		r->i++;
		return ref_string(r, NULL, 0, NULL) == 0 ? 1 : -1;
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return ref_number(r) == 0 ? 1 : -1;
	if (ref_lit(r, "true") == 0 || ref_lit(r, "false") == 0 ||
	    ref_lit(r, "null") == 0)
		return 1;
	return -1;
}

/*
 * Returns 1 when jsonx_parse() must accept s, else 0 with *why saying
 * why not (static, or in buf).
 */
static int
ref_accepts(const uint8_t *s, size_t n, const char **why, char *buf,
    size_t bufsz)
{
	struct ref	 r = { s, n, 0, 0, NULL };
	size_t		 start, end = 0;
	int		 d;

	ref_ws(&r);
	start = r.i;
	if ((d = ref_value(&r, 1)) >= 0) {
		end = r.i;
		ref_ws(&r);
	}
	if (d < 0 || r.i != n) {
		snprintf(buf, bufsz, "not JSON at byte %zu", r.i);
		*why = buf;
		return 0;
	}
	if (r.refused) {
		*why = r.why;
		return 0;
	}
	if (d > JSONX_DEPTH) {
		*why = "too deep";
		return 0;
	}
	/* A null root is no root to hand out. */
	if (s[start] == 'n') {
		*why = "a null root";
		return 0;
	}
	if (end == n && s[start] != '{' && s[start] != '[' &&
	    s[start] != '"') {
		*why = "a root number or literal ending the text";
		return 0;
	}
	*why = "valid";
	return 1;
}

/* jsonx_str(), checked against json-c. */
static const char *
str(struct json_object *o, const char *path)
{
	struct json_object *v = jsonx_path(o, path);
	const char	*s = jsonx_str(o, path);

	if (v != NULL && json_object_is_type(v, json_type_string))
		FUZZ_ASSERT(s == json_object_get_string(v));
	else
		FUZZ_ASSERT(s == NULL);
	return s;
}

/* jsonx_id(), checked against json-c. */
static const char *
id(struct json_object *o, const char *path)
{
	struct json_object *v = jsonx_path(o, path);
	const char	*s = jsonx_id(o, path);

	if (v != NULL && json_object_is_type(v, json_type_object))
		FUZZ_ASSERT(s == jsonx_str(v, "id"));
	else if (v != NULL && json_object_is_type(v, json_type_string))
		FUZZ_ASSERT(s == json_object_get_string(v));
	else
		FUZZ_ASSERT(s == NULL);
	return s;
}

/* jsonx_int(), checked against json-c; *out is left alone on failure. */
static int
num(struct json_object *o, const char *path, int64_t *out)
{
	struct json_object *v = jsonx_path(o, path);
	int64_t		 x = 42;
	int		 rc = jsonx_int(o, path, &x);

	if (v != NULL && json_object_is_type(v, json_type_int)) {
		FUZZ_ASSERT(rc == 0 && x == json_object_get_int64(v));
		*out = x;
	} else
		FUZZ_ASSERT(rc == -1 && x == 42);
	return rc;
}

/* jsonx_bool(), checked against json-c. */
static int
flag(struct json_object *o, const char *path)
{
	struct json_object *v = jsonx_path(o, path);
	int		 b = jsonx_bool(o, path, 7);

	if (v != NULL && json_object_is_type(v, json_type_boolean))
		FUZZ_ASSERT(b == (json_object_get_boolean(v) ? 1 : 0));
	else
		FUZZ_ASSERT(b == 7);
	return b;
}

/*
 * Checks what jsonx_parse() promises of an accepted text, as far as the
 * tree shows it: no string cut by a \u0000, no integer json-c had to
 * saturate.  (1e400 is accepted, as check_req.c says: it reads as inf.)
 */
static void
check_value(struct json_object *v)
{
	int64_t		 i;

	if (json_object_is_type(v, json_type_string))
		FUZZ_ASSERT(strlen(json_object_get_string(v)) ==
		    (size_t)json_object_get_string_len(v));
	else if (json_object_is_type(v, json_type_int) &&
	    (i = json_object_get_int64(v)) >= 0)
		FUZZ_ASSERT(json_object_get_uint64(v) == (uint64_t)i);
}

/*
 * Re-serializes an accepted root: the text must be accepted again and give
 * an equal tree (acceptance is closed under json-c's own output).
 */
static void
check_reparse(struct json_object *root)
{
	struct json_object *again = NULL;
	const char	*txt;
	char		*line;

	txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	FUZZ_ASSERT(txt != NULL);
	/* A newline ends a root number, which json-c needs (see above). */
	line = fuzz_memdup(txt, strlen(txt) + 1);
	line[strlen(txt)] = '\n';
	FUZZ_ASSERT(jsonx_parse(line, strlen(line), &again) == XERR_OK);
	FUZZ_ASSERT(json_object_equal(root, again));
	json_object_put(again);
	free(line);
}

/*
 * Visits the tree below node, where path (pathlen bytes) leads from base
 * to node, and checks that jsonx_path() and jsonx_idx() find every member
 * they can address.  Array elements start a new base.
 */
static void
walk(struct json_object *base, struct json_object *node, char *path,
    size_t pathlen, size_t *budget)
{
	struct json_object *e;
	char		 sub[PATH_MAX_LEN];
	size_t		 i, n, klen;

	if (*budget == 0)
		return;
	(*budget)--;
	check_value(node);
	if (json_object_is_type(node, json_type_array)) {
		n = json_object_array_length(node);
		for (i = 0; i < n && *budget > 0; i++) {
			e = json_object_array_get_idx(node, i);
			if (pathlen > 0)
				FUZZ_ASSERT(jsonx_idx(base, path, i) == e);
			sub[0] = '\0';
			if (e != NULL)
				walk(e, e, sub, 0, budget);
		}
		if (pathlen > 0)
			FUZZ_ASSERT(jsonx_idx(base, path, n) == NULL);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	json_object_object_foreach(node, key, val) {
		klen = strlen(key);
		/* jsonx_path() addresses keys of 1 to 63 bytes without '.'. */
		if (klen == 0 || klen > 63 || strchr(key, '.') != NULL ||
		    pathlen + 1 + klen >= PATH_MAX_LEN)
			continue;
		if (pathlen > 0)
			path[pathlen] = '.';
		memcpy(path + pathlen + (pathlen > 0), key, klen + 1);
		FUZZ_ASSERT(jsonx_path(base, path) == val);
		if (val != NULL)
			walk(base, val, path, pathlen + (pathlen > 0) + klen,
			    budget);
		path[pathlen] = '\0';
	}
}

/*
 * Returns 1 for 1 to max printable ASCII bytes, no space: the rule of
 * ids.h, written out here to check ids_ext_ok(), which evstore_apply() uses.
 */
static int
id_ok(const char *s, size_t max)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/* The reads of customer.subscription.* (subscriptions_read). */
static void
read_subscription(struct json_object *obj)
{
	struct json_object *item;
	const char	*price, *tier;
	int64_t		 v;

	str(obj, "id");
	id(obj, "customer");
	str(obj, "status");
	item = jsonx_idx(obj, "items.data", 0);
	price = id(item, "price");
	str(item, "id");
	if ((tier = tiers_by_price(&cfg, price)) != NULL) {
		FUZZ_ASSERT(strcmp(tier, "ai_secretary") == 0 ||
		    strcmp(tier, "ai_project_manager") == 0 ||
		    strcmp(tier, "ai_cto") == 0);
		FUZZ_ASSERT(strcmp(tiers_price(&cfg, tier), price) == 0 ||
		    (strcmp(tier, "ai_cto") == 0 &&
		    strcmp(price, price_cto_old) == 0));
	}
	num(obj, "current_period_start", &v);
	num(obj, "current_period_end", &v);
	num(item, "current_period_start", &v);
	num(item, "current_period_end", &v);
	flag(obj, "cancel_at_period_end");
	num(obj, "trial_end", &v);
	str(obj, "metadata.user_id");
}

/* The reads of invoice.* (invoices_read, invoices_cycle). */
static void
read_invoice(struct json_object *inv)
{
	struct json_object *lines, *l;
	size_t		 i, n;
	int64_t		 v, s, e;

	str(inv, "id");
	str(inv, "status");
	str(inv, "billing_reason");
	id(inv, "subscription");
	id(inv, "customer");
	num(inv, "amount_due", &v);
	num(inv, "amount_paid", &v);
	num(inv, "period_start", &v);
	num(inv, "period_end", &v);
	num(inv, "attempt_count", &v);
	num(inv, "next_payment_attempt", &v);
	num(inv, "created", &v);
	str(inv, "number");
	str(inv, "currency");
	str(inv, "hosted_invoice_url");
	str(inv, "subscription_details.metadata.user_id");
	id(inv, "parent.subscription_details.subscription");
	str(inv, "parent.subscription_details.metadata.user_id");
	str(inv, "metadata.user_id");
	lines = jsonx_path(inv, "lines.data");
	if (lines == NULL || !json_object_is_type(lines, json_type_array))
		return;
	n = json_object_array_length(lines);
	for (i = 0; i < n; i++) {
		l = json_object_array_get_idx(lines, i);
		str(l, "type");
		flag(l, "proration");
		str(l, "parent.type");
		flag(jsonx_path(l, "parent.subscription_item_details"),
		    "proration");
		num(l, "period.start", &s);
		num(l, "period.end", &e);
	}
}

/* The reads of checkout.session.completed and the trial and upcoming events. */
static void
read_other(struct json_object *obj)
{
	int64_t		 v;

	id(obj, "customer");
	str(obj, "client_reference_id");
	str(obj, "metadata.user_id");
	str(obj, "subscription");
	num(obj, "trial_end", &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *root = (struct json_object *)&cfg;	/* cleared? */
	struct json_object *obj;
	char		 path[PATH_MAX_LEN], err[256], whybuf[64];
	const char	*evid, *type, *status, *why;
	size_t		 budget = WALK_MAX_NODES;
	int64_t		 created = 0;
	enum xerr	 rc;
	int		 ok;

	rc = jsonx_parse((const char *)data, size, &root);
	if ((rc == XERR_OK) != ref_accepts(data, size, &why, whybuf,
	    sizeof(whybuf))) {
		fprintf(stderr, "jsonx_parse() %s, the reference %s: %s\n",
		    rc == XERR_OK ? "accepts" : "refuses",
		    rc == XERR_OK ? "refuses" : "accepts", why);
		FUZZ_ASSERT(!"jsonx_parse() disagrees with the reference");
	}
	if (rc != XERR_OK) {
		FUZZ_ASSERT(rc == XERR_BADREQ && root == NULL);
		FUZZ_ASSERT(evstore_apply(NULL, &cfg, (const char *)data, size,
		    0, &status, err, sizeof(err)) == XERR_BADREQ);
		FUZZ_ASSERT(status == NULL && err[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(root != NULL);
	FUZZ_ASSERT(size == 0 || memchr(data, '\0', size) == NULL);

	/* evstore_apply()'s first checks, then what it reads for storing. */
	evid = str(root, "id");
	type = str(root, "type");
	obj = jsonx_path(root, "data.object");
	FUZZ_ASSERT(ids_ext_ok(evid, 255) == id_ok(evid, 255));
	FUZZ_ASSERT(ids_ext_ok(type, 128) == id_ok(type, 128));
	ok = id_ok(evid, 255) && id_ok(type, 128) &&
	    num(root, "created", &created) == 0 && obj != NULL &&
	    json_object_is_type(obj, json_type_object);
	str(root, "api_version");
	flag(root, "livemode");
	str(obj, "id");

	read_subscription(obj);
	read_invoice(obj);
	read_other(obj);

	path[0] = '\0';
	walk(root, root, path, 0, &budget);
	check_reparse(root);
	json_object_put(root);

	if (!ok) {
		/* Refused before any database access. */
		FUZZ_ASSERT(evstore_apply(NULL, &cfg, (const char *)data, size,
		    0, &status, err, sizeof(err)) == XERR_BADREQ);
		FUZZ_ASSERT(status == NULL && err[0] != '\0');
	}
	return 0;
}
