/*
 * Unit tests for common/domain/notify.c: every template rendered with its fields
 * (amounts from cents, dates in UTC, sections), a missing or unfit field
 * refused, the headers (Date, a deterministic Message-ID, RFC 2047
 * subjects and names) and the whole message.  No network, no database.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "domain/notify.h"

#define APP	"https://app.example.test/"	/* the trailing '/' is dropped */
#define BILLING	"https://app.example.test/billing"

#define T_20261124	1795478400LL		/* 2026-11-24T00:00:00Z */
#define T_20261205	1796515199LL		/* 2026-12-05T23:59:59Z */

/*
 * One rendering: a template, its payload as JSON, what the subject must be,
 * and strings the body must and must not hold ("" ends a list).  The
 * payloads carry what the webhook adds (template, user_id, event_id).
 */
static const struct {
	const char	*tmpl;
	const char	*fields;
	const char	*subject;
	const char	*has[8];
	const char	*hasnt[4];
} renders[] = {
	{ "trial_ending",
	  "{\"trial_end\":1795478400}",
	  "Your xSwarm trial ends on 24 November 2026",
	  { "Your xSwarm trial ends on 24 November 2026.\r\n",
	    "\r\n" BILLING "\r\n", "-- \r\nxSwarm Billing\r\n"
	    "https://app.example.test\r\n", "" },
	  { "{{", "" } },
	{ "payment_failed",
	  "{\"invoice_id\":\"in_1\",\"amount_due\":400000,\"currency\":\"usd\","
	  "\"next_payment_attempt\":1796515199,"
	  "\"hosted_invoice_url\":\"https://invoice.stripe.test/i/x\"}",
	  "We couldn\xe2\x80\x99t process your payment of $4,000.00",
	  { "payment of $4,000.00 for your\r\n",
	    "xSwarm subscription.\r\n\r\nWe will try again on 5 December 2026.",
	    "before then:\r\n\r\nhttps://invoice.stripe.test/i/x\r\n", "" },
	  { "not try again", BILLING, "{{", "" } },
	{ "payment_failed",
	  "{\"invoice_id\":\"in_1\",\"amount_due\":4000,\"currency\":null,"
	  "\"next_payment_attempt\":null,\"hosted_invoice_url\":null}",
	  "We couldn\xe2\x80\x99t process your payment of $40.00",
	  { "subscription.\r\n\r\nWe will not try again automatically.",
	    "pay the invoice:\r\n\r\n" BILLING "\r\n", "" },
	  { "try again on", "{{", "" } },
	{ "payment_failed",	/* a link that is not https is not used */
	  "{\"invoice_id\":\"in_1\",\"amount_due\":1999,\"currency\":\"eur\","
	  "\"hosted_invoice_url\":\"http://evil.test/\"}",
	  "We couldn\xe2\x80\x99t process your payment of 19.99 EUR",
	  { "payment of 19.99 EUR", "\r\n" BILLING "\r\n", "" },
	  { "evil", "" } },
	{ "payment_failed",	/* zero-decimal: yen, not hundredths */
	  "{\"invoice_id\":\"in_1\",\"amount_due\":4400,\"currency\":\"jpy\"}",
	  "We couldn\xe2\x80\x99t process your payment of 4,400 JPY",
	  { "payment of 4,400 JPY", "" },
	  { "44.00", "" } },
	{ "payment_failed",	/* three-decimal: thousandths */
	  "{\"invoice_id\":\"in_1\",\"amount_due\":12340,\"currency\":\"KWD\"}",
	  "We couldn\xe2\x80\x99t process your payment of 12.340 KWD",
	  { "payment of 12.340 KWD", "" },
	  { "123.40", "" } },
	{ "phone_provisioned",
	  "{\"phone_number\":\"+15551234567\"}",
	  "Your xSwarm phone number +15551234567 is ready",
	  { "\r\n    +15551234567\r\n", "" },
	  { "" } },
	{ "phone_released",
	  "{\"phone_number\":\"+15551234567\"}",
	  "Your xSwarm phone number +15551234567 has been released",
	  { "The phone number +15551234567 has been released", "" },
	  { "" } },
	{ "projected_overage",
	  "{\"total_cents\":123480,\"voice_cents\":122965,\"sms_cents\":15,"
	  "\"phone_cents\":500,\"period_end\":1795478400}",
	  "Your xSwarm usage: $1,234.80 beyond your plan so far",
	  { "    Voice minutes     $1,229.65\r\n",
	    "    Text messages     $0.15\r\n",
	    "    Phone number      $5.00\r\n",
	    "    Total             $1,234.80\r\n",
	    "period ends on 24 November 2026;", "" },
	  { "" } },
	{ "subscription_cancelled",
	  "{\"old_tier\":\"ai_secretary\",\"new_tier\":\"ai_buddy\","
	  "\"old_tier_name\":\"AI Secretary\",\"new_tier_name\":\"AI Buddy\"}",
	  "Your xSwarm AI Secretary subscription has ended",
	  { "Your AI Secretary subscription has ended",
	    "free AI Buddy plan", "" },
	  { "" } },
	{ "subscription_downgraded",
	  "{\"old_tier\":\"ai_project_manager\",\"new_tier\":\"ai_secretary\","
	  "\"old_tier_name\":\"AI Project Manager\","
	  "\"new_tier_name\":\"AI Secretary\"}",
	  "Your xSwarm plan changed to AI Secretary",
	  { "from AI Project Manager to AI Secretary.", "" },
	  { "" } },
	{ "payment_action_required",
	  "{\"invoice_id\":\"in_1\",\"amount_due\":4000,\"currency\":\"usd\","
	  "\"hosted_invoice_url\":\"https://invoice.stripe.test/i/x\"}",
	  "Please confirm your xSwarm payment of $40.00",
	  { "confirm the payment of $40.00 for\r\n",
	    "To confirm the payment, open:\r\n\r\n"
	    "https://invoice.stripe.test/i/x\r\n", "" },
	  { BILLING, "{{", "" } },
	{ "payment_action_required",	/* no usable link: the billing page */
	  "{\"invoice_id\":\"in_1\",\"amount_due\":123456,"
	  "\"currency\":\"eur\",\"hosted_invoice_url\":\"http://evil.test/\"}",
	  "Please confirm your xSwarm payment of 1,234.56 EUR",
	  { "open:\r\n\r\n" BILLING "\r\n", "" },
	  { "evil", "" } },
	{ "refund_issued",
	  "{\"refund_id\":\"re_1\",\"amount\":1500,\"currency\":\"usd\"}",
	  "Your xSwarm refund of $15.00",
	  { "We have refunded $15.00 to the payment method",
	    "\r\n" BILLING "\r\n", "" },
	  { "re_1", "" } },
	{ "operator_dispute_opened",
	  "{\"dispute_id\":\"dp_1\",\"charge_id\":\"ch_1\",\"amount\":400000,"
	  "\"currency\":\"usd\",\"reason\":\"fraudulent\","
	  "\"status\":\"needs_response\",\"evidence_due_by\":1796515199,"
	  "\"user_email\":\"a@example.test\","
	  "\"dashboard_url\":\"https://dashboard.stripe.com/test/disputes/dp_1\"}",
	  "Dispute opened: $4,000.00 by a@example.test",
	  { "A payment of user u-1 (a@example.test) is disputed.\r\n",
	    "    Dispute     dp_1\r\n    Charge      ch_1\r\n"
	    "    Amount      $4,000.00\r\n    Reason      fraudulent\r\n"
	    "    Status      needs_response\r\n"
	    "    Evidence    due by 5 December 2026\r\n",
	    "\r\nhttps://dashboard.stripe.com/test/disputes/dp_1\r\n", "" },
	  { "{{", "" } },
	{ "operator_dispute_opened",	/* no charge, no due date */
	  "{\"dispute_id\":\"dp_1\",\"charge_id\":null,\"amount\":1999,"
	  "\"currency\":\"eur\",\"reason\":\"general\",\"status\":\"warning_needs_response\","
	  "\"user_email\":\"a@example.test\","
	  "\"dashboard_url\":\"https://dashboard.stripe.com/disputes/dp_1\"}",
	  "Dispute opened: 19.99 EUR by a@example.test",
	  { "    Dispute     dp_1\r\n    Amount      19.99 EUR\r\n", "" },
	  { "Charge", "Evidence", "" } },
	{ "operator_dispute_closed",
	  "{\"dispute_id\":\"dp_1\",\"charge_id\":\"ch_1\",\"amount\":4000,"
	  "\"currency\":\"usd\",\"reason\":\"fraudulent\",\"status\":\"won\","
	  "\"user_email\":\"a@example.test\","
	  "\"dashboard_url\":\"https://dashboard.stripe.com/disputes/dp_1\"}",
	  "Dispute closed (won): $40.00 by a@example.test",
	  { "The dispute dp_1 on a payment of user u-1\r\n(a@example.test) "
	    "is closed.\r\n",
	    "    Outcome     won\r\n    Amount      $40.00\r\n"
	    "    Reason      fraudulent\r\n", "flag for this dispute is cleared",
	    "" },
	  { "{{", "" } },
	{ "operator_subscriptions_doubled",
	  "{\"old_subscription\":\"sub_1\",\"old_tier\":\"ai_secretary\","
	  "\"new_subscription\":\"sub_2\",\"new_tier\":\"ai_project_manager\","
	  "\"user_email\":\"a@example.test\","
	  "\"dashboard_url\":\"https://dashboard.stripe.com/test/subscriptions/sub_1\"}",
	  "Two live subscriptions: a@example.test",
	  { "User u-1 (a@example.test) has two live subscriptions at\r\n",
	    "    Followed    sub_2 (ai_project_manager)\r\n"
	    "    Also live   sub_1 (ai_secretary)\r\n",
	    "\r\nhttps://dashboard.stripe.com/test/subscriptions/sub_1\r\n", "" },
	  { "{{", "" } },
	{ "operator_usage_cap",
	  "{\"kind\":\"sms\",\"quantity\":500,\"used\":19800,\"cap\":20000,"
	  "\"period_start\":1796083200,\"period_end\":1798761600,"
	  "\"user_email\":\"a@example.test\"}",
	  "Usage cap reached: sms of a@example.test",
	  { "A usage report of 500 sms for user u-1\r\n(a@example.test) was "
	    "refused: the user has 19800 in the billing\r\nperiod from "
	    "1 December 2026 to 1 January 2027, and the cap\r\nis 20000",
	    "usage_events.reported_by", "" },
	  { "{{", "" } },
};

