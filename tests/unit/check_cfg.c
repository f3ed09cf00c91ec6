/*
 * Unit tests for common/core/cfg.c: defaults, required variables, bounds, the
 * env file, secret lists, and that secrets never reach a message.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/stripe_version.h"

#define SECRET_JWT	"0123456789abcdef0123456789abcdef-jwt"

static char	 errbuf[256];

static void
setup(void)
{
	clearenv();
	setenv("STRIPE_WEBHOOK_SECRETS", "whsec_one", 1);
	setenv("TWILIO_AUTH_TOKEN", "twtoken", 1);
	setenv("PUBLIC_BASE_URL", "https://example.test", 1);
	setenv("JWT_SECRET", SECRET_JWT, 1);
	errbuf[0] = '\0';
}

static struct cfg *
load_ok(void)
{
	struct cfg	*cfg = NULL;

	ck_assert_msg(cfg_load(&cfg, errbuf, sizeof(errbuf)) == XERR_OK,
	    "cfg_load failed: %s", errbuf);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

static void
load_fails(const char *needle)
{
	struct cfg	*cfg = (struct cfg *)1;

	ck_assert_int_eq(cfg_load(&cfg, errbuf, sizeof(errbuf)), XERR_CONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errbuf, needle) != NULL,
	    "message \"%s\" lacks \"%s\"", errbuf, needle);
}

START_TEST(cfg_defaults)
{
	struct cfg *cfg = load_ok();

	ck_assert_int_eq(cfg->sandbox, 1);
	ck_assert_str_eq(cfg->db_name, "xswarm_billing");
	ck_assert_uint_eq(cfg->max_body, 1048576);
	ck_assert_uint_eq(cfg->stripe_webhook_tolerance, 300);
	ck_assert_str_eq(cfg->stripe_api_base, "https://api.stripe.com");
	ck_assert_str_eq(cfg->jwt_issuer, "xswarm-api");
	ck_assert_str_eq(cfg->jwt_audience, "xswarm-users");
	ck_assert_uint_eq(cfg->stripe_webhook_nsecrets, 1);
	ck_assert_str_eq(cfg->stripe_webhook_secrets[0], "whsec_one");
	cfg_free(cfg);
	cfg_free(NULL);
}
END_TEST

START_TEST(cfg_required_missing)
{
	unsetenv("JWT_SECRET");
	load_fails("JWT_SECRET: required");
	setup();
	unsetenv("STRIPE_WEBHOOK_SECRETS");
	load_fails("STRIPE_WEBHOOK_SECRETS: required");
	setup();
	setenv("PUBLIC_BASE_URL", "", 1);
	load_fails("PUBLIC_BASE_URL: required");
}
END_TEST

START_TEST(cfg_production_needs_more)
{
	setenv("XSB_MODE", "production", 1);
	load_fails("DB_PASSWORD: required");
	setenv("DB_PASSWORD", "pw", 1);
	load_fails("STRIPE_SECRET_KEY: required");
	setenv("STRIPE_SECRET_KEY", "sk_live_x", 1);
	load_fails("TWILIO_ACCOUNT_SID: required");
	setenv("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef", 1);
	load_fails("OPERATOR_EMAIL: required");
	setenv("OPERATOR_EMAIL", "ops@example.test", 1);
	cfg_free(load_ok());
	setenv("PUBLIC_BASE_URL", "http://insecure.test", 1);
	load_fails("https:// in production");
}
END_TEST

START_TEST(cfg_bad_values_name_the_variable)
{
	setenv("XSB_MODE", "staging", 1);
	load_fails("XSB_MODE");
	/* Set but empty or misspelt is no mode: never the sandbox by default. */
	setenv("XSB_MODE", "", 1);
	load_fails("XSB_MODE: expected sandbox or production");
	setenv("XSB_MODE", "Production", 1);
	load_fails("XSB_MODE: expected sandbox or production");
	setenv("XSB_MODE", "production ", 1);
	load_fails("XSB_MODE: expected sandbox or production");
	setup();
	setenv("FCGI_PROCESSES", "0", 1);
	load_fails("FCGI_PROCESSES: expected a whole number from 1 to 256");
	setup();
	setenv("FCGI_PROCESSES", "4x", 1);
	load_fails("FCGI_PROCESSES");
	setup();
	setenv("DB_PORT", "-1", 1);
	load_fails("DB_PORT");
	setup();
	setenv("STRIPE_API_BASE", "ftp://x.test", 1);
	load_fails("STRIPE_API_BASE");
	setup();
	setenv("STRIPE_API_BASE", "http://x.test/", 1);
	load_fails("STRIPE_API_BASE");
	setup();
	setenv("LOG_LEVEL", "loud", 1);
	load_fails("LOG_LEVEL");
	setup();
	setenv("SMTP_STARTTLS", "maybe", 1);
	load_fails("SMTP_STARTTLS");
	setup();
	setenv("TWILIO_ACCOUNT_SID", "AC123", 1);
	load_fails("TWILIO_ACCOUNT_SID");
	/* Written into TwiML as they are: no markup, no spaces. */
	setup();
	setenv("ASSISTANT_VOICE_URL", "https://a.test/v?x=1&y=2", 1);
	load_fails("ASSISTANT_VOICE_URL");
	setup();
	setenv("ASSISTANT_SMS_URL", "https://a.test/<s>", 1);
	load_fails("ASSISTANT_SMS_URL");
	setup();
	setenv("ASSISTANT_SMS_URL", "ftp://a.test/s", 1);
	load_fails("ASSISTANT_SMS_URL");
	setup();
	setenv("PHONE_GRACE_DAYS", "91", 1);
	load_fails("PHONE_GRACE_DAYS");
}
END_TEST

