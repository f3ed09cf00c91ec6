#!/usr/bin/env node
// Stripe REST stand-in for xswarm-billing's integration tests (no Stripe on the network here).
//
//   node tests/peers/stripe.mjs --port P [--host 127.0.0.1] --key sk_test_... [--key ...]
//                               [--price price_x=4000 ...] [--specs DIR]
//
// Plays the Stripe endpoints our C code calls, with object shapes taken from Stripe's own fixtures and
// request checks taken from Stripe's OpenAPI spec (tests/vendor/stripe/, see its README; i.e.
// found from this file's location). Everything lives in memory. One log line per request on stdout.
// Checks on every /v1 request: Bearer key (401), Stripe-Version present and date-like (400), form bodies
// in bracket notation, Idempotency-Key on every POST (our own rule), Stripe idempotency semantics,
// unknown/ill-typed params against the spec's schema (400 parameter_unknown, parameter_invalid_*).
// Control endpoints (no auth) under /__ : see README.md beside this file.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

// ---------- CLI ----------
const opts = { host: '127.0.0.1', port: 0, keys: [], prices: [], specs: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === '--port') opts.port = Number(v), i++;
  else if (a === '--host') opts.host = v, i++;
  else if (a === '--key') opts.keys.push(v), i++;
  else if (a === '--price') opts.prices.push(v), i++;
  else if (a === '--specs') opts.specs = v, i++;
  else { console.error(`stripe stand-in: unknown argument ${a}`); process.exit(2); }
}
if (!opts.keys.length) { console.error('usage: stripe.mjs --port P [--host H] --key SECRET [--price ID=CENTS]'); process.exit(2); }
const specDir = opts.specs || process.env.XSB_SPECS_DIR || fileURLToPath(new URL('../vendor/stripe/', import.meta.url));
const SPEC = JSON.parse(fs.readFileSync(`${specDir}/spec3_2023-08-16.json`, 'utf8'));
const FIXTURES = JSON.parse(fs.readFileSync(`${specDir}/fixtures3_2023-08-16.json`, 'utf8')).resources;

// ---------- helpers ----------
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const rid = (prefix, n = 24) => prefix + Array.from(crypto.randomBytes(n), (b) => ALNUM[b % 62]).join('');
const nowS = () => Math.floor(Date.now() / 1000);
const tmpl = (name) => structuredClone(FIXTURES[name]);
const int = (v) => (v === undefined || v === null || v === '' ? undefined : Number(v));
const bool = (v) => v === true || v === 'true';
const addMonth = (t) => { const d = new Date(t * 1000); d.setUTCMonth(d.getUTCMonth() + 1); return Math.floor(d / 1000); };
const list = (x) => (x === undefined || x === '' ? [] : Array.isArray(x) ? x : Object.values(x));

class StripeError extends Error {
  constructor(status, message, extra = {}) { super(message); this.status = status; this.extra = extra; }
  get body() { return { error: { type: 'invalid_request_error', message: this.message, ...this.extra } }; }
}
const bad = (message, extra) => new StripeError(400, message, extra);

// Decimal amounts (cents, up to 12 places) as BigInt scaled by 1e12; rounding half away from zero,
// as Stripe documents (0.05 x 30 = 1.5 -> 2).
const SCALE = 10n ** 12n;
function parseDecimal(s, param) {
  const m = /^(-?)(\d+)(?:\.(\d{1,12}))?$/.exec(String(s));
  if (!m) throw bad(`Invalid decimal: ${s}`, { code: 'parameter_invalid_decimal', param });
  const v = BigInt(m[2]) * SCALE + BigInt((m[3] || '').padEnd(12, '0'));
  return m[1] ? -v : v;
}
function roundScaled(v) {
  const neg = v < 0n, a = neg ? -v : v, r = (a + SCALE / 2n) / SCALE;
  return Number(neg ? -r : r);
}
const decString = (v) => { // BigInt scaled -> "1.3"
  const neg = v < 0n, a = neg ? -v : v, f = (a % SCALE).toString().padStart(12, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + (a / SCALE).toString() + (f ? '.' + f : '');
};

// ---------- form / query parsing (Stripe bracket notation) ----------
function setPath(obj, key, val) {
  const m = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(key);
  if (!m) throw bad(`Invalid parameter name: ${key}`);
  const parts = [m[1], ...[...m[2].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1])];
  let o = obj;
  for (let i = 0; i < parts.length; i++) {
    let p = parts[i];
    if (p === '') p = String(Object.keys(o).length); // a[]=x appends
    if (i === parts.length - 1) { o[p] = val; break; }
    if (typeof o[p] !== 'object' || o[p] === null) o[p] = {};
    o = o[p];
  }
}
// Objects whose keys are all indexes become arrays, except metadata (a free-form map).
function arrayify(v, key) {
  if (typeof v !== 'object' || v === null) return v;
  const keys = Object.keys(v);
  for (const k of keys) v[k] = arrayify(v[k], k);
  if (key !== 'metadata' && keys.length && keys.every((k) => /^\d+$/.test(k))) {
    return keys.map(Number).sort((a, b) => a - b).map((k) => v[k]);
  }
  return v;
}
function parseParams(str) {
  const out = {};
  for (const [k, v] of new URLSearchParams(str)) setPath(out, k, v);
  return arrayify(out, '');
}

