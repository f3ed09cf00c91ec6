/*
 * xsb-webhook: receives Stripe's webhook deliveries (POST /stripe/webhook).
 */
#include <stddef.h>

#include "core/req.h"
#include "core/route.h"
#include "core/server.h"
#include "store/stmt.h"
#include "app/webhook.h"

static const struct route webhook_routes[] = {
	{ "POST", "/stripe/webhook", 0, webhook_handle },
};

static void
webhook_route(struct req *r)
{
	route_dispatch(r, webhook_routes,
	    sizeof(webhook_routes) / sizeof(webhook_routes[0]));
}

int
main(int argc, char *argv[])
{
	return server_main_threads("webhook", argc, argv, stmt_table(),
	    webhook_route,
	    webhook_start);
}
