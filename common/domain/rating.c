#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/db.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "store/bill_lines.h"
#include "store/bill_usage.h"
#include "store/billing_periods.h"
#include "store/billing_reads.h"
#include "store/bills.h"
#include "store/tier_history.h"
#include "store/users.h"
#include "domain/money.h"
#include "domain/rating.h"
#include "domain/tiers.h"

/* Says whether stretch s goes on under entry h: the same tier and terms. */
static int
rating_same_terms(const struct rating_stretch *s,
    const struct rating_tier_at *h)
{
	return s->voice_included == h->voice_included &&
	    s->sms_included == h->sms_included && strcmp(s->tier, h->tier) == 0;
}

size_t
rating_stretches(const struct rating_tier_at *h, size_t n, int64_t start,
    int64_t end, struct rating_stretch *out, size_t max)
{
	size_t		 i, k = 0, cur = 0;
	int64_t		 t;

	if (n == 0 || end <= start || max == 0)
		return 0;
	/* The tier at start: the latest entry at or before it, or the first. */
	for (i = 0; i < n; i++)
		if (h[i].at <= start)
			cur = i;
	t = start;
	for (i = cur + 1; i <= n; i++) {
		int64_t	 to = i < n && h[i].at < end ? h[i].at : end;

		if (i < n && h[i].at <= start)
			continue;
		if (to > t && k > 0 && out[k - 1].to == t &&
		    rating_same_terms(&out[k - 1], &h[cur])) {
			out[k - 1].to = to;	/* the same terms go on */
			t = to;
		} else if (to > t) {
			if (k == max)
				return max + 1;
			out[k].from = t;
			out[k].to = to;
			out[k].voice_included = h[cur].voice_included;
			out[k].sms_included = h[cur].sms_included;
			snprintf(out[k].tier, sizeof(out[k].tier), "%s",
			    h[cur].tier);
			k++;
			t = to;
		}
		if (i == n || h[i].at >= end)
			break;
		cur = i;
	}
	return k;
}

/*
 * Sums the finite allowances of the stretches, each times its share of the
 * period, and rounds the sum down once: floor(sum a_i d_i / L).
 */
static int64_t
rating_allowance(const struct rating_stretch *st, size_t nst, int64_t len,
    int voice)
{
	int64_t		 num = 0, a;
	size_t		 i;

	for (i = 0; i < nst; i++) {
		a = voice ? st[i].voice_included : st[i].sms_included;
		if (a > 0)
			num += a * (st[i].to - st[i].from);
	}
	return num / len;
}

/* Returns 1 when the stretch holding at has an unlimited allowance. */
static int
rating_free(const struct rating_stretch *st, size_t nst, int64_t at,
    int voice)
{
	size_t		 i;

	for (i = 0; i < nst; i++)
		if (at >= st[i].from && at < st[i].to)
			return (voice ? st[i].voice_included :
			    st[i].sms_included) == MONEY_UNLIMITED;
	return 0;
}

/* Fills the overage of one kind from its units and allowance. */
static enum xerr
rating_kind_fill(struct rating_kind *k, int64_t rate_hc)
{
	k->over = money_overage_units(k->units, k->allowance);
	return money_line_cents(k->over, rate_hc, &k->cents);
}

/*
 * The rest of rating_calc() once out holds the period and its units: the
 * allowances by share, the overage, the phone fee.
 */
static enum xerr
rating_calc_finish(const struct rating_stretch *st, size_t nst, int phone,
    struct rating_calc *out)
{
	int64_t		 start = out->start, end = out->end;
	enum xerr	 rc;

	out->voice.allowance = rating_allowance(st, nst, end - start, 1);
	out->sms.allowance = rating_allowance(st, nst, end - start, 0);
	if ((rc = rating_kind_fill(&out->voice, MONEY_VOICE_RATE_HC)) ||
	    (rc = rating_kind_fill(&out->sms, MONEY_SMS_RATE_HC)))
		return rc;
	out->phone_held = phone != 0;
	out->phone_cents = phone ? MONEY_PHONE_FEE_CENTS : 0;
	return XERR_OK;
}

enum xerr
rating_calc(int64_t start, int64_t end, const struct rating_stretch *st,
    size_t nst, const struct rating_use *u, size_t nu, int phone,
    struct rating_calc *out)
{
	size_t		 i;

