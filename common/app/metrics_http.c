#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/metrics.h"
#include "core/req.h"
#include "store/metrics_db.h"
#include "app/metrics_http.h"

#define METRICS_HTTP_TEXT_MAX	(1024 * 1024)
#define METRICS_HTTP_CTYPE	"text/plain; version=0.0.4; charset=utf-8"

/*
 * Answers 401 and returns -1 unless r carries "Authorization: Bearer
 * <METRICS_TOKEN>" (compared in constant time) when that is set;
 * returns 0 otherwise.
 */
static int
metrics_http_token_or_reply(struct req *r)
{
	const char	*h;

	if (r->cfg->metrics_token[0] == '\0')
		return 0;
	h = req_header(r, "Authorization");
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    crypto_ct_streq(h + 7, r->cfg->metrics_token))
		return 0;
	req_error_status(r, 401, "WWW-Authenticate: Bearer realm=\"metrics\"\r\n",
	    h == NULL ? "missing_token" : "invalid_token",
	    "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>");
	return -1;
}

/*
 * GET /metrics: 200 with every family, the database's left out (and
 * xsb_db_up 0) when it is away; 500 when the text outgrows its cap.
 */
void
metrics_http_handle(struct req *r)
{
	struct buf	*out = NULL;
	struct timespec	 t0, t1;
	uint64_t	 usec;
	enum xerr	 rc;
	int		 db_up;

	if (metrics_http_token_or_reply(r) != 0)
		return;
	if ((out = buf_new(METRICS_HTTP_TEXT_MAX)) == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = metrics_db_render(r->db, out);
	db_up = rc == XERR_OK;
	if (rc == XERR_TOOBIG || rc == XERR_NOMEM)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	usec = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
	    (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000);
	if ((rc = metrics_family(out, "xsb_db_up", "gauge", "1 when MariaDB "
	    "answered this scrape's queries.")) ||
	    (rc = metrics_sample_u(out, "xsb_db_up", NULL, 0,
	    (uint64_t)db_up)) ||
	    (rc = metrics_family(out, "xsb_metrics_db_seconds", "gauge",
	    "Time this scrape spent in MariaDB.")) ||
	    (rc = metrics_sample_s(out, "xsb_metrics_db_seconds", NULL, 0,
	    usec)) ||
	    (rc = metrics_render_counters(out)))
		goto fail;
	req_reply(r, 200, METRICS_HTTP_CTYPE, NULL, buf_data(out), buf_len(out));
	buf_free(out);
	return;
fail:
	buf_free(out);
	req_error(r, XERR_INTERNAL, NULL, "metrics do not fit in %d bytes",
	    METRICS_HTTP_TEXT_MAX);
}
