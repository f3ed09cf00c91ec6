#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "domain/money.h"

/*
 * The rounding rule of the project: rates are in hundredths of a cent, so
 * a line's exact value is units * rate / 100 cents; the half cent goes up.
 */
enum xerr
money_line_cents(int64_t units, int64_t rate_hc, int64_t *cents)
{
	int64_t	 hc;

	*cents = 0;
	if (units < 0 || rate_hc < 0)
		return XERR_BADREQ;
	if (__builtin_mul_overflow(units, rate_hc, &hc) ||
	    __builtin_add_overflow(hc, 50, &hc))
		return XERR_UNPROCESSABLE;
	*cents = hc / 100;
	return XERR_OK;
}

int64_t
money_voice_minutes(int64_t seconds)
{
	if (seconds <= 0)
		return 0;
	/* (seconds + 59) / 60 without the overflow near INT64_MAX. */
	return (seconds - 1) / 60 + 1;
}

int64_t
money_overage_units(int64_t used, int64_t included)
{
	if (included == MONEY_UNLIMITED || used <= 0)
		return 0;
	if (included < 0)
		included = 0;
	return used > included ? used - included : 0;
}

enum xerr
money_bill(const struct money_usage *u, struct money_bill *out)
{
	struct money_bill	 b;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	memset(&b, 0, sizeof(b));
	if (u->voice_minutes < 0 || u->sms < 0 || u->phone_periods < 0 ||
	    u->phone_fee_cents < 0 || u->voice_included < MONEY_UNLIMITED ||
	    u->sms_included < MONEY_UNLIMITED)
		return XERR_BADREQ;

	b.voice_units = money_overage_units(u->voice_minutes,
	    u->voice_included);
	if ((rc = money_line_cents(b.voice_units, MONEY_VOICE_RATE_HC,
	    &b.voice_cents)) != XERR_OK)
		return rc;
	b.sms_units = money_overage_units(u->sms, u->sms_included);
	if ((rc = money_line_cents(b.sms_units, MONEY_SMS_RATE_HC,
	    &b.sms_cents)) != XERR_OK)
		return rc;
	if (__builtin_mul_overflow(u->phone_periods, u->phone_fee_cents,
	    &b.phone_cents))
		return XERR_UNPROCESSABLE;
	if (__builtin_add_overflow(b.voice_cents, b.sms_cents,
	    &b.total_cents) ||
	    __builtin_add_overflow(b.total_cents, b.phone_cents,
	    &b.total_cents))
		return XERR_UNPROCESSABLE;
	*out = b;
	return XERR_OK;
}

void
money_format_minor(int64_t amount, int exponent, char *out, size_t outsz)
{
	char		 digits[32], grouped[48], frac[8];
	uint64_t	 mag, major, unit = 1;
	size_t		 nd = 0, ng = 0, i;
	int		 e;

	if (outsz == 0)
		return;
	if (exponent < 0 || exponent > 3)
		exponent = 2;
	for (e = 0; e < exponent; e++)
		unit *= 10;
	/* Negating in unsigned arithmetic keeps INT64_MIN exact. */
	mag = amount < 0 ? 0 - (uint64_t)amount : (uint64_t)amount;
	major = mag / unit;
	do {
		digits[nd++] = (char)('0' + major % 10);
		major /= 10;
	} while (major > 0);
	/* digits[] is reversed: emit from the top, a comma every three. */
	for (i = nd; i > 0; i--) {
		grouped[ng++] = digits[i - 1];
		if (i > 1 && (i - 1) % 3 == 0)
			grouped[ng++] = ',';
	}
	grouped[ng] = '\0';
	frac[0] = '\0';
	if (exponent > 0)
		snprintf(frac, sizeof(frac), ".%0*llu", exponent,
		    (unsigned long long)(mag % unit));
	snprintf(out, outsz, "%s%s%s", amount < 0 ? "-" : "", grouped, frac);
}

void
money_format(int64_t cents, char *out, size_t outsz)
{
	char		 n[64];

	if (outsz == 0)
		return;
	money_format_minor(cents, 2, n, sizeof(n));
	snprintf(out, outsz, "%s$%s", cents < 0 ? "-" : "",
	    n + (cents < 0));
}

/*
 * Stripe's currencies whose amounts are not in hundredths
 * (https://docs.stripe.com/currencies, "Zero-decimal currencies" and
 * "Three-decimal currencies").
 */
static const char *const money_zero_decimal[] = {
	"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF",
	"UGX", "VND", "VUV", "XAF", "XOF", "XPF",
};
static const char *const money_three_decimal[] = {
	"BHD", "JOD", "KWD", "OMR", "TND",
};

int
money_exponent(const char *currency)
{
	size_t		 i;

	if (currency == NULL || strlen(currency) != 3)
		return 2;
	for (i = 0; i < sizeof(money_zero_decimal) /
	    sizeof(money_zero_decimal[0]); i++)
		if (strcasecmp(currency, money_zero_decimal[i]) == 0)
			return 0;
	for (i = 0; i < sizeof(money_three_decimal) /
	    sizeof(money_three_decimal[0]); i++)
		if (strcasecmp(currency, money_three_decimal[i]) == 0)
			return 3;
	return 2;
}

/*
 * Returns price * num / den rounded half up; 0 <= num <= den, den > 0,
 * price >= 0, so the result is at most price.  The 128-bit product keeps
 * it exact for any 64-bit inputs.
 */
static int64_t
money_ratio(int64_t price, int64_t num, int64_t den)
{
	__extension__ unsigned __int128	 p;

	p = (unsigned __int128)price * (unsigned __int128)num * 2 +
	    (unsigned __int128)den;
	return (int64_t)(p / ((unsigned __int128)den * 2));
}

/*
 * Stripe's documentation ("Prorations", docs.stripe.com/billing/
 * subscriptions/prorations) says the prorated amount "is calculated down to
 * the second", from the time of the change and the current billing
 * period's start and end, and appears as two invoice items: a credit for
 * the unused time on the old price and a debit for the remaining time on
 * the new price (upgrading $10 to $20 half-way: -$5 and +$10).  So each
 * line is price * (end - now) / (end - start) in whole seconds, rounded to
 * a whole cent on its own, and the net is the sum of the two rounded
 * lines.  Stripe does not document its tie-breaking; we use the project's
 * half-up rule.  This models Stripe's classic billing mode: flexible mode
 * bases the credit on the amount actually debited before (after
 * discounts), which callers must take from Stripe's invoice preview.
 */
enum xerr
money_prorate(int64_t old_price_cents, int64_t new_price_cents,
    int64_t period_start, int64_t period_end, int64_t now,
    struct money_proration *out)
{
	struct money_proration	 p;
	int64_t			 period;

	memset(out, 0, sizeof(*out));
	if (old_price_cents < 0 || new_price_cents < 0 ||
	    period_end <= period_start ||
	    __builtin_sub_overflow(period_end, period_start, &period))
		return XERR_BADREQ;
	if (now < period_start)
		now = period_start;
	if (now > period_end)
		now = period_end;
	p.period_seconds = period;
	p.remaining_seconds = period_end - now;
	p.credit_cents = -money_ratio(old_price_cents, p.remaining_seconds,
	    period);
	p.charge_cents = money_ratio(new_price_cents, p.remaining_seconds,
	    period);
	/* Both lines lie within [-old, new]: the sum cannot overflow. */
	p.net_cents = p.credit_cents + p.charge_cents;
	*out = p;
	return XERR_OK;
}