	memset(out, 0, sizeof(*out));
	if (end <= start)
		return XERR_BADREQ;
	out->start = start;
	out->end = end;
	for (i = 0; i < nu; i++) {
		if (u[i].quantity < 0)
			return XERR_BADREQ;
		if (rating_free(st, nst, u[i].at, u[i].voice))
			continue;
		if (u[i].voice)
			out->voice.units += money_voice_minutes(u[i].quantity);
		else
			out->sms.units += u[i].quantity;
	}
	return rating_calc_finish(st, nst, phone, out);
}

/* ---- what the database holds ---- */

/* A subscription's tier history and usage, as read for one rating. */
struct rating_ctx {
	struct db		*db;
	const char		*sub;
	char			 user[65];
	char			 customer[256];
	struct rating_tier_at	*hist;
	size_t			 nhist;
	/*
	 * usage rows: the row, its id, and the period start of its bill or
	 * -1 (a bill covers the ids it rated, never a row read after)
	 */
	struct rating_use	*use;
	int64_t			*ids;
	int64_t			*covered;
	size_t			 nuse;
	/* known periods overlapping the rows read (to the usage's end) */
	int64_t			(*periods)[2];
	size_t			 nperiods;
};

static void
rating_ctx_free(struct rating_ctx *c)
{
	free(c->hist);
	free(c->use);
	free(c->ids);
	free(c->covered);
	free(c->periods);
}

/*
 * Sets c->hist from the n entries of h (the tier history of c->sub, in
 * order of effect) with their tiers' terms.  XERR_NOTFOUND if none.
 */
