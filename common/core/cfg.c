#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/cfg.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/stripe_version.h"

enum cfg_kind {
	CFG_STR,	/* any non-empty string */
	CFG_SECRET,	/* string, never printed */
	CFG_URL,	/* http:// or https://, no trailing slash */
	CFG_UINT,	/* unsigned within [min, max] */
	CFG_BOOL,	/* 0/1/true/false/yes/no */
	CFG_MODE,	/* sandbox|production */
	CFG_LEVEL,	/* debug|info|warn|error */
	CFG_SECRETS,	/* comma-separated list of secrets */
	CFG_PUBKEYS,	/* comma-separated base64url Ed25519 public keys */
	CFG_STRIPE_VER,	/* one of Stripe's API versions */
	CFG_PRICES,	/* comma-separated Stripe price ids, the first sold */
};

enum cfg_need {
	CFG_OPTIONAL,	/* default (may be empty) applies */
	CFG_REQUIRED,	/* must be set in every mode */
	CFG_PROD,	/* must be set in production; default in sandbox */
};

/*
 * The table of settings.  Defaults are the sandbox's; CFG_PROD entries must
 * be given explicitly in production.  Add a setting here and in struct cfg,
 * nowhere else.
 */
static const struct cfg_opt {
	const char	*name;
	enum cfg_kind	 kind;
	enum cfg_need	 need;
	const char	*def;
	unsigned long	 min, max;
	size_t		 off;
	const char	*doc;
} cfg_opts[] = {
#define O(f) offsetof(struct cfg, f)
	{ "XSB_MODE", CFG_MODE, CFG_OPTIONAL, "sandbox", 0, 0, O(sandbox),
	  "`sandbox` (local peers, demo data allowed) or `production`; unset "
	  "is the sandbox, any other value (empty too) stops the program" },
	{ "LOG_LEVEL", CFG_LEVEL, CFG_OPTIONAL, "info", 0, 0, O(log_level),
	  "debug, info, warn or error" },
	{ "DB_HOST", CFG_STR, CFG_OPTIONAL, "localhost", 0, 0, O(db_host),
	  "MariaDB host (ignored when DB_SOCKET is set)" },
	{ "DB_PORT", CFG_UINT, CFG_OPTIONAL, "3306", 1, 65535, O(db_port),
	  "MariaDB TCP port" },
	{ "DB_SOCKET", CFG_STR, CFG_OPTIONAL, "", 0, 0, O(db_socket),
	  "MariaDB unix socket path; used instead of host/port when set" },
	{ "DB_NAME", CFG_STR, CFG_OPTIONAL, "xswarm_billing", 0, 0, O(db_name),
	  "database (schema) name" },
	{ "DB_USER", CFG_STR, CFG_OPTIONAL, "xsb", 0, 0, O(db_user),
	  "database user" },
	{ "DB_PASSWORD", CFG_SECRET, CFG_PROD, "", 0, 0, O(db_password),
	  "database password" },
	{ "FCGI_PROCESSES", CFG_UINT, CFG_OPTIONAL, "1", 1, 256,
	  O(fcgi_processes), "FastCGI worker processes per program when -n is "
	  "not given (the stack and the units give xsb-webhook and xsb-phone "
	  "-n WEBHOOK_PROCESSES and PHONE_PROCESSES, 1 each)" },
	{ "FCGI_THREADS", CFG_UINT, CFG_OPTIONAL, "64", 1, 256,
	  O(fcgi_threads),
	  "request threads per xsb-billing process (one FastCGI connection and "
	  "one database connection each)" },
	{ "BILLING_READ_BATCH_MAX", CFG_UINT, CFG_OPTIONAL, "16", 1, 16,
	  O(billing_read_batch_max),
	  "most GET /api/billing/usage requests of an xsb-billing process "
	  "read together by its reader thread, in two round trips "
	  "(1: each request reads alone, no reader)" },
	{ "MAX_BODY_BYTES", CFG_UINT, CFG_OPTIONAL, "1048576", 1024,
	  64UL << 20, O(max_body), "request body cap; larger bodies get 413" },
	{ "HTTP_CONNECT_TIMEOUT_MS", CFG_UINT, CFG_OPTIONAL, "3000", 100,
	  60000, O(http_connect_timeout_ms), "outbound connect timeout" },
	{ "HTTP_TIMEOUT_MS", CFG_UINT, CFG_OPTIONAL, "15000", 100, 300000,
	  O(http_timeout_ms), "outbound total timeout per call (the worker)" },
	{ "HTTP_INTERACTIVE_TIMEOUT_MS", CFG_UINT, CFG_OPTIONAL, "8000", 100,
	  300000, O(http_interactive_timeout_ms),
	  "outbound total timeout per call made while an API request waits "
	  "(billing and phone APIs; keep their sum under nginx's 30 s)" },
	{ "HTTP_MAX_RESPONSE_BYTES", CFG_UINT, CFG_OPTIONAL, "4194304", 1024,
	  64UL << 20, O(http_max_response), "cap on an upstream reply body" },
	{ "STRIPE_API_BASE", CFG_URL, CFG_OPTIONAL, "https://api.stripe.com",
	  0, 0, O(stripe_api_base), "Stripe REST base URL" },
	{ "STRIPE_SECRET_KEY", CFG_SECRET, CFG_PROD, "sk_test_sandbox", 0, 0,
	  O(stripe_secret_key), "Stripe secret key (Bearer)" },
	{ "STRIPE_API_VERSION", CFG_STRIPE_VER, CFG_OPTIONAL,
	  STRIPE_VERSION_PINNED, 0, 0, O(stripe_api_version),
	  "Stripe-Version header: a real Stripe API version (the default is "
	  "the one the code is written and tested for)" },
	{ "STRIPE_WEBHOOK_SECRETS", CFG_SECRETS, CFG_REQUIRED, NULL, 0, 0,
	  O(stripe_webhook_secrets),
	  "webhook endpoint secrets, comma-separated (two during rotation)" },
	{ "WEBHOOK_THREADS", CFG_UINT, CFG_OPTIONAL, "64", 1, 256,
	  O(webhook_threads),
	  "request threads per xsb-webhook process (one FastCGI connection "
	  "each)" },
	{ "WEBHOOK_COMMITTERS", CFG_UINT, CFG_OPTIONAL, "1", 1, 16,
	  O(webhook_committers),
	  "database connections per xsb-webhook process that store events, "
	  "several deliveries per transaction" },
	{ "WEBHOOK_BATCH_MAX", CFG_UINT, CFG_OPTIONAL, "32", 1, 256,
	  O(webhook_batch_max),
	  "most events stored in one transaction (1: one each)" },
	{ "STRIPE_WEBHOOK_TOLERANCE", CFG_UINT, CFG_OPTIONAL, "300", 1, 86400,
	  O(stripe_webhook_tolerance),
	  "max age (and future skew) of a Stripe-Signature timestamp, seconds" },
	{ "STRIPE_PRICE_AI_SECRETARY", CFG_PRICES, CFG_OPTIONAL,
	  "price_ai_secretary", 0, 0, O(stripe_price_secretary),
	  "Stripe price id of ai_secretary, the one sold; after it, "
	  "comma-separated, up to 7 older prices still read as ai_secretary "
	  "(a tier moved to a new price keeps its subscribers on the old)" },
	{ "STRIPE_PRICE_AI_PROJECT_MANAGER", CFG_PRICES, CFG_OPTIONAL,
	  "price_ai_project_manager", 0, 0, O(stripe_price_project_manager),
	  "Stripe price ids of ai_project_manager, as "
	  "`STRIPE_PRICE_AI_SECRETARY`" },
	{ "STRIPE_PRICE_AI_CTO", CFG_PRICES, CFG_OPTIONAL, "price_ai_cto", 0, 0,
	  O(stripe_price_cto), "Stripe price ids of ai_cto, as "
	  "`STRIPE_PRICE_AI_SECRETARY`" },
	{ "CHECKOUT_SUCCESS_URL", CFG_URL, CFG_OPTIONAL,
	  "https://xswarm.ai/billing/success", 0, 0, O(checkout_success_url),
	  "where Stripe Checkout returns after payment" },
	{ "CHECKOUT_CANCEL_URL", CFG_URL, CFG_OPTIONAL,
	  "https://xswarm.ai/billing", 0, 0, O(checkout_cancel_url),
	  "where Stripe Checkout returns on cancel" },
	{ "TWILIO_API_BASE", CFG_URL, CFG_OPTIONAL, "https://api.twilio.com",
	  0, 0, O(twilio_api_base), "Twilio REST base URL" },
	{ "TWILIO_ACCOUNT_SID", CFG_STR, CFG_PROD,
	  "AC00000000000000000000000000000000", 0, 0, O(twilio_account_sid),
	  "Twilio account SID (AC + 32 lowercase hex)" },
	{ "TWILIO_AUTH_TOKEN", CFG_SECRET, CFG_REQUIRED, NULL, 0, 0,
	  O(twilio_auth_token), "Twilio auth token (API auth and callback signatures)" },
	{ "ASSISTANT_VOICE_URL", CFG_STR, CFG_OPTIONAL, "", 0, 0,
	  O(assistant_voice_url), "where a call to a user's number goes on "
	  "(TwiML <Redirect>, user id appended); empty: a spoken notice" },
	{ "ASSISTANT_SMS_URL", CFG_STR, CFG_OPTIONAL, "", 0, 0,
	  O(assistant_sms_url), "where a text to a user's number goes on "
	  "(TwiML <Redirect>, user id appended); empty: a texted notice" },
	{ "PHONE_GRACE_DAYS", CFG_UINT, CFG_OPTIONAL, "7", 0, 90,
	  O(phone_grace_days), "days a number is held after the subscription "
	  "lapses (unpaid, canceled) before it is released" },
	{ "PHONE_NUMBERS_PER_30_DAYS", CFG_UINT, CFG_OPTIONAL, "3", 0, 1000,
	  O(phone_numbers_per_30_days), "numbers a user may be given in 30 "
	  "days (each is a Twilio purchase, its month paid whether held or "
	  "released); a provisioning past it is 429 (0: no cap)" },
	{ "PHONE_THREADS", CFG_UINT, CFG_OPTIONAL, "64", 1, 256,
	  O(phone_threads),
	  "request threads per xsb-phone process (one FastCGI connection "
	  "each; a database connection for those that have served the phone "
	  "API)" },
	{ "PHONE_COMMITTERS", CFG_UINT, CFG_OPTIONAL, "1", 1, 16,
	  O(phone_committers),
	  "database connections per xsb-phone process that store Twilio's "
	  "call status callbacks and texts, several per transaction" },
	{ "PHONE_BATCH_MAX", CFG_UINT, CFG_OPTIONAL, "32", 1, 256,
	  O(phone_batch_max),
	  "most call status callbacks and texts stored in one transaction "
	  "(1: one each)" },
	{ "PUBLIC_BASE_URL", CFG_URL, CFG_REQUIRED, NULL, 0, 0,
	  O(public_base_url),
	  "public https base URL Twilio calls back (signature base)" },
	{ "APP_URL", CFG_URL, CFG_OPTIONAL, "https://xswarm.ai", 0, 0,
	  O(app_url), "xSwarm app URL used in e-mail links" },
	{ "JWT_SECRET", CFG_SECRET, CFG_REQUIRED, NULL, 0, 0, O(jwt_secret),
	  "HS256 key of user tokens only, shared with the xSwarm app (at least "
	  "32 bytes)" },
	{ "JWT_ISSUER", CFG_STR, CFG_OPTIONAL, "xswarm-api", 0, 0,
	  O(jwt_issuer), "required `iss` of every token" },
	{ "JWT_AUDIENCE", CFG_STR, CFG_OPTIONAL, "xswarm-users", 0, 0,
	  O(jwt_audience), "required `aud` of user tokens" },
	{ "WORKER_POLL_MS", CFG_UINT, CFG_OPTIONAL, "500", 10, 60000,
	  O(worker_poll_ms), "worker idle poll interval (under a third of "
	  "JOB_LEASE_SECONDS)" },
	{ "WORKER_CONCURRENCY", CFG_UINT, CFG_OPTIONAL, "8", 1, 64,
	  O(worker_concurrency),
	  "jobs one xsb-worker runs at once (threads, a database connection "
	  "each); it claims and records them several to a transaction" },
	{ "JOB_MAX_ATTEMPTS", CFG_UINT, CFG_OPTIONAL, "16", 1, 100,
	  O(job_max_attempts), "attempts before a job is dead (16 with the "
	  "default backoff: retries for 2.5 to 5 hours, past a passing "
	  "outage)" },
	{ "JOB_LEASE_SECONDS", CFG_UINT, CFG_OPTIONAL, "60", 5, 3600,
	  O(job_lease_seconds), "lease of a claimed job, renewed while it "
	  "runs (up to 10 times); expired leases are reclaimed" },
	{ "JOB_RETENTION_DAYS", CFG_UINT, CFG_OPTIONAL, "90", 0, 3650,
	  O(job_retention_days), "days a done job is kept before the daily "
	  "purge deletes it (0: every job is kept; docs/OPERATIONS.md)" },
	{ "STRIPE_EVENT_RETENTION_DAYS", CFG_UINT, CFG_OPTIONAL, "400", 0,
	  36500, O(event_retention_days), "days a processed, ignored or stale "
	  "Stripe event is kept before the daily purge deletes it (0: every "
	  "event is kept; else at least 35; failed and unmatched ones are "
	  "always kept; docs/OPERATIONS.md)" },
	{ "JOB_BACKOFF_BASE_SECONDS", CFG_UINT, CFG_OPTIONAL, "2", 0, 3600,
	  O(job_backoff_base_seconds), "first retry delay (doubles, with jitter)" },
	{ "JOB_BACKOFF_MAX_SECONDS", CFG_UINT, CFG_OPTIONAL, "3600", 1, 86400,
	  O(job_backoff_max_seconds), "cap on a retry delay" },
	{ "METRICS_ROLLUP_SECONDS", CFG_UINT, CFG_OPTIONAL, "60", 0, 3600,
	  O(metrics_rollup_seconds), "how often xsb-worker rolls stored Stripe "
	  "events into the counts /metrics reads (0: this worker does not)" },
	{ "SMTP_URL", CFG_STR, CFG_OPTIONAL, "smtp://127.0.0.1:2525", 0, 0,
	  O(smtp_url), "SMTP relay, smtp:// or smtps://, without a user or "
	  "password (SMTP_USER, SMTP_PASSWORD)" },
	{ "SMTP_USER", CFG_STR, CFG_OPTIONAL, "", 0, 0, O(smtp_user),
	  "SMTP user (empty: no AUTH)" },
	{ "SMTP_PASSWORD", CFG_SECRET, CFG_OPTIONAL, "", 0, 0,
	  O(smtp_password), "SMTP password" },
	{ "SMTP_FROM", CFG_STR, CFG_OPTIONAL, "xSwarm Billing <billing@xswarm.ai>",
	  0, 0, O(smtp_from), "From header of notifications" },
	{ "OPERATOR_EMAIL", CFG_STR, CFG_PROD, "operator@xswarm.ai", 0, 0,
	  O(operator_email), "address of the operators' notifications "
	  "(disputes opened and closed, usage caps reached, a user with two "
	  "live paid subscriptions)" },
	{ "SMTP_STARTTLS", CFG_BOOL, CFG_OPTIONAL, "0", 0, 1, O(smtp_starttls),
	  "require STARTTLS on smtp:// relays" },
	{ "METRICS_FILE", CFG_STR, CFG_OPTIONAL, "/run/xswarm-billing/metrics",
	  0, 0, O(metrics_file), "file of the counters every program of the "
	  "host shares for `/metrics` (the sandbox: `var/run/metrics`)" },
	{ "ADMIN_JWT_PUBLIC_KEYS", CFG_PUBKEYS, CFG_OPTIONAL, "", 0, 0,
	  O(admin_jwt_keys), "Ed25519 public keys (base64url of 32 bytes, "
	  "comma-separated: two during a rotation) that sign admin tokens "
	  "(EdDSA); empty: no admin token is accepted" },
	{ "SERVICE_JWT_PUBLIC_KEYS", CFG_PUBKEYS, CFG_OPTIONAL, "", 0, 0,
	  O(service_jwt_keys), "Ed25519 public keys that sign service tokens "
	  "(usage reports), as `ADMIN_JWT_PUBLIC_KEYS`; empty: none accepted" },
	{ "ADMIN_JWT_AUDIENCE", CFG_STR, CFG_OPTIONAL, "xswarm-billing-admin",
	  0, 0, O(admin_jwt_audience), "required `aud` of admin tokens" },
	{ "SERVICE_JWT_AUDIENCE", CFG_STR, CFG_OPTIONAL,
	  "xswarm-billing-service", 0, 0, O(service_jwt_audience),
	  "required `aud` of service tokens" },
	{ "ADMIN_JWT_MAX_LIFETIME", CFG_UINT, CFG_OPTIONAL, "3600", 60, 86400,
	  O(admin_jwt_max_lifetime), "longest admin token accepted, seconds "
	  "(`exp` - `iat`)" },
	{ "SERVICE_JWT_MAX_LIFETIME", CFG_UINT, CFG_OPTIONAL, "86400", 60,
	  2592000, O(service_jwt_max_lifetime), "longest service token "
	  "accepted, seconds" },
	{ "USER_JWT_MAX_LIFETIME", CFG_UINT, CFG_OPTIONAL, "86400", 60,
	  2592000, O(user_jwt_max_lifetime), "longest user token (HS256) "
	  "accepted, seconds" },
	/* Least privilege: metrics token, usage caps, per-user rates. */
	{ "METRICS_TOKEN", CFG_SECRET, CFG_OPTIONAL, "", 0, 0, O(metrics_token),
	  "bearer token `GET /metrics` requires (at least 32 characters; "
	  "empty: none, the address allow-list alone guards it)" },
	{ "USAGE_CAP_VOICE_SECONDS", CFG_UINT, CFG_OPTIONAL, "720000", 0,
	  100000000, O(usage_cap_voice_seconds), "most voice seconds of one "
	  "user per billing period, each call counted by its started minutes "
	  "as the bill counts it (61 s: 120); a `POST /api/usage` beyond is "
	  "refused (422 usage_cap_exceeded) and the operators told once (0: "
	  "no cap)" },
	{ "USAGE_CAP_SMS", CFG_UINT, CFG_OPTIONAL, "20000", 0, 100000000,
	  O(usage_cap_sms), "most SMS of one user per billing period, as "
	  "`USAGE_CAP_VOICE_SECONDS` (0: no cap)" },
	{ "RATE_LIMIT_BILLING_PER_MINUTE", CFG_UINT, CFG_OPTIONAL, "120", 0,
	  100000, O(rate_limit_billing), "requests of one user to "
	  "`/api/billing/*` per minute on one node (bursts up to as many); "
	  "beyond: 429 with Retry-After (0: no limit)" },
	{ "RATE_LIMIT_PHONE_PER_MINUTE", CFG_UINT, CFG_OPTIONAL, "60", 0,
	  100000, O(rate_limit_phone), "requests of one user to "
	  "`/api/phone/*` per minute on one node, as "
	  "`RATE_LIMIT_BILLING_PER_MINUTE`" },
#undef O
};

