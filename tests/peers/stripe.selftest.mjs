// Self-test of the Stripe stand-in: `node --test tests/peers/stripe.selftest.mjs` (from anywhere).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';

const KEY = 'sk_test_selftest_key_1';
const KEY2 = 'sk_test_selftest_key_2';
const VERSION = '2023-09-12';
let child, base;

before(async () => {
  const script = fileURLToPath(new URL('./stripe.mjs', import.meta.url));
  child = spawn(process.execPath, [script, '--port', '0', '--key', KEY, '--key', KEY2,
    '--price', 'price_secretary=4000', '--price', 'price_pm=28000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`stand-in exited with ${code}`)));
  });
  child.stdout.resume();
});
after(() => child?.kill());

let seq = 0;
const newKey = () => `selftest-${process.pid}-${++seq}`;
const form = (o) => new URLSearchParams(o).toString();
async function call(method, path, { params, key = KEY, idem = method === 'POST' ? newKey() : undefined, version = VERSION, headers = {}, signal } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (version) h['stripe-version'] = version;
  if (idem) h['idempotency-key'] = idem;
  let body;
  if (params && method === 'GET') path += '?' + form(params);
  else if (params) { body = form(params); h['content-type'] = 'application/x-www-form-urlencoded'; }
  const r = await fetch(base + path, { method, headers: h, body, signal });
  return { status: r.status, headers: r.headers, json: await r.json() };
}
const ctl = async (method, path, body) => (await fetch(base + path, { method, body: body && JSON.stringify(body) })).json();
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