/* Parses JSON text and adds what the webhook adds to every payload. */
static struct json_object *
payload(const char *tmpl, const char *text)
{
	struct json_object	*o = json_tokener_parse(text);

	ck_assert_ptr_nonnull(o);
	json_object_object_add(o, "template", json_object_new_string(tmpl));
	json_object_object_add(o, "user_id", json_object_new_string("u-1"));
	json_object_object_add(o, "event_id", json_object_new_string("evt_1"));
	return o;
}

/* Checks what every body must be: CRLF lines only, ending in CRLF. */
static void
check_crlf(const char *body)
{
	const char	*p;
	size_t		 len = strlen(body);

	ck_assert_uint_ge(len, 2);
	ck_assert_str_eq(body + len - 2, "\r\n");
	for (p = body; *p != '\0'; p++) {
		if (*p == '\n')
			ck_assert_msg(p > body && p[-1] == '\r', "bare LF");
		if (*p == '\r')
			ck_assert_msg(p[1] == '\n', "bare CR");
	}
}

START_TEST(render_each)
{
	struct notify_text	 t;
	struct json_object	*f;
	char			 err[256];
	size_t			 i = (size_t)_i, k;

	f = payload(renders[i].tmpl, renders[i].fields);
	ck_assert_int_eq(notify_render(renders[i].tmpl, f, APP, &t, err,
	    sizeof(err)), XERR_OK);
	ck_assert_str_eq(t.subject, renders[i].subject);
	check_crlf(t.body);
	ck_assert_ptr_null(strstr(t.body, "{{"));
	for (k = 0; renders[i].has[k][0] != '\0'; k++)
		ck_assert_msg(strstr(t.body, renders[i].has[k]) != NULL,
		    "%s: body lacks \"%s\":\n%s", renders[i].tmpl,
		    renders[i].has[k], t.body);
	for (k = 0; renders[i].hasnt[k][0] != '\0'; k++)
		ck_assert_msg(strstr(t.body, renders[i].hasnt[k]) == NULL,
		    "%s: body holds \"%s\"", renders[i].tmpl,
		    renders[i].hasnt[k]);
	ck_assert(strncmp(t.body, "Hello,\r\n\r\n", 10) == 0);
	notify_text_clear(&t);
	notify_text_clear(&t);		/* cleared twice: harmless */
	json_object_put(f);
}
END_TEST

