/*
 * fuzz_envfile: the env file of XSB_ENV_FILE, read by cfg_load().
 *
 * Input: the whole input is the file's text (NULs, long lines, CRs and
 * all); the environment holds only XSB_ENV_FILE.  Invariants:
 *  - cfg_load() returns XERR_OK with a configuration, or XERR_CONFIG with
 *    no configuration and a one-line message naming a variable (or the
 *    file);
 *  - no secret (JWT_SECRET, DB_PASSWORD, STRIPE_SECRET_KEY,
 *    STRIPE_WEBHOOK_SECRETS, TWILIO_AUTH_TOKEN, SMTP_PASSWORD,
 *    METRICS_TOKEN) is shown: a message about one quotes no value, and
 *    cfg_dump() of a loaded configuration masks each as "(secret)";
 *  - the same file loads the same way twice (no state kept between loads).
 */
#include <unistd.h>

#include "fuzz.h"

#include "core/cfg.h"

static char	 path[] = "/tmp/fuzz_envfile.XXXXXX";
static int	 fd = -1;

static const char *const secrets[] = {
	"JWT_SECRET", "DB_PASSWORD", "STRIPE_SECRET_KEY",
	"STRIPE_WEBHOOK_SECRETS", "TWILIO_AUTH_TOKEN", "SMTP_PASSWORD",
	"METRICS_TOKEN",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if ((fd = mkstemp(path)) == -1)
		abort();
	clearenv();
	setenv("XSB_ENV_FILE", path, 1);
	return 0;
}

/*
 * Checks what a text says of the secrets: a message naming one ("NAME:
 * ...") quotes no value (cfg.c quotes the values it shows, "\"...\"", and
 * only those of other settings); a dump line of one is "NAME=(secret)".
 * A value compared as such could also be the text of a message by chance.
 */
static void
check_secrets(const char *text, int dump)
{
	const char	*line, *nl;
	size_t		 i, klen, len;

	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
			klen = strlen(secrets[i]);
			if (len < klen + 1 || memcmp(line, secrets[i], klen) != 0)
				continue;
			if (dump && line[klen] == '=')
				FUZZ_ASSERT(len == klen + 9 &&
				    memcmp(line + klen, "=(secret)", 9) == 0);
			if (!dump && line[klen] == ':')
				FUZZ_ASSERT(memchr(line, '"', len) == NULL);
		}
		if (nl == NULL)
			break;
	}
}

/* Loads the file; returns the result, with the message or the dump in out. */
static enum xerr
load(char *out, size_t outsz)
{
	struct cfg	*cfg = (struct cfg *)1;
	char		 err[256];
	FILE		*fp;
	enum xerr	 rc;

	rc = cfg_load(&cfg, err, sizeof(err));
	FUZZ_ASSERT(rc == XERR_OK || rc == XERR_CONFIG);
	if (rc != XERR_OK) {
		FUZZ_ASSERT(cfg == NULL);
		FUZZ_ASSERT(err[0] != '\0' && strchr(err, '\n') == NULL);
		snprintf(out, outsz, "%s", err);
		return rc;
	}
	FUZZ_ASSERT(cfg != NULL);
	if ((fp = fmemopen(out, outsz, "w")) == NULL)
		abort();
	cfg_dump(cfg, fp);
	fclose(fp);
	out[outsz - 1] = '\0';
	cfg_free(cfg);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 a[16384], b[16384];
	enum xerr	 ra, rb;

	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ra = load(a, sizeof(a));
	rb = load(b, sizeof(b));
	FUZZ_ASSERT(ra == rb && strcmp(a, b) == 0);
	check_secrets(a, ra == XERR_OK);
	return 0;
}