test('Stripe-Version must be present and date-like', async () => {
  assert.equal((await call('GET', '/v1/customers/cus_x', { version: null })).status, 400);
  assert.equal((await call('GET', '/v1/customers/cus_x', { version: 'latest' })).status, 400);
  assert.equal((await call('GET', '/v1/customers/cus_x', { version: '2025-03-31.basil' })).status, 404);
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

test('unknown and ill-typed params are rejected against the spec', async () => {
  let r = await call('POST', '/v1/customers', { params: { emial: 'x@y.z' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'parameter_unknown');
  assert.equal(r.json.error.param, 'emial');
  r = await call('POST', '/v1/checkout/sessions', { params: { success_url: 'https://x/s', 'subscription_data[metdata][user_id]': '1' } });
  assert.equal(r.json.error.param, 'subscription_data[metdata]');
  const cus = await customer();
  r = await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', unit_amount_decimal: '1', quantity: 'ten' } });
  assert.equal(r.json.error.code, 'parameter_invalid_integer');
  r = await call('POST', '/v1/invoiceitems', { params: { currency: 'usd', amount: '5' } });
  assert.equal(r.json.error.code, 'parameter_missing');
  // a validation failure stores nothing: the same key works once the request is fixed
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
  assert.equal(ii.unit_amount, null);
  assert.equal(ii.unit_amount_decimal, '0.1');
  assert.deepEqual(ii.period, { start: 1700000000, end: 1702592000 });
  assert.deepEqual(ii.metadata, { kind: 'voice_minutes' });
});

test('invoice items attach to a draft invoice and previews include pending items', async () => {
  const cus = await customer();
  const now = Math.floor(Date.now() / 1000);
  const sub = await ctl('POST', '/__subscriptions', { customer: cus.id, price: 'price_secretary', current_period_start: now - 86400, current_period_end: now + 86400 });
  assert.match(sub.id, /^sub_/);
  assert.equal(sub.items.data[0].current_period_end, now + 86400);
  const inv = await ctl('POST', '/__invoices', { customer: cus.id, subscription: sub.id });
  assert.equal(inv.status, 'draft');
  assert.equal(inv.billing_reason, 'subscription_cycle');
  assert.equal(inv.amount_due, 4000);
  let r = await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, invoice: inv.id, currency: 'usd', quantity: '50', unit_amount_decimal: '1.3', subscription: sub.id } });
  assert.equal(r.json.invoice, inv.id);
  r = await call('GET', `/v1/invoices/${inv.id}`);
  assert.equal(r.json.amount_due, 4065);
  assert.equal(r.json.lines.data.length, 2);
  // pending (unattached) item shows up in the next-invoice preview, old and new API
  await call('POST', '/v1/invoiceitems', { params: { customer: cus.id, currency: 'usd', quantity: '20', unit_amount_decimal: '0.75' } });
  const p1 = await call('POST', '/v1/invoices/create_preview', { params: { customer: cus.id, subscription: sub.id } });
  assert.equal(p1.status, 200, JSON.stringify(p1.json));
  assert.equal(p1.json.object, 'invoice');
  assert.equal(p1.json.id, undefined);
  assert.equal(p1.json.total, 4015);
  assert.equal(p1.json.period_end, now + 86400);
  const p2 = await call('GET', '/v1/invoices/upcoming', { params: { customer: cus.id } });
  assert.equal(p2.json.amount_due, 4015);
});

test('subscription update, proration preview and cancel', async () => {
  const cus = await customer();
  const now = Math.floor(Date.now() / 1000);
  const sub = await ctl('POST', '/__subscriptions', { customer: cus.id, price: 'price_secretary', current_period_start: now - 15 * 86400, current_period_end: now + 15 * 86400 });
  const si = sub.items.data[0].id;
  const preview = await call('POST', '/v1/invoices/create_preview', { params: { customer: cus.id, subscription: sub.id,
    'subscription_details[items][0][id]': si, 'subscription_details[items][0][price]': 'price_pm', 'subscription_details[proration_date]': String(now) } });
  assert.equal(preview.status, 200, JSON.stringify(preview.json));
  const pr = preview.json.lines.data.filter((l) => l.proration).map((l) => l.amount);
  assert.deepEqual(pr, [-2000, 14000]);
  assert.equal(preview.json.total, -2000 + 14000 + 28000);
  let r = await call('POST', `/v1/subscriptions/${sub.id}`, { params: { 'items[0][id]': si, 'items[0][price]': 'price_pm', proration_behavior: 'none', 'metadata[tier]': 'ai_project_manager' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.items.data[0].price.id, 'price_pm');
  assert.equal(r.json.items.data.length, 1);
  assert.equal(r.json.current_period_end, sub.current_period_end);
  assert.equal(r.json.status, 'active');
  r = await call('POST', `/v1/subscriptions/${sub.id}`, { params: { proration_behavior: 'sometimes' } });
  assert.equal(r.status, 400);
  r = await call('POST', `/v1/subscriptions/${sub.id}`, { params: { cancel_at_period_end: 'true' } });
  assert.equal(r.json.cancel_at, sub.current_period_end);
  r = await call('DELETE', `/v1/subscriptions/${sub.id}`);
  assert.equal(r.json.status, 'canceled');
  r = await call('GET', `/v1/subscriptions/${sub.id}`);
  assert.equal(r.json.status, 'canceled');
});

test('fail injection: injected errors store nothing; a slow request holds its key', async () => {
  const cus = await customer();
  await ctl('POST', '/__fail', { count: 2, status: 500, path_prefix: '/v1/invoiceitems' });
  const idem = newKey();
  const params = { customer: cus.id, currency: 'usd', amount: '100' };
  for (let i = 0; i < 2; i++) {
    const r = await call('POST', '/v1/invoiceitems', { params, idem });
    assert.equal(r.status, 500);
    assert.equal(r.json.error.type, 'api_error');
  }
  let r = await call('POST', '/v1/invoiceitems', { params, idem });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('idempotent-replayed'), null);
  // slow Stripe: the client gives up, the request still completes, the retry is answered from the store
  await ctl('POST', '/__fail', { count: 1, delay_ms: 400, path_prefix: '/v1/invoiceitems' });
  const idem2 = newKey();
  await assert.rejects(call('POST', '/v1/invoiceitems', { params, idem: idem2, signal: AbortSignal.timeout(100) }));
  r = await call('POST', '/v1/invoiceitems', { params, idem: idem2 });
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'idempotency_key_in_use');
  await new Promise((res) => setTimeout(res, 450));
  r = await call('POST', '/v1/invoiceitems', { params, idem: idem2 });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('idempotent-replayed'), 'true');
  const reqs = await ctl('GET', '/__requests');
  assert.equal(reqs.filter((x) => x.idempotency_key === idem).map((x) => x.status).join(), '500,500,200');
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
