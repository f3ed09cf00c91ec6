#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/req.h"

const char *
req_param(const struct req *r, const char *name)
{
	size_t	 len = strlen(name);
	char	**e;

	if (r->env == NULL)
		return NULL;
	for (e = r->env; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

const char *
req_header(const struct req *r, const char *name)
{
	char	 key[128];
	size_t	 i, n;

	memcpy(key, "HTTP_", 5);
	n = 5;
	for (i = 0; name[i] != '\0' && n + 1 < sizeof(key); i++)
		key[n++] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	key[n] = '\0';
	if (name[i] != '\0')
		return NULL;
	if (strcmp(key, "HTTP_CONTENT_TYPE") == 0)
		return req_param(r, "CONTENT_TYPE");
	if (strcmp(key, "HTTP_CONTENT_LENGTH") == 0)
		return req_param(r, "CONTENT_LENGTH");
	return req_param(r, key);
}

/* Accepts a request id from nginx only when it is short and plain. */
static void
req_set_id(struct req *r)
{
	const char	*id = req_param(r, "REQUEST_ID");
	static unsigned long n;
	size_t		 len;

	if (id != NULL && (len = strlen(id)) > 0 && len <= REQ_ID_MAX &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == len) {
		memcpy(r->id, id, len + 1);
		return;
	}
	snprintf(r->id, sizeof(r->id), "local-%ld-%lu", (long)getpid(),
	    __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED));
}

/* Reads exactly len bytes of body; XERR_BADREQ when the peer sends fewer. */
static enum xerr
req_read_body(struct req *r, size_t len)
{
	size_t	 got = 0;
	int	 n;

	if ((r->body = malloc(len + 1)) == NULL)
		return XERR_NOMEM;
	while (got < len) {
		n = r->rd(r->io, r->body + got,
		    len - got > 65536 ? 65536 : (int)(len - got));
		if (n <= 0)
			return XERR_BADREQ;
		got += (size_t)n;
	}
	r->body[len] = '\0';
	r->bodylen = len;
	return XERR_OK;
}

enum xerr
req_open(struct req *r, const struct cfg *cfg, char **env, req_read_fn rd,
    req_write_fn wr, void *io)
{
	const char	*qs, *cl, *p;
	char		*end;
	unsigned long long len = 0;
	enum xerr	 rc;

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->env = env;
	r->rd = rd;
	r->wr = wr;
	r->io = io;
	req_set_id(r);
	log_set_rid(r->id);
	if ((r->method = req_param(r, "REQUEST_METHOD")) == NULL)
		r->method = "GET";
	if ((p = req_param(r, "DOCUMENT_URI")) == NULL &&
	    (p = req_param(r, "SCRIPT_NAME")) == NULL)
		p = "/";
	r->path = p;
	if ((r->content_type = req_param(r, "CONTENT_TYPE")) == NULL)
		r->content_type = "";
	if ((r->remote_addr = req_param(r, "REMOTE_ADDR")) == NULL)
		r->remote_addr = "-";
	if ((qs = req_param(r, "QUERY_STRING")) == NULL)
		qs = "";
	if ((rc = kv_parse(qs, strlen(qs), &r->query)) != XERR_OK) {
		if ((r->query = kv_new()) == NULL)
			return XERR_NOMEM;
		return rc;
	}

	cl = req_param(r, "CONTENT_LENGTH");
	if (cl != NULL && *cl != '\0') {
		errno = 0;
		if (!isdigit((unsigned char)*cl) ||
		    (len = strtoull(cl, &end, 10), errno != 0) || *end != '\0')
			return XERR_BADREQ;
		if (len > cfg->max_body)
			return XERR_TOOBIG;
	}
	return req_read_body(r, (size_t)len);
}

void
req_clear(struct req *r)
{
	kv_free(r->query);
	free(r->body);
	r->query = NULL;
	r->body = NULL;
	log_set_rid(NULL);
}

int
req_is_type(const struct req *r, const char *mime)
{
	size_t	 n = strlen(mime);
	const char *ct = r->content_type;

	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, mime, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

enum xerr
req_json(const struct req *r, struct json_object **out)
{
	*out = NULL;
	if (!req_is_type(r, "application/json"))
		return XERR_MEDIATYPE;
	return jsonx_parse(r->body != NULL ? r->body : "", r->bodylen, out);
}

enum xerr
req_form(const struct req *r, struct kv **out)
{
	*out = NULL;
	if (!req_is_type(r, "application/x-www-form-urlencoded"))
		return XERR_MEDIATYPE;
	return kv_parse(r->body != NULL ? r->body : "", r->bodylen, out);
}

static const char *
req_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

void
req_reply(struct req *r, int status, const char *ctype, const char *extra,
    const char *body, size_t len)
{
	char	 head[512];
	int	 n;

	if (r->status != 0) {
		log_errorx("second reply %d dropped (already %d)", status,
		    r->status);
		return;
	}
	r->status = status;
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s\r\n", status, req_reason(status),
	    ctype, len, extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		log_errorx("reply header too long");
		return;
	}
	if (r->wr(r->io, head, n) < 0 ||
	    (len > 0 && r->wr(r->io, body, (int)len) < 0))
		log_warnx("reply write failed (client gone?)");
}

void
req_reply_json(struct req *r, int status, struct json_object *obj)
{
	size_t		 len;
	const char	*s;

	s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL) {
		req_error(r, XERR_NOMEM, NULL, "out of memory");
		return;
	}
	req_reply(r, status, "application/json", NULL, s, len);
}

