/*
 * req: one HTTP request as FastCGI hands it to us, and the reply.
 *
 * The server module fills a struct req for every request and passes it to
 * the program's handler; the handler answers with req_reply_json() or
 * req_error() exactly once.  Reading and writing go through two function
 * pointers so the parsing here can be tested without a FastCGI peer.
 */
#ifndef REQ_H
#define REQ_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/cfg.h"
#include "core/kv.h"
#include "core/xerr.h"

struct db;
struct http;

/* Reads up to n bytes of the request body; returns bytes read, 0 at end, -1 on error. */
typedef int	(*req_read_fn)(void *io, char *buf, int n);
/* Writes n bytes of the reply; returns n or -1. */
typedef int	(*req_write_fn)(void *io, const char *buf, int n);

#define REQ_ID_MAX	64

struct req {
	const struct cfg *cfg;		/* borrowed */
	struct db	*db;		/* borrowed, the process's connection */
	struct http	*http;		/* borrowed, the process's client */
	void		*arg;		/* program state, borrowed */

	char		 id[REQ_ID_MAX + 1];	/* request id, for every log line */
	const char	*method;	/* "GET", ... (borrowed from params) */
	const char	*path;		/* decoded path, no query */
	const char	*path_rest;	/* after a prefix route's path, else "" */
	const char	*content_type;	/* "" when absent */
	const char	*remote_addr;	/* client address as nginx saw it */
	struct kv	*query;		/* parsed query string, never NULL */
	char		*body;		/* raw body, NUL-terminated */
	size_t		 bodylen;

	int		 status;	/* status answered, 0 before */
	char		 error_code[48];	/* code of req_error*(), else "" */

	/* Set by auth_require() for authenticated API calls. */
	char		 user_id[65];
	int		 role;		/* enum jwt_role */
	/*
	 * The key of an admin or service token: the first 8 characters of
	 * its public key as configured (base64url); "" for a user token.
	 */
	char		 key_id[9];

	/* private */
	char		**env;
	req_read_fn	 rd;
	req_write_fn	 wr;
	void		*io;
};

/*
 * Prepares r from the FastCGI parameters env (borrowed for the request's
 * life): method, path, query, request id, and the body, read whole when a
 * CONTENT_LENGTH is given and no larger than cfg->max_body.
 * Returns XERR_BADREQ for a malformed query or length, XERR_TOOBIG for a
 * body over the cap (nothing is read then), XERR_NOMEM.  Even on error r can
 * be answered with req_error().  Release with req_clear().
 */
enum xerr	 req_open(struct req *r, const struct cfg *cfg, char **env,
		    req_read_fn rd, req_write_fn wr, void *io);

/* Frees what req_open() allocated. */
void		 req_clear(struct req *r);

/* Returns a FastCGI parameter (borrowed) or NULL. */
const char	*req_param(const struct req *r, const char *name);

/*
 * Returns a request header by its HTTP name, e.g. "Stripe-Signature"
 * (looked up as HTTP_STRIPE_SIGNATURE), borrowed, or NULL.
 */
const char	*req_header(const struct req *r, const char *name);

/* Returns 1 when the body's media type is mime (parameters ignored). */
int		 req_is_type(const struct req *r, const char *mime);

/*
 * Parses the body as JSON with jsonx_parse() (strict; see core/jsonx.h).
 * *out is the root (caller puts it).
 * XERR_MEDIATYPE when the content type is not application/json,
 * XERR_BADREQ when malformed.
 */
enum xerr	 req_json(const struct req *r, struct json_object **out);

/*
 * Parses an application/x-www-form-urlencoded body.  *out: caller frees
 * with kv_free().  XERR_MEDIATYPE, XERR_BADREQ.
 */
enum xerr	 req_form(const struct req *r, struct kv **out);

/*
 * Writes a reply: status line, Content-Type, Content-Length, extra headers
 * (each "Name: value\r\n", or NULL), body.  Only the first reply of a
 * request is written; later calls are logged and dropped.
 */
void		 req_reply(struct req *r, int status, const char *ctype,
		    const char *extra, const char *body, size_t len);

/* Writes obj as a JSON reply. Does not put obj. */
void		 req_reply_json(struct req *r, int status,
		    struct json_object *obj);

/*
 * Replaces, in place, every byte of s that is not part of valid UTF-8 by
 * '?' (a message cut by "%.64s" in the middle of a character, client
 * bytes quoted in an error), so that it can go into JSON or a utf8mb4
 * column: jsonx_utf8_scrub (core/jsonx.h), for handlers.
 */
void		 req_utf8_scrub(char *s);

/*
 * Answers a failure that is not the client's, about what (a few words,
 * e.g. "recording usage"): 503 database_unavailable when the database is
 * away or the server aborted the transaction (with Retry-After: 1: the
 * client tries again), else 500.
 */
void		 req_fail(struct req *r, enum xerr rc, const char *what);

/*
 * The one error writer: {"error":{"code":"...","message":"..."}} with the
 * status of rc.  code NULL means xerr_code(rc).
 */
void		 req_error(struct req *r, enum xerr rc, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The same with an HTTP status that no enum xerr maps to (402, say) and
 * extra headers (each "Name: value\r\n", e.g. Retry-After, or NULL).
 */
void		 req_error_status(struct req *r, int status, const char *extra,
		    const char *code, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));

#endif
