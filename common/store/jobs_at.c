#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "store/jobs_at.h"
#include "store/stmt.h"

enum xerr
jobs_at_insert(struct db *db, const char *kind, const char *dedupe_key,
    const char *user_id, const char *payload, int64_t run_after)
{
	/* The arguments of STMT_PHONE_JOB_ENQUEUE_AT, in its order. */
	enum { A_KIND, A_KEY, A_USER, A_PAYLOAD, A_AT, A__MAX };
	struct dbv	 a[A__MAX];

	a[A_KIND] = DB_STR(kind);
	a[A_KEY] = DB_STR(dedupe_key);
	a[A_USER] = DB_STR(user_id);
	a[A_PAYLOAD] = DB_STR(payload);
	a[A_AT] = DB_INT(run_after);
	return db_exec(db, STMT_PHONE_JOB_ENQUEUE_AT, a, A__MAX, NULL, NULL);
}
