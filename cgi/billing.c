/*
 * xsb-billing: the billing API (/api/billing/..., /api/usage), the admin
 * API (/api/admin/...) and /metrics behind nginx.
 */
#include <stddef.h>

#include "core/req.h"
#include "core/route.h"
#include "core/server.h"
#include "store/stmt.h"
#include "app/admin.h"
#include "app/billing.h"
#include "app/metrics_http.h"

/* GET /healthz is answered by core/server.c before routing. */
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
	{ "POST", "/api/admin/users", 0, admin_user_create },
	{ "GET", "/api/admin/users/", 1, admin_user_get },
	{ "POST", "/api/admin/users/", 1, admin_user_action },
	{ "GET", "/api/admin/events", 0, admin_events },
	{ "POST", "/api/admin/events/", 1, admin_event_action },
	{ "GET", "/api/admin/jobs", 0, admin_jobs },
	{ "POST", "/api/admin/jobs/", 1, admin_job_action },
	{ "POST", "/api/admin/subscriptions/", 1, admin_subscription_action },
	{ "GET", "/api/admin/phone/orphans", 0, admin_phone_orphans },
	{ "GET", "/api/admin/phone/numbers", 0, admin_phone_numbers },
	{ "POST", "/api/admin/phone/repoint", 0, admin_phone_repoint },
	{ "GET", "/api/admin/audit", 0, admin_audit_list },
	{ "GET", "/metrics", 0, metrics_http_handle },
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
	return server_main_threads("billing", argc, argv, stmt_table(),
	    billing_handle, billing_start);
}
