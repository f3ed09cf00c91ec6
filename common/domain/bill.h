/*
 * bill: posts a rated bill (rating_rate()) to Stripe exactly once, as
 * docs/BILLING.md "When a period is billed, and where the lines go" says.
 *
 * Each line becomes one invoice item, sent with the same parameters on
 * every attempt under the Idempotency-Key xsb-bill-<bill>-<kind>-<target>
 * and found again by its metadata[xsb_line] "bill:<bill>:<kind>".  The
 * target of a line (the renewal's draft invoice, or "pending" for the next
 * invoice) is chosen once and stored before the first call; a line moves
 * from the invoice to pending only after Stripe refused it there (no longer
 * a draft) and it is found nowhere.  A final bill (or one of a deleted
 * subscription) gets a one-off invoice, created and finalized under keys
 * of the bill, for its pending lines, or, without any, for the items
 * earlier bills of the subscription posted as pending that Stripe still
 * holds on no invoice: no renewal will sweep them in.
 */
#ifndef BILL_H
#define BILL_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct cfg;
struct db;
struct http;

/*
 * Posts bill id.  XERR_OK once every line is at Stripe (and the one-off
 * invoice, if any, finalized); XERR_UPSTREAM and database errors: try
 * again later (the same parameters are sent); XERR_UNPROCESSABLE: Stripe
 * refused for good.  err says why.
 */
enum xerr	 bill_post(struct db *db, struct http *h, const struct cfg *cfg,
		    int64_t id, char *err, size_t errsz);

/*
 * The daily reconcile: compares every line of the bills posted in the last
 * 60 days and not checked in the last 20 hours (BILL_RECONCILE_MAX at most
 * a run, the never checked and the longest unchecked first) with the
 * invoice item Stripe holds (quantity, amount, metadata[xsb_line]), counts
 * the usage rows of a final bill's period that arrived after it, and
 * records the outcome on the bill at now (reconcile_state "ok" or
 * "mismatch", with what differs; logged).
 *
 * A bill that cannot be checked for good (Stripe refuses to show one of
 * its items: a 4xx but 404, which is an item gone, a mismatch; the bill
 * or its usage cannot be read) is recorded "error" with the reason
 * (logged), and the run goes on with the others; like any bill checked,
 * it is due again 20 hours later, behind those never checked.  A failure
 * that may pass (Stripe unreachable, a 5xx or 429, the database away or
 * aborting) stops the run: err says where, what was checked stays
 * checked, and the caller runs it again later.
 *
 * The run takes no new bill once budget_ms milliseconds have passed (0:
 * no limit; the bill in hand makes at most BILL_LINES_MAX calls to Stripe
 * more).  *out counts the bills; its more is set when the run stopped at
 * BILL_RECONCILE_MAX or at its budget (others may be due: the caller runs
 * it again at once).
 */
#define BILL_RECONCILE_MAX	500	/* RECONCILE_DUE's LIMIT */

struct bill_reconcile_run {
	size_t		 checked;	/* compared with Stripe: ok or mismatch */
	size_t		 bad;		/* of those, mismatch */
	size_t		 failed;	/* recorded error: could not be checked */
	int		 more;		/* stopped at the limit or the budget */
};

enum xerr	 bill_reconcile(struct db *db, struct http *h,
		    const struct cfg *cfg, int64_t now, int64_t budget_ms,
		    struct bill_reconcile_run *out, char *err, size_t errsz);

#endif