/* Fields a template may go without. */
static int
optional(const char *key)
{
	static const char *const opt[] = {
		"template", "user_id", "event_id", "currency", "invoice_id",
		"next_payment_attempt", "hosted_invoice_url", "old_tier",
		"new_tier", "refund_id", "charge_id", "evidence_due_by"
	};
	size_t	 i;

	for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (strcmp(key, opt[i]) == 0)
			return 1;
	return 0;
}

/* Every required field, taken away in turn, makes the rendering fail. */
START_TEST(render_missing_field)
{
	struct notify_text	 t;
	struct json_object	*f, *g;
	char			 err[256];
	size_t			 i = (size_t)_i, n = 0;

	f = payload(renders[i].tmpl, renders[i].fields);
	json_object_object_foreach(f, key, val) {
		(void)val;
		if (optional(key))
			continue;
		n++;
		g = payload(renders[i].tmpl, renders[i].fields);
		json_object_object_del(g, key);
		ck_assert_int_eq(notify_render(renders[i].tmpl, g, APP, &t,
		    err, sizeof(err)), XERR_UNPROCESSABLE);
		ck_assert_ptr_null(t.subject);
		ck_assert_ptr_null(t.body);
		ck_assert_msg(strstr(err, key) != NULL, "err \"%s\" does not "
		    "name %s", err, key);
		ck_assert_ptr_nonnull(strstr(err, "missing"));
		/* null is missing too */
		json_object_object_add(g, key, NULL);
		ck_assert_int_eq(notify_render(renders[i].tmpl, g, APP, &t,
		    err, sizeof(err)), XERR_UNPROCESSABLE);
		json_object_put(g);
	}
	ck_assert_uint_gt(n, 0);
	json_object_put(f);
}
END_TEST

