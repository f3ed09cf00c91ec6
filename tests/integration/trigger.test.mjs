// scripts/trigger against the running test stack: every type it offers is
// delivered signed and has its effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { query, close } from './lib/db.mjs';
import { REPO_ROOT } from './lib/env.mjs';

test.after(close);

const trigger = (...args) => execFileSync(path.join(REPO_ROOT, 'scripts', 'trigger'), args, { env: process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

for (const shape of ['current', '2023-08-16'])
test(`T1 scripts/trigger walks a user through the whole flow (${shape} shape)`, async () => {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email) VALUES (?, ?)', [id, `${id}@example.test`]);
  const types = ['checkout.session.completed', 'customer.subscription.created', 'customer.subscription.updated',
    'customer.subscription.trial_will_end', 'customer.subscription.paused', 'customer.subscription.resumed', 'invoice.created',
    'invoice.upcoming', 'invoice.finalized', 'invoice.payment_action_required', 'invoice.payment_failed', 'invoice.paid',
    'invoice.payment_succeeded', 'invoice.voided', 'invoice.marked_uncollectible', 'customer.subscription.deleted'];
  for (const t of types) {
    const out = trigger(t, '--user', id, '--shape', shape, ...(t === 'customer.subscription.updated' ? ['--tier', 'ai_project_manager'] : []));
    assert.match(out, / -> 200 \{"received":true,"status":"processed"\}/, `${t}: ${out}`);
  }
  const [u] = await query('SELECT tier, stripe_customer_id FROM users WHERE id = ?', [id]);
  assert.equal(u.tier, 'ai_buddy', 'deleted last');
  assert.match(u.stripe_customer_id, /^cus_/);
  const kinds = (await query('SELECT DISTINCT kind FROM billing_events WHERE user_id = ? ORDER BY kind', [id])).map((r) => r.kind);
  for (const k of ['checkout_completed', 'invoice_finalized', 'invoice_paid', 'invoice_uncollectible', 'invoice_voided', 'payment_action_required', 'payment_failed', 'projected_overage',
    'subscription.deleted', 'tier_changed', 'trial_will_end']) {
    assert.ok(kinds.includes(k), `billing event ${k} in ${kinds}`);
  }
  const versions = (await query('SELECT DISTINCT api_version FROM stripe_events WHERE user_id = ?', [id])).map((r) => r.api_version);
  assert.deepEqual(versions, [shape === 'current' ? '2026-10-28.endive' : '2023-08-16']);
  const jobs = (await query('SELECT kind FROM jobs WHERE user_id = ?', [id])).map((r) => r.kind);
  assert.ok(jobs.includes('invoice_items'));
  assert.ok(jobs.includes('phone_provision'));
});

test('T2 scripts/trigger refuses an unknown type', () => {
  assert.throws(() => trigger('charge.refunded'), (e) => e.status === 2 && /unknown type/.test(e.stderr));
});
