#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "core/ids.h"
#include "core/kv.h"
#include "core/req.h"
#include "app/page.h"

/* Returns 0 when name is given at most once, else fills code and msg. */
static int
page_once(const struct kv *query, const char *name, const char *bad,
    const char **code, char *msg, size_t msgsz)
{
	if (kv_count_name(query, name) <= 1)
		return 0;
	*code = bad;
	snprintf(msg, msgsz, "%s given more than once", name);
	return -1;
}

enum xerr
page_parse(const struct kv *query, const struct page_spec *spec,
    struct page *out, const char **code, char *msg, size_t msgsz)
{
	const char	*s;

	memset(out, 0, sizeof(*out));
	out->limit = spec->limit_def;
	out->id = spec->id_def;
	out->user = "";
	*code = NULL;
	if (msgsz > 0)
		msg[0] = '\0';
	if (query == NULL)
		return XERR_OK;
	if (page_once(query, "limit", "bad_limit", code, msg, msgsz) != 0)
		return XERR_BADREQ;
	if ((s = kv_get(query, "limit")) != NULL && kv_uint(s,
	    PAGE_LIMIT_DIGITS, 1, 1, spec->limit_max, &out->limit) != 0) {
		*code = "bad_limit";
		snprintf(msg, msgsz, "limit must be a whole number from 1 to "
		    "%lld", spec->limit_max);
		return XERR_BADREQ;
	}
	if (spec->kind == PAGE_NO_CURSOR)
		return XERR_OK;
	if (page_once(query, spec->cursor, spec->cursor_code, code, msg,
	    msgsz) != 0)
		return XERR_BADREQ;
	if ((s = kv_get(query, spec->cursor)) == NULL)
		return XERR_OK;
	if ((spec->kind == PAGE_ID && kv_uint(s, PAGE_ID_DIGITS, 1, 0,
	    spec->id_max, &out->id) != 0) ||
	    (spec->kind == PAGE_USER && *s != '\0' && !ids_user_ok(s))) {
		*code = spec->cursor_code;
		snprintf(msg, msgsz, "%s", spec->cursor_help);
		return XERR_BADREQ;
	}
	if (spec->kind == PAGE_USER)
		out->user = s;
	return XERR_OK;
}

int
page_or_reply(struct req *r, const struct page_spec *spec, struct page *out)
{
	const char	*code;
	char		 msg[256];

	if (page_parse(r->query, spec, out, &code, msg, sizeof(msg)) ==
	    XERR_OK)
		return 0;
	req_error(r, XERR_BADREQ, code, "%s", msg);
	return -1;
}

/* Milliseconds of the monotonic clock. */
static int64_t
page_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
page_clock_start(int64_t *t0)
{
	*t0 = page_now_ms();
}

int
page_time_for_call(const struct req *r, int64_t t0, size_t done)
{
	int64_t	 left;

	left = PAGE_UPSTREAM_MS - PAGE_MARGIN_MS - (page_now_ms() - t0);
	return done == 0 || left >= (int64_t)r->cfg->http_interactive_timeout_ms;
}

int64_t
page_clock_ms(int64_t t0)
{
	return page_now_ms() - t0;
}
