/*
 * Unit tests for common/remote/smtp.c: which envelope addresses pass, the address
 * of a From value, and the failures smtp_send() reports without a relay
 * (a refused connection is retryable; credentials are never sent in clear
 * outside the sandbox), and the outcome of a transaction with a scripted
 * relay in a child process: which replies are permanent, which retryable,
 * when the message may have been accepted, and libcurl's dot-stuffing.
 * The network used is 127.0.0.1 only.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/cfg.h"
#include "remote/smtp.h"

static const struct {
	const char	*addr;
	int		 ok;
} addrs[] = {
	{ "user@example.test", 1 },
	{ "a@b", 1 },
	{ "first.last+tag@sub.example.test", 1 },
	{ "u@x..test", 1 },		/* the relay judges the rest */
	{ "us\xc3\xa9r@example.test", 1 },
	{ "", 0 },
	{ "a@", 0 },
	{ "@b", 0 },
	{ "ab", 0 },
	{ "a@@b", 0 },
	{ "a@b@c", 0 },
	{ "a b@c", 0 },
	{ "a@b\r\nRCPT TO:<x@y>", 0 },
	{ "a@b\n", 0 },
	{ "<a@b>", 0 },
	{ "a@b>", 0 },
	{ "a,b@c", 0 },
	{ "a;b@c", 0 },
	{ "\"a\"@c", 0 },
	{ "a@[1.2.3.4]", 0 },
	{ "a\x7f@c", 0 },
};

START_TEST(addr_ok)
{
	size_t	 i = (size_t)_i;

	ck_assert_msg(smtp_addr_ok(addrs[i].addr) == addrs[i].ok, "%s",
	    addrs[i].addr);
}
END_TEST

START_TEST(addr_limits)
{
	char	 a[SMTP_ADDR_MAX + 2];

	memset(a, 'x', sizeof(a));
	a[1] = '@';
	a[SMTP_ADDR_MAX] = '\0';
	ck_assert_int_eq(smtp_addr_ok(a), 1);
	a[SMTP_ADDR_MAX] = 'x';
	a[SMTP_ADDR_MAX + 1] = '\0';
	ck_assert_int_eq(smtp_addr_ok(a), 0);
	ck_assert_int_eq(smtp_addr_ok(NULL), 0);
}
END_TEST

START_TEST(addr_spec)
{
	char	 out[SMTP_ADDR_MAX + 1], tiny[4];

	ck_assert_int_eq(smtp_addr_spec("xSwarm Billing <billing@xswarm.ai>",
	    out, sizeof(out)), XERR_OK);
	ck_assert_str_eq(out, "billing@xswarm.ai");
	ck_assert_int_eq(smtp_addr_spec("  billing@xswarm.ai ", out,
	    sizeof(out)), XERR_OK);
	ck_assert_str_eq(out, "billing@xswarm.ai");
	ck_assert_int_eq(smtp_addr_spec("\"A <b>\" <c@d.test>", out,
	    sizeof(out)), XERR_OK);
	ck_assert_str_eq(out, "c@d.test");
	ck_assert_int_eq(smtp_addr_spec("Name <billing@xswarm.ai", out,
	    sizeof(out)), XERR_BADREQ);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(smtp_addr_spec("Name <>", out, sizeof(out)),
	    XERR_BADREQ);
	ck_assert_int_eq(smtp_addr_spec("just a name", out, sizeof(out)),
	    XERR_BADREQ);
	ck_assert_int_eq(smtp_addr_spec(NULL, out, sizeof(out)), XERR_BADREQ);
	ck_assert_int_eq(smtp_addr_spec("a@b.test", tiny, sizeof(tiny)),
	    XERR_BADREQ);
	ck_assert_str_eq(tiny, "");
}
END_TEST

/* A configuration with what smtp_send() reads. */
static void
cfg_init(struct cfg *c, char *url, char *user)
{
	memset(c, 0, sizeof(*c));
	c->sandbox = 1;
	c->smtp_url = url;
	c->smtp_user = user;
	c->smtp_password = (char *)"secret";
	c->http_connect_timeout_ms = 1000;
}

START_TEST(send_refused_is_retryable)
{
	struct cfg	 c;
	char		 err[256];
	int		 unsure = -1;
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";

	/* Port 1 on loopback: nothing listens, the connect is refused. */
	cfg_init(&c, (char *)"smtp://127.0.0.1:1", (char *)"");
	ck_assert_int_eq(smtp_send(&c, "a@b.test", "c@d.test", msg,
	    sizeof(msg) - 1, 2000, &unsure, err, sizeof(err)), XERR_UPSTREAM);
	ck_assert_int_eq(unsure, 0);
	ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:1"));
	ck_assert_ptr_nonnull(strstr(err, "reply 0"));
	ck_assert_ptr_null(strstr(err, "permanent"));
}
END_TEST

