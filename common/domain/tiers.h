/*
 * tiers: the subscription tiers and their Stripe prices.
 *
 * Amounts and allowances live in the tiers table (sql/001_init.sql); the
 * Stripe price id of each paid tier comes from the configuration.
 */
#ifndef TIERS_H
#define TIERS_H

#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"
#include "store/tiers_db.h"	/* struct tiers_row */

struct db;

#define TIERS_FREE	"ai_buddy"

/* Returns 1 when name is one of our tiers. */
int		 tiers_valid(const char *name);

/*
 * Returns the tier whose configured Stripe price is price_id (static), or
 * NULL for an unknown price: never a guessed paid tier.
 */
const char	*tiers_by_price(const struct cfg *cfg, const char *price_id);

/* Returns the configured Stripe price of a paid tier (borrowed), or NULL. */
const char	*tiers_price(const struct cfg *cfg, const char *tier);

/* Returns 1 when tier may hold a phone number. */
int		 tiers_phone_eligible(const char *tier);

/*
 * Fills *out with the tiers table's row of name.  The table is read once
 * a minute per process at most: it changes only with a migration.
 * XERR_NOTFOUND for an unknown tier; database errors.
 */
enum xerr	 tiers_load(struct db *db, const char *name,
		    struct tiers_row *out);

/* Returns the order of tiers (0 free .. 3), -1 for an unknown tier. */
int		 tiers_rank(const char *tier);

#endif