#define CFG_NOPTS (sizeof(cfg_opts) / sizeof(cfg_opts[0]))
#define CFG_FIELD(cfg, o) ((char *)(cfg) + (o)->off)

/* Values read from XSB_ENV_FILE, consulted after the environment. */
struct cfg_file {
	char	*names[CFG_NOPTS];
	char	*vals[CFG_NOPTS];
};

static const struct cfg_opt *
cfg_find(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < CFG_NOPTS; i++)
		if (strlen(cfg_opts[i].name) == len &&
		    strncmp(cfg_opts[i].name, name, len) == 0)
			return &cfg_opts[i];
	return NULL;
}

static void
cfg_file_free(struct cfg_file *f)
{
	size_t	 i;

	for (i = 0; i < CFG_NOPTS; i++) {
		if (f->vals[i] != NULL)
			sodium_memzero(f->vals[i], strlen(f->vals[i]));
		free(f->vals[i]);
		f->vals[i] = NULL;
	}
}

/*
 * Reads KEY=value lines (blank lines and # comments allowed, optional
 * single or double quotes around the value, `export ` prefix tolerated).
 * Unknown keys are ignored so one env file can serve scripts too.
 */
static enum xerr
cfg_file_read(const char *path, struct cfg_file *f, char *errbuf,
    size_t errsz)
{
	FILE	*fp;
	char	 line[4096], *k, *v, *e;
	size_t	 lineno = 0, klen, vlen;
	const struct cfg_opt *o;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(errbuf, errsz, "XSB_ENV_FILE: cannot open %s: %s",
		    path, strerror(errno));
		return XERR_CONFIG;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		for (k = line; isspace((unsigned char)*k); k++)
			continue;
		if (*k == '\0' || *k == '#')
			continue;
		if (strncmp(k, "export ", 7) == 0)
			k += 7;
		if ((v = strchr(k, '=')) == NULL) {
			snprintf(errbuf, errsz, "XSB_ENV_FILE: %s:%zu: "
			    "expected KEY=value", path, lineno);
			fclose(fp);
			return XERR_CONFIG;
		}
		klen = (size_t)(v - k);
		v++;
		vlen = strlen(v);
		if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[vlen - 1] == v[0]) {
			v++;
			vlen -= 2;
		}
		if ((o = cfg_find(k, klen)) == NULL)
			continue;
		e = strndup(v, vlen);
		if (e == NULL) {
			fclose(fp);
			return XERR_NOMEM;
		}
		free(f->vals[o - cfg_opts]);
		f->vals[o - cfg_opts] = e;
	}
	sodium_memzero(line, sizeof(line));
	fclose(fp);
	return XERR_OK;
}