void
req_utf8_scrub(char *s)
{
	jsonx_utf8_scrub(s);
}

static const char req_oom[] =
    "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}";

/*
 * Writes {"error":{"code","message"}} with status and the extra headers
 * (each "Name: value\r\n", or NULL); the message is fmt with ap.
 */
static void __attribute__((format(printf, 5, 0)))
req_verror(struct req *r, int status, const char *extra, const char *code,
    const char *fmt, va_list ap)
{
	char			 msg[512];
	struct json_object	*root, *err;
	const char		*s;
	size_t			 len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	req_utf8_scrub(msg);
	if (r->status == 0)
		snprintf(r->error_code, sizeof(r->error_code), "%s", code);
	if (status >= 500)
		log_warnx("%d %s: %s", status, code, msg);
	else
		log_info("%d %s: %s", status, code, msg);
	root = json_object_new_object();
	err = json_object_new_object();
	if (root == NULL || err == NULL) {
		json_object_put(root);
		json_object_put(err);
		req_reply(r, 500, "application/json", NULL, req_oom,
		    sizeof(req_oom) - 1);
		return;
	}
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(msg));
	json_object_object_add(root, "error", err);
	s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL)
		req_reply(r, 500, "application/json", NULL, req_oom,
		    sizeof(req_oom) - 1);
	else
		req_reply(r, status, "application/json", extra, s, len);
	json_object_put(root);
}

void
req_error(struct req *r, enum xerr rc, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	req_verror(r, xerr_status(rc), NULL, code != NULL ? code :
	    xerr_code(rc), fmt, ap);
	va_end(ap);
}

void
req_error_status(struct req *r, int status, const char *extra,
    const char *code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	req_verror(r, status, extra, code, fmt, ap);
	va_end(ap);
}

void
req_fail(struct req *r, enum xerr rc, const char *what)
{
	if (xerr_db_retry(rc)) {
		req_error_status(r, xerr_status(XERR_UNAVAILABLE),
		    "Retry-After: 1\r\n", "database_unavailable",
		    "%s failed; try again", what);
		return;
	}
	switch (rc) {
	case XERR_NOMEM:
	case XERR_DB:
		req_error(r, rc, NULL, "%s failed", what);
		break;
	default:
		req_error(r, XERR_INTERNAL, NULL, "%s failed", what);
		break;
	}
}
