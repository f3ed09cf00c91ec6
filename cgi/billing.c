/*
 * xsb-billing: the billing API (/api/billing/..., /api/usage) behind nginx.
 */
#include <stddef.h>

#include "req.h"
#include "route.h"
#include "server.h"

static const struct route billing_routes[] = {
	{ "GET", "/healthz", 0, NULL },	/* answered by server.c */
};

static void
billing_handle(struct req *r)
{
	route_dispatch(r, billing_routes, 0);
}

int
main(int argc, char *argv[])
{
	(void)billing_routes;
	return server_main("billing", argc, argv, billing_handle);
}
