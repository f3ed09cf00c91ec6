/*
 * metrics_http: the handler of GET /metrics: the series of the database
 * (store/metrics_db.h) and of the shared counters (core/metrics.h).
 */
#ifndef METRICS_HTTP_H
#define METRICS_HTTP_H

struct req;

/*
 * GET /metrics (xsb-billing; nginx lets only its allow-list in).  When
 * METRICS_TOKEN is set, 401 (WWW-Authenticate: Bearer) unless the request
 * carries "Authorization: Bearer <METRICS_TOKEN>".  Answers 200
 * text/plain with every series, xsb_db_up 0 and the shared counters when
 * the database is away; 500 when the text does not fit in memory.
 */
void		 metrics_http_handle(struct req *r);

#endif
