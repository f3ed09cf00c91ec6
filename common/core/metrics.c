#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"

#define METRICS_FILE_SIZE	4096
/* "xsbm" and the layout version; bump the version with the layout. */
#define METRICS_HEADER		UINT64_C(0x7873626d00000001)

/* Outcome classes of an upstream call. */
enum metrics_outcome {
	METRICS_OUT_2XX,
	METRICS_OUT_3XX,
	METRICS_OUT_4XX,
	METRICS_OUT_5XX,
	METRICS_OUT_ERROR,	/* no answer: connect, TLS, timeout */
	METRICS_OUT__MAX
};

/* Upper bounds of the latency buckets in microseconds; then +Inf. */
static const uint64_t metrics_le_us[] = {
	25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000
};
static const char *const metrics_le_text[] = {
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"
};
#define METRICS_BUCKETS	(sizeof(metrics_le_text) / sizeof(metrics_le_text[0]))

static const char *const metrics_up_names[METRICS_UP__MAX] = {
	"stripe", "twilio", "smtp", "other"
};
static const char *const metrics_out_names[METRICS_OUT__MAX] = {
	"2xx", "3xx", "4xx", "5xx", "error"
};

/* The shared block.  Only ever grows at the end, with a new version. */
struct metrics_shm {
	uint64_t	 header;
	uint64_t	 counters[METRICS_COUNTERS];
	uint64_t	 calls[METRICS_UP__MAX][METRICS_OUT__MAX];
	uint64_t	 usec[METRICS_UP__MAX][METRICS_OUT__MAX];
	uint64_t	 buckets[METRICS_UP__MAX][METRICS_BUCKETS];
};

_Static_assert(sizeof(struct metrics_shm) <= METRICS_FILE_SIZE,
    "the counters must fit in the file");
_Static_assert(sizeof(metrics_le_us) / sizeof(metrics_le_us[0]) + 1 ==
    METRICS_BUCKETS, "one bucket bound per bucket but +Inf");

/* The process's mapping (inherited by children), or NULL. */
static struct metrics_shm	*metrics_mem;
static int			 metrics_is_shared;

/* Maps an anonymous shared block: counters shared with later children only. */
static void
metrics_fallback(void)
{
	void	*p;

	p = mmap(NULL, METRICS_FILE_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_warn("metrics: mmap");
		return;
	}
	metrics_mem = p;
	metrics_mem->header = METRICS_HEADER;
	metrics_is_shared = 0;
}

/*
 * Maps path, or falls back to an anonymous block; 0 when shared.
 * Any earlier mapping of this process is dropped first.
 */
int
metrics_open(const char *path)
{
	struct stat	 st;
	void		*p;
	uint64_t	 seen = 0;
	int		 fd;

	metrics_close();
	if (path == NULL || *path == '\0') {
		log_warnx("metrics: METRICS_FILE is empty; counting privately");
		goto fallback;
	}
	/* O_NOFOLLOW: the folder may be shared; never write through a link. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		log_warn("metrics: %s (counting privately)", path);
		goto fallback;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("metrics: %s is not a regular file; counting "
		    "privately", path);
		close(fd);
		goto fallback;
	}
	/* Growing zero-fills; a size already reached is left alone. */
	if (st.st_size < METRICS_FILE_SIZE &&
	    ftruncate(fd, METRICS_FILE_SIZE) == -1) {
		log_warn("metrics: %s: ftruncate (counting privately)", path);
		close(fd);
		goto fallback;
	}
	p = mmap(NULL, METRICS_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("metrics: %s: mmap (counting privately)", path);
		goto fallback;
	}
	/* The first program to map a new file stamps it. */
	if (!__atomic_compare_exchange_n(&((struct metrics_shm *)p)->header,
	    &seen, METRICS_HEADER, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) &&
	    seen != METRICS_HEADER) {
		log_warnx("metrics: %s has another layout (%016" PRIx64 "); "
		    "counting privately: remove it and restart every program",
		    path, seen);
		munmap(p, METRICS_FILE_SIZE);
		goto fallback;
	}
	metrics_mem = p;
	metrics_is_shared = 1;
	return 0;
fallback:
	metrics_fallback();
	return -1;
}

