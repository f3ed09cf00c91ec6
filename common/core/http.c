#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"

#define HTTP_REQUEST_ID_MAX	128	/* longer header values are not kept */
#define HTTP_USER_AGENT		"xswarm-billing/1"

struct http {
	const struct cfg	*cfg;		/* borrowed */
	CURL			*curl;
	unsigned long		 timeout_ms;	/* 0: cfg->http_timeout_ms */
	char			 err[CURL_ERROR_SIZE];
};

/* What the callbacks of one transfer fill. */
struct http_xfer {
	struct buf	*body;
	char		*request_id;
	char		*should_retry;
	char		*replayed;
	int		 over;		/* the reply passed the cap */
	int		 nomem;
};

/* The headers whose value is kept, and where in the transfer. */
static const struct {
	const char	*name;
	size_t		 off;
} http_kept[] = {
	{ "Request-Id", offsetof(struct http_xfer, request_id) },
	{ "X-Request-Id", offsetof(struct http_xfer, request_id) },
	{ "Twilio-Request-Id", offsetof(struct http_xfer, request_id) },
	{ "Stripe-Should-Retry", offsetof(struct http_xfer, should_retry) },
	{ "Idempotent-Replayed", offsetof(struct http_xfer, replayed) },
};

#define HTTP_NKEPT	(sizeof(http_kept) / sizeof(http_kept[0]))

void
http_library_init(void)
{
	/* Reference-counted: the threads' http_open() calls only add one. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		log_fatalx("libcurl failed to initialise");
}

enum xerr
http_open(const struct cfg *cfg, struct http **out)
{
	struct http	*h;

	*out = NULL;
	/* Reference-counted by libcurl; undone in http_close(). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return XERR_INTERNAL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		curl_global_cleanup();
		return XERR_NOMEM;
	}
	h->cfg = cfg;
	if ((h->curl = curl_easy_init()) == NULL) {
		free(h);
		curl_global_cleanup();
		return XERR_INTERNAL;
	}
	*out = h;
	return XERR_OK;
}

void
http_set_timeout(struct http *h, unsigned long ms)
{
	h->timeout_ms = ms;
}

void
http_close(struct http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
	curl_global_cleanup();
}

void
http_resp_clear(struct http_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->request_id);
	free(r->should_retry);
	free(r->replayed);
	memset(r, 0, sizeof(*r));
}

void
http_url_host(const char *url, char *host, size_t sz)
{
	const char	*a, *end, *at;

	if ((a = strstr(url, "://")) != NULL)
		a += 3;
	else
		a = url;
	end = a + strcspn(a, "/?#");
	for (at = end; at > a && at[-1] != '@'; at--)
		continue;
	if (at == end)
		snprintf(host, sz, "-");
	else
		snprintf(host, sz, "%.*s", (int)(end - at), at);
}

/* Returns 1 for a plausible method: 1 to 16 capital letters. */
static int
http_method_ok(const char *m)
{
	size_t	 i;

	for (i = 0; m[i] != '\0'; i++)
		if (m[i] < 'A' || m[i] > 'Z' || i == 16)
			return 0;
	return i > 0;
}

static size_t
http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer	*x = arg;
	size_t			 len = size * n;
	enum xerr		 rc;

	if ((rc = buf_append(x->body, p, len)) != XERR_OK) {
		if (rc == XERR_TOOBIG)
			x->over = 1;
		else
			x->nomem = 1;
		return 0;	/* anything but len aborts the transfer */
	}
	return len;
}

/* Frees the header values x kept and forgets them. */
static void
http_xfer_forget(struct http_xfer *x)
{
	size_t	 i;
	char	**slot;

	for (i = 0; i < HTTP_NKEPT; i++) {
		slot = (char **)(void *)((char *)x + http_kept[i].off);
		free(*slot);
		*slot = NULL;
	}
}

/*
 * Keeps the value of a header of http_kept.  Values are trimmed and kept
 * only when short and printable: they end up in our logs.
 */
static size_t
http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer	*x = arg;
	size_t			 len = size * n, nl, i;
	const char		*v, *e, *q;
	char			*val, **slot;

	/* A new status line (after a 100 Continue, say) starts afresh. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		http_xfer_forget(x);
		return len;
	}
	for (i = 0; i < HTTP_NKEPT; i++) {
		nl = strlen(http_kept[i].name);
		if (len <= nl || p[nl] != ':' ||
		    strncasecmp(p, http_kept[i].name, nl) != 0)
			continue;
		v = p + nl + 1;
		e = p + len;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r' || e[-1] == '\n'))
			e--;
		if (v == e || (size_t)(e - v) > HTTP_REQUEST_ID_MAX)
			return len;
		for (q = v; q < e; q++)
			if (*q < 0x21 || *q > 0x7e)
				return len;
		if ((val = strndup(v, (size_t)(e - v))) == NULL) {
			x->nomem = 1;
			return 0;
		}
		slot = (char **)(void *)((char *)x + http_kept[i].off);
		free(*slot);
		*slot = val;
		break;
	}
	return len;
}

/*
 * Sets every option of one call on a handle just reset.  Returns 0, or -1
 * when libcurl refuses an option.
 */
static int
http_setopts(struct http *h, const struct http_req *req,
    struct curl_slist *hdrs, struct http_xfer *x)
{
	const struct cfg	*cfg = h->cfg;
	CURL			*c = h->curl;
	int			 bad = 0;