// ---------- validation against the spec ----------
function validate(value, schema, param) {
  const keys = Object.keys(schema || {}).filter((k) => !['description', 'title', 'maxLength', 'x-stripeBypassValidation'].includes(k));
  if (!keys.length) return; // no constraints: anything goes
  if (schema.anyOf) {
    if (value === '' && schema.anyOf.some((s) => s.enum?.includes(''))) return;
    const kind = Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : 'scalar';
    const fit = schema.anyOf.find((s) => (s.type === 'array' ? 'array' : s.type === 'object' || s.properties ? 'object' : 'scalar') === kind);
    if (!fit) throw bad(`Invalid ${param}`, { param });
    if (kind === 'scalar') { // try every scalar variant, first that passes wins
      const errs = [];
      for (const s of schema.anyOf.filter((s) => s.type !== 'array' && s.type !== 'object' && !s.properties)) {
        try { return validate(value, s, param); } catch (e) { errs.push(e); }
      }
      throw errs[errs.length - 1];
    }
    return validate(value, fit, param);
  }
  const name = (k) => (param ? `${param}[${k}]` : k);
  if (schema.type === 'object' || schema.properties || schema.additionalProperties) {
    if (value === '' && param) return; // "" unsets (metadata=, etc.)
    if (typeof value !== 'object' || Array.isArray(value)) throw bad(`Invalid object`, { param });
    for (const [k, v] of Object.entries(value)) {
      const sub = schema.properties?.[k];
      if (sub) validate(v, sub, name(k));
      else if (!schema.additionalProperties) throw bad(`Received unknown parameter: ${name(k)}`, { code: 'parameter_unknown', param: name(k) });
    }
    for (const r of schema.required ?? []) {
      if (!(r in value)) throw bad(`Missing required param: ${name(r)}.`, { code: 'parameter_missing', param: name(r) });
    }
    return;
  }
  if (schema.type === 'array') {
    if (!Array.isArray(value)) throw bad(`Invalid array`, { param });
    value.forEach((v, i) => validate(v, schema.items ?? {}, `${param}[${i}]`));
    return;
  }
  if (typeof value === 'object') throw bad(`Invalid ${param}: expected a scalar`, { param });
  if (schema.enum && !schema.enum.includes(value)) {
    throw bad(`Invalid ${param}: must be one of ${schema.enum.join(', ')}`, { param });
  }
  if (schema.type === 'integer' && !/^-?\d+$/.test(value)) throw bad(`Invalid integer: ${value}`, { code: 'parameter_invalid_integer', param });
  if (schema.type === 'boolean' && value !== 'true' && value !== 'false') throw bad(`Invalid boolean: ${value}`, { param });
  if (schema.type === 'number' && !Number.isFinite(Number(value))) throw bad(`Invalid number: ${value}`, { param });
  if (schema.format === 'decimal') parseDecimal(value, param);
}
// Spec lookup: request-body schema (POST) or query-parameter schema (GET/DELETE) of an operation.
function specSchema(specPath, method) {
  const op = SPEC.paths[specPath]?.[method.toLowerCase()];
  if (!op) return null;
  const body = op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
  const q = (op.parameters || []).filter((p) => p.in === 'query');
  const props = { ...(body?.properties || {}) };
  for (const p of q) props[p.name] = p.schema;
  return { type: 'object', properties: props, required: body?.required || q.filter((p) => p.required).map((p) => p.name) };
}
// POST /v1/invoices/create_preview is newer than the 2023-09-12 spec: its top-level parameters by hand.
const CREATE_PREVIEW_SCHEMA = {
  type: 'object',
  properties: Object.fromEntries(['automatic_tax', 'currency', 'customer', 'customer_details', 'discounts', 'expand',
    'invoice_items', 'issuer', 'on_behalf_of', 'preview_mode', 'schedule', 'schedule_details', 'subscription']
    .map((k) => [k, k === 'expand' ? { type: 'array', items: { type: 'string' } } : {}]).concat([['subscription_details', {
      type: 'object',
      properties: {
        billing_cycle_anchor: {}, cancel_at: {}, cancel_at_period_end: { type: 'boolean' }, cancel_now: { type: 'boolean' },
        default_tax_rates: {}, proration_date: { type: 'integer' }, resume_at: {}, start_date: {}, trial_end: {},
        proration_behavior: { type: 'string', enum: ['always_invoice', 'create_prorations', 'none'] },
        items: { type: 'array', items: { type: 'object', properties: Object.fromEntries(['billing_thresholds', 'clear_usage',
          'deleted', 'discounts', 'id', 'metadata', 'price', 'price_data', 'quantity', 'tax_rates'].map((k) => [k, {}])) } },
      },
    }]])),
};
const check = (params, schema) => validate(params, schema, '');

