#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/http.h"
#include "loopback.h"
#include "core/jsonx.h"
#include "remote/twilio.h"

#define PN_A	"PN0123456789abcdef0123456789abcdef"
#define PN_B	"PNfedcba9876543210fedcba9876543210"

/* Parses s as JSON; the caller puts the result. */
static struct json_object *
json(const char *s)
{
	struct json_object	*o;

	ck_assert_int_eq(jsonx_parse(s, strlen(s), &o), XERR_OK);
	return o;
}

START_TEST(sids)
{
	ck_assert_int_eq(twilio_sid_valid(PN_A, "PN"), 1);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789ABCDEF0123456789ABCDEF",
	    "PN"), 1);
	ck_assert_int_eq(twilio_sid_valid(PN_A, "CA"), 0);
	ck_assert_int_eq(twilio_sid_valid("CA0123456789abcdef0123456789abcdef",
	    "CA"), 1);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789abcdef0123456789abcde",
	    "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid(PN_A "0", "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789abcdef0123456789abcdeg",
	    "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid("PN0123456789abcdef0123456789abc/..",
	    "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid("", "PN"), 0);
	ck_assert_int_eq(twilio_sid_valid(NULL, "PN"), 0);
}
END_TEST

START_TEST(e164)
{
	ck_assert_int_eq(twilio_e164_valid("+14155550100"), 1);
	ck_assert_int_eq(twilio_e164_valid("+18089255327"), 1);
	ck_assert_int_eq(twilio_e164_valid("+442071838750"), 1);
	ck_assert_int_eq(twilio_e164_valid("+1234567"), 1);
	ck_assert_int_eq(twilio_e164_valid("+123456789012345"), 1);
	ck_assert_int_eq(twilio_e164_valid("+1234567890123456"), 0);
	ck_assert_int_eq(twilio_e164_valid("+123456"), 0);
	ck_assert_int_eq(twilio_e164_valid("14155550100"), 0);
	ck_assert_int_eq(twilio_e164_valid("+04155550100"), 0);
	ck_assert_int_eq(twilio_e164_valid("+1 415 555 0100"), 0);
	ck_assert_int_eq(twilio_e164_valid("+1415555010x"), 0);
	ck_assert_int_eq(twilio_e164_valid("+"), 0);
	ck_assert_int_eq(twilio_e164_valid(""), 0);
	ck_assert_int_eq(twilio_e164_valid(NULL), 0);
}
END_TEST

START_TEST(error_twilio)
{
	static const char body[] = "{\"code\": 21422, \"message\": \"Phone"
	    "Number +14155550100 is not available\", \"more_info\": "
	    "\"https://www.twilio.com/docs/errors/21422\", \"status\": 400}";
	struct twilio_error	 e;

	twilio_error_parse(400, body, strlen(body), &e);
	ck_assert_int_eq(e.status, 400);
	ck_assert_int_eq(e.code, 21422);
	ck_assert_str_eq(e.message, "PhoneNumber +14155550100 is not "
	    "available");
	ck_assert_int_eq(twilio_no_number(&e), 1);
}
END_TEST

START_TEST(error_prism)
{
	static const char body[] = "{\"type\":\"https://stoplight.io/prism/"
	    "errors#UNPROCESSABLE_ENTITY\",\"title\":\"Invalid request\","
	    "\"status\":422,\"detail\":\"Your request is not valid\","
	    "\"validation\":[{\"location\":[\"path\",\"sid\"],\"severity\":"
	    "\"Error\",\"code\":\"pattern\",\"message\":\"Request path "
	    "parameter sid must match pattern\"}]}";
	struct twilio_error	 e;

	twilio_error_parse(422, body, strlen(body), &e);
	ck_assert_int_eq(e.status, 422);
	ck_assert_int_eq(e.code, 0);
	ck_assert_str_eq(e.message, "Invalid request: Request path parameter "
	    "sid must match pattern");
	ck_assert_int_eq(twilio_no_number(&e), 0);
}
END_TEST

