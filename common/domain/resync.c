#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/http.h"
#include "core/ids.h"
#include "core/jsonx.h"
#include "remote/stripe.h"
#include "domain/evstore.h"
#include "domain/resync.h"

/* The longest subscription id a resync takes (its event id has room). */
#define RESYNC_SUB_ID_MAX	200

enum xerr
resync_fetch(struct http *h, const struct cfg *cfg, const char *sub_id,
    struct json_object **sub, struct stripe_reply *rep, int *other)
{
	struct buf	*path;
	enum xerr	 rc;

	*sub = NULL;
	*other = 0;
	if (!ids_ext_ok(sub_id, RESYNC_SUB_ID_MAX))
		return XERR_BADREQ;
	if ((path = buf_new(512)) == NULL)
		return XERR_NOMEM;
	if ((rc = buf_puts(path, "/v1/subscriptions/")) != XERR_OK ||
	    (rc = http_path_escape(sub_id, path)) != XERR_OK) {
		rc = rc == XERR_NOMEM ? rc : XERR_BADREQ;
		goto out;
	}
	if ((rc = stripe_call(h, cfg, "GET", buf_data(path), NULL, NULL, sub,
	    rep)) != XERR_OK)
		goto out;
	if (!ids_ext_ok(jsonx_str(*sub, "id"), RESYNC_SUB_ID_MAX) ||
	    strcmp(jsonx_str(*sub, "id"), sub_id) != 0) {
		*other = 1;
		json_object_put(*sub);
		*sub = NULL;
		rc = XERR_UPSTREAM;
	}
out:
	buf_free(path);
	return rc;
}

/*
 * Wraps Stripe's subscription sub in the customer.subscription.updated
 * event Stripe would send now, id resync_<sub id>_<now>.  *out is its
 * text (caller frees); *id_out gets the id.
 */
static enum xerr
resync_event(const struct cfg *cfg, struct json_object *sub,
    const char *sub_id, char **out, char *id_out, size_t idsz)
{
	struct json_object	*ev, *data, *req, *v;
	const char		*s;
	int64_t			 now = (int64_t)time(NULL);
	int			 bad = 0;

	*out = NULL;
	snprintf(id_out, idsz, RESYNC_EVENT_PREFIX "%s_%lld", sub_id,
	    (long long)now);
	if ((ev = json_object_new_object()) == NULL)
		return XERR_NOMEM;
	/* Owned by ev from here, so one put frees all. */
	if ((data = json_object_new_object()) == NULL ||
	    json_object_object_add(ev, "data", data) != 0) {
		json_object_put(data);
		goto out;
	}
	if ((req = json_object_new_object()) == NULL ||
	    json_object_object_add(ev, "request", req) != 0) {
		json_object_put(req);
		goto out;
	}
	bad |= jsonx_add_str(ev, "id", id_out);
	bad |= jsonx_add_str(ev, "object", "event");
	bad |= jsonx_add_str(ev, "api_version", cfg->stripe_api_version);
	bad |= jsonx_add_int(ev, "created", now);
	bad |= jsonx_add_int(ev, "pending_webhooks", 0);
	bad |= jsonx_add_str(ev, "type", "customer.subscription.updated");
	bad |= jsonx_add_str(req, "id", NULL);
	bad |= jsonx_add_str(req, "idempotency_key", NULL);
	if ((v = json_object_new_boolean(jsonx_bool(sub, "livemode", 0))) ==
	    NULL || json_object_object_add(ev, "livemode", v) != 0) {
		json_object_put(v);
		goto out;
	}
	if (json_object_object_add(data, "object", json_object_get(sub)) !=
	    0) {
		json_object_put(sub);
		goto out;
	}
	if (bad == 0 && (s = json_object_to_json_string_ext(ev,
	    JSON_C_TO_STRING_PLAIN)) != NULL)
		*out = strdup(s);
out:
	json_object_put(ev);
	return *out != NULL ? XERR_OK : XERR_NOMEM;
}

enum xerr
resync_apply(struct db *db, const struct cfg *cfg, struct json_object *sub,
    const char *sub_id, char *evid, size_t evidsz, const char **outcome,
    char *errbuf, size_t errsz)
{
	char		*payload = NULL;
	enum xerr	 rc;

	*outcome = NULL;
	errbuf[0] = '\0';
	if ((rc = resync_event(cfg, sub, sub_id, &payload, evid, evidsz)))
		return rc;
	rc = evstore_apply(db, cfg, payload, strlen(payload), 0, outcome,
	    errbuf, errsz);
	free(payload);
	return rc;
}
