// The payment events a billing backend must not ignore (common/domain/payments.c, docs/WEBHOOKS.md
// "Payments: 3-D Secure, refunds, disputes, deleted customers"): invoice.payment_action_required,
// charge.succeeded, charge.refunded, refund.created, charge.dispute.created/closed and
// customer.deleted, each in the current API shape (2026-10-28.endive) and in 2023-08-16's, with
// its effect in the database, its billing history row and its e-mail, once however often and in
// whatever order Stripe delivers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { request, closeHttp } from './lib/http.mjs';
import { query, close, hold, running, examined, statementSql, asAdmin } from './lib/db.mjs';
import { env, requireEnv } from './lib/env.mjs';
import { waitFor, sleep } from './lib/wait.mjs';
import * as mail from './lib/mail.mjs';
import { event, signedWebhook, rid, checkoutSession } from './lib/stripe.mjs';
import * as E from './lib/stripe-events.mjs';
import { keyArgs } from './lib/token.mjs';

test.after(async () => { closeHttp(); await close(); });

const OPERATOR = env.OPERATOR_EMAIL || 'operator@xswarm.ai';
const msgId = (key) => `<${crypto.createHash('sha256').update(key).digest('hex')}@xswarm-billing>`;
const messageOf = (key) => mail.waitFor((m) => m.messageId === msgId(key), { timeoutMs: 20000, what: `the e-mail of ${key}` });
/** "$1,234.56": an independent formatting of integer cents in US dollars. */
const usd = (c) => `$${Math.floor(c / 100).toLocaleString('en-US')}.${String(c % 100).padStart(2, '0')}`;

const stackEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(env).map((k) => [k, env[k]])) });
const token = (userId, role = 'user') => execFileSync(`${requireEnv('XSB_BIN').XSB_BIN}/xsb-token`, keyArgs(['-u', userId, '-r', role]),
  { env: stackEnv(), encoding: 'utf8' }).trim();
/** An admin's token (an admin is a user row too). */
async function adminToken() {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email) VALUES (?, ?)', [id, `${id}@example.test`]);
  return token(id, 'admin');
}

async function newUser({ tier = 'ai_buddy', subscription = null } = {}) {
  const id = crypto.randomUUID(), customer = rid('cus_'), email = `${id}@example.test`;
  await query('INSERT INTO users (id, email, tier, stripe_customer_id, subscription_id) VALUES (?, ?, ?, ?, ?)',
    [id, email, tier, customer, subscription]);
  return { id, customer, email };
}
/** Sends one signed event; returns the status the webhook answered. */
async function send(type, object, shape, opts = {}) {
  const ev = event(type, object, { api_version: shape, ...opts });
  const r = await signedWebhook(ev);
  assert.equal(r.status, 200, `${type}: ${JSON.stringify(r.json)}`);
  return { ev, status: r.json.status };
}
const bevents = (userId, kind) => query('SELECT event_id, kind, amount_cents, detail FROM billing_events WHERE user_id = ? AND kind = ? ORDER BY id',
  [userId, kind]);
const jobsOf = (key) => query('SELECT id, state FROM jobs WHERE dedupe_key = ?', [key]);
const stored = async (id) => (await query('SELECT status, user_id FROM stripe_events WHERE id = ?', [id]))[0];
const history = async (u) => {
  const r = await request('GET', '/api/billing/history?limit=50', { token: token(u.id) });
  assert.equal(r.status, 200);
  return r.json.events;
};

