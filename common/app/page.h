/*
 * page: how a list endpoint of the admin API reads its page from the
 * query: `limit` (1 to a maximum, a default when absent) and the cursor
 * that continues a list (`after`, `before`: a row's id, or a user id),
 * each given at most once.  What is wrong is answered `400 bad_limit` or
 * `400 bad_<cursor>` (docs/API.md), in one place for every list.
 */
#ifndef PAGE_H
#define PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/kv.h"
#include "core/req.h"
#include "core/xerr.h"

#define PAGE_LIMIT_DIGITS	6	/* a longer limit is refused unread */
#define PAGE_ID_DIGITS		18	/* likewise an id cursor */

/* What the cursor of a list is. */
enum page_cursor {
	PAGE_NO_CURSOR,
	PAGE_ID,	/* a whole number, 0 to id_max */
	PAGE_USER,	/* a user id (core/ids.h), or "" */
};

/* One list's rules; static, beside its handler. */
struct page_spec {
	long long		 limit_def;	/* limit when absent */
	long long		 limit_max;	/* limit is 1 to this */
	enum page_cursor	 kind;
	const char		*cursor;	/* its parameter: "after", ... */
	const char		*cursor_code;	/* its 400 code: "bad_after", ... */
	const char		*cursor_help;	/* its 400 message */
	long long		 id_def;	/* PAGE_ID: when absent */
	long long		 id_max;	/* PAGE_ID: at most */
};

/* A page as asked. */
struct page {
	long long	 limit;
	long long	 id;		/* PAGE_ID: the cursor */
	const char	*user;		/* PAGE_USER: the cursor (borrowed), "" */
};

/*
 * Reads spec's page from query (may be NULL: nothing given) into *out.
 * XERR_OK; or XERR_BADREQ with *code the 400 code and msg (msgsz bytes)
 * its message: a parameter repeated, a limit that is not 1 to
 * spec->limit_max in at most PAGE_LIMIT_DIGITS digits, a cursor of the
 * wrong form.  Digits may lead with zeros; no sign, no space.
 */
enum xerr	 page_parse(const struct kv *query, const struct page_spec *spec,
		    struct page *out, const char **code, char *msg,
		    size_t msgsz);

/*
 * page_parse() of r's query; answers the 400 and returns -1 when the page
 * is wrong, else returns 0.
 */
int		 page_or_reply(struct req *r, const struct page_spec *spec,
		    struct page *out);

/*
 * For a page whose entries each make a remote call (Twilio): nginx answers
 * 504 after PAGE_UPSTREAM_MS of silence (fastcgi_read_timeout), so such a
 * page stops early, its cursor at the last entry done, rather than start a
 * call that could end after that.  page_clock_start() notes when the page
 * began in *t0; page_time_for_call() returns 1 while a call of at most
 * HTTP_INTERACTIVE_TIMEOUT_MS (and its connect) still ends in time, done
 * calls made (the first call is always made); page_clock_ms() returns the
 * milliseconds since t0.  A page that cannot stop early with a cursor
 * (the orphans report, a merge of Twilio's whole list) says it is
 * incomplete instead.
 */
#define PAGE_UPSTREAM_MS	30000	/* fastcgi_read_timeout of nginx/ */
#define PAGE_MARGIN_MS		5000	/* connect (3 s) and the reply */

void		 page_clock_start(int64_t *t0);
int		 page_time_for_call(const struct req *r, int64_t t0,
		    size_t done);
int64_t		 page_clock_ms(int64_t t0);

#endif
