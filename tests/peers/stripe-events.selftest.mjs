// Self test of the Stripe stand-in's events, webhook deliveries and test clocks:
// `node --test tests/peers/stripe-events.selftest.mjs`. A receiver here plays our webhook endpoint; every
// delivery it gets is verified with the stripe package's own `webhooks.constructEvent` (Stripe's signature).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Stripe from 'stripe';
import { startStandIn, VERSION } from './standin.mjs';

const KEY = 'sk_test_events_key';
const SECRET = 'whsec_selftest_events_secret';
const stripe = new Stripe(KEY);
let base, call, ctl, stop, receiver, got = [], answer = () => 200, onEvent = null;

before(async () => {
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let ev;
      try { ev = stripe.webhooks.constructEvent(body, req.headers['stripe-signature'], SECRET); }
      catch (e) { got.push({ bad: e.message }); res.writeHead(400).end(); return; }
      got.push(ev);
      if (onEvent) await onEvent(ev);
      const status = answer(ev);
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  ({ base, call, ctl, stop } = await startStandIn(['--key', KEY, '--price', 'price_secretary=4000', '--price', 'price_pm=28000',
    '--webhook-url', `http://127.0.0.1:${receiver.address().port}/stripe/webhook`, '--webhook-secret', SECRET, '--draft-window-ms', '300']));
});
after(() => { stop?.(); receiver?.close(); });
beforeEach(async () => {
  await ctl('POST', '/__reset');
  got = []; answer = () => 200; onEvent = null;
});