START_TEST(error_bare)
{
	struct twilio_error	 e;

	twilio_error_parse(503, "<html>down</html>", 17, &e);
	ck_assert_str_eq(e.message, "Twilio answered HTTP 503");
	twilio_error_parse(500, NULL, 0, &e);
	ck_assert_str_eq(e.message, "Twilio answered HTTP 500");
	twilio_error_parse(404, "[1]", 3, &e);
	ck_assert_str_eq(e.message, "Twilio answered HTTP 404");
	ck_assert_int_eq(twilio_no_number(&e), 1);
	/* Control bytes from upstream never reach a log line raw. */
	twilio_error_parse(400, "{\"message\":\"a\\nb\\u0001c\"}", 25, &e);
	ck_assert_str_eq(e.message, "a b c");
}
END_TEST

START_TEST(number_parse)
{
	struct json_object	*o;
	struct twilio_number	 n;

	o = json("{\"sid\":\"" PN_A "\",\"phone_number\":\"+14155550100\","
	    "\"friendly_name\":\"xsb:u1\"}");
	ck_assert_int_eq(twilio_number_parse(o, &n), 0);
	ck_assert_str_eq(n.sid, PN_A);
	ck_assert_str_eq(n.phone_number, "+14155550100");
	ck_assert_str_eq(n.friendly_name, "xsb:u1");
	json_object_put(o);

	/* What Prism's dynamic mode makes of the raw spec: refused. */
	o = json("{\"sid\":\"" PN_A "\",\"phone_number\":null}");
	ck_assert_int_eq(twilio_number_parse(o, &n), -1);
	ck_assert_str_eq(n.sid, "");
	json_object_put(o);
	o = json("{\"sid\":\"" PN_A "\",\"phone_number\":\"amet magna\"}");
	ck_assert_int_eq(twilio_number_parse(o, &n), -1);
	json_object_put(o);
	o = json("{\"sid\":\"PNxyz\",\"phone_number\":\"+14155550100\"}");
	ck_assert_int_eq(twilio_number_parse(o, &n), -1);
	json_object_put(o);
	ck_assert_int_eq(twilio_number_parse(NULL, &n), -1);
}
END_TEST

START_TEST(number_pick)
{
	struct json_object	*o;
	struct twilio_number	 n;

	/* The filter is not trusted: only exact names count, valid ones. */
	o = json("{\"incoming_phone_numbers\":["
	    "{\"sid\":\"PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	    "\"phone_number\":\"+18089255327\","
	    "\"friendly_name\":\"(808) 925-5327\"},"
	    "{\"sid\":\"" PN_A "\",\"phone_number\":\"+14155550100\","
	    "\"friendly_name\":\"xsb:u10\"},"
	    "{\"sid\":\"bad\",\"phone_number\":\"+14155550101\","
	    "\"friendly_name\":\"xsb:u1\"},"
	    "{\"sid\":\"" PN_B "\",\"phone_number\":\"+14155550102\","
	    "\"friendly_name\":\"xsb:u1\"},"
	    "{\"sid\":\"" PN_A "\",\"phone_number\":\"+14155550103\","
	    "\"friendly_name\":\"xsb:u1\"}]}");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u1", &n), 2);
	ck_assert_str_eq(n.sid, PN_B);
	ck_assert_str_eq(n.phone_number, "+14155550102");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u2", &n), 0);
	ck_assert_str_eq(n.sid, "");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u", &n), 0);
	json_object_put(o);

	o = json("{\"incoming_phone_numbers\":{}}");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u1", &n), 0);
	json_object_put(o);
	o = json("{}");
	ck_assert_uint_eq(twilio_number_pick(o, "xsb:u1", &n), 0);
	json_object_put(o);
}
END_TEST

/*
 * The list pages and URL updates of the admin API, against a server that
 * answers one request per connection: the first page holds 1000 numbers
 * and names the next, the second is short.  What each request asked is
 * written to a pipe, one line each.
 */
#define ACCT	"AC0123456789abcdef0123456789abcdef"
#define NEXT	"/2010-04-01/Accounts/" ACCT \
	"/IncomingPhoneNumbers.json?PageSize=1000&Page=1&PageToken=PAx2"

enum pg_mode { PG_PAGES, PG_FOREIGN_NEXT };

static pid_t	 pg_pid = -1;
static int	 pg_port, pg_log[2];

