// Stripe webhook: signed with the npm `stripe` package, delivered through
// nginx to xsb-webhook, checked in MariaDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { closeHttp, rawRequest } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';
import { query, close } from './lib/db.mjs';
import { env } from './lib/env.mjs';
import * as S from './lib/stripe.mjs';
import * as B from './lib/bills.mjs';

test.after(async () => { closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
const PRICE = { ai_secretary: 'price_ai_secretary', ai_project_manager: 'price_ai_project_manager', ai_cto: 'price_ai_cto' };

async function newUser({ tier = 'ai_buddy', customer = S.rid('cus_'), phone = null } = {}) {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier, stripe_customer_id, phone_number, phone_sid, phone_status) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [id, `${id}@example.test`, tier, customer, phone, phone ? 'PN' + crypto.randomBytes(16).toString('hex') : null, phone ? 'active' : 'none']);
  return { id, customer };
}
const user = async (id) => (await query('SELECT * FROM users WHERE id = ?', [id]))[0];
const stored = async (id) => (await query('SELECT * FROM stripe_events WHERE id = ?', [id]))[0];
const jobs = async (userId, kind) => query('SELECT * FROM jobs WHERE user_id = ? AND kind = ? ORDER BY id', [userId, kind]);
const subEvent = (type, sub, created) => S.event(type, sub, { created });

test('W1 a signed subscription.created applies the tier, the cycle, and a provision job', async () => {
  const u = await newUser();
  const sub = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'active' });
  const ev = subEvent('customer.subscription.created', sub);
  const r = await S.signedWebhook(ev);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { received: true, status: 'processed' });
  const row = await user(u.id);
  assert.equal(row.tier, 'ai_secretary');
  assert.equal(row.subscription_id, sub.id);
  assert.equal(Number(row.billing_cycle_start), sub.current_period_start);
  assert.equal(Number(row.billing_cycle_end), sub.current_period_end);
  const e = await stored(ev.id);
  assert.equal(e.status, 'processed');
  assert.equal(e.type, 'customer.subscription.created');
  assert.equal(e.payload, r.sent.body);
  assert.equal((await jobs(u.id, 'phone_provision')).length, 1);
  const be = await query('SELECT kind FROM billing_events WHERE event_id = ? ORDER BY kind', [ev.id]);
  assert.deepEqual(be.map((x) => x.kind), ['subscription.created', 'tier_changed']);
});

test('W2 the same event 20 times at once has one effect', async () => {
  const u = await newUser();
  const sub = S.subscription({ customer: u.customer, price: PRICE.ai_project_manager });
  const ev = subEvent('customer.subscription.created', sub);
  const body = JSON.stringify(ev);
  const sig = S.signatureHeader(body);
  const rs = await Promise.all(Array.from({ length: 20 }, () => S.signedWebhook(body, { signature: sig })));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  assert.equal(rs.filter((r) => r.json.status === 'processed').length, 1);
  assert.equal(rs.filter((r) => r.json.status === 'duplicate').length, 19);
  assert.equal((await query('SELECT COUNT(*) AS n FROM stripe_events WHERE id = ?', [ev.id]))[0].n, 1);
  assert.equal((await jobs(u.id, 'phone_provision')).length, 1);
  assert.equal((await query('SELECT COUNT(*) AS n FROM billing_events WHERE user_id = ?', [u.id]))[0].n, 2);
  assert.equal((await user(u.id)).tier, 'ai_project_manager');
});

function permutations(a) {
  if (a.length <= 1) return [a];
  return a.flatMap((x, i) => permutations([...a.slice(0, i), ...a.slice(i + 1)]).map((p) => [x, ...p]));
}

test('W3 every order of created/updated/deleted ends in the same state', async () => {
  const t0 = now() - 100;
  const states = [];
  for (const order of permutations(['created', 'updated', 'deleted'])) {
    const u = await newUser();
    const id = S.rid('sub_');
    const created = S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary, status: 'active' });
    const updated = S.subscription({ id, customer: u.customer, price: PRICE.ai_project_manager, status: 'active', current_period_start: created.current_period_start, current_period_end: created.current_period_end });
    const deleted = S.subscription({ id, customer: u.customer, price: PRICE.ai_project_manager, status: 'canceled', current_period_start: created.current_period_start, current_period_end: created.current_period_end });
    const evs = {
      created: subEvent('customer.subscription.created', created, t0),
      updated: subEvent('customer.subscription.updated', updated, t0 + 10),
      deleted: subEvent('customer.subscription.deleted', deleted, t0 + 20),
    };
    for (const k of order) {
      const r = await S.signedWebhook(evs[k]);
      assert.equal(r.status, 200, `${order}: ${r.text}`);
    }
    const row = await user(u.id);
    const s = (await query('SELECT status, tier, deleted FROM subscriptions WHERE id = ?', [id]))[0];
    states.push(JSON.stringify({ tier: row.tier, sub: row.subscription_id === id, status: s.status, deleted: s.deleted, stier: s.tier }));
  }
  assert.equal(new Set(states).size, 1, states.join('\n'));
  assert.deepEqual(JSON.parse(states[0]), { tier: 'ai_buddy', sub: true, status: 'canceled', deleted: 1, stier: 'ai_project_manager' });
});

