#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "store/tiers_db.h"
#include "domain/tiers.h"

/* The paid tiers sold through a Stripe price (the configuration's). */
static const char *const tiers_paid[] = {
	"ai_secretary", "ai_project_manager", "ai_cto",
};

/* The configured prices of a paid tier, or NULL. */
static const struct cfg_prices *
tiers_prices(const struct cfg *cfg, const char *tier)
{
	if (tier == NULL)
		return NULL;
	if (strcmp(tier, "ai_secretary") == 0)
		return &cfg->stripe_price_secretary;
	if (strcmp(tier, "ai_project_manager") == 0)
		return &cfg->stripe_price_project_manager;
	if (strcmp(tier, "ai_cto") == 0)
		return &cfg->stripe_price_cto;
	return NULL;
}

const char *
tiers_price(const struct cfg *cfg, const char *tier)
{
	const struct cfg_prices *p;

	if ((p = tiers_prices(cfg, tier)) == NULL || p->n == 0)
		return NULL;
	return p->id[0];
}

const char *
tiers_by_price(const struct cfg *cfg, const char *price_id)
{
	const struct cfg_prices *p;
	size_t		 i, k;

	if (price_id == NULL || *price_id == '\0')
		return NULL;
	for (i = 0; i < sizeof(tiers_paid) / sizeof(tiers_paid[0]); i++) {
		if ((p = tiers_prices(cfg, tiers_paid[i])) == NULL)
			continue;
		for (k = 0; k < p->n; k++)
			if (strcmp(p->id[k], price_id) == 0)
				return tiers_paid[i];
	}
	return NULL;
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

/*
 * Reads name's row into *t (tiers_load()): *found is 0 for a name that is
 * not a tier, which is no error here.  Database errors.
 */
static enum xerr
tiers_find(struct db *db, const char *name, struct tiers_row *t, int *found)
{
	enum xerr	 rc;

	*found = 0;
	if ((rc = tiers_load(db, name, t)) == XERR_NOTFOUND)
		return XERR_OK;
	*found = rc == XERR_OK;
	return rc;
}

enum xerr
tiers_valid(struct db *db, const char *name, int *valid)
{
	struct tiers_row t;

	return tiers_find(db, name, &t, valid);
}

enum xerr
tiers_rank(struct db *db, const char *tier, int *rank)
{
	struct tiers_row t;
	int		 found;
	enum xerr	 rc;

	rc = tiers_find(db, tier, &t, &found);
	*rank = found ? t.rank : -1;
	return rc;
}

enum xerr
tiers_phone_eligible(struct db *db, const char *tier, int *ok)
{
	struct tiers_row t;
	int		 found;
	enum xerr	 rc;

	rc = tiers_find(db, tier, &t, &found);
	*ok = found && t.phone_eligible != 0;
	return rc;
}
