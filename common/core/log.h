/*
 * log: one logfmt line per event on stderr.
 *
 *   ts=2026-11-24T19:53:14.123Z level=info prog=webhook rid=4f2c... msg="event stored"
 *
 * A process serves one request at a time, so the request id is process
 * state: log_set_rid() at the start of a request, log_set_rid(NULL) at its
 * end.  Never pass a secret to these functions.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR
};

/* Sets the program name (borrowed, must outlive the process) and level. */
void	log_init(const char *prog, enum log_level min);

/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int	log_level_parse(const char *s);

/* Sets the request id put on every following line; NULL clears it. Copied. */
void	log_set_rid(const char *rid);

/* Returns the current request id, or "-" outside a request. Borrowed. */
const char *log_rid(void);

void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn and log_error append the text of errno, the x forms do not. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs at error level and exits 1. For start-up failures only. */
void	log_fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
