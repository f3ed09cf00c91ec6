/*
 * xsb-billing: the billing API (/api/billing/..., /api/usage) behind nginx.
 */
#include <stddef.h>

#include "billing.h"
#include "req.h"
#include "route.h"
#include "server.h"

/* GET /healthz is answered by server.c before routing. */
static const struct route billing_routes[] = {
	{ "GET", "/api/billing/usage", 0, billing_usage },
	{ "GET", "/api/billing/history", 0, billing_history },
	{ "POST", "/api/billing/estimate", 0, billing_estimate },
	{ "GET", "/api/billing/upcoming", 0, billing_upcoming },
	{ "POST", "/api/billing/upgrade", 0, billing_upgrade },
	{ "POST", "/api/billing/downgrade", 0, billing_downgrade },
	{ "POST", "/api/billing/cancel", 0, billing_cancel },
	{ "POST", "/api/billing/resume", 0, billing_resume },
	{ "POST", "/api/usage", 0, billing_report_usage },
};

/* Routes a request: 404 for an unknown path, 405 for a wrong method. */
static void
billing_handle(struct req *r)
{
	route_dispatch(r, billing_routes,
	    sizeof(billing_routes) / sizeof(billing_routes[0]));
}

int
main(int argc, char *argv[])
{
	return server_main("billing", argc, argv, billing_handle);
}
