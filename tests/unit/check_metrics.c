/*
 * Unit tests for common/core/metrics.c: the shared counters file (creation,
 * reuse, another layout, unusable paths), increments from many processes,
 * the latency buckets and outcome classes, the text format, and which
 * upstream a URL belongs to.  The series read from MariaDB are covered by
 * tests/integration/admin.test.mjs.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/metrics.h"

static char	 dir[64];
static char	 path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_metrics.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/metrics", dir);
}

static void
teardown(void)
{
	char	 p[160];

	metrics_close();
	unlink(path);
	snprintf(p, sizeof(p), "%s/link", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
}

/* Returns the counters' text (caller frees). */
static char *
render(void)
{
	struct buf	*b = buf_new(1 << 20);
	char		*s;
	size_t		 len;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(metrics_render_counters(b), XERR_OK);
	s = buf_steal(b, &len);
	buf_free(b);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Asserts that text holds line as a whole line. */
static void
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p += n;
	}
	ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

START_TEST(metrics_before_open)
{
	char	*t;

	metrics_inc(METRICS_SIGNATURE_FAILURES);
	metrics_upstream(METRICS_UP_STRIPE, 200, 1000);
	ck_assert_uint_eq(metrics_get(METRICS_SIGNATURE_FAILURES), 0);
	ck_assert_int_eq(metrics_shared(), 0);
	t = render();
	has_line(t, "xsb_webhook_signature_failures_total 0");
	has_line(t, "xsb_metrics_shared 0");
	free(t);
}
END_TEST

START_TEST(metrics_file_created)
{
	struct stat	 st;

	ck_assert_int_eq(metrics_open(path), 0);
	ck_assert_int_eq(metrics_shared(), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 4096);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	metrics_inc(METRICS_SIGNATURE_FAILURES);
	metrics_inc(METRICS_SIGNATURE_FAILURES);
	ck_assert_uint_eq(metrics_get(METRICS_SIGNATURE_FAILURES), 2);
}
END_TEST

/* Counters survive a program's restart: a second open finds them. */
START_TEST(metrics_file_reused)
{
	ck_assert_int_eq(metrics_open(path), 0);
	metrics_inc(METRICS_SIGNATURE_FAILURES);
	metrics_close();
	metrics_inc(METRICS_SIGNATURE_FAILURES);	/* dropped */
	ck_assert_int_eq(metrics_open(path), 0);
	metrics_inc(METRICS_SIGNATURE_FAILURES);
	ck_assert_uint_eq(metrics_get(METRICS_SIGNATURE_FAILURES), 2);
}
END_TEST

