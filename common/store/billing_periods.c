#include <stdint.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/billing_periods.h"

enum xerr
billing_periods_insert(struct db *db, const char *sub, int64_t start,
    int64_t end, const char *user_id)
{
	struct dbv	 a[4];

	a[0] = DB_STR(sub);
	a[1] = DB_INT(start);
	a[2] = DB_INT(end);
	a[3] = DB_STR(user_id);
	return db_exec(db, STMT_RATING_PERIOD_INSERT, a, 4, NULL, NULL);
}