test('W4 tie-break: created and updated in the same second end updated, whatever the order', async () => {
  const t = now() - 50;
  for (const order of [['created', 'updated'], ['updated', 'created']]) {
    const u = await newUser();
    const id = S.rid('sub_');
    const evs = {
      created: subEvent('customer.subscription.created', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary }), t),
      updated: subEvent('customer.subscription.updated', S.subscription({ id, customer: u.customer, price: PRICE.ai_project_manager }), t),
    };
    const results = [];
    for (const k of order) results.push((await S.signedWebhook(evs[k])).json.status);
    assert.equal((await user(u.id)).tier, 'ai_project_manager', order.join(','));
    if (order[0] === 'updated') assert.deepEqual(results, ['processed', 'stale']);
  }
});

// Two *.updated events of one subscription in the same second: which came first is told by what each says the
// subscription was before it (data.previous_attributes), whatever the arrival order. Here it becomes active on
// ai_secretary (its first payment), then moves to ai_project_manager, both at second t: ending on ai_secretary
// would bill the wrong tier from t on (the tier history orders a second's events of one rank by arrival).
test('W4b two updates in one second: the order previous_attributes tells wins, one by one or in one batch', async () => {
  const t = now() - 40;
  for (const [order, together] of [[['active', 'upgrade'], false], [['upgrade', 'active'], false],
    [['upgrade', 'active'], true], [['active', 'upgrade'], true]]) {
    const u = await newUser();
    const id = S.rid('sub_');
    const base = { id, customer: u.customer, current_period_start: t - 10, current_period_end: t - 10 + 30 * 86400 };
    const incomplete = S.subscription({ ...base, price: PRICE.ai_secretary, status: 'incomplete', item_id: 'si_w4b' });
    const active = S.subscription({ ...base, price: PRICE.ai_secretary, status: 'active', item_id: 'si_w4b' });
    const upgraded = S.subscription({ ...base, price: PRICE.ai_project_manager, status: 'active', item_id: 'si_w4b' });
    const evs = {
      active: S.event('customer.subscription.updated', active, { created: t, previous_attributes: { status: 'incomplete' } }),
      upgrade: S.event('customer.subscription.updated', upgraded, { created: t, previous_attributes: { items: active.items } }),
    };
    assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', incomplete, t - 10))).status, 200);
    const what = `${order.join(', ')}${together ? ', at once' : ''}`;
    let results;
    if (together) {
      results = (await Promise.all(order.map((k) => S.signedWebhook(evs[k])))).map((r) => r.json.status);
    } else {
      results = [];
      for (const k of order) results.push((await S.signedWebhook(evs[k])).json.status);
    }
    if (together) assert.ok(results.every((r) => r === 'processed' || r === 'stale') && results.includes('processed'), `${what}: ${results}`);
    else assert.deepEqual(results, order[0] === 'active' ? ['processed', 'processed'] : ['processed', 'stale'], what);
    assert.equal((await user(u.id)).tier, 'ai_project_manager', what);
    const [sub] = await query('SELECT status, tier FROM subscriptions WHERE id = ?', [id]);
    assert.deepEqual([sub.status, sub.tier], ['active', 'ai_project_manager'], what);
    // The rating's history: the tier in force from t on is the last of that second, in its order.
    const hist = await query('SELECT tier FROM tier_history WHERE subscription_id = ? ORDER BY effective_at, event_rank, id', [id]);
    assert.equal(hist.at(-1)?.tier, 'ai_project_manager', `${what}: ${JSON.stringify(hist)}`);
  }
});

test('W5 a stale updated after deleted does not bring the subscription back', async () => {
  const u = await newUser();
  const id = S.rid('sub_');
  const t = now() - 30;
  await S.signedWebhook(subEvent('customer.subscription.created', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary }), t));
  await S.signedWebhook(subEvent('customer.subscription.deleted', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary, status: 'canceled' }), t + 5));
  const late = await S.signedWebhook(subEvent('customer.subscription.updated', S.subscription({ id, customer: u.customer, price: PRICE.ai_project_manager, status: 'active' }), t + 9));
  assert.equal(late.json.status, 'stale');
  assert.equal((await user(u.id)).tier, 'ai_buddy');
});