	h->err[0] = '\0';
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->err) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->http_connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms ?
	    req->timeout_ms : h->timeout_ms ? h->timeout_ms :
	    cfg->http_timeout_ms)) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 15L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, HTTP_USER_AGENT) !=
	    CURLE_OK;
	/* A Content-Length over the cap fails before a byte is read. */
	bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)cfg->http_max_response) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, x) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, x) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
	if (req->userpwd != NULL) {
		bad |= curl_easy_setopt(c, CURLOPT_HTTPAUTH,
		    (long)CURLAUTH_BASIC) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_USERPWD, req->userpwd) !=
		    CURLE_OK;
	}

	if (strcmp(req->method, "GET") == 0)
		bad |= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	else if (strcmp(req->method, "HEAD") == 0)
		bad |= curl_easy_setopt(c, CURLOPT_NOBODY, 1L) != CURLE_OK;
	else {
		if (strcmp(req->method, "POST") != 0)
			bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
			    req->method) != CURLE_OK;
		if (req->body != NULL || strcmp(req->method, "POST") == 0) {
			bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)req->bodylen) != CURLE_OK;
			bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS,
			    req->body != NULL ? req->body : "") != CURLE_OK;
		}
	}
	return bad ? -1 : 0;
}

/* Counts a finished transfer by upstream, reply status and duration. */
static void
http_count(struct http *h, const char *url, CURLcode cc)
{
	curl_off_t	 usec = 0;
	long		 status = 0;

	if (cc == CURLE_OK)
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h->curl, CURLINFO_TOTAL_TIME_T, &usec);
	metrics_upstream(metrics_upstream_of(h->cfg, url), status,
	    usec > 0 ? (uint64_t)usec : 0);
}

enum xerr
http_do(struct http *h, const struct http_req *req, struct http_resp *out)
{
	struct http_xfer	 x;
	struct curl_slist	*hdrs = NULL, *t;
	char			 host[256];
	long			 status = 0;
	size_t			 i;
	CURLcode		 cc;
	enum xerr		 rc;

	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	if (req->method == NULL || req->url == NULL ||
	    !http_method_ok(req->method))
		return XERR_BADREQ;
	if (req->body != NULL && (strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0))
		return XERR_BADREQ;
	/* CR or LF in a header would let a value smuggle in more headers. */
	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i] == NULL ||
		    strpbrk(req->headers[i], "\r\n") != NULL)
			return XERR_BADREQ;

	rc = XERR_NOMEM;
	if ((x.body = buf_new(h->cfg->http_max_response)) == NULL)
		goto fail;
	for (i = 0; i < req->nheaders; i++) {
		if ((t = curl_slist_append(hdrs, req->headers[i])) == NULL)
			goto fail;
		hdrs = t;
	}
	/* No "Expect: 100-continue" round trip before a body. */
	if ((t = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto fail;
	hdrs = t;

	if (http_setopts(h, req, hdrs, &x) != 0) {
		rc = XERR_INTERNAL;
		goto fail;
	}
	cc = curl_easy_perform(h->curl);
	http_count(h, req->url, cc);
	if (cc != CURLE_OK) {
		if (x.nomem)
			goto fail;
		http_url_host(req->url, host, sizeof(host));
		if (x.over || cc == CURLE_FILESIZE_EXCEEDED)
			log_warnx("http: %s %s: reply over %lu bytes",
			    req->method, host, h->cfg->http_max_response);
		else
			log_warnx("http: %s %s: %s", req->method, host,
			    h->err[0] != '\0' ? h->err :
			    curl_easy_strerror(cc));
		rc = XERR_UPSTREAM;
		goto fail;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if ((out->body = buf_steal(x.body, &out->len)) == NULL)
		goto fail;
	out->status = status;
	out->request_id = x.request_id;
	out->should_retry = x.should_retry;
	out->replayed = x.replayed;
	x.request_id = x.should_retry = x.replayed = NULL;
	rc = XERR_OK;
fail:
	/*
	 * The handle must not keep pointers into req or hdrs, and the next
	 * call starts from defaults; connections and caches survive a reset.
	 */
	curl_easy_reset(h->curl);
	curl_slist_free_all(hdrs);
	buf_free(x.body);
	http_xfer_forget(&x);
	return rc;
}

/* Appends s with every byte but RFC 3986's unreserved ones as %XX. */
static enum xerr
http_pct(struct buf *out, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			 chunk[192];
	size_t			 n = 0;
	unsigned char		 c;
	enum xerr		 rc;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			chunk[n++] = (char)c;
		else {
			chunk[n++] = '%';
			chunk[n++] = hex[c >> 4];
			chunk[n++] = hex[c & 0x0f];
		}
		if (n > sizeof(chunk) - 3) {
			if ((rc = buf_append(out, chunk, n)) != XERR_OK)
				return rc;
			n = 0;
		}
	}
	return buf_append(out, chunk, n);
}

enum xerr
http_form_add(struct buf *form, const char *name, const char *value)
{
	enum xerr	 rc;

	if (name == NULL || name[0] == '\0' || value == NULL)
		return XERR_BADREQ;
	if ((buf_len(form) > 0 && (rc = buf_puts(form, "&")) != XERR_OK) ||
	    (rc = http_pct(form, name)) != XERR_OK ||
	    (rc = buf_puts(form, "=")) != XERR_OK ||
	    (rc = http_pct(form, value)) != XERR_OK)
		return rc;
	return XERR_OK;
}

enum xerr
http_path_escape(const char *segment, struct buf *out)
{
	if (segment == NULL || segment[0] == '\0' ||
	    strcmp(segment, ".") == 0 || strcmp(segment, "..") == 0)
		return XERR_BADREQ;
	return http_pct(out, segment);
}
