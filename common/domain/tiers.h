/*
 * tiers: the subscription tiers and their Stripe prices.
 *
 * One source: the tiers table (sql/001_init.sql) holds each tier's name,
 * rank, amounts, allowances and phone eligibility (the phone claim's
 * statement reads the same column), read through a cache refreshed once
 * a minute per process at most (it changes only with a migration).  The
 * configuration holds the Stripe prices of each paid tier: the one sold
 * (tiers_price()) and older ones still read as the tier (tiers_by_price()).
 */
#ifndef TIERS_H
#define TIERS_H

#include <stdint.h>

#include "core/cfg.h"
#include "core/xerr.h"
#include "store/tiers_db.h"	/* struct tiers_row */

struct db;

#define TIERS_FREE	"ai_buddy"

/*
 * Sets *valid to 1 when name is a tier of the table, else 0.  Database
 * errors.
 */
enum xerr	 tiers_valid(struct db *db, const char *name, int *valid);

/*
 * Returns the tier one of whose configured Stripe prices (the one sold or
 * an older one) is price_id (static), or NULL for an unknown price: never
 * a guessed paid tier.
 */
const char	*tiers_by_price(const struct cfg *cfg, const char *price_id);

/*
 * Returns the Stripe price a paid tier is sold at, the first its setting
 * names (borrowed), or NULL.
 */
const char	*tiers_price(const struct cfg *cfg, const char *tier);

/*
 * Sets *ok to 1 when tier may hold a phone number, 0 when it may not or
 * is not a tier.  Database errors.
 */
enum xerr	 tiers_phone_eligible(struct db *db, const char *tier,
		    int *ok);

/*
 * Fills *out with the tiers table's row of name (the cache).
 * XERR_NOTFOUND for an unknown tier; database errors.
 */
enum xerr	 tiers_load(struct db *db, const char *name,
		    struct tiers_row *out);

/*
 * Sets *rank to the order of tier (0 free .. 3, the table's), -1 for a
 * name that is not a tier.  Database errors.
 */
enum xerr	 tiers_rank(struct db *db, const char *tier, int *rank);

#endif