const idle = async () => { const r = await fetch(`${base}/__idle`); assert.equal(r.status, 200); };
// Event types received, charges aside (their own test below checks them).
const types = (evs = got) => evs.map((e) => e.type).filter((t) => !t.startsWith('charge.'));
const DAY = 86400;
async function customer(params = {}) {
  const r = await call('POST', '/v1/customers', { params: { email: 'u@example.com', ...params } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}
// A customer on a clock frozen at t0 with a subscription started by Checkout (price_secretary unless given).
async function subscribed({ t0, pm = 'pm_card_visa', price = 'price_secretary', trial } = {}) {
  const clock = (await call('POST', '/v1/test_helpers/test_clocks', { params: { frozen_time: String(t0), name: 'selftest' } })).json;
  const cus = await customer({ test_clock: clock.id, payment_method: pm, 'metadata[user_id]': 'u1' });
  const params = { mode: 'subscription', customer: cus.id, 'line_items[0][price]': price, 'line_items[0][quantity]': '1',
    success_url: 'https://x/ok', 'subscription_data[metadata][user_id]': 'u1' };
  if (trial) params['subscription_data[trial_period_days]'] = String(trial);
  const cs = (await call('POST', '/v1/checkout/sessions', { params })).json;
  const done = await ctl('POST', `/__checkout/${cs.id}/complete`, { payment_method: pm });
  await idle();
  return { clock, cus, sub: done.subscription, first: done.invoice };
}
async function advance(clock, to) {
  const r = await call('POST', `/v1/test_helpers/test_clocks/${clock.id}/advance`, { params: { frozen_time: String(to) } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.status, 'advancing');
  await idle();
  const k = (await call('GET', `/v1/test_helpers/test_clocks/${clock.id}`)).json;
  assert.deepEqual([k.status, k.frozen_time], ['ready', to]);
  return k;
}
const obj = async (id) => ctl('GET', `/__objects/${id}`);

test('API changes emit signed events of today, in order, naming the request', async () => {
  const cus = await customer();
  const now = Math.floor(Date.now() / 1000);
  const sub = await ctl('POST', '/__subscriptions', { customer: cus.id, price: 'price_secretary', current_period_start: now - DAY, current_period_end: now + 29 * DAY });
  const idem = 'selftest-upgrade-1';
  const up = await call('POST', `/v1/subscriptions/${sub.id}`, { idem, params: { 'items[0][id]': sub.items.data[0].id, 'items[0][price]': 'price_pm' } });
  assert.equal(up.status, 200);
  await call('POST', `/v1/subscriptions/${sub.id}`, { params: { cancel_at_period_end: 'true' } });
  await idle();
  assert.ok(got.every((e) => !e.bad), JSON.stringify(got.filter((e) => e.bad)));
  assert.deepEqual(types(), ['customer.created', 'customer.subscription.created', 'invoiceitem.created', 'invoiceitem.created',
    'customer.subscription.updated', 'customer.subscription.updated']);
  for (const e of got) assert.equal(e.api_version, VERSION);
  const [, , , , price, cancel] = got;
  assert.equal(price.request.idempotency_key, idem);
  assert.match(price.request.id, /^req_/);
  assert.equal(price.data.object.items.data[0].price.id, 'price_pm');
  assert.equal(price.data.previous_attributes.items.data[0].price.id, 'price_secretary');
  assert.deepEqual(Object.keys(cancel.data.previous_attributes).sort(), ['cancel_at', 'cancel_at_period_end', 'canceled_at']);
  assert.equal(cancel.data.previous_attributes.cancel_at_period_end, false);
  assert.equal(cancel.data.object.cancel_at_period_end, true);
  const dl = await ctl('GET', '/__deliveries');
  assert.equal(dl.length, got.length);
  assert.ok(dl.every((d) => d.state === 'delivered' && d.attempts.length === 1 && d.attempts[0].status === 200));
  // a replayed POST changes nothing and emits nothing
  await call('POST', `/v1/subscriptions/${sub.id}`, { idem, params: { 'items[0][id]': sub.items.data[0].id, 'items[0][price]': 'price_pm' } });
  await idle();
  assert.equal(got.length, 6);
});

test('non-2xx is retried on the compressed schedule; delivery off records events without sending', async () => {
  let n = 0;
  answer = () => (++n <= 2 ? 500 : 200);
  await customer();
  await idle();
  const t0 = Date.now();
  while (got.length < 3 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  const [d] = await ctl('GET', '/__deliveries');
  assert.deepEqual(d.attempts.map((a) => a.status), [500, 500, 200]);
  assert.equal(d.state, 'delivered');
  // 60 s then 300 s of Stripe's, at 3600 to 1: about 17 ms and 83 ms
  const gap = Date.parse(d.attempts[2].at) - Date.parse(d.attempts[1].at);
  assert.ok(gap >= 70 && gap < 1000, `second retry after ${gap} ms`);
  assert.equal(new Set(got.map((e) => e.id)).size, 1);

  const off = await ctl('POST', '/__webhook', { enabled: false });
  assert.equal(off.enabled, false);
  got = [];
  await customer();
  await idle();
  assert.equal(got.length, 0);
  const evs = await ctl('GET', '/__events');
  assert.equal(evs.at(-1).type, 'customer.created');
  assert.equal(evs.at(-1).pending_webhooks, 0);
  assert.equal((await ctl('GET', '/__deliveries')).length, 1);
  await ctl('POST', '/__reset');
  assert.equal((await ctl('POST', '/__webhook', {})).enabled, true, '/__reset brings back the command line\'s delivery');
});

test('chaos with a seed: duplicates and reordering, the same for the same seed', async () => {
  async function run(seed) {
    await ctl('POST', '/__reset');
    await ctl('POST', '/__webhook', { chaos: { seed, duplicate: 0.5, reorder: 0.5 } });
    got = [];
    const cus = await customer();
    for (let i = 0; i < 6; i++) await call('POST', `/v1/customers/${cus.id}`, { params: { 'metadata[n]': String(i) } });
    await idle();
    return got.map((e) => `${e.type}:${e.data.object.metadata.n ?? '-'}`);
  }
  const a = await run(7), b = await run(7);
  assert.deepEqual(a, b);
  assert.ok(a.length > 7, `duplicates: ${a.length}`);
  const inOrder = ['customer.created:-', ...[0, 1, 2, 3, 4, 5].map((i) => `customer.updated:${i}`)];
  assert.notDeepEqual([...new Set(a)], inOrder, 'some reordering');
  assert.deepEqual([...new Set(a)].sort(), inOrder.sort());
  // max_copies 3: some events three times, none more
  await ctl('POST', '/__reset');
  await ctl('POST', '/__webhook', { chaos: { seed: 3, duplicate: 0.6, max_copies: 3 } });
  got = [];
  const cus = await customer();
  for (let i = 0; i < 12; i++) await call('POST', `/v1/customers/${cus.id}`, { params: { 'metadata[n]': String(i) } });
  await idle();
  const n = new Map();
  for (const e of got) n.set(e.id, (n.get(e.id) ?? 0) + 1);
  const copies = [...n.values()];
  assert.equal(copies.length, 13);
  assert.ok(copies.includes(3) && Math.max(...copies) === 3, `copies per event: ${copies}`);
});

test('checkout completion: the subscription starts on the clock, its first invoice is paid', async () => {
  const t0 = Date.UTC(2026, 0, 15) / 1000;
  const { sub, first, cus } = await subscribed({ t0 });
  assert.deepEqual(types().filter((t) => !t.startsWith('test_helpers')), ['customer.created', 'checkout.session.completed', 'customer.subscription.created', 'invoice.created',
    'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
  assert.deepEqual([sub.status, sub.test_clock, sub.items.data[0].current_period_start, sub.items.data[0].current_period_end],
    ['active', cus.test_clock, t0, Date.UTC(2026, 1, 15) / 1000]);
  assert.deepEqual([first.billing_reason, first.status, first.total, first.amount_paid, first.test_clock], ['subscription_create', 'paid', 4000, 4000, cus.test_clock]);
  assert.equal(got.find((e) => e.type === 'invoice.created').created, t0);
  assert.equal(got.find((e) => e.type === 'checkout.session.completed').data.object.subscription, sub.id);
});

test('renewal: period moves, draft sweeps pending items and takes items added in its window, then paid', async () => {
  const t0 = Date.UTC(2026, 0, 15) / 1000, t1 = Date.UTC(2026, 1, 15) / 1000;
  const { clock, cus, sub } = await subscribed({ t0 });
  const pending = await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', quantity: '3', unit_amount_decimal: '0.75', description: 'sms' } });
  assert.equal(pending.status, 200);
  // our worker's part: on invoice.created, add an item to that draft
  onEvent = async (ev) => {
    if (ev.type !== 'invoice.created' || ev.data.object.billing_reason !== 'subscription_cycle') return;
    setTimeout(() => call('POST', '/v1/invoiceitems', { params: { customer: cus.id, invoice: ev.data.object.id, currency: 'usd', quantity: '50', unit_amount_decimal: '1.3', description: 'voice' } }), 50);
  };
  got = [];
  await advance(clock, t1 + 2 * 3600);
  assert.deepEqual(types().filter((t) => t !== 'invoiceitem.created' && !t.startsWith('test_helpers')),
    ['invoice.upcoming', 'customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
  // three days before: the renewal notice, an invoice without id (as Stripe sends it) with what is pending
  const upcoming = got.find((e) => e.type === 'invoice.upcoming');
  assert.equal(upcoming.created, t1 - 3 * DAY);
  assert.equal('id' in upcoming.data.object, false);
  assert.deepEqual([upcoming.data.object.billing_reason, upcoming.data.object.total, upcoming.data.object.parent.subscription_details.subscription],
    ['upcoming', 4002, sub.id]);
  const upd = got.find((e) => e.type === 'customer.subscription.updated');
  assert.equal(upd.data.object.items.data[0].current_period_start, t1);
  assert.equal(upd.data.previous_attributes.items.data[0].current_period_start, t0);
  const created = got.find((e) => e.type === 'invoice.created').data.object;
  assert.deepEqual([created.period_start, created.period_end, created.created, created.status], [t0, t1, t1, 'draft']);
  const inv = await obj(created.id);
  assert.deepEqual(inv.lines.data.map((l) => [l.description.split(' ')[0], l.amount]), [['1', 4000], ['sms', 2], ['voice', 65]]);
  assert.deepEqual([inv.status, inv.total, inv.amount_paid, inv.attempt_count, inv.status_transitions.finalized_at], ['paid', 4067, 4067, 1, t1 + 3600]);
  assert.equal(inv.lines.data[0].period.start, t1);
  assert.equal((await obj(sub.id)).latest_invoice, inv.id);
  assert.equal(got.find((e) => e.type === 'invoice.paid').created, t1 + 3600);
});

test('a failing card: payment_failed, past_due, retries; a new card recovers; all retries failing cancel', async () => {
  const t0 = Date.UTC(2026, 2, 1) / 1000, t1 = Date.UTC(2026, 3, 1) / 1000, fin = t1 + 3600;
  const { clock, cus, sub } = await subscribed({ t0, pm: 'pm_card_chargeCustomerFail' });
  got = [];
  await advance(clock, t1 + 2 * 3600);
  assert.deepEqual(types().filter((t) => t.startsWith('invoice.') || t.startsWith('customer.subscription')),
    ['invoice.upcoming', 'customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'invoice.payment_failed', 'customer.subscription.updated']);
  const failed = got.find((e) => e.type === 'invoice.payment_failed').data.object;
  assert.deepEqual([failed.status, failed.attempt_count, failed.next_payment_attempt], ['open', 1, fin + 3 * DAY]);
  assert.equal((await obj(sub.id)).status, 'past_due');
  // the person enters a working card; the next scheduled retry succeeds
  const r = await call('POST', `/v1/customers/${cus.id}`, { params: { 'invoice_settings[default_payment_method]': 'pm_card_visa' } });
  assert.equal(r.status, 200);
  got = [];
  await advance(clock, fin + 3 * DAY + 60);
  assert.deepEqual(types().filter((t) => !t.startsWith('test_helpers') && t !== 'customer.updated'), ['invoice.paid', 'invoice.payment_succeeded', 'customer.subscription.updated']);
  assert.deepEqual([(await obj(failed.id)).status, (await obj(failed.id)).attempt_count, (await obj(sub.id)).status], ['paid', 2, 'active']);

  // a second customer whose card never works: 4 attempts (day 0, 3, 5, 7), then the subscription is canceled
  const b = await subscribed({ t0, pm: 'pm_card_chargeCustomerFail' });
  got = [];
  await advance(b.clock, fin + 8 * DAY);
  const fails = got.filter((e) => e.type === 'invoice.payment_failed').map((e) => [e.created, e.data.object.attempt_count, e.data.object.next_payment_attempt]);
  assert.deepEqual(fails, [[fin, 1, fin + 3 * DAY], [fin + 3 * DAY, 2, fin + 5 * DAY], [fin + 5 * DAY, 3, fin + 7 * DAY], [fin + 7 * DAY, 4, null]]);
  const del = got.find((e) => e.type === 'customer.subscription.deleted');
  assert.deepEqual([del.data.object.status, del.data.object.cancellation_details.reason, del.created], ['canceled', 'payment_failed', fin + 7 * DAY]);
  // POST /v1/invoices/:id/pay with a declining card is 402, with a working one pays
  const open = got.find((e) => e.type === 'invoice.payment_failed').data.object.id;
  const p1 = await call('POST', `/v1/invoices/${open}/pay`, { params: { payment_method: 'pm_card_chargeCustomerFail' } });
  assert.deepEqual([p1.status, p1.json.error.code], [402, 'card_declined']);
  const p2 = await call('POST', `/v1/invoices/${open}/pay`, { params: { payment_method: 'pm_card_visa' } });
  assert.deepEqual([p2.status, p2.json.status, p2.json.amount_paid], [200, 'paid', 4000]);
});

test('cancel_at_period_end ends in deleted at the period end, without an invoice; trials end', async () => {
  const t0 = Date.UTC(2026, 4, 1) / 1000, t1 = Date.UTC(2026, 5, 1) / 1000;
  const { clock, sub } = await subscribed({ t0 });
  await call('POST', `/v1/subscriptions/${sub.id}`, { params: { cancel_at_period_end: 'true' } });
  await idle();
  got = [];
  await advance(clock, t1 + DAY);
  assert.deepEqual(types().filter((t) => !t.startsWith('test_helpers')), ['customer.subscription.deleted']);
  assert.deepEqual([got[1].created, got[1].data.object.ended_at], [t1, t1]);

  const tr = await subscribed({ t0, trial: 7 });
  assert.equal(tr.sub.status, 'trialing');
  assert.equal(tr.first.total, 0);
  got = [];
  await advance(tr.clock, t0 + 8 * DAY);
  assert.deepEqual(types().filter((t) => !t.startsWith('test_helpers') && t !== 'invoiceitem.created'),
    ['customer.subscription.trial_will_end', 'invoice.upcoming', 'customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
  assert.equal(got.find((e) => e.type === 'customer.subscription.trial_will_end').created, t0 + 4 * DAY);
  const upd = got.find((e) => e.type === 'customer.subscription.updated');
  assert.deepEqual([upd.data.object.status, upd.data.previous_attributes.status], ['active', 'trialing']);
});

test('test clocks: create with a customer, list, advance only forward, delete with its objects', async () => {
  const cus = await customer();
  const t0 = Date.UTC(2026, 6, 1) / 1000;
  const k = await call('POST', '/v1/test_helpers/test_clocks', { params: { frozen_time: String(t0), customer: cus.id, name: 'n' } });
  assert.deepEqual([k.status, k.json.object, k.json.frozen_time, k.json.status, k.json.name], [200, 'test_helpers.test_clock', t0, 'ready', 'n']);
  assert.equal((await obj(cus.id)).test_clock, k.json.id);
  const again = await call('POST', '/v1/test_helpers/test_clocks', { params: { frozen_time: String(t0), customer: cus.id } });
  assert.equal(again.status, 400);
  const missing = await call('POST', '/v1/test_helpers/test_clocks', { params: { name: 'x' } });
  assert.deepEqual([missing.status, missing.json.error.code], [400, 'parameter_missing']);
  const back = await call('POST', `/v1/test_helpers/test_clocks/${k.json.id}/advance`, { params: { frozen_time: String(t0) } });
  assert.equal(back.status, 400);
  const ls = await call('GET', '/v1/test_helpers/test_clocks');
  assert.deepEqual(ls.json.data.map((x) => x.id), [k.json.id]);
  // an invoice item made now is dated in the clock's time
  const ii = await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', amount: '100' } });
  assert.deepEqual([ii.json.date, ii.json.test_clock], [t0, k.json.id]);
  const del = await call('DELETE', `/v1/test_helpers/test_clocks/${k.json.id}`);
  assert.deepEqual(del.json, { id: k.json.id, object: 'test_helpers.test_clock', deleted: true });
  assert.equal((await call('GET', `/v1/customers/${cus.id}`)).status, 404);
  assert.equal((await call('GET', `/v1/test_helpers/test_clocks/${k.json.id}`)).status, 404);
});

test('one-off invoices: POST /v1/invoices (pending items excluded by default, included on request), finalize, collection', async () => {
  const t0 = Date.UTC(2026, 7, 1) / 1000;
  const { clock, cus, sub } = await subscribed({ t0 });
  const item = (amount, extra = {}) => call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', amount: String(amount), 'metadata[kind]': 'voice', ...extra } });
  assert.equal((await item(130)).status, 200);
  assert.equal((await item(75, { subscription: sub.id })).status, 200);
  await idle();
  got = [];
  // Stripe's default today: pending items are left out
  const empty = await call('POST', '/v1/invoices', { params: { customer: cus.id } });
  assert.equal(empty.status, 200, JSON.stringify(empty.json));
  assert.deepEqual([empty.json.status, empty.json.billing_reason, empty.json.lines.data.length, empty.json.total, empty.json.created, empty.json.auto_advance, empty.json.test_clock],
    ['draft', 'manual', 0, 0, t0, false, clock.id]);
  const bad = await call('POST', '/v1/invoices', { params: { customer: cus.id, pending_invoice_items_behavior: 'include_and_require' } });
  assert.deepEqual([bad.status, bad.json.error.param], [400, 'pending_invoice_items_behavior']);
  // with subscription: only that subscription's pending items
  const onlySub = await call('POST', '/v1/invoices', { params: { customer: cus.id, subscription: sub.id, pending_invoice_items_behavior: 'include' } });
  assert.deepEqual(onlySub.json.lines.data.map((l) => l.amount), [75]);
  assert.equal(onlySub.json.parent.subscription_details.subscription, sub.id);
  const inv = await call('POST', '/v1/invoices', { idem: 'selftest-oneoff', params: { customer: cus.id, pending_invoice_items_behavior: 'include', auto_advance: 'true',
    collection_method: 'charge_automatically', description: 'last period', 'metadata[xsb]': '1' } });
  assert.deepEqual([inv.json.lines.data.map((l) => l.amount), inv.json.total, inv.json.description, inv.json.metadata], [[130], 130, 'last period', { xsb: '1' }]);
  const again = await call('POST', '/v1/invoices', { idem: 'selftest-oneoff', params: { customer: cus.id, pending_invoice_items_behavior: 'include', auto_advance: 'true',
    collection_method: 'charge_automatically', description: 'last period', 'metadata[xsb]': '1' } });
  assert.equal(again.json.id, inv.json.id, 'the same key replays');
  const fin = await call('POST', `/v1/invoices/${inv.json.id}/finalize`, { params: { auto_advance: 'true' } });
  assert.deepEqual([fin.status, fin.json.status, fin.json.status_transitions.finalized_at], [200, 'open', t0]);
  await idle();
  const paid = await obj(inv.json.id);
  assert.deepEqual([paid.status, paid.amount_paid, paid.attempt_count], ['paid', 130, 1]);
  const twice = await call('POST', `/v1/invoices/${inv.json.id}/finalize`, { params: {} });
  assert.equal(twice.status, 400);
  assert.deepEqual(types().filter((t) => t.startsWith('invoice.')),
    ['invoice.created', 'invoice.created', 'invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded']);
  // a declining card: payment_failed and Stripe's retries, on the clock
  await call('POST', `/v1/customers/${cus.id}`, { params: { 'invoice_settings[default_payment_method]': 'pm_card_chargeCustomerFail' } });
  assert.equal((await item(500)).status, 200);
  const inv2 = await call('POST', '/v1/invoices', { params: { customer: cus.id, pending_invoice_items_behavior: 'include' } });
  const fin2 = await call('POST', `/v1/invoices/${inv2.json.id}/finalize`, { params: { auto_advance: 'true' } });
  assert.equal(fin2.json.status, 'open');
  await idle();
  const failed = await obj(inv2.json.id);
  assert.deepEqual([failed.status, failed.attempt_count, failed.next_payment_attempt], ['open', 1, t0 + 3 * DAY]);
  await call('POST', `/v1/customers/${cus.id}`, { params: { 'invoice_settings[default_payment_method]': 'pm_card_visa' } });
  await advance(clock, t0 + 3 * DAY + 60);
  assert.deepEqual([(await obj(inv2.json.id)).status, (await obj(inv2.json.id)).attempt_count], ['paid', 2]);
  // without auto_advance: finalized, not collected
  const inv3 = await call('POST', '/v1/invoices', { params: { customer: cus.id } });
  const fin3 = await call('POST', `/v1/invoices/${inv3.json.id}/finalize`, { params: { auto_advance: 'false' } });
  await idle();
  assert.deepEqual([fin3.json.status, (await obj(inv3.json.id)).status, (await obj(inv3.json.id)).attempt_count], ['open', 'open', 0]);
});

test('an unpaid subscription keeps renewing: its drafts are neither finalized nor attempted', async () => {
  const t0 = Date.UTC(2026, 8, 1) / 1000, t1 = Date.UTC(2026, 9, 1) / 1000, t2 = Date.UTC(2026, 10, 1) / 1000;
  await ctl('POST', '/__webhook', { dunning: 'unpaid' });
  const { clock, sub } = await subscribed({ t0, pm: 'pm_card_chargeCustomerFail' });
  await advance(clock, t1 + 8 * DAY);
  assert.equal((await obj(sub.id)).status, 'unpaid');
  got = [];
  await advance(clock, t2 + 2 * DAY);
  assert.deepEqual(types().filter((t) => !t.startsWith('test_helpers')), ['invoice.upcoming', 'customer.subscription.updated', 'invoice.created']);
  const draft = await obj(got.find((e) => e.type === 'invoice.created').data.object.id);
  assert.deepEqual([draft.status, draft.auto_advance, draft.attempt_count, draft.period_start, draft.period_end], ['draft', false, 0, t1, t2]);
  assert.equal((await obj(sub.id)).items.data[0].current_period_start, t2);
});

test('a test clock advances at most two intervals of its shortest subscription (two years without one)', async () => {
  const t0 = Date.UTC(2026, 0, 31) / 1000;
  const { clock } = await subscribed({ t0 });
  const far = await call('POST', `/v1/test_helpers/test_clocks/${clock.id}/advance`, { params: { frozen_time: String(Date.UTC(2026, 3, 1) / 1000) } });
  assert.deepEqual([far.status, far.json.error.type, far.json.error.param], [400, 'invalid_request_error', 'frozen_time']);
  assert.match(far.json.error.message, /two intervals/);
  assert.equal((await obj(clock.id)).status, 'ready', 'a refused advance changes nothing');
  await advance(clock, Date.UTC(2026, 2, 31) / 1000); // two months (Jan 31 + 2 months = Mar 31)
  const bare = (await call('POST', '/v1/test_helpers/test_clocks', { params: { frozen_time: String(t0) } })).json;
  const y2 = Date.UTC(2028, 0, 31) / 1000;
  assert.equal((await call('POST', `/v1/test_helpers/test_clocks/${bare.id}/advance`, { params: { frozen_time: String(y2 + 1) } })).status, 400);
  await advance(bare, y2);
});

test('enabled_events filters deliveries as a webhook endpoint does; every event is still recorded', async () => {
  const bad = await fetch(`${base}/__webhook`, { method: 'POST', body: JSON.stringify({ enabled_events: 'invoice.created' }) });
  assert.equal(bad.status, 400);
  const s = await ctl('POST', '/__webhook', { enabled_events: ['customer.updated'] });
  assert.deepEqual(s.enabled_events, ['customer.updated']);
  const cus = await customer();
  await call('POST', `/v1/customers/${cus.id}`, { params: { name: 'N' } });
  await idle();
  assert.deepEqual(types(), ['customer.updated']);
  const evs = await ctl('GET', '/__events');
  assert.deepEqual(evs.map((e) => [e.type, e.pending_webhooks]), [['customer.created', 0], ['customer.updated', 1]]);
  await ctl('POST', '/__reset');
  assert.deepEqual((await ctl('POST', '/__webhook', {})).enabled_events, ['*']);
});

test('charges, refunds and disputes: a payment is a charge; refunds and disputes emit their events', async () => {
  const t0 = Date.UTC(2026, 3, 10) / 1000, t1 = Date.UTC(2026, 4, 10) / 1000;
  const { clock, cus, first } = await subscribed({ t0 });
  const ok = got.filter((e) => e.type.startsWith('charge.'));
  assert.deepEqual(ok.map((e) => e.type), ['charge.succeeded']);
  const ch = ok[0].data.object;
  assert.deepEqual([ch.object, ch.amount, ch.amount_captured, ch.status, ch.paid, ch.customer, ch.created, ch.payment_method, ch.refunded, 'refunds' in ch],
    ['charge', 4000, 4000, 'succeeded', true, cus.id, t0, 'pm_card_visa', false, false]);
  assert.ok(got.findIndex((e) => e.type === 'charge.succeeded') < got.findIndex((e) => e.type === 'invoice.paid'));
  const inv = await call('GET', `/v1/invoices/${first.id}`, { params: { 'expand[0]': 'payments' } });
  assert.deepEqual(inv.json.payments.data.map((x) => [x.object, x.payment.type, x.payment.charge, x.amount_paid, x.status]), [['invoice_payment', 'charge', ch.id, 4000, 'paid']]);
  assert.equal('payments' in (await call('GET', `/v1/invoices/${first.id}`)).json, false, 'payments only when expanded');
  const listed = await call('GET', '/v1/charges', { params: { customer: cus.id } });
  assert.deepEqual(listed.json.data.map((x) => x.id), [ch.id]);
  // a partial refund, then the rest; a third is refused
  got = [];
  const r1 = await call('POST', '/v1/refunds', { params: { charge: ch.id, amount: '1500', reason: 'requested_by_customer' } });
  assert.deepEqual([r1.status, r1.json.object, r1.json.amount, r1.json.status, r1.json.charge, r1.json.created], [200, 'refund', 1500, 'succeeded', ch.id, t0]);
  const over = await call('POST', '/v1/refunds', { params: { charge: ch.id, amount: '2600' } });
  assert.equal(over.status, 400);
  const r2 = await call('POST', '/v1/refunds', { params: { charge: ch.id } });
  assert.equal(r2.json.amount, 2500);
  const r3 = await call('POST', '/v1/refunds', { params: { charge: ch.id } });
  assert.deepEqual([r3.status, r3.json.error.code], [400, 'charge_already_refunded']);
  assert.deepEqual((await call('POST', '/v1/refunds', { params: {} })).json.error.code, 'parameter_missing');
  await idle();
  assert.deepEqual(got.map((e) => e.type), ['charge.refunded', 'refund.created', 'charge.refunded', 'refund.created']);
  assert.deepEqual([got[0].data.object.amount_refunded, got[0].data.object.refunded, got[0].data.previous_attributes.amount_refunded], [1500, false, 0]);
  assert.deepEqual([got[2].data.object.amount_refunded, got[2].data.object.refunded], [4000, true]);
  const full = await call('GET', `/v1/charges/${ch.id}`, { params: { 'expand[0]': 'refunds' } });
  assert.deepEqual(full.json.refunds.data.map((x) => x.amount), [2500, 1500]);
  // a declined renewal is a failed charge; then a dispute on the next good payment, opened and lost
  await call('POST', `/v1/customers/${cus.id}`, { params: { 'invoice_settings[default_payment_method]': 'pm_card_chargeCustomerFail' } });
  got = [];
  await advance(clock, t1 + 2 * 3600);
  const failed = got.find((e) => e.type === 'charge.failed');
  assert.deepEqual([failed?.data.object.status, failed?.data.object.failure_code, failed?.data.object.paid], ['failed', 'card_declined', false]);
  assert.ok(got.findIndex((e) => e.type === 'charge.failed') < got.findIndex((e) => e.type === 'invoice.payment_failed'));
  await call('POST', `/v1/customers/${cus.id}`, { params: { 'invoice_settings[default_payment_method]': 'pm_card_visa' } });
  got = [];
  await advance(clock, t1 + 3600 + 3 * DAY + 60);
  const paid = got.find((e) => e.type === 'charge.succeeded').data.object;
  const du = await ctl('POST', '/__disputes', { charge: paid.id, reason: 'fraudulent' });
  assert.deepEqual([du.object, du.amount, du.charge, du.status, du.reason, du.created], ['dispute', 4000, paid.id, 'needs_response', 'fraudulent', t1 + 3600 + 3 * DAY + 60]);
  assert.equal((await call('GET', `/v1/charges/${paid.id}`)).json.disputed, true);
  const refused = await call('POST', '/v1/refunds', { params: { charge: paid.id } });
  assert.deepEqual([refused.status, refused.json.error.code], [400, 'charge_disputed']);
  const closed = await ctl('POST', `/__disputes/${du.id}/close`, { status: 'lost' });
  assert.equal(closed.status, 'lost');
  assert.equal((await call('GET', `/v1/disputes/${du.id}`)).json.status, 'lost');
  assert.equal((await fetch(`${base}/__disputes/${du.id}/close`, { method: 'POST', body: JSON.stringify({ status: 'won' }) })).status, 400);
  await idle();
  assert.deepEqual(got.filter((e) => e.type.startsWith('charge.dispute')).map((e) => [e.type, e.data.object.id]),
    [['charge.dispute.created', du.id], ['charge.dispute.closed', du.id]]);
});
