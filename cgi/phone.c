/*
 * xsb-phone: the phone API (/api/phone/..., /api/usage) behind nginx.
 */
#include <stddef.h>

#include "req.h"
#include "route.h"
#include "server.h"

static const struct route phone_routes[] = {
	{ "GET", "/healthz", 0, NULL },	/* answered by server.c */
};

static void
phone_handle(struct req *r)
{
	route_dispatch(r, phone_routes, 0);
}

int
main(int argc, char *argv[])
{
	(void)phone_routes;
	return server_main("phone", argc, argv, phone_handle);
}
