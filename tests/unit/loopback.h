/*
 * loopback: the listening socket of the tiny HTTP servers some unit tests
 * fork (check_http.c, check_stripe.c, check_twilio.c), and a server of
 * canned replies (check_stripe.c, check_rest.c).  Header only: each test
 * binary is built from its one source file.
 */
#ifndef LOOPBACK_H
#define LOOPBACK_H

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

/*
 * Returns a socket listening on 127.0.0.1 at a port the kernel picks, and
 * writes the port to *port.  Fails the test when it cannot.
 */
static inline int
loopback_listen(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	int			 s, one = 1;

	ck_assert_int_ge(s = socket(AF_INET, SOCK_STREAM, 0), 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(s, 8), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &slen), 0);
	*port = ntohs(sin.sin_port);
	return s;
}

/*
 * A child process on 127.0.0.1 answers each request with the canned reply
 * of the first entry whose prefix its request line starts with (and whose
 * has, when set, is in its head); the entry with a NULL prefix ends the
 * table and answers the rest.  The child writes the head (and body) of
 * each request it read to a pipe, so a test can check what was sent.  One
 * request per connection.
 */
struct canned {
	const char	*prefix;	/* of "METHOD /path?query" */
	const char	*head;		/* status line and headers, CRLF each */
	const char	*body;
	const char	*has;		/* and in the request's head, or NULL */
};

/* Reads one request head (and a body of Content-Length) from fd into in. */
static inline size_t
loopback_read(int fd, char *in, size_t sz)
{
	size_t	 have = 0, need = 0;
	ssize_t	 n;
	char	*end, *cl;

	for (;;) {
		if (have == sz - 1 || (n = read(fd, in + have,
		    sz - 1 - have)) <= 0)
			return have;
		have += (size_t)n;
		in[have] = '\0';
		if ((end = strstr(in, "\r\n\r\n")) == NULL)
			continue;
		if (need == 0) {
			cl = strcasestr(in, "\r\nContent-Length:");
			need = (size_t)(end - in) + 4 +
			    (cl != NULL && cl < end ? strtoul(cl + 17, NULL,
			    10) : 0);
		}
		if (have >= need)
			return have;
	}
}

/* Serves connections of s forever with the replies of table. */
static inline void
loopback_serve(int s, int logfd, const struct canned *table)
{
	static char	 in[16384], out[16384];
	const struct canned *c;
	int		 fd, len;

	for (;;) {
		if ((fd = accept(s, NULL, NULL)) < 0)
			_exit(1);
		if (loopback_read(fd, in, sizeof(in)) == 0) {
			close(fd);
			continue;
		}
		if (write(logfd, in, strlen(in) + 1) < 0)
			_exit(1);
		for (c = table; c->prefix != NULL; c++)
			if (strncmp(in, c->prefix, strlen(c->prefix)) == 0 &&
			    (c->has == NULL || strstr(in, c->has) != NULL))
				break;
		len = snprintf(out, sizeof(out), "%sContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s", c->head, strlen(c->body),
		    c->body);
		if (write(fd, out, (size_t)len) < 0)
			_exit(1);
		close(fd);
	}
}

/*
 * Forks the server of table (it dies with the test, or after 20 s);
 * writes its port to *port and the read end of its pipe to *logfd.
 * Returns its pid (the caller kills and reaps it).
 */
static inline pid_t
loopback_canned(const struct canned *table, int *port, int *logfd)
{
	int	 s, p[2];
	pid_t	 pid;

	ck_assert_int_eq(pipe(p), 0);
	s = loopback_listen(port);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		close(p[0]);
		loopback_serve(s, p[1], table);
	}
	close(s);
	close(p[1]);
	*logfd = p[0];
	return pid;
}

/* Returns the next request the server of logfd read (static). */
static inline const char *
loopback_next(int logfd)
{
	static char	 head[16384];
	size_t		 n = 0;

	while (n < sizeof(head) - 1 && read(logfd, head + n, 1) == 1 &&
	    head[n] != '\0')
		n++;
	head[n] = '\0';
	return head;
}

#endif