/* Fields of the wrong type or unfit text are refused. */
static const struct {
	const char	*tmpl;
	const char	*fields;
} unfit[] = {
	{ "trial_ending", "{\"trial_end\":\"1795478400\"}" },
	{ "trial_ending", "{\"trial_end\":1795478400.5}" },
	{ "trial_ending", "{\"trial_end\":-1}" },
	{ "trial_ending", "{\"trial_end\":999999999999999}" },
	{ "payment_failed", "{\"amount_due\":40.5}" },
	{ "payment_failed", "{\"amount_due\":\"4000\"}" },
	{ "payment_failed", "{\"amount_due\":4000,\"currency\":\"euro\"}" },
	{ "payment_failed", "{\"amount_due\":4000,\"currency\":\"e1r\"}" },
	{ "phone_provisioned", "{\"phone_number\":15551234567.5}" },
	{ "phone_provisioned", "{\"phone_number\":{\"n\":1}}" },
	{ "phone_provisioned", "{\"phone_number\":\"+1555\\r\\nBcc: x@y\"}" },
	{ "phone_provisioned", "{\"phone_number\":\"+1555\\n.\\n\"}" },
	{ "phone_provisioned", "{\"phone_number\":\"+1555\\u0000\"}" },
	{ "phone_provisioned", "{\"phone_number\":\"+1555\\t1\"}" },
	{ "subscription_downgraded", "{\"old_tier_name\":\"A\","
	  "\"new_tier_name\":[\"B\"]}" },
};