static int
cfg_bool(const char *s, int *out)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes"))
		*out = 1;
	else if (!strcmp(s, "0") || !strcasecmp(s, "false") ||
	    !strcasecmp(s, "no"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* Replaces the string *field with a copy of v. */
static enum xerr
cfg_set_str(void *field, const char *v)
{
	char	*copy;

	if ((copy = strdup(v)) == NULL)
		return XERR_NOMEM;
	free(*(char **)field);
	*(char **)field = copy;
	return XERR_OK;
}

/*
 * Sets the keys at field from v, comma-separated base64url (no padding)
 * Ed25519 public keys; empty is none.  XERR_CONFIG naming o otherwise.
 */
static enum xerr
cfg_set_keys(void *field, const struct cfg_opt *o, const char *v,
    char *errbuf, size_t errsz)
{
	struct cfg_keys	*k = field;
	const char	*s = v, *e;
	unsigned char	*raw = NULL;
	size_t		 len, rawlen;
	enum xerr	 rc;

	k->n = 0;
	while (*s != '\0') {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		for (e = s; *e != '\0' && *e != ',' && *e != ' '; e++)
			;
		len = (size_t)(e - s);
		if (k->n == CFG_MAX_JWT_KEYS) {
			snprintf(errbuf, errsz, "%s: at most %d keys", o->name,
			    CFG_MAX_JWT_KEYS);
			return XERR_CONFIG;
		}
		if ((rc = crypto_b64_decode(s, len, 1, &raw, &rawlen)) ==
		    XERR_NOMEM)
			return rc;
		if (rc != XERR_OK || rawlen != CFG_ED25519_PK_LEN) {
			free(raw);
			snprintf(errbuf, errsz, "%s: expected base64url of "
			    "32-byte Ed25519 public keys, comma-separated",
			    o->name);
			return XERR_CONFIG;
		}
		memcpy(k->key[k->n++], raw, rawlen);
		free(raw);
		raw = NULL;
		s = e;
	}
	return XERR_OK;
}

/* Frees the prices of p (none left). */
static void
cfg_prices_clear(struct cfg_prices *p)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		free(p->id[i]);
	p->n = 0;
}

/*
 * Sets the prices at field from v: Stripe price ids, comma-separated
 * (spaces around each allowed), the first the one sold.  XERR_CONFIG
 * naming o for an empty or implausible id, or more than CFG_MAX_PRICES.
 */
static enum xerr
cfg_set_prices(void *field, const struct cfg_opt *o, const char *v,
    char *errbuf, size_t errsz)
{
	struct cfg_prices *p = field;
	const char	*s = v, *e, *b;
	char		*id;

	cfg_prices_clear(p);
	for (;;) {
		while (*s == ' ')
			s++;
		for (e = s; *e != '\0' && *e != ','; e++)
			;
		for (b = e; b > s && b[-1] == ' '; b--)
			;
		if (p->n == CFG_MAX_PRICES) {
			snprintf(errbuf, errsz, "%s: at most %d prices",
			    o->name, CFG_MAX_PRICES);
			return XERR_CONFIG;
		}
		if ((id = strndup(s, (size_t)(b - s))) == NULL)
			return XERR_NOMEM;
		if (!ids_ext_ok(id, 255)) {
			free(id);
			snprintf(errbuf, errsz, "%s: expected Stripe price "
			    "ids, comma-separated, not \"%.64s\"", o->name, v);
			return XERR_CONFIG;
		}
		p->id[p->n++] = id;
		if (*e == '\0')
			return XERR_OK;
		s = e + 1;
	}
}

/* Parses and stores one value; writes a message naming the variable on error. */
static enum xerr
cfg_set(struct cfg *cfg, const struct cfg_opt *o, const char *v,
    char *errbuf, size_t errsz)
{
	char		*end, *copy, *tok, *save;
	unsigned long	 n;
	size_t		 len;
	int		 b;
	char		**list;
	void		*field = CFG_FIELD(cfg, o);

	switch (o->kind) {
	case CFG_STRIPE_VER:
		if (!stripe_version_known(v)) {
			snprintf(errbuf, errsz, "%s: \"%.64s\" is not a Stripe "
			    "API version (known: %s to %s; this build speaks "
			    "%s)",
			    o->name, v, stripe_version_oldest(),
			    stripe_version_newest(), STRIPE_VERSION_PINNED);
			return XERR_CONFIG;
		}
		return cfg_set_str(field, v);
	case CFG_MODE:
		if (strcmp(v, "sandbox") && strcmp(v, "production"))
			goto bad;
		*(int *)field = strcmp(v, "sandbox") == 0;
		return XERR_OK;
	case CFG_LEVEL:
		if ((b = log_level_parse(v)) < 0)
			goto bad;
		*(int *)field = b;
		return XERR_OK;
	case CFG_BOOL:
		if (cfg_bool(v, &b))
			goto bad;
		*(int *)field = b;
		return XERR_OK;
	case CFG_UINT:
		errno = 0;
		if (!isdigit((unsigned char)v[0]))
			goto bad;
		n = strtoul(v, &end, 10);
		if (errno || *end != '\0' || n < o->min || n > o->max) {
			snprintf(errbuf, errsz, "%s: expected a whole number "
			    "from %lu to %lu", o->name, o->min, o->max);
			return XERR_CONFIG;
		}
		*(unsigned long *)field = n;
		return XERR_OK;
	case CFG_URL:
		len = strlen(v);
		if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) ||
		    len < 10 || v[len - 1] == '/' || strpbrk(v, " \t\"<>") ||
		    len > 512) {
			snprintf(errbuf, errsz, "%s: expected an http(s) URL "
			    "without trailing slash", o->name);
			return XERR_CONFIG;
		}
		/* FALLTHROUGH */
	case CFG_STR:
	case CFG_SECRET:
		return cfg_set_str(field, v);
	case CFG_SECRETS:
		list = (char **)field;
		if ((copy = strdup(v)) == NULL)
			return XERR_NOMEM;
		cfg->stripe_webhook_nsecrets = 0;
		for (tok = strtok_r(copy, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			while (isspace((unsigned char)*tok))
				tok++;
			len = strlen(tok);
			while (len > 0 && isspace((unsigned char)tok[len - 1]))
				tok[--len] = '\0';
			if (len == 0)
				continue;
			if (cfg->stripe_webhook_nsecrets ==
			    CFG_MAX_WEBHOOK_SECRETS) {
				snprintf(errbuf, errsz, "%s: at most %d secrets",
				    o->name, CFG_MAX_WEBHOOK_SECRETS);
				sodium_memzero(copy, strlen(v));
				free(copy);
				return XERR_CONFIG;
			}
			if ((list[cfg->stripe_webhook_nsecrets] =
			    strdup(tok)) == NULL) {
				free(copy);
				return XERR_NOMEM;
			}
			cfg->stripe_webhook_nsecrets++;
		}
		sodium_memzero(copy, strlen(v));
		free(copy);
		if (cfg->stripe_webhook_nsecrets == 0)
			goto bad;
		return XERR_OK;
	case CFG_PUBKEYS:
		return cfg_set_keys(field, o, v, errbuf, errsz);
	case CFG_PRICES:
		return cfg_set_prices(field, o, v, errbuf, errsz);
	}
bad:
	if (o->kind == CFG_SECRET || o->kind == CFG_SECRETS)
		snprintf(errbuf, errsz, "%s: invalid value (not shown)", o->name);
	else
		snprintf(errbuf, errsz, "%s: invalid value \"%.64s\"", o->name, v);
	return XERR_CONFIG;
}

