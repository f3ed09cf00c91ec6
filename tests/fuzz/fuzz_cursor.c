/*
 * fuzz_cursor: the history cursor of GET /api/billing/history,
 * billing_cursor_decode() and billing_cursor_encode().
 *
 * Input: the whole input (up to its first NUL) is a cursor as a client
 * sends it; its last bytes also make up a cursor to encode.  Invariants:
 *  - decode returns XERR_OK or XERR_BADREQ (XERR_NOMEM aside); on
 *    XERR_BADREQ the cursor is zeroed;
 *  - a decoded cursor is one we could have written (positions not
 *    negative, one of them positive, an invoice id of ids_ext_ok() exactly
 *    when there is an invoice position), and it encodes back to the very
 *    input: a cursor has one spelling;
 *  - a cursor built from the tail encodes exactly when it is one we could
 *    have written, to at most BILLING_CURSOR_MAX characters, and decodes
 *    back to itself.
 */
#include "fuzz.h"

#include "core/ids.h"
#include "core/xerr.h"
#include "app/billing.h"

/* 1 when c is all zero. */
static int
zeroed(const struct billing_cursor *c)
{
	static const struct billing_cursor z;

	return memcmp(c, &z, sizeof(z)) == 0;
}

/* 1 when c obeys billing.h's rules of a cursor we write. */
static int
writable(const struct billing_cursor *c)
{
	return c->event_before >= 0 && c->invoice_created >= 0 &&
	    (c->event_before > 0 || c->invoice_created > 0) &&
	    (c->invoice_created == 0) == (c->invoice_id[0] == '\0') &&
	    (c->invoice_id[0] == '\0' ||
	    ids_ext_ok(c->invoice_id, BILLING_INVOICE_ID_MAX));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_tail	 t = { data, size };
	struct billing_cursor	 c, d;
	char			*s = fuzz_memdup(data, size);
	char			 enc[BILLING_CURSOR_MAX + 2];
	size_t			 n, i;
	enum xerr		 rc;

	memset(&c, 0x55, sizeof(c));
	rc = billing_cursor_decode(s, &c);
	FUZZ_ASSERT(rc == XERR_OK || rc == XERR_BADREQ || rc == XERR_NOMEM);
	if (rc != XERR_OK)
		FUZZ_ASSERT(zeroed(&c));
	else {
		FUZZ_ASSERT(writable(&c));
		FUZZ_ASSERT(billing_cursor_encode(&c, enc, sizeof(enc)) ==
		    XERR_OK);
		FUZZ_ASSERT(strcmp(enc, s) == 0);
	}

	/* A cursor of the tail: signed positions, an id of tail bytes. */
	memset(&c, 0, sizeof(c));
	c.event_before = (int64_t)fuzz_tail_u64(&t, 8);
	c.invoice_created = (int64_t)fuzz_tail_u64(&t, 8);
	n = (size_t)fuzz_tail_u64(&t, 1) % 40;
	for (i = 0; i < n && t.n > 0; i++)
		c.invoice_id[i] = (char)fuzz_tail_u64(&t, 1);
	c.invoice_id[i] = '\0';
	rc = billing_cursor_encode(&c, enc, sizeof(enc));
	FUZZ_ASSERT((rc == XERR_OK) == writable(&c) || rc == XERR_NOMEM);
	if (rc == XERR_OK) {
		FUZZ_ASSERT(strlen(enc) <= BILLING_CURSOR_MAX);
		FUZZ_ASSERT(billing_cursor_decode(enc, &d) == XERR_OK);
		FUZZ_ASSERT(d.event_before == c.event_before &&
		    d.invoice_created == c.invoice_created &&
		    strcmp(d.invoice_id, c.invoice_id) == 0);
	} else
		FUZZ_ASSERT(enc[0] == '\0');
	free(s);
	return 0;
}