/* Unmaps the counters of this process (the file stays). */
void
metrics_close(void)
{
	if (metrics_mem != NULL)
		munmap(metrics_mem, METRICS_FILE_SIZE);
	metrics_mem = NULL;
	metrics_is_shared = 0;
}

/* Returns 1 when the counters are the file's. */
int
metrics_shared(void)
{
	return metrics_is_shared;
}

/* Adds n to counter c, atomically across processes. */
void
metrics_add(enum metrics_counter c, uint64_t n)
{
	if (metrics_mem != NULL && (unsigned)c < METRICS_COUNTERS)
		__atomic_add_fetch(&metrics_mem->counters[c], n,
		    __ATOMIC_RELAXED);
}

void
metrics_inc(enum metrics_counter c)
{
	metrics_add(c, 1);
}

/* Returns counter c as it is now. */
uint64_t
metrics_get(enum metrics_counter c)
{
	if (metrics_mem == NULL || (unsigned)c >= METRICS_COUNTERS)
		return 0;
	return __atomic_load_n(&metrics_mem->counters[c], __ATOMIC_RELAXED);
}

/* Returns the outcome class of a reply status (0: no reply). */
static enum metrics_outcome
metrics_outcome(long status)
{
	if (status >= 200 && status < 300)
		return METRICS_OUT_2XX;
	if (status >= 300 && status < 400)
		return METRICS_OUT_3XX;
	if (status >= 400 && status < 500)
		return METRICS_OUT_4XX;
	if (status >= 500 && status < 600)
		return METRICS_OUT_5XX;
	return METRICS_OUT_ERROR;
}

/* Counts one upstream call: its outcome class, time and bucket. */
void
metrics_upstream(enum metrics_upstream up, long status, uint64_t usec)
{
	enum metrics_outcome	 o = metrics_outcome(status);
	size_t			 b;

	if (metrics_mem == NULL || (unsigned)up >= METRICS_UP__MAX)
		return;
	for (b = 0; b + 1 < METRICS_BUCKETS && usec > metrics_le_us[b]; b++)
		continue;
	__atomic_add_fetch(&metrics_mem->calls[up][o], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&metrics_mem->usec[up][o], usec, __ATOMIC_RELAXED);
	__atomic_add_fetch(&metrics_mem->buckets[up][b], 1, __ATOMIC_RELAXED);
}

/* Returns 1 when url is base itself or a path under it. */
static int
metrics_under(const char *url, const char *base)
{
	size_t	 n;

	if (base == NULL || (n = strlen(base)) == 0)
		return 0;
	return strncmp(url, base, n) == 0 &&
	    (url[n] == '\0' || url[n] == '/' || url[n] == '?');
}

/* Returns the upstream of url: under a configured base, or smtp(s)://. */
enum metrics_upstream
metrics_upstream_of(const struct cfg *cfg, const char *url)
{
	if (cfg == NULL || url == NULL)
		return METRICS_UP_OTHER;
	if (metrics_under(url, cfg->stripe_api_base))
		return METRICS_UP_STRIPE;
	if (metrics_under(url, cfg->twilio_api_base))
		return METRICS_UP_TWILIO;
	if (strncmp(url, "smtp://", 7) == 0 || strncmp(url, "smtps://", 8) == 0)
		return METRICS_UP_SMTP;
	return METRICS_UP_OTHER;
}

/* Appends value escaped for a label: backslash, double quote, newline. */
enum xerr
metrics_label(struct buf *out, const char *value)
{
	const char	*p, *run;
	enum xerr	 rc;

	if (value == NULL)
		return XERR_OK;
	for (run = p = value; *p != '\0'; p++) {
		if (*p != '\\' && *p != '"' && *p != '\n')
			continue;
		if ((rc = buf_append(out, run, (size_t)(p - run))) ||
		    (rc = buf_puts(out, *p == '\\' ? "\\\\" :
		    *p == '"' ? "\\\"" : "\\n")))
			return rc;
		run = p + 1;
	}
	return buf_append(out, run, (size_t)(p - run));
}