START_TEST(render_unfit_field)
{
	struct notify_text	 t;
	struct json_object	*f;
	char			 err[256];
	size_t			 i = (size_t)_i;

	f = json_tokener_parse(unfit[i].fields);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(notify_render(unfit[i].tmpl, f, APP, &t, err,
	    sizeof(err)), XERR_UNPROCESSABLE);
	ck_assert_ptr_null(t.subject);
	ck_assert_uint_gt(strlen(err), 0);
	json_object_put(f);
}
END_TEST

START_TEST(render_text_limits)
{
	struct notify_text	 t;
	struct json_object	*f;
	char			 err[256], big[NOTIFY_FIELD_MAX + 2];

	/* Not UTF-8: a lone continuation byte, an overlong '/'. */
	f = json_object_new_object();
	json_object_object_add(f, "phone_number",
	    json_object_new_string("+1555\x80"));
	ck_assert_int_eq(notify_render("phone_released", f, APP, &t, err,
	    sizeof(err)), XERR_UNPROCESSABLE);
	json_object_object_add(f, "phone_number",
	    json_object_new_string("\xc0\xaf"));
	ck_assert_int_eq(notify_render("phone_released", f, APP, &t, err,
	    sizeof(err)), XERR_UNPROCESSABLE);
	/* UTF-8 is fine. */
	json_object_object_add(f, "phone_number",
	    json_object_new_string("\xe2\x98\x8e 1"));
	ck_assert_int_eq(notify_render("phone_released", f, APP, &t, err,
	    sizeof(err)), XERR_OK);
	ck_assert_str_eq(t.subject, "Your xSwarm phone number \xe2\x98\x8e 1 "
	    "has been released");
	notify_text_clear(&t);
	/* NOTIFY_FIELD_MAX bytes pass, one more does not. */
	memset(big, '7', sizeof(big) - 1);
	big[NOTIFY_FIELD_MAX] = '\0';
	json_object_object_add(f, "phone_number", json_object_new_string(big));
	ck_assert_int_eq(notify_render("phone_released", f, APP, &t, err,
	    sizeof(err)), XERR_UNPROCESSABLE);	/* the subject is too long */
	ck_assert_ptr_nonnull(strstr(err, "subject"));
	big[NOTIFY_FIELD_MAX] = '7';
	big[NOTIFY_FIELD_MAX + 1] = '\0';
	json_object_object_add(f, "phone_number", json_object_new_string(big));
	ck_assert_int_eq(notify_render("phone_released", f, APP, &t, err,
	    sizeof(err)), XERR_UNPROCESSABLE);
	ck_assert_ptr_nonnull(strstr(err, "phone_number"));
	json_object_put(f);
}
END_TEST

START_TEST(render_unknown_template)
{
	struct notify_text	 t;
	struct json_object	*f = json_object_new_object();
	char			 err[256];

	ck_assert_int_eq(notify_render("welcome", f, APP, &t, err,
	    sizeof(err)), XERR_UNPROCESSABLE);
	ck_assert_ptr_nonnull(strstr(err, "welcome"));
	ck_assert_int_eq(notify_render(NULL, f, APP, &t, err, sizeof(err)),
	    XERR_UNPROCESSABLE);
	ck_assert_int_eq(notify_template_known("welcome"), 0);
	ck_assert_int_eq(notify_template_known(NULL), 0);
	ck_assert_int_eq(notify_template_known("trial_ending"), 1);
	ck_assert_int_eq(notify_template_known("phone_provisioned"), 1);
	ck_assert_int_eq(notify_template_known("phone_released"), 1);
	json_object_put(f);
}
END_TEST