START_TEST(cfg_phone_settings)
{
	struct cfg	*cfg;

	cfg = load_ok();
	ck_assert_str_eq(cfg->assistant_voice_url, "");
	ck_assert_str_eq(cfg->assistant_sms_url, "");
	ck_assert_uint_eq(cfg->phone_grace_days, 7);
	cfg_free(cfg);
	setenv("ASSISTANT_VOICE_URL", "https://assistant.test/twilio/voice", 1);
	setenv("ASSISTANT_SMS_URL", "http://127.0.0.1:9/sms", 1);
	setenv("PHONE_GRACE_DAYS", "0", 1);
	cfg = load_ok();
	ck_assert_str_eq(cfg->assistant_voice_url,
	    "https://assistant.test/twilio/voice");
	ck_assert_str_eq(cfg->assistant_sms_url, "http://127.0.0.1:9/sms");
	ck_assert_uint_eq(cfg->phone_grace_days, 0);
	cfg_free(cfg);
}
END_TEST

START_TEST(cfg_secrets_never_in_messages)
{
	setenv("JWT_SECRET", "short-secret-value", 1);
	load_fails("JWT_SECRET");
	ck_assert_ptr_null(strstr(errbuf, "short-secret-value"));
	setup();
	setenv("STRIPE_WEBHOOK_SECRETS", " , ,", 1);
	load_fails("STRIPE_WEBHOOK_SECRETS");
	ck_assert_ptr_null(strstr(errbuf, " , ,"));
}
END_TEST

START_TEST(cfg_secret_list)
{
	struct cfg *cfg;

	setenv("STRIPE_WEBHOOK_SECRETS", " whsec_new , whsec_old,,", 1);
	cfg = load_ok();
	ck_assert_uint_eq(cfg->stripe_webhook_nsecrets, 2);
	ck_assert_str_eq(cfg->stripe_webhook_secrets[0], "whsec_new");
	ck_assert_str_eq(cfg->stripe_webhook_secrets[1], "whsec_old");
	cfg_free(cfg);
	setenv("STRIPE_WEBHOOK_SECRETS", "a,b,c,d,e", 1);
	load_fails("at most 4");
}
END_TEST

