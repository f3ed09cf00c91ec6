/*
 * stmt-sql: prints the SQL of the statements named on the command line
 * (enum stmt names without the STMT_ prefix, as stmt_name() gives them),
 * one a line, from common/store/stmt.c itself.  Integration tests ask
 * MariaDB for the plan of what the programs run (tests/integration/lib/
 * db.mjs, statementSql()) instead of a copy of its text.
 *
 *   stmt-sql RATING_USAGE USAGE_SUMS_2
 *
 * Exits 2 for a name it does not know.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/stmt.h"

int
main(int argc, char *argv[])
{
	int	 a, i;

	for (a = 1; a < argc; a++) {
		for (i = 0; i < STMT__MAX; i++)
			if (strcmp(stmt_name((enum stmt)i), argv[a]) == 0)
				break;
		if (i == STMT__MAX) {
			fprintf(stderr, "stmt-sql: no statement %s\n",
			    argv[a]);
			return 2;
		}
		puts(stmt_sql((enum stmt)i));
	}
	return argc > 1 ? EXIT_SUCCESS : 2;
}