static enum xerr
rating_set_history(struct rating_ctx *c, const struct tier_history_row *h,
    size_t n)
{
	struct tiers_row t;
	size_t		 i;
	enum xerr	 rc;

	if (n == 0)
		return XERR_NOTFOUND;
	if ((c->hist = calloc(n, sizeof(*c->hist))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < n; i++) {
		if ((rc = tiers_load(c->db, h[i].tier, &t)))
			return rc == XERR_NOTFOUND ? XERR_INTERNAL : rc;
		c->hist[i].at = h[i].effective_at;
		c->hist[i].voice_included = t.voice_included;
		c->hist[i].sms_included = t.sms_included;
		snprintf(c->hist[i].tier, sizeof(c->hist[i].tier), "%s",
		    t.name);
	}
	c->nhist = n;
	return XERR_OK;
}

/* Reads the tier history of c->sub into c->hist.  XERR_NOTFOUND if none. */
static enum xerr
rating_load_history(struct rating_ctx *c)
{
	struct tier_history_row *h = NULL;
	size_t		 n;
	enum xerr	 rc;

	if ((rc = tier_history_of(c->db, c->sub, &h, &n)) == XERR_OK)
		rc = rating_set_history(c, h, n);
	free(h);
	return rc;
}

/* Reads the known periods of c->sub overlapping [from, to). */
static enum xerr
rating_load_periods(struct rating_ctx *c, int64_t from, int64_t to)
{
	return billing_periods_overlapping(c->db, c->sub, from, to,
	    &c->periods, &c->nperiods);
}

/* Reads the user's usage rows of [from, to), locked when lock is set. */
static enum xerr
rating_load_usage(struct rating_ctx *c, int64_t from, int64_t to, int lock)
{
	struct bill_usage_row *rows = NULL;
	size_t		 i, n;
	enum xerr	 rc;

	if ((rc = bill_usage_rows(c->db, c->user, from, to, lock, &rows,
	    &n)))
		return rc;
	if (n > 0 && ((c->use = calloc(n, sizeof(*c->use))) == NULL ||
	    (c->ids = calloc(n, sizeof(*c->ids))) == NULL ||
	    (c->covered = calloc(n, sizeof(*c->covered))) == NULL)) {
		free(rows);
		return XERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		c->use[i].voice = rows[i].voice;
		c->use[i].quantity = rows[i].quantity;
		c->use[i].at = rows[i].occurred_at;
		c->ids[i] = rows[i].id;
		c->covered[i] = rows[i].covered_for;
	}
	c->nuse = n;
	free(rows);
	return XERR_OK;
}

/* Sets *held when the user held a number at a moment of [from, to). */
static enum xerr
rating_phone_held(struct rating_ctx *c, int64_t from, int64_t to, int *held)
{
	*held = 0;
	if (to <= from)
		return XERR_OK;
	return billing_reads_phone_held(c->db, c->user, from, to, held);
}

/*
 * Which rows of c->use to rate: those with at in [from, to) whose
 * coverage is `covered` (-1: uncovered; else the period start of the bill
 * that covers them), or (both set) uncovered or covered for `covered`.
 */
#define RATING_UNCOVERED	0x1
#define RATING_COVERED		0x2

/*
 * Rates the period [start, end) with the rows of c->use at in
 * [start, usage_end) selected by which (for covered rows: covered for
 * this period), and phone.
 */
static enum xerr
rating_of(struct rating_ctx *c, int64_t start, int64_t end, int64_t usage_end,
    int which, int phone, struct rating_calc *out,
    struct rating_stretch *st, size_t *nst)
{
	struct rating_use *u = NULL;
	size_t		 i, n = 0;
	enum xerr	 rc;

	*nst = rating_stretches(c->hist, c->nhist, start, end, st,
	    RATING_STRETCHES_MAX);
	if (*nst > RATING_STRETCHES_MAX) {
		/* Never a bill of part of the period. */
		log_errorx("subscription %s: more than %d changes of tier in "
		    "the period from %lld: not rated", c->sub,
		    RATING_STRETCHES_MAX, (long long)start);
		*nst = 0;
		return XERR_UNPROCESSABLE;
	}
	if (c->nuse > 0 && (u = calloc(c->nuse, sizeof(*u))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < c->nuse; i++) {
		if (c->use[i].at < start || c->use[i].at >= usage_end)
			continue;
		if (c->covered[i] < 0 ? !(which & RATING_UNCOVERED) :
		    !(which & RATING_COVERED) || c->covered[i] != start)
			continue;
		u[n++] = c->use[i];
	}
	rc = rating_calc(start, end, st, *nst, u, n, phone, out);
	free(u);
	return rc;
}

/*
 * Returns how many rows of c->use at in [start, usage_end) a bill covers
 * for the period starting at start.
 */
static size_t
rating_covered_for(const struct rating_ctx *c, int64_t start,
    int64_t usage_end)
{
	size_t		 i, n = 0;

	for (i = 0; i < c->nuse; i++)
		if (c->covered[i] == start && c->use[i].at >= start &&
		    c->use[i].at < usage_end)
			n++;
	return n;
}

/*
 * Takes from r, the rating of a period with every row of it, the overage
 * of billed, its rating with only the rows that bills of later periods
 * covered for it as late usage: their adjustment lines billed exactly
 * that (the difference rating_late() takes), so what is left is what the
 * period's own bill adds.  The cents are those of what is left, rounded
 * as a line is.  The allowance and the phone fee stay: the late lines
 * counted the same allowance and never bill a number.
 */
static enum xerr
rating_less(struct rating_calc *r, const struct rating_calc *billed)
{
	enum xerr	 rc;

	r->voice.over -= billed->voice.over;
	r->sms.over -= billed->sms.over;
	if ((rc = money_line_cents(r->voice.over, MONEY_VOICE_RATE_HC,
	    &r->voice.cents)))
		return rc;
	return money_line_cents(r->sms.over, MONEY_SMS_RATE_HC, &r->sms.cents);
}

/* Adds a {units, allowance, over, cents} object of k to o under key. */
static void
rating_kind_json(struct json_object *o, const char *key,
    const struct rating_kind *k)
{
	struct json_object *j = json_object_new_object();

	jsonx_add_int(j, "units", k->units);
	jsonx_add_int(j, "allowance", k->allowance);
	jsonx_add_int(j, "over", k->over);
	jsonx_add_int(j, "cents", k->cents);
	json_object_object_add(o, key, j);
}

/* Returns the computation of a rating as JSON (caller puts), or NULL. */
static struct json_object *
rating_calc_json(const struct rating_calc *r, const struct rating_stretch *st,
    size_t nst)
{
	struct json_object *o, *a, *s;
	size_t		 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	a = json_object_new_array();
	for (i = 0; i < nst; i++) {
		s = json_object_new_object();
		jsonx_add_int(s, "from", st[i].from);
		jsonx_add_int(s, "to", st[i].to);
		jsonx_add_str(s, "tier", st[i].tier);
		jsonx_add_int(s, "voice_included", st[i].voice_included);
		jsonx_add_int(s, "sms_included", st[i].sms_included);
		json_object_array_add(a, s);
	}
	json_object_object_add(o, "stretches", a);
	jsonx_add_int(o, "period_start", r->start);
	jsonx_add_int(o, "period_end", r->end);
	rating_kind_json(o, "voice", &r->voice);
	rating_kind_json(o, "sms", &r->sms);
	jsonx_add_int(o, "phone_held", r->phone_held);
	jsonx_add_int(o, "phone_cents", r->phone_cents);
	return o;
}

/*
 * Adds to the computation o what rating_less() took: the units and overage
 * of the rows of the period that later bills billed as late usage.
 */
static enum xerr
rating_billed_json(struct json_object *o, const struct rating_calc *billed)
{
	struct json_object *j;

	if ((j = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	json_object_object_add(o, "billed_late", j);
	jsonx_add_int(j, "voice_units", billed->voice.units);
	jsonx_add_int(j, "voice_over", billed->voice.over);
	jsonx_add_int(j, "sms_units", billed->sms.units);
	jsonx_add_int(j, "sms_over", billed->sms.over);
	return XERR_OK;
}

/* Formats a period for descriptions: "2026-11-04 to 2026-12-04" (UTC). */
static void
rating_period_str(int64_t s, int64_t e, char *buf, size_t bufsz)
{
	time_t		 ts = (time_t)s, te = (time_t)e;
	struct tm	 a, b;
	char		 x[16], y[16];

	gmtime_r(&ts, &a);
	gmtime_r(&te, &b);
	strftime(x, sizeof(x), "%Y-%m-%d", &a);
	strftime(y, sizeof(y), "%Y-%m-%d", &b);
	snprintf(buf, bufsz, "%s to %s", x, y);
}

/* Writes one line of bill id (quantity > 0 only). */
static enum xerr
rating_line(struct db *db, int64_t id, const char *kind, int64_t quantity,
    const char *unit, int64_t cents, const char *desc)
{
	if (quantity <= 0)
		return XERR_OK;
	return bill_lines_insert(db, id, kind, quantity, unit, cents, desc);
}

/*
 * Covers by bill id, for period ps, the rows of [from, to) that were read
 * uncovered: the rows rated, by their ids.  A row committed in the range
 * after the locking read (READ COMMITTED takes no gap locks) is neither
 * rated nor covered here: the next bill finds it uncovered, as late usage.
 */
static enum xerr
rating_cover(struct rating_ctx *c, int64_t id, int64_t ps, int64_t from,
    int64_t to)
{
	int64_t		*ids;
	size_t		 i, n = 0;
	enum xerr	 rc;

	if (to <= from || c->nuse == 0)
		return XERR_OK;
	if ((ids = calloc(c->nuse, sizeof(*ids))) == NULL)
		return XERR_NOMEM;
	for (i = 0; i < c->nuse; i++)
		if (c->covered[i] < 0 && c->use[i].at >= from &&
		    c->use[i].at < to) {
			ids[n++] = c->ids[i];
			c->covered[i] = ps;
		}
	rc = bill_usage_cover(c->db, id, ps, ids, n);
	free(ids);
	return rc;
}

/* Late usage: the extra overage of earlier periods, summed per kind. */
struct rating_late {
	int64_t			 voice, sms;
	char			 periods[256];	/* for the description */
	struct json_object	*json;		/* [{period_start, ...}] */
};

/*
 * Where the rows of known period p end: at its end, or earlier where the
 * next known period starts (Stripe started a period inside it, as when a
 * trial ends early: that one ended then), and never past start.  So a
 * moment belongs to one period, the latest that began at or before it.
 */
static int64_t
rating_rows_end(const struct rating_ctx *c, size_t p, int64_t start)
{
	int64_t		 to = c->periods[p][1];

	if (p + 1 < c->nperiods && c->periods[p + 1][0] < to)
		to = c->periods[p + 1][0];
	return to < start ? to : start;
}

/*
 * Computes the late usage of the periods before start: for each known
 * period Q with uncovered rows in its part (rating_rows_end()),
 * O(Q, covered + late) - O(Q, covered), and lists Q in out->json with
 * where its rows end (rows_end).
 */
static enum xerr
rating_late(struct rating_ctx *c, int64_t start, struct rating_late *out)
{
	struct rating_stretch st[RATING_STRETCHES_MAX];
	struct rating_calc before, after;
	struct json_object *j;
	size_t		 p, i, nst, len;
	int64_t		 qs, qe, to;
	int		 any;
	char		 ps[40];
	enum xerr	 rc;

	for (p = 0; p < c->nperiods; p++) {
		qs = c->periods[p][0];
		qe = c->periods[p][1];
		if (qs >= start)
			break;
		to = rating_rows_end(c, p, start);
		for (any = 0, i = 0; i < c->nuse && !any; i++)
			any = c->covered[i] < 0 && c->use[i].at >= qs &&
			    c->use[i].at < to;
		if (!any)
			continue;
		if ((rc = rating_of(c, qs, qe, to, RATING_COVERED, 0, &before,
		    st, &nst)) ||
		    (rc = rating_of(c, qs, qe, to, RATING_COVERED |
		    RATING_UNCOVERED, 0, &after, st, &nst)))
			return rc;
		out->voice += after.voice.over - before.voice.over;
		out->sms += after.sms.over - before.sms.over;
		rating_period_str(qs, qe, ps, sizeof(ps));
		len = strlen(out->periods);
		snprintf(out->periods + len, sizeof(out->periods) - len, "%s%s",
		    len ? ", " : "", ps);
		j = json_object_new_object();
		jsonx_add_int(j, "period_start", qs);
		jsonx_add_int(j, "period_end", qe);
		jsonx_add_int(j, "rows_end", to);
		jsonx_add_int(j, "voice_over_before", before.voice.over);
		jsonx_add_int(j, "voice_over_after", after.voice.over);
		jsonx_add_int(j, "sms_over_before", before.sms.over);
		jsonx_add_int(j, "sms_over_after", after.sms.over);
		json_object_array_add(out->json, j);
	}
	return XERR_OK;
}

/*
 * Writes the adjustment line kind of bill id for quantity late units
 * (none for 0) at rate_hc (unit as Stripe's decimal), its amount rounded
 * on its own, described with the periods it belongs to.
 */
static enum xerr
rating_late_line(struct db *db, int64_t id, const char *kind,
    const char *what, int64_t quantity, int64_t rate_hc, const char *unit,
    const char *periods)
{
	char		 desc[256];
	int64_t		 cents;
	enum xerr	 rc;

	if (quantity <= 0)
		return XERR_OK;
	if ((rc = money_line_cents(quantity, rate_hc, &cents)))
		return rc;
	snprintf(desc, sizeof(desc), "%s overage, late usage of %s", what,
	    periods);
	return rating_line(db, id, kind, quantity, unit, cents, desc);
}

/*
 * Writes the lines of a rated bill id: the period's (r, less the overage
 * billed already as late usage by later bills), then the late ones.
 */
static enum xerr
rating_lines(struct db *db, int64_t id, const struct rating_calc *r,
    const struct rating_calc *billed, const struct rating_late *late)
{
	char		 desc[256], ps[40];
	enum xerr	 rc;

	rating_period_str(r->start, r->end, ps, sizeof(ps));
	if (billed->voice.over > 0)
		snprintf(desc, sizeof(desc), "Voice overage %s: %lld min "
		    "(%lld over %lld included, less %lld billed as late "
		    "usage) at $0.013/min", ps, (long long)r->voice.over,
		    (long long)(r->voice.over + billed->voice.over),
		    (long long)r->voice.allowance,
		    (long long)billed->voice.over);
	else
		snprintf(desc, sizeof(desc), "Voice overage %s: %lld min "
		    "over %lld included at $0.013/min", ps,
		    (long long)r->voice.over, (long long)r->voice.allowance);
	if ((rc = rating_line(db, id, "voice", r->voice.over, "1.3",
	    r->voice.cents, desc)))
		return rc;
	if (billed->sms.over > 0)
		snprintf(desc, sizeof(desc), "SMS overage %s: %lld (%lld "
		    "over %lld included, less %lld billed as late usage) at "
		    "$0.0075/message", ps, (long long)r->sms.over,
		    (long long)(r->sms.over + billed->sms.over),
		    (long long)r->sms.allowance, (long long)billed->sms.over);
	else
		snprintf(desc, sizeof(desc), "SMS overage %s: %lld over %lld "
		    "included at $0.0075/message", ps, (long long)r->sms.over,
		    (long long)r->sms.allowance);
	if ((rc = rating_line(db, id, "sms", r->sms.over, "0.75",
	    r->sms.cents, desc)))
		return rc;
	snprintf(desc, sizeof(desc), "Phone number %s", ps);
	if ((rc = rating_line(db, id, "phone", r->phone_held ? 1 : 0, "500",
	    r->phone_cents, desc)))
		return rc;
	if ((rc = rating_late_line(db, id, "voice_adjust", "Voice",
	    late->voice, MONEY_VOICE_RATE_HC, "1.3", late->periods)))
		return rc;
	if ((rc = rating_late_line(db, id, "sms_adjust", "SMS", late->sms,
	    MONEY_SMS_RATE_HC, "0.75", late->periods)))
		return rc;
	return XERR_OK;
}

/*
 * Ends the rows q rates where a later known period (c->periods, read up
 * to q's usage_end) begins inside its period (Stripe started one there:
 * rating_rows_end()'s rule for the period's own rows).  Those rows are
 * the later period's, for its bill.
 */
static void
rating_own_end(const struct rating_ctx *c, struct rating_req *q)
{
	size_t		 i;

	for (i = 0; i < c->nperiods; i++)
		if (c->periods[i][0] > q->start &&
		    c->periods[i][0] < q->usage_end)
			q->usage_end = c->periods[i][0];
}

/*
 * The body of rating_rate() inside its transaction: rates, writes the bill,
 * its lines and its coverage.  When bills of later periods, rated first,
 * covered rows of this period as late usage, the period is rated with
 * them and less what their adjustments billed (rating_less()); the rows
 * stay theirs.  Its rows end where a later stored period begins
 * (rating_own_end()).  Longer than most: the steps share the context and
 * the computation that the bill stores.
 */
static enum xerr
rating_write(struct rating_ctx *c, const struct rating_req *q, int64_t *id,
    char *err, size_t errsz)
{
	struct rating_stretch st[RATING_STRETCHES_MAX];
	struct rating_stretch bst[RATING_STRETCHES_MAX];	/* billed's */
	struct rating_late late;
	struct rating_calc r, billed;
	struct rating_req own = *q;
	struct json_object *comp = NULL;
	struct bills_new b;
	size_t		 nst, nbst, i, nbilled;
	int64_t		 from;
	int		 phone;
	enum xerr	 rc;

	memset(&late, 0, sizeof(late));
	memset(&billed, 0, sizeof(billed));
	if ((rc = rating_load_history(c)) != XERR_OK) {
		if (rc == XERR_NOTFOUND)
			snprintf(err, errsz, "subscription %s has no tier "
			    "history yet", c->sub);
		return rc;
	}
	/* The periods of late usage and those that begin inside q's. */
	from = q->start - RATING_LATE_SECONDS;
	if ((rc = rating_load_periods(c, from, q->usage_end)))
		return rc;
	/* From here on, q is the period with its own rows' end. */
	rating_own_end(c, &own);
	q = &own;
	if (c->nperiods > 0 && c->periods[0][0] < from)
		from = c->periods[0][0];
	if ((rc = rating_load_usage(c, from, q->usage_end, 1)) ||
	    (rc = rating_phone_held(c, q->start, q->usage_end, &phone)) ||
	    (rc = rating_of(c, q->start, q->end, q->usage_end,
	    RATING_UNCOVERED | RATING_COVERED, phone, &r, st, &nst)))
		return rc;
	/* Rows of this period that later bills covered as late usage. */
	if ((nbilled = rating_covered_for(c, q->start, q->usage_end)) > 0 &&
	    ((rc = rating_of(c, q->start, q->end, q->usage_end,
	    RATING_COVERED, 0, &billed, bst, &nbst)) ||
	    (rc = rating_less(&r, &billed))))
		return rc;
	if ((comp = rating_calc_json(&r, st, nst)) == NULL ||
	    (late.json = json_object_new_array()) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	if (nbilled > 0 && (rc = rating_billed_json(comp, &billed)))
		goto out;
	json_object_object_add(comp, "late", late.json);
	if ((rc = rating_late(c, q->start, &late)))
		goto out;
	jsonx_add_int(comp, "usage_end", q->usage_end);
	jsonx_add_int(comp, "late_voice", late.voice);
	jsonx_add_int(comp, "late_sms", late.sms);

	memset(&b, 0, sizeof(b));
	b.user_id = c->user;
	b.subscription_id = c->sub;
	b.customer_id = c->customer;
	b.kind = q->final ? "final" : "cycle";
	b.period_start = q->start;
	b.period_end = q->end;
	b.usage_end = q->usage_end;
	b.invoice_id = q->invoice_id;
	b.computation = json_object_to_json_string_ext(comp,
	    JSON_C_TO_STRING_PLAIN);
	if ((rc = bills_insert(c->db, &b, id)))
		goto out;
	/* Cover what was rated: this period's rows, then the late ones. */
	if ((rc = rating_cover(c, *id, q->start, q->start, q->usage_end)))
		goto out;
	for (i = 0; i < json_object_array_length(late.json); i++) {
		struct json_object *j = json_object_array_get_idx(late.json, i);
		int64_t	 qs = 0, to = 0;

		jsonx_int(j, "period_start", &qs);
		jsonx_int(j, "rows_end", &to);
		if ((rc = rating_cover(c, *id, qs, qs, to)))
			goto out;
	}
	if ((rc = rating_lines(c->db, *id, &r, &billed, &late)))
		goto out;
	log_info("bill %lld: subscription %s period %lld-%lld: voice %lld/%lld "
	    "sms %lld/%lld phone %d late voice %lld sms %lld; billed late "
	    "before voice %lld sms %lld", (long long)*id, c->sub,
	    (long long)q->start, (long long)q->end,
	    (long long)r.voice.units, (long long)r.voice.allowance,
	    (long long)r.sms.units, (long long)r.sms.allowance, phone,
	    (long long)late.voice, (long long)late.sms,
	    (long long)billed.voice.over, (long long)billed.sms.over);
out:
	json_object_put(comp);
	return rc;
}

enum xerr
rating_rate(struct db *db, const struct rating_req *q, int64_t *bill_id,
    char *err, size_t errsz)
{
	struct rating_ctx c;
	struct billing_reads_sub owner;
	enum xerr	 rc;

	memset(&c, 0, sizeof(c));
	c.db = db;
	c.sub = q->subscription;
	*bill_id = 0;
	if (q->subscription == NULL || q->end <= q->start ||
	    q->usage_end < q->start || q->usage_end > q->end) {
		snprintf(err, errsz, "no subscription or an empty period");
		return XERR_UNPROCESSABLE;
	}
	if ((rc = db_begin(db)) != XERR_OK)
		return rc;
	/*
	 * The user's row is written first: before the subscription's row is
	 * locked (the order of a Stripe event's transaction: the user, then
	 * the subscription), and before the period's rows are read, as a take
	 * of Twilio's count writes it (domain/phone.c).  On Galera, where
	 * locks do not reach the other nodes, the later of two that overlap
	 * then fails certification and runs again.
	 */
	if ((rc = billing_reads_sub(db, q->subscription, 0, &owner)) ==
	    XERR_OK && (rc = users_touch(db, owner.user_id)) == XERR_OK) {
		snprintf(c.user, sizeof(c.user), "%s", owner.user_id);
		rc = billing_reads_sub(db, q->subscription, 1, &owner);
	}
	if (rc == XERR_OK && strcmp(c.user, owner.user_id) != 0)
		rc = XERR_DEADLOCK;	/* moved meanwhile: run again */
	if (rc != XERR_OK) {
		if (rc == XERR_NOTFOUND)
			snprintf(err, errsz, "subscription %s not known yet",
			    q->subscription);
		goto out;
	}
	snprintf(c.customer, sizeof(c.customer), "%s", owner.customer_id);
	if ((rc = bills_id_of(db, q->subscription, q->start, bill_id)))
		goto out;
	if (*bill_id == 0 && (rc = rating_write(&c, q, bill_id, err, errsz)))
		goto out;
	rc = db_commit(db);
out:
	if (rc != XERR_OK) {
		db_rollback(db);
		*bill_id = 0;
	}
	rating_ctx_free(&c);
	return rc;
}

/*
 * The preview of [start, end) with c->hist set: c->user's rows of
 * [start, usage_end) and the numbers held then, read here.
 */
static enum xerr
rating_preview_rows(struct rating_ctx *c, int64_t start, int64_t end,
    int64_t usage_end, struct rating_calc *out)
{
	struct rating_stretch st[RATING_STRETCHES_MAX];
	size_t		 nst;
	int		 phone;
	enum xerr	 rc;

	if ((rc = rating_load_usage(c, start, usage_end, 0)) == XERR_OK &&
	    (rc = rating_phone_held(c, start, usage_end, &phone)) == XERR_OK)
		rc = rating_of(c, start, end, usage_end,
		    RATING_UNCOVERED | RATING_COVERED, phone, out, st, &nst);
	return rc;
}

enum xerr
rating_preview(struct db *db, const char *sub, const char *user_id,
    int64_t start, int64_t end, int64_t usage_end, struct rating_calc *out)
{
	struct rating_ctx c;
	enum xerr	 rc;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	c.db = db;
	c.sub = sub;
	snprintf(c.user, sizeof(c.user), "%s", user_id);
	if (usage_end > end)
		usage_end = end;
	if (usage_end < start)
		usage_end = start;
	if ((rc = rating_load_history(&c)) == XERR_OK)
		rc = rating_preview_rows(&c, start, end, usage_end, out);
	rating_ctx_free(&c);
	return rc;
}

enum xerr
rating_preview_sums(struct db *db, const char *sub, const char *user_id,
    const struct tier_history_row *hist, size_t nhist, int64_t start,
    int64_t end, int64_t voice_minutes, int64_t sms, int phone,
    struct rating_calc *out)
{
	struct rating_stretch st[RATING_STRETCHES_MAX];
	struct rating_ctx c;
	size_t		 i, nst;
	enum xerr	 rc;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	c.db = db;
	c.sub = sub;
	snprintf(c.user, sizeof(c.user), "%s", user_id);
	if (end <= start || voice_minutes < 0 || sms < 0)
		return XERR_BADREQ;
	if ((rc = hist != NULL || nhist > 0 ? rating_set_history(&c, hist,
	    nhist) : rating_load_history(&c)) != XERR_OK)
		goto out;
	nst = rating_stretches(c.hist, c.nhist, start, end, st,
	    RATING_STRETCHES_MAX);
	for (i = 0; i < nst && i < RATING_STRETCHES_MAX; i++)
		if (st[i].voice_included == MONEY_UNLIMITED ||
		    st[i].sms_included == MONEY_UNLIMITED)
			break;
	if (nst > RATING_STRETCHES_MAX || i < nst) {
		/* Rows by time (free stretches), or the refusal, as before. */
		rc = rating_preview_rows(&c, start, end, end, out);
		goto out;
	}
	out->start = start;
	out->end = end;
	out->voice.units = voice_minutes;
	out->sms.units = sms;
	rc = rating_calc_finish(st, nst, phone, out);
out:
	rating_ctx_free(&c);
	return rc;
}

/* Adds the lines of bill id to b as "lines", and their sum as "total_cents". */
static enum xerr
rating_bill_lines_json(struct db *db, int64_t id, struct json_object *b)
{
	struct bill_lines_row rows[BILL_LINES_MAX];
	struct json_object *lines, *l;
	int64_t		 total = 0;
	size_t		 i, n;
	enum xerr	 rc;

	if ((rc = bill_lines_of(db, id, rows, BILL_LINES_MAX, &n)))
		return rc;
	if ((lines = json_object_new_array()) == NULL)
		return XERR_NOMEM;
	json_object_object_add(b, "lines", lines);
	for (i = 0; i < n; i++) {
		if ((l = json_object_new_object()) == NULL)
			return XERR_NOMEM;
		json_object_array_add(lines, l);
		jsonx_add_str(l, "kind", rows[i].kind);
		jsonx_add_int(l, "quantity", rows[i].quantity);
		jsonx_add_str(l, "unit_amount_decimal", rows[i].unit_decimal);
		jsonx_add_int(l, "amount_cents", rows[i].amount_cents);
		jsonx_add_str(l, "description", rows[i].description);
		jsonx_add_str(l, "target", (rows[i].nulls &
		    BILL_LINES_NULL_TARGET) ? NULL : rows[i].target);
		jsonx_add_str(l, "stripe_item_id", (rows[i].nulls &
		    BILL_LINES_NULL_ITEM) ? NULL : rows[i].stripe_item_id);
		total += rows[i].amount_cents;
	}
	jsonx_add_int(b, "total_cents", total);
	return XERR_OK;
}

enum xerr
rating_bills_json(struct db *db, const char *user_id, int64_t period_start,
    struct json_object **out)
{
	struct json_object *arr = NULL, *b;
	struct bills_row *rows = NULL, *r;
	size_t		 i, n = 0;
	enum xerr	 rc;

	*out = NULL;
	if ((rc = bills_of_user(db, user_id, period_start, &rows, &n)))
		return rc;
	if ((arr = json_object_new_array()) == NULL) {
		rc = XERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = &rows[i];
		if ((b = json_object_new_object()) == NULL) {
			rc = XERR_NOMEM;
			goto out;
		}
		json_object_array_add(arr, b);
		jsonx_add_int(b, "id", r->id);
		jsonx_add_str(b, "subscription_id", r->subscription_id);
		jsonx_add_str(b, "kind", r->kind);
		jsonx_add_int(b, "period_start", r->period_start);
		jsonx_add_int(b, "period_end", r->period_end);
		jsonx_add_int(b, "usage_end", r->usage_end);
		jsonx_add_str(b, "invoice_id", (r->nulls & BILLS_NULL_INVOICE) ?
		    NULL : r->invoice_id);
		jsonx_add_str(b, "oneoff_invoice_id", (r->nulls &
		    BILLS_NULL_ONEOFF) ? NULL : r->oneoff_invoice_id);
		jsonx_add_str(b, "state", r->state);
		json_object_object_add(b, "computation",
		    r->computation ? json_tokener_parse(r->computation) : NULL);
		if ((rc = rating_bill_lines_json(db, r->id, b)))
			goto out;
	}
	*out = arr;
	arr = NULL;
out:
	bills_list_free(rows, n);
	json_object_put(arr);
	return rc;
}
