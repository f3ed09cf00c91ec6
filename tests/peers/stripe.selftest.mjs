// Self-test of the Stripe stand-in: `node --test tests/peers/stripe.selftest.mjs` (from anywhere).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { startStandIn, VERSION } from './standin.mjs';
import { loadStripeTypes, stripeApiVersions } from './dts.mjs';

const KEY = 'sk_test_selftest_key_1';
const KEY2 = 'sk_test_selftest_key_2';
let base, call, ctl, newKey, stop;

before(async () => {
  ({ base, call, ctl, newKey, stop } = await startStandIn(['--key', KEY, '--key', KEY2,
    '--price', 'price_secretary=4000', '--price', 'price_pm=28000']));
});
after(() => stop?.());

const customer = async (extra = {}) => (await call('POST', '/v1/customers', { params: { email: 'u@example.com', ...extra } })).json;

test('auth: Bearer key required and must match', async () => {
  let r = await call('GET', '/v1/customers/cus_x', { key: null });
  assert.equal(r.status, 401);
  assert.equal(r.json.error.type, 'invalid_request_error');
  r = await call('GET', '/v1/customers/cus_x', { key: 'sk_test_wrong' });
  assert.equal(r.status, 401);
  assert.match(r.json.error.message, /Invalid API Key/);
  r = await call('GET', '/v1/customers/cus_x', { key: null, headers: { authorization: 'Basic ' + Buffer.from(KEY + ':').toString('base64') } });
  assert.equal(r.status, 401);
  r = await call('GET', '/v1/customers/cus_x');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'resource_missing');
});

test("Stripe-Version: only Stripe's own versions, in Stripe's words; none means the account default", async () => {
  assert.ok(stripeApiVersions().includes(VERSION));
  for (const v of ['latest', '2023-09-12', '2026-10-28', '2026-10-28.dahlia']) {
    const r = await call('GET', '/v1/customers/cus_x', { version: v });
    assert.equal(r.status, 400, v);
    assert.deepEqual([r.json.error.type, r.json.error.message], ['invalid_request_error', `Invalid Stripe API version: ${v}`]);
    assert.equal(r.headers.get('stripe-should-retry'), 'false');
  }
  assert.equal((await call('GET', '/v1/customers/cus_x', { version: '2025-03-31.basil' })).status, 404);
  const none = await call('GET', '/v1/customers/cus_x', { version: null });
  assert.equal(none.status, 404);
  assert.equal(none.headers.get('stripe-version'), VERSION); // the stand-in account's default
  const reqs = (await ctl('GET', '/__requests')).slice(-2);
  assert.deepEqual(reqs.map((q) => [q.stripe_version, q.api_version]), [['2025-03-31.basil', '2025-03-31.basil'], [null, VERSION]]);
});

test('POST without Idempotency-Key is refused', async () => {
  const r = await call('POST', '/v1/customers', { params: { email: 'a@b.c' }, idem: null });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.message, 'missing Idempotency-Key');
});

test('idempotency: replay, conflict, and keys scoped per API key', async () => {
  const idem = newKey();
  const a = await call('POST', '/v1/customers', { params: { email: 'i@example.com' }, idem });
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('idempotent-replayed'), null);
  const b = await call('POST', '/v1/customers', { params: { email: 'i@example.com' }, idem });
  assert.equal(b.status, 200);
  assert.equal(b.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(b.json, a.json);
  const c = await call('POST', '/v1/customers', { params: { email: 'other@example.com' }, idem });
  assert.equal(c.status, 400);
  assert.equal(c.json.error.type, 'idempotency_error');
  const d = await call('POST', '/v1/customers', { params: { email: 'other@example.com' }, idem, key: KEY2 });
  assert.equal(d.status, 200);
  assert.notEqual(d.json.id, a.json.id);
});

