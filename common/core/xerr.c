#include "core/xerr.h"

static const struct {
	int		 status;
	const char	*code;
} xerrs[XERR__MAX] = {
	[XERR_OK] = { 200, "ok" },
	[XERR_BADREQ] = { 400, "bad_request" },
	[XERR_UNAUTH] = { 401, "unauthorized" },
	[XERR_FORBIDDEN] = { 403, "forbidden" },
	[XERR_NOTFOUND] = { 404, "not_found" },
	[XERR_METHOD] = { 405, "method_not_allowed" },
	[XERR_CONFLICT] = { 409, "conflict" },
	[XERR_TOOMANY] = { 429, "too_many_requests" },
	[XERR_TOOBIG] = { 413, "payload_too_large" },
	[XERR_MEDIATYPE] = { 415, "unsupported_media_type" },
	[XERR_UNPROCESSABLE] = { 422, "unprocessable" },
	[XERR_UPSTREAM] = { 502, "upstream_error" },
	[XERR_UNAVAILABLE] = { 503, "unavailable" },
	[XERR_NOMEM] = { 500, "out_of_memory" },
	[XERR_DB] = { 500, "database_error" },
	[XERR_DB_GONE] = { 503, "database_unavailable" },
	[XERR_DUP] = { 409, "duplicate" },
	[XERR_DEADLOCK] = { 503, "retry" },
	[XERR_CONFIG] = { 500, "config_error" },
	[XERR_INTERNAL] = { 500, "internal_error" },
};

/* Returns the HTTP status for rc; unknown codes are internal errors. */
int
xerr_status(enum xerr rc)
{
	if ((unsigned)rc >= XERR__MAX)
		return 500;
	return xerrs[rc].status;
}

/* Returns the stable code string for rc; never NULL. */
const char *
xerr_code(enum xerr rc)
{
	if ((unsigned)rc >= XERR__MAX)
		return "internal_error";
	return xerrs[rc].code;
}

int
xerr_db_retry(enum xerr rc)
{
	return rc == XERR_DB_GONE || rc == XERR_DEADLOCK ||
	    rc == XERR_UNAVAILABLE;
}