// ---------- state ----------
let S;
function reset() {
  S = { objects: new Map(), requests: [], idem: new Map(), fail: [], extras: new Map(), seq: 0 };
  for (const p of opts.prices) { const [id, cents] = p.split('='); makePrice({ id, unit_amount: Number(cents) }); }
}
const put = (o) => (S.objects.set(o.id, o), o);
function get(id, type, param) {
  const o = typeof id === 'string' ? S.objects.get(id) : undefined;
  if (o && o.object === type) return o;
  throw new StripeError(param ? 400 : 404, `No such ${type}: '${id}'`, { code: 'resource_missing', param: param || 'id' });
}
const all = (type, pred) => [...S.objects.values()].filter((o) => o.object === type && pred(o));

// ---------- object builders (fixture shapes) ----------
function makePrice(o) {
  const p = tmpl('price');
  Object.assign(p, { id: o.id || rid('price_'), created: nowS(), product: o.product || rid('prod_', 14), nickname: o.nickname ?? null,
    currency: o.currency || 'usd', unit_amount: Number(o.unit_amount ?? 0), unit_amount_decimal: String(o.unit_amount ?? 0), metadata: o.metadata || {} });
  p.recurring.interval = o.interval || 'month';
  return put(p);
}
function makeCustomer(f) {
  const c = tmpl('customer');
  Object.assign(c, { id: f.id || rid('cus_'), created: nowS(), email: f.email ?? null, name: f.name ?? null, phone: f.phone ?? null,
    description: f.description ?? null, metadata: mergeMeta({}, f.metadata), invoice_prefix: rid('', 8).toUpperCase() });
  return put(c);
}
function mergeMeta(cur, upd) {
  if (upd === undefined) return cur;
  if (upd === '') return {};
  const m = { ...cur };
  for (const [k, v] of Object.entries(upd)) { if (v === '') delete m[k]; else m[k] = String(v); }
  return m;
}
function makeSubItem(sub, price, quantity) {
  const it = tmpl('subscription').items.data[0];
  return Object.assign(it, { id: rid('si_'), created: nowS(), price, quantity, subscription: sub.id, metadata: {},
    current_period_start: sub.current_period_start, current_period_end: sub.current_period_end });
}
function makeSubscription(f) {
  const customer = S.objects.get(f.customer)?.object === 'customer' ? f.customer : makeCustomer({ id: f.customer }).id;
  const price = S.objects.get(f.price) || (f.unit_amount !== undefined ? makePrice({ id: f.price, unit_amount: f.unit_amount }) : null);
  if (!price) throw bad(`No such price: '${f.price}' (register it with --price, /__prices, or pass unit_amount)`, { code: 'resource_missing', param: 'price' });
  const s = tmpl('subscription'), start = int(f.current_period_start) ?? nowS(), end = int(f.current_period_end) ?? addMonth(start);
  const status = f.status || 'active';
  Object.assign(s, { id: f.id || rid('sub_'), customer, created: int(f.created) ?? start, start_date: int(f.created) ?? start, billing_cycle_anchor: start,
    current_period_start: start, current_period_end: end, status, metadata: f.metadata || {},
    cancel_at_period_end: bool(f.cancel_at_period_end), cancel_at: bool(f.cancel_at_period_end) ? end : null, canceled_at: null, ended_at: null,
    trial_start: status === 'trialing' || f.trial_end ? int(f.trial_start) ?? start : null,
    trial_end: int(f.trial_end) ?? (status === 'trialing' ? end : null), latest_invoice: null, next_pending_invoice_item_invoice: null, currency: price.currency });
  s.items = { object: 'list', data: [], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${s.id}` };
  s.items.data.push(makeSubItem(s, price, Number(f.quantity ?? 1)));
  return put(s);
}
function setPeriod(sub, start, end) {
  Object.assign(sub, { current_period_start: start, current_period_end: end });
  for (const it of sub.items.data) Object.assign(it, { current_period_start: start, current_period_end: end });
}
const money = (c) => `$${(c / 100).toFixed(2)}`;
function lineFromItem(ii, idPrefix) {
  const l = tmpl('line_item');
  return Object.assign(l, { id: idPrefix === 'il_tmp_' ? 'il_tmp_' + ii.id.slice(3) : rid('il_'), invoice_item: ii.id, amount: ii.amount,
    amount_excluding_tax: ii.amount, currency: ii.currency, description: ii.description, metadata: { ...ii.metadata }, period: { ...ii.period },
    price: ii.price, proration: ii.proration, quantity: ii.quantity, subscription: ii.subscription, unit_amount_excluding_tax: ii.unit_amount_decimal });
}
function lineFromSubItem(sub, item, start, end) {
  const l = tmpl('line_item'), amount = item.price.unit_amount * item.quantity;
  delete l.invoice_item;
  return Object.assign(l, { id: rid('il_'), type: 'subscription', subscription: sub.id, subscription_item: item.id, amount, amount_excluding_tax: amount,
    currency: item.price.currency, description: `${item.quantity} × ${item.price.nickname || item.price.product} (at ${money(item.price.unit_amount)} / ${item.price.recurring?.interval || 'month'})`,
    metadata: { ...sub.metadata }, period: { start, end }, price: item.price, quantity: item.quantity, unit_amount_excluding_tax: String(item.price.unit_amount) });
}
function totals(inv) {
  const sum = inv.lines.data.reduce((a, l) => a + l.amount, 0);
  const paid = inv.status === 'paid' ? sum : 0;
  Object.assign(inv, { subtotal: sum, subtotal_excluding_tax: sum, total: sum, total_excluding_tax: sum, amount_due: Math.max(0, sum),
    amount_paid: paid, amount_remaining: Math.max(0, sum) - paid, paid: inv.status === 'paid' });
  inv.lines.total_count = inv.lines.data.length;
  return inv;
}
function invoiceShell(f) {
  const inv = tmpl('invoice');
  Object.assign(inv, { created: nowS(), customer: f.customer, subscription: f.subscription ?? null, status: f.status || 'draft',
    billing_reason: f.billing_reason || 'subscription_cycle', period_start: f.period_start, period_end: f.period_end,
    next_payment_attempt: f.next_payment_attempt ?? null, effective_at: null, due_date: null, webhooks_delivered_at: null, number: null,
    subscription_details: { metadata: f.sub ? { ...f.sub.metadata } : null }, auto_advance: (f.status || 'draft') === 'draft',
    customer_email: S.objects.get(f.customer)?.email ?? null, customer_name: S.objects.get(f.customer)?.name ?? null });
  inv.lines = { object: 'list', data: [], has_more: false, total_count: 0, url: null };
  return inv;
}
// Proration pair for a price change at time t (Stripe: credit unused time on the old price, charge remaining time on the new).
function prorations(sub, item, newPrice, t) {
  const { current_period_start: a, current_period_end: b } = sub;
  t = Math.min(Math.max(t, a), b);
  const frac = (b - t) / (b - a), q = item.quantity, when = new Date(t * 1000).toISOString().slice(0, 10);
  const name = (p) => p.nickname || p.product;
  return [
    { amount: -Math.round(item.price.unit_amount * q * frac), price: item.price, description: `Unused time on ${name(item.price)} after ${when}` },
    { amount: Math.round(newPrice.unit_amount * q * frac), price: newPrice, description: `Remaining time on ${name(newPrice)} after ${when}` },
  ].map((p) => ({ ...p, quantity: q, period: { start: t, end: b } }));
}
function makeInvoiceItem(f) {
  const ii = tmpl('invoiceitem');
  return put(Object.assign(ii, { id: rid('ii_'), date: nowS(), invoice: null, test_clock: null, discountable: true, ...f }));
}

// ---------- /v1 handlers ----------
function createInvoiceItem(p) {
  const cus = get(p.customer, 'customer', 'customer');
  const inv = p.invoice ? get(p.invoice, 'invoice', 'invoice') : null;
  if (inv && inv.status !== 'draft') throw bad(`You can only add invoice items to draft invoices. Invoice ${inv.id} is ${inv.status}.`, { param: 'invoice' });
  if (inv && inv.customer !== cus.id) throw bad(`The invoice ${inv.id} does not belong to customer ${cus.id}.`, { param: 'invoice' });
  const sub = p.subscription ? get(p.subscription, 'subscription', 'subscription') : null;
  const given = ['amount', 'unit_amount', 'unit_amount_decimal', 'price'].filter((k) => p[k] !== undefined);
  if (given.length !== 1) throw bad(`You must pass exactly one of: amount, unit_amount, unit_amount_decimal, price (got ${given.join(', ') || 'none'}).`);
  if (p.amount !== undefined && p.quantity !== undefined) throw bad('You cannot pass `quantity` together with `amount`; use `unit_amount` instead.', { param: 'quantity' });
  let price = p.price ? get(p.price, 'price', 'price') : null;
  if (!price && !p.currency) throw bad('Missing required param: currency.', { code: 'parameter_missing', param: 'currency' });
  const qty = BigInt(p.quantity ?? 1);
  const unit = price ? parseDecimal(price.unit_amount_decimal) : parseDecimal(p.unit_amount_decimal ?? p.unit_amount ?? p.amount, 'unit_amount_decimal');
  const amount = roundScaled(qty * unit), integral = unit % SCALE === 0n;
  if (!price) {
    price = Object.assign(tmpl('price'), { id: rid('price_'), created: nowS(), product: rid('prod_', 14), currency: p.currency, recurring: null, type: 'one_time',
      unit_amount: integral ? Number(unit / SCALE) : null, unit_amount_decimal: decString(unit) });
  }
  const now = nowS();
  const ii = makeInvoiceItem({ customer: cus.id, amount, currency: price.currency, description: p.description ?? null, metadata: mergeMeta({}, p.metadata),
    period: { start: int(p.period?.start) ?? now, end: int(p.period?.end) ?? now }, price, proration: false, quantity: Number(qty),
    subscription: sub?.id ?? null, unit_amount: integral ? Number(unit / SCALE) : null, unit_amount_decimal: decString(unit),
    discountable: p.discountable === undefined ? true : bool(p.discountable) });
  if (inv) { ii.invoice = inv.id; inv.lines.data.push(lineFromItem(ii, 'il_')); totals(inv); }
  return ii;
}
function updateSubscription(sub, p) {
  if (sub.status === 'canceled' && Object.keys(p).some((k) => !['metadata', 'cancellation_details', 'expand'].includes(k))) {
    throw bad('A canceled subscription can only update its cancellation_details and metadata.');
  }
  const t = int(p.proration_date) ?? nowS(), behavior = p.proration_behavior || 'create_prorations';
  list(p.items).forEach((u, i) => {
    let item = u.id ? sub.items.data.find((x) => x.id === u.id) : null;
    if (u.id && !item) throw bad(`No such subscription_item: '${u.id}'`, { code: 'resource_missing', param: `items[${i}][id]` });
    if (item && bool(u.deleted)) { sub.items.data = sub.items.data.filter((x) => x !== item); return; }
    const price = u.price ? get(u.price, 'price', `items[${i}][price]`) : null;
    if (!item) { // Stripe adds a new item when no id is given
      if (!price) throw bad('Missing required param: items[' + i + '][price].', { code: 'parameter_missing', param: `items[${i}][price]` });
      sub.items.data.push(makeSubItem(sub, price, Number(u.quantity ?? 1)));
      return;
    }
    if (price && price.id !== item.price.id && behavior !== 'none' && sub.status === 'active') {
      for (const pr of prorations(sub, item, price, t)) {
        makeInvoiceItem({ customer: sub.customer, subscription: sub.id, proration: true, currency: pr.price.currency, amount: pr.amount, description: pr.description,
          metadata: {}, period: pr.period, price: pr.price, quantity: 1, unit_amount: pr.amount, unit_amount_decimal: String(pr.amount) });
      }
    }
    if (price) item.price = price;
    if (u.quantity !== undefined) item.quantity = Number(u.quantity);
    if (u.metadata !== undefined) item.metadata = mergeMeta(item.metadata, u.metadata);
  });
  sub.items.total_count = sub.items.data.length;
  if (p.cancel_at_period_end !== undefined) {
    const c = bool(p.cancel_at_period_end);
    Object.assign(sub, { cancel_at_period_end: c, cancel_at: c ? sub.current_period_end : null, canceled_at: c ? nowS() : null });
  }
  if (p.trial_end === 'now') Object.assign(sub, { trial_end: nowS(), status: 'active' });
  if (p.description !== undefined) sub.description = p.description || null;
  sub.metadata = mergeMeta(sub.metadata, p.metadata);
  return sub;
}
function createCheckoutSession(p) {
  const cus = p.customer ? get(p.customer, 'customer', 'customer') : null;
  const items = list(p.line_items);
  if (p.mode !== 'setup' && !items.length) throw bad('You must provide at least one line item.', { param: 'line_items' });
  const prices = items.map((li, i) => ({ price: get(li.price, 'price', `line_items[${i}][price]`), quantity: Number(li.quantity ?? 1) }));
  if (p.mode === 'subscription' && !prices.some((x) => x.price.recurring)) throw bad('You must provide at least one recurring price in `subscription` mode when using prices.', { param: 'line_items' });
  const s = tmpl('checkout.session'), id = rid('cs_test_'), total = prices.reduce((a, x) => a + x.price.unit_amount * x.quantity, 0);
  Object.assign(s, { id, created: nowS(), expires_at: nowS() + 86400, mode: p.mode || 'payment', customer: cus?.id ?? null, customer_email: p.customer_email ?? null,
    client_reference_id: p.client_reference_id ?? null, metadata: mergeMeta({}, p.metadata), success_url: p.success_url, cancel_url: p.cancel_url ?? null,
    amount_subtotal: total, amount_total: total, currency: prices[0]?.price.currency ?? null, payment_intent: null, customer_details: null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, url: `https://checkout.stripe.com/c/pay/${id}` });
  S.extras.set(id, { prices, subscription_data: p.subscription_data || {} });
  return put(s);
}
// Upcoming/preview invoice: the subscription's next period + pending invoice items (+ prorations for a price change).
function previewInvoice(q) {
  if (!q.customer && !q.subscription) throw bad('Missing required param: customer.', { code: 'parameter_missing', param: 'customer' });
  const cus = q.customer ? get(q.customer, 'customer', 'customer') : null;
  let sub = q.subscription ? get(q.subscription, 'subscription', 'subscription') : null;
  if (sub && cus && sub.customer !== cus.id) throw bad(`The subscription ${sub.id} does not belong to customer ${cus.id}.`, { param: 'subscription' });
  const customer = cus?.id ?? sub.customer;
  sub ??= all('subscription', (s) => s.customer === customer && s.status !== 'canceled')[0] ?? null;
  const pending = all('invoiceitem', (ii) => ii.customer === customer && !ii.invoice && (!ii.subscription || ii.subscription === sub?.id));
  const lines = pending.map((ii) => lineFromItem(ii, 'il_tmp_'));
  const now = nowS();
  if (sub && sub.status !== 'canceled') {
    const t = int(q.proration_date) ?? now, endAtPeriod = q.cancel_at_period_end !== undefined ? bool(q.cancel_at_period_end) : sub.cancel_at_period_end;
    const items = sub.items.data.map((it) => ({ ...it }));
    list(q.items).forEach((u, i) => {
      const it = (u.id ? items.find((x) => x.id === u.id) : null);
      if (u.id && !it) throw bad(`No such subscription_item: '${u.id}'`, { code: 'resource_missing', param: `items[${i}][id]` });
      const price = u.price ? get(u.price, 'price', `items[${i}][price]`) : null;
      if (!it) { if (price) items.push({ id: rid('si_'), price, quantity: Number(u.quantity ?? 1) }); return; }
      if (price && price.id !== it.price.id && (q.proration_behavior || 'create_prorations') !== 'none' && sub.status === 'active') {
        for (const pr of prorations(sub, it, price, t)) {
          lines.push(Object.assign(tmpl('line_item'), { id: rid('il_tmp_'), invoice_item: undefined, amount: pr.amount, amount_excluding_tax: pr.amount,
            description: pr.description, period: pr.period, price: pr.price, proration: true, quantity: pr.quantity, subscription: sub.id,
            currency: pr.price.currency, unit_amount_excluding_tax: String(pr.amount) }));
        }
      }
      if (price) it.price = price;
      if (u.quantity !== undefined) it.quantity = Number(u.quantity);
    });
    const b = sub.current_period_end;
    if (!endAtPeriod) for (const it of items) lines.push(lineFromSubItem(sub, it, b, addMonth(b)));
  }
  if (!lines.length) throw new StripeError(404, `No upcoming invoices for customer: ${customer}`, { code: 'invoice_upcoming_none' });
  const inv = invoiceShell({ customer, subscription: sub?.id, sub, status: 'draft', billing_reason: 'upcoming',
    period_start: sub?.current_period_start ?? Math.min(now, ...pending.map((i) => i.period.start)), period_end: sub?.current_period_end ?? now,
    next_payment_attempt: (sub?.current_period_end ?? now) + 3600 });
  delete inv.id; // upcoming invoices have no id (spec: "always present unless the invoice is an upcoming invoice")
  inv.created = sub?.current_period_end ?? now;
  inv.currency = lines[0].currency;
  inv.lines.data = lines;
  inv.lines.url = `/v1/invoices/upcoming/lines?customer=${customer}`;
  return totals(inv);
}

// Routes: [method, regex, spec path (for validation), handler(params, match)]
const routes = [
  ['POST', /^\/v1\/customers$/, '/v1/customers', (p) => makeCustomer({ ...p, id: undefined })],
  ['GET', /^\/v1\/customers\/([^/]+)$/, '/v1/customers/{customer}', (p, m) => get(m[1], 'customer')],
  ['POST', /^\/v1\/customers\/([^/]+)$/, '/v1/customers/{customer}', (p, m) => {
    const c = get(m[1], 'customer');
    for (const k of ['email', 'name', 'phone', 'description']) if (p[k] !== undefined) c[k] = p[k] || null;
    c.metadata = mergeMeta(c.metadata, p.metadata);
    return c;
  }],
  ['POST', /^\/v1\/checkout\/sessions$/, '/v1/checkout/sessions', createCheckoutSession],
  ['GET', /^\/v1\/checkout\/sessions\/([^/]+)$/, '/v1/checkout/sessions/{session}', (p, m) => get(m[1], 'checkout.session')],
  ['GET', /^\/v1\/subscriptions\/([^/]+)$/, '/v1/subscriptions/{subscription_exposed_id}', (p, m) => get(m[1], 'subscription')],
  ['POST', /^\/v1\/subscriptions\/([^/]+)$/, '/v1/subscriptions/{subscription_exposed_id}', (p, m) => updateSubscription(get(m[1], 'subscription'), p)],
  ['DELETE', /^\/v1\/subscriptions\/([^/]+)$/, '/v1/subscriptions/{subscription_exposed_id}', (p, m) => {
    const s = get(m[1], 'subscription');
    if (s.status === 'canceled') throw new StripeError(404, `No such subscription: '${s.id}'`, { code: 'resource_missing', param: 'id' });
    const t = nowS();
    return Object.assign(s, { status: 'canceled', canceled_at: t, ended_at: t, cancellation_details: { ...s.cancellation_details, reason: 'cancellation_requested' } });
  }],
  ['POST', /^\/v1\/invoiceitems$/, '/v1/invoiceitems', createInvoiceItem],
  ['GET', /^\/v1\/invoiceitems\/([^/]+)$/, '/v1/invoiceitems/{invoiceitem}', (p, m) => get(m[1], 'invoiceitem')],
  ['GET', /^\/v1\/invoices\/upcoming$/, '/v1/invoices/upcoming', (p) => previewInvoice({ customer: p.customer, subscription: p.subscription,
    items: p.subscription_items, proration_behavior: p.subscription_proration_behavior, proration_date: p.subscription_proration_date,
    cancel_at_period_end: p.subscription_cancel_at_period_end })],
  ['POST', /^\/v1\/invoices\/create_preview$/, CREATE_PREVIEW_SCHEMA, (p) => {
    const d = p.subscription_details || {};
    return previewInvoice({ customer: p.customer, subscription: p.subscription, items: d.items, proration_behavior: d.proration_behavior,
      proration_date: d.proration_date, cancel_at_period_end: d.cancel_at_period_end });
  }],
  ['GET', /^\/v1\/invoices\/([^/]+)$/, '/v1/invoices/{invoice}', (p, m) => get(m[1], 'invoice')],
];

// ---------- control endpoints (tests only, no auth) ----------
function control(method, path, body) {
  let j;
  try { j = body ? JSON.parse(body) : {}; } catch { throw bad('control endpoints take a JSON body'); }
  let m;
  if (method === 'GET' && path === '/__requests') return S.requests;
  if (method === 'POST' && path === '/__reset') { reset(); return { ok: true }; }
  if (method === 'POST' && path === '/__fail') {
    if (j.clear) S.fail = [];
    else S.fail.push({ count: Number(j.count ?? 1), status: j.status ?? (j.delay_ms ? null : 500), delay_ms: Number(j.delay_ms ?? 0),
      path_prefix: j.path_prefix || '/v1/', method: j.method || null });
    return S.fail;
  }
  if (method === 'POST' && path === '/__prices') return makePrice(j);
  if (method === 'POST' && path === '/__customers') return makeCustomer(j);
  if (method === 'POST' && path === '/__subscriptions') {
    const cur = j.id && S.objects.get(j.id);
    if (!cur) return makeSubscription(j);
    if (j.current_period_start || j.current_period_end) setPeriod(cur, int(j.current_period_start) ?? cur.current_period_start, int(j.current_period_end) ?? cur.current_period_end);
    for (const k of ['status', 'trial_end', 'trial_start', 'metadata']) if (j[k] !== undefined) cur[k] = j[k];
    if (j.cancel_at_period_end !== undefined) Object.assign(cur, { cancel_at_period_end: bool(j.cancel_at_period_end), cancel_at: bool(j.cancel_at_period_end) ? cur.current_period_end : null });
    return cur;
  }
  if (method === 'POST' && path === '/__invoices') {
    const sub = j.subscription ? get(j.subscription, 'subscription', 'subscription') : null;
    const customer = j.customer || sub?.customer;
    get(customer, 'customer', 'customer');
    const ps = int(j.period_start) ?? sub?.current_period_start ?? nowS(), pe = int(j.period_end) ?? sub?.current_period_end ?? nowS();
    const inv = invoiceShell({ customer, subscription: sub?.id, sub, status: j.status, billing_reason: j.billing_reason, period_start: ps, period_end: pe,
      next_payment_attempt: j.status === 'paid' ? null : pe + 3600 });
    inv.id = j.id || rid('in_');
    if (inv.status !== 'draft') inv.number = `${S.objects.get(customer).invoice_prefix}-${String(++S.seq).padStart(4, '0')}`;
    if (sub && (j.billing_reason || 'subscription_cycle').startsWith('subscription')) {
      for (const it of sub.items.data) inv.lines.data.push(lineFromSubItem(sub, it, pe, addMonth(pe)));
      sub.latest_invoice = inv.id;
    }
    if (j.include_pending !== false) {
      for (const ii of all('invoiceitem', (x) => x.customer === customer && !x.invoice && (!x.subscription || x.subscription === sub?.id))) {
        ii.invoice = inv.id; inv.lines.data.push(lineFromItem(ii, 'il_'));
      }
    }
    inv.lines.url = `/v1/invoices/${inv.id}/lines`;
    return put(totals(inv));
  }
  if (method === 'POST' && (m = /^\/__checkout\/([^/]+)\/complete$/.exec(path))) {
    const cs = get(m[1], 'checkout.session'), x = S.extras.get(cs.id), d = x.subscription_data;
    const customer = cs.customer || makeCustomer({ email: cs.customer_email }).id, now = nowS();
    const trialDays = int(d.trial_period_days);
    const sub = makeSubscription({ customer, price: x.prices[0].price.id, quantity: x.prices[0].quantity, metadata: mergeMeta({}, d.metadata),
      status: trialDays ? 'trialing' : 'active', current_period_start: now, current_period_end: trialDays ? now + trialDays * 86400 : addMonth(now), ...j });
    Object.assign(cs, { status: 'complete', payment_status: trialDays ? 'no_payment_required' : 'paid', subscription: sub.id, customer });
    return { session: cs, subscription: sub };
  }
  if (method === 'GET' && (m = /^\/__objects\/([^/]+)$/.exec(path))) {
    const o = S.objects.get(m[1]);
    if (!o) throw new StripeError(404, `No such object: '${m[1]}'`, { code: 'resource_missing' });
    return o;
  }
  throw new StripeError(404, `Unknown control endpoint ${method} ${path}`);
}

// ---------- /v1 request pipeline ----------
const canon = (v) => (Array.isArray(v) ? v.map(canon) : v && typeof v === 'object'
  ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v);
async function api(req, url, body, rec) {
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  if (!auth) throw new StripeError(401, "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
  const apiKey = auth[1];
  if (!opts.keys.includes(apiKey)) throw new StripeError(401, `Invalid API Key provided: ${apiKey.slice(0, 8)}********${apiKey.slice(-4)}`);
  const version = req.headers['stripe-version'];
  if (!version) throw bad('missing Stripe-Version header (stand-in rule: always pin the API version)');
  if (!/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(version)) throw bad(`Invalid Stripe API version: ${version}`);
  let params = parseParams(url.search.slice(1));
  if (body.length) {
    const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    if (ct !== 'application/x-www-form-urlencoded') throw bad(`Invalid request: Content-Type must be application/x-www-form-urlencoded (got '${ct}')`);
    params = { ...params, ...parseParams(body.toString('utf8')) };
  }
  rec.form = params;
  // Fault injection. With a status: fail before the endpoint runs (nothing stored for idempotency, as for
  // Stripe's front-door errors). With delay_ms only: the request runs normally but slowly (its key is
  // "in flight" meanwhile, so a retry with the same key gets 409, then the stored result).
  const rule = S.fail.find((r) => r.count > 0 && url.pathname.startsWith(r.path_prefix) && (!r.method || r.method === req.method));
  if (rule) { rule.count--; rec.injected = true; }
  const sleep = () => new Promise((r) => setTimeout(r, rule?.delay_ms || 0));
  if (rule?.status) {
    await sleep();
    const type = rule.status >= 500 ? 'api_error' : rule.status === 402 ? 'card_error' : 'invalid_request_error';
    throw new StripeError(rule.status, rule.status === 429 ? 'Request rate limit exceeded.' : 'An unknown error occurred (injected by the stand-in).',
      { type, ...(rule.status === 429 ? { code: 'rate_limit' } : {}) });
  }
  const ik = req.headers['idempotency-key'];
  if (req.method === 'POST' && !ik) throw bad('missing Idempotency-Key');
  const route = routes.find(([m, re]) => m === req.method && re.test(url.pathname));
  if (!route) throw new StripeError(404, `Unrecognized request URL (${req.method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`);
  const slot = `${apiKey}\0${ik}`, fp = JSON.stringify([req.method, url.pathname, canon(params)]);
  if (req.method === 'POST') {
    const prev = S.idem.get(slot);
    if (prev && prev.fp !== fp) {
      throw new StripeError(400, `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${ik}' if you meant to execute a different request.`, { type: 'idempotency_error' });
    }
    if (prev?.inflight) throw new StripeError(409, `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${ik}. Please try again later.`, { type: 'idempotency_error', code: 'idempotency_key_in_use' });
    if (prev) return { ...prev.result, replayed: true };
  }
  const [, , spec, fn] = route;
  const schema = typeof spec === 'string' ? specSchema(spec, req.method) : spec;
  if (schema) check(params, schema); // validation failure: not stored
  if (req.method !== 'POST') { await sleep(); return { status: 200, body: fn(params, url.pathname.match(route[1])) }; }
  S.idem.set(slot, { fp, inflight: true });
  await sleep();
  let result;
  try { result = { status: 200, body: structuredClone(fn(params, url.pathname.match(route[1]))) }; }
  catch (e) { if (!(e instanceof StripeError)) { S.idem.delete(slot); throw e; } result = { status: e.status, body: e.body }; }
  S.idem.set(slot, { fp, result }); // Stripe stores the outcome once the endpoint ran, 4xx included
  return result;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const t0 = Date.now(), body = Buffer.concat(chunks), url = new URL(req.url, 'http://stand-in');
    const control_ = url.pathname.startsWith('/__');
    const rec = { method: req.method, path: url.pathname, query: url.search, headers: req.headers, idempotency_key: req.headers['idempotency-key'] ?? null,
      stripe_version: req.headers['stripe-version'] ?? null, form: null, time: new Date(t0).toISOString(), status: null, replayed: false };
    if (!control_) S.requests.push(rec);
    let out;
    try { out = control_ ? { status: 200, body: control(req.method, url.pathname, body.toString('utf8')) } : await api(req, url, body, rec); }
    catch (e) {
      if (e instanceof StripeError) out = { status: e.status, body: e.body };
      else { console.error(e); out = { status: 500, body: { error: { type: 'api_error', message: `stand-in bug: ${e.message}` } } }; }
    }
    rec.status = out.status; rec.replayed = !!out.replayed;
    const headers = { 'content-type': 'application/json', 'request-id': rid('req_', 14) };
    if (rec.stripe_version) headers['stripe-version'] = rec.stripe_version;
    if (rec.idempotency_key && req.method === 'POST') headers['idempotency-key'] = rec.idempotency_key;
    if (out.replayed) headers['idempotent-replayed'] = 'true';
    if (!res.destroyed) res.writeHead(out.status, headers).end(JSON.stringify(out.body, null, 2));
    console.log(`${rec.time} ${req.method} ${url.pathname}${url.search} -> ${out.status} ${Date.now() - t0}ms` +
      (control_ ? ' (control)' : ` idem=${rec.idempotency_key ?? '-'} ver=${rec.stripe_version ?? '-'}${rec.replayed ? ' replayed' : ''}${rec.injected ? ' injected' : ''}`));
  });
});
reset();
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  console.log(`stripe stand-in listening on http://${address}:${port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