test('W6 statuses: past_due keeps the tier flagged, unpaid drops to ai_buddy, incomplete grants nothing', async () => {
  const u = await newUser();
  const id = S.rid('sub_');
  const t = now() - 60;
  await S.signedWebhook(subEvent('customer.subscription.created', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary, status: 'incomplete' }), t));
  assert.equal((await user(u.id)).tier, 'ai_buddy');
  await S.signedWebhook(subEvent('customer.subscription.updated', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary, status: 'active' }), t + 1));
  assert.equal((await user(u.id)).tier, 'ai_secretary');
  await S.signedWebhook(subEvent('customer.subscription.updated', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary, status: 'past_due' }), t + 2));
  let row = await user(u.id);
  assert.equal(row.tier, 'ai_secretary');
  assert.equal(row.past_due, 1);
  await S.signedWebhook(subEvent('customer.subscription.updated', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary, status: 'unpaid' }), t + 3));
  row = await user(u.id);
  assert.equal(row.tier, 'ai_buddy');
  assert.equal(row.past_due, 0);
});

test('W7 cancel at period end is recorded and a tier change in the same event still applies', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const sub = S.subscription({ customer: u.customer, price: PRICE.ai_project_manager, cancel_at_period_end: true });
  const r = await S.signedWebhook(subEvent('customer.subscription.updated', sub));
  assert.equal(r.json.status, 'processed');
  assert.equal((await user(u.id)).tier, 'ai_project_manager');
  const s = (await query('SELECT cancel_at_period_end FROM subscriptions WHERE id = ?', [sub.id]))[0];
  assert.equal(s.cancel_at_period_end, 1);
});

test('W8 an unknown price is an error (500, stored failed), never a guessed tier; redelivery retries', async () => {
  const u = await newUser();
  const sub = S.subscription({ customer: u.customer, price: 'price_unknown_to_us' });
  const ev = subEvent('customer.subscription.created', sub);
  const body = JSON.stringify(ev);
  const r = await S.signedWebhook(body);
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, 'processing_failed');
  assert.equal((await user(u.id)).tier, 'ai_buddy');
  let e = await stored(ev.id);
  assert.equal(e.status, 'failed');
  assert.match(e.last_error, /unknown price/);
  const again = await S.signedWebhook(body);
  assert.equal(again.status, 500);
  e = await stored(ev.id);
  assert.equal(e.attempts, 2);
  assert.equal((await query('SELECT COUNT(*) AS n FROM subscriptions WHERE id = ?', [sub.id]))[0].n, 0);
});

/**
 * Makes u follow a live subscription on price, as the webhook stored it when price was the tier's (the
 * operator may have moved the tier to a new price since: its subscribers stay on the old one).
 */
async function following(u, price, { tier = 'ai_secretary', start = now() - 10 * 86400, end = now() + 20 * 86400 } = {}) {
  const id = S.rid('sub_');
  await query(`INSERT INTO subscriptions (id, user_id, customer_id, status, tier, price_id, item_id, current_period_start,
    current_period_end, cancel_at_period_end, deleted, last_event_id, last_event_created, last_event_rank)
    VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, 0, 0, ?, ?, 0)`,
  [id, u.id, u.customer, tier, price, S.rid('si_'), start, end, S.rid('evt_'), now() - 100]);
  await query('UPDATE users SET tier = ?, subscription_id = ?, billing_cycle_start = ?, billing_cycle_end = ? WHERE id = ?',
    [tier, id, start, end, u.id]);
  return { id, start, end };
}
const phoneNumber = () => '+1555' + String(crypto.randomInt(1e7)).padStart(7, '0');

