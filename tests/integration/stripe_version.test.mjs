// The Stripe API version: ours is the one the pinned `stripe` npm package
// speaks, and our list of real versions is the package's.  An upgrade of the
// package fails here until common/core/stripe_version.[ch] are brought along,
// which is the moment to review the shapes we send and read (docs/OPERATIONS.md,
// "Moving to a newer Stripe API version").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './lib/env.mjs';
import { stripeApiVersions, stripePinnedVersion } from '../peers/dts.mjs';

const src = (f) => fs.readFileSync(`${REPO_ROOT}${f}`, 'utf8');

// The package's own pin: cjs/apiVersion.js and the ApiVersion union type (read as the
// Stripe stand-in reads them).
const pinned = stripePinnedVersion();
const pkgVersions = stripeApiVersions();

test('V1 our pinned version is the stripe package\'s apiVersion', () => {
  const ours = /#define STRIPE_VERSION_PINNED\s+"([^"]+)"/.exec(src('common/core/stripe_version.h'))[1];
  assert.equal(ours, pinned);
  assert.equal(pinned, '2026-10-28.endive', 'tests/package.json pins stripe 23.1.0');
});

test('V2 our list of Stripe API versions is the package\'s ApiVersion type, in order', () => {
  const table = /stripe_versions\[\] = \{([^}]*)\}/.exec(src('common/core/stripe_version.c'))[1];
  const ours = [...table.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  assert.ok(pkgVersions.length > 100);
  assert.deepEqual(ours, pkgVersions);
  assert.ok(!ours.includes('2023-09-12'), 'the commit date once pinned is no version');
});

test('V3 the env example and the README name the pinned version', () => {
  assert.match(src('scripts/xswarm-billing.env.example'), new RegExp(`^STRIPE_API_VERSION=${pinned}$`, 'm'));
  assert.match(src('README.md'), new RegExp(`\\| \`STRIPE_API_VERSION\` \\| \`${pinned.replace('.', '\\.')}\``));
});

test('V4 xsb-config refuses a version Stripe does not know, naming the variable', () => {
  const bin = process.env.XSB_BIN || `${REPO_ROOT}/build/rel/bin`;
  const base = { PATH: process.env.PATH, STRIPE_WEBHOOK_SECRETS: 'whsec_x', TWILIO_AUTH_TOKEN: 't',
    PUBLIC_BASE_URL: 'https://example.test', JWT_SECRET: 'x'.repeat(32) };
  const run = (extra) => {
    try {
      return { code: 0, out: execFileSync(`${bin}/xsb-config`, ['--check'], { env: { ...base, ...extra }, encoding: 'utf8', stdio: 'pipe' }) };
    } catch (e) { return { code: e.status, out: `${e.stdout}${e.stderr}` }; }
  };
  assert.equal(run({}).code, 0);
  const bad = run({ STRIPE_API_VERSION: '2023-09-12' });
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /STRIPE_API_VERSION: "2023-09-12" is not a Stripe API version/);
  assert.equal(run({ STRIPE_API_VERSION: '2023-08-16' }).code, 0);
});