/* Appends the HELP and TYPE lines of a family. */
enum xerr
metrics_family(struct buf *out, const char *name, const char *type,
    const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/*
 * Appends `name{k1="v1",...} value`: labels holds n name/value pairs
 * (values escaped here; NULL is ""), value is the sample as text.
 */
enum xerr
metrics_sample(struct buf *out, const char *name, const char *const *labels,
    size_t n, const char *value)
{
	size_t		 i;
	enum xerr	 rc;

	if ((rc = buf_puts(out, name)))
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = buf_printf(out, "%s%s=\"", i == 0 ? "{" : ",",
		    labels[2 * i])) ||
		    (rc = metrics_label(out, labels[2 * i + 1])) ||
		    (rc = buf_puts(out, "\"")))
			return rc;
	return buf_printf(out, "%s %s\n", n > 0 ? "}" : "",
	    value != NULL && *value != '\0' ? value : "0");
}

/* Appends a sample whose value is a count. */
enum xerr
metrics_sample_u(struct buf *out, const char *name, const char *const *labels,
    size_t n, uint64_t v)
{
	char	 num[32];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	return metrics_sample(out, name, labels, n, num);
}

/* Appends a sample whose value is microseconds, as seconds. */
enum xerr
metrics_sample_s(struct buf *out, const char *name, const char *const *labels,
    size_t n, uint64_t usec)
{
	char	 num[48];

	snprintf(num, sizeof(num), "%" PRIu64 ".%06" PRIu64, usec / 1000000,
	    usec % 1000000);
	return metrics_sample(out, name, labels, n, num);
}

#define LOAD(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

/* The event counters /metrics shows, in its order. */
static const struct {
	enum metrics_counter	 c;
	const char		*name;
	const char		*help;
} metrics_counter_defs[] = {
	{ METRICS_SIGNATURE_FAILURES, "xsb_webhook_signature_failures_total",
	    "Stripe webhook deliveries refused for their Stripe-Signature "
	    "(bad, missing, or out of tolerance)." },
	{ METRICS_WEBHOOK_BATCHES, "xsb_webhook_batches_total",
	    "Transactions that stored several webhook deliveries at once "
	    "(group commit)." },
	{ METRICS_WEBHOOK_BATCHED, "xsb_webhook_batched_events_total",
	    "Webhook events stored by those transactions." },
	{ METRICS_WEBHOOK_BATCH_ROLLBACKS, "xsb_webhook_batch_rollbacks_total",
	    "Batches rolled back because one event failed (a duplicate, an "
	    "effect error, a deadlock); their events were then applied one "
	    "by one." },
	{ METRICS_PHONE_BATCHES, "xsb_twilio_batches_total",
	    "Transactions that stored several of Twilio's call statuses and "
	    "messages at once (group commit)." },
	{ METRICS_PHONE_BATCHED, "xsb_twilio_batched_callbacks_total",
	    "Call statuses and messages stored by those transactions." },
	{ METRICS_PHONE_BATCH_ROLLBACKS, "xsb_twilio_batch_rollbacks_total",
	    "Batches of call statuses and messages rolled back (a usage key "
	    "recorded meanwhile, a deadlock, an error); each was then stored "
	    "alone." },
	{ METRICS_USAGE_READ_BATCHES, "xsb_usage_read_batches_total",
	    "Batches (two round trips) that read the usage of several "
	    "GET /api/billing/usage requests at once." },
	{ METRICS_USAGE_READ_BATCHED, "xsb_usage_read_batched_requests_total",
	    "GET /api/billing/usage requests read by those batches." },
	{ METRICS_DB_CHAINS_LOST, "xsb_db_chains_lost_total",
	    "COMMIT AND CHAIN that committed but opened no next transaction "
	    "(seen on Galera); the next transaction was started on its own." },
	{ METRICS_DB_TXN_ENDED, "xsb_db_transactions_ended_total",
	    "Statements after which the server was in none of our "
	    "transactions though no error said so; each was taken as an "
	    "abort, rolled back and run again." },
};

