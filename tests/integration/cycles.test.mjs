// Three billing cycles of several customers, driven through the Stripe stand-in's objects and test clocks
// (no hand-built event): each subscribes through our Checkout, reports usage, and one upgrades, one's card
// fails then is replaced, one cancels. Every invoice is checked line by line and to the cent on Stripe's
// side (the stand-in's invoice and its lines) and on ours (table invoices, the overage rows of
// billing_events), against a model of the price list written here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as SB from './lib/sandbox.mjs';
import { request, closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { waitFor } from './lib/wait.mjs';

// ---- the model: the price list, independent of our code ----
// Tiers: monthly price in cents and what it includes. Overage: voice 1.3 c per started minute (of each
// call), SMS 0.75 c per message, each line rounded half up once; 500 c per period when a number was held.
const TIERS = { ai_secretary: { price: 4000, voice: 100, sms: 100 }, ai_project_manager: { price: 28000, voice: 500, sms: 500 } };
const halfUp = (num, den) => Math.floor((2 * num + den) / (2 * den)); // num/den >= 0, rounded half up
// A period's allowance (docs/BILLING.md): each tier in force counts by the share of the period it was in
// force, the sum rounded down once. `tiers` is a tier name (all period) or [[from, tier], ...] by time.
function allowance(tiers, [ps, pe], kind) {
  const list = typeof tiers === 'string' ? [[ps, tiers]] : tiers;
  let sum = 0;
  list.forEach(([from, t], i) => { sum += TIERS[t][kind] * ((i + 1 < list.length ? list[i + 1][0] : pe) - Math.max(from, ps)); });
  return Math.floor(sum / (pe - ps));
}
function overageLines(tiers, period, use, phoneHeld) {
  const minutes = use.calls.reduce((a, s) => a + Math.ceil(s / 60), 0);
  const lines = {
    voice: halfUp(Math.max(0, minutes - allowance(tiers, period, 'voice')) * 13, 10),
    sms: halfUp(Math.max(0, use.sms - allowance(tiers, period, 'sms')) * 75, 100),
    phone: phoneHeld ? 500 : 0,
  };
  return Object.fromEntries(Object.entries(lines).filter(([, c]) => c > 0)); // a line of 0 is not billed
}
const addMonth = (t) => { const d = new Date(t * 1000); d.setUTCMonth(d.getUTCMonth() + 1); return Math.floor(d / 1000); };

const now = Math.floor(Date.now() / 1000);
const t0 = Math.floor(now / SB.DAY) * SB.DAY - 35 * SB.DAY + 3600; // P1 starts 35 days ago: its usage can still be reported
const m1 = addMonth(t0), m2 = addMonth(m1), m3 = addMonth(m2);
const P = [[t0, m1], [m1, m2], [m2, m3]];
const WINDOW_MS = 2000;

let svc;
const users = {};
before(async () => {
  // Delivery is off in an integration stack (tests of hand-made events get no others); on for this file.
  await SB.control('POST', '/__webhook', { enabled: true, draft_window_ms: WINDOW_MS, chaos: null, dunning: 'cancel' });
  svc = SB.token(await SB.newUser('ai_buddy'), 'service');
});
after(async () => {
  await SB.control('POST', '/__webhook', { enabled: false });
  closeHttp();
  await close();
});

// Usage of a period: through our API where it is not in the future (POST /api/usage refuses the future),
// straight into the ledger otherwise (the clock runs ahead of today).
async function use(u, k, { calls = [], sms = 0 }) {
  const at = P[k][0] + SB.DAY;
  u.use[k] = { calls, sms };
  for (const [kind, q] of [...calls.map((s) => ['voice', s]), ...(sms ? [['sms', sms]] : [])]) {
    if (at <= now) {
      const r = await SB.report(svc, u.user, kind, q, at);
      assert.equal(r.status, 201, r.text);
    } else {
      await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
        [u.user, kind, q, at, 'test', `cycles-${crypto.randomUUID()}`]);
    }
  }
}
async function advanceAll(to, which = Object.values(users)) {
  await Promise.all(which.map((u) => SB.advance(u.clock, to)));
}
// Whether u held a phone number at some time in [ps, pe) (the fact, read from our records).
async function held(u, ps, pe) {
  const rows = await query('SELECT held_from, held_to FROM phone_numbers WHERE user_id = ?', [u.user]);
  return rows.some((r) => Number(r.held_from) < pe && (r.held_to === null || Number(r.held_to) > ps));
}
const ours = async (id) => (await query('SELECT status, amount_due, amount_paid, attempt_count, billing_reason FROM invoices WHERE id = ?', [id]))[0];
const oursLines = async (id) => Object.fromEntries((await query("SELECT kind, amount_cents FROM billing_events WHERE event_id = ? AND kind LIKE 'overage\\_%'", [id]))
  .map((r) => [r.kind.slice('overage_'.length), Number(r.amount_cents)]));
