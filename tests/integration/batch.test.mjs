// Group commit in xsb-webhook: concurrent deliveries are stored several to a
// transaction (common/domain/evstore.c, "Group commit").  Each test sends bursts of
// signed deliveries at once and checks every outcome in MariaDB, as if each
// had come alone.  A burst is repeated (fresh events) until /metrics shows
// that the committers did batch it (or rolled a batch back), so each test
// proves the batched path ran, not only the one-by-one path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { closeHttp, metricCounters } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import * as S from './lib/stripe.mjs';
import { waitFor } from './lib/wait.mjs';

test.after(async () => { closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
const MAX_BURSTS = 6;

async function newUser() {
  const id = crypto.randomUUID();
  const customer = S.rid('cus_');
  await query("INSERT INTO users (id, email, tier, stripe_customer_id, phone_status) VALUES (?, ?, 'ai_buddy', ?, 'none')",
    [id, `${id}@example.test`, customer]);
  return { id, customer };
}
const user = async (id) => (await query('SELECT * FROM users WHERE id = ?', [id]))[0];
const stored = async (id) => (await query('SELECT * FROM stripe_events WHERE id = ?', [id]))[0];

async function counters() {
  const m = await metricCounters('xsb_webhook_batches_total', 'xsb_webhook_batched_events_total', 'xsb_webhook_batch_rollbacks_total');
  return { batches: m.xsb_webhook_batches_total, batched: m.xsb_webhook_batched_events_total,
    rollbacks: m.xsb_webhook_batch_rollbacks_total };
}

/** Sends every event of evs at once (in a shuffled order); returns the replies in evs' order. */
async function burst(evs) {
  const order = evs.map((_, i) => i).sort(() => Math.random() - 0.5);
  const out = new Array(evs.length);
  await Promise.all(order.map(async (i) => { out[i] = await S.signedWebhook(evs[i]); }));
  return out;
}

test('G1 a burst of matched, unmatched and ignored events: each stored and applied as alone', async () => {
  const c0 = await counters();
  let c1 = c0;
  for (let b = 0; b < MAX_BURSTS && c1.batched === c0.batched; b++) {
    const users = await Promise.all(Array.from({ length: 10 }, newUser));
    const subs = users.map((u) => S.subscription({ customer: u.customer, price: 'price_ai_secretary', status: 'active' }));
    const matched = subs.map((s) => S.event('customer.subscription.created', s));
    const unmatched = Array.from({ length: 10 }, () => S.event('customer.subscription.updated',
      S.subscription({ customer: S.rid('cus_'), price: 'price_ai_secretary' })));
    const ignored = Array.from({ length: 10 }, () => S.event('customer.created', { id: S.rid('cus_'), object: 'customer' }));
    const evs = [...matched, ...unmatched, ...ignored];
    const rs = await burst(evs);
    rs.forEach((r, i) => assert.equal(r.status, 200, `${evs[i].type}: ${r.text}`));
    assert.deepEqual(rs.map((r) => r.json.status),
      [...Array(10).fill('processed'), ...Array(10).fill('unmatched'), ...Array(10).fill('ignored')]);
    for (const [i, u] of users.entries()) {
      const row = await user(u.id);
      assert.equal(row.tier, 'ai_secretary');
      assert.equal(row.subscription_id, subs[i].id);
      assert.equal((await query("SELECT COUNT(*) AS n FROM jobs WHERE user_id = ? AND kind = 'phone_provision'", [u.id]))[0].n, 1);
      const e = await stored(matched[i].id);
      assert.equal(e.status, 'processed');
      assert.equal(e.user_id, u.id);
    }
    // Each unmatched event kept aside for its customer, once (written with the batch's rows).
    const kept = await query(`SELECT event_id, customer_id FROM unmatched_events WHERE event_id IN (${unmatched.map(() => '?').join()})`,
      unmatched.map((e) => e.id));
    assert.deepEqual(kept.map((k) => `${k.event_id} ${k.customer_id}`).sort(),
      unmatched.map((e) => `${e.id} ${e.data.object.customer}`).sort());
    for (const [i, ev] of evs.entries()) {
      const e = await stored(ev.id);
      assert.ok(e, `${ev.id} stored`);
      assert.equal(e.payload, rs[i].sent.body);
      assert.equal(e.status, rs[i].json.status);
    }
    c1 = await counters();
  }
  assert.ok(c1.batches > c0.batches && c1.batched >= c0.batched + 2,
    `no delivery was stored in a batch: ${JSON.stringify({ c0, c1 })}`);
});

test('G2 one failing event in a burst: the batch is rolled back, the others still apply, it alone gets 500', async () => {
  const c0 = await counters();
  let c1 = c0;
  for (let b = 0; b < MAX_BURSTS && c1.rollbacks === c0.rollbacks; b++) {
    const users = await Promise.all(Array.from({ length: 12 }, newUser));
    const good = users.slice(1).map((u) => S.event('customer.subscription.created',
      S.subscription({ customer: u.customer, price: 'price_ai_project_manager' })));
    const bad = S.event('customer.subscription.created', S.subscription({ customer: users[0].customer, price: S.rid('price_unknown_') }));
    const evs = [...good, bad];
    const rs = await burst(evs);
    good.forEach((ev, i) => {
      assert.equal(rs[i].status, 200, rs[i].text);
      assert.equal(rs[i].json.status, 'processed');
    });
    assert.equal(rs.at(-1).status, 500, rs.at(-1).text);
    assert.equal(rs.at(-1).json.error.code, 'processing_failed');
    for (const [i, u] of users.slice(1).entries()) {
      assert.equal((await user(u.id)).tier, 'ai_project_manager');
      assert.equal((await stored(good[i].id)).status, 'processed');
    }
    assert.equal((await user(users[0].id)).tier, 'ai_buddy');
    const e = await stored(bad.id);
    assert.equal(e.status, 'failed');
    assert.match(e.last_error, /unknown price/);
    c1 = await counters();
  }
  assert.ok(c1.rollbacks > c0.rollbacks, `no batch was rolled back: ${JSON.stringify({ c0, c1 })}`);
});

test('G3 created, updated and deleted of ten subscriptions all at once end as in any sequential order', async () => {
  const c0 = await counters();
  let c1 = c0;
  for (let b = 0; b < MAX_BURSTS && c1.batched === c0.batched; b++) {
    const t0 = now() - 100;
    const cases = await Promise.all(Array.from({ length: 10 }, async () => {
      const u = await newUser();
      const id = S.rid('sub_');
      const base = { id, customer: u.customer };
      const created = S.subscription({ ...base, price: 'price_ai_secretary', status: 'active' });
      const period = { current_period_start: created.current_period_start, current_period_end: created.current_period_end };
      return { u, id, evs: [
        S.event('customer.subscription.created', created, { created: t0 }),
        S.event('customer.subscription.updated', S.subscription({ ...base, ...period, price: 'price_ai_project_manager', status: 'active' }), { created: t0 + 10 }),
        S.event('customer.subscription.deleted', S.subscription({ ...base, ...period, price: 'price_ai_project_manager', status: 'canceled' }), { created: t0 + 20 }),
      ] };
    }));
    const rs = await burst(cases.flatMap((c) => c.evs));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    for (const c of cases) {
      const row = await user(c.u.id);
      const s = (await query('SELECT status, tier, deleted FROM subscriptions WHERE id = ?', [c.id]))[0];
      assert.deepEqual({ tier: row.tier, sub: row.subscription_id === c.id, status: s.status, deleted: s.deleted, stier: s.tier },
        { tier: 'ai_buddy', sub: true, status: 'canceled', deleted: 1, stier: 'ai_project_manager' });
    }
    c1 = await counters();
  }
  assert.ok(c1.batched > c0.batched, `no delivery was stored in a batch: ${JSON.stringify({ c0, c1 })}`);
});

// Two *.updated events of one subscription in the same second, in one burst with other subscriptions' pairs:
// an event of a batch is not stored until the batch ends, so the one applied first is found among the batch's
// (events_applied()). Each pair: it becomes active on ai_secretary, then moves to ai_project_manager (webhook W4b).
test('G4b two updates of one second in one burst: each subscription ends on the later, in either order', async () => {
  const c0 = await counters();
  let c1 = c0;
  // Three bursts at least: a pair meets in one batch, in the wrong order, only by chance.
  for (let b = 0; b < MAX_BURSTS && (b < 3 || c1.batched === c0.batched); b++) {
    const t = now() - 100;
    const cases = await Promise.all(Array.from({ length: 16 }, async () => {
      const u = await newUser();
      const base = { id: S.rid('sub_'), customer: u.customer, current_period_start: t - 10, current_period_end: t - 10 + 30 * 86400,
        item_id: S.rid('si_') };
      const active = S.subscription({ ...base, price: 'price_ai_secretary', status: 'active' });
      const upgraded = S.subscription({ ...base, price: 'price_ai_project_manager', status: 'active' });
      const created = S.event('customer.subscription.created', S.subscription({ ...base, price: 'price_ai_secretary',
        status: 'incomplete' }), { created: t - 10 });
      return { u, id: base.id, created, evs: [
        S.event('customer.subscription.updated', active, { created: t, previous_attributes: { status: 'incomplete' } }),
        S.event('customer.subscription.updated', upgraded, { created: t, previous_attributes: { items: active.items } }),
      ] };
    }));
    for (const r of await burst(cases.map((c) => c.created))) assert.equal(r.status, 200, r.text);
    for (const r of await burst(cases.flatMap((c) => c.evs))) assert.equal(r.status, 200, r.text);
    for (const c of cases) {
      const s = (await query('SELECT status, tier FROM subscriptions WHERE id = ?', [c.id]))[0];
      assert.deepEqual([(await user(c.u.id)).tier, s.status, s.tier], ['ai_project_manager', 'active', 'ai_project_manager'], c.id);
      const hist = await query('SELECT tier FROM tier_history WHERE subscription_id = ? ORDER BY effective_at, event_rank, id', [c.id]);
      assert.equal(hist.at(-1)?.tier, 'ai_project_manager', `${c.id}: ${JSON.stringify(hist)}`);
    }
    c1 = await counters();
  }
  assert.ok(c1.batched > c0.batched, `no delivery was stored in a batch: ${JSON.stringify({ c0, c1 })}`);
});

test('G4 redeliveries of stored events in a burst, with one event delivered 15 times: duplicates, one effect', async () => {
  const users = await Promise.all(Array.from({ length: 20 }, newUser));
  const evs = users.map((u) => S.event('customer.subscription.created',
    S.subscription({ customer: u.customer, price: 'price_ai_secretary' })));
  for (const r of await burst(evs)) assert.equal(r.status, 200, r.text);
  const once = await newUser();
  const one = S.event('customer.subscription.created', S.subscription({ customer: once.customer, price: 'price_ai_secretary' }));
  const body = JSON.stringify(one);
  const fresh = Array.from({ length: 10 }, () => S.event('customer.subscription.updated',
    S.subscription({ customer: S.rid('cus_'), price: 'price_ai_secretary' })));
  // Redeliveries carry a fresh signature, as Stripe's do.
  const all = [...evs, ...Array(15).fill(body), ...fresh];
  const rs = await burst(all);
  for (const r of rs) assert.equal(r.status, 200, r.text);
  assert.deepEqual(rs.slice(0, 20).map((r) => r.json.status), Array(20).fill('duplicate'));
  const ones = rs.slice(20, 35).map((r) => r.json.status);
  assert.equal(ones.filter((s) => s === 'processed').length, 1, ones.join());
  assert.equal(ones.filter((s) => s === 'duplicate').length, 14, ones.join());
  assert.deepEqual(rs.slice(35).map((r) => r.json.status), Array(10).fill('unmatched'));
  const n = await query(`SELECT COUNT(*) AS n FROM stripe_events WHERE id IN (${all.map(() => '?').join()})`,
    all.map((e) => (typeof e === 'string' ? JSON.parse(e).id : e.id)));
  assert.equal(n[0].n, 20 + 1 + 10);
  assert.equal((await query("SELECT COUNT(*) AS n FROM jobs WHERE user_id = ? AND kind = 'phone_provision'", [once.id]))[0].n, 1);
  assert.equal((await query('SELECT COUNT(*) AS n FROM billing_events WHERE user_id = ?', [once.id]))[0].n, 2);
});

test('G5 an unmatched event and the checkout that links its customer in one burst: the subscription applies in either order', async () => {
  const c0 = await counters();
  let c1 = c0;
  for (let b = 0; b < MAX_BURSTS && c1.batched === c0.batched; b++) {
    const users = await Promise.all(Array.from({ length: 12 }, async () => {
      const id = crypto.randomUUID();
      await query("INSERT INTO users (id, email, tier, phone_status) VALUES (?, ?, 'ai_buddy', 'none')", [id, `${id}@example.test`]);
      return { id, customer: S.rid('cus_') };
    }));
    // The subscription event names no user: unmatched when it comes before the checkout (in the same
    // batch or not), then replayed; applied at once when it comes after.
    const subs = users.map((u) => S.subscription({ customer: u.customer, price: 'price_ai_secretary', status: 'active',
      current_period_start: now() - 3600 }));
    const evs = users.flatMap((u, i) => [
      S.event('customer.subscription.created', subs[i], { created: now() - 120 }),
      S.event('checkout.session.completed', S.checkoutSession({ customer: u.customer, subscription: subs[i].id, user_id: u.id })),
    ]);
    for (const r of await burst(evs)) assert.equal(r.status, 200, r.text);
    for (const [i, u] of users.entries())
      await waitFor(async () => (await user(u.id)).tier === 'ai_secretary',
        { timeoutMs: 20000, what: `user ${i}'s subscription applied (stored ${(await stored(evs[2 * i].id))?.status})` });
    const left = await query(`SELECT COUNT(*) AS n FROM unmatched_events WHERE customer_id IN (${users.map(() => '?').join()})`,
      users.map((u) => u.customer));
    assert.equal(left[0].n, 0);
    c1 = await counters();
  }
  assert.ok(c1.batched > c0.batched, `no delivery was stored in a batch: ${JSON.stringify({ c0, c1 })}`);
});