/*
 * Returns 1 for an empty string or an http(s) URL of printable
 * characters without a quote, angle bracket or ampersand (it is written
 * into TwiML as it is).
 */
static int
cfg_url_or_empty(const char *v)
{
	size_t	 i;

	if (v[0] == '\0')
		return 1;
	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
		return 0;
	for (i = 0; v[i] != '\0'; i++)
		if (v[i] <= ' ' || v[i] > '~' || strchr("\"'<>&", v[i]))
			return 0;
	return i <= 512;
}

/* Returns 1 when url has a user (and password) before its host. */
static int
cfg_url_userinfo(const char *url)
{
	const char	*a, *end;

	if (url == NULL || (a = strstr(url, "://")) == NULL)
		return 0;
	a += 3;
	end = a + strcspn(a, "/?#");
	return memchr(a, '@', (size_t)(end - a)) != NULL;
}

/*
 * Checks that no Stripe price is named twice among the STRIPE_PRICE_*
 * settings: a price is one tier's, or the webhook would have to guess.
 * Every price is listed with its setting's name, then each pair compared.
 */
static enum xerr
cfg_check_prices(const struct cfg *cfg, char *errbuf, size_t errsz)
{
	struct {
		const char	*name, *id;
	}			 all[CFG_NOPTS * CFG_MAX_PRICES];
	const struct cfg_prices *p;
	size_t		 i, j, n = 0;

	for (i = 0; i < CFG_NOPTS; i++) {
		if (cfg_opts[i].kind != CFG_PRICES)
			continue;
		p = (const struct cfg_prices *)CFG_FIELD(cfg, &cfg_opts[i]);
		for (j = 0; j < p->n; j++) {
			all[n].name = cfg_opts[i].name;
			all[n++].id = p->id[j];
		}
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			if (strcmp(all[i].id, all[j].id) != 0)
				continue;
			if (all[i].name == all[j].name)
				snprintf(errbuf, errsz, "%s: price %.64s named "
				    "twice", all[i].name, all[i].id);
			else
				snprintf(errbuf, errsz, "%s and %s: price %.64s "
				    "named twice", all[i].name, all[j].name,
				    all[i].id);
			return XERR_CONFIG;
		}
	return XERR_OK;
}