// The stand-in's lines of an invoice as {sub: [cents...], proration: [cents...], voice, sms, phone}.
function stripeLines(inv) {
  const out = { sub: [], proration: [] };
  for (const l of inv.lines.data) {
    const d = l.parent.subscription_item_details ?? l.parent.invoice_item_details;
    if (d.proration) out.proration.push(l.amount);
    else if (l.parent.type === 'subscription_item_details' && !d.invoice_item) out.sub.push(l.amount);
    else out[l.metadata.kind] = l.amount;
  }
  return out;
}
// Checks the renewal invoice of period k of u on both sides: its lines and total against the model.
async function checkRenewal(u, k, { tier, prorations = [], paid = true, attempts = 1 }) {
  const invs = (await SB.invoicesOf(u.customer)).filter((i) => i.billing_reason === 'subscription_cycle');
  const inv = invs.find((i) => i.period_start === P[k][0]);
  assert.ok(inv, `${u.name}: a renewal invoice for period ${k + 1} (has ${invs.map((i) => i.period_start)})`);
  assert.equal(inv.period_end, P[k][1]);
  const over = overageLines(u.tierOf[k], P[k], u.use[k] ?? { calls: [], sms: 0 }, await held(u, ...P[k]));
  const want = { sub: [TIERS[tier].price], proration: prorations, ...over };
  const total = want.sub[0] + prorations.reduce((a, c) => a + c, 0) + Object.values(over).reduce((a, c) => a + c, 0);
  assert.deepEqual(stripeLines(inv), want, `${u.name}: lines of the period ${k + 1} invoice at Stripe`);
  assert.equal(inv.total, total, `${u.name}: total at Stripe`);
  assert.equal(inv.lines.data.find((l) => !l.parent.subscription_item_details?.proration && l.parent.type === 'subscription_item_details')?.period.start, P[k][1]);
  assert.deepEqual([inv.status, inv.amount_paid, inv.attempt_count], [paid ? 'paid' : 'open', paid ? total : 0, attempts], `${u.name}: payment at Stripe`);
  await waitFor(async () => (await ours(inv.id))?.status === inv.status, { what: `${u.name}: our invoice ${inv.id} ${inv.status}`, timeoutMs: 10000 });
  const mine = await ours(inv.id);
  assert.deepEqual([mine.status, Number(mine.amount_due), Number(mine.amount_paid), Number(mine.attempt_count), mine.billing_reason],
    [inv.status, total, paid ? total : 0, attempts, 'subscription_cycle'], `${u.name}: our invoice row`);
  assert.deepEqual(await oursLines(inv.id), over, `${u.name}: our overage lines of period ${k + 1}`);
  return inv;
}