test("unknown and ill-typed params are rejected as Stripe words it (table from the package's .d.ts)", async () => {
  const err = async (method, path, params) => { const r = await call(method, path, { params }); assert.equal(r.status, 400, JSON.stringify(r.json)); return r.json.error; };
  let e = await err('POST', '/v1/customers', { emial: 'x@y.z' });
  assert.deepEqual([e.type, e.code, e.param, e.message], ['invalid_request_error', 'parameter_unknown', 'emial', 'Received unknown parameter: emial']);
  e = await err('POST', '/v1/checkout/sessions', { success_url: 'https://x/s', 'subscription_data[metdata][user_id]': '1' });
  assert.deepEqual([e.code, e.param], ['parameter_unknown', 'subscription_data[metdata]']);
  const cus = await customer();
  e = await err('POST', '/v1/invoiceitems', { customer: cus.id, currency: 'usd', unit_amount_decimal: '1', quantity: 'ten' });
  assert.deepEqual([e.code, e.param, e.message], ['parameter_invalid_integer', 'quantity', 'Invalid integer: ten']);
  // parameters of 2023 that the current API removed are unknown today
  e = await err('POST', '/v1/invoiceitems', { customer: cus.id, currency: 'usd', unit_amount: '5' });
  assert.deepEqual([e.code, e.param], ['parameter_unknown', 'unit_amount']);
  e = await err('POST', '/v1/invoiceitems', { customer: cus.id, price: 'price_secretary' });
  assert.deepEqual([e.code, e.param], ['parameter_unknown', 'price']);
  e = await err('POST', '/v1/invoiceitems', { customer: cus.id, currency: 'usd', description: '', amount: '5' });
  assert.deepEqual([e.code, e.param], ['parameter_invalid_string_empty', 'description']);
  e = await err('POST', '/v1/invoiceitems', { customer: cus.id, currency: 'usd', unit_amount_decimal: '1.2.3' });
  assert.deepEqual([e.param, e.message], ['unit_amount_decimal', 'Invalid decimal: 1.2.3']);
  e = await err('POST', '/v1/invoiceitems', { customer: cus.id, currency: 'usd', amount: '5', 'period[start]': '1' });
  assert.deepEqual([e.code, e.param], ['parameter_missing', 'period[end]']);
  e = await err('POST', '/v1/invoiceitems', { currency: 'usd', amount: '5' });
  assert.deepEqual([e.code, e.param], ['parameter_missing', 'customer']);
  e = await err('POST', '/v1/invoiceitems', { customer: cus.id, currency: 'usd', amount: '5', discountable: 'yes' });
  assert.deepEqual([e.param, e.message], ['discountable', 'Invalid boolean: yes']);
  e = await err('POST', '/v1/invoices/create_preview', { customer: cus.id, subscription_details: 'x' });
  assert.deepEqual([e.param, e.message], ['subscription_details', 'Invalid hash']);
  e = await err('POST', '/v1/invoices/create_preview', { customer: cus.id, 'subscription_details[proration_behavior]': 'sometimes' });
  assert.equal(e.message, 'Invalid subscription_details[proration_behavior]: must be one of always_invoice, create_prorations, or none');
  e = await err('GET', '/v1/invoiceitems', { limit: 'many' });
  assert.deepEqual([e.code, e.param], ['parameter_invalid_integer', 'limit']);
  e = await err('GET', '/v1/invoiceitems', { pending: 'true', subscription: 'sub_x' });
  assert.deepEqual([e.code, e.param], ['parameter_unknown', 'subscription']);
  // '' unsets where Stripe allows it (metadata is Emptyable)
  assert.equal((await call('POST', `/v1/customers/${cus.id}`, { params: { metadata: '' } })).status, 200);
  // a validation failure saves nothing: the same key works once the request is fixed
  const idem = newKey();
  assert.equal((await call('POST', '/v1/customers', { params: { emial: 'x' }, idem })).status, 400);
  assert.equal((await call('POST', '/v1/customers', { params: { email: 'x@y.z' }, idem })).status, 200);
});