/* Checks relations between settings once all are read. */
static enum xerr
cfg_check(const struct cfg *cfg, char *errbuf, size_t errsz)
{
	if (cfg_check_prices(cfg, errbuf, errsz) != XERR_OK)
		return XERR_CONFIG;
	if (strlen(cfg->jwt_secret) < 32) {
		snprintf(errbuf, errsz, "JWT_SECRET: must be at least 32 bytes");
		return XERR_CONFIG;
	}
	if (strcmp(cfg->admin_jwt_audience, cfg->jwt_audience) == 0 ||
	    strcmp(cfg->service_jwt_audience, cfg->jwt_audience) == 0 ||
	    strcmp(cfg->admin_jwt_audience, cfg->service_jwt_audience) == 0) {
		snprintf(errbuf, errsz, "JWT_AUDIENCE, ADMIN_JWT_AUDIENCE and "
		    "SERVICE_JWT_AUDIENCE must differ");
		return XERR_CONFIG;
	}
	if (strlen(cfg->twilio_account_sid) != 34 ||
	    strncmp(cfg->twilio_account_sid, "AC", 2) != 0 ||
	    strspn(cfg->twilio_account_sid + 2, "0123456789abcdef") != 32) {
		snprintf(errbuf, errsz, "TWILIO_ACCOUNT_SID: expected AC "
		    "followed by 32 lowercase hex digits");
		return XERR_CONFIG;
	}
	if (cfg->metrics_token[0] != '\0' && strlen(cfg->metrics_token) < 32) {
		snprintf(errbuf, errsz, "METRICS_TOKEN: must be at least 32 "
		    "characters (or empty)");
		return XERR_CONFIG;
	}
	if (cfg_url_userinfo(cfg->smtp_url)) {
		snprintf(errbuf, errsz, "SMTP_URL: give the user and password "
		    "as SMTP_USER and SMTP_PASSWORD, not in the URL (it is "
		    "printed by xsb-config --check, and they must only go "
		    "over TLS)");
		return XERR_CONFIG;
	}
	if (!cfg_url_or_empty(cfg->assistant_voice_url) ||
	    !cfg_url_or_empty(cfg->assistant_sms_url)) {
		snprintf(errbuf, errsz, "ASSISTANT_VOICE_URL and "
		    "ASSISTANT_SMS_URL: expected empty or an http(s) URL");
		return XERR_CONFIG;
	}
	/*
	 * xsb-worker renews running jobs' leases from its main loop once a
	 * third of a lease has passed, and the loop waits up to a poll: a
	 * longer poll lets leases run out between renewals, and the jobs be
	 * claimed again while they run.
	 */
	if ((unsigned long long)cfg->worker_poll_ms * 3 >=
	    (unsigned long long)cfg->job_lease_seconds * 1000) {
		snprintf(errbuf, errsz, "WORKER_POLL_MS: must be under a third "
		    "of JOB_LEASE_SECONDS (%lu s: under %lu ms), or running "
		    "jobs' leases run out between renewals",
		    cfg->job_lease_seconds,
		    (cfg->job_lease_seconds * 1000 + 2) / 3);
		return XERR_CONFIG;
	}
	/* Stripe retries for 3 days and keeps events 30 (OPERATIONS.md). */
	if (cfg->event_retention_days > 0 &&
	    cfg->event_retention_days < CFG_EVENT_RETENTION_MIN) {
		snprintf(errbuf, errsz, "STRIPE_EVENT_RETENTION_DAYS: 0 (keep "
		    "all) or at least %d", CFG_EVENT_RETENTION_MIN);
		return XERR_CONFIG;
	}
	if (!cfg->sandbox && (strncmp(cfg->public_base_url, "https://", 8) ||
	    strncmp(cfg->stripe_api_base, "https://", 8) ||
	    strncmp(cfg->twilio_api_base, "https://", 8))) {
		snprintf(errbuf, errsz, "PUBLIC_BASE_URL, STRIPE_API_BASE and "
		    "TWILIO_API_BASE must be https:// in production");
		return XERR_CONFIG;
	}
	return XERR_OK;
}