START_TEST(cfg_env_file)
{
	char		 path[] = "/tmp/check_cfg_XXXXXX";
	int		 fd;
	FILE		*fp;
	struct cfg	*cfg;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	fprintf(fp, "# comment\n\nexport DB_NAME=from_file\n"
	    "DB_USER='quoted user'\nFCGI_PROCESSES=\"7\"\nUNKNOWN_KEY=x\n"
	    "LOG_LEVEL=warn\n");
	fclose(fp);
	setenv("XSB_ENV_FILE", path, 1);
	setenv("LOG_LEVEL", "debug", 1);	/* the environment wins */
	cfg = load_ok();
	ck_assert_str_eq(cfg->db_name, "from_file");
	ck_assert_str_eq(cfg->db_user, "quoted user");
	ck_assert_uint_eq(cfg->fcgi_processes, 7);
	ck_assert_int_eq(cfg->log_level, 0);
	cfg_free(cfg);

	fp = fopen(path, "w");
	fprintf(fp, "this line has no equals sign\n");
	fclose(fp);
	load_fails(":1: expected KEY=value");
	unlink(path);
	load_fails("cannot open");
}
END_TEST

START_TEST(cfg_dump_masks_secrets)
{
	struct cfg	*cfg = load_ok();
	char		*out = NULL;
	size_t		 len = 0;
	FILE		*fp = open_memstream(&out, &len);

	cfg_dump(cfg, fp);
	fclose(fp);
	ck_assert_ptr_null(strstr(out, SECRET_JWT));
	ck_assert_ptr_null(strstr(out, "whsec_one"));
	ck_assert_ptr_null(strstr(out, "twtoken"));
	ck_assert_ptr_nonnull(strstr(out, "JWT_SECRET=(secret)"));
	ck_assert_ptr_nonnull(strstr(out, "DB_NAME=xswarm_billing"));
	free(out);
	cfg_free(cfg);
}
END_TEST

/*
 * The admin and service public keys: none by default (no such token is
 * accepted), base64url of 32 bytes, two during a rotation, each one checked;
 * the audiences and lifetimes of each kind.  The key texts are the RFC 8032
 * TEST 1 and TEST 2 public keys, base64url-encoded by node.
 */
