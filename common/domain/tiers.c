#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "store/tiers_db.h"
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

/*
 * Reads the whole tiers table into the cache; a display name that is
 * NULL is the tier's name.
 */
static enum xerr
tiers_refresh(struct db *db)
{
	struct tiers_row *t;
	size_t		 i;
	enum xerr	 rc;

	if ((rc = tiers_all(db, tiers_cache, TIERS_CACHE_MAX,
	    &tiers_ncache)) != XERR_OK)
		return rc;
	for (i = 0; i < tiers_ncache; i++) {
		t = &tiers_cache[i];
		if (t->nulls & TIERS_NULL_DISPLAY_NAME)
			memcpy(t->display_name, t->name, sizeof(t->name));
	}
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
