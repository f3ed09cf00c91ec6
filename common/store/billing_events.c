#include <stdint.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/billing_events.h"

enum xerr
billing_events_insert(struct db *db, const char *user_id, const char *subject,
    const char *kind, const int64_t *amount, const char *detail)
{
	struct dbv	 a[5];

	a[0] = DB_STR(user_id);
	a[1] = DB_STR(subject);
	a[2] = DB_STR(kind);
	a[3] = amount != NULL ? DB_INT(*amount) : DB_NULL;
	a[4] = DB_STR(detail);
	return db_exec(db, STMT_BEVENT_INSERT, a, 5, NULL, NULL);
}
