// scripts/trigger against the running test stack: every type it offers is
// delivered signed and has its effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { query, close } from './lib/db.mjs';
import { REPO_ROOT } from './lib/env.mjs';
import { request, closeHttp } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';
import * as SB from './lib/sandbox.mjs';

test.after(async () => { closeHttp(); await close(); });

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
  // Stripe's events, in the shape asked for (not the resyncs of ours that events of one second may cause).
  const versions = (await query("SELECT DISTINCT api_version FROM stripe_events WHERE user_id = ? AND id NOT LIKE 'resync\\_%'", [id])).map((r) => r.api_version);
  assert.deepEqual(versions, [shape === 'current' ? '2026-10-28.endive' : '2023-08-16']);
  const jobs = (await query('SELECT kind FROM jobs WHERE user_id = ?', [id])).map((r) => r.kind);
  assert.ok(jobs.includes('bill_period'));
  assert.ok(jobs.includes('phone_provision'));
});

test('T3 what trigger sends exists at the Stripe stand-in: the invoice takes our items, the subscription our changes', async () => {
  const id = await SB.newUser();
  trigger('customer.subscription.created', '--user', id);
  trigger('invoice.created', '--user', id);
  const [u] = await query('SELECT subscription_id AS sub, stripe_customer_id AS cus FROM users WHERE id = ?', [id]);
  assert.equal((await SB.control('GET', `/__objects/${u.sub}`)).customer, u.cus);
  await waitFor(async () => (await query("SELECT state FROM jobs WHERE user_id = ? AND kind = 'bill_period'", [id]))[0]?.state === 'done',
    { what: 'the bill_period job done (its invoice is at the stand-in)', timeoutMs: 15000 });
  const tok = SB.token(id);
  for (const [p, json] of [['/api/billing/upcoming'], ['/api/billing/upgrade', { target_tier: 'ai_project_manager' }], ['/api/billing/cancel', {}]]) {
    const r = await request(json ? 'POST' : 'GET', p, { token: tok, json });
    assert.equal(r.status, 200, `${p}: ${r.text}`);
  }
  const sub = await SB.control('GET', `/__objects/${u.sub}`);
  assert.deepEqual([sub.items.data[0].price.id, sub.cancel_at_period_end], ['price_ai_project_manager', true]);
});

test('T2 scripts/trigger refuses an unknown type', () => {
  assert.throws(() => trigger('charge.refunded'), (e) => e.status === 2 && /unknown type/.test(e.stderr));
});