test('bracket notation is parsed into nested objects', async () => {
  await ctl('POST', '/__reset');
  const cus = await customer({ 'metadata[user_id]': '42' });
  assert.deepEqual(cus.metadata, { user_id: '42' });
  const r = await call('POST', '/v1/checkout/sessions', { params: {
    mode: 'subscription', customer: cus.id, client_reference_id: '42', 'line_items[0][price]': 'price_secretary', 'line_items[0][quantity]': '1',
    success_url: 'https://app.example/ok', cancel_url: 'https://app.example/no', 'subscription_data[metadata][user_id]': '42', 'metadata[user_id]': '42',
    'expand[]': 'subscription' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.match(r.json.id, /^cs_test_[A-Za-z0-9]{24}$/);
  assert.equal(r.json.url, `https://checkout.stripe.com/c/pay/${r.json.id}`);
  assert.equal(r.json.amount_total, 4000);
  const reqs = await ctl('GET', '/__requests');
  const last = reqs.at(-1);
  assert.equal(last.path, '/v1/checkout/sessions');
  assert.equal(last.status, 200);
  assert.equal(last.stripe_version, VERSION);
  assert.ok(last.idempotency_key);
  assert.deepEqual(last.form.line_items, [{ price: 'price_secretary', quantity: '1' }]);
  assert.deepEqual(last.form.subscription_data, { metadata: { user_id: '42' } });
  assert.deepEqual(last.form.expand, ['subscription']);
  // a test can then complete the session: subscription carries subscription_data[metadata]
  const done = await ctl('POST', `/__checkout/${r.json.id}/complete`);
  assert.equal(done.session.status, 'complete');
  assert.deepEqual(done.subscription.metadata, { user_id: '42' });
  assert.equal(done.subscription.items.data[0].price.id, 'price_secretary');
});

test('invoice item amounts: quantity x unit_amount_decimal, rounded half up', async () => {
  const cus = await customer();
  const amount = async (quantity, dec) => {
    const r = await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', quantity, unit_amount_decimal: dec,
      description: 'overage', 'metadata[kind]': 'voice_minutes', 'period[start]': '1700000000', 'period[end]': '1702592000' } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match(r.json.id, /^ii_[A-Za-z0-9]{24}$/);
    return r.json;
  };
  assert.equal((await amount('50', '1.3')).amount, 65);
  assert.equal((await amount('20', '0.75')).amount, 15);
  assert.equal((await amount('30', '0.05')).amount, 2); // 1.5 -> 2, Stripe's own example
  assert.equal((await amount('3', '0.333333333333')).amount, 1);
  const ii = await amount('7', '0.1');
  assert.equal(ii.amount, 1); // 0.7 -> 1
  assert.equal(ii.unit_amount, undefined); // removed in 2025-03-31.basil
  assert.equal(ii.pricing.type, 'price_details');
  assert.equal(ii.pricing.unit_amount_decimal, '0.1');
  assert.match(ii.pricing.price_details.price, /^price_/);
  assert.deepEqual([ii.quantity, ii.quantity_decimal, ii.parent], [7, '7', null]);
  assert.deepEqual(ii.period, { start: 1700000000, end: 1702592000 });
  assert.deepEqual(ii.metadata, { kind: 'voice_minutes' });
});

test('invoice items attach to a draft invoice and previews include pending items', async () => {
  const cus = await customer();
  const now = Math.floor(Date.now() / 1000);
  const sub = await ctl('POST', '/__subscriptions', { customer: cus.id, price: 'price_secretary', current_period_start: now - 86400, current_period_end: now + 86400 });
  assert.match(sub.id, /^sub_/);
  assert.equal(sub.items.data[0].current_period_end, now + 86400);
  assert.equal(sub.current_period_end, undefined); // on the items since 2025-03-31.basil
  const inv = await ctl('POST', '/__invoices', { customer: cus.id, subscription: sub.id });
  assert.equal(inv.status, 'draft');
  assert.equal(inv.billing_reason, 'subscription_cycle');
  assert.equal(inv.amount_due, 4000);
  let r = await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, invoice: inv.id, currency: 'usd', quantity: '50', unit_amount_decimal: '1.3', subscription: sub.id } });
  assert.equal(r.json.invoice, inv.id);
  assert.deepEqual(r.json.parent, { type: 'subscription_details', subscription_details: { subscription: sub.id } });
  r = await call('GET', `/v1/invoices/${inv.id}`);
  assert.equal(r.json.amount_due, 4065);
  assert.equal(r.json.lines.data.length, 2);
  assert.deepEqual(r.json.parent, { type: 'subscription_details', quote_details: null, subscription_details: { metadata: {}, subscription: sub.id } });
  assert.equal(r.json.subscription, undefined);
  const [cycle, usage] = r.json.lines.data;
  assert.equal(cycle.parent.type, 'subscription_item_details');
  assert.deepEqual([cycle.parent.subscription_item_details.subscription_item, cycle.parent.subscription_item_details.proration], [sub.items.data[0].id, false]);
  assert.equal(cycle.pricing.price_details.price, 'price_secretary');
  assert.equal(usage.parent.type, 'invoice_item_details');
  assert.equal(usage.parent.invoice_item_details.subscription, sub.id);
  assert.equal(usage.pricing.unit_amount_decimal, '1.3');
  for (const k of ['type', 'price', 'proration', 'subscription_item', 'invoice_item']) assert.equal(cycle[k], undefined, k);
  // pending (unattached) item shows up in the next-invoice preview, old and new API
  await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', quantity: '20', unit_amount_decimal: '0.75' } });
  const p1 = await call('POST', '/v1/invoices/create_preview', { params: { customer: cus.id, subscription: sub.id } });
  assert.equal(p1.status, 200, JSON.stringify(p1.json));
  assert.equal(p1.json.object, 'invoice');
  assert.match(p1.json.id, /^upcoming_in_/);
  assert.equal(p1.json.total, 4015);
  assert.equal(p1.json.period_end, now + 86400);
  // GET /v1/invoices/upcoming was removed in 2025-03-31.basil
  assert.equal((await call('GET', '/v1/invoices/upcoming', { params: { customer: cus.id } })).status, 400); // read as invoices/{id}: customer is unknown there
  // a customer without a subscription previews the one subscription_details[items] would create
  const fresh = await customer();
  const p3 = await call('POST', '/v1/invoices/create_preview', { params: { customer: fresh.id, 'subscription_details[items][0][price]': 'price_pm' } });
  assert.equal(p3.status, 200, JSON.stringify(p3.json));
  assert.equal(p3.json.total, 28000);
  assert.equal(p3.json.parent, null);
  // naming neither subscription nor items: the next invoice among the customer's subscriptions
  const p4 = await call('POST', '/v1/invoices/create_preview', { params: { customer: cus.id } });
  assert.equal(p4.status, 200, JSON.stringify(p4.json));
  assert.deepEqual([p4.json.total, p4.json.parent.subscription_details.subscription], [4015, sub.id]);
  assert.equal((await call('POST', '/v1/invoices/create_preview', { params: { customer: (await customer()).id } })).json.error.code, 'invoice_upcoming_none');
});

