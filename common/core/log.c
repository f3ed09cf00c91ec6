#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

static const char	*log_prog = "xsb";
static enum log_level	 log_min = LOG_LEVEL_INFO;
static __thread char	 log_ridbuf[64];	/* per request thread */

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *prog, enum log_level min)
{
	log_prog = prog;
	log_min = min;
}

int
log_level_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(s, log_names[i]) == 0)
			return (int)i;
	return -1;
}

void
log_set_rid(const char *rid)
{
	if (rid == NULL)
		log_ridbuf[0] = '\0';
	else
		snprintf(log_ridbuf, sizeof(log_ridbuf), "%s", rid);
}

const char *
log_rid(void)
{
	return log_ridbuf[0] ? log_ridbuf : "-";
}

/*
 * Writes one line.  The message is quoted, with quotes, backslashes and
 * control characters escaped, so a line is always one line whatever the
 * input (a hostile header value cannot forge a second log line).
 */
static void log_vlog(enum log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_vlog(enum log_level lvl, int errnum, const char *fmt, va_list ap)
{
	char		 msg[1024], line[2400], ts[32], ebuf[128];
	struct timespec	 now;
	struct tm	 tm;
	size_t		 n = 0, i;
	int		 len;

	if (lvl < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = snprintf(line, sizeof(line),
	    "ts=%s.%03ldZ level=%s prog=%s rid=%s msg=\"", ts,
	    now.tv_nsec / 1000000L, log_names[lvl], log_prog, log_rid());
	if (len < 0)
		return;
	n = (size_t)len;
	for (i = 0; msg[i] != '\0' && n + 8 < sizeof(line); i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == '"' || c == '\\') {
			line[n++] = '\\';
			line[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    "\\x%02x", c);
		} else
			line[n++] = (char)c;
	}
	if (errnum)
		n += (size_t)snprintf(line + n, sizeof(line) - n - 2,
		    ": %s", strerror_r(errnum, ebuf, sizeof(ebuf)));
	if (n > sizeof(line) - 3)
		n = sizeof(line) - 3;
	line[n++] = '"';
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}

#define LOG_FN(name, lvl, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	 ap;						\
	int	 e = witherr ? errno : 0;			\
								\
	va_start(ap, fmt);					\
	log_vlog(lvl, e, fmt, ap);				\
	va_end(ap);						\
}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 1)
LOG_FN(log_errorx, LOG_LEVEL_ERROR, 0)

void
log_fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