/* Two programs opening the file see each other's increments. */
START_TEST(metrics_two_openers)
{
	pid_t	 pid;
	int	 status;

	ck_assert_int_eq(metrics_open(path), 0);
	metrics_inc(METRICS_SIGNATURE_FAILURES);
	if ((pid = fork()) == 0) {
		/* As another program would: its own open of the path. */
		metrics_close();
		if (metrics_open(path) != 0)
			_exit(1);
		metrics_inc(METRICS_SIGNATURE_FAILURES);
		metrics_upstream(METRICS_UP_TWILIO, 201, 30000);
		_exit(metrics_get(METRICS_SIGNATURE_FAILURES) == 2 ? 0 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_uint_eq(metrics_get(METRICS_SIGNATURE_FAILURES), 2);
}
END_TEST

/* Prefork children and other programs increment at once: none is lost. */
START_TEST(metrics_concurrent_increments)
{
	enum { PROCS = 8, EACH = 20000 };
	pid_t	 pids[PROCS];
	char	*t, line[128];
	int	 i, j, status;

	ck_assert_int_eq(metrics_open(path), 0);
	for (i = 0; i < PROCS; i++) {
		if ((pids[i] = fork()) == 0) {
			/* Half inherit the mapping, half map the file anew. */
			if (i % 2 == 1 && metrics_open(path) != 0)
				_exit(1);
			for (j = 0; j < EACH; j++) {
				metrics_inc(METRICS_SIGNATURE_FAILURES);
				metrics_upstream(METRICS_UP_STRIPE, 200, 1);
			}
			_exit(0);
		}
		ck_assert_int_ge(pids[i], 0);
	}
	for (i = 0; i < PROCS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_uint_eq(metrics_get(METRICS_SIGNATURE_FAILURES),
	    (uint64_t)PROCS * EACH);
	t = render();
	snprintf(line, sizeof(line), "xsb_upstream_requests_total{upstream="
	    "\"stripe\",outcome=\"2xx\"} %d", PROCS * EACH);
	has_line(t, line);
	snprintf(line, sizeof(line), "xsb_upstream_request_duration_seconds_"
	    "count{upstream=\"stripe\"} %d", PROCS * EACH);
	has_line(t, line);
	free(t);
}
END_TEST

/* A file of another layout is left alone; counting goes on privately. */
START_TEST(metrics_other_layout)
{
	unsigned char	 junk[4096];
	int		 fd;

	memset(junk, 0xa5, sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	ck_assert_int_eq(metrics_open(path), -1);
	ck_assert_int_eq(metrics_shared(), 0);
	metrics_inc(METRICS_SIGNATURE_FAILURES);
	ck_assert_uint_eq(metrics_get(METRICS_SIGNATURE_FAILURES), 1);
	/* The file was not touched. */
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	ck_assert_int_eq(junk[0], 0xa5);
	ck_assert_int_eq(junk[100], 0xa5);
}
END_TEST

/* Unusable paths fall back to counters shared with children only. */
START_TEST(metrics_unusable_paths)
{
	char	 p[160];
	pid_t	 pid;
	int	 status;

	ck_assert_int_eq(metrics_open(""), -1);
	ck_assert_int_eq(metrics_open(NULL), -1);
	snprintf(p, sizeof(p), "%s/sub", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(metrics_open(p), -1);		/* a directory */
	snprintf(p, sizeof(p), "%s/link", dir);
	ck_assert_int_eq(symlink(path, p), 0);
	ck_assert_int_eq(metrics_open(p), -1);		/* never through a link */
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(metrics_open("/nonexistent-dir/metrics"), -1);
	ck_assert_int_eq(metrics_shared(), 0);
	/* The fallback is still shared with children forked after it. */
	if ((pid = fork()) == 0) {
		metrics_inc(METRICS_SIGNATURE_FAILURES);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_uint_eq(metrics_get(METRICS_SIGNATURE_FAILURES), 1);
}
END_TEST

START_TEST(metrics_buckets_and_outcomes)
{
	char	*t;

	ck_assert_int_eq(metrics_open(path), 0);
	metrics_upstream(METRICS_UP_TWILIO, 200, 25000);	/* le 0.025 */
	metrics_upstream(METRICS_UP_TWILIO, 201, 25001);	/* le 0.05 */
	metrics_upstream(METRICS_UP_TWILIO, 404, 1500000);	/* le 2.5 */
	metrics_upstream(METRICS_UP_TWILIO, 503, 10000000);	/* le 10 */
	metrics_upstream(METRICS_UP_TWILIO, 0, 20000000);	/* +Inf */
	metrics_upstream(METRICS_UP_TWILIO, 302, 0);		/* le 0.025 */
	metrics_upstream(METRICS_UP_SMTP, 250, 100000);		/* SMTP 250 */
	metrics_upstream(METRICS_UP_SMTP, 550, 100000);
	metrics_upstream((enum metrics_upstream)99, 200, 1);	/* ignored */
	t = render();
	has_line(t, "xsb_upstream_requests_total{upstream=\"twilio\","
	    "outcome=\"2xx\"} 2");
	has_line(t, "xsb_upstream_requests_total{upstream=\"twilio\","
	    "outcome=\"3xx\"} 1");
	has_line(t, "xsb_upstream_requests_total{upstream=\"twilio\","
	    "outcome=\"4xx\"} 1");
	has_line(t, "xsb_upstream_requests_total{upstream=\"twilio\","
	    "outcome=\"5xx\"} 1");
	has_line(t, "xsb_upstream_requests_total{upstream=\"twilio\","
	    "outcome=\"error\"} 1");
	has_line(t, "xsb_upstream_requests_total{upstream=\"smtp\","
	    "outcome=\"2xx\"} 1");
	has_line(t, "xsb_upstream_requests_total{upstream=\"smtp\","
	    "outcome=\"5xx\"} 1");
	has_line(t, "xsb_upstream_request_seconds_total{upstream=\"twilio\","
	    "outcome=\"2xx\"} 0.050001");
	has_line(t, "xsb_upstream_request_seconds_total{upstream=\"twilio\","
	    "outcome=\"error\"} 20.000000");
	/* Buckets are cumulative; +Inf equals _count. */
	has_line(t, "xsb_upstream_request_duration_seconds_bucket{upstream="
	    "\"twilio\",le=\"0.025\"} 2");
	has_line(t, "xsb_upstream_request_duration_seconds_bucket{upstream="
	    "\"twilio\",le=\"0.05\"} 3");
	has_line(t, "xsb_upstream_request_duration_seconds_bucket{upstream="
	    "\"twilio\",le=\"1\"} 3");
	has_line(t, "xsb_upstream_request_duration_seconds_bucket{upstream="
	    "\"twilio\",le=\"2.5\"} 4");
	has_line(t, "xsb_upstream_request_duration_seconds_bucket{upstream="
	    "\"twilio\",le=\"10\"} 5");
	has_line(t, "xsb_upstream_request_duration_seconds_bucket{upstream="
	    "\"twilio\",le=\"+Inf\"} 6");
	has_line(t, "xsb_upstream_request_duration_seconds_count{upstream="
	    "\"twilio\"} 6");
	has_line(t, "xsb_upstream_request_duration_seconds_sum{upstream="
	    "\"twilio\"} 31.550001");
	has_line(t, "xsb_upstream_requests_total{upstream=\"stripe\","
	    "outcome=\"2xx\"} 0");
	has_line(t, "xsb_metrics_shared 1");
	has_line(t, "# TYPE xsb_upstream_request_duration_seconds histogram");
	has_line(t, "# TYPE xsb_webhook_signature_failures_total counter");
	free(t);
}
END_TEST

/* Every line is a comment or `name{labels} value`, and ends the text. */
START_TEST(metrics_text_format)
{
	char	*t, *line, *nl, *sp;
	size_t	 n;

	ck_assert_int_eq(metrics_open(path), 0);
	metrics_upstream(METRICS_UP_OTHER, 200, 5);
	t = render();
	n = strlen(t);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(t[n - 1], '\n');
	for (line = t; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (line[0] == '#') {
			ck_assert_msg(strncmp(line, "# HELP xsb_", 11) == 0 ||
			    strncmp(line, "# TYPE xsb_", 11) == 0, "%s", line);
			continue;
		}
		ck_assert_msg(strncmp(line, "xsb_", 4) == 0, "%s", line);
		sp = strrchr(line, ' ');
		ck_assert_msg(sp != NULL && sp[1] != '\0' &&
		    strspn(sp + 1, "0123456789.") == strlen(sp + 1), "%s", line);
	}
	free(t);
}
END_TEST

START_TEST(metrics_label_escaping)
{
	struct buf	*b = buf_new(256);

	ck_assert_int_eq(metrics_label(b, "plain.type"), XERR_OK);
	ck_assert_str_eq(buf_data(b), "plain.type");
	buf_reset(b);
	ck_assert_int_eq(metrics_label(b, "a\"b\\c\nd"), XERR_OK);
	ck_assert_str_eq(buf_data(b), "a\\\"b\\\\c\\nd");
	buf_reset(b);
	ck_assert_int_eq(metrics_label(b, ""), XERR_OK);
	ck_assert_int_eq(metrics_label(b, NULL), XERR_OK);
	ck_assert_uint_eq(buf_len(b), 0);
	buf_free(b);
}
END_TEST

START_TEST(metrics_upstream_kinds)
{
	struct cfg	 cfg;
	char		 stripe[] = "http://127.0.0.1:1234";
	char		 twilio[] = "https://api.twilio.com";

	memset(&cfg, 0, sizeof(cfg));
	cfg.stripe_api_base = stripe;
	cfg.twilio_api_base = twilio;
	ck_assert_int_eq(metrics_upstream_of(&cfg,
	    "http://127.0.0.1:1234/v1/invoiceitems"), METRICS_UP_STRIPE);
	ck_assert_int_eq(metrics_upstream_of(&cfg, "http://127.0.0.1:1234"),
	    METRICS_UP_STRIPE);
	ck_assert_int_eq(metrics_upstream_of(&cfg,
	    "http://127.0.0.1:12345/v1/x"), METRICS_UP_OTHER);
	ck_assert_int_eq(metrics_upstream_of(&cfg, "https://api.twilio.com/"
	    "2010-04-01/Accounts/AC/IncomingPhoneNumbers.json"),
	    METRICS_UP_TWILIO);
	ck_assert_int_eq(metrics_upstream_of(&cfg,
	    "https://api.twilio.com.evil.test/x"), METRICS_UP_OTHER);
	ck_assert_int_eq(metrics_upstream_of(&cfg, "smtps://mail.test:465"),
	    METRICS_UP_SMTP);
	ck_assert_int_eq(metrics_upstream_of(&cfg, "smtp://127.0.0.1:2525"),
	    METRICS_UP_SMTP);
	ck_assert_int_eq(metrics_upstream_of(&cfg, NULL), METRICS_UP_OTHER);
	ck_assert_int_eq(metrics_upstream_of(NULL, "http://x"),
	    METRICS_UP_OTHER);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc;

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, metrics_before_open);
	tcase_add_test(tc, metrics_file_created);
	tcase_add_test(tc, metrics_file_reused);
	tcase_add_test(tc, metrics_two_openers);
	tcase_add_test(tc, metrics_other_layout);
	tcase_add_test(tc, metrics_unusable_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, metrics_concurrent_increments);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, metrics_buckets_and_outcomes);
	tcase_add_test(tc, metrics_text_format);
	tcase_add_test(tc, metrics_label_escaping);
	tcase_add_test(tc, metrics_upstream_kinds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(metrics_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