for (const shape of E.SHAPES) {
  test(`[${shape}] invoice.payment_action_required: a history row and one e-mail to the user with the hosted invoice link`, async () => {
    const u = await newUser({ tier: 'ai_secretary' });
    const url = `https://invoice.stripe.com/i/acct_test/${rid('test_')}`;
    const inv = E.actionInvoice(shape, { customer: u.customer, amount_due: 4000, hosted_invoice_url: url });
    const { ev, status } = await send('invoice.payment_action_required', inv, shape);
    assert.equal(status, 'processed');
    assert.deepEqual((await bevents(u.id, 'payment_action_required')).map((r) => [r.amount_cents, r.detail]), [[4000, inv.id]]);
    const key = `notify:payment_action_required:${ev.id}`;
    const m = await messageOf(key);
    assert.deepEqual(m.to, [u.email]);
    assert.equal(m.subject, `Please confirm your xSwarm payment of ${usd(4000)}`);
    assert.ok(m.body.includes(`\r\n${url}\r\n`), 'the hosted invoice link');
    // Redelivered: one effect.
    const again = await signedWebhook(ev);
    assert.equal(again.json.status, 'duplicate');
    assert.equal((await bevents(u.id, 'payment_action_required')).length, 1);
    assert.equal((await jobsOf(key)).length, 1);
    assert.ok((await history(u)).some((e) => e.kind === 'payment_action_required' && e.amount_cents === 4000));
    // Paid meanwhile: a late request to confirm it (a new event of the same invoice) asks the user for nothing.
    assert.equal((await send('invoice.paid', { ...inv, status: 'paid', amount_paid: 4000, amount_remaining: 0 }, shape)).status, 'processed');
    const late = await send('invoice.payment_action_required', inv, shape);
    assert.equal(late.status, 'processed');
    assert.equal((await jobsOf(`notify:payment_action_required:${late.ev.id}`)).length, 0, 'no e-mail about a paid invoice');
  });

  test(`[${shape}] refunds: charge.refunded then refund.created, and the reverse, make one history row per refund`, async () => {
    const u = await newUser();
    const pi = rid('pi_');
    const ch = E.charge(shape, { customer: u.customer, amount: 4000, payment_intent: pi });
    assert.equal((await send('charge.succeeded', ch, shape)).status, 'processed');
    // The model: refunds by id, and what the charge has refunded in total.
    const model = new Map();
    // 1: charge.refunded (an expanded charge listing r1) first, then refund.created of r1.
    const r1 = E.refund(shape, { amount: 1500, charge: ch.id, payment_intent: pi, customer: u.customer });
    model.set(r1.id, 1500);
    await send('charge.refunded', E.charge(shape, { id: ch.id, customer: u.customer, amount: 4000, amount_refunded: 1500,
      payment_intent: pi, refunds: [r1] }), shape);
    const c1 = await send('refund.created', r1, shape);
    assert.equal(c1.status, 'processed');
    // 2: refund.created of r2 first, then charge.refunded, as Stripe sends it (no list), then expanded.
    const r2 = E.refund(shape, { amount: 1000, charge: ch.id, payment_intent: pi, customer: u.customer });
    model.set(r2.id, 1000);
    assert.equal((await send('refund.created', r2, shape)).status, 'processed');
    const total = [...model.values()].reduce((a, b) => a + b, 0);
    await send('charge.refunded', E.charge(shape, { id: ch.id, customer: u.customer, amount: 4000, amount_refunded: total,
      payment_intent: pi }), shape);
    await send('charge.refunded', E.charge(shape, { id: ch.id, customer: u.customer, amount: 4000, amount_refunded: total,
      payment_intent: pi, refunds: [r2, r1] }), shape);
    // A duplicate delivery of refund.created (same event id).
    assert.equal((await signedWebhook(c1.ev)).json.status, 'duplicate');

    const rows = await bevents(u.id, 'refund');
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.event_id, r.amount_cents])), Object.fromEntries(model));
    assert.equal(rows.reduce((a, r) => a + r.amount_cents, 0), total);
    assert.match(rows[0].detail, new RegExp(`refund=${r1.id} charge=${ch.id} status=succeeded`));
    const [c] = await query('SELECT user_id, payment_intent, amount, amount_refunded FROM charges WHERE id = ?', [ch.id]);
    assert.deepEqual({ ...c }, { user_id: u.id, payment_intent: pi, amount: 4000, amount_refunded: total });
    // One e-mail per refund, whichever event brought it.
    for (const [id, cents] of model) {
      const key = `notify:refund_issued:${id}`;
      assert.equal((await jobsOf(key)).length, 1, key);
      const m = await messageOf(key);
      assert.deepEqual(m.to, [u.email]);
      assert.equal(m.subject, `Your xSwarm refund of ${usd(cents)}`);
    }
    const h = await history(u);
    assert.deepEqual(h.filter((e) => e.kind === 'refund').map((e) => [e.stripe_event_id, e.amount_cents]).sort(),
      [...model].sort());
  });

  test(`[${shape}] refund.created of a charge never seen ties to the user by ${shape === E.NOW ? 'its customer' : 'metadata only'}`, async () => {
    const u = await newUser();
    const r = E.refund(shape, { amount: 700, charge: rid('ch_'), customer: u.customer });
    const { ev, status } = await send('refund.created', r, shape);
    if (shape === E.NOW) {
      // Refund.customer (new in the current API) is enough.
      assert.equal(status, 'processed');
      assert.deepEqual((await bevents(u.id, 'refund')).map((x) => [x.event_id, x.amount_cents]), [[r.id, 700]]);
    } else {
      // The 2023-08-16 refund names no customer: unmatched, nothing written, replayable.
      assert.equal(status, 'unmatched');
      assert.equal((await stored(ev.id)).user_id, null);
      assert.equal((await bevents(u.id, 'refund')).length, 0);
      assert.equal((await jobsOf(`notify:refund_issued:${r.id}`)).length, 0);
    }
  });

  test(`[${shape}] disputes: created flags the account and tells the operator; closed clears it with the outcome; closed redelivered is one effect`, async () => {
    const u = await newUser({ tier: 'ai_secretary' });
    const pi = rid('pi_');
    const ch = E.charge(shape, { customer: u.customer, amount: 4000, payment_intent: pi });
    await send('charge.succeeded', ch, shape);
    const due = Math.floor(Date.now() / 1000) + 7 * 86400;
    // A dispute names its charge (or PaymentIntent), never the customer.
    const d = E.dispute(shape, { charge: ch.id, payment_intent: pi, amount: 4000, reason: 'fraudulent', status: 'needs_response', due_by: due });
    const created = await send('charge.dispute.created', d, shape);
    assert.equal(created.status, 'processed');
    let [row] = await query('SELECT user_id, charge_id, amount, reason, status, is_open FROM disputes WHERE id = ?', [d.id]);
    assert.deepEqual({ ...row }, { user_id: u.id, charge_id: ch.id, amount: 4000, reason: 'fraudulent', status: 'needs_response', is_open: 1 });
    const adm = await adminToken();
    let a = await request('GET', `/api/admin/users/${u.id}`, { token: adm });
    assert.equal(a.status, 200);
    assert.deepEqual(a.json.open_disputes.map((x) => [x.id, x.status, x.reason, x.amount]), [[d.id, 'needs_response', 'fraudulent', 4000]]);
    const openKey = `notify:operator_dispute_opened:${d.id}`;
    let m = await messageOf(openKey);
    assert.deepEqual(m.to, [OPERATOR]);
    assert.equal(m.subject, `Dispute opened: ${usd(4000)} by ${u.email}`);
    assert.ok(m.body.includes(`user ${u.id} (${u.email})`));
    assert.ok(m.body.includes(`Dispute     ${d.id}`));
    assert.ok(m.body.includes('Reason      fraudulent'));
    assert.ok(m.body.includes(`https://dashboard.stripe.com/test/disputes/${d.id}`));

    const closedObj = { ...d, status: 'lost', is_charge_refundable: false };
    const closed = await send('charge.dispute.closed', closedObj, shape);
    assert.equal(closed.status, 'processed');
    [row] = await query('SELECT status, is_open, closed_event_id FROM disputes WHERE id = ?', [d.id]);
    assert.deepEqual({ ...row }, { status: 'lost', is_open: 0, closed_event_id: closed.ev.id });
    const closeKey = `notify:operator_dispute_closed:${d.id}`;
    m = await messageOf(closeKey);
    assert.deepEqual(m.to, [OPERATOR]);
    assert.equal(m.subject, `Dispute closed (lost): ${usd(4000)} by ${u.email}`);
    // Redelivered, and the same closing sent again under a new event id: one row, one e-mail.
    assert.equal((await signedWebhook(closed.ev)).json.status, 'duplicate');
    assert.equal((await send('charge.dispute.closed', closedObj, shape)).status, 'processed');
    // A late created (after closed) never reopens it.
    assert.equal((await send('charge.dispute.created', d, shape)).status, 'processed');
    [row] = await query('SELECT status, is_open FROM disputes WHERE id = ?', [d.id]);
    assert.deepEqual({ ...row }, { status: 'lost', is_open: 0 });
    assert.equal((await jobsOf(closeKey)).length, 1);
    assert.equal((await jobsOf(openKey)).length, 1);
    assert.deepEqual((await bevents(u.id, 'dispute_opened')).map((r) => [r.event_id, r.amount_cents]), [[d.id, 4000]]);
    const cl = await bevents(u.id, 'dispute_closed');
    assert.equal(cl.length, 1);
    assert.match(cl[0].detail, /status=lost reason=fraudulent/);
    a = await request('GET', `/api/admin/users/${u.id}`, { token: adm });
    assert.equal(a.status, 200);
    assert.deepEqual(a.json.open_disputes, []);
    const h = await history(u);
    assert.ok(h.some((e) => e.kind === 'dispute_opened' && e.stripe_event_id === d.id));
    assert.ok(h.some((e) => e.kind === 'dispute_closed' && /status=lost/.test(e.detail)));
  });

  test(`[${shape}] a dispute before its charge is recorded is kept for the charge, and applied once the charge arrives`, async () => {
    const u = await newUser({ tier: 'ai_secretary' });
    const pi = rid('pi_');
    const ch = E.charge(shape, { customer: u.customer, amount: 2500, payment_intent: pi });
    const d = E.dispute(shape, { charge: ch.id, payment_intent: pi, amount: 2500, reason: 'product_not_received', status: 'needs_response' });
    const early = await send('charge.dispute.created', d, shape);
    assert.equal(early.status, 'unmatched', 'no charge, no customer: nobody to flag yet');
    assert.equal(Number((await query('SELECT COUNT(*) AS n FROM disputes WHERE id = ?', [d.id]))[0].n), 0);
    await send('charge.succeeded', ch, shape);
    await waitFor(async () => (await stored(early.ev.id))?.status === 'processed', { timeoutMs: 20000, what: 'the dispute applied after its charge' });
    const [row] = await query('SELECT user_id, charge_id, amount, status, is_open FROM disputes WHERE id = ?', [d.id]);
    assert.deepEqual({ ...row }, { user_id: u.id, charge_id: ch.id, amount: 2500, status: 'needs_response', is_open: 1 });
    const m = await messageOf(`notify:operator_dispute_opened:${d.id}`);
    assert.deepEqual(m.to, [OPERATOR]);
    assert.equal(m.subject, `Dispute opened: ${usd(2500)} by ${u.email}`);
  });

  test(`[${shape}] customer.deleted: link cleared, subscriptions canceled, free tier, never relinked; a new checkout links a new customer`, async () => {
    const sub = rid('sub_');
    const u = await newUser({ tier: 'ai_secretary', subscription: sub });
    await query(`INSERT INTO subscriptions (id, user_id, customer_id, status, tier, price_id, last_event_id, last_event_created,
      last_event_rank) VALUES (?, ?, ?, 'active', 'ai_secretary', 'price_ai_secretary', ?, ?, 1)`, [sub, u.id, u.customer, rid('evt_'), 1]);
    const cus = E.customer(shape, { id: u.customer, email: u.email, metadata: { user_id: u.id } });
    const del = await send('customer.deleted', cus, shape);
    assert.equal(del.status, 'processed');
    const [usr] = await query('SELECT stripe_customer_id, tier, subscription_id FROM users WHERE id = ?', [u.id]);
    assert.deepEqual({ ...usr }, { stripe_customer_id: null, tier: 'ai_buddy', subscription_id: sub });
    const [s] = await query('SELECT status, deleted FROM subscriptions WHERE id = ?', [sub]);
    assert.deepEqual({ ...s }, { status: 'canceled', deleted: 1 });
    assert.deepEqual((await bevents(u.id, 'customer_deleted')).map((r) => r.event_id), [u.customer]);
    assert.deepEqual((await bevents(u.id, 'tier_changed')).map((r) => r.detail), ['ai_secretary -> ai_buddy']);
    const m = await messageOf(`notify:subscription_cancelled:${del.ev.id}`);
    assert.deepEqual(m.to, [u.email]);
    // Redelivered: duplicate; Stripe's own customer.subscription.deleted after it: the customer is gone.
    assert.equal((await signedWebhook(del.ev)).json.status, 'duplicate');
    const subDel = { id: sub, object: 'subscription', customer: u.customer, status: 'canceled', metadata: { user_id: u.id },
      cancel_at_period_end: false, items: { object: 'list', data: [{ id: rid('si_'), price: { id: 'price_ai_secretary' } }] } };
    assert.equal((await send('customer.subscription.deleted', subDel, shape)).status, 'unmatched');
    assert.equal((await query('SELECT stripe_customer_id FROM users WHERE id = ?', [u.id]))[0].stripe_customer_id, null);
    // A refund of the deleted customer's old charge still reaches the user.
    if (shape === E.NOW) {
      const r = E.refund(shape, { amount: 300, charge: rid('ch_'), customer: u.customer });
      assert.equal((await send('refund.created', r, shape)).status, 'processed');
      assert.deepEqual((await bevents(u.id, 'refund')).map((x) => x.amount_cents), [300]);
    }
    // A later checkout makes a new customer, which links.
    const fresh = rid('cus_');
    const cs = { id: rid('cs_test_'), object: 'checkout.session', customer: fresh, client_reference_id: u.id, metadata: { user_id: u.id },
      mode: 'subscription', status: 'complete', payment_status: 'paid', subscription: rid('sub_') };
    assert.equal((await send('checkout.session.completed', cs, shape)).status, 'processed');
    assert.equal((await query('SELECT stripe_customer_id FROM users WHERE id = ?', [u.id]))[0].stripe_customer_id, fresh);
  });

  test(`[${shape}] unmatched: events of a customer, charge or dispute we do not know change nothing`, async () => {
    const cus = rid('cus_');
    const cases = [
      ['customer.deleted', E.customer(shape, { id: cus })],
      ['charge.succeeded', E.charge(shape, { customer: cus })],
      ['charge.refunded', E.charge(shape, { customer: cus, amount_refunded: 4000 })],
      ['refund.created', E.refund(shape, { customer: cus })],
      ['charge.dispute.created', E.dispute(shape, {})],
      ['charge.dispute.closed', E.dispute(shape, { status: 'won' })],
      ['invoice.payment_action_required', E.actionInvoice(shape, { customer: cus })],
    ];
    for (const [type, obj] of cases) {
      const { ev, status } = await send(type, obj, shape);
      assert.equal(status, 'unmatched', type);
      assert.equal((await stored(ev.id)).status, 'unmatched');
      assert.equal((await query('SELECT COUNT(*) AS n FROM billing_events WHERE event_id IN (?, ?)', [ev.id, obj.id]))[0].n, 0, type);
    }
    assert.equal((await query('SELECT COUNT(*) AS n FROM customers_deleted WHERE customer_id = ?', [cus]))[0].n, 0);
  });
}

