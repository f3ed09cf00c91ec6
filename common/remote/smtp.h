/*
 * smtp: hands one finished message to the configured relay, on libcurl.
 *
 * SMTP_URL names the relay (smtp:// or smtps://, host and port); with
 * SMTP_STARTTLS=1 an smtp:// relay must upgrade with STARTTLS or nothing is
 * sent; SMTP_USER (when set) and SMTP_PASSWORD authenticate.  Connect time
 * comes from HTTP_CONNECT_TIMEOUT_MS, the whole transaction is bounded by
 * the caller's timeout.  libcurl does the SMTP framing: it dot-stuffs lines
 * that begin with '.' and ends the data with CRLF.CRLF.  Failures are
 * logged with the relay's host and reply code, never with credentials.
 */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

#include "core/cfg.h"
#include "core/xerr.h"

#define SMTP_ADDR_MAX	320	/* bytes of an address, RFC 3696 errata */

/*
 * Sends msg (len bytes: headers, blank line, body, CRLF line ends) from the
 * envelope sender from to the single recipient rcpt, in one transaction of
 * at most timeout_ms.  Returns XERR_OK when the relay answered 250 to the
 * end of data.  On failure *unsure is 1 when the whole message had been
 * handed over and no reply to its end came (a timeout, a connection lost
 * after the data): the relay may have accepted it; 0 when it certainly did
 * not (no connection, a refusal before or at the end of data).  XERR_UPSTREAM for what may pass: no connection, a timeout,
 * TLS or STARTTLS failure, refused credentials, a 4xx reply (421 busy, 451
 * local error); XERR_UNPROCESSABLE when the relay refused this message for
 * good (a 5xx reply to MAIL, RCPT, DATA or the end of data); XERR_BADREQ
 * for an address smtp_addr_ok() refuses; XERR_NOMEM; XERR_INTERNAL when
 * libcurl refuses an option.  err gets one line for the job's last_error
 * (host, reply code, libcurl's reason) on failure.
 */
enum xerr	 smtp_send(const struct cfg *cfg, const char *from,
		    const char *rcpt, const char *msg, size_t len,
		    unsigned long timeout_ms, int *unsure, char *err,
		    size_t errsz);

/*
 * Returns 1 when addr is usable as an envelope address: 3 to SMTP_ADDR_MAX
 * bytes, exactly one '@' with text on both sides, no space, control
 * character or any of <>()[]\,;:" (so nothing can leave the SMTP command
 * it is put in); else 0.  The relay judges the rest.
 */
int		 smtp_addr_ok(const char *addr);

/*
 * Writes the address of a From-style value ("Name <a@b>" or "a@b") to out.
 * Returns XERR_OK, or XERR_BADREQ when none is found or smtp_addr_ok()
 * refuses it; out is "" then.
 */
enum xerr	 smtp_addr_spec(const char *value, char *out, size_t outsz);

#endif