test('subscription update, proration preview and cancel', async () => {
  const cus = await customer();
  const now = Math.floor(Date.now() / 1000);
  const sub = await ctl('POST', '/__subscriptions', { customer: cus.id, price: 'price_secretary', current_period_start: now - 15 * 86400, current_period_end: now + 15 * 86400 });
  const si = sub.items.data[0].id;
  const preview = await call('POST', '/v1/invoices/create_preview', { params: { customer: cus.id, subscription: sub.id,
    'subscription_details[items][0][id]': si, 'subscription_details[items][0][price]': 'price_pm', 'subscription_details[proration_date]': String(now) } });
  assert.equal(preview.status, 200, JSON.stringify(preview.json));
  const pr = preview.json.lines.data.filter((l) => l.parent.subscription_item_details.proration).map((l) => l.amount);
  assert.deepEqual(pr, [-2000, 14000]);
  assert.equal(preview.json.total, -2000 + 14000 + 28000);
  let r = await call('POST', `/v1/subscriptions/${sub.id}`, { params: { 'items[0][id]': si, 'items[0][price]': 'price_pm', proration_behavior: 'none', 'metadata[tier]': 'ai_project_manager' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.items.data[0].price.id, 'price_pm');
  assert.equal(r.json.items.data.length, 1);
  assert.equal(r.json.items.data[0].current_period_end, sub.items.data[0].current_period_end);
  assert.equal(r.json.status, 'active');
  r = await call('POST', `/v1/subscriptions/${sub.id}`, { params: { proration_behavior: 'sometimes' } });
  assert.equal(r.status, 400);
  r = await call('POST', `/v1/subscriptions/${sub.id}`, { params: { cancel_at_period_end: 'true' } });
  assert.equal(r.json.cancel_at, sub.items.data[0].current_period_end);
  r = await call('DELETE', `/v1/subscriptions/${sub.id}`);
  assert.equal(r.json.status, 'canceled');
  r = await call('GET', `/v1/subscriptions/${sub.id}`);
  assert.equal(r.json.status, 'canceled');
});

test('fail injection before execution: nothing happens, nothing saved, Stripe-Should-Retry: true', async () => {
  const cus = await customer();
  await ctl('POST', '/__fail', { count: 2, status: 500, path_prefix: '/v1/invoiceitems' });
  const idem = newKey();
  const params = { customer: cus.id, currency: 'usd', amount: '100' };
  for (let i = 0; i < 2; i++) {
    const r = await call('POST', '/v1/invoiceitems', { params, idem });
    assert.equal(r.status, 500);
    assert.equal(r.json.error.type, 'api_error');
    assert.equal(r.headers.get('stripe-should-retry'), 'true');
  }
  let list = await call('GET', '/v1/invoiceitems', { params: { customer: cus.id } });
  assert.equal(list.json.data.length, 0);
  const r = await call('POST', '/v1/invoiceitems', { params, idem });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('idempotent-replayed'), null);
  const reqs = await ctl('GET', '/__requests');
  assert.equal(reqs.filter((x) => x.idempotency_key === idem).map((x) => x.status).join(), '500,500,200');
  list = await call('GET', '/v1/invoiceitems', { params: { customer: cus.id } });
  assert.equal(list.json.data.length, 1);
});

test('a 500 after execution is saved for the key and replayed; the object exists exactly once', async () => {
  const cus = await customer();
  const rules = await ctl('POST', '/__fail', { count: 1, status: 500, path_prefix: '/v1/invoiceitems', method: 'POST', when: 'after' });
  assert.equal(rules.at(-1).when, 'after');
  const idem = newKey();
  const params = { customer: cus.id, currency: 'usd', quantity: '3', unit_amount_decimal: '2.5', description: 'sms' };
  const first = await call('POST', '/v1/invoiceitems', { params, idem });
  assert.equal(first.status, 500);
  assert.equal(first.headers.get('stripe-should-retry'), 'false');
  const again = await call('POST', '/v1/invoiceitems', { params, idem });
  assert.equal(again.status, 500);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.json, first.json);
  // the item was created by the first request, once: a caller finds it by listing (reconciliation)
  const list = await call('GET', '/v1/invoiceitems', { params: { customer: cus.id, pending: 'true' } });
  assert.equal(list.json.data.length, 1);
  assert.deepEqual([list.json.data[0].amount, list.json.data[0].description], [8, 'sms']); // 3 x 2.5 = 7.5 -> 8
  const reqs = (await ctl('GET', '/__requests')).filter((x) => x.idempotency_key === idem);
  assert.deepEqual(reqs.map((x) => [x.status, x.replayed, x.injected_when ?? null]), [[500, false, 'after'], [500, true, null]]);
  await assert.rejects(ctl('POST', '/__fail', { count: 1, status: 500, when: 'during' }).then((x) => { if (x.error) throw new Error(x.error.message); }));
});