test('W8b on a price no STRIPE_PRICE_* names, only a status that grants the tier fails; the others apply as ai_buddy', async () => {
  const retired = S.rid('price_retired_');
  for (const status of ['active', 'trialing', 'past_due']) {
    const u = await newUser({ tier: 'ai_secretary' }), sub = await following(u, retired);
    const ev = subEvent('customer.subscription.updated', S.subscription({ id: sub.id, customer: u.customer, price: retired, status,
      current_period_start: sub.start, current_period_end: sub.end }));
    const r = await S.signedWebhook(ev);
    assert.equal(r.status, 500, `${status}: ${r.text}`);
    assert.equal(r.json.error.code, 'processing_failed');
    const e = await stored(ev.id);
    assert.equal(e.status, 'failed', status);
    assert.equal(e.last_error, `unknown price ${retired} on subscription ${sub.id}`);
    assert.equal((await user(u.id)).tier, 'ai_secretary', `${status}: never a guessed tier`);
  }
  for (const status of ['unpaid', 'canceled', 'incomplete_expired', 'paused', 'incomplete']) {
    const u = await newUser({ tier: 'ai_secretary', phone: phoneNumber() }), sub = await following(u, retired);
    const ev = subEvent('customer.subscription.updated', S.subscription({ id: sub.id, customer: u.customer, price: retired, status,
      current_period_start: sub.start, current_period_end: sub.end }));
    const r = await S.signedWebhook(ev);
    assert.equal(r.status, 200, `${status}: ${r.text}`);
    assert.equal(r.json.status, 'processed', status);
    const row = await user(u.id), s = (await query('SELECT * FROM subscriptions WHERE id = ?', [sub.id]))[0];
    assert.deepEqual([s.status, s.tier, s.price_id], [status, 'ai_buddy', retired], status);
    const hist = await query('SELECT tier FROM tier_history WHERE event_id = ?', [ev.id]);
    if (status === 'incomplete') {
      // Nothing is granted before the first payment, and nothing taken either.
      assert.equal(row.tier, 'ai_secretary');
      assert.equal(hist.length, 0);
      continue;
    }
    assert.deepEqual([row.tier, row.subscription_id], ['ai_buddy', sub.id], status);
    assert.deepEqual(hist.map((h) => h.tier), ['ai_buddy'], status);
    assert.ok(Number(row.phone_grace_until) > now(), `${status}: the number's grace started`);
    assert.equal((await jobs(u.id, 'phone_grace_release')).length, 1, status);
    assert.deepEqual((await jobs(u.id, 'notify')).map((j) => JSON.parse(j.payload).template),
      [status === 'paused' ? 'subscription_downgraded' : 'subscription_cancelled'], status);
  }
});

test('W8c a deletion on a price no STRIPE_PRICE_* names does all a deletion does: ai_buddy, grace, notice, final bill', async () => {
  const retired = S.rid('price_retired_');
  const seen = {};
  for (const [name, price] of [['known', PRICE.ai_secretary], ['retired', retired]]) {
    const u = await newUser({ tier: 'ai_secretary', phone: phoneNumber() }), sub = await following(u, price);
    const ended = now() - 5;
    const ev = subEvent('customer.subscription.deleted', S.subscription({ id: sub.id, customer: u.customer, price, status: 'canceled',
      current_period_start: sub.start, current_period_end: sub.end, ended_at: ended }));
    const body = JSON.stringify(ev);
    const r = await S.signedWebhook(body);
    assert.equal(r.status, 200, `${name}: ${r.text}`);
    assert.equal(r.json.status, 'processed', name);
    assert.equal((await S.signedWebhook(body)).json.status, 'duplicate', `${name}: applied once`);
    const row = await user(u.id), s = (await query('SELECT * FROM subscriptions WHERE id = ?', [sub.id]))[0];
    const [bill] = await jobs(u.id, 'bill_period');
    const { user_id, event_id, ...payload } = JSON.parse(bill.payload);
    assert.deepEqual([user_id, event_id], [u.id, ev.id]);
    assert.equal(bill.dedupe_key, `bill_period:${sub.id}:${sub.start}`);
    seen[name] = {
      tier: row.tier, following: row.subscription_id === sub.id, grace: Number(row.phone_grace_until) > now(),
      sub: [s.status, s.deleted, s.price_id === price],
      history: (await query('SELECT tier FROM tier_history WHERE event_id = ?', [ev.id])).map((h) => h.tier),
      kinds: (await query('SELECT kind FROM billing_events WHERE event_id = ? ORDER BY kind', [ev.id])).map((x) => x.kind),
      notices: (await jobs(u.id, 'notify')).map((j) => JSON.parse(j.payload).template),
      releases: (await jobs(u.id, 'phone_grace_release')).length,
      bills: (await jobs(u.id, 'bill_period')).length,
      bill: { ...payload, subscription: payload.subscription === sub.id, customer: payload.customer === u.customer,
        period_start: payload.period_start - sub.start, period_end: payload.period_end - sub.end, usage_end: payload.usage_end - ended },
    };
  }
  assert.deepEqual(seen.known, {
    tier: 'ai_buddy', following: true, grace: true, sub: ['canceled', 1, true], history: ['ai_buddy'],
    kinds: ['subscription.deleted', 'tier_changed'], notices: ['subscription_cancelled'], releases: 1, bills: 1,
    bill: { subscription: true, customer: true, period_start: 0, period_end: 0, usage_end: 0, final: true },
  });
  assert.deepEqual(seen.retired, seen.known, 'the retired price is ended as the known one');
});