test('a dispute whose charge arrives later is unmatched, then applies on replay', async () => {
  const u = await newUser();
  const ch = E.charge(E.NOW, { customer: u.customer, amount: 2500 });
  const d = E.dispute(E.NOW, { charge: ch.id, amount: 2500, reason: 'duplicate' });
  const first = await send('charge.dispute.created', d, E.NOW);
  assert.equal(first.status, 'unmatched');
  await send('charge.succeeded', ch, E.NOW);
  const adm = await adminToken();
  const r = await request('POST', `/api/admin/events/${first.ev.id}/replay`, { token: adm });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await waitFor(async () => (await stored(first.ev.id)).status === 'processed', { what: 'the replayed dispute processed' });
  const [row] = await query('SELECT user_id, is_open FROM disputes WHERE id = ?', [d.id]);
  assert.deepEqual({ ...row }, { user_id: u.id, is_open: 1 });
});

// An event an older node stored ignored (a type this release handles, during a rolling upgrade) is applied
// by an operator's replay; one of a type still not handled stays ignored: 409 not_replayable.
test('an event stored ignored whose type is handled now is applied on replay; an unhandled type stays 409', async () => {
  const u = await newUser();
  const pi = rid('pi_');
  const ch = E.charge(E.NOW, { customer: u.customer, amount: 3000, payment_intent: pi });
  assert.equal((await send('charge.succeeded', ch, E.NOW)).status, 'processed');
  const r1 = E.refund(E.NOW, { amount: 1200, charge: ch.id, payment_intent: pi, customer: u.customer });
  const refunded = event('charge.refunded', E.charge(E.NOW, { id: ch.id, customer: u.customer, amount: 3000, amount_refunded: 1200,
    payment_intent: pi, refunds: [r1] }), { api_version: E.NOW });
  const other = event('customer.created', E.customer(E.NOW, { id: u.customer }), { api_version: E.NOW });
  for (const ev of [refunded, other])
    await query(`INSERT INTO stripe_events (id, type, api_version, livemode, created, object_id, payload, status)
      VALUES (?, ?, ?, 0, ?, ?, ?, 'ignored')`, [ev.id, ev.type, ev.api_version, ev.created, ev.data.object.id, JSON.stringify(ev)]);
  const adm = await adminToken();
  const r = await request('POST', `/api/admin/events/${refunded.id}/replay`, { token: adm });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual({ previous_status: r.json.previous_status, status: r.json.status }, { previous_status: 'ignored', status: 'processed' });
  assert.deepEqual({ ...(await stored(refunded.id)) }, { status: 'processed', user_id: u.id });
  assert.deepEqual((await bevents(u.id, 'refund')).map((b) => [b.event_id, b.amount_cents]), [[r1.id, 1200]]);
  const [c] = await query('SELECT amount_refunded FROM charges WHERE id = ?', [ch.id]);
  assert.equal(c.amount_refunded, 1200);
  // Done: replayed again, it is final.
  const again = await request('POST', `/api/admin/events/${refunded.id}/replay`, { token: adm });
  assert.equal(again.status, 409, JSON.stringify(again.json));
  // A type we do not act on: left ignored.
  const no = await request('POST', `/api/admin/events/${other.id}/replay`, { token: adm });
  assert.equal(no.status, 409, JSON.stringify(no.json));
  assert.equal(no.json.error.code, 'not_replayable');
  assert.equal((await stored(other.id)).status, 'ignored');
});

