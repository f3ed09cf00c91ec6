#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "remote/smtp.h"

/* What the read callback hands libcurl: the rest of the message. */
struct smtp_src {
	const char	*p;
	size_t		 left;
};

/* Copies the next part of the message into libcurl's upload buffer. */
static size_t
smtp_read_cb(char *dst, size_t size, size_t n, void *arg)
{
	struct smtp_src	*s = arg;
	size_t		 len = size * n;

	if (len > s->left)
		len = s->left;
	memcpy(dst, s->p, len);
	s->p += len;
	s->left -= len;
	return len;
}

int
smtp_addr_ok(const char *addr)
{
	const char	*p, *at = NULL;
	size_t		 len;
	unsigned char	 c;

	if (addr == NULL)
		return 0;
	len = strlen(addr);
	if (len < 3 || len > SMTP_ADDR_MAX)
		return 0;
	for (p = addr; *p != '\0'; p++) {
		c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || strchr("<>()[]\\,;:\"", c))
			return 0;
		if (c == '@') {
			if (at != NULL)
				return 0;
			at = p;
		}
	}
	return at != NULL && at != addr && at[1] != '\0';
}

enum xerr
smtp_addr_spec(const char *value, char *out, size_t outsz)
{
	const char	*lt, *gt;
	size_t		 n;

	if (outsz == 0)
		return XERR_BADREQ;
	out[0] = '\0';
	if (value == NULL)
		return XERR_BADREQ;
	if ((lt = strrchr(value, '<')) != NULL) {
		if ((gt = strchr(lt, '>')) == NULL)
			return XERR_BADREQ;
		lt++;
		n = (size_t)(gt - lt);
	} else {
		lt = value + strspn(value, " \t");
		n = strlen(lt);
		while (n > 0 && (lt[n - 1] == ' ' || lt[n - 1] == '\t'))
			n--;
	}
	if (n >= outsz)
		return XERR_BADREQ;
	memcpy(out, lt, n);
	out[n] = '\0';
	if (!smtp_addr_ok(out)) {
		out[0] = '\0';
		return XERR_BADREQ;
	}
	return XERR_OK;
}

/* Returns 1 when the relay is reached over TLS (smtps://, or STARTTLS). */
static int
smtp_tls(const struct cfg *cfg)
{
	return cfg->smtp_starttls ||
	    strncasecmp(cfg->smtp_url, "smtps://", 8) == 0;
}

enum xerr
smtp_send(const struct cfg *cfg, const char *from, const char *rcpt,
    const char *msg, size_t len, unsigned long timeout_ms, int *unsure,
    char *err, size_t errsz)
{
	CURL			*c = NULL;
	struct curl_slist	*rcpts = NULL;
	struct smtp_src		 src;
	char			 ebuf[CURL_ERROR_SIZE], host[256];
	char			 mfrom[SMTP_ADDR_MAX + 3];
	long			 code = 0;
	curl_off_t		 us = 0;
	int			 bad = 0, permanent;
	CURLcode		 cc;
	enum xerr		 rc;

	err[0] = '\0';
	*unsure = 0;
	if (!smtp_addr_ok(from) || !smtp_addr_ok(rcpt)) {
		snprintf(err, errsz, "smtp: unusable envelope address");
		return XERR_BADREQ;
	}
	http_url_host(cfg->smtp_url, host, sizeof(host));
	/* Credentials never cross the network in clear outside the sandbox. */
	if (cfg->smtp_user[0] != '\0' && !cfg->sandbox && !smtp_tls(cfg)) {
		snprintf(err, errsz, "smtp %s: SMTP_USER is set but the relay "
		    "is neither smtps:// nor SMTP_STARTTLS=1", host);
		log_errorx("%s", err);
		return XERR_UPSTREAM;
	}
	snprintf(mfrom, sizeof(mfrom), "<%s>", from);
	src.p = msg;
	src.left = len;
	ebuf[0] = '\0';

	rc = XERR_NOMEM;
	if ((c = curl_easy_init()) == NULL)
		goto fail;
	if ((rcpts = curl_slist_append(NULL, rcpt)) == NULL)
		goto fail;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->http_connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_MAIL_FROM, mfrom) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_READFUNCTION, smtp_read_cb) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_READDATA, &src) != CURLE_OK;
	/* Lets libcurl announce SIZE= so an oversize message fails early. */
	bad |= curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len) !=
	    CURLE_OK;
	/* With STARTTLS required, a relay that does not offer it gets nothing. */
	if (smtp_tls(cfg))
		bad |= curl_easy_setopt(c, CURLOPT_USE_SSL,
		    (long)CURLUSESSL_ALL) != CURLE_OK;
	if (cfg->smtp_user[0] != '\0') {
		bad |= curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user) !=
		    CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_PASSWORD,
		    cfg->smtp_password) != CURLE_OK;
	}
	if (bad) {
		snprintf(err, errsz, "smtp: libcurl refused an option");
		rc = XERR_INTERNAL;
		goto fail;
	}

	cc = curl_easy_perform(c);
	/* For SMTP, the last reply code the relay sent (0 when none). */
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	if (curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us) != CURLE_OK)
		us = 0;
	metrics_upstream(METRICS_UP_SMTP, code, us > 0 ? (uint64_t)us : 0);
	if (cc == CURLE_OK) {
		rc = XERR_OK;
		goto fail;
	}
	/*
	 * libcurl fails MAIL, RCPT and DATA replies with CURLE_SEND_ERROR and
	 * a bad reply to the end of data with CURLE_WEIRD_SERVER_REPLY; with
	 * a 5xx code the relay has refused this message and a retry would be
	 * refused again.  Everything else (4xx, no reply, timeouts, TLS,
	 * refused credentials) may pass.
	 */
	permanent = code >= 500 && code <= 599 && (cc == CURLE_SEND_ERROR ||
	    cc == CURLE_WEIRD_SERVER_REPLY);
	/*
	 * libcurl reads the message only after the relay's 354; read to the
	 * end with no error reply after it, the message may be accepted.
	 */
	*unsure = src.left == 0 && code < 400;
	snprintf(err, errsz, "smtp %s: %s (reply %ld%s)", host,
	    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc), code,
	    permanent ? ", permanent" : *unsure ? ", maybe delivered" : "");
	log_warnx("%s", err);
	rc = permanent ? XERR_UNPROCESSABLE : XERR_UPSTREAM;
fail:
	if (rc == XERR_NOMEM && err[0] == '\0')
		snprintf(err, errsz, "smtp: out of memory");
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(c);
	return rc;
}
