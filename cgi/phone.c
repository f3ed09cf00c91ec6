/*
 * xsb-phone: a user's Twilio number (/api/phone/...), Twilio's call
 * status callbacks (/phone/status/<user id>) and its webhooks for calls
 * and texts to the number (/phone/voice/, /phone/sms/) behind nginx.
 */
#include <stddef.h>

#include "core/req.h"
#include "core/route.h"
#include "core/server.h"
#include "store/stmt.h"
#include "app/phone_api.h"

static const struct route phone_routes[] = {
	{ "GET", "/api/phone/search", 0, phone_api_search },
	{ "POST", "/api/phone/provision", 0, phone_api_provision },
	{ "DELETE", "/api/phone/release", 0, phone_api_release },
	{ "GET", "/api/phone/details", 0, phone_api_details },
	{ "PUT", "/api/phone/preference", 0, phone_api_preference },
	{ "POST", "/phone/status/", 1, phone_api_status_callback },
	{ "POST", "/phone/voice/", 1, phone_api_voice },
	{ "POST", "/phone/sms/", 1, phone_api_sms },
};

/* Dispatches r by method and path (404, 405 for others). */
static void
phone_route(struct req *r)
{
	route_dispatch(r, phone_routes,
	    sizeof(phone_routes) / sizeof(phone_routes[0]));
}

/* Runs the FastCGI program (see core/server.h). */
int
main(int argc, char *argv[])
{
	return server_main_threads("phone", argc, argv, stmt_table(),
	    phone_route, phone_api_start);
}