test('C1 three cycles: usage, an upgrade, a failed then recovered payment, a cancellation', { timeout: 240000 }, async () => {
  const specs = {
    steady: { tier: 'ai_secretary', pm: 'pm_card_visa' },
    upgrader: { tier: 'ai_secretary', pm: 'pm_card_visa' },
    declined: { tier: 'ai_secretary', pm: 'pm_card_chargeCustomerFail' },
    leaver: { tier: 'ai_secretary', pm: 'pm_card_visa' },
  };
  for (const [name, s] of Object.entries(specs)) {
    const user = await SB.newUser();
    users[name] = { name, ...(await SB.subscribe({ user, tier: s.tier, t0, pm: s.pm })), use: [], tierOf: [s.tier, s.tier, s.tier] };
  }
  const { steady, upgrader, declined, leaver } = users;
  // the first invoice: Checkout's, paid, on both sides
  for (const u of Object.values(users)) {
    const [first] = await SB.invoicesOf(u.customer);
    assert.deepEqual([first.billing_reason, first.status, first.total, stripeLines(first).sub], ['subscription_create', 'paid', 4000, [4000]]);
    await waitFor(async () => (await ours(first.id))?.status === 'paid', { what: `${u.name}: first invoice paid here` });
    const [row] = await query('SELECT tier, subscription_id FROM users WHERE id = ?', [u.user]);
    assert.deepEqual([row.tier, row.subscription_id], ['ai_secretary', u.subscription]);
  }

  // period 1
  await use(steady, 0, { calls: [7230, 59], sms: 150 });  // 121 + 1 started minutes: 22 over (28.6 -> 29 c); 50 SMS over (37.5 -> 38 c)
  await use(upgrader, 0, { calls: [600], sms: 20 });      // within the tier
  await use(declined, 0, { sms: 101 });                   // 1 SMS over: 0.75 -> 1 c
  const cancel = await request('POST', '/api/billing/cancel', { token: leaver.token });
  assert.equal(cancel.status, 200, cancel.text);
  await SB.idle();
  await advanceAll(m1 + 7200);
  await checkRenewal(steady, 0, { tier: 'ai_secretary' });
  await checkRenewal(upgrader, 0, { tier: 'ai_secretary' });
  const failed = await checkRenewal(declined, 0, { tier: 'ai_secretary', paid: false });
  assert.equal(failed.next_payment_attempt, m1 + 3600 + 3 * SB.DAY);
  const subStatus = async (u) => (await query('SELECT status FROM subscriptions WHERE id = ?', [u.subscription]))[0]?.status;
  await waitFor(async () => (await subStatus(declined)) === 'past_due', { what: 'declined: our subscription past_due' });
  const fails = await query("SELECT COUNT(*) AS n FROM billing_events WHERE user_id = ? AND kind = 'payment_failed'", [declined.user]);
  assert.equal(Number(fails[0].n), 1);
  // the leaver: canceled at the period end, no renewal invoice, back on the free tier here
  assert.deepEqual((await SB.invoicesOf(leaver.customer)).map((i) => i.billing_reason), ['subscription_create']);
  assert.equal((await SB.stripe('GET', `/v1/subscriptions/${leaver.subscription}`)).json.status, 'canceled');
  await waitFor(async () => (await query('SELECT tier FROM users WHERE id = ?', [leaver.user]))[0].tier === 'ai_buddy', { what: 'leaver: ai_buddy' });

  // the declined customer enters a working card: the retry three days later pays
  await SB.setCard(declined.customer, 'pm_card_visa');
  await SB.advance(declined.clock, m1 + 3600 + 3 * SB.DAY + 60);
  await checkRenewal(declined, 0, { tier: 'ai_secretary', attempts: 2 });
  assert.equal((await SB.stripe('GET', `/v1/subscriptions/${declined.subscription}`)).json.status, 'active');
  await waitFor(async () => (await subStatus(declined)) === 'active', { what: 'declined: our subscription active again' });

  // period 2: the upgrader moves to ai_project_manager two hours in (prorations at its clock's time)
  const up = await request('POST', '/api/billing/upgrade', { token: upgrader.token, json: { target_tier: 'ai_project_manager' } });
  assert.equal(up.status, 200, up.text);
  await SB.idle();
  await waitFor(async () => (await query('SELECT tier FROM users WHERE id = ?', [upgrader.user]))[0].tier === 'ai_project_manager', { what: 'upgrader: tier here' });
  const tu = m1 + 7200, span = m2 - m1;
  const proration = [-halfUp(4000 * (m2 - tu), span), halfUp(28000 * (m2 - tu), span)];
  upgrader.tierOf[1] = [[m1, 'ai_secretary'], [tu, 'ai_project_manager']];
  upgrader.tierOf[2] = 'ai_project_manager';
  await use(steady, 1, { calls: [6000], sms: 99 });     // exactly 100 minutes, 99 SMS: nothing over
  await use(upgrader, 1, { sms: 50 });                   // within either tier
  await use(declined, 1, { calls: [60 * 130] });          // 30 over: 39 c
  const live = [steady, upgrader, declined];
  await advanceAll(m2 + 7200, live);
  await checkRenewal(steady, 1, { tier: 'ai_secretary' });
  await checkRenewal(upgrader, 1, { tier: 'ai_project_manager', prorations: proration });
  await checkRenewal(declined, 1, { tier: 'ai_secretary' });

  // period 3 (ahead of today: its usage goes straight into the ledger)
  await use(steady, 2, { calls: [6001], sms: 101 });      // 101 minutes: 1.3 -> 1 c; 0.75 -> 1 c
  await use(upgrader, 2, { calls: [30060], sms: 600 });   // 501 minutes: 1 c; 100 SMS: 75 c
  await advanceAll(m3 + 7200, live);
  await checkRenewal(steady, 2, { tier: 'ai_secretary' });
  await checkRenewal(upgrader, 2, { tier: 'ai_project_manager' });
  await checkRenewal(declined, 2, { tier: 'ai_secretary' });

  // nothing stuck: every delivery of this run answered 2xx in the end
  const bad = (await SB.control('GET', '/__deliveries')).filter((d) => d.state !== 'delivered');
  assert.deepEqual(bad.map((d) => `${d.type} ${d.state} ${d.attempts.at(-1)?.status}`), []);
});