enum xerr
cfg_load(struct cfg **out, char *errbuf, size_t errsz)
{
	struct cfg	*cfg = NULL;
	struct cfg_file	 file;
	const char	*path, *v, *mode;
	size_t		 i;
	int		 sandbox;
	enum xerr	 rc = XERR_OK;

	*out = NULL;
	errbuf[0] = '\0';
	memset(&file, 0, sizeof(file));
	if ((path = getenv("XSB_ENV_FILE")) != NULL && *path != '\0' &&
	    (rc = cfg_file_read(path, &file, errbuf, errsz)) != XERR_OK)
		goto fail;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		rc = XERR_NOMEM;
		goto fail;
	}

	/*
	 * The mode decides which settings may take defaults.  Unset, it is
	 * the sandbox; set, it must say which: an empty or misspelt value in
	 * a production env file must not quietly mean the sandbox.
	 */
	mode = getenv("XSB_MODE");
	if (mode == NULL)
		mode = file.vals[0];
	if (mode != NULL && strcmp(mode, "sandbox") != 0 &&
	    strcmp(mode, "production") != 0) {
		snprintf(errbuf, errsz, "XSB_MODE: expected sandbox or "
		    "production, not \"%.32s\"", mode);
		rc = XERR_CONFIG;
		goto fail;
	}
	sandbox = mode == NULL || strcmp(mode, "production") != 0;

	for (i = 0; i < CFG_NOPTS; i++) {
		const struct cfg_opt *o = &cfg_opts[i];

		if ((v = getenv(o->name)) == NULL)
			v = file.vals[i];
		if (v != NULL && *v == '\0' && o->need == CFG_OPTIONAL &&
		    o->def != NULL && *o->def == '\0')
			v = o->def;
		if (v == NULL || *v == '\0') {
			if (o->need == CFG_REQUIRED ||
			    (o->need == CFG_PROD && !sandbox)) {
				snprintf(errbuf, errsz, "%s: required but not "
				    "set", o->name);
				rc = XERR_CONFIG;
				goto fail;
			}
			v = o->def;
		}
		if ((rc = cfg_set(cfg, o, v, errbuf, errsz)) != XERR_OK)
			goto fail;
	}
	if ((rc = cfg_check(cfg, errbuf, errsz)) != XERR_OK)
		goto fail;
	cfg_file_free(&file);
	*out = cfg;
	return XERR_OK;