/* Serves one request on c as mode says; logs "METHOD target body". */
static void
pg_serve(int c, enum pg_mode mode)
{
	struct buf	*b = buf_new(1 << 20);
	char		 in[8192], head[256], method[16], target[1024];
	const char	*body, *cl;
	ssize_t		 n;
	size_t		 have = 0, i, count;
	int		 len;

	/* Headers, then Content-Length bytes of body. */
	while ((n = read(c, in + have, sizeof(in) - 1 - have)) > 0) {
		have += (size_t)n;
		in[have] = '\0';
		if ((body = strstr(in, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(in, "\r\nContent-Length:");
		if (cl == NULL || cl > body || have - (size_t)(body + 4 - in) >=
		    strtoul(cl + 17, NULL, 10) || have == sizeof(in) - 1)
			break;
	}
	in[have] = '\0';
	if (sscanf(in, "%15s %1023s", method, target) != 2)
		_exit(1);
	body = strstr(in, "\r\n\r\n");
	dprintf(pg_log[1], "%s %s %s\n", method, target, body ? body + 4 : "");
	count = strstr(target, "PageToken=PAx2") != NULL ? 3 : 1000;
	buf_puts(b, "{\"incoming_phone_numbers\":[");
	for (i = 0; i < count; i++)
		buf_printf(b, "%s{\"sid\":\"PN%032zx\",\"phone_number\":"
		    "\"+1415555%04zu\",\"friendly_name\":\"xsb:u%zu\"}",
		    i ? "," : "", i + (count == 3 ? 5000 : 0), i % 10000, i);
	if (strcmp(method, "POST") == 0)
		buf_reset(b), buf_puts(b, "{\"sid\":\"" PN_A "\"");
	else if (count == 3)
		buf_puts(b, "],\"next_page_uri\":\"https://x.test/junk\"");
	else if (mode == PG_FOREIGN_NEXT)
		buf_puts(b, "],\"next_page_uri\":\"/2010-04-01/Accounts/"
		    "ACother/IncomingPhoneNumbers.json?PageToken=PAx2\"");
	else
		buf_puts(b, "],\"next_page_uri\":\"" NEXT "\"");
	buf_puts(b, "}");
	len = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close"
	    "\r\n\r\n", buf_len(b));
	if (write(c, head, (size_t)len) < 0 ||
	    write(c, buf_data(b), buf_len(b)) < 0)
		_exit(1);
	buf_free(b);
}

static void
pg_start(enum pg_mode mode)
{
	int			 s, c;

	ck_assert_int_eq(pipe(pg_log), 0);
	s = loopback_listen(&pg_port);
	ck_assert_int_ge(pg_pid = fork(), 0);
	if (pg_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		close(pg_log[0]);
		for (;;) {
			if ((c = accept(s, NULL, NULL)) < 0)
				_exit(1);
			pg_serve(c, mode);
			close(c);
		}
	}
	close(s);
	close(pg_log[1]);
}

/* Stops the server; returns what it logged (caller frees). */
static char *
pg_stop(void)
{
	char	*log = calloc(1, 65536);
	ssize_t	 n;
	size_t	 have = 0;

	kill(pg_pid, SIGKILL);
	waitpid(pg_pid, NULL, 0);
	pg_pid = -1;
	while ((n = read(pg_log[0], log + have, 65535 - have)) > 0)
		have += (size_t)n;
	close(pg_log[0]);
	return log;
}

/* A configuration pointing Twilio at the test server. */
static struct cfg *
pg_cfg(char *base, size_t basesz)
{
	static char	 acct[] = ACCT, token[] = "secret";
	struct cfg	*cfg = calloc(1, sizeof(*cfg));

	snprintf(base, basesz, "http://127.0.0.1:%d", pg_port);
	cfg->twilio_api_base = base;
	cfg->twilio_account_sid = acct;
	cfg->twilio_auth_token = token;
	cfg->http_connect_timeout_ms = 1000;
	cfg->http_timeout_ms = 5000;
	cfg->http_max_response = 1 << 20;
	return cfg;
}

START_TEST(pages_followed)
{
	struct twilio_error	 err;
	struct json_object	*page = NULL;
	struct http		*h = NULL;
	struct cfg		*cfg;
	const char		*next = NULL;
	char			 base[64], saved[512], *log;

	pg_start(PG_PAGES);
	cfg = pg_cfg(base, sizeof(base));
	ck_assert_int_eq(http_open(cfg, &h), XERR_OK);
	ck_assert_int_eq(twilio_number_page(h, cfg, NULL, &page, &next, &err),
	    XERR_OK);
	ck_assert_uint_eq(json_object_array_length(json_object_object_get(page,
	    "incoming_phone_numbers")), 1000);
	ck_assert_ptr_nonnull(next);
	ck_assert_str_eq(next, NEXT);
	snprintf(saved, sizeof(saved), "%s", next);
	json_object_put(page);
	/* A short page is the last, whatever its next_page_uri says. */
	ck_assert_int_eq(twilio_number_page(h, cfg, saved, &page, &next, &err),
	    XERR_OK);
	ck_assert_uint_eq(json_object_array_length(json_object_object_get(page,
	    "incoming_phone_numbers")), 3);
	ck_assert_ptr_null(next);
	json_object_put(page);
	/* Never a page outside our list. */
	ck_assert_int_eq(twilio_number_page(h, cfg, "https://evil.test/"
	    "2010-04-01/Accounts/" ACCT "/IncomingPhoneNumbers.json?a=b",
	    &page, &next, &err), XERR_BADREQ);
	ck_assert_int_eq(twilio_number_page(h, cfg, "/2010-04-01/Accounts/"
	    ACCT "/Calls.json?a=b", &page, &next, &err), XERR_BADREQ);
	ck_assert_int_eq(twilio_number_page(h, cfg, "/2010-04-01/Accounts/"
	    ACCT "/IncomingPhoneNumbers.json?a=b c", &page, &next, &err),
	    XERR_BADREQ);
	ck_assert_ptr_null(page);
	/* The URLs of one number. */
	ck_assert_int_eq(twilio_number_set_urls(h, cfg, PN_A,
	    "https://b.test/phone/voice/u1", "https://b.test/phone/sms/u1",
	    "https://b.test/phone/status/u1", &err), XERR_OK);
	ck_assert_int_eq(twilio_number_set_urls(h, cfg, "PNbad",
	    "https://b.test/v", "https://b.test/s", "https://b.test/c", &err),
	    XERR_BADREQ);
	http_close(h);
	free(cfg);
	log = pg_stop();
	ck_assert_msg(strstr(log, "GET /2010-04-01/Accounts/" ACCT
	    "/IncomingPhoneNumbers.json?PageSize=1000 ") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "GET " NEXT " ") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "POST /2010-04-01/Accounts/" ACCT
	    "/IncomingPhoneNumbers/" PN_A ".json VoiceUrl=https%3A%2F%2Fb.test"
	    "%2Fphone%2Fvoice%2Fu1&VoiceMethod=POST&SmsUrl=https%3A%2F%2F"
	    "b.test%2Fphone%2Fsms%2Fu1&SmsMethod=POST&StatusCallback=https%3A"
	    "%2F%2Fb.test%2Fphone%2Fstatus%2Fu1&StatusCallbackMethod=POST\n")
	    != NULL, "%s", log);
	ck_assert_ptr_null(strstr(log, "PNbad"));
	free(log);
}
END_TEST