test('W9 leaving a phone tier starts the grace (a release due at its end); deleted only acts on the current subscription', async () => {
  const u = await newUser({ tier: 'ai_secretary', phone: '+1555' + String(crypto.randomInt(1e7)).padStart(7, '0') });
  const current = S.rid('sub_');
  const t = now() - 40;
  await S.signedWebhook(subEvent('customer.subscription.created', S.subscription({ id: current, customer: u.customer, price: PRICE.ai_secretary }), t));
  const other = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'canceled' });
  await S.signedWebhook(subEvent('customer.subscription.deleted', other, t + 1));
  assert.equal((await user(u.id)).tier, 'ai_secretary', 'deleting another subscription changes nothing');
  assert.equal((await jobs(u.id, 'phone_grace_release')).length, 0);
  await S.signedWebhook(subEvent('customer.subscription.deleted', S.subscription({ id: current, customer: u.customer, price: PRICE.ai_secretary, status: 'canceled' }), t + 2));
  assert.equal((await user(u.id)).tier, 'ai_buddy');
  const release = await jobs(u.id, 'phone_grace_release');
  assert.equal(release.length, 1);
  // Due when the grace (PHONE_GRACE_DAYS, 7 by default) ends, not now.
  const until = Number((await user(u.id)).phone_grace_until);
  assert.ok(Math.abs(until - (now() + 7 * 86400)) < 120, String(until));
  const [due] = await query('SELECT FLOOR(UNIX_TIMESTAMP(run_after)) AS t FROM jobs WHERE id = ?', [release[0].id]);
  assert.ok(Math.abs(Number(due.t) - until) <= 1);
  assert.equal((await jobs(u.id, 'phone_release')).length, 0);
  assert.equal((await jobs(u.id, 'notify')).length, 1);
});

test('W10 checkout.session.completed links the customer by client_reference_id', async () => {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email) VALUES (?, ?)', [id, `${id}@example.test`]);
  const cs = S.checkoutSession({ user_id: id });
  const r = await S.signedWebhook(S.event('checkout.session.completed', cs));
  assert.equal(r.json.status, 'processed');
  assert.equal((await user(id)).stripe_customer_id, cs.customer);
});

test('W11 events for no known user are stored unmatched; ignored types are stored ignored', async () => {
  const sub = S.subscription({ price: PRICE.ai_secretary });
  const ev = subEvent('customer.subscription.created', sub);
  const r = await S.signedWebhook(ev);
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'unmatched');
  assert.equal((await stored(ev.id)).status, 'unmatched');
  const other = S.event('charge.captured', { id: S.rid('ch_'), object: 'charge' });
  const r2 = await S.signedWebhook(other);
  assert.equal(r2.json.status, 'ignored');
  assert.equal((await stored(other.id)).status, 'ignored');
  assert.equal((await S.signedWebhook(other)).json.status, 'duplicate');
});

test('W12 trial_will_end stores the trial end and queues a notification', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const trialEnd = now() + 3 * 86400;
  const sub = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', trial_end: trialEnd });
  const r = await S.signedWebhook(S.event('customer.subscription.trial_will_end', sub));
  assert.equal(r.json.status, 'processed');
  assert.equal(Number((await user(u.id)).trial_end), trialEnd);
  const n = await jobs(u.id, 'notify');
  assert.equal(n.length, 1);
  assert.equal(JSON.parse(n[0].payload).template, 'trial_ending');
  // Cancelled in its trial, then a late trial_will_end: nobody is told, the trial end stays.
  const v = await newUser();
  const t = now() - 100, vEnd = now() + 4 * 86400;
  const vs = S.subscription({ customer: v.customer, price: PRICE.ai_secretary, status: 'trialing', trial_end: vEnd });
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', vs, t))).json.status, 'processed');
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.deleted', { ...vs, status: 'canceled' }, t + 10))).json.status, 'processed');
  const before = (await user(v.id)).trial_end;
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.trial_will_end', vs, t + 5))).json.status, 'processed');
  assert.equal((await user(v.id)).trial_end, before);
  assert.deepEqual((await jobs(v.id, 'notify')).map((j) => JSON.parse(j.payload).template).filter((x) => x === 'trial_ending'), []);
});