fail:
	if (rc == XERR_NOMEM && errbuf[0] == '\0')
		snprintf(errbuf, errsz, "out of memory reading configuration");
	cfg_file_free(&file);
	cfg_free(cfg);
	return XERR_CONFIG;
}

static void
cfg_wipe(char *s)
{
	if (s != NULL)
		sodium_memzero(s, strlen(s));
	free(s);
}

void
cfg_free(struct cfg *cfg)
{
	size_t	 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < CFG_NOPTS; i++) {
		const struct cfg_opt *o = &cfg_opts[i];

		if (o->kind == CFG_STR || o->kind == CFG_SECRET ||
		    o->kind == CFG_URL || o->kind == CFG_STRIPE_VER)
			cfg_wipe(*(char **)CFG_FIELD(cfg, o));
		else if (o->kind == CFG_PRICES)
			cfg_prices_clear((struct cfg_prices *)CFG_FIELD(cfg,
			    o));
	}
	for (i = 0; i < cfg->stripe_webhook_nsecrets; i++)
		cfg_wipe(cfg->stripe_webhook_secrets[i]);
	free(cfg);
}

void
cfg_doc(FILE *fp)
{
	size_t	 i;

	fprintf(fp, "| variable | default | meaning |\n|---|---|---|\n");
	for (i = 0; i < CFG_NOPTS; i++) {
		const struct cfg_opt *o = &cfg_opts[i];
		const char *def = o->def == NULL ? "*(required)*" :
		    *o->def == '\0' ? "*(empty)*" : o->def;

		if (o->need == CFG_PROD && o->def != NULL && *o->def == '\0')
			fprintf(fp, "| `%s` | %s in sandbox; required in "
			    "production | %s |\n", o->name, def, o->doc);
		else if (o->need == CFG_PROD)
			fprintf(fp, "| `%s` | `%s` in sandbox; required in "
			    "production | %s |\n", o->name, def, o->doc);
		else if (o->def == NULL || *o->def == '\0')
			fprintf(fp, "| `%s` | %s | %s |\n", o->name, def, o->doc);
		else
			fprintf(fp, "| `%s` | `%s` | %s |\n", o->name, def, o->doc);
	}
}

