#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/http.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/bill_lines.h"
#include "store/bill_usage.h"
#include "store/billing_events.h"
#include "store/billing_reads.h"
#include "store/bills.h"
#include "remote/stripe.h"
#include "domain/bill.h"

/* A bill as stored. */
struct bill {
	int64_t		 id, ps, pe, ue;
	char		 user[65];
	char		 sub[256];
	char		 customer[256];
	char		 kind[9];
	char		 invoice[256];	/* the renewal's draft, or "" */
	char		 oneoff[256];	/* our one-off invoice, or "" */
	char		 state[9];
	int		 sub_deleted;
	char		 draft[32];	/* the invoice's status, once read */
};

/* One line of a bill. */
struct bill_line {
	char		 kind[17];
	int64_t		 quantity, cents;
	char		 unit[17];
	char		 desc[256];
	char		 target[9];	/* "invoice", "pending" or "" */
	char		 item[256];	/* Stripe's invoice item, or "" */
	char		 xsb_line[96];	/* "bill:<id>:<kind>" */
};

/* Copies src into dst (sz bytes), cut to fit, as bill_load() reads. */
static void
bill_copy(char *dst, size_t sz, const char *src)
{
	size_t	 n = strlen(src);

	if (n >= sz)
		n = sz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Reads bill id and its lines. */
static enum xerr
bill_load(struct db *db, int64_t id, struct bill *b, struct bill_line *l,
    size_t *n)
{
	struct bill_lines_row rows[BILL_LINES_MAX];
	struct billing_reads_sub owner;
	struct bills_row row;
	size_t		 i, nrows;
	enum xerr	 rc;

	memset(b, 0, sizeof(*b));
	*n = 0;
	if ((rc = bills_by_id(db, id, &row)))
		return rc;
	b->id = id;
	bill_copy(b->user, sizeof(b->user), row.user_id);
	bill_copy(b->sub, sizeof(b->sub), row.subscription_id);
	bill_copy(b->customer, sizeof(b->customer), row.customer_id);
	bill_copy(b->kind, sizeof(b->kind), row.kind);
	b->ps = row.period_start;
	b->pe = row.period_end;
	b->ue = row.usage_end;
	bill_copy(b->invoice, sizeof(b->invoice), row.invoice_id);
	bill_copy(b->oneoff, sizeof(b->oneoff), row.oneoff_invoice_id);
	bill_copy(b->state, sizeof(b->state), row.state);

	rc = billing_reads_sub(db, b->sub, 0, &owner);
	if (rc != XERR_OK && rc != XERR_NOTFOUND)
		return rc;
	b->sub_deleted = rc == XERR_OK && owner.deleted;

	if ((rc = bill_lines_of(db, id, rows, BILL_LINES_MAX, &nrows)))
		return rc;
	for (i = 0; i < nrows; i++) {
		bill_copy(l[i].kind, sizeof(l[i].kind), rows[i].kind);
		l[i].quantity = rows[i].quantity;
		bill_copy(l[i].unit, sizeof(l[i].unit), rows[i].unit_decimal);
		l[i].cents = rows[i].amount_cents;
		bill_copy(l[i].desc, sizeof(l[i].desc), rows[i].description);
		bill_copy(l[i].target, sizeof(l[i].target), rows[i].target);
		bill_copy(l[i].item, sizeof(l[i].item), rows[i].stripe_item_id);
		snprintf(l[i].xsb_line, sizeof(l[i].xsb_line),
		    "bill:%lld:%.16s", (long long)id, l[i].kind);
	}
	*n = i;
	return XERR_OK;
}

/*
 * Reads the status of invoice into status ("deleted" when Stripe no
 * longer has it: a draft may be deleted).
 */
static enum xerr
bill_invoice_status(struct http *h, const struct cfg *cfg, const char *invoice,
    char *status, size_t sz, char *err, size_t errsz)
{
	struct stripe_reply rep;
	struct json_object *inv = NULL;
	char		 path[300];
	enum xerr	 rc;

	snprintf(path, sizeof(path), "/v1/invoices/%s", invoice);
	rc = stripe_call(h, cfg, "GET", path, NULL, NULL, &inv, &rep);
	if (rc == XERR_OK || (rc != XERR_UPSTREAM && rep.status == 404)) {
		snprintf(status, sz, "%s", rc != XERR_OK ? "deleted" :
		    jsonx_str(inv, "status") ? jsonx_str(inv, "status") : "?");
		rc = XERR_OK;
	} else
		snprintf(err, errsz, "reading invoice %s: %s", invoice,
		    rep.msg);
	json_object_put(inv);
	return rc;
}

/* Returns 1 when the invoice item it is the line arg (metadata[xsb_line]). */
static int
bill_item_match(struct json_object *it, void *arg)
{
	const char	*x = jsonx_str(it, "metadata.xsb_line");

	return x != NULL && strcmp(x, arg) == 0;
}

/*
 * Stores the line's target, chosen before its first call: from the one
 * this run read, so that a second run of the job (its lease ran out) that
 * moved it first stops this one (XERR_CONFLICT, retried: the retry reads
 * the line anew).
 */
static enum xerr
bill_set_target(struct db *db, const struct bill *b, struct bill_line *l,
    const char *target)
{
	enum xerr	 rc;

	if ((rc = bill_lines_set_target(db, b->id, l->kind, l->target,
	    target)) != XERR_OK) {
		if (rc == XERR_CONFLICT)
			log_warnx("bill %lld: %s line moved by another run of "
			    "its job: this one stops", (long long)b->id,
			    l->kind);
		return rc;
	}
	snprintf(l->target, sizeof(l->target), "%s", target);
	return XERR_OK;
}

/* Records that the line is at Stripe as item, and its billing_events row. */
static enum xerr
bill_line_done(struct db *db, const struct bill *b, struct bill_line *l,
    const char *item)
{
	char		 subject[64], kind[40];
	enum xerr	 rc;

	snprintf(l->item, sizeof(l->item), "%s", item ? item : "?");
	if ((rc = bill_lines_set_posted(db, b->id, l->kind, l->item)))
		return rc;
	snprintf(subject, sizeof(subject), "bill:%lld", (long long)b->id);
	snprintf(kind, sizeof(kind), "overage_%s", l->kind);
	return billing_events_insert(db, b->user,
	    strcmp(l->target, "invoice") == 0 ? b->invoice : subject, kind,
	    &l->cents, l->item);
}

/* Writes the line's invoice item form: the same on every attempt. */
static enum xerr
bill_form(const struct bill *b, const struct bill_line *l, struct buf *form)
{
	char		 q[32], ps[32], pe[32], id[32];
	enum xerr	 rc;

	snprintf(q, sizeof(q), "%lld", (long long)l->quantity);
	snprintf(ps, sizeof(ps), "%lld", (long long)b->ps);
	snprintf(pe, sizeof(pe), "%lld", (long long)b->pe);
	snprintf(id, sizeof(id), "%lld", (long long)b->id);
	if ((rc = http_form_add(form, "customer", b->customer)) ||
	    (strcmp(l->target, "invoice") == 0 &&
	    (rc = http_form_add(form, "invoice", b->invoice))) ||
	    (rc = http_form_add(form, "currency", "usd")) ||
	    (rc = http_form_add(form, "quantity", q)) ||
	    (rc = http_form_add(form, "unit_amount_decimal", l->unit)) ||
	    (rc = http_form_add(form, "description", l->desc)) ||
	    (rc = http_form_add(form, "period[start]", ps)) ||
	    (rc = http_form_add(form, "period[end]", pe)) ||
	    (rc = http_form_add(form, "metadata[user_id]", b->user)) ||
	    (rc = http_form_add(form, "metadata[kind]", l->kind)) ||
	    (rc = http_form_add(form, "metadata[xsb_bill]", id)) ||
	    (rc = http_form_add(form, "metadata[xsb_line]", l->xsb_line)))
		return rc;
	return XERR_OK;
}

/* Sends the line to its target once (stripe_create_once()). */
static enum xerr
bill_send(struct db *db, struct http *h, const struct cfg *cfg,
    const struct bill *b, struct bill_line *l, struct stripe_reply *rep)
{
	struct json_object *item = NULL;
	struct buf	*form;
	char		 key[128];
	enum xerr	 rc;

	if ((form = buf_new(2048)) == NULL)
		return XERR_NOMEM;
	snprintf(key, sizeof(key), "xsb-bill-%lld-%s-%s", (long long)b->id,
	    l->kind, l->target);
	if ((rc = bill_form(b, l, form)) == XERR_OK &&
	    (rc = stripe_create_once(h, cfg, "/v1/invoiceitems", "customer",
	    b->customer, form, key, bill_item_match, l->xsb_line, &item,
	    rep)) == XERR_OK) {
		log_info("bill %lld: %s %lld x %s = %lld cents on %s: %s",
		    (long long)b->id, l->kind, (long long)l->quantity, l->unit,
		    (long long)l->cents, strcmp(l->target, "invoice") ?
		    "pending" : b->invoice, jsonx_str(item, "id"));
		rc = bill_line_done(db, b, l, jsonx_str(item, "id"));
	}
	json_object_put(item);
	buf_free(form);
	return rc;
}

/*
 * Looks for the line's item among the customer's (an earlier attempt may
 * have made it) and, when there, records the line as done: l->item is set
 * then.
 */
static enum xerr
bill_found(struct db *db, struct http *h, const struct cfg *cfg,
    const struct bill *b, struct bill_line *l, char *err, size_t errsz)
{
	struct stripe_reply rep;
	struct json_object *item = NULL;
	enum xerr	 rc;

	if ((rc = stripe_list_find(h, cfg, "/v1/invoiceitems", "customer",
	    b->customer, bill_item_match, l->xsb_line, &item, &rep))) {
		snprintf(err, errsz, "reading items of %s: %s", b->customer,
		    rep.msg);
		return rc;
	}
	if (item == NULL)
		return XERR_OK;
	log_info("bill %lld: %s is at Stripe already: %s", (long long)b->id,
	    l->kind, jsonx_str(item, "id"));
	rc = bill_line_done(db, b, l, jsonx_str(item, "id"));
	json_object_put(item);
	return rc;
}

/*
 * Moves a line meant for the renewal invoice to pending, once the invoice
 * is no draft: unless an earlier attempt put it there after all.
 */
static enum xerr
bill_to_pending(struct db *db, struct http *h, const struct cfg *cfg,
    const struct bill *b, struct bill_line *l, char *err, size_t errsz)
{
	enum xerr	 rc;

	if ((rc = bill_found(db, h, cfg, b, l, err, errsz)) ||
	    l->item[0] != '\0')
		return rc;
	log_info("bill %lld: invoice %s is %s: %s goes pending",
	    (long long)b->id, b->invoice, b->draft, l->kind);
	return bill_set_target(db, b, l, "pending");
}

/* Posts one line that is not at Stripe yet. */
static enum xerr
bill_post_line(struct db *db, struct http *h, const struct cfg *cfg,
    struct bill *b, struct bill_line *l, char *err, size_t errsz)
{
	struct stripe_reply rep;
	int		 again = l->target[0] != '\0';
	enum xerr	 rc;

	memset(&rep, 0, sizeof(rep));
	if (b->invoice[0] != '\0' && strcmp(l->target, "pending") != 0 &&
	    b->draft[0] == '\0' && (rc = bill_invoice_status(h, cfg,
	    b->invoice, b->draft, sizeof(b->draft), err, errsz)))
		return rc;
	if (l->target[0] == '\0' && (rc = bill_set_target(db, b, l,
	    b->invoice[0] != '\0' && strcmp(b->draft, "draft") == 0 ?
	    "invoice" : "pending")))
		return rc;
	if (strcmp(l->target, "invoice") == 0 &&
	    strcmp(b->draft, "draft") != 0) {
		if ((rc = bill_to_pending(db, h, cfg, b, l, err, errsz)) ||
		    l->item[0] != '\0')
			return rc;
	} else if (again) {
		/*
		 * An earlier attempt got as far as sending it: Stripe may
		 * hold the item, and the key may have expired (Stripe keeps
		 * keys for 24 hours), so a new POST could make a second one.
		 */
		if ((rc = bill_found(db, h, cfg, b, l, err, errsz)) ||
		    l->item[0] != '\0')
			return rc;
	}
	rc = bill_send(db, h, cfg, b, l, &rep);
	if (rc == XERR_UNPROCESSABLE && rep.status == 400 &&
	    strcmp(l->target, "invoice") == 0) {
		/* Finalized since we looked: Stripe made nothing. */
		if ((rc = bill_invoice_status(h, cfg, b->invoice, b->draft,
		    sizeof(b->draft), err, errsz)))
			return rc;
		if (strcmp(b->draft, "draft") != 0) {
			if ((rc = bill_set_target(db, b, l, "pending")))
				return rc;
			rc = bill_send(db, h, cfg, b, l, &rep);
		} else
			rc = XERR_UNPROCESSABLE;
	}
	if (rc != XERR_OK && err[0] == '\0')
		snprintf(err, errsz, "%s line: %s", l->kind, rep.msg);
	return rc;
}

/* Matches the one-off invoice of bill arg ("<id>") by its metadata. */
static int
bill_oneoff_match(struct json_object *inv, void *arg)
{
	const char	*x = jsonx_str(inv, "metadata.xsb_bill");

	return x != NULL && strcmp(x, arg) == 0;
}

/*
 * Finalizes the one-off invoice b->oneoff (draft -> open, so Stripe
 * collects it).  Finalizing is idempotent at Stripe (a 400 for an invoice
 * that is no draft any more, which then counts as done), so a failure
 * Stripe saved under a key is tried again under the next one.
 */
static enum xerr
bill_oneoff_finalize(struct http *h, const struct cfg *cfg, struct bill *b,
    const char *id, char *err, size_t errsz)
{
	struct stripe_reply rep;
	struct json_object *inv = NULL;
	struct buf	*form;
	char		 key[96], path[300], st[32];
	int		 n;
	enum xerr	 rc;

	if ((form = buf_new(256)) == NULL)
		return XERR_NOMEM;
	snprintf(path, sizeof(path), "/v1/invoices/%s/finalize", b->oneoff);
	if ((rc = http_form_add(form, "auto_advance", "true")))
		goto out;
	for (n = 0; n < STRIPE_KEYS_MAX; n++) {
		snprintf(key, sizeof(key), n ? "xsb-bill-%s-finalize:r%d" :
		    "xsb-bill-%s-finalize", id, n);
		memset(&rep, 0, sizeof(rep));
		rc = stripe_call(h, cfg, "POST", path, form, key, &inv, &rep);
		json_object_put(inv);
		inv = NULL;
		if (rc != XERR_UNPROCESSABLE)
			break;
		/* Finalized already (auto_advance): done once no draft. */
		if ((rc = bill_invoice_status(h, cfg, b->oneoff, st,
		    sizeof(st), err, errsz)) != XERR_OK)
			break;
		rc = strcmp(st, "draft") == 0 ? XERR_UNPROCESSABLE : XERR_OK;
		if (rc == XERR_OK || !rep.replayed)
			break;
		log_warnx("bill %lld: Stripe saved a failure under key %s; the "
		    "next key", (long long)b->id, key);
	}
	if (rc != XERR_OK && err[0] == '\0')
		snprintf(err, errsz, "finalizing %s: %s", b->oneoff, rep.msg);
out:
	buf_free(form);
	return rc;
}

/*
 * Sets *left when one of the n items other bills posted as pending (rows)
 * is still on no invoice at Stripe (GET /v1/invoiceitems/<id>; one Stripe
 * deleted is not).  Stops at the first.
 */
static enum xerr
bill_left_pending(struct http *h, const struct cfg *cfg,
    const struct bill *b, const struct bill_lines_pending_row *rows,
    size_t n, int *left, char *err, size_t errsz)
{
	struct stripe_reply rep;
	struct json_object *it = NULL;
	char		 path[300];
	size_t		 i;
	enum xerr	 rc = XERR_OK;

	*left = 0;
	for (i = 0; i < n && !*left && rc == XERR_OK; i++) {
		snprintf(path, sizeof(path), "/v1/invoiceitems/%s",
		    rows[i].stripe_item_id);
		memset(&rep, 0, sizeof(rep));
		rc = stripe_call(h, cfg, "GET", path, NULL, NULL, &it, &rep);
		if (rc == XERR_OK && jsonx_id(it, "invoice") == NULL &&
		    !jsonx_bool(it, "deleted", 0)) {
			*left = 1;
			log_info("bill %lld: item %s of bill %lld (%s) is still "
			    "pending: a one-off invoice collects it",
			    (long long)b->id, rows[i].stripe_item_id,
			    (long long)rows[i].bill_id, rows[i].kind);
		} else if (rc == XERR_NOTFOUND)
			rc = XERR_OK;
		else if (rc != XERR_OK)
			snprintf(err, errsz, "reading item %s: %s",
			    rows[i].stripe_item_id, rep.msg);
		json_object_put(it);
		it = NULL;
	}
	return rc;
}

/*
 * The one-off invoice of a bill that no renewal will follow (a final bill,
 * or its subscription ended), for what is pending: its own lines (need),
 * or else the items other bills of the subscription posted as pending
 * that Stripe still holds on no invoice (a renewal's invoice finalized
 * before its bill was posted leaves them for the next one, which will not
 * come).  Created with the customer's pending items, then finalized, so
 * Stripe collects it.  Looked for among the customer's invoices first (by
 * metadata.xsb_bill), before the items are read: an earlier attempt may
 * have created it, taking the items, and not recorded it, under a key
 * Stripe has since forgotten.  Without need, nothing pending and none
 * found: no invoice (*none set), XERR_OK.  id is the bill's id as text.
 */
static enum xerr
bill_oneoff_make(struct db *db, struct http *h, const struct cfg *cfg,
    struct bill *b, int need, char *id, int *none, char *err,
    size_t errsz)
{
	struct bill_lines_pending_row earlier[BILL_LINES_PENDING_MAX];
	struct stripe_reply rep;
	struct json_object *inv = NULL;
	struct buf	*form = NULL;
	char		 key[96];
	size_t		 n = 0;
	enum xerr	 rc;

	*none = 0;
	memset(&rep, 0, sizeof(rep));
	/* The usual last bill: nothing pending, ours or earlier. */
	if (!need && ((rc = bill_lines_pending(db, b->sub, b->id, earlier,
	    BILL_LINES_PENDING_MAX, &n)) || n == 0)) {
		*none = 1;
		return rc;
	}
	if ((rc = stripe_list_find(h, cfg, "/v1/invoices", "customer",
	    b->customer, bill_oneoff_match, id, &inv, &rep))) {
		snprintf(err, errsz, "reading invoices of %s: %s", b->customer,
		    rep.msg);
		goto out;
	}
	if (inv != NULL)
		goto found;
	/* Only earlier items: is one of them still on no invoice? */
	if (!need && ((rc = bill_left_pending(h, cfg, b, earlier, n, &need,
	    err, errsz)) || !need)) {
		*none = 1;
		goto out;
	}
	snprintf(key, sizeof(key), "xsb-bill-%s-invoice", id);
	if ((form = buf_new(1024)) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if ((rc = http_form_add(form, "customer", b->customer)) ||
	    (rc = http_form_add(form, "auto_advance", "true")) ||
	    (rc = http_form_add(form, "collection_method",
	    "charge_automatically")) ||
	    (rc = http_form_add(form, "pending_invoice_items_behavior",
	    "include")) ||
	    (rc = http_form_add(form, "description",
	    "xSwarm usage of your last billing period")) ||
	    (rc = http_form_add(form, "metadata[xsb_bill]", id)) ||
	    (rc = http_form_add(form, "metadata[user_id]", b->user)))
		goto out;
	if ((rc = stripe_create_once(h, cfg, "/v1/invoices", "customer",
	    b->customer, form, key, bill_oneoff_match, id, &inv, &rep))) {
		snprintf(err, errsz, "one-off invoice: %s", rep.msg);
		goto out;
	}
found:
	snprintf(b->oneoff, sizeof(b->oneoff), "%s",
	    jsonx_str(inv, "id") ? jsonx_str(inv, "id") : "");
	rc = bills_set_oneoff(db, b->id, b->oneoff);
out:
	json_object_put(inv);
	buf_free(form);
	return rc;
}

/*
 * bill_oneoff_make() for a bill without one yet (*none: none needed), then
 * its finalization.
 */
static enum xerr
bill_oneoff(struct db *db, struct http *h, const struct cfg *cfg,
    struct bill *b, int need, char *err, size_t errsz)
{
	char		 id[32];
	int		 none = 0;
	enum xerr	 rc;

	snprintf(id, sizeof(id), "%lld", (long long)b->id);
	if (b->oneoff[0] == '\0' && ((rc = bill_oneoff_make(db, h, cfg, b,
	    need, id, &none, err, errsz)) || none))
		return rc;
	rc = bill_oneoff_finalize(h, cfg, b, id, err, errsz);
	log_info("bill %lld: one-off invoice %s: %s", (long long)b->id,
	    b->oneoff, xerr_code(rc));
	return rc;
}

enum xerr
bill_post(struct db *db, struct http *h, const struct cfg *cfg, int64_t id,
    char *err, size_t errsz)
{
	struct bill_line l[BILL_LINES_MAX];
	struct bill	 b;
	size_t		 i, n;
	int		 pending = 0;
	enum xerr	 rc;

	err[0] = '\0';
	if ((rc = bill_load(db, id, &b, l, &n)))
		return rc;
	if (strcmp(b.state, "posted") == 0)
		return XERR_OK;
	for (i = 0; i < n; i++) {
		if (l[i].item[0] == '\0' &&
		    (rc = bill_post_line(db, h, cfg, &b, &l[i], err, errsz)))
			return rc;
		pending |= strcmp(l[i].target, "pending") == 0;
	}
	/* No renewal will sweep in what is pending. */
	if ((strcmp(b.kind, "final") == 0 || b.sub_deleted) &&
	    (rc = bill_oneoff(db, h, cfg, &b, pending, err, errsz)))
		return rc;
	return bills_set_posted(db, id);
}

/*
 * Compares one posted line with the invoice item Stripe holds: the same
 * line (metadata[xsb_line]), quantity and amount.  Appends what differs to
 * diff; *bad is set then.  Any other answer than the item or a 404 is
 * returned, with what Stripe answered in why (stripe_call() logs its
 * message).
 */
static enum xerr
bill_check_line(struct http *h, const struct cfg *cfg,
    const struct bill_line *l, char *diff, size_t diffsz, int *bad,
    char *why, size_t whysz)
{
	struct stripe_reply rep;
	struct json_object *it = NULL;
	const char	*x;
	char		 path[300];
	int64_t		 q = -1, amount = -1;
	size_t		 len = strlen(diff);
	enum xerr	 rc;

	snprintf(path, sizeof(path), "/v1/invoiceitems/%s", l->item);
	rc = stripe_call(h, cfg, "GET", path, NULL, NULL, &it, &rep);
	if (rc != XERR_OK && rep.status != 404) {
		if (rep.status == 0)
			snprintf(why, whysz, "%.16s: item %.64s: Stripe did "
			    "not answer", l->kind, l->item);
		else
			snprintf(why, whysz, "%.16s: item %.64s: Stripe "
			    "answered %ld%s%s%s", l->kind, l->item, rep.status,
			    rep.code[0] ? " (" : "", rep.code,
			    rep.code[0] ? ")" : "");
		return rc;
	}
	if (rc == XERR_OK) {
		jsonx_int(it, "quantity", &q);
		jsonx_int(it, "amount", &amount);
	}
	x = jsonx_str(it, "metadata.xsb_line");
	if (rc != XERR_OK || x == NULL || strcmp(x, l->xsb_line) != 0 ||
	    q != l->quantity || amount != l->cents) {
		*bad = 1;
		snprintf(diff + len, diffsz - len, "%s%.16s: %s", len ? "; " :
		    "", l->kind, rc != XERR_OK ? "item gone at Stripe" : "");
		len = strlen(diff);
		if (rc == XERR_OK)
			snprintf(diff + len, diffsz - len, "item %.64s has %lld x = "
			    "%lld c, ours %lld x = %lld c", l->item, (long long)q,
			    (long long)amount, (long long)l->quantity,
			    (long long)l->cents);
	}
	json_object_put(it);
	return XERR_OK;
}

/*
 * Reconciles one bill and records the outcome; *bad is set when it
 * differs from Stripe.  When it cannot be checked, returns why (nothing
 * recorded): what failed in why.  XERR_NOTFOUND, why "": the bill is
 * gone.
 */
static enum xerr
bill_reconcile_one(struct db *db, struct http *h, const struct cfg *cfg,
    int64_t id, int64_t now, int *bad, char *why, size_t whysz)
{
	struct bill_line l[BILL_LINES_MAX];
	struct bill	 b;
	char		 diff[512] = "";
	int64_t		 unbilled = 0;
	size_t		 i, n;
	enum xerr	 rc;

	*bad = 0;
	if ((rc = bill_load(db, id, &b, l, &n))) {
		if (rc != XERR_NOTFOUND)
			snprintf(why, whysz, "the bill could not be read: %s",
			    xerr_code(rc));
		return rc;
	}
	for (i = 0; i < n; i++) {
		if (l[i].item[0] == '\0') {
			*bad = 1;
			snprintf(diff + strlen(diff), sizeof(diff) -
			    strlen(diff), "%s%.16s: never posted",
			    diff[0] ? "; " : "", l[i].kind);
		} else if ((rc = bill_check_line(h, cfg, &l[i], diff,
		    sizeof(diff), bad, why, whysz)))
			return rc;
	}
	/* A final bill is the last: usage of its period arriving later is not billed. */
	if (strcmp(b.kind, "final") == 0 &&
	    (rc = bill_usage_uncovered(db, b.user, b.ps, b.ue, &unbilled))) {
		snprintf(why, whysz, "its usage could not be read: %s",
		    xerr_code(rc));
		return rc;
	}
	if (*bad)
		log_warnx("bill %lld (user %s, period %lld): differs from "
		    "Stripe: %s", (long long)id, b.user, (long long)b.ps, diff);
	if (unbilled > 0)
		log_warnx("bill %lld (user %s): %lld usage rows of its period "
		    "arrived after the final bill", (long long)id, b.user,
		    (long long)unbilled);
	if ((rc = bills_set_reconciled(db, id, now, *bad ? "mismatch" : "ok",
	    diff, unbilled)))
		snprintf(why, whysz, "the outcome could not be recorded: %s",
		    xerr_code(rc));
	return rc;
}

/*
 * Returns 1 when a bill's check failed on what may pass by itself (Stripe
 * unreachable, a 5xx, 409 or 429; the database away or aborting; memory):
 * the run stops and is retried.  Anything else is the bill's own for good.
 */
static int
bill_reconcile_retry(enum xerr rc)
{
	return rc == XERR_UPSTREAM || rc == XERR_NOMEM || xerr_db_retry(rc);
}

/* Milliseconds of the monotonic clock. */
static int64_t
bill_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum xerr
bill_reconcile(struct db *db, struct http *h, const struct cfg *cfg,
    int64_t now, int64_t budget_ms, struct bill_reconcile_run *out,
    char *err, size_t errsz)
{
	int64_t		*ids, t0 = bill_now_ms();
	char		 why[512];
	size_t		 i, n;
	int		 b;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if ((ids = calloc(BILL_RECONCILE_MAX, sizeof(*ids))) == NULL)
		return XERR_NOMEM;
	if ((rc = bills_reconcile_due(db, now - 20 * 3600, ids,
	    BILL_RECONCILE_MAX, &n)))
		goto out;
	out->more = n == BILL_RECONCILE_MAX;
	for (i = 0; i < n; i++) {
		if (i > 0 && budget_ms > 0 && bill_now_ms() - t0 >= budget_ms) {
			out->more = 1;
			break;
		}
		why[0] = '\0';
		rc = bill_reconcile_one(db, h, cfg, ids[i], now, &b, why,
		    sizeof(why));
		if (rc == XERR_OK) {
			out->checked++;
			out->bad += b != 0;
			continue;
		}
		if (rc == XERR_NOTFOUND && why[0] == '\0') {
			rc = XERR_OK;
			continue;
		}
		if (bill_reconcile_retry(rc))
			break;
		log_warnx("bill %lld: could not be reconciled: %s",
		    (long long)ids[i], why);
		if ((rc = bills_set_reconcile_error(db, ids[i], now, why)))
			break;
		out->failed++;
	}
	if (rc != XERR_OK) {
		snprintf(err, errsz, "bill %lld: %s%s%s", (long long)ids[i],
		    xerr_code(rc), why[0] ? ": " : "", why);
		out->more = 0;
	}
out:
	free(ids);
	return rc;
}
