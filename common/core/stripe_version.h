/*
 * stripe_version: Stripe's API versions, as data.
 *
 * Stripe answers 400 "Invalid Stripe API version" to a Stripe-Version
 * header it does not know, so every call would fail; STRIPE_API_VERSION is
 * therefore checked at start against this list (cfg.c).  The list and the
 * pinned version are copied from the `stripe` npm package pinned in
 * tests/package.json (its WebhookEndpoints `ApiVersion` type and its
 * `apiVersion`); tests/integration/stripe_version.test.mjs fails when they
 * differ, so an upgrade of the package is a conscious review of the shapes
 * we send and read (docs/OPERATIONS.md, "Moving to a newer Stripe API
 * version").  A leaf module: it includes nothing of ours.
 */
#ifndef STRIPE_VERSION_H
#define STRIPE_VERSION_H

/* The version we send and read: the one the stripe package pins. */
#define STRIPE_VERSION_PINNED	"2026-10-28.endive"

/* Returns 1 when v (may be NULL) is one of Stripe's API versions. */
int		 stripe_version_known(const char *v);

/* Returns the oldest and newest versions of the list (static strings). */
const char	*stripe_version_oldest(void);
const char	*stripe_version_newest(void);

#endif