/* APP_URL with or without a trailing slash gives the same links. */
START_TEST(render_app_url)
{
	struct notify_text	 t;
	struct json_object	*f = payload("phone_released",
	    "{\"phone_number\":\"+15550000000\"}");
	char			 err[256];

	ck_assert_int_eq(notify_render("phone_released", f,
	    "https://x.test", &t, err, sizeof(err)), XERR_OK);
	ck_assert_ptr_nonnull(strstr(t.body, "\r\nhttps://x.test/billing\r\n"));
	ck_assert_ptr_nonnull(strstr(t.body, "\r\nhttps://x.test\r\n"));
	notify_text_clear(&t);
	ck_assert_int_eq(notify_render("phone_released", f,
	    "https://x.test///", &t, err, sizeof(err)), XERR_OK);
	ck_assert_ptr_nonnull(strstr(t.body, "\r\nhttps://x.test/billing\r\n"));
	notify_text_clear(&t);
	json_object_put(f);
}
END_TEST

/* ---- dates ------------------------------------------------------------ */

static const struct {
	long long	 t;
	const char	*human;
	const char	*rfc5322;
} dates[] = {
	{ 0, "1 January 1970", "Thu, 01 Jan 1970 00:00:00 +0000" },
	{ T_20261124, "24 November 2026", "Tue, 24 Nov 2026 00:00:00 +0000" },
	{ 1795549994, "24 November 2026", "Tue, 24 Nov 2026 19:53:14 +0000" },
	{ T_20261205, "5 December 2026", "Sat, 05 Dec 2026 23:59:59 +0000" },
	{ 1709208000, "29 February 2024", "Thu, 29 Feb 2024 12:00:00 +0000" },
	{ 253402300799LL, "31 December 9999", "Fri, 31 Dec 9999 23:59:59 +0000" },
};

START_TEST(date_formats)
{
	char	 out[NOTIFY_DATE_SIZE];
	size_t	 i = (size_t)_i;

	ck_assert_int_eq(notify_date(dates[i].t, out, sizeof(out)), XERR_OK);
	ck_assert_str_eq(out, dates[i].human);
	ck_assert_int_eq(notify_rfc5322_date(dates[i].t, out, sizeof(out)),
	    XERR_OK);
	ck_assert_str_eq(out, dates[i].rfc5322);
}
END_TEST

START_TEST(date_bounds)
{
	char	 out[NOTIFY_DATE_SIZE], tiny[8];

	ck_assert_int_eq(notify_date(-1, out, sizeof(out)), XERR_BADREQ);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(notify_date(253402300800LL, out, sizeof(out)),
	    XERR_BADREQ);
	ck_assert_int_eq(notify_rfc5322_date(-1, out, sizeof(out)),
	    XERR_BADREQ);
	ck_assert_int_eq(notify_date(T_20261124, tiny, sizeof(tiny)),
	    XERR_BADREQ);
	ck_assert_str_eq(tiny, "");
	ck_assert_int_eq(notify_rfc5322_date(T_20261124, tiny, sizeof(tiny)),
	    XERR_BADREQ);
}
END_TEST

/* ---- headers ---------------------------------------------------------- */

START_TEST(message_id_deterministic)
{
	char	 a[NOTIFY_MSGID_SIZE], b[NOTIFY_MSGID_SIZE];

	notify_message_id("notify:trial_ending:evt_123", a);
	ck_assert_str_eq(a, "<5d1976a74665fab8b8c1e83396c2fd4d681dc4f8b4a88107"
	    "dafef761e9ae5064@xswarm-billing>");
	notify_message_id("notify:trial_ending:evt_123", b);
	ck_assert_str_eq(a, b);
	notify_message_id("notify:trial_ending:evt_124", b);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strlen(a) + 1, NOTIFY_MSGID_SIZE);
}
END_TEST