test('C2 after Checkout, upgrade, downgrade, cancel, resume and upcoming answer 200; the stand-in\'s events move our state', async () => {
  const user = await SB.newUser();
  const s = await SB.subscribe({ user, tier: 'ai_secretary', t0: now - SB.DAY });
  const sub = async () => (await query('SELECT tier, status, cancel_at_period_end AS c FROM subscriptions WHERE id = ?', [s.subscription]))[0];
  const tier = async () => (await query('SELECT tier FROM users WHERE id = ?', [user]))[0].tier;
  const call = async (method, path, json) => {
    const r = await request(method, path, { token: s.token, json });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    await SB.idle();
    return r.json;
  };
  const pre = await call('GET', '/api/billing/upcoming');
  assert.equal(pre.total, 4000);
  await call('POST', '/api/billing/upgrade', { target_tier: 'ai_project_manager' });
  await waitFor(async () => (await tier()) === 'ai_project_manager', { what: 'upgraded here' });
  await call('POST', '/api/billing/downgrade', { target_tier: 'ai_secretary' });
  await waitFor(async () => (await tier()) === 'ai_secretary', { what: 'downgraded here' });
  await call('POST', '/api/billing/cancel', {});
  await waitFor(async () => Number((await sub()).c) === 1, { what: 'cancel_at_period_end here' });
  await call('POST', '/api/billing/resume', {});
  await waitFor(async () => Number((await sub()).c) === 0, { what: 'resumed here' });
  assert.deepEqual(await sub(), { tier: 'ai_secretary', status: 'active', c: 0 });
  // all of it arrived as the stand-in's signed events, none hand-made
  const types = (await SB.control('GET', '/__deliveries')).filter((d) => d.object === s.subscription).map((d) => d.type);
  assert.deepEqual(types, ['customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.updated',
    'customer.subscription.updated', 'customer.subscription.updated']);
});

test('C3 the same cycles with Stripe\'s liberties: duplicated, reordered and late deliveries (seeded) bill the same', async () => {
  await SB.control('POST', '/__webhook', { chaos: { seed: 11, duplicate: 0.3, reorder: 0.3, delay_ms: 30 } });
  try {
    const user = await SB.newUser();
    const u = { name: 'chaos', ...(await SB.subscribe({ user, tier: 'ai_secretary', t0 })), use: [], tierOf: ['ai_secretary', null, 'ai_project_manager'] };
    await use(u, 0, { calls: [6100], sms: 130 });          // 102 minutes: 2.6 -> 3 c; 30 SMS: 22.5 -> 23 c
    await SB.advance(u.clock, m1 + 7200);
    await checkRenewal(u, 0, { tier: 'ai_secretary' });
    const up = await request('POST', '/api/billing/upgrade', { token: u.token, json: { target_tier: 'ai_project_manager' } });
    assert.equal(up.status, 200, up.text);
    await SB.idle();
    await waitFor(async () => (await query('SELECT tier FROM users WHERE id = ?', [user]))[0].tier === 'ai_project_manager', { what: 'chaos: upgraded here' });
    const tu = m1 + 7200, span = m2 - m1;
    u.tierOf[1] = [[m1, 'ai_secretary'], [tu, 'ai_project_manager']];
    await use(u, 1, { sms: 520 });                         // 2 h of 100, the rest of 500: 498 included, 22 over: 17 c
    await SB.advance(u.clock, m2 + 7200);
    await checkRenewal(u, 1, { tier: 'ai_project_manager', prorations: [-halfUp(4000 * (m2 - tu), span), halfUp(28000 * (m2 - tu), span)] });
    const dl = (await SB.control('GET', '/__deliveries')).filter((d) => d.duplicate);
    assert.ok(dl.length > 0, 'some deliveries were duplicates');
  } finally {
    await SB.control('POST', '/__webhook', { chaos: null });
  }
});