#define PK1	"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define PK2	"PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw"
START_TEST(cfg_jwt_keys)
{
	static const unsigned char pk1_0 = 0xd7, pk2_31 = 0x0c;
	struct cfg	*cfg = load_ok();
	char		*out = NULL;
	size_t		 len = 0;
	FILE		*fp;

	ck_assert_uint_eq(cfg->admin_jwt_keys.n, 0);
	ck_assert_uint_eq(cfg->service_jwt_keys.n, 0);
	ck_assert_str_eq(cfg->admin_jwt_audience, "xswarm-billing-admin");
	ck_assert_str_eq(cfg->service_jwt_audience, "xswarm-billing-service");
	ck_assert_uint_eq(cfg->admin_jwt_max_lifetime, 3600);
	ck_assert_uint_eq(cfg->service_jwt_max_lifetime, 86400);
	ck_assert_uint_eq(cfg->user_jwt_max_lifetime, 86400);
	cfg_free(cfg);

	setenv("ADMIN_JWT_PUBLIC_KEYS", PK1 ", " PK2, 1);
	setenv("SERVICE_JWT_PUBLIC_KEYS", PK2, 1);
	cfg = load_ok();
	ck_assert_uint_eq(cfg->admin_jwt_keys.n, 2);
	ck_assert_uint_eq(cfg->admin_jwt_keys.key[0][0], pk1_0);
	ck_assert_uint_eq(cfg->admin_jwt_keys.key[1][31], pk2_31);
	ck_assert_uint_eq(cfg->service_jwt_keys.n, 1);
	ck_assert_uint_eq(cfg->service_jwt_keys.key[0][31], pk2_31);
	fp = open_memstream(&out, &len);
	cfg_dump(cfg, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(out, "ADMIN_JWT_PUBLIC_KEYS=" PK1 "," PK2
	    "\n"));
	free(out);
	cfg_free(cfg);

	/* A short key, padding, base64 (not url), a secret key's 64 bytes. */
	setenv("ADMIN_JWT_PUBLIC_KEYS", PK1 "," "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR", 1);
	load_fails("ADMIN_JWT_PUBLIC_KEYS: expected base64url");
	setenv("ADMIN_JWT_PUBLIC_KEYS", PK1 "=", 1);
	load_fails("ADMIN_JWT_PUBLIC_KEYS: expected base64url");
	setenv("ADMIN_JWT_PUBLIC_KEYS", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo", 1);
	load_fails("ADMIN_JWT_PUBLIC_KEYS: expected base64url");
	setenv("ADMIN_JWT_PUBLIC_KEYS", PK1 PK1 "AA", 1);
	load_fails("ADMIN_JWT_PUBLIC_KEYS: expected base64url");
	setenv("ADMIN_JWT_PUBLIC_KEYS", PK1 "," PK1 "," PK1 "," PK1 "," PK1, 1);
	load_fails("ADMIN_JWT_PUBLIC_KEYS: at most 4");
	unsetenv("ADMIN_JWT_PUBLIC_KEYS");

	/* Each kind its own audience, lifetimes within bounds. */
	setenv("SERVICE_JWT_AUDIENCE", "xswarm-users", 1);
	load_fails("must differ");
	setenv("SERVICE_JWT_AUDIENCE", "xswarm-billing-admin", 1);
	load_fails("must differ");
	unsetenv("SERVICE_JWT_AUDIENCE");
	setenv("ADMIN_JWT_MAX_LIFETIME", "86401", 1);
	load_fails("ADMIN_JWT_MAX_LIFETIME");
	setenv("ADMIN_JWT_MAX_LIFETIME", "600", 1);
	cfg = load_ok();
	ck_assert_uint_eq(cfg->admin_jwt_max_lifetime, 600);
	cfg_free(cfg);
}
END_TEST

/*
 * STRIPE_API_VERSION: the default is the pinned version; a real older
 * version is taken; what Stripe would refuse (the commit date once pinned
 * here, a date-like string, a codename alone) stops the program with a
 * message naming the variable.
 */
START_TEST(cfg_stripe_version)
{
	static const char *const bad[] = { "2023-09-12", "2026-10-28",
	    "2026-10-28.basil", "endive", "latest", " 2023-08-16" };
	struct cfg	*cfg = load_ok();
	char		*out = NULL;
	size_t		 i, len = 0;
	FILE		*fp;

	ck_assert_str_eq(cfg->stripe_api_version, STRIPE_VERSION_PINNED);
	ck_assert_str_eq(cfg->stripe_api_version, "2026-10-28.endive");
	fp = open_memstream(&out, &len);
	cfg_dump(cfg, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(out,
	    "STRIPE_API_VERSION=2026-10-28.endive"));
	free(out);
	cfg_free(cfg);

	setenv("STRIPE_API_VERSION", "2023-08-16", 1);
	cfg = load_ok();
	ck_assert_str_eq(cfg->stripe_api_version, "2023-08-16");
	cfg_free(cfg);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("STRIPE_API_VERSION", bad[i], 1);
		load_fails("STRIPE_API_VERSION: \"");
		ck_assert_ptr_nonnull(strstr(errbuf, "not a Stripe API version"));
	}
}
END_TEST

START_TEST(cfg_stripe_version_list)
{
	ck_assert_int_eq(stripe_version_known(STRIPE_VERSION_PINNED), 1);
	ck_assert_int_eq(stripe_version_known("2025-03-31.basil"), 1);
	ck_assert_int_eq(stripe_version_known("2023-10-16"), 1);
	ck_assert_int_eq(stripe_version_known("2023-09-12"), 0);
	ck_assert_int_eq(stripe_version_known(""), 0);
	ck_assert_int_eq(stripe_version_known(NULL), 0);
	ck_assert_str_eq(stripe_version_oldest(), "2011-01-01");
	ck_assert_str_eq(stripe_version_newest(), STRIPE_VERSION_PINNED);
}
END_TEST