/** Deletes the stripe_events row of id, taking it off the /metrics counts as the purge does. */
async function forget(id) {
  const [row] = await query('SELECT type, metrics_status FROM stripe_events WHERE id = ?', [id]);
  await query('DELETE FROM stripe_events WHERE id = ?', [id]);
  if (row?.metrics_status != null)
    await query(`INSERT INTO metrics_event_counts (type, status, shard, n) VALUES (?, ?, 0, -1)
      ON DUPLICATE KEY UPDATE n = n + VALUES(n)`, [row.type, row.metrics_status]);
}

// A redelivery of a type we do not act on whose row a newer release stored failed (a rolling upgrade) is a
// duplicate here, but not a final one: it is not remembered as one.
test('a type we do not act on, stored failed by another release: "duplicate", and not remembered', async () => {
  // The webhook connected first (its memory trusts nothing learnt before a connection is made).
  assert.equal((await signedWebhook(event('customer.created', E.customer(E.NOW), { api_version: E.NOW }))).json.status, 'ignored');
  const ev = event('customer.created', E.customer(E.NOW), { api_version: E.NOW });
  await query(`INSERT INTO stripe_events (id, type, api_version, livemode, created, object_id, payload, status, last_error)
    VALUES (?, ?, ?, 0, ?, ?, ?, 'failed', 'by a newer release')`, [ev.id, ev.type, ev.api_version, ev.created, ev.data.object.id,
    JSON.stringify(ev)]);
  assert.equal((await signedWebhook(ev)).json.status, 'duplicate');
  await forget(ev.id);
  assert.equal((await signedWebhook(ev)).json.status, 'ignored');
  assert.equal((await stored(ev.id)).status, 'ignored');
  assert.equal((await signedWebhook(ev)).json.status, 'duplicate');
});

