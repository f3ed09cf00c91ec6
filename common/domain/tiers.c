#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "store/stmt.h"

#include "domain/tiers.h"

/* Mirrors the seed of the tiers table; rank orders upgrades. */
static const struct {
	const char	*name;
	int		 phone;
	size_t		 price_off;	/* offset of the price id in struct cfg */
} tiers[] = {
	{ "ai_buddy", 0, 0 },
	{ "ai_secretary", 1, offsetof(struct cfg, stripe_price_secretary) },
	{ "ai_project_manager", 1,
	  offsetof(struct cfg, stripe_price_project_manager) },
	{ "ai_cto", 1, offsetof(struct cfg, stripe_price_cto) },
};

#define TIERS_N (sizeof(tiers) / sizeof(tiers[0]))

int
tiers_rank(const char *tier)
{
	size_t	 i;

	if (tier == NULL)
		return -1;
	for (i = 0; i < TIERS_N; i++)
		if (strcmp(tiers[i].name, tier) == 0)
			return (int)i;
	return -1;
}

int
tiers_valid(const char *name)
{
	return tiers_rank(name) >= 0;
}

const char *
tiers_by_price(const struct cfg *cfg, const char *price_id)
{
	size_t		 i;
	const char	*p;

	if (price_id == NULL || *price_id == '\0')
		return NULL;
	for (i = 1; i < TIERS_N; i++) {
		p = *(char *const *)((const char *)cfg + tiers[i].price_off);
		if (p != NULL && strcmp(p, price_id) == 0)
			return tiers[i].name;
	}
	return NULL;
}

const char *
tiers_price(const struct cfg *cfg, const char *tier)
{
	int	 i = tiers_rank(tier);

	if (i <= 0)
		return NULL;
	return *(char *const *)((const char *)cfg + tiers[i].price_off);
}

int
tiers_phone_eligible(const char *tier)
{
	int	 i = tiers_rank(tier);

	return i >= 0 && tiers[i].phone;
}

#define TIERS_CACHE_SECONDS	60
#define TIERS_CACHE_MAX		16

static struct tiers_row	 tiers_cache[TIERS_CACHE_MAX];
static size_t		 tiers_ncache;
static time_t		 tiers_loaded;
static pthread_mutex_t	 tiers_mu = PTHREAD_MUTEX_INITIALIZER;	/* the cache */

/* Reads the whole tiers table into the cache. */
static enum xerr
tiers_refresh(struct db *db)
{
	struct db_res	*res = NULL;
	struct tiers_row *t;
	size_t		 i;
	enum xerr	 rc;

	if ((rc = db_query(db, STMT_TIERS_ALL, NULL, 0, &res)) != XERR_OK)
		return rc;
	tiers_ncache = 0;
	for (i = 0; i < db_res_rows(res) && i < TIERS_CACHE_MAX; i++) {
		t = &tiers_cache[tiers_ncache++];
		snprintf(t->name, sizeof(t->name), "%s", db_res_str(res, i, 0));
		t->price_cents = db_res_int(res, i, 1, 0);
		t->voice_included = db_res_int(res, i, 2, 0);
		t->sms_included = db_res_int(res, i, 3, 0);
		t->phone_eligible = db_res_int(res, i, 4, 0) != 0;
		t->phone_fee_cents = db_res_int(res, i, 5, 0);
		snprintf(t->display_name, sizeof(t->display_name), "%s",
		    db_res_isnull(res, i, 6) ? t->name : db_res_str(res, i, 6));
	}
	db_res_free(res);
	tiers_loaded = time(NULL);
	return XERR_OK;
}

enum xerr
tiers_load(struct db *db, const char *name, struct tiers_row *out)
{
	size_t		 i;
	enum xerr	 rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&tiers_mu);
	rc = XERR_OK;
	if (tiers_ncache == 0 || time(NULL) - tiers_loaded >=
	    TIERS_CACHE_SECONDS || time(NULL) < tiers_loaded)
		rc = tiers_refresh(db);
	if (rc == XERR_OK)
		rc = XERR_NOTFOUND;
	for (i = 0; rc == XERR_NOTFOUND && i < tiers_ncache; i++)
		if (name != NULL && strcmp(tiers_cache[i].name, name) == 0) {
			*out = tiers_cache[i];
			rc = XERR_OK;
		}
	pthread_mutex_unlock(&tiers_mu);
	return rc;
}
