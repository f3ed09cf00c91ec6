#include <stddef.h>
#include <string.h>

#include "tiers.h"

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
