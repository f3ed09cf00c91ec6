#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#include "core/cfg.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "remote/smtp.h"
#include "domain/jobs.h"
#include "domain/money.h"
#include "domain/notify.h"
#include "domain/tiers.h"

#define NOTIFY_SUBJECT_MAX	300		/* bytes, before encoding */
#define NOTIFY_BODY_MAX		(32 * 1024)
#define NOTIFY_LINE_MAX		998	/* RFC 5322 2.1.1, without CRLF */
#define NOTIFY_WORD_LINE	76	/* RFC 2047 2: lines with encoded words */
#define NOTIFY_NAME_MAX		63	/* a tag's field name */
#define NOTIFY_TIME_MAX		253402300799LL	/* 9999-12-31T23:59:59Z */

/* Below every message: who sent it and where the account lives. */
#define NOTIFY_SIGNATURE						\
	"\n"								\
	"-- \n"								\
	"xSwarm Billing\n"						\
	"{{app_url}}\n"

/*
 * Every notification, in one place.  Tags: {{field}} (a string, or an
 * integer in decimal), {{field|money}} (integer cents, "$1,234.56"),
 * {{field|date}} (Unix seconds, "24 November 2026" in UTC),
 * {{#field}}...{{/field}} kept only when the field is present and not
 * null, {{^field}}...{{/field}} only when it is not; a newline right after
 * a section tag is dropped, so a tag may stand on its own line.  Bodies are
 * written with \n; they are sent with CRLF.  Keep lines under 78
 * characters.
 */
