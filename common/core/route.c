#include <string.h>

#include "core/req.h"
#include "core/route.h"

static int
route_match(const struct route *rt, const char *path)
{
	size_t	 n = strlen(rt->path);

	if (rt->prefix)
		return strncmp(path, rt->path, n) == 0 && path[n] != '\0';
	return strcmp(path, rt->path) == 0;
}

void
route_dispatch(struct req *r, const struct route *routes, size_t n)
{
	size_t	 i;
	int	 path_seen = 0;

	for (i = 0; i < n; i++) {
		if (!route_match(&routes[i], r->path))
			continue;
		path_seen = 1;
		if (strcmp(routes[i].method, r->method) == 0) {
			r->path_rest = routes[i].prefix ?
			    r->path + strlen(routes[i].path) : "";
			routes[i].fn(r);
			return;
		}
	}
	if (path_seen)
		req_error(r, XERR_METHOD, NULL, "method %s not allowed here",
		    r->method);
	else
		req_error(r, XERR_NOTFOUND, NULL, "no such endpoint");
}

