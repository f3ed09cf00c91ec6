#include <stdio.h>
#include <string.h>

#include "core/req.h"
#include "core/xerr.h"
#include "app/apierr.h"

#define APIERR_MESSAGE_MAX	512

void
apierr_find(const struct apierr *table, enum xerr err, struct apierr *out)
{
	const struct apierr	*e;

	memset(out, 0, sizeof(*out));
	out->err = err;
	for (e = table; e != NULL && e->err != XERR_OK; e++)
		if (e->err == err || e->err == APIERR_ANY) {
			*out = *e;
			out->err = err;
			break;
		}
	/*
	 * A database away, busy or read-only that the table does not name
	 * is worth trying again, as req_fail() says it; every other database
	 * error is not (500).
	 */
	if ((e == NULL || e->err == XERR_OK) && xerr_db_retry(err)) {
		out->status = xerr_status(XERR_UNAVAILABLE);
		out->code = "database_unavailable";
		out->extra = "Retry-After: 1\r\n";
	}
	if (out->status == 0)
		out->status = xerr_status(err);
	if (out->code == NULL)
		out->code = xerr_code(err);
}

void
apierr_message(const struct apierr *e, const char *detail, char *buf,
    size_t sz)
{
	const char	*at;

	if (detail == NULL)
		detail = "";
	if (e->message == NULL)
		snprintf(buf, sz, "%s", detail);
	else if ((at = strstr(e->message, "%s")) == NULL)
		snprintf(buf, sz, "%s", e->message);
	else
		snprintf(buf, sz, "%.*s%s%s", (int)(at - e->message),
		    e->message, detail, at + 2);
}

void
apierr_reply(struct req *r, const struct apierr *table, enum xerr err,
    const char *detail)
{
	struct apierr	 e;
	char		 msg[APIERR_MESSAGE_MAX];

	apierr_find(table, err, &e);
	apierr_message(&e, detail, msg, sizeof(msg));
	req_error_status(r, e.status, e.extra, e.code, "%s", msg);
}