static const struct {
	const char	*name;
	const char	*subject;
	const char	*body;
} notify_tmpls[] = {
	{ "trial_ending",
	  "Your xSwarm trial ends on {{trial_end|date}}",
	  "Hello,\n"
	  "\n"
	  "Your xSwarm trial ends on {{trial_end|date}}.\n"
	  "\n"
	  "After that date your subscription continues as a paid plan and the\n"
	  "payment method on file is charged.  To review your plan or update\n"
	  "your payment method before then, visit:\n"
	  "\n"
	  "{{billing_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "payment_failed",
	  "We couldn\xe2\x80\x99t process your payment of {{amount_due|money}}",
	  "Hello,\n"
	  "\n"
	  "We could not process your payment of {{amount_due|money}} for your\n"
	  "xSwarm subscription.\n"
	  "\n"
	  "{{#next_payment_attempt}}\n"
	  "We will try again on {{next_payment_attempt|date}}.  To avoid an\n"
	  "interruption, please update your payment method before then:\n"
	  "{{/next_payment_attempt}}\n"
	  "{{^next_payment_attempt}}\n"
	  "We will not try again automatically.  To keep your plan, please\n"
	  "update your payment method and pay the invoice:\n"
	  "{{/next_payment_attempt}}\n"
	  "\n"
	  "{{update_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "phone_provisioned",
	  "Your xSwarm phone number {{phone_number}} is ready",
	  "Hello,\n"
	  "\n"
	  "Your assistant now has its own phone number:\n"
	  "\n"
	  "    {{phone_number}}\n"
	  "\n"
	  "Calls and text messages to this number reach your assistant.  You\n"
	  "can see the number and its usage at:\n"
	  "\n"
	  "{{billing_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "phone_released",
	  "Your xSwarm phone number {{phone_number}} has been released",
	  "Hello,\n"
	  "\n"
	  "The phone number {{phone_number}} has been released from your\n"
	  "xSwarm account.  Calls and text messages to it no longer reach your\n"
	  "assistant, and it is no longer billed.\n"
	  "\n"
	  "If your plan includes a phone number, you can get a new one at:\n"
	  "\n"
	  "{{billing_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "projected_overage",
	  "Your xSwarm usage: {{total_cents|money}} beyond your plan so far",
	  "Hello,\n"
	  "\n"
	  "Your usage so far this billing period adds {{total_cents|money}} to\n"
	  "your next invoice, beyond what your plan includes:\n"
	  "\n"
	  "    Voice minutes     {{voice_cents|money}}\n"
	  "    Text messages     {{sms_cents|money}}\n"
	  "    Phone number      {{phone_cents|money}}\n"
	  "    Total             {{total_cents|money}}\n"
	  "\n"
	  "The billing period ends on {{period_end|date}}; usage until then is\n"
	  "billed on that invoice.  Your usage in detail:\n"
	  "\n"
	  "{{billing_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "subscription_cancelled",
	  "Your xSwarm {{old_tier_name}} subscription has ended",
	  "Hello,\n"
	  "\n"
	  "Your {{old_tier_name}} subscription has ended and your account is\n"
	  "now on the free {{new_tier_name}} plan.  Your assistant keeps\n"
	  "working with the features of that plan.\n"
	  "\n"
	  "You can subscribe again at any time:\n"
	  "\n"
	  "{{billing_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "subscription_downgraded",
	  "Your xSwarm plan changed to {{new_tier_name}}",
	  "Hello,\n"
	  "\n"
	  "Your plan changed from {{old_tier_name}} to {{new_tier_name}}.  The\n"
	  "allowances and price of {{new_tier_name}} apply from now on.\n"
	  "\n"
	  "To review or change your plan, visit:\n"
	  "\n"
	  "{{billing_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "payment_action_required",
	  "Please confirm your xSwarm payment of {{amount_due|money}}",
	  "Hello,\n"
	  "\n"
	  "Your bank asks you to confirm the payment of {{amount_due|money}} for\n"
	  "your xSwarm subscription.  The invoice stays unpaid until you do.\n"
	  "To confirm the payment, open:\n"
	  "\n"
	  "{{update_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "refund_issued",
	  "Your xSwarm refund of {{amount|money}}",
	  "Hello,\n"
	  "\n"
	  "We have refunded {{amount|money}} to the payment method you paid\n"
	  "with.  Depending on your bank, it can take a few days to appear on\n"
	  "your statement.  Your billing history:\n"
	  "\n"
	  "{{billing_url}}\n"
	  NOTIFY_SIGNATURE },

	/* operator_*: sent to OPERATOR_EMAIL, about the user (worker_notify()). */
	{ "operator_dispute_opened",
	  "Dispute opened: {{amount|money}} by {{user_email}}",
	  "Hello,\n"
	  "\n"
	  "A payment of user {{user_id}} ({{user_email}}) is disputed.\n"
	  "\n"
	  "    Dispute     {{dispute_id}}\n"
	  "{{#charge_id}}\n"
	  "    Charge      {{charge_id}}\n"
	  "{{/charge_id}}\n"
	  "    Amount      {{amount|money}}\n"
	  "    Reason      {{reason}}\n"
	  "    Status      {{status}}\n"
	  "{{#evidence_due_by}}\n"
	  "    Evidence    due by {{evidence_due_by|date}}\n"
	  "{{/evidence_due_by}}\n"
	  "\n"
	  "The account is flagged until the dispute is closed.  Respond in the\n"
	  "Stripe Dashboard:\n"
	  "\n"
	  "{{dashboard_url}}\n"
	  NOTIFY_SIGNATURE },

	{ "operator_dispute_closed",
	  "Dispute closed ({{status}}): {{amount|money}} by {{user_email}}",
	  "Hello,\n"
	  "\n"
	  "The dispute {{dispute_id}} on a payment of user {{user_id}}\n"
	  "({{user_email}}) is closed.\n"
	  "\n"
	  "    Outcome     {{status}}\n"
	  "    Amount      {{amount|money}}\n"
	  "    Reason      {{reason}}\n"
	  "\n"
	  "The account's flag for this dispute is cleared.  The dispute in the\n"
	  "Stripe Dashboard:\n"
	  "\n"
	  "{{dashboard_url}}\n"
	  NOTIFY_SIGNATURE },

	/* A second live subscription (domain/subscriptions.c). */
	{ "operator_subscriptions_doubled",
	  "Two live subscriptions: {{user_email}}",
	  "Hello,\n"
	  "\n"
	  "User {{user_id}} ({{user_email}}) has two live subscriptions at\n"
	  "Stripe, and both are charged:\n"
	  "\n"
	  "    Followed    {{new_subscription}} ({{new_tier}})\n"
	  "    Also live   {{old_subscription}} ({{old_tier}})\n"
	  "\n"
	  "The account now follows the newer one.  If the user did not mean to\n"
	  "pay for both (two Checkout sessions completed, say), cancel the\n"
	  "other in the Stripe Dashboard and refund what it charged:\n"
	  "\n"
	  "{{dashboard_url}}\n"
	  NOTIFY_SIGNATURE },

	/* Least privilege: a usage report refused at its cap (domain/usage.c). */
	{ "operator_usage_cap",
	  "Usage cap reached: {{kind}} of {{user_email}}",
	  "Hello,\n"
	  "\n"
	  "A usage report of {{quantity}} {{kind}} for user {{user_id}}\n"
	  "({{user_email}}) was refused: the user has {{used}} in the billing\n"
	  "period from {{period_start|date}} to {{period_end|date}}, and the cap\n"
	  "is {{cap}} (voice in seconds).  Further reports of this kind are\n"
	  "refused until the period ends; this is the only notice for it.\n"
	  "If the usage is genuine, raise USAGE_CAP_VOICE_SECONDS or\n"
	  "USAGE_CAP_SMS; otherwise look for the service that reported it\n"
	  "(usage_events.reported_by).\n"
	  NOTIFY_SIGNATURE },
};

