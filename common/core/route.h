/*
 * route: dispatch of a request to a handler by method and path.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

struct req;

struct route {
	const char	*method;	/* "GET", "POST", ... */
	const char	*path;		/* exact path, or a prefix ending in '/' when prefix is set */
	int		 prefix;	/* 1: path is a prefix; the rest goes to r->path_rest */
	void		(*fn)(struct req *r);
};

/*
 * Calls the handler of the first route matching r's method and path.
 * Answers 404 when no path matches and 405 when the path matches under
 * another method.
 */
void		 route_dispatch(struct req *r, const struct route *routes,
		    size_t n);

#endif
