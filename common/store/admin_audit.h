/*
 * admin_audit: typed access to the admin audit trail (sql/011_audit.sql),
 * one row per admin request, written by app/admin.c.  Only admin_audit.c
 * knows the columns of the statements it runs (store/stmt.c).  A row is
 * the caller's: texts copied into arrays sized by the schema's widths,
 * nothing borrowed; a NULL column reads as "" and has its bit in nulls.
 * Both functions run in the caller's transaction when there is one.
 * Errors: those of db_query() and db_exec(); XERR_DB when a stored text
 * is longer than its field (never, with the schema's widths); XERR_NOMEM.
 */
#ifndef ADMIN_AUDIT_H
#define ADMIN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/xerr.h"

struct db;

/* Bits of admin_audit_row.nulls. */
#define ADMIN_AUDIT_NULL_TARGET		0x01u
#define ADMIN_AUDIT_NULL_DETAIL		0x02u
#define ADMIN_AUDIT_NULL_ADDR		0x04u
#define ADMIN_AUDIT_NULL_FORWARDED	0x08u
#define ADMIN_AUDIT_NULL_REQUEST	0x10u

/*
 * One record to insert; every text is borrowed, and the nullable ones
 * (target, detail, remote_addr, forwarded_for, request_id) are stored as
 * NULL when they are NULL.
 */
struct admin_audit_entry {
	int64_t		 at;		/* Unix time */
	const char	*actor;
	const char	*actor_key;
	const char	*action;
	const char	*target;
	const char	*outcome;
	int64_t		 status;
	const char	*detail;
	const char	*remote_addr;
	const char	*forwarded_for;
	const char	*request_id;
};

/* A stored record. */
struct admin_audit_row {
	int64_t		 id;
	int64_t		 at;
	char		 actor[65];
	char		 actor_key[17];
	char		 action[49];
	char		 target[1021];		/* VARCHAR(255), utf8mb4 */
	char		 outcome[65];
	int64_t		 status;
	char		 detail[1021];		/* VARCHAR(255), utf8mb4 */
	char		 remote_addr[65];
	char		 forwarded_for[256];
	char		 request_id[65];
	unsigned int	 nulls;			/* ADMIN_AUDIT_NULL_* */
};

/* Inserts e. */
enum xerr	 admin_audit_insert(struct db *db,
		    const struct admin_audit_entry *e);

/* What admin_audit_read() reads; "" actor or action: any. */
struct admin_audit_query {
	int64_t		 before;	/* after this id's row; INT64_MAX: first */
	int64_t		 since;		/* at >= since */
	int64_t		 until;		/* at < until */
	const char	*actor;
	const char	*action;
	int64_t		 limit;
};

/*
 * Reads the records q selects, newest first in (at, id) order, into a new
 * array *rows of *n (the caller frees it; NULL when none): those after the
 * row whose id is q->before in that order (when no row has that id: from
 * the nearest row below it, that row included; none when no row is
 * below).  Two reads: the place of q->before, then the page along an
 * index of (at, id).
 */
enum xerr	 admin_audit_read(struct db *db,
		    const struct admin_audit_query *q,
		    struct admin_audit_row **rows, size_t *n);

#endif
