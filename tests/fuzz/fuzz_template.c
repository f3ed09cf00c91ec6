/*
 * fuzz_template: notify_render() of every template with arbitrary fields,
 * and the message put together from what it renders.
 *
 * Input: line 1 names the template (any text; the dictionary holds the
 * real names); the rest is the job's payload, JSON (not an object: the
 * input is skipped).  Invariants:
 *  - notify_render() returns XERR_OK, or XERR_UNPROCESSABLE (unknown
 *    template, a field missing, of the wrong type, too long, not UTF-8,
 *    holding a control character) with a message and *out cleared;
 *    XERR_INTERNAL never (every template of the table parses);
 *  - a rendering's subject is one line without control characters; its
 *    body is CRLF lines ending in CRLF, with no bare CR or LF; rendering
 *    the same fields again gives the same text;
 *  - notify_message() of the rendering succeeds (the From, To and
 *    Message-ID are fixed and valid), and its text has no bare CR or LF.
 */
#include <json-c/json.h>

#include "fuzz.h"

#include "core/buf.h"
#include "domain/notify.h"

#define APP	"https://xswarm.ai"

/* 1 when s has CRLF line ends only and ends with one (or is empty and may). */
static int
crlf_only(const char *s, int must_end)
{
	size_t	 i, n = strlen(s);

	for (i = 0; i < n; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 0;
		if (s[i] == '\r' && s[i + 1] != '\n')
			return 0;
	}
	return !must_end || (n >= 2 && strcmp(s + n - 2, "\r\n") == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_text	 t, u;
	struct notify_mail	 m;
	struct json_object	*f;
	struct buf		*out;
	const uint8_t		*rest;
	char			*tmpl, *json, err[256], msgid[NOTIFY_MSGID_SIZE];
	size_t			 linelen, restlen, i;
	enum xerr		 rc;

	fuzz_split_line(data, size, &linelen, &rest, &restlen);
	tmpl = fuzz_memdup(data, linelen);
	json = fuzz_memdup(rest, restlen);
	f = json_tokener_parse(json);
	if (f == NULL || !json_object_is_type(f, json_type_object))
		goto out;
	memset(&t, 0x55, sizeof(t));
	err[0] = '\0';
	rc = notify_render(tmpl, f, APP, &t, err, sizeof(err));
	FUZZ_ASSERT(rc == XERR_OK || rc == XERR_UNPROCESSABLE ||
	    rc == XERR_NOMEM);
	if (rc != XERR_OK) {
		FUZZ_ASSERT(t.subject == NULL && t.body == NULL);
		FUZZ_ASSERT(rc == XERR_NOMEM || err[0] != '\0');
		goto out;
	}
	FUZZ_ASSERT(notify_template_known(tmpl));
	for (i = 0; t.subject[i] != '\0'; i++)
		FUZZ_ASSERT((unsigned char)t.subject[i] >= 0x20 &&
		    t.subject[i] != 0x7f);
	FUZZ_ASSERT(crlf_only(t.body, 1));
	FUZZ_ASSERT(notify_render(tmpl, f, APP, &u, err, sizeof(err)) ==
	    XERR_OK);
	FUZZ_ASSERT(strcmp(t.subject, u.subject) == 0 &&
	    strcmp(t.body, u.body) == 0);
	notify_text_clear(&u);

	if ((out = buf_new(NOTIFY_MESSAGE_MAX)) == NULL)
		abort();
	notify_message_id("fuzz", msgid);
	memset(&m, 0, sizeof(m));
	m.from = "xSwarm Billing <billing@xswarm.ai>";
	m.to = "user@example.test";
	m.subject = t.subject;
	m.body = t.body;
	m.message_id = msgid;
	m.date = 1796083200;
	rc = notify_message(&m, out);
	FUZZ_ASSERT(rc == XERR_OK || rc == XERR_TOOBIG || rc == XERR_NOMEM);
	if (rc == XERR_OK) {
		FUZZ_ASSERT(buf_len(out) > 0 &&
		    memchr(buf_data(out), '\0', buf_len(out)) == NULL);
		FUZZ_ASSERT(crlf_only(buf_data(out), 1));
	}
	buf_free(out);
	notify_text_clear(&t);
out:
	json_object_put(f);
	free(json);
	free(tmpl);
	return 0;
}
