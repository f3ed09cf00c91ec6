#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/log.h"
#include "store/stmt.h"
#include "domain/tiers.h"
#include "domain/usage.h"

enum xerr
usage_record(struct db *db, const char *user_id, const char *kind,
    int64_t quantity, int64_t occurred_at, const char *source,
    const char *idem_key, int *dup)
{
	struct dbv	 args[6];
	enum xerr	 rc;

	*dup = 0;
	if ((strcmp(kind, "voice") && strcmp(kind, "sms")) || quantity < 0 ||
	    quantity > 1000000000LL || occurred_at <= 0)
		return XERR_BADREQ;
	args[0] = DB_STR(user_id);
	args[1] = DB_STR(kind);
	args[2] = DB_INT(quantity);
	args[3] = DB_INT(occurred_at);
	args[4] = DB_STR(source);
	args[5] = DB_STR(idem_key);
	rc = db_exec(db, STMT_USAGE_INSERT, args, 6, NULL, NULL);
	if (rc == XERR_DUP) {
		*dup = 1;
		return XERR_OK;
	}
	return rc;
}

void
usage_month(int64_t now, int64_t *start, int64_t *end)
{
	time_t		 t = (time_t)now;
	struct tm	 tm;

	gmtime_r(&t, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	*start = (int64_t)timegm(&tm);
	tm.tm_mon++;
	*end = (int64_t)timegm(&tm);
}

enum xerr
usage_period(struct db *db, const char *user_id, int64_t now,
    int64_t *start, int64_t *end)
{
	struct db_res	*res = NULL;
	struct dbv	 args[1];
	int64_t		 s, e;
	enum xerr	 rc;

	args[0] = DB_STR(user_id);
	if ((rc = db_query(db, STMT_USER_GET, args, 1, &res)) != XERR_OK)
		return rc;
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return XERR_NOTFOUND;
	}
	s = db_res_int(res, 0, 6, 0);
	e = db_res_int(res, 0, 7, 0);
	db_res_free(res);
	if (s > 0 && e > s && now >= s && now < e) {
		*start = s;
		*end = e;
	} else
		usage_month(now, start, end);
	return XERR_OK;
}

enum xerr
usage_report(struct db *db, const char *user_id, const char *tier,
    int64_t start, int64_t end, struct usage_report *out)
{
	struct db_res	*res = NULL;
	struct tiers_row t;
	struct dbv	 args[6];
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->tier, sizeof(out->tier), "%s", tier);
	out->start = start;
	out->end = end;

	if ((rc = tiers_load(db, tier, &t)) != XERR_OK) {
		if (rc == XERR_NOTFOUND) {
			log_errorx("usage: unknown tier %s", tier);
			rc = XERR_INTERNAL;
		}
		return rc;
	}
	out->price_cents = t.price_cents;
	out->use.voice_included = t.voice_included;
	out->use.sms_included = t.sms_included;
	out->use.phone_fee_cents = t.phone_fee_cents;

	args[0] = DB_STR(user_id);
	args[1] = DB_INT(end);
	args[2] = DB_INT(start);
	args[3] = DB_STR(user_id);
	args[4] = DB_INT(start);
	args[5] = DB_INT(end);
	if ((rc = db_query(db, STMT_USAGE_SUM, args, 6, &res)) != XERR_OK)
		return rc;
	out->voice_seconds = db_res_int(res, 0, 0, 0);
	out->use.voice_minutes = db_res_int(res, 0, 1, 0);
	out->calls = db_res_int(res, 0, 2, 0);
	out->use.sms = db_res_int(res, 0, 3, 0);
	out->use.phone_periods = db_res_int(res, 0, 4, 0) > 0 ? 1 : 0;
	db_res_free(res);
	return money_bill(&out->use, &out->bill);
}
