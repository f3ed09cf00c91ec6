/*
 * Unit tests for common/core/db.c: how each way MariaDB fails a statement
 * or a COMMIT is classified, without a server.  The numbers are MariaDB's
 * documented error codes, written out here rather than taken from its
 * headers, so a change of mapping shows.
 */
#include <check.h>
#include <stdlib.h>

#include "core/db.h"

static const struct {
	unsigned int	 e;
	const char	*state;
	enum db_phase	 phase;
	enum xerr	 want;
	const char	*what;
} db_cases[] = {
	{ 1213, "40001", DB_PHASE_STMT, XERR_DEADLOCK, "deadlock" },
	{ 1213, "40001", DB_PHASE_COMMIT, XERR_DEADLOCK,
	    "Galera certification failure at COMMIT" },
	{ 1205, "HY000", DB_PHASE_STMT, XERR_DEADLOCK, "lock wait timeout" },
	{ 1047, "08S01", DB_PHASE_STMT, XERR_DEADLOCK,
	    "WSREP has not yet prepared node" },
	{ 1047, NULL, DB_PHASE_COMMIT, XERR_DEADLOCK, "1047 at COMMIT" },
	{ 1614, "40001", DB_PHASE_STMT, XERR_DEADLOCK,
	    "another serialization failure, by its SQLSTATE" },
	{ 0, "00000", DB_PHASE_COMMIT, XERR_DEADLOCK,
	    "a COMMIT failing with no number" },
	{ 2006, "HY000", DB_PHASE_STMT, XERR_DB_GONE, "server gone" },
	{ 2013, "HY000", DB_PHASE_STMT, XERR_DB_GONE, "lost during query" },
	{ 2013, "HY000", DB_PHASE_COMMIT, XERR_DB_GONE, "lost at COMMIT" },
	{ 1927, "70100", DB_PHASE_STMT, XERR_DB_GONE, "connection killed" },
	{ 1062, "23000", DB_PHASE_STMT, XERR_DUP, "duplicate key" },
	{ 1064, "42000", DB_PHASE_STMT, XERR_DB, "syntax: permanent" },
	{ 1146, "42S02", DB_PHASE_STMT, XERR_DB, "no such table: permanent" },
	{ 1290, "HY000", DB_PHASE_STMT, XERR_UNAVAILABLE,
	    "read-only: cannot commit, 503 (healthz tells the balancer)" },
	{ 1290, "HY000", DB_PHASE_COMMIT, XERR_UNAVAILABLE,
	    "read-only at COMMIT" },
	{ 0, NULL, DB_PHASE_STMT, XERR_DB,
	    "no number on the statement nor on the connection" },
};

START_TEST(db_classify_cases)
{
	ck_assert_msg(db_classify(db_cases[_i].e, db_cases[_i].state,
	    db_cases[_i].phase) == db_cases[_i].want, "%s (%u)",
	    db_cases[_i].what, db_cases[_i].e);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db");
	TCase	*tc = tcase_create("classify");
	SRunner	*sr;
	int	 nf;

	tcase_add_loop_test(tc, db_classify_cases, 0,
	    (int)(sizeof(db_cases) / sizeof(db_cases[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
