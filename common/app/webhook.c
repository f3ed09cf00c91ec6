#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/req.h"
#include "remote/stripe_sig.h"
#include "domain/events.h"
#include "domain/evstore.h"
#include "app/apierr.h"
#include "app/webhook.h"

/*
 * What a delivery that was not stored answers Stripe: 400 for an event
 * we cannot read (Stripe retries, then shows the reason), 503 with
 * Retry-After while the database cannot commit (retried by Stripe),
 * else 500.
 */
static const struct apierr webhook_errs[] = {
	{ XERR_BADREQ, 400, "malformed_event", NULL, NULL },
	{ XERR_DB_GONE, 503, "database_unavailable",
	    "event not stored; try again", "Retry-After: 1\r\n" },
	{ XERR_DEADLOCK, 503, "database_unavailable",
	    "event not stored; try again", "Retry-After: 1\r\n" },
	{ XERR_UNAVAILABLE, 503, "database_unavailable",	/* read-only */
	    "event not stored; try again", "Retry-After: 1\r\n" },
	{ APIERR_ANY, 500, "processing_failed", "event not applied: %s",
	    NULL },
	{ XERR_OK, 0, NULL, NULL, NULL }
};

enum xerr
webhook_start(const struct cfg *cfg, unsigned long *threads)
{
	enum xerr	 rc;

	if ((rc = evstore_start(cfg)) != XERR_OK)
		return rc;
	*threads = cfg->webhook_threads;
	log_info("%lu request threads, %lu committers, batches of up to %lu",
	    cfg->webhook_threads, cfg->webhook_committers,
	    cfg->webhook_batch_max);
	return XERR_OK;
}

/* Answers the outcome of storing a delivery: rc, and status or err. */
static void
webhook_reply(struct req *r, enum xerr rc, const char *status,
    const char *err)
{
	struct json_object	*o;

	if (rc != XERR_OK) {
		apierr_reply(r, webhook_errs, rc, err);
		return;
	}
	if ((o = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "received",
	    json_object_new_boolean(1)) || jsonx_add_str(o, "status", status)) {
		json_object_put(o);
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	req_reply_json(r, 200, o);
	json_object_put(o);
}

void
webhook_handle(struct req *r)
{
	const struct cfg	*cfg = r->cfg;
	struct events_ev	 ev;
	const char		*why = NULL, *status = NULL;
	char			 err[256] = "";
	enum xerr		 rc;

	rc = stripe_sig_verify(req_header(r, "Stripe-Signature"), r->body,
	    r->bodylen, cfg->stripe_webhook_secrets,
	    cfg->stripe_webhook_nsecrets,
	    (long long)cfg->stripe_webhook_tolerance, (long long)time(NULL),
	    &why);
	if (rc != XERR_OK) {
		metrics_inc(METRICS_SIGNATURE_FAILURES);
		req_error(r, XERR_BADREQ, "signature_invalid",
		    "Stripe-Signature verification failed: %s", why);
		return;
	}
	if ((rc = events_parse(&ev, cfg, r->body, r->bodylen, err,
	    sizeof(err))) == XERR_OK)
		rc = evstore_deliver(&ev, r->db, r->id, &status, err,
		    sizeof(err));
	events_free(&ev);
	webhook_reply(r, rc, status, err);
}
