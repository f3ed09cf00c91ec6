/*
 * loopback: the listening socket of the tiny HTTP servers some unit tests
 * fork (check_http.c, check_stripe.c).  Header only: each test binary is
 * built from its one source file.
 */
#ifndef LOOPBACK_H
#define LOOPBACK_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

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

#endif
