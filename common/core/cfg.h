/*
 * cfg: every setting of every program, read once at start-up.
 *
 * Values come from the environment and, when XSB_ENV_FILE names a file, from
 * its KEY=value lines (the environment wins).  One table in cfg.c holds each
 * variable's name, kind, bounds, default and meaning; README.md's
 * configuration table is generated from the same list (`xsb-config --doc`).
 * A bad or missing value makes cfg_load() fail with a message naming the
 * variable; secrets are never printed.
 */
#ifndef CFG_H
#define CFG_H

#include <stddef.h>
#include <stdio.h>

#include "core/xerr.h"

#define CFG_MAX_WEBHOOK_SECRETS	4
#define CFG_MAX_JWT_KEYS	4
#define CFG_ED25519_PK_LEN	32
/* The shortest STRIPE_EVENT_RETENTION_DAYS but 0 (cfg_check()). */
#define CFG_EVENT_RETENTION_MIN	35

/* Most Stripe prices one STRIPE_PRICE_* setting names. */
#define CFG_MAX_PRICES		8

/*
 * A paid tier's Stripe prices: id[0] is the one sold (Checkout,
 * upgrades), the others are older prices still read as the tier (a tier
 * moved to a new price keeps its subscribers on the old one).  n >= 1.
 */
struct cfg_prices {
	char		*id[CFG_MAX_PRICES];
	size_t		 n;
};

/* Ed25519 public keys, raw (two during a rotation). */
struct cfg_keys {
	unsigned char	 key[CFG_MAX_JWT_KEYS][CFG_ED25519_PK_LEN];
	size_t		 n;
};

struct cfg {
	int		 sandbox;		/* XSB_MODE=sandbox (default) */
	int		 log_level;		/* enum log_level */

	/* MariaDB */
	char		*db_host;
	unsigned long	 db_port;
	char		*db_socket;
	char		*db_name;
	char		*db_user;
	char		*db_password;		/* secret */

	/* FastCGI programs */
	unsigned long	 fcgi_processes;
	unsigned long	 fcgi_threads;
	unsigned long	 billing_read_batch_max; /* usage reads batched */
	unsigned long	 webhook_threads;
	unsigned long	 webhook_committers;
	unsigned long	 webhook_batch_max;
	unsigned long	 max_body;		/* bytes; 413 beyond */

	/* Outbound HTTP */
	unsigned long	 http_connect_timeout_ms;
	unsigned long	 http_timeout_ms;
	unsigned long	 http_interactive_timeout_ms;
	unsigned long	 http_max_response;

	/* Stripe */
	char		*stripe_api_base;
	char		*stripe_secret_key;	/* secret */
	char		*stripe_api_version;
	char		*stripe_webhook_secrets[CFG_MAX_WEBHOOK_SECRETS]; /* secret */
	size_t		 stripe_webhook_nsecrets;
	unsigned long	 stripe_webhook_tolerance;	/* seconds */
	struct cfg_prices stripe_price_secretary;
	struct cfg_prices stripe_price_project_manager;
	struct cfg_prices stripe_price_cto;
	char		*checkout_success_url;
	char		*checkout_cancel_url;

	/* Twilio */
	char		*twilio_api_base;
	char		*twilio_account_sid;
	char		*twilio_auth_token;	/* secret */
	char		*assistant_voice_url;	/* "" none: TwiML <Redirect> */
	char		*assistant_sms_url;	/* "" none */
	unsigned long	 phone_grace_days;	/* number kept after a lapse */
	unsigned long	 phone_numbers_per_30_days; /* cap on purchases */
	unsigned long	 phone_threads;		/* xsb-phone's request threads */
	unsigned long	 phone_committers;	/* group commit of call statuses */
	unsigned long	 phone_batch_max;

	/* Public face */
	char		*public_base_url;	/* what Twilio calls us at */
	char		*app_url;		/* links in e-mails */

	/* JWT */
	char		*jwt_secret;		/* secret */
	char		*jwt_issuer;
	char		*jwt_audience;

	/* Worker */
	unsigned long	 worker_poll_ms;
	unsigned long	 worker_concurrency;
	unsigned long	 job_max_attempts;
	unsigned long	 job_lease_seconds;
	unsigned long	 job_retention_days;
	unsigned long	 event_retention_days;
	unsigned long	 job_backoff_base_seconds;
	unsigned long	 job_backoff_max_seconds;
	unsigned long	 metrics_rollup_seconds;	/* 0: not this worker */

	/* E-mail */
	char		*smtp_url;
	char		*smtp_user;
	char		*smtp_password;		/* secret */
	char		*smtp_from;
	char		*operator_email;	/* disputes go to this address */
	int		 smtp_starttls;

	/* Metrics */
	char		*metrics_file;		/* shared counters, metrics.h */

	/* Admin and service tokens (EdDSA), lifetimes of every kind */
	struct cfg_keys	 admin_jwt_keys;
	struct cfg_keys	 service_jwt_keys;
	char		*admin_jwt_audience;
	char		*service_jwt_audience;
	unsigned long	 admin_jwt_max_lifetime;	/* seconds, exp - iat */
	unsigned long	 service_jwt_max_lifetime;
	unsigned long	 user_jwt_max_lifetime;

	/* Least privilege */
	char		*metrics_token;		/* secret; "" none */
	unsigned long	 usage_cap_voice_seconds;	/* per period; 0 none */
	unsigned long	 usage_cap_sms;
	unsigned long	 rate_limit_billing;	/* per user per minute; 0 none */
	unsigned long	 rate_limit_phone;
};

/*
 * Loads the configuration.  On success *out is set (caller frees with
 * cfg_free()); on failure *out is NULL, errbuf holds one line naming the
 * variable, and XERR_CONFIG is returned.
 */
enum xerr	 cfg_load(struct cfg **out, char *errbuf, size_t errsz);

/* Frees a configuration, wiping secrets. NULL is a no-op. */
void		 cfg_free(struct cfg *cfg);

/* Writes the settings table (name, default, meaning) as Markdown to fp. */
void		 cfg_doc(FILE *fp);

/* Writes every setting as KEY=value, secrets masked, to fp. */
void		 cfg_dump(const struct cfg *cfg, FILE *fp);

#endif