test('fail injection with a message: the error carries it, before and after execution', async () => {
  const cus = await customer();
  const message = 'caf\u00e9 \u{1F600} refused';
  await ctl('POST', '/__fail', { count: 1, status: 400, path_prefix: '/v1/invoiceitems', method: 'POST', message });
  await ctl('POST', '/__fail', { count: 1, status: 400, path_prefix: '/v1/invoiceitems', method: 'POST', when: 'after', message: 'after' });
  const params = { customer: cus.id, currency: 'usd', amount: '100' };
  let r = await call('POST', '/v1/invoiceitems', { params, idem: newKey() });
  assert.deepEqual([r.status, r.json.error.type, r.json.error.message], [400, 'invalid_request_error', message]);
  r = await call('POST', '/v1/invoiceitems', { params, idem: newKey() });
  assert.deepEqual([r.status, r.json.error.message], [400, 'after']);
  await assert.rejects(ctl('POST', '/__fail', { count: 1, status: 400, message: 5 }).then((x) => { if (x.error) throw new Error(x.error.message); }));
});

test('a slow request holds its key: 409 idempotency_key_in_use (retry: true), then the saved answer', async () => {
  const cus = await customer();
  const params = { customer: cus.id, currency: 'usd', amount: '100' };
  await ctl('POST', '/__fail', { count: 1, delay_ms: 400, path_prefix: '/v1/invoiceitems' });
  const idem2 = newKey();
  await assert.rejects(call('POST', '/v1/invoiceitems', { params, idem: idem2, signal: AbortSignal.timeout(100) }));
  let r = await call('POST', '/v1/invoiceitems', { params, idem: idem2 });
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'idempotency_key_in_use');
  assert.equal(r.headers.get('stripe-should-retry'), 'true');
  await new Promise((res) => setTimeout(res, 450));
  r = await call('POST', '/v1/invoiceitems', { params, idem: idem2 });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('idempotent-replayed'), 'true');
});