START_TEST(header_ascii)
{
	struct buf	*b = buf_new(4096);

	ck_assert_int_eq(notify_header(b, "Subject", "Plain $40.00"), XERR_OK);
	ck_assert_str_eq(buf_data(b), "Subject: Plain $40.00\r\n");
	buf_reset(b);
	ck_assert_int_eq(notify_header(b, "Subject", "a\r\nBcc: x@y"),
	    XERR_BADREQ);
	ck_assert_int_eq(notify_header(b, "Subject", "a\nb"), XERR_BADREQ);
	ck_assert_int_eq(notify_header(b, "Subject", "bad \xff"), XERR_BADREQ);
	buf_free(b);
}
END_TEST

START_TEST(header_encoded)
{
	struct buf	*b = buf_new(4096);

	ck_assert_int_eq(notify_header(b, "Subject", "We couldn\xe2\x80\x99t "
	    "process your payment of $40.00"), XERR_OK);
	ck_assert_str_eq(buf_data(b), "Subject: "
	    "=?utf-8?B?V2UgY291bGRu4oCZdCBwcm9jZXNzIHlvdXIgcGF5bWVudCBvZiAk?="
	    "\r\n =?utf-8?B?NDAuMDA=?=\r\n");
	buf_free(b);
}
END_TEST

/*
 * A long subject of three-byte characters: every line within 76
 * characters, every word whole characters, and the words decode back to
 * the subject.
 */
START_TEST(header_encoded_long)
{
	struct buf	*b = buf_new(8192);
	char		 subject[400], back[400];
	const char	*line, *eol, *w, *q;
	unsigned char	*bin;
	size_t		 i, n = 0, binlen, words = 0, nback = 0;

	for (i = 0; i < 80; i++) {	/* "€" and an 'x', 80 times */
		memcpy(subject + n, "\xe2\x82\xac" "x", 4);
		n += 4;
	}
	subject[n] = '\0';
	ck_assert_int_eq(notify_header(b, "Subject", subject), XERR_OK);
	back[0] = '\0';
	for (line = buf_data(b); *line != '\0'; line = eol + 2) {
		eol = strstr(line, "\r\n");
		ck_assert_ptr_nonnull(eol);
		ck_assert_uint_le((size_t)(eol - line), 76);
		if (line != buf_data(b))
			ck_assert_int_eq(line[0], ' ');	/* folded */
		ck_assert_ptr_nonnull(w = strstr(line, "=?utf-8?B?"));
		w += 10;
		ck_assert_ptr_nonnull(q = strstr(w, "?="));
		ck_assert_ptr_eq(q + 2, eol);
		ck_assert_int_eq(crypto_b64_decode(w, (size_t)(q - w), 0,
		    &bin, &binlen), XERR_OK);
		/* Whole characters: a word never starts mid-character. */
		ck_assert_int_ne(bin[0] & 0xc0, 0x80);
		ck_assert_uint_lt(nback + binlen, sizeof(back));
		memcpy(back + nback, bin, binlen);
		nback += binlen;
		back[nback] = '\0';
		free(bin);
		words++;
	}
	ck_assert_uint_gt(words, 5);
	ck_assert_str_eq(back, subject);
	buf_free(b);
}
END_TEST

/* ---- the whole message ------------------------------------------------- */

START_TEST(message_whole)
{
	struct buf		*b = buf_new(65536);
	struct notify_mail	 m;
	char			 id[NOTIFY_MSGID_SIZE];
	const char		*body = "Hello,\r\n\r\n.a line with a dot\r\n";

	notify_message_id("notify:x:evt_1", id);
	m.from = "xSwarm Billing <billing@xswarm.test>";
	m.to = "user@example.test";
	m.subject = "Your xSwarm trial ends on 24 November 2026";
	m.body = body;
	m.message_id = id;
	m.date = 1795549994;
	ck_assert_int_eq(notify_message(&m, b), XERR_OK);
	check_crlf(buf_data(b));
	ck_assert_str_eq(buf_data(b),
	    "Date: Tue, 24 Nov 2026 19:53:14 +0000\r\n"
	    "From: xSwarm Billing <billing@xswarm.test>\r\n"
	    "To: user@example.test\r\n"
	    "Subject: Your xSwarm trial ends on 24 November 2026\r\n"
	    "Message-ID: <ade442dfaa8057e4825ad356758af2d20056de744c661b5a"
	    "efea4b6a4a7bf54f@xswarm-billing>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n"
	    "Hello,\r\n\r\n.a line with a dot\r\n");
	buf_free(b);
}
END_TEST

