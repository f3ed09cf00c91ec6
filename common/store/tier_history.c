#include <stdint.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/tier_history.h"

enum xerr
tier_history_insert(struct db *db, const char *event_id, const char *sub,
    const char *user_id, const char *tier, int64_t effective_at,
    int event_rank)
{
	struct dbv	 a[6];

	a[0] = DB_STR(event_id);
	a[1] = DB_STR(sub);
	a[2] = DB_STR(user_id);
	a[3] = DB_STR(tier);
	a[4] = DB_INT(effective_at);
	a[5] = DB_INT(event_rank);
	return db_exec(db, STMT_RATING_HISTORY_INSERT, a, 6, NULL, NULL);
}
