/*
 * money: exact integer arithmetic for overage bills and plan changes.
 *
 * Amounts are integer cents; per-unit rates are integer hundredths of a
 * cent ("hc"), so 1.3 cents a minute is 130 hc.  There is one rounding rule,
 * half up, applied once per invoice line (never per unit, never to a
 * total), and it lives in money_line_cents() and money_prorate() only.
 */
#ifndef MONEY_H
#define MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

#define MONEY_VOICE_RATE_HC	130	/* 1.3 cents per started minute */
#define MONEY_SMS_RATE_HC	75	/* 0.75 cents per message */
#define MONEY_PHONE_FEE_CENTS	500	/* $5.00 per phone number period */

#define MONEY_UNLIMITED		(-1)	/* an allowance without limit */

struct money_usage {
	int64_t	 voice_minutes;		/* sum of money_voice_minutes() */
	int64_t	 sms;			/* messages */
	int64_t	 voice_included;	/* minutes, or MONEY_UNLIMITED */
	int64_t	 sms_included;		/* messages, or MONEY_UNLIMITED */
	int64_t	 phone_periods;		/* phone number periods to charge */
	int64_t	 phone_fee_cents;	/* per period: MONEY_PHONE_FEE_CENTS */
};

struct money_bill {
	int64_t	 voice_units;		/* minutes over the allowance */
	int64_t	 voice_cents;
	int64_t	 sms_units;		/* messages over the allowance */
	int64_t	 sms_cents;
	int64_t	 phone_cents;
	int64_t	 total_cents;		/* sum of the three lines */
};

struct money_proration {
	int64_t	 credit_cents;		/* <= 0: unused time, old price */
	int64_t	 charge_cents;		/* >= 0: remaining time, new price */
	int64_t	 net_cents;		/* credit + charge; < 0: downgrade */
	int64_t	 remaining_seconds;	/* end - now (now clamped) */
	int64_t	 period_seconds;	/* end - start */
};

/*
 * Computes one invoice line: units * rate_hc / 100 cents, rounded half up.
 * On success writes *cents; XERR_BADREQ for a negative input,
 * XERR_UNPROCESSABLE when the product does not fit in 64 bits.  *cents is
 * 0 on failure.
 */
enum xerr	 money_line_cents(int64_t units, int64_t rate_hc,
		    int64_t *cents);

/*
 * Returns the minutes billed for one call of the given length: every
 * started minute counts (0 s is 0, 1 s to 60 s is 1, 61 s is 2).  A
 * negative length is 0.  Sum this per call, never over summed seconds.
 */
int64_t		 money_voice_minutes(int64_t seconds);

/*
 * Returns the units used beyond the allowance, max(0, used - included);
 * 0 when included is MONEY_UNLIMITED or used is negative.
 */
int64_t		 money_overage_units(int64_t used, int64_t included);

/*
 * Computes the overage bill of u: a voice line, an SMS line and a phone
 * line, each rounded on its own, and their total.  On success writes *out
 * (zeroed on entry); XERR_BADREQ for negative counts or fee, or an
 * allowance below MONEY_UNLIMITED; XERR_UNPROCESSABLE on overflow.
 */
enum xerr	 money_bill(const struct money_usage *u,
		    struct money_bill *out);

/*
 * Writes cents as dollars with thousands separators: "$1,234.56",
 * "$0.65", "-$1.00".  Truncated to outsz - 1 characters; never fails.
 */
void		 money_format(int64_t cents, char *out, size_t outsz);

/*
 * Returns the number of decimals of currency's smallest unit in Stripe's
 * amounts (its three-letter code, any case): 0 for Stripe's zero-decimal
 * currencies (JPY, KRW, ...), 3 for its three-decimal ones (BHD, JOD,
 * KWD, OMR, TND), else 2.
 */
int		 money_exponent(const char *currency);

/*
 * Writes amount, in units of 10^-exponent (0 <= exponent <= 3), as a
 * number with thousands separators and exponent decimals, no symbol:
 * "1,234.56" (2), "1,200" (0), "5.124" (3), "-0.50".  Truncated to
 * outsz - 1 characters; never fails.
 */
void		 money_format_minor(int64_t amount, int exponent, char *out,
		    size_t outsz);

/*
 * Computes the proration of a price change at now within the billing
 * period [period_start, period_end) (Unix seconds), as Stripe does:
 * to the second, one credit line for the old price and one charge line for
 * the new price, each rounded half up on its own.  now is clamped into the
 * period.  On success writes *out (zeroed on entry); XERR_BADREQ when
 * period_end <= period_start or a price is negative.
 */
enum xerr	 money_prorate(int64_t old_price_cents, int64_t new_price_cents,
		    int64_t period_start, int64_t period_end, int64_t now,
		    struct money_proration *out);

#endif