// After a failover the promoted replica may lack an event the old primary committed and the webhook answered
// (semi-sync fallen back to async), and the operator resends it (docs/SCALING.md). The webhook's memory of
// stored events must then not answer "duplicate": it is trusted only while the process talks to the server it
// learnt it from. Here the lost commit is the event's rows deleted, and the failover the webhook's connections
// killed: found by the next delivery, or, idle, by the memory no longer trusted once the server has not
// answered for a second.
for (const how of ['another delivery first', 'idle connections']) {
  test(`a resent event the database lost is applied again after the webhook's connections were lost (${how})`, async () => {
    const u = await newUser();
    const ch = E.charge(E.NOW, { customer: u.customer, amount: 2100 });
    const ev = event('charge.succeeded', ch, { api_version: E.NOW });
    // Delivered among others, as a batch of the group commit would take it.
    const others = Array.from({ length: 7 }, (_, i) => event('charge.succeeded', E.charge(E.NOW, { customer: u.customer, amount: 100 + i }),
      { api_version: E.NOW }));
    const first = await Promise.all([ev, ...others].map((e) => signedWebhook(e)));
    assert.deepEqual(first.map((r) => r.json.status), Array(8).fill('processed'));
    assert.equal((await signedWebhook(ev)).json.status, 'duplicate');
    // The commit lost: its rows gone.
    await forget(ev.id);
    await query('DELETE FROM charges WHERE id = ?', [ch.id]);
    // The failover: every connection of the programs ends (they reconnect on their next use).
    const { DB_USER } = requireEnv('DB_USER');
    const own = (await query('SELECT CONNECTION_ID() AS id'))[0].id;
    const ids = asAdmin(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${DB_USER}' AND ID <> ${Number(own)}`)
      .split('\n').filter(Boolean);
    for (const id of ids) { try { asAdmin(`KILL CONNECTION ${Number(id)}`); } catch { /* gone already */ } }
    if (how === 'idle connections') await sleep(1200);
    else {
      const next = await signedWebhook(event('charge.succeeded', E.charge(E.NOW, { customer: u.customer, amount: 99 }), { api_version: E.NOW }));
      assert.equal(next.json.status, 'processed', JSON.stringify(next.json));
    }
    const again = await signedWebhook(ev);
    assert.equal(again.status, 200, JSON.stringify(again.json));
    assert.equal(again.json.status, 'processed');
    assert.deepEqual({ ...(await stored(ev.id)) }, { status: 'processed', user_id: u.id });
    const [c] = await query('SELECT user_id, amount FROM charges WHERE id = ?', [ch.id]);
    assert.deepEqual({ ...c }, { user_id: u.id, amount: 2100 });
    assert.equal((await signedWebhook(ev)).json.status, 'duplicate');
  });
}

// An effect's insert that meets a duplicate key is not the event's own row: the event is run again (the
// rerun sees what the other transaction wrote), never answered "duplicate" and left unstored. Here the
// customer is linked to another user between the event's look-up by customer and its own link.
test('a duplicate key met by an effect runs the event again; it is stored, never answered "duplicate"', async () => {
  const x = crypto.randomUUID(), y = crypto.randomUUID(), customer = rid('cus_');
  for (const id of [x, y]) await query('INSERT INTO users (id, email) VALUES (?, ?)', [id, `${id}@example.test`]);
  const held = await hold('SELECT id FROM users WHERE id = ? FOR UPDATE', [x]);
  let answer;
  try {
    const ev = event('checkout.session.completed', checkoutSession({ user_id: x, customer }));
    answer = signedWebhook(ev).then((r) => ({ ev, r }));
    // The event looked its customer up (nobody), and now waits for x's row.
    await waitFor(() => running('SELECT id, tier, subscription_id, phone_number, stripe_customer_id, phone_status FROM users WHERE id') >= 1,
      { what: "the event waiting for x's row" });
    await query('UPDATE users SET stripe_customer_id = ? WHERE id = ?', [customer, y]);
  } finally {
    await held.release();
  }
  const { ev, r } = await answer;
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.status, 'processed');
  assert.deepEqual({ ...(await stored(ev.id)) }, { status: 'processed', user_id: y });
  const [ux] = await query('SELECT stripe_customer_id FROM users WHERE id = ?', [x]);
  assert.equal(ux.stripe_customer_id, null);
});