START_TEST(send_bad_envelope)
{
	struct cfg	 c;
	char		 err[256];
	int		 unsure = -1;

	cfg_init(&c, (char *)"smtp://127.0.0.1:1", (char *)"");
	ck_assert_int_eq(smtp_send(&c, "a@b.test", "c@d\r\nDATA", "x", 1,
	    2000, &unsure, err, sizeof(err)), XERR_BADREQ);
	ck_assert_int_eq(smtp_send(&c, "nobody", "c@d.test", "x", 1, 2000,
	    &unsure, err, sizeof(err)), XERR_BADREQ);
}
END_TEST

START_TEST(send_no_clear_credentials)
{
	struct cfg	 c;
	char		 err[256];
	int		 unsure = -1;

	/* Credentials are never offered on a plain relay in production. */
	cfg_init(&c, (char *)"smtp://user:pw@127.0.0.1:1", (char *)"user");
	c.sandbox = 0;
	ck_assert_int_eq(smtp_send(&c, "a@b.test", "c@d.test", "x", 1, 2000,
	    &unsure, err, sizeof(err)), XERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err, "SMTP_STARTTLS"));
	ck_assert_ptr_null(strstr(err, "pw"));	/* the URL's secret stays */
	ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:1"));
	/* With STARTTLS required it goes on (and finds nothing there). */
	c.smtp_starttls = 1;
	ck_assert_int_eq(smtp_send(&c, "a@b.test", "c@d.test", "x", 1, 2000,
	    &unsure, err, sizeof(err)), XERR_UPSTREAM);
	ck_assert_ptr_null(strstr(err, "SMTP_STARTTLS"));
}
END_TEST


/* ---- a scripted relay ------------------------------------------------- */

/* The replies of a relay; end NULL hangs up after the data, unanswered. */
struct relay {
	const char	*mail;		/* to MAIL FROM */
	const char	*rcpt;		/* to RCPT TO */
	const char	*end;		/* to the end of data */
};

/* Reads one line, CRLF included, from fd; returns its length, 0 at EOF. */
static size_t
relay_line(int fd, char *line, size_t sz)
{
	size_t	 n = 0;
	char	 c;

	while (n + 1 < sz && read(fd, &c, 1) == 1) {
		line[n++] = c;
		if (c == '\n')
			break;
	}
	line[n] = '\0';
	return n;
}

/* Writes s to fd or ends the child. */
static void
relay_say(int fd, const char *s)
{
	size_t	 len = strlen(s);

	if (write(fd, s, len) != (ssize_t)len)
		_exit(3);
}

/* The child: serves one connection as r says, copies the data to out. */
static void
relay_serve(int lfd, const struct relay *r, int out)
{
	char	 line[1024];
	size_t	 n;
	int	 fd;

	if ((fd = accept(lfd, NULL, NULL)) < 0)
		_exit(2);
	relay_say(fd, "220 scripted relay\r\n");
	while (relay_line(fd, line, sizeof(line)) > 0) {
		if (strncasecmp(line, "EHLO", 4) == 0 ||
		    strncasecmp(line, "HELO", 4) == 0)
			relay_say(fd, "250 scripted\r\n");
		else if (strncasecmp(line, "MAIL", 4) == 0)
			relay_say(fd, r->mail);
		else if (strncasecmp(line, "RCPT", 4) == 0)
			relay_say(fd, r->rcpt);
		else if (strncasecmp(line, "DATA", 4) == 0) {
			relay_say(fd, "354 go ahead\r\n");
			while ((n = relay_line(fd, line, sizeof(line))) > 0 &&
			    strcmp(line, ".\r\n") != 0)
				if (write(out, line, n) != (ssize_t)n)
					_exit(4);
			if (r->end == NULL)
				_exit(0);
			relay_say(fd, r->end);
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			relay_say(fd, "221 bye\r\n");
			break;
		} else
			relay_say(fd, "502 unknown\r\n");
	}
	_exit(0);
}

/*
 * Sends a small message through a relay scripted by r; writes what the
 * relay received as data to got.  Returns smtp_send()'s result.
 */