test('W13 invoice failed then paid ends paid; a late failure does not undo paid; cycle moves', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const subId = S.rid('sub_');
  await query('UPDATE users SET subscription_id = ? WHERE id = ?', [subId, u.id]);
  const ps = now() - 10, pe = ps + 30 * 86400;
  const inv = S.invoice({ customer: u.customer, subscription: subId, status: 'open', billing_reason: 'subscription_cycle',
    lines: [{ amount: 4000, type: 'subscription', period: { start: ps, end: pe } }] });
  const failed = await S.signedWebhook(S.event('invoice.payment_failed', { ...inv, attempt_count: 1 }));
  assert.equal(failed.json.status, 'processed');
  let h = (await query('SELECT status, amount_due FROM invoices WHERE id = ?', [inv.id]))[0];
  assert.equal(h.status, 'open', 'a failed payment leaves the invoice open, as at Stripe');
  assert.equal(Number(h.amount_due), 4000);
  assert.equal((await jobs(u.id, 'notify')).length, 1);
  await S.signedWebhook(S.event('invoice.payment_succeeded', { ...inv, status: 'paid', amount_paid: 4000 }));
  await S.signedWebhook(S.event('invoice.paid', { ...inv, status: 'paid', amount_paid: 4000 }));
  const paidRows = await query("SELECT COUNT(*) AS n FROM billing_events WHERE event_id = ? AND kind = 'invoice_paid'", [inv.id]);
  assert.equal(paidRows[0].n, 1, 'invoice.paid and invoice.payment_succeeded record one payment');
  await S.signedWebhook(S.event('invoice.payment_failed', { ...inv, attempt_count: 2 }));
  h = (await query('SELECT status, amount_paid FROM invoices WHERE id = ?', [inv.id]))[0];
  assert.equal(h.status, 'paid');
  assert.equal((await jobs(u.id, 'notify')).length, 1, 'no failure e-mail about an invoice already paid');
  assert.equal(Number(h.amount_paid), 4000);
  let row = await user(u.id);
  assert.equal(Number(row.billing_cycle_start), ps);
  assert.equal(Number(row.billing_cycle_end), pe);
  // The paid invoice of the period before, delivered late (Stripe keeps no order): the cycle stays.
  const old = S.invoice({ customer: u.customer, subscription: subId, status: 'paid', billing_reason: 'subscription_cycle', amount_paid: 4000,
    lines: [{ amount: 4000, type: 'subscription', period: { start: ps - 30 * 86400, end: ps } }] });
  assert.equal((await S.signedWebhook(S.event('invoice.paid', old))).json.status, 'processed');
  row = await user(u.id);
  assert.deepEqual([Number(row.billing_cycle_start), Number(row.billing_cycle_end)], [ps, pe], 'a late paid invoice does not move the cycle back');
});

test('W14 invoice.created for a cycle invoice queues one bill_period job, even when redelivered', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const inv = S.invoice({ customer: u.customer, subscription: S.rid('sub_'), status: 'draft', billing_reason: 'subscription_cycle',
    period_start: now() - 30 * 86400, period_end: now() });
  const ev = S.event('invoice.created', inv);
  await S.signedWebhook(ev);
  await S.signedWebhook(ev);
  const j = await jobs(u.id, 'bill_period');
  assert.equal(j.length, 1);
  const p = JSON.parse(j[0].payload);
  assert.equal(p.invoice_id, inv.id);
  assert.equal(p.subscription, inv.subscription);
  assert.equal(p.period_end, inv.period_end);
  const manual = S.invoice({ customer: u.customer, status: 'draft', billing_reason: 'manual' });
  await S.signedWebhook(S.event('invoice.created', manual));
  assert.equal((await jobs(u.id, 'bill_period')).length, 1, 'a manual invoice bills no overage');
});

test('W15 invoice.upcoming records the projected overage and bills nothing', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  await B.liveSubscription({ user: u.id, customer: u.customer });
  const t = now();
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'voice', ?, ?, 'test', ?)", [u.id, 150 * 60, t, `t:${u.id}:v`]);
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'sms', 120, ?, 'test', ?)", [u.id, t, `t:${u.id}:s`]);
  const inv = S.invoice({ customer: u.customer, status: 'draft' });
  delete inv.id;
  const ev = S.event('invoice.upcoming', inv);
  const r = await S.signedWebhook(ev);
  assert.equal(r.json.status, 'processed');
  const be = (await query("SELECT amount_cents FROM billing_events WHERE event_id = ? AND kind = 'projected_overage'", [ev.id]))[0];
  assert.equal(Number(be.amount_cents), 80, '50 min x 1.3 = 65 + 20 SMS x 0.75 = 15');
  assert.equal((await jobs(u.id, 'bill_period')).length, 0);
  assert.equal((await jobs(u.id, 'notify')).length, 1);
});

test('W16 bad signatures, old and future timestamps, malformed bodies: 400 and nothing stored', async () => {
  const ev = S.event('customer.created', { id: S.rid('cus_'), object: 'customer' });
  const body = JSON.stringify(ev);
  const cases = [
    { name: 'no header', headers: {} },
    { name: 'garbage header', headers: { 'Stripe-Signature': 'nonsense' } },
    { name: 'wrong secret', headers: { 'Stripe-Signature': S.signatureHeader(body, { secret: 'whsec_wrong' }) } },
    { name: 'old', headers: { 'Stripe-Signature': S.signatureHeader(body, { timestamp: now() - 301 }) } },
    { name: 'future', headers: { 'Stripe-Signature': S.signatureHeader(body, { timestamp: now() + 301 }) } },
    { name: 'tampered body', headers: { 'Stripe-Signature': S.signatureHeader(body.replace('customer.created', 'customer.deleted')) } },
  ];
  for (const c of cases) {
    const r = await rawRequest('POST', '/stripe/webhook', { body, headers: { 'Content-Type': 'application/json', ...c.headers } });
    assert.equal(r.status, 400, c.name);
    assert.equal(r.json.error.code, 'signature_invalid', c.name);
  }
  assert.equal(await stored(ev.id), undefined);
  for (const bad of ['{"id":', '[]', '{"id":"evt_x","type":"a.b"}', '{"type":"x","created":1,"data":{"object":{}}}']) {
    const r = await S.signedWebhook(bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.error.code, 'malformed_event');
  }
  assert.equal((await query("SELECT COUNT(*) AS n FROM stripe_events WHERE id = 'evt_x'"))[0].n, 0);
});