// Another committer (a second process or node, a Galera writer) may store an event of a customer unmatched while
// this one links the customer: each saw nothing of the other (uncommitted). Linking queues a second look at the
// customer's unmatched events, due EVENTS_RELINK_CHECK_S (300 s) later, which replays what that race left.
test('a customer linked while another committer stored its event unmatched: the second look replays the event', async () => {
  const u = crypto.randomUUID(), customer = rid('cus_');
  await query('INSERT INTO users (id, email) VALUES (?, ?)', [u, `${u}@example.test`]);
  const link = await signedWebhook(event('checkout.session.completed', checkoutSession({ user_id: u, customer })));
  assert.equal(link.json.status, 'processed', link.text);
  const t = Math.floor(Date.now() / 1000);
  const recheck = async () => (await query('SELECT state, UNIX_TIMESTAMP(run_after) AS due FROM jobs WHERE dedupe_key = ?',
    [`replay_unmatched:${customer}:recheck`]))[0];
  const job = await recheck();
  assert.ok(job, 'a second look is queued when the customer is linked');
  assert.equal(job.state, 'pending');
  assert.ok(Math.abs(Number(job.due) - (t + 300)) <= 30, `due about 300 s later: ${job.due - t} s`);
  // What the race leaves: the charge stored unmatched under the customer, the link committed, no replay queued.
  await query('UPDATE users SET stripe_customer_id = NULL WHERE id = ?', [u]);
  const ch = E.charge(E.NOW, { customer, amount: 1234 });
  const x = await send('charge.succeeded', ch, E.NOW);
  assert.equal(x.status, 'unmatched');
  await query('UPDATE users SET stripe_customer_id = ? WHERE id = ?', [customer, u]);
  assert.equal((await jobsOf(`replay_unmatched:${customer}`)).length, 0, 'nothing else would replay it');
  await query('UPDATE jobs SET run_after = NOW(6) WHERE dedupe_key = ?', [`replay_unmatched:${customer}:recheck`]);
  await waitFor(async () => (await stored(x.ev.id)).status === 'processed', { timeoutMs: 30000, what: 'the charge replayed' });
  assert.equal((await stored(x.ev.id)).user_id, u);
  const [c] = await query('SELECT user_id, amount FROM charges WHERE id = ?', [ch.id]);
  assert.deepEqual({ ...c }, { user_id: u, amount: 1234 });
  // The worker records the job's outcome after the replay's own commit.
  await waitFor(async () => (await recheck()).state === 'done', { timeoutMs: 30000, what: 'the second look done' });
});