/*
 * Appends the families of the shared counters; zeros before
 * metrics_open().
 */
enum xerr
metrics_render_counters(struct buf *out)
{
	static const struct metrics_shm zero;
	const struct metrics_shm *m = metrics_mem != NULL ? metrics_mem : &zero;
	const char	*lb[6];
	uint64_t	 cum, usec;
	size_t		 u, o, b;
	enum xerr	 rc;

	for (u = 0; u < sizeof(metrics_counter_defs) /
	    sizeof(metrics_counter_defs[0]); u++)
		if ((rc = metrics_family(out, metrics_counter_defs[u].name,
		    "counter", metrics_counter_defs[u].help)) ||
		    (rc = metrics_sample_u(out, metrics_counter_defs[u].name,
		    NULL, 0, LOAD(m->counters[metrics_counter_defs[u].c]))))
			return rc;

	if ((rc = metrics_family(out, "xsb_upstream_requests_total", "counter",
	    "Calls to Stripe, Twilio and the SMTP relay by outcome: the "
	    "reply's status class (SMTP reply code class), error when no "
	    "reply came.")))
		return rc;
	for (u = 0; u < METRICS_UP__MAX; u++)
		for (o = 0; o < METRICS_OUT__MAX; o++) {
			lb[0] = "upstream", lb[1] = metrics_up_names[u];
			lb[2] = "outcome", lb[3] = metrics_out_names[o];
			if ((rc = metrics_sample_u(out,
			    "xsb_upstream_requests_total", lb, 2,
			    LOAD(m->calls[u][o]))))
				return rc;
		}
	if ((rc = metrics_family(out, "xsb_upstream_request_seconds_total",
	    "counter", "Time spent in calls to each upstream by outcome; "
	    "divided by xsb_upstream_requests_total, the mean latency.")))
		return rc;
	for (u = 0; u < METRICS_UP__MAX; u++)
		for (o = 0; o < METRICS_OUT__MAX; o++) {
			lb[0] = "upstream", lb[1] = metrics_up_names[u];
			lb[2] = "outcome", lb[3] = metrics_out_names[o];
			if ((rc = metrics_sample_s(out,
			    "xsb_upstream_request_seconds_total", lb, 2,
			    LOAD(m->usec[u][o]))))
				return rc;
		}

	if ((rc = metrics_family(out, "xsb_upstream_request_duration_seconds",
	    "histogram", "Latency of calls to each upstream, all outcomes.")))
		return rc;
	for (u = 0; u < METRICS_UP__MAX; u++) {
		lb[0] = "upstream", lb[1] = metrics_up_names[u];
		lb[2] = "le";
		for (cum = 0, b = 0; b < METRICS_BUCKETS; b++) {
			cum += LOAD(m->buckets[u][b]);
			lb[3] = metrics_le_text[b];
			if ((rc = metrics_sample_u(out,
			    "xsb_upstream_request_duration_seconds_bucket", lb,
			    2, cum)))
				return rc;
		}
		for (usec = 0, o = 0; o < METRICS_OUT__MAX; o++)
			usec += LOAD(m->usec[u][o]);
		if ((rc = metrics_sample_s(out,
		    "xsb_upstream_request_duration_seconds_sum", lb, 1, usec)) ||
		    (rc = metrics_sample_u(out,
		    "xsb_upstream_request_duration_seconds_count", lb, 1, cum)))
			return rc;
	}

	if ((rc = metrics_family(out, "xsb_metrics_shared", "gauge",
	    "1 when the counters above are shared by every program of the "
	    "host (METRICS_FILE), 0 when this process counts alone.")))
		return rc;
	return metrics_sample_u(out, "xsb_metrics_shared", NULL, 0,
	    (uint64_t)metrics_is_shared);
}

#undef LOAD