/* A full page whose next page is not ours: the list cannot be trusted. */
START_TEST(pages_foreign_next)
{
	struct twilio_error	 err;
	struct json_object	*page = NULL;
	struct http		*h = NULL;
	struct cfg		*cfg;
	const char		*next = NULL;
	char			 base[64];

	pg_start(PG_FOREIGN_NEXT);
	cfg = pg_cfg(base, sizeof(base));
	ck_assert_int_eq(http_open(cfg, &h), XERR_OK);
	ck_assert_int_eq(twilio_number_page(h, cfg, NULL, &page, &next, &err),
	    XERR_UPSTREAM);
	ck_assert_ptr_null(page);
	ck_assert_ptr_null(next);
	ck_assert_ptr_nonnull(strstr(err.message, "next_page_uri"));
	http_close(h);
	free(cfg);
	free(pg_stop());
}
END_TEST

static Suite *
twilio_suite(void)
{
	Suite	*s = suite_create("twilio");
	TCase	*tc;

	tc = tcase_create("check");
	tcase_add_test(tc, sids);
	tcase_add_test(tc, e164);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, error_twilio);
	tcase_add_test(tc, error_prism);
	tcase_add_test(tc, error_bare);
	suite_add_tcase(s, tc);

	tc = tcase_create("numbers");
	tcase_add_test(tc, number_parse);
	tcase_add_test(tc, number_pick);
	suite_add_tcase(s, tc);

	tc = tcase_create("pages");
	tcase_add_test(tc, pages_followed);
	tcase_add_test(tc, pages_foreign_next);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(twilio_suite());
	int	 nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