#define NOTIFY_NTMPLS	(sizeof(notify_tmpls) / sizeof(notify_tmpls[0]))

/* One rendering: the fields, the derived links, where errors go. */
struct notify_ctx {
	const char		*tmpl;
	struct json_object	*fields;	/* borrowed */
	char			 app_url[NOTIFY_FIELD_MAX + 1];
	char			 billing_url[NOTIFY_FIELD_MAX + 16];
	const char		*update_url;
	char			*err;
	size_t			 errsz;
};

static const char *const notify_months[12] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"
};

/* Writes a formatted reason to the context's err and returns rc. */
static enum xerr __attribute__((format(printf, 3, 4)))
notify_fail(struct notify_ctx *x, enum xerr rc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(x->err, x->errsz, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * Returns 1 when the len bytes at s are well-formed UTF-8 (no overlong
 * forms, surrogates or code points past U+10FFFF), else 0.
 */
static int
notify_utf8_ok(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, k;
	unsigned long		 cp;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[i] & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * Returns 1 when a field's text can go into a message: at most
 * NOTIFY_FIELD_MAX bytes of UTF-8 without control characters (so a value
 * can neither break a header nor add lines), else 0.
 */
static int
notify_text_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len > NOTIFY_FIELD_MAX || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return notify_utf8_ok(s, len);
}

int
notify_template_known(const char *tmpl)
{
	size_t	 i;

	if (tmpl == NULL)
		return 0;
	for (i = 0; i < NOTIFY_NTMPLS; i++)
		if (strcmp(notify_tmpls[i].name, tmpl) == 0)
			return 1;
	return 0;
}

/* Breaks t into UTC calendar fields; -1 outside 1970..9999. */
static int
notify_gmtime(int64_t t, struct tm *tm)
{
	time_t	 tt;

	if (t < 0 || t > NOTIFY_TIME_MAX)
		return -1;
	tt = (time_t)t;
	if (gmtime_r(&tt, tm) == NULL)
		return -1;
	return 0;
}

enum xerr
notify_date(int64_t t, char *out, size_t outsz)
{
	struct tm	 tm;
	int		 n;

	if (outsz == 0)
		return XERR_BADREQ;
	out[0] = '\0';
	if (notify_gmtime(t, &tm) != 0)
		return XERR_BADREQ;
	n = snprintf(out, outsz, "%d %s %d", tm.tm_mday,
	    notify_months[tm.tm_mon], tm.tm_year + 1900);
	if (n < 0 || (size_t)n >= outsz) {
		out[0] = '\0';
		return XERR_BADREQ;
	}
	return XERR_OK;
}

enum xerr
notify_rfc5322_date(int64_t t, char *out, size_t outsz)
{
	static const char *const days[7] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	struct tm	 tm;
	int		 n;

	if (outsz == 0)
		return XERR_BADREQ;
	out[0] = '\0';
	if (notify_gmtime(t, &tm) != 0)
		return XERR_BADREQ;
	/* Names from our own tables: strftime's would follow the locale. */
	n = snprintf(out, outsz, "%s, %02d %.3s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, notify_months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= outsz) {
		out[0] = '\0';
		return XERR_BADREQ;
	}
	return XERR_OK;
}

void
notify_message_id(const char *key, char out[NOTIFY_MSGID_SIZE])
{
	unsigned char	 h[CRYPTO_SHA256_LEN];
	char		 hex[2 * CRYPTO_SHA256_LEN + 1];

	crypto_sha256(key, strlen(key), h);
	crypto_hex(h, sizeof(h), hex, sizeof(hex));
	snprintf(out, NOTIFY_MSGID_SIZE, "<%s@%s>", hex, NOTIFY_MSGID_DOMAIN);
}

/*
 * Writes an amount in the currency's smallest unit: "$1,234.56" in US
 * dollars (also when the payload names no currency), "1,234.56 EUR",
 * "1,200 JPY" or "5.124 KWD" in another currency (money_exponent()).
 * XERR_UNPROCESSABLE for a currency that is not three letters.
 */
static enum xerr
notify_money(struct notify_ctx *x, const char *field, int64_t amount,
    char *out, size_t outsz)
{
	const char	*cur = jsonx_str(x->fields, "currency");
	char		 digits[64], code[4];
	size_t		 i;

	if (cur == NULL || strcasecmp(cur, "usd") == 0) {
		money_format(amount, out, outsz);
		return XERR_OK;
	}
	if (strlen(cur) != 3)
		return notify_fail(x, XERR_UNPROCESSABLE, "template %s: "
		    "currency of %s is not an ISO code", x->tmpl, field);
	for (i = 0; i < 3; i++) {
		if (!isalpha((unsigned char)cur[i]))
			return notify_fail(x, XERR_UNPROCESSABLE, "template "
			    "%s: currency of %s is not an ISO code", x->tmpl,
			    field);
		code[i] = (char)toupper((unsigned char)cur[i]);
	}
	code[3] = '\0';
	money_format_minor(amount, money_exponent(code), digits,
	    sizeof(digits));
	snprintf(out, outsz, "%s %s", digits, code);
	return XERR_OK;
}

/* Returns the derived field name (a link built here), or NULL. */
static const char *
notify_derived(struct notify_ctx *x, const char *name)
{
	if (strcmp(name, "app_url") == 0)
		return x->app_url;
	if (strcmp(name, "billing_url") == 0)
		return x->billing_url;
	if (strcmp(name, "update_url") == 0)
		return x->update_url;
	return NULL;
}

/* Returns 1 when field name has a value (present and not null). */
static int
notify_present(struct notify_ctx *x, const char *name)
{
	struct json_object	*v;

	if (notify_derived(x, name) != NULL)
		return 1;
	v = jsonx_get(x->fields, name);
	return v != NULL && !json_object_is_type(v, json_type_null);
}

/*
 * Writes the text of field name through filter ("" for none) to val.
 * XERR_UNPROCESSABLE for a field missing or unfit, XERR_INTERNAL for an
 * unknown filter.
 */
static enum xerr
notify_value(struct notify_ctx *x, const char *name, const char *filter,
    char *val, size_t valsz)
{
	struct json_object	*v;
	const char		*d, *s;
	int64_t			 n = 0;
	int			 isint;

	if ((d = notify_derived(x, name)) != NULL && filter[0] == '\0') {
		snprintf(val, valsz, "%s", d);
		return XERR_OK;
	}
	v = jsonx_get(x->fields, name);
	if (v == NULL || json_object_is_type(v, json_type_null))
		return notify_fail(x, XERR_UNPROCESSABLE, "template %s: field "
		    "%s missing", x->tmpl, name);
	isint = json_object_is_type(v, json_type_int);
	if (isint)
		n = json_object_get_int64(v);
	if (filter[0] == '\0') {
		if (isint) {
			snprintf(val, valsz, "%lld", (long long)n);
			return XERR_OK;
		}
		if (!json_object_is_type(v, json_type_string))
			return notify_fail(x, XERR_UNPROCESSABLE, "template "
			    "%s: field %s is no string", x->tmpl, name);
		s = json_object_get_string(v);
		if (!notify_text_ok(s, (size_t)json_object_get_string_len(v)))
			return notify_fail(x, XERR_UNPROCESSABLE, "template "
			    "%s: field %s is too long, not UTF-8 or holds a "
			    "control character", x->tmpl, name);
		snprintf(val, valsz, "%s", s);
		return XERR_OK;
	}
	if (strcmp(filter, "money") != 0 && strcmp(filter, "date") != 0)
		return notify_fail(x, XERR_INTERNAL, "template %s: unknown "
		    "filter %s", x->tmpl, filter);
	if (!isint)
		return notify_fail(x, XERR_UNPROCESSABLE, "template %s: field "
		    "%s is no integer", x->tmpl, name);
	if (strcmp(filter, "money") == 0)
		return notify_money(x, name, n, val, valsz);
	if (notify_date(n, val, valsz) != XERR_OK)
		return notify_fail(x, XERR_UNPROCESSABLE, "template %s: field "
		    "%s is no date", x->tmpl, name);
	return XERR_OK;
}

/*
 * Appends the expansion of the len bytes of template text s to out.
 * Sections recurse on their contents.
 */
static enum xerr
notify_expand(struct notify_ctx *x, const char *s, size_t len,
    struct buf *out)
{
	const char	*end = s + len, *open, *tag, *close, *p, *inner;
	char		 name[NOTIFY_NAME_MAX + 1], filter[16], closing[80];
	char		 val[NOTIFY_FIELD_MAX + 64];
	size_t		 n, fn;
	char		 kind;
	int		 keep;
	enum xerr	 rc;

	while (s < end) {
		if ((open = memmem(s, (size_t)(end - s), "{{", 2)) == NULL)
			return buf_append(out, s, (size_t)(end - s));
		if ((rc = buf_append(out, s, (size_t)(open - s))))
			return rc;
		tag = open + 2;
		if ((close = memmem(tag, (size_t)(end - tag), "}}", 2)) == NULL)
			return notify_fail(x, XERR_INTERNAL, "template %s: "
			    "unclosed tag", x->tmpl);
		kind = *tag;
		if (kind == '#' || kind == '^' || kind == '/')
			tag++;
		else
			kind = '\0';
		for (p = tag; p < close && ((*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'); p++)
			continue;
		n = (size_t)(p - tag);
		fn = 0;
		if (p < close && *p == '|')
			for (p++; p < close && *p >= 'a' && *p <= 'z' &&
			    fn < sizeof(filter) - 1; p++)
				filter[fn++] = *p;
		filter[fn] = '\0';
		if (n == 0 || n > NOTIFY_NAME_MAX || p != close ||
		    kind == '/' || (kind != '\0' && fn > 0))
			return notify_fail(x, XERR_INTERNAL, "template %s: bad "
			    "tag {{%.*s}}", x->tmpl, (int)(close - open - 2),
			    open + 2);
		memcpy(name, tag, n);
		name[n] = '\0';
		s = close + 2;
		if (kind == '\0') {
			if ((rc = notify_value(x, name, filter, val,
			    sizeof(val))))
				return rc;
			if ((rc = buf_puts(out, val)))
				return rc;
			continue;
		}
		/* A section: find its end, keep or drop what is between. */
		if (s < end && *s == '\n')
			s++;
		snprintf(closing, sizeof(closing), "{{/%s}}", name);
		if ((inner = memmem(s, (size_t)(end - s), closing,
		    strlen(closing))) == NULL)
			return notify_fail(x, XERR_INTERNAL, "template %s: "
			    "section %s not closed", x->tmpl, name);
		keep = notify_present(x, name) == (kind == '#');
		if (keep && (rc = notify_expand(x, s, (size_t)(inner - s),
		    out)))
			return rc;
		s = inner + strlen(closing);
		if (s < end && *s == '\n')
			s++;
	}
	return XERR_OK;
}

/* Maps a buffer's "too big" to "this field makes the message too long". */
static enum xerr
notify_size(struct notify_ctx *x, enum xerr rc, const char *what)
{
	if (rc == XERR_TOOBIG)
		return notify_fail(x, XERR_UNPROCESSABLE, "template %s: %s "
		    "too long", x->tmpl, what);
	return rc;
}

void
notify_text_clear(struct notify_text *t)
{
	if (t == NULL)
		return;
	free(t->subject);
	free(t->body);
	memset(t, 0, sizeof(*t));
}

/*
 * Sets the links of x from app_url (trailing '/' dropped): the billing
 * page, and the page to update a card, the invoice's hosted page when the
 * fields give a usable one.  XERR_UNPROCESSABLE when app_url is too long.
 */
static enum xerr
notify_links(struct notify_ctx *x, const char *app_url)
{
	const char	*hosted;
	size_t		 n;

	n = strlen(app_url);
	while (n > 0 && app_url[n - 1] == '/')
		n--;
	if (n > NOTIFY_FIELD_MAX - strlen("/billing"))
		return notify_fail(x, XERR_UNPROCESSABLE, "APP_URL too long");
	snprintf(x->app_url, sizeof(x->app_url), "%.*s", (int)n, app_url);
	snprintf(x->billing_url, sizeof(x->billing_url), "%s/billing",
	    x->app_url);
	x->update_url = x->billing_url;
	hosted = jsonx_str(x->fields, "hosted_invoice_url");
	if (hosted != NULL && strncmp(hosted, "https://", 8) == 0 &&
	    notify_text_ok(hosted, strlen(hosted)) &&
	    strchr(hosted, ' ') == NULL)
		x->update_url = hosted;
	return XERR_OK;
}

/*
 * Appends the text s to out with CRLF line ends (a last line without one
 * gets one), each line within NOTIFY_LINE_MAX bytes.  Errors mapped by
 * notify_size() for the body.
 */
static enum xerr
notify_crlf(struct notify_ctx *x, const char *s, struct buf *out)
{
	const char	*p;
	size_t		 line = 0;
	enum xerr	 rc;

	for (p = s; *p != '\0'; p++) {
		if (*p == '\n') {
			rc = buf_append(out, "\r\n", 2);
			line = 0;
		} else {
			rc = buf_append(out, p, 1);
			if (++line > NOTIFY_LINE_MAX)
				rc = notify_fail(x, XERR_UNPROCESSABLE,
				    "template %s: a line is over %d bytes",
				    x->tmpl, NOTIFY_LINE_MAX);
		}
		if (rc)
			return notify_size(x, rc, "body");
	}
	if (line != 0 && (rc = buf_append(out, "\r\n", 2)))
		return notify_size(x, rc, "body");
	return XERR_OK;
}

enum xerr
notify_render(const char *tmpl, struct json_object *fields,
    const char *app_url, struct notify_text *out, char *err, size_t errsz)
{
	struct notify_ctx	 x;
	struct buf		*sb = NULL, *bb = NULL, *crlf = NULL;
	const char		*p;
	size_t			 i;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	x.tmpl = tmpl != NULL ? tmpl : "(none)";
	x.fields = fields;
	x.err = err;
	x.errsz = errsz;
	err[0] = '\0';
	for (i = 0; i < NOTIFY_NTMPLS; i++)
		if (tmpl != NULL && strcmp(notify_tmpls[i].name, tmpl) == 0)
			break;
	if (i == NOTIFY_NTMPLS)
		return notify_fail(&x, XERR_UNPROCESSABLE, "unknown "
		    "notification template %.64s", x.tmpl);
	if (!json_object_is_type(fields, json_type_object))
		return notify_fail(&x, XERR_UNPROCESSABLE, "template %s: "
		    "fields are no object", x.tmpl);
	if ((rc = notify_links(&x, app_url)) != XERR_OK)
		return rc;

	rc = XERR_NOMEM;
	if ((sb = buf_new(NOTIFY_SUBJECT_MAX)) == NULL ||
	    (bb = buf_new(NOTIFY_BODY_MAX)) == NULL ||
	    (crlf = buf_new(NOTIFY_BODY_MAX + NOTIFY_BODY_MAX / 8)) == NULL)
		goto fail;
	p = notify_tmpls[i].subject;
	if ((rc = notify_expand(&x, p, strlen(p), sb))) {
		rc = notify_size(&x, rc, "subject");
		goto fail;
	}
	p = notify_tmpls[i].body;
	if ((rc = notify_expand(&x, p, strlen(p), bb))) {
		rc = notify_size(&x, rc, "body");
		goto fail;
	}
	if ((rc = notify_crlf(&x, buf_data(bb), crlf)) != XERR_OK)
		goto fail;
	rc = XERR_NOMEM;
	if ((out->subject = buf_steal(sb, NULL)) == NULL ||
	    (out->body = buf_steal(crlf, NULL)) == NULL) {
		notify_text_clear(out);
		goto fail;
	}
	rc = XERR_OK;
fail:
	buf_free(sb);
	buf_free(bb);
	buf_free(crlf);
	return rc;
}

/* Returns 1 when the len bytes at s are printable ASCII (and space). */
static int
notify_ascii(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * Appends the len bytes at s as RFC 2047 "B" encoded words, each of whole
 * UTF-8 characters and on a line of at most NOTIFY_WORD_LINE characters;
 * col is how many characters the current line already holds.  The first
 * word follows a space, each next one a fold (CRLF and a space).
 */
static enum xerr
notify_words(struct buf *out, const char *s, size_t len, size_t col)
{
	/* "=?utf-8?B?" and "?=" around the base64 */
	static const size_t	 overhead = 10 + 2;
	const char		*sep = " ";
	char			*b64;
	size_t			 i = 0, room, n;
	enum xerr		 rc;

	while (i < len) {
		/* The line: col characters, a space, then the word. */
		room = NOTIFY_WORD_LINE > col + 1 + overhead ?
		    NOTIFY_WORD_LINE - col - 1 - overhead : 0;
		n = room / 4 * 3;
		if (n > len - i)
			n = len - i;
		/* Never split a character: back up to a lead byte. */
		while (n > 0 && i + n < len &&
		    ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n--;
		if (n == 0) {
			if (col == 0)
				return XERR_BADREQ;
			/* Nothing fits after the name: start a new line. */
			sep = "\r\n ";
			col = 0;
			continue;
		}
		if ((rc = crypto_b64_encode(s + i, n, 0, &b64)))
			return rc;
		rc = buf_printf(out, "%s=?utf-8?B?%s?=", sep, b64);
		free(b64);
		if (rc)
			return rc;
		i += n;
		sep = "\r\n ";
		col = 0;
	}
	return XERR_OK;
}

enum xerr
notify_header(struct buf *out, const char *name, const char *value)
{
	size_t		 len = strlen(value);
	enum xerr	 rc;

	if (strpbrk(value, "\r\n") != NULL || !notify_utf8_ok(value, len))
		return XERR_BADREQ;
	if (notify_ascii(value, len))
		return buf_printf(out, "%s: %s\r\n", name, value);
	if ((rc = buf_printf(out, "%s:", name)) ||
	    (rc = notify_words(out, value, len, strlen(name) + 1)))
		return rc;
	return buf_puts(out, "\r\n");
}

/*
 * Appends the From header.  A display name that is not ASCII is encoded
 * on its own; the address stays as it is.
 */
static enum xerr
notify_from(struct buf *out, const char *from)
{
	const char	*lt, *name;
	size_t		 n;
	char		 addr[SMTP_ADDR_MAX + 1];
	enum xerr	 rc;

	if (strpbrk(from, "\r\n") != NULL)
		return XERR_BADREQ;
	if (notify_ascii(from, strlen(from)))
		return notify_header(out, "From", from);
	if ((lt = strrchr(from, '<')) == NULL ||
	    smtp_addr_spec(lt, addr, sizeof(addr)) != XERR_OK)
		return XERR_BADREQ;
	name = from + strspn(from, " \t\"");
	n = (size_t)(lt - name);
	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t' ||
	    name[n - 1] == '"'))
		n--;
	if (!notify_utf8_ok(name, n))
		return XERR_BADREQ;
	if ((rc = buf_puts(out, "From:")) ||
	    (rc = notify_words(out, name, n, strlen("From:"))))
		return rc;
	return buf_printf(out, "\r\n <%s>\r\n", addr);
}

enum xerr
notify_message(const struct notify_mail *m, struct buf *out)
{
	char		 date[NOTIFY_DATE_SIZE];
	size_t		 blen;
	enum xerr	 rc;

	buf_reset(out);
	blen = strlen(m->body);
	if (!smtp_addr_ok(m->to) || blen < 2 ||
	    strcmp(m->body + blen - 2, "\r\n") != 0 ||
	    !notify_ascii(m->message_id, strlen(m->message_id)) ||
	    notify_rfc5322_date(m->date, date, sizeof(date)) != XERR_OK)
		return XERR_BADREQ;
	if ((rc = notify_header(out, "Date", date)) ||
	    (rc = notify_from(out, m->from)) ||
	    (rc = notify_header(out, "To", m->to)) ||
	    (rc = notify_header(out, "Subject", m->subject)) ||
	    (rc = notify_header(out, "Message-ID", m->message_id)) ||
	    (rc = notify_header(out, "MIME-Version", "1.0")) ||
	    (rc = notify_header(out, "Content-Type",
	    "text/plain; charset=utf-8")) ||
	    (rc = notify_header(out, "Content-Transfer-Encoding", "8bit")) ||
	    (rc = notify_header(out, "Auto-Submitted", "auto-generated")) ||
	    (rc = buf_puts(out, "\r\n")) ||
	    (rc = buf_append(out, m->body, blen)))
		return rc;
	return XERR_OK;
}