// A customer linked with more unmatched events than one read of the list holds (1,000): the replay used to read
// those and report done, its key used up, and the rest stayed unmatched though the customer was linked. 2,100
// charges of one customer stored unmatched (as the webhook stores them: the event, and its place in the
// customer's list), then Checkout links the customer: every one is applied, in the order Stripe created them.
test('a customer linked with 2,100 unmatched events: every one is replayed, in the order Stripe created them', { timeout: 240000 }, async () => {
  const u = crypto.randomUUID(), customer = rid('cus_'), n = 2100;
  await query('INSERT INTO users (id, email) VALUES (?, ?)', [u, `${u}@example.test`]);
  const t0 = Math.floor(Date.now() / 1000) - 3 * 86400;
  const evs = Array.from({ length: n }, (_, i) => event('charge.succeeded',
    E.charge(E.NOW, { customer, amount: 100 + i, created: t0 + i }), { api_version: E.NOW, created: t0 + i }));
  for (let i = 0; i < n; i += 300) {
    const part = evs.slice(i, i + 300);
    await query(`INSERT INTO stripe_events (id, type, api_version, livemode, created, object_id, payload, status)
      VALUES ?`, [part.map((ev) => [ev.id, ev.type, ev.api_version, 0, ev.created, ev.data.object.id, JSON.stringify(ev), 'unmatched'])]);
    await query('INSERT INTO unmatched_events (event_id, customer_id, created) VALUES ?', [part.map((ev) => [ev.id, customer, ev.created])]);
  }
  // The list is read a page after another, each after the last event read (created, id), along its index.
  const [page] = statementSql('UNMATCHED_OF_CUSTOMER');
  const first = await query(page, [customer, -(2 ** 53), -(2 ** 53), '']);
  assert.deepEqual(first.map((r) => r.event_id), evs.slice(0, 1000).map((ev) => ev.id));
  const after = first[first.length - 1];
  const second = await query(page, [customer, after.created, after.created, after.event_id]);
  assert.deepEqual(second.map((r) => r.event_id), evs.slice(1000, 2000).map((ev) => ev.id));
  await query('ANALYZE TABLE unmatched_events');
  const looked = await examined(page, [customer, after.created, after.created, after.event_id]);
  assert.ok(looked <= 1100, `index entries looked at for the second page: ${looked}`);
  const link = await signedWebhook(event('checkout.session.completed', checkoutSession({ user_id: u, customer })));
  assert.equal(link.json.status, 'processed', link.text);
  const left = async () => Number((await query('SELECT COUNT(*) AS n FROM unmatched_events WHERE customer_id = ?', [customer]))[0].n);
  await waitFor(async () => await left() === 0, { timeoutMs: 200000, intervalMs: 1000, what: 'every unmatched event replayed' });
  const rows = await query("SELECT id, status, user_id FROM stripe_events WHERE type = 'charge.succeeded' AND object_id IN (?) "
    + 'ORDER BY processed_at, created', [evs.map((ev) => ev.data.object.id)]);
  assert.equal(rows.length, n);
  assert.deepEqual(rows.filter((r) => r.status !== 'processed' || r.user_id !== u).map((r) => [r.id, r.status, r.user_id]), [], 'each applied for the user');
  assert.deepEqual(rows.map((r) => r.id), evs.map((ev) => ev.id), 'applied in the order Stripe created them');
  const [c] = await query('SELECT COUNT(*) AS n, SUM(amount) AS cents FROM charges WHERE user_id = ?', [u]);
  assert.deepEqual([Number(c.n), Number(c.cents)], [n, n * 100 + (n * (n - 1)) / 2]);
});
