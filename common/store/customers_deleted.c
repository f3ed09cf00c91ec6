#include <stdint.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/customers_deleted.h"

/* The column of STMT_CUSTOMER_DELETED_USER. */
enum customers_deleted_col {
	CUSTOMERS_DELETED_C_USER,
};

enum xerr
customers_deleted_insert(struct db *db, const char *customer,
    const char *user_id, const char *event_id, int64_t deleted_at)
{
	struct dbv	 a[4];

	a[0] = DB_STR(customer);
	a[1] = DB_STR(user_id);
	a[2] = DB_STR(event_id);
	a[3] = DB_INT(deleted_at);
	return db_exec(db, STMT_CUSTOMER_DELETED_INSERT, a, 4, NULL, NULL);
}

enum xerr
customers_deleted_user(struct db *db, const char *customer, char uid[65])
{
	struct db_res	*res = NULL;
	struct dbv	 a[1];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	uid[0] = '\0';
	a[0] = DB_STR(customer);
	if ((rc = db_query(db, STMT_CUSTOMER_DELETED_USER, a, 1, &res)))
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else if ((rc = cell_text(res, 0, CUSTOMERS_DELETED_C_USER, uid, 65, 1,
	    &nulls)) == XERR_OK && nulls)
		rc = XERR_NOTFOUND;
	db_res_free(res);
	return rc;
}