test('W17 every configured secret verifies (rotation)', async () => {
  const secrets = env.STRIPE_WEBHOOK_SECRETS.split(',').map((s) => s.trim());
  assert.ok(secrets.length >= 2, 'the sandbox runs with two secrets to show rotation');
  for (const secret of secrets) {
    const ev = S.event('customer.created', { id: S.rid('cus_'), object: 'customer' });
    const r = await S.signedWebhook(ev, { secret });
    assert.equal(r.status, 200);
    assert.equal((await stored(ev.id)).status, 'ignored');
  }
});

test('W18 ids differing only in case are two events (binary collation)', async () => {
  const base = S.rid('evt_');
  const a = S.event('customer.created', { id: 'cus_a', object: 'customer' }, { id: base + 'a' });
  const b = S.event('customer.created', { id: 'cus_a', object: 'customer' }, { id: base + 'A' });
  assert.equal((await S.signedWebhook(a)).json.status, 'ignored');
  assert.equal((await S.signedWebhook(b)).json.status, 'ignored');
  assert.equal((await query('SELECT COUNT(*) AS n FROM stripe_events WHERE id IN (?, ?)', [a.id, b.id]))[0].n, 2);
});

test('W19 a second live subscription: followed, the operator told once; when it ends the other live one is followed again', async () => {
  const u = await newUser();
  const t = now() - 100;
  const a = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'active' });
  const b = S.subscription({ customer: u.customer, price: PRICE.ai_project_manager, status: 'active' });
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', a, t))).json.status, 'processed');
  assert.equal((await jobs(u.id, 'notify')).filter((j) => j.dedupe_key.startsWith('notify:operator_subscriptions_doubled:')).length, 0);
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', b, t + 10))).json.status, 'processed');
  await S.signedWebhook(subEvent('customer.subscription.updated', b, t + 20));
  const row = await user(u.id);
  assert.deepEqual([row.tier, row.subscription_id], ['ai_project_manager', b.id]);
  const told = (await jobs(u.id, 'notify')).filter((j) => j.dedupe_key.startsWith('notify:operator_subscriptions_doubled:'));
  assert.deepEqual(told.map((j) => j.dedupe_key), [`notify:operator_subscriptions_doubled:${b.id}`]);
  const p = JSON.parse(told[0].payload);
  assert.deepEqual([p.old_subscription, p.old_tier, p.new_subscription, p.new_tier], [a.id, 'ai_secretary', b.id, 'ai_project_manager']);
  await waitFor(async () => (await query('SELECT state FROM jobs WHERE id = ?', [told[0].id]))[0].state === 'done', { timeoutMs: 20000, what: 'the operator e-mailed' });
  // The operator cancels the newer one, which the account follows: the account follows the older, still charged.
  await S.signedWebhook(subEvent('customer.subscription.deleted', { ...b, status: 'canceled' }, t + 30));
  const back = await user(u.id);
  assert.deepEqual([back.tier, back.subscription_id], ['ai_secretary', a.id], 'the live one is followed, not the free tier');
  // Both gone: the free tier; then a new one: a move, nobody is told.
  await S.signedWebhook(subEvent('customer.subscription.deleted', { ...a, status: 'canceled' }, t + 31));
  assert.equal((await user(u.id)).tier, 'ai_buddy');
  const c = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'active' });
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', c, t + 40))).json.status, 'processed');
  assert.equal((await user(u.id)).subscription_id, c.id);
  assert.equal((await jobs(u.id, 'notify')).filter((j) => j.dedupe_key.startsWith('notify:operator_subscriptions_doubled:')).length, 1);
});