test('lists: GET /v1/invoiceitems and /v1/invoices/:id/lines paginate as Stripe lists do', async () => {
  const cus = await customer(), other = await customer();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', amount: String(100 + i) } })).json.id);
  await call('POST', '/v1/invoiceitems', { params: { customer: other.id, currency: 'usd', amount: '1' } });
  const newest = [...ids].reverse();
  let r = await call('GET', '/v1/invoiceitems', { params: { customer: cus.id, limit: '2' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual([r.json.object, r.json.url, r.json.has_more], ['list', '/v1/invoiceitems', true]);
  assert.deepEqual(r.json.data.map((x) => x.id), newest.slice(0, 2));
  const seen = [...r.json.data.map((x) => x.id)];
  while (r.json.has_more) {
    r = await call('GET', '/v1/invoiceitems', { params: { customer: cus.id, limit: '2', starting_after: seen.at(-1) } });
    seen.push(...r.json.data.map((x) => x.id));
  }
  assert.deepEqual(seen, newest);
  r = await call('GET', '/v1/invoiceitems', { params: { customer: cus.id, limit: '2', ending_before: newest[4] } });
  assert.deepEqual(r.json.data.map((x) => x.id), newest.slice(2, 4));
  assert.equal((await call('GET', '/v1/invoiceitems', { params: { limit: '101' } })).status, 400);
  // pending=false / invoice=: items on an invoice
  const inv = await ctl('POST', '/__invoices', { customer: cus.id, billing_reason: 'manual' });
  assert.equal(inv.lines.data.length, 5);
  r = await call('GET', '/v1/invoiceitems', { params: { customer: cus.id, pending: 'true' } });
  assert.equal(r.json.data.length, 0);
  r = await call('GET', '/v1/invoiceitems', { params: { invoice: inv.id, limit: '100' } });
  assert.deepEqual(r.json.data.map((x) => x.id).sort(), [...ids].sort());
  // invoice lines keep the invoice's order
  r = await call('GET', `/v1/invoices/${inv.id}/lines`, { params: { limit: '3' } });
  assert.deepEqual([r.json.url, r.json.has_more, r.json.data.length], [`/v1/invoices/${inv.id}/lines`, true, 3]);
  const r2 = await call('GET', `/v1/invoices/${inv.id}/lines`, { params: { limit: '3', starting_after: r.json.data[2].id } });
  assert.deepEqual([...r.json.data, ...r2.json.data].map((l) => l.parent.invoice_item_details.invoice_item), ids);
  assert.equal(r2.json.has_more, false);
  assert.equal((await call('GET', '/v1/invoices/in_missing/lines')).status, 404);
});

// ---- reply shapes against the package's interfaces (an independent walk over the .d.ts, not the stand-in's) ----
const D = loadStripeTypes();
const IFACES = { customer: ['Customers.d.ts', 'Customer'], subscription: ['Subscriptions.d.ts', 'Subscription'], subscription_item: ['SubscriptionItems.d.ts', 'SubscriptionItem'],
  invoice: ['Invoices.d.ts', 'Invoice'], line_item: ['InvoiceLineItems.d.ts', 'InvoiceLineItem'], invoiceitem: ['InvoiceItems.d.ts', 'InvoiceItem'],
  'checkout.session': ['Checkout/Sessions.d.ts', 'Session'], 'test_helpers.test_clock': ['TestHelpers/TestClocks.d.ts', 'TestClock'],
  event: ['Events.d.ts', 'EventBase'] };
function shapeErrors(value, leaves, where, out) {
  const kinds = leaves.map((l) => l.k === 'prim' ? l.name : l.k === 'lit' ? typeof l.v : l.k);
  if (kinds.includes('any') || kinds.includes('unknown') || kinds.includes('unparsed')) return;
  if (value === null) { if (!kinds.includes('null')) out.push(`${where}: null not allowed (${kinds})`); return; }
  if (typeof value === 'string') {
    const lits = leaves.filter((l) => l.k === 'lit' && typeof l.v === 'string').map((l) => l.v);
    if (kinds.includes('string') || kinds.includes('decimal') || lits.includes(value)) return;
    out.push(`${where}: string ${JSON.stringify(value)} not allowed (${kinds})`); return;
  }
  if (typeof value === 'number') { if (!kinds.includes('number')) out.push(`${where}: number not allowed (${kinds})`); return; }
  if (typeof value === 'boolean') { if (!kinds.includes('boolean')) out.push(`${where}: boolean not allowed (${kinds})`); return; }
  if (Array.isArray(value)) {
    const a = leaves.find((l) => l.k === 'array');
    if (!a) { out.push(`${where}: array not allowed (${kinds})`); return; }
    value.forEach((x, i) => shapeErrors(x, D.arrayOf(a), `${where}[${i}]`, out));
    return;
  }
  if (kinds.includes('metadata') || kinds.includes('object')) return;
  const objs = leaves.filter((l) => l.k === 'iface');
  if (!objs.length) { out.push(`${where}: object not allowed (${kinds})`); return; }
  // `string | Customer`-like unions: the interface whose object literal matches, else the first
  const it = objs.find((l) => { const o = l.members.get('object'); return o && D.member(o).some((x) => x.v === value.object); }) ?? objs[0];
  for (const [k, m] of it.members) if (!m.optional && k !== '[index]' && !(k in value)) out.push(`${where}.${k}: missing (${it.name})`);
  for (const [k, v] of Object.entries(value)) {
    const m = it.members.get(k) ?? it.members.get('[index]');
    if (!m) { out.push(`${where}.${k}: not in ${it.name}`); continue; }
    shapeErrors(v, D.member(m), `${where}.${k}`, out);
  }
}
function assertShape(obj) {
  const [file, name] = IFACES[obj.object];
  const out = [];
  shapeErrors(obj, [D.iface(`resources/${file}`, name)], obj.object, out);
  assert.deepEqual(out, [], `${obj.object} ${obj.id}`);
}

test('reply shapes match the .d.ts interfaces of today (and the checker catches drift)', async () => {
  const cus = await customer({ 'metadata[user_id]': '9' });
  assertShape(cus);
  const now = Math.floor(Date.now() / 1000);
  const sub = await ctl('POST', '/__subscriptions', { customer: cus.id, price: 'price_secretary', current_period_start: now - 86400, current_period_end: now + 86400 });
  assertShape(sub);
  assertShape(sub.items.data[0]);
  assertShape((await call('GET', `/v1/subscriptions/${sub.id}`)).json);
  const upd = await call('POST', `/v1/subscriptions/${sub.id}`, { params: { 'items[0][id]': sub.items.data[0].id, 'items[0][price]': 'price_pm', proration_behavior: 'create_prorations' } });
  assertShape(upd.json);
  const pending = (await call('GET', '/v1/invoiceitems', { params: { customer: cus.id } })).json.data;
  assert.equal(pending.length, 2); // the proration pair
  for (const ii of pending) {
    assertShape(ii);
    assert.deepEqual([ii.proration, ii.parent.subscription_details.subscription_item], [true, sub.items.data[0].id]);
  }
  const ii = await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', quantity: '2', unit_amount_decimal: '0.5' } });
  assertShape(ii.json);
  const inv = await ctl('POST', '/__invoices', { subscription: sub.id });
  assertShape(inv);
  for (const l of inv.lines.data) assertShape(l);
  assertShape((await call('GET', `/v1/invoices/${inv.id}`)).json);
  assertShape((await ctl('GET', `/__objects/${inv.id}`)));
  const prev = await call('POST', '/v1/invoices/create_preview', { params: { customer: cus.id, subscription: sub.id,
    'subscription_details[items][0][id]': sub.items.data[0].id, 'subscription_details[items][0][price]': 'price_secretary', 'subscription_details[proration_date]': String(now) } });
  assert.equal(prev.status, 200, JSON.stringify(prev.json));
  assertShape(prev.json);
  assert.equal(prev.json.parent.subscription_details.subscription_proration_date, now);
  const cs = await call('POST', '/v1/checkout/sessions', { params: { mode: 'subscription', customer: cus.id, 'line_items[0][price]': 'price_secretary', success_url: 'https://x/ok' } });
  assertShape(cs.json);
  const done = await ctl('POST', `/__checkout/${cs.json.id}/complete`);
  assertShape(done.session);
  assertShape(done.subscription);
  assertShape(done.invoice);
  for (const l of done.invoice.lines.data) assertShape(l);
  const clock = await call('POST', '/v1/test_helpers/test_clocks', { params: { frozen_time: String(now), name: 'shapes' } });
  assert.equal(clock.status, 200, JSON.stringify(clock.json));
  assertShape(clock.json);
  const adv = await call('POST', `/v1/test_helpers/test_clocks/${clock.json.id}/advance`, { params: { frozen_time: String(now + 60) } });
  assertShape(adv.json);
  assert.equal(adv.json.status_details.advancing.target_frozen_time, now + 60);
  // every event recorded so far (delivery is off without --webhook-url): the envelope is an EventBase and the
  // object the interface of its type
  const events = await ctl('GET', '/__events');
  assert.ok(events.length > 10);
  for (const ev of events) {
    assertShape({ ...ev, data: { ...ev.data, object: {}, ...(ev.data.previous_attributes ? { previous_attributes: {} } : {}) } });
    assert.equal(ev.api_version, VERSION);
    if (IFACES[ev.data.object.object]) assertShape(ev.data.object);
  }
  // the checker is not blind: old fields, missing fields and wrong types are reported
  const old = { ...inv, subscription: sub.id };
  assert.throws(() => assertShape(old), /subscription: not in Invoice/);
  const { parent, ...noParent } = inv;
  assert.throws(() => assertShape(noParent), /parent: missing/);
  assert.throws(() => assertShape({ ...sub, current_period_end: 1 }), /current_period_end: not in Subscription/);
  assert.throws(() => assertShape({ ...ii.json, amount: '8' }), /amount: string/);
  assert.throws(() => assertShape({ ...inv.lines.data[0], parent: { type: 'subscription_item_details' } }), /subscription_item_details: missing/);
});

test('the official stripe-node client talks to the stand-in', async () => {
  const u = new URL(base);
  const stripe = new Stripe(KEY, { host: u.hostname, port: Number(u.port), protocol: 'http', apiVersion: VERSION, maxNetworkRetries: 0 });
  const c = await stripe.customers.create({ email: 'node@example.com', metadata: { user_id: '7' } }, { idempotencyKey: newKey() });
  assert.equal(c.object, 'customer');
  assert.deepEqual(c.metadata, { user_id: '7' });
  const s = await stripe.checkout.sessions.create({ mode: 'subscription', customer: c.id, line_items: [{ price: 'price_secretary', quantity: 1 }],
    success_url: 'https://x/ok', cancel_url: 'https://x/no', subscription_data: { metadata: { user_id: '7' } } }, { idempotencyKey: newKey() });
  assert.equal(s.object, 'checkout.session');
  await assert.rejects(stripe.customers.retrieve('cus_missing'), (e) => e.type === 'StripeInvalidRequestError' && e.code === 'resource_missing');
});