/* Least privilege: the metrics token, usage caps and per-user rates. */
START_TEST(cfg_least_privilege)
{
	struct cfg	*cfg = load_ok();

	ck_assert_str_eq(cfg->metrics_token, "");
	ck_assert_uint_eq(cfg->usage_cap_voice_seconds, 720000);
	ck_assert_uint_eq(cfg->usage_cap_sms, 20000);
	ck_assert_uint_eq(cfg->rate_limit_billing, 120);
	ck_assert_uint_eq(cfg->rate_limit_phone, 60);
	cfg_free(cfg);
	setenv("METRICS_TOKEN", "short-secret-value", 1);
	load_fails("METRICS_TOKEN: must be at least 32");
	ck_assert_ptr_null(strstr(errbuf, "short-secret-value"));
	setenv("METRICS_TOKEN", "0123456789abcdef0123456789abcdef", 1);
	setenv("USAGE_CAP_SMS", "0", 1);
	setenv("RATE_LIMIT_PHONE_PER_MINUTE", "0", 1);
	cfg = load_ok();
	ck_assert_str_eq(cfg->metrics_token, "0123456789abcdef0123456789abcdef");
	ck_assert_uint_eq(cfg->usage_cap_sms, 0);
	ck_assert_uint_eq(cfg->rate_limit_phone, 0);
	cfg_free(cfg);
	setenv("RATE_LIMIT_BILLING_PER_MINUTE", "100001", 1);
	load_fails("RATE_LIMIT_BILLING_PER_MINUTE");
}
END_TEST

/* Retention: 0 keeps everything; an event purge never under 35 days. */
START_TEST(cfg_retention)
{
	struct cfg	*cfg = load_ok();

	ck_assert_uint_eq(cfg->job_retention_days, 90);
	ck_assert_uint_eq(cfg->event_retention_days, 400);
	cfg_free(cfg);
	setenv("STRIPE_EVENT_RETENTION_DAYS", "0", 1);
	cfg = load_ok();
	ck_assert_uint_eq(cfg->event_retention_days, 0);
	cfg_free(cfg);
	setenv("STRIPE_EVENT_RETENTION_DAYS", "35", 1);
	cfg = load_ok();
	ck_assert_uint_eq(cfg->event_retention_days, 35);
	cfg_free(cfg);
	setenv("STRIPE_EVENT_RETENTION_DAYS", "34", 1);
	load_fails("STRIPE_EVENT_RETENTION_DAYS: 0 (keep all) or at least 35");
	setenv("STRIPE_EVENT_RETENTION_DAYS", "1", 1);
	load_fails("STRIPE_EVENT_RETENTION_DAYS");
}
END_TEST

/*
 * STRIPE_PRICE_*: one price by default; a comma-separated list, the first
 * the one sold; an empty or implausible id, too many, or a price named
 * twice (in one setting or two) stops the program.
 */
START_TEST(cfg_prices)
{
	struct cfg	*cfg = load_ok();
	char		*out = NULL;
	size_t		 len = 0;
	FILE		*fp;

	ck_assert_uint_eq(cfg->stripe_price_cto.n, 1);
	ck_assert_str_eq(cfg->stripe_price_cto.id[0], "price_ai_cto");
	cfg_free(cfg);
	setenv("STRIPE_PRICE_AI_SECRETARY", " price_new , price_old,price_2024",
	    1);
	cfg = load_ok();
	ck_assert_uint_eq(cfg->stripe_price_secretary.n, 3);
	ck_assert_str_eq(cfg->stripe_price_secretary.id[0], "price_new");
	ck_assert_str_eq(cfg->stripe_price_secretary.id[1], "price_old");
	ck_assert_str_eq(cfg->stripe_price_secretary.id[2], "price_2024");
	fp = open_memstream(&out, &len);
	cfg_dump(cfg, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(out, "STRIPE_PRICE_AI_SECRETARY="
	    "price_new,price_old,price_2024\n"));
	free(out);
	cfg_free(cfg);
	setenv("STRIPE_PRICE_AI_SECRETARY", "price_new,,price_old", 1);
	load_fails("STRIPE_PRICE_AI_SECRETARY: expected Stripe price ids");
	setenv("STRIPE_PRICE_AI_SECRETARY", "price_new,", 1);
	load_fails("STRIPE_PRICE_AI_SECRETARY: expected Stripe price ids");
	setenv("STRIPE_PRICE_AI_SECRETARY", "price new", 1);
	load_fails("STRIPE_PRICE_AI_SECRETARY: expected Stripe price ids");
	setenv("STRIPE_PRICE_AI_SECRETARY", "a,b,c,d,e,f,g,h,i", 1);
	load_fails("STRIPE_PRICE_AI_SECRETARY: at most 8 prices");
	setenv("STRIPE_PRICE_AI_SECRETARY", "a,b,c,d,e,f,g,h", 1);
	cfg_free(load_ok());
	setenv("STRIPE_PRICE_AI_SECRETARY", "price_a,price_a", 1);
	load_fails("STRIPE_PRICE_AI_SECRETARY: price price_a named twice");
	setenv("STRIPE_PRICE_AI_SECRETARY", "price_new,price_ai_cto", 1);
	load_fails("STRIPE_PRICE_AI_SECRETARY and STRIPE_PRICE_AI_CTO: "
	    "price price_ai_cto named twice");
}
END_TEST