test('W21 a period restated by a newer event (a trial extended) takes the new end; an older one does not move it back', async () => {
  const u = await newUser();
  const s = now() - 5 * 86400, e1 = s + 14 * 86400, e2 = s + 21 * 86400, t = now() - 100;
  const first = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', current_period_start: s, current_period_end: e1, trial_end: e1 });
  const extended = S.subscription({ ...first, id: first.id, customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', current_period_start: s, current_period_end: e2, trial_end: e2 });
  const period = async () => (await query('SELECT period_end FROM billing_periods WHERE subscription_id = ? AND period_start = ?', [first.id, s])).map((r) => Number(r.period_end));
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', first, t))).json.status, 'processed');
  assert.deepEqual(await period(), [e1]);
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.updated', extended, t + 10))).json.status, 'processed');
  assert.deepEqual(await period(), [e2], 'the newer statement of the period wins');
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.updated', first, t + 5))).json.status, 'stale');
  assert.deepEqual(await period(), [e2], 'an older event, arriving late, does not move it back');
});

// Two live subscriptions: the account follows the newer (Stripe's created), whatever order their events come in.
test('W22 two live subscriptions, the newer\'s events first: the account follows the newer; a late event of the older does not take it back', async () => {
  const u = await newUser();
  const t = now() - 100;
  const older = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'active', created: now() - 2000 });
  const newer = S.subscription({ customer: u.customer, price: PRICE.ai_project_manager, status: 'active', created: now() - 1000 });
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', newer, t))).json.status, 'processed');
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', older, t + 5))).json.status, 'processed');
  let row = await user(u.id);
  assert.deepEqual([row.tier, row.subscription_id], ['ai_project_manager', newer.id]);
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.updated', { ...older, cancel_at_period_end: true }, t + 10))).json.status, 'processed');
  row = await user(u.id);
  assert.deepEqual([row.tier, row.subscription_id], ['ai_project_manager', newer.id], 'the older one\'s late event does not take the account back');
  const told = (await jobs(u.id, 'notify')).filter((j) => j.dedupe_key.startsWith('notify:operator_subscriptions_doubled:'));
  assert.deepEqual(told.map((j) => j.dedupe_key), [`notify:operator_subscriptions_doubled:${newer.id}`], 'the operator told once');
  const p = JSON.parse(told[0].payload);
  assert.deepEqual([p.old_subscription, p.new_subscription], [older.id, newer.id]);
});

// On Galera the user's lock reaches no other node: two events of one user on two nodes both commit unless their
// writes meet. The deletion of the subscription the user follows, moving them to another still live, writes the user's
// row; the other one's deletion, leaving the user alone, must write it too, or both certify and the user follows a
// deleted subscription (docs/SCALING.md). One node shows the write: the row's updated_at moves whatever is decided.
test('W23 every subscription event that applies writes the user\'s row, the user moved or not (Galera certification)', async () => {
  // With a number already, no provisioning job writes the row meanwhile.
  const u = await newUser({ phone: phoneNumber() });
  const t = now() - 100;
  const s1 = S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'active', created: now() - 2000 });
  const s2 = S.subscription({ customer: u.customer, price: PRICE.ai_project_manager, status: 'active', created: now() - 1000 });
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', s1, t))).json.status, 'processed');
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.created', s2, t + 1))).json.status, 'processed');
  const cases = [
    ['a late update of the older one (the user keeps the newer)', subEvent('customer.subscription.updated', { ...s1, cancel_at_period_end: true }, t + 2)],
    ['an update of the one followed that changes nothing of the user\'s', subEvent('customer.subscription.updated', { ...s2, cancel_at_period_end: true }, t + 3)],
    ['a new incomplete one (grants nothing yet)', subEvent('customer.subscription.created',
      S.subscription({ customer: u.customer, price: PRICE.ai_cto, status: 'incomplete' }), t + 4)],
    // Its period made empty: a final bill would be rated by the worker, which writes the user's row too.
    ['the deletion of the one not followed', subEvent('customer.subscription.deleted',
      { ...s1, status: 'canceled', current_period_end: s1.current_period_start }, t + 5)],
  ];
  for (const [what, ev] of cases) {
    await query("UPDATE users SET updated_at = '2000-01-01 00:00:00' WHERE id = ?", [u.id]);
    const r = await S.signedWebhook(ev);
    assert.equal(r.json?.status, 'processed', `${what}: ${r.text}`);
    const [row] = await query('SELECT tier, subscription_id, YEAR(updated_at) AS y FROM users WHERE id = ?', [u.id]);
    assert.deepEqual([row.tier, row.subscription_id], ['ai_project_manager', s2.id], `${what}: the user stays`);
    assert.ok(row.y > 2000, `${what}: the user's row is written`);
  }
  assert.equal((await jobs(u.id, 'bill_period')).length, 0, 'no job of the worker writes the row meanwhile');
  // A stale event decides on its subscription's row alone and writes no user's row.
  await query("UPDATE users SET updated_at = '2000-01-01 00:00:00' WHERE id = ?", [u.id]);
  assert.equal((await S.signedWebhook(subEvent('customer.subscription.updated', s2, t + 2))).json.status, 'stale');
  assert.equal((await query('SELECT YEAR(updated_at) AS y FROM users WHERE id = ?', [u.id]))[0].y, 2000);
});