/* Writes name=keys, the public keys k in base64url, to fp. */
static void
cfg_dump_keys(const char *name, const struct cfg_keys *k, FILE *fp)
{
	char	*b64;
	size_t	 i;

	fprintf(fp, "%s=", name);
	for (i = 0; i < k->n; i++) {
		if (crypto_b64_encode(k->key[i], sizeof(k->key[i]), 1,
		    &b64) != XERR_OK)
			continue;
		fprintf(fp, "%s%s", i ? "," : "", b64);
		free(b64);
	}
	fputc('\n', fp);
}

/* Writes name=prices, the ids of p comma-separated, to fp. */
static void
cfg_dump_prices(const char *name, const struct cfg_prices *p, FILE *fp)
{
	size_t	 i;

	fprintf(fp, "%s=", name);
	for (i = 0; i < p->n; i++)
		fprintf(fp, "%s%s", i ? "," : "", p->id[i]);
	fputc('\n', fp);
}

void
cfg_dump(const struct cfg *cfg, FILE *fp)
{
	size_t	 i;

	for (i = 0; i < CFG_NOPTS; i++) {
		const struct cfg_opt *o = &cfg_opts[i];
		const void *f = (const char *)cfg + o->off;

		switch (o->kind) {
		case CFG_SECRET:
		case CFG_SECRETS:
			fprintf(fp, "%s=(secret)\n", o->name);
			break;
		case CFG_STR:
		case CFG_URL:
		case CFG_STRIPE_VER:
			fprintf(fp, "%s=%s\n", o->name, *(char *const *)f);
			break;
		case CFG_MODE:
			fprintf(fp, "%s=%s\n", o->name,
			    cfg->sandbox ? "sandbox" : "production");
			break;
		case CFG_LEVEL:
		case CFG_BOOL:
			fprintf(fp, "%s=%d\n", o->name, *(const int *)f);
			break;
		case CFG_UINT:
			fprintf(fp, "%s=%lu\n", o->name,
			    *(const unsigned long *)f);
			break;
		case CFG_PUBKEYS:
			cfg_dump_keys(o->name, f, fp);
			break;
		case CFG_PRICES:
			cfg_dump_prices(o->name, f, fp);
			break;
		}
	}
}
