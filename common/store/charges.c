#include <stdint.h>

#include "core/db.h"
#include "store/cell.h"
#include "store/stmt.h"
#include "store/charges.h"

/* The column of STMT_CHARGE_USER. */
enum charges_col {
	CHARGES_C_USER,
};

enum xerr
charges_upsert(struct db *db, const struct charges_row *c)
{
	struct dbv	 a[7];

	a[0] = DB_STR(c->id);
	a[1] = DB_STR(c->user_id);
	a[2] = DB_STR(c->payment_intent);
	a[3] = DB_INT(c->amount);
	a[4] = DB_INT(c->amount_refunded);
	a[5] = DB_STR(c->currency);
	a[6] = DB_INT(c->created);
	return db_exec(db, STMT_CHARGE_UPSERT, a, 7, NULL, NULL);
}

enum xerr
charges_user(struct db *db, const char *id, const char *pi, char uid[65])
{
	struct db_res	*res = NULL;
	struct dbv	 a[2];
	unsigned int	 nulls = 0;
	enum xerr	 rc;

	uid[0] = '\0';
	a[0] = DB_STR(id);
	a[1] = DB_STR(pi);
	if ((rc = db_query(db, STMT_CHARGE_USER, a, 2, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0)
		rc = XERR_NOTFOUND;
	else if ((rc = cell_text(res, 0, CHARGES_C_USER, uid, 65, 1,
	    &nulls)) == XERR_OK && nulls)
		rc = XERR_NOTFOUND;
	db_res_free(res);
	return rc;
}