static enum xerr
relay_send(const struct relay *r, int *unsure, char *err, size_t errsz,
    char *got, size_t gotsz)
{
	static const char	 msg[] = "Subject: x\r\n\r\nline\r\n.\r\n"
	    "..two\r\n.x\r\nend\r\n";
	struct sockaddr_in	 sa;
	socklen_t		 sl = sizeof(sa);
	struct cfg		 c;
	char			 url[64];
	int			 lfd, p[2], st;
	size_t			 n = 0;
	ssize_t			 k;
	pid_t			 pid;
	enum xerr		 rc;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(lfd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(p[0]);
		relay_serve(lfd, r, p[1]);
	}
	close(lfd);
	close(p[1]);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d",
	    (int)ntohs(sa.sin_port));
	cfg_init(&c, url, (char *)"");
	rc = smtp_send(&c, "a@b.test", "c@d.test", msg, sizeof(msg) - 1,
	    5000, unsure, err, errsz);
	while (n + 1 < gotsz && (k = read(p[0], got + n, gotsz - n - 1)) > 0)
		n += (size_t)k;
	got[n] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return rc;
}

START_TEST(relay_accepts)
{
	static const struct relay r = { "250 ok\r\n", "250 ok\r\n",
	    "250 queued\r\n" };
	char	 err[256], got[1024];
	int	 unsure = -1;

	ck_assert_int_eq(relay_send(&r, &unsure, err, sizeof(err), got,
	    sizeof(got)), XERR_OK);
	ck_assert_int_eq(unsure, 0);
	/* Lines starting with '.' went out with one more (RFC 5321 4.5.2). */
	ck_assert_str_eq(got, "Subject: x\r\n\r\nline\r\n..\r\n"
	    "...two\r\n..x\r\nend\r\n");
}
END_TEST

/* A reply, where it came, and what smtp_send() must make of it. */
static const struct {
	struct relay	 r;
	enum xerr	 rc;
	int		 unsure;
	const char	*says;
} outcomes[] = {
	{ { "421 busy\r\n", "250 ok\r\n", "250 ok\r\n" },
	  XERR_UPSTREAM, 0, "MAIL failed: 421" },
	{ { "250 ok\r\n", "450 mailbox busy\r\n", "250 ok\r\n" },
	  XERR_UPSTREAM, 0, "RCPT failed: 450" },
	{ { "250 ok\r\n", "550 no such user\r\n", "250 ok\r\n" },
	  XERR_UNPROCESSABLE, 0, "RCPT failed: 550" },
	{ { "553 sender refused\r\n", "250 ok\r\n", "250 ok\r\n" },
	  XERR_UNPROCESSABLE, 0, "MAIL failed: 553" },
	{ { "250 ok\r\n", "250 ok\r\n", "451 local error\r\n" },
	  XERR_UPSTREAM, 0, "reply 451" },
	{ { "250 ok\r\n", "250 ok\r\n", "554 content refused\r\n" },
	  XERR_UNPROCESSABLE, 0, "reply 554, permanent" },
	/* Hung up after the data: the message may have been accepted. */
	{ { "250 ok\r\n", "250 ok\r\n", NULL },
	  XERR_UPSTREAM, 1, "maybe delivered" },
};

START_TEST(relay_outcome)
{
	char	 err[256], got[1024];
	int	 unsure = -1;
	size_t	 i = (size_t)_i;

	ck_assert_int_eq(relay_send(&outcomes[i].r, &unsure, err,
	    sizeof(err), got, sizeof(got)), outcomes[i].rc);
	ck_assert_int_eq(unsure, outcomes[i].unsure);
	ck_assert_msg(strstr(err, outcomes[i].says) != NULL, "err \"%s\"",
	    err);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("smtp");
	TCase	*tc;
	SRunner	*sr;
	int	 nfail;

	tc = tcase_create("addr");
	tcase_add_loop_test(tc, addr_ok, 0,
	    (int)(sizeof(addrs) / sizeof(addrs[0])));
	tcase_add_test(tc, addr_limits);
	tcase_add_test(tc, addr_spec);
	suite_add_tcase(s, tc);

	tc = tcase_create("send");
	tcase_add_test(tc, send_refused_is_retryable);
	tcase_add_test(tc, send_bad_envelope);
	tcase_add_test(tc, send_no_clear_credentials);
	suite_add_tcase(s, tc);

	tc = tcase_create("relay");
	tcase_add_test(tc, relay_accepts);
	tcase_add_loop_test(tc, relay_outcome, 0,
	    (int)(sizeof(outcomes) / sizeof(outcomes[0])));
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? 0 : 1;
}