/*
 * A running job's lease is renewed from the worker's main loop once a third
 * of it has passed, and the loop may wait a whole poll before it looks: a
 * poll of a third of the lease or more is refused, whatever the lease.
 */
START_TEST(cfg_poll_under_a_third_of_the_lease)
{
	struct cfg	*cfg;

	setenv("JOB_LEASE_SECONDS", "5", 1);
	setenv("WORKER_POLL_MS", "1666", 1);	/* 3 x 1666 < 5000 */
	cfg = load_ok();
	ck_assert_uint_eq(cfg->job_lease_seconds, 5);
	ck_assert_uint_eq(cfg->worker_poll_ms, 1666);
	cfg_free(cfg);
	setenv("WORKER_POLL_MS", "1667", 1);
	load_fails("WORKER_POLL_MS: must be under a third of "
	    "JOB_LEASE_SECONDS (5 s: under 1667 ms)");
	setenv("WORKER_POLL_MS", "60000", 1);
	load_fails("WORKER_POLL_MS: must be under a third");
	setenv("JOB_LEASE_SECONDS", "60", 1);
	setenv("WORKER_POLL_MS", "20000", 1);
	load_fails("(60 s: under 20000 ms)");
	setenv("WORKER_POLL_MS", "19999", 1);
	cfg_free(load_ok());
	/* The defaults (60 s, 500 ms) pass. */
	unsetenv("JOB_LEASE_SECONDS");
	unsetenv("WORKER_POLL_MS");
	cfg_free(load_ok());
}
END_TEST

/* A user and password in SMTP_URL would be printed by xsb-config --check. */
START_TEST(cfg_smtp_url_without_userinfo)
{
	struct cfg	*cfg;

	setenv("SMTP_URL", "smtps://relay:s3cret@smtp.example.com:465", 1);
	load_fails("SMTP_URL: give the user and password as SMTP_USER");
	ck_assert_ptr_null(strstr(errbuf, "s3cret"));
	setenv("SMTP_URL", "smtp://smtp.example.com:587/?x=a@b", 1);
	cfg = load_ok();
	cfg_free(cfg);
	setenv("SMTP_URL", "smtps://smtp.example.com:465", 1);
	cfg = load_ok();
	ck_assert_str_eq(cfg->smtp_url, "smtps://smtp.example.com:465");
	cfg_free(cfg);
	unsetenv("SMTP_URL");
}
END_TEST

static Suite *
cfg_suite(void)
{
	Suite	*s = suite_create("cfg");
	TCase	*tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, cfg_defaults);
	tcase_add_test(tc, cfg_required_missing);
	tcase_add_test(tc, cfg_production_needs_more);
	tcase_add_test(tc, cfg_bad_values_name_the_variable);
	tcase_add_test(tc, cfg_phone_settings);
	tcase_add_test(tc, cfg_secrets_never_in_messages);
	tcase_add_test(tc, cfg_secret_list);
	tcase_add_test(tc, cfg_env_file);
	tcase_add_test(tc, cfg_dump_masks_secrets);
	tcase_add_test(tc, cfg_stripe_version);
	tcase_add_test(tc, cfg_stripe_version_list);
	tcase_add_test(tc, cfg_jwt_keys);
	tcase_add_test(tc, cfg_least_privilege);
	tcase_add_test(tc, cfg_retention);
	tcase_add_test(tc, cfg_prices);
	tcase_add_test(tc, cfg_poll_under_a_third_of_the_lease);
	tcase_add_test(tc, cfg_smtp_url_without_userinfo);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cfg_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
