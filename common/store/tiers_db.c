#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "store/stmt.h"
#include "store/tiers_db.h"

/* The columns of STMT_TIERS_ALL, in its order. */
enum tiers_col {
	TIERS_C_NAME,
	TIERS_C_PRICE,
	TIERS_C_VOICE,
	TIERS_C_SMS,
	TIERS_C_PHONE_ELIGIBLE,
	TIERS_C_PHONE_FEE,
	TIERS_C_DISPLAY_NAME,
	TIERS_C_RANK
};

enum xerr
tiers_all(struct db *db, struct tiers_row *rows, size_t max, size_t *n)
{
	struct db_res	*res = NULL;
	struct tiers_row *t;
	const char	*s;
	size_t		 i;
	enum xerr	 rc;

	*n = 0;
	if ((rc = db_query(db, STMT_TIERS_ALL, NULL, 0, &res)) != XERR_OK)
		return rc;
	for (i = 0; i < db_res_rows(res) && i < max; i++) {
		t = &rows[(*n)++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s",
		    db_res_str(res, i, TIERS_C_NAME));
		t->price_cents = db_res_int(res, i, TIERS_C_PRICE, 0);
		t->voice_included = db_res_int(res, i, TIERS_C_VOICE, 0);
		t->sms_included = db_res_int(res, i, TIERS_C_SMS, 0);
		t->phone_eligible = db_res_int(res, i, TIERS_C_PHONE_ELIGIBLE,
		    0) != 0;
		t->phone_fee_cents = db_res_int(res, i, TIERS_C_PHONE_FEE, 0);
		t->rank = (int)db_res_int(res, i, TIERS_C_RANK, 0);
		if ((s = db_res_str(res, i, TIERS_C_DISPLAY_NAME)) == NULL)
			t->nulls |= TIERS_NULL_DISPLAY_NAME;
		else
			snprintf(t->display_name, sizeof(t->display_name),
			    "%s", s);
	}
	db_res_free(res);
	return XERR_OK;
}