START_TEST(message_from_encoded)
{
	struct buf		*b = buf_new(65536);
	struct notify_mail	 m;
	char			 id[NOTIFY_MSGID_SIZE];

	notify_message_id("k", id);
	m.from = "\"xSwarm Facturaci\xc3\xb3n\" <billing@xswarm.test>";
	m.to = "user@example.test";
	m.subject = "s";
	m.body = "b\r\n";
	m.message_id = id;
	m.date = 0;
	ck_assert_int_eq(notify_message(&m, b), XERR_OK);
	/* "xSwarm Facturación" in base64, then the address as it was. */
	ck_assert_ptr_nonnull(strstr(buf_data(b), "From: "
	    "=?utf-8?B?eFN3YXJtIEZhY3R1cmFjacOzbg==?=\r\n"
	    " <billing@xswarm.test>\r\nTo: "));
	buf_free(b);
}
END_TEST

START_TEST(message_refused)
{
	struct buf		*b = buf_new(65536);
	struct notify_mail	 m;
	char			 id[NOTIFY_MSGID_SIZE];

	notify_message_id("k", id);
	m.from = "billing@xswarm.test";
	m.to = "user@example.test";
	m.subject = "s";
	m.body = "b\r\n";
	m.message_id = id;
	m.date = 0;
	ck_assert_int_eq(notify_message(&m, b), XERR_OK);
	m.to = "user@example.test\r\nBcc: x@y.test";
	ck_assert_int_eq(notify_message(&m, b), XERR_BADREQ);
	m.to = "not an address";
	ck_assert_int_eq(notify_message(&m, b), XERR_BADREQ);
	m.to = "user@example.test";
	m.body = "no CRLF at the end";
	ck_assert_int_eq(notify_message(&m, b), XERR_BADREQ);
	m.body = "b\r\n";
	m.subject = "two\r\nlines";
	ck_assert_int_eq(notify_message(&m, b), XERR_BADREQ);
	m.subject = "s";
	m.from = "Bad\r\nBcc: x@y <a@b.test>";
	ck_assert_int_eq(notify_message(&m, b), XERR_BADREQ);
	m.from = "Caf\xc3\xa9 without an address";
	ck_assert_int_eq(notify_message(&m, b), XERR_BADREQ);
	buf_free(b);
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite	*s = suite_create("notify");
	TCase	*tc;

	tc = tcase_create("render");
	tcase_add_loop_test(tc, render_each, 0,
	    (int)(sizeof(renders) / sizeof(renders[0])));
	tcase_add_loop_test(tc, render_missing_field, 0,
	    (int)(sizeof(renders) / sizeof(renders[0])));
	tcase_add_loop_test(tc, render_unfit_field, 0,
	    (int)(sizeof(unfit) / sizeof(unfit[0])));
	tcase_add_test(tc, render_text_limits);
	tcase_add_test(tc, render_unknown_template);
	tcase_add_test(tc, render_app_url);
	suite_add_tcase(s, tc);

	tc = tcase_create("dates");
	tcase_add_loop_test(tc, date_formats, 0,
	    (int)(sizeof(dates) / sizeof(dates[0])));
	tcase_add_test(tc, date_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_add_test(tc, message_id_deterministic);
	tcase_add_test(tc, header_ascii);
	tcase_add_test(tc, header_encoded);
	tcase_add_test(tc, header_encoded_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("message");
	tcase_add_test(tc, message_whole);
	tcase_add_test(tc, message_from_encoded);
	tcase_add_test(tc, message_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nfail;

	if (crypto_init() != XERR_OK)
		return 1;
	sr = srunner_create(notify_suite());
	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
