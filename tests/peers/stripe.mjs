#!/usr/bin/env node
// Stripe REST stand-in for xswarm-billing's integration tests (no Stripe on the network here).
//
//   node tests/peers/stripe.mjs --port P [--host 127.0.0.1] --key sk_test_... [--key ...]
//                               [--price price_x=4000 ...] [--account-version V] [--fixtures DIR]
//
// Plays the Stripe endpoints our C code calls as Stripe's API of today (the version the pinned `stripe`
// npm package speaks, '2026-10-28.endive'). Everything comes from Stripe's own documents, not from what
// our C code sends or reads (see README.md beside this file):
// - versions: Stripe-Version must be one of Stripe's API versions, the union `ApiVersion` of the installed
//   package's WebhookEndpoints.d.ts (else 400 "Invalid Stripe API version: X"); none = the account's default;
// - parameters: stripe-params.mjs, written from the package's `*Params` declarations (unknown -> 400
//   parameter_unknown, ill-typed -> parameter_invalid_integer / _string_empty / _empty, ...);
// - replies: objects built from Stripe's fixtures (tests/vendor/stripe/), moved to today's shapes as the
//   package's CHANGELOG says (parent/pricing, periods on subscription items), then given exactly the keys
//   the package's interfaces declare (Subscription, Invoice, InvoiceLineItem, InvoiceItem, ...).
// Idempotency as Stripe documents it: a request that began executing saves its answer (500 included) for
// its Idempotency-Key. Everything lives in memory; one log line per request on stdout. Control endpoints
// (no auth) under /__ : see README.md.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadStripeTypes, stripeApiVersions, stripePinnedVersion } from './dts.mjs';
import { PARAMS } from './stripe-params.mjs';

// ---------- CLI ----------
const opts = { host: '127.0.0.1', port: 0, keys: [], prices: [], fixtures: null, accountVersion: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === '--port') opts.port = Number(v), i++;
  else if (a === '--host') opts.host = v, i++;
  else if (a === '--key') opts.keys.push(v), i++;
  else if (a === '--price') opts.prices.push(v), i++;
  else if (a === '--fixtures' || a === '--specs') opts.fixtures = v, i++;
  else if (a === '--account-version') opts.accountVersion = v, i++;
  else { console.error(`stripe stand-in: unknown argument ${a}`); process.exit(2); }
}
if (!opts.keys.length) { console.error('usage: stripe.mjs --port P [--host H] --key SECRET [--price ID=CENTS] [--account-version V]'); process.exit(2); }
const fixDir = opts.fixtures || process.env.XSB_SPECS_DIR || fileURLToPath(new URL('../vendor/stripe/', import.meta.url));
const FIXTURES = JSON.parse(fs.readFileSync(`${fixDir}/fixtures3_2023-08-16.json`, 'utf8')).resources;
const VERSIONS = new Set(stripeApiVersions());
const ACCOUNT_VERSION = opts.accountVersion || stripePinnedVersion();
if (!VERSIONS.has(ACCOUNT_VERSION)) { console.error(`stripe stand-in: --account-version ${ACCOUNT_VERSION} is not a Stripe API version`); process.exit(2); }
const DTS = loadStripeTypes();

// ---------- helpers ----------
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const rid = (prefix, n = 24) => prefix + Array.from(crypto.randomBytes(n), (b) => ALNUM[b % 62]).join('');
const nowS = () => Math.floor(Date.now() / 1000);
const tmpl = (name) => structuredClone(FIXTURES[name]);
const int = (v) => (v === undefined || v === null || v === '' ? undefined : Number(v));
const bool = (v) => v === true || v === 'true';
const addMonth = (t) => { const d = new Date(t * 1000); d.setUTCMonth(d.getUTCMonth() + 1); return Math.floor(d / 1000); };
const list = (x) => (x === undefined || x === '' ? [] : Array.isArray(x) ? x : Object.values(x));

// An error answer in Stripe's form: {error: {type, code?, doc_url?, message, param?}} (request_log_url is
// added when answered). `extra` may override type.
class StripeError extends Error {
  constructor(status, message, extra = {}) { super(message); this.status = status; this.extra = extra; }
  get body() {
    const e = { type: 'invalid_request_error', ...this.extra, message: this.message };
    if (e.code && !e.doc_url) e.doc_url = `https://stripe.com/docs/error-codes/${e.code.replace(/_/g, '-')}`;
    return { error: e };
  }
}
const bad = (message, extra) => new StripeError(400, message, extra);

// Decimal amounts (cents, up to 12 places) as BigInt scaled by 1e12; rounding half away from zero,
// as Stripe documents (0.05 x 30 = 1.5 -> 2).
const SCALE = 10n ** 12n;
function parseDecimal(s, param) {
  const m = /^(-?)(\d+)(?:\.(\d{1,12}))?$/.exec(String(s));
  if (!m) throw bad(`Invalid decimal: ${s}`, { param });
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

// ---------- parameter checks (stripe-params.mjs) ----------
// Stripe's wording: unknown -> parameter_unknown; '' where no unset is possible -> parameter_invalid_string_empty
// (strings) or parameter_invalid_empty; a non-integer -> parameter_invalid_integer "Invalid integer: X".
function emptyError(param, isString) {
  return bad(`You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
    { code: isString ? 'parameter_invalid_string_empty' : 'parameter_invalid_empty', param });
}
function checkValue(v, spec, param) {
  if (v === '' && spec.t !== 'any') {
    if (spec.emptyable) return;
    throw emptyError(param, spec.t === 'string' || spec.t === 'enum');
  }
  switch (spec.t) {
    case 'any': return;
    case 'oneOf': {
      let last;
      for (const alt of spec.of) { try { return checkValue(v, alt, param); } catch (e) { last = e; } }
      throw last;
    }
    case 'hash': case 'metadata':
      if (typeof v !== 'object' || Array.isArray(v)) throw bad('Invalid hash', { param });
      if (spec.t === 'metadata') {
        for (const [k, x] of Object.entries(v)) if (typeof x === 'object') throw bad('Invalid hash', { param: `${param}[${k}]` });
        return;
      }
      return checkKeys(v, spec.keys, param);
    case 'array':
      if (!Array.isArray(v)) throw bad('Invalid array', { param });
      return v.forEach((x, i) => checkValue(x, spec.of, `${param}[${i}]`));
  }
  if (typeof v === 'object') throw bad(`Invalid ${spec.t === 'enum' ? 'string' : spec.t}: {...}`, { param });
  if (spec.t === 'integer' && !/^-?\d+$/.test(v)) throw bad(`Invalid integer: ${v}`, { code: 'parameter_invalid_integer', param });
  if (spec.t === 'number' && !/^-?\d+(\.\d+)?$/.test(v)) throw bad(`Invalid number: ${v}`, { param });
  if (spec.t === 'boolean' && v !== 'true' && v !== 'false') throw bad(`Invalid boolean: ${v}`, { param });
  if (spec.t === 'decimal') parseDecimal(v, param);
  if (spec.t === 'enum' && !spec.values.includes(v)) {
    const vs = spec.values.length > 1 ? `${spec.values.slice(0, -1).join(', ')}, or ${spec.values.at(-1)}` : spec.values[0];
    throw bad(`Invalid ${param.replace(/\[\d+\]/g, '[]')}: must be one of ${vs}`, { param });
  }
}
function checkKeys(obj, keys, param) {
  const name = (k) => (param ? `${param}[${k}]` : k);
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in keys)) throw bad(`Received unknown parameter: ${name(k)}`, { code: 'parameter_unknown', param: name(k) });
    checkValue(v, keys[k], name(k));
  }
  for (const [k, spec] of Object.entries(keys)) {
    if (spec.required && !(k in obj)) throw bad(`Missing required param: ${name(k)}.`, { code: 'parameter_missing', param: name(k) });
  }
}

// ---------- shapes of today (the package's interfaces) ----------
// object type -> [declaration file, interface]. Every object of these types leaves the stand-in with exactly
// the keys its interface declares: required ones always (null, or a neutral value where null is not allowed,
// when we do not model the field), optional ones when set; anything else (fields of 2023 our fixtures still
// carry, our own bookkeeping starting with `_`) is dropped.
const SHAPES = {
  customer: ['Customers.d.ts', 'Customer'], subscription: ['Subscriptions.d.ts', 'Subscription'],
  subscription_item: ['SubscriptionItems.d.ts', 'SubscriptionItem'], invoice: ['Invoices.d.ts', 'Invoice'],
  line_item: ['InvoiceLineItems.d.ts', 'InvoiceLineItem'], invoiceitem: ['InvoiceItems.d.ts', 'InvoiceItem'],
  'checkout.session': ['Checkout/Sessions.d.ts', 'Session'], price: ['Prices.d.ts', 'Price'], list: ['../lib.d.ts', 'ApiList'],
};
function neutral(leaves, depth) {
  if (leaves.some((l) => l.k === 'prim' && l.name === 'null')) return null;
  const l = leaves[0];
  if (!l) return null;
  if (l.k === 'array') return [];
  if (l.k === 'lit') return l.v;
  if (l.k === 'metadata') return {};
  if (l.k === 'decimal') return '0';
  if (l.k === 'prim') return { number: 0, boolean: false, string: '' }[l.name] ?? null;
  if (l.k === 'iface' && depth < 4) {
    const o = {};
    for (const [k, m] of l.members) if (!m.optional && k !== '[index]') o[k] = neutral(DTS.member(m), depth + 1);
    return o;
  }
  return null;
}
// v fit to the resolved type `leaves`: objects keep the keys their interface declares (recursively), get
// the required ones they lack, lose the others. Scalars and free-form maps pass unchanged.
function fit(v, leaves, depth = 0) {
  if (v === null || typeof v !== 'object' || depth > 12) return v;
  if (Array.isArray(v)) {
    const a = leaves.find((l) => l.k === 'array');
    return a ? v.map((x) => fit(x, DTS.arrayOf(a), depth + 1)) : v;
  }
  const objs = leaves.filter((l) => l.k === 'iface');
  if (!objs.length || leaves.some((l) => l.k === 'metadata')) return v;
  const it = objs.find((l) => { const o = l.members.get('object'); return o && DTS.member(o).some((x) => x.v === v.object); }) ?? objs[0];
  if (it.members.has('[index]')) return v;
  const out = {};
  for (const [k, m] of it.members) {
    if (k === 'deleted') continue;
    if (k in v && v[k] !== undefined) out[k] = fit(v[k], DTS.member(m), depth + 1);
    else if (!m.optional) out[k] = neutral(DTS.member(m), 0);
  }
  return out;
}
const ifaceOf = new Map();
// A copy of v fit to leave the stand-in (see SHAPES); our bookkeeping (keys starting with `_`) never leaves.
function present(v) {
  if (Array.isArray(v)) return v.map(present);
  if (!v || typeof v !== 'object') return v;
  const o = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('_')) o[k] = present(x);
  if (!SHAPES[o.object]) return o;
  if (!ifaceOf.has(o.object)) {
    const [file, name] = SHAPES[o.object];
    ifaceOf.set(o.object, DTS.iface(file.startsWith('../') ? file.slice(3) : `resources/${file}`, name));
  }
  return fit(o, [ifaceOf.get(o.object)]);
}

// ---------- state ----------
let S;
function reset() {
  S = { objects: new Map(), requests: [], idem: new Map(), fail: [], extras: new Map(), seq: 0, order: 0 };
  for (const p of opts.prices) { const [id, cents] = p.split('='); makePrice({ id, unit_amount: Number(cents) }); }
}
const put = (o) => (o._order = ++S.order, S.objects.set(o.id, o), o);
function get(id, type, param) {
  const o = typeof id === 'string' ? S.objects.get(id) : undefined;
  if (o && o.object === type) return o;
  throw new StripeError(param ? 400 : 404, `No such ${type}: '${id}'`, { code: 'resource_missing', param: param || 'id' });
}
const all = (type, pred) => [...S.objects.values()].filter((o) => o.object === type && pred(o));

// Stripe's list pagination: newest first unless `natural` (invoice lines keep their order); limit 1..100
// (default 10); starting_after / ending_before are object ids of the list.
function page(items, p, url, natural = false) {
  const data = natural ? items : [...items].sort((a, b) => b._order - a._order);
  const limit = p.limit === undefined ? 10 : Number(p.limit);
  if (limit < 1 || limit > 100) throw bad(`Invalid limit: must be between 1 and 100`, { param: 'limit' });
  let from = 0, to = data.length;
  if (p.starting_after !== undefined) {
    const i = data.findIndex((x) => x.id === p.starting_after);
    if (i < 0) throw bad(`No such object: '${p.starting_after}'`, { code: 'resource_missing', param: 'starting_after' });
    from = i + 1;
  } else if (p.ending_before !== undefined) {
    const i = data.findIndex((x) => x.id === p.ending_before);
    if (i < 0) throw bad(`No such object: '${p.ending_before}'`, { code: 'resource_missing', param: 'ending_before' });
    to = i; from = Math.max(0, i - limit);
  }
  const slice = data.slice(from, Math.min(to, from + limit));
  return { object: 'list', data: slice, has_more: p.ending_before !== undefined ? from > 0 : from + limit < to, url };
}

// ---------- object builders (fixtures moved to today's shapes) ----------
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
// Since 2025-03-31.basil the billing period lives on each subscription item, not on the subscription.
const period = (sub) => ({ a: sub.items.data[0]?.current_period_start ?? sub._start, b: sub.items.data[0]?.current_period_end ?? sub._end });
function makeSubItem(sub, price, quantity, start, end) {
  const it = tmpl('subscription_item');
  return Object.assign(it, { id: rid('si_'), created: nowS(), price, quantity, subscription: sub.id, metadata: {},
    current_period_start: start, current_period_end: end });
}
function makeSubscription(f) {
  const customer = S.objects.get(f.customer)?.object === 'customer' ? f.customer : makeCustomer({ id: f.customer }).id;
  const price = S.objects.get(f.price) || (f.unit_amount !== undefined ? makePrice({ id: f.price, unit_amount: f.unit_amount }) : null);
  if (!price) throw bad(`No such price: '${f.price}' (register it with --price, /__prices, or pass unit_amount)`, { code: 'resource_missing', param: 'price' });
  const s = tmpl('subscription'), start = int(f.current_period_start) ?? nowS(), end = int(f.current_period_end) ?? addMonth(start);
  const status = f.status || 'active';
  Object.assign(s, { id: f.id || rid('sub_'), customer, created: int(f.created) ?? start, start_date: int(f.created) ?? start, billing_cycle_anchor: start,
    status, metadata: f.metadata || {}, _start: start, _end: end,
    cancel_at_period_end: bool(f.cancel_at_period_end), cancel_at: bool(f.cancel_at_period_end) ? end : null, canceled_at: null, ended_at: null,
    trial_start: status === 'trialing' || f.trial_end ? int(f.trial_start) ?? start : null,
    trial_end: int(f.trial_end) ?? (status === 'trialing' ? end : null), latest_invoice: null, next_pending_invoice_item_invoice: null, currency: price.currency });
  s.items = { object: 'list', data: [], has_more: false, url: `/v1/subscription_items?subscription=${s.id}` };
  s.items.data.push(makeSubItem(s, price, Number(f.quantity ?? 1), start, end));
  return put(s);
}
function setPeriod(sub, start, end) {
  Object.assign(sub, { _start: start, _end: end });
  for (const it of sub.items.data) Object.assign(it, { current_period_start: start, current_period_end: end });
}
const money = (c) => `$${(c / 100).toFixed(2)}`;
const priceDetails = (price, unitDecimal) => ({ type: 'price_details', price_details: { price: price.id, product: price.product },
  unit_amount_decimal: unitDecimal ?? price.unit_amount_decimal });
// A line of an invoice from an invoice item (today: `parent` says where it comes from, `pricing` its price).
function lineFromItem(ii, invoiceId) {
  const l = tmpl('line_item'), sd = ii.parent?.subscription_details;
  const details = { invoice_item: ii.id, proration: ii.proration, proration_details: { credited_items: null }, subscription: sd?.subscription ?? null };
  return Object.assign(l, { id: rid('il_'), invoice: invoiceId, amount: ii.amount, subtotal: ii.amount, currency: ii.currency, description: ii.description,
    metadata: { ...ii.metadata }, period: { ...ii.period }, quantity: ii.quantity, quantity_decimal: ii.quantity_decimal, pricing: structuredClone(ii.pricing),
    subscription: sd?.subscription ?? null, discountable: ii.discountable,
    parent: sd?.subscription_item
      ? { type: 'subscription_item_details', invoice_item_details: null, subscription_item_details: { ...details, subscription_item: sd.subscription_item } }
      : { type: 'invoice_item_details', invoice_item_details: details, subscription_item_details: null } });
}
// A line for one subscription item over [start, end) (or a proration of it: amount given).
function lineFromSubItem(sub, item, start, end, invoiceId, pr = null) {
  const l = tmpl('line_item'), price = pr?.price ?? item.price, amount = pr ? pr.amount : price.unit_amount * item.quantity;
  return Object.assign(l, { id: rid('il_'), invoice: invoiceId, subscription: sub.id, amount, subtotal: amount, currency: price.currency,
    description: pr?.description ?? `${item.quantity} × ${price.nickname || price.product} (at ${money(price.unit_amount)} / ${price.recurring?.interval || 'month'})`,
    metadata: pr ? {} : { ...sub.metadata }, period: { start, end }, quantity: item.quantity, quantity_decimal: String(item.quantity),
    pricing: priceDetails(price),
    parent: { type: 'subscription_item_details', invoice_item_details: null, subscription_item_details: { invoice_item: null, proration: !!pr,
      proration_details: { credited_items: null }, subscription: sub.id, subscription_item: item.id } } });
}
function totals(inv) {
  const sum = inv.lines.data.reduce((a, l) => a + l.amount, 0);
  const paid = inv.status === 'paid' ? sum : 0;
  Object.assign(inv, { subtotal: sum, subtotal_excluding_tax: sum, total: sum, total_excluding_tax: sum, amount_due: Math.max(0, sum),
    amount_paid: paid, amount_remaining: Math.max(0, sum) - paid });
  return inv;
}
function invoiceShell(f) {
  const inv = tmpl('invoice');
  Object.assign(inv, { created: nowS(), customer: f.customer, status: f.status || 'draft',
    billing_reason: f.billing_reason || 'subscription_cycle', period_start: f.period_start, period_end: f.period_end,
    next_payment_attempt: f.next_payment_attempt ?? null, effective_at: null, due_date: null, webhooks_delivered_at: null, number: null,
    parent: f.sub ? { type: 'subscription_details', quote_details: null, subscription_details: { metadata: { ...f.sub.metadata }, subscription: f.sub.id } } : null,
    auto_advance: (f.status || 'draft') === 'draft',
    customer_email: S.objects.get(f.customer)?.email ?? null, customer_name: S.objects.get(f.customer)?.name ?? null });
  inv.lines = { object: 'list', data: [], has_more: false, url: null };
  return inv;
}
// Proration pair for a price change at time t (Stripe: credit unused time on the old price, charge remaining time on the new).
function prorations(sub, item, newPrice, t) {
  const { a, b } = period(sub);
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
  if (p.customer === undefined) throw bad('Missing required param: customer.', { code: 'parameter_missing', param: 'customer' });
  const cus = get(p.customer, 'customer', 'customer');
  const inv = p.invoice ? get(p.invoice, 'invoice', 'invoice') : null;
  if (inv && inv.status !== 'draft') throw bad(`You can only add invoice items to draft invoices. Invoice ${inv.id} is ${inv.status}.`, { param: 'invoice' });
  if (inv && inv.customer !== cus.id) throw bad(`The invoice ${inv.id} does not belong to customer ${cus.id}.`, { param: 'invoice' });
  const sub = p.subscription ? get(p.subscription, 'subscription', 'subscription') : null;
  const given = ['amount', 'unit_amount_decimal', 'pricing', 'price_data'].filter((k) => p[k] !== undefined);
  if (given.length !== 1) throw bad(`You must pass exactly one of: amount, unit_amount_decimal, pricing[price], price_data (got ${given.join(', ') || 'none'}).`);
  if (p.amount !== undefined && (p.quantity !== undefined || p.quantity_decimal !== undefined)) throw bad('You cannot pass `quantity` together with `amount`; use `unit_amount_decimal` instead.', { param: 'quantity' });
  if (p.quantity !== undefined && p.quantity_decimal !== undefined) throw bad('You may only specify one of these parameters: quantity, quantity_decimal.', { param: 'quantity_decimal' });
  let price = p.pricing?.price ? get(p.pricing.price, 'price', 'pricing[price]') : null;
  const pd = p.price_data;
  if (!price && !p.currency && !pd) throw bad('Missing required param: currency.', { code: 'parameter_missing', param: 'currency' });
  const qty = p.quantity_decimal !== undefined ? parseDecimal(p.quantity_decimal, 'quantity_decimal') : BigInt(p.quantity ?? 1) * SCALE;
  const unit = price ? parseDecimal(price.unit_amount_decimal)
    : parseDecimal(pd ? pd.unit_amount_decimal ?? pd.unit_amount : p.unit_amount_decimal ?? p.amount, 'unit_amount_decimal');
  const amount = roundScaled(qty * unit / SCALE), integral = unit % SCALE === 0n;
  if (!price) {
    price = put(Object.assign(tmpl('price'), { id: rid('price_'), created: nowS(), product: pd?.product ?? rid('prod_', 14), currency: pd?.currency ?? p.currency,
      recurring: null, type: 'one_time', unit_amount: integral ? Number(unit / SCALE) : null, unit_amount_decimal: decString(unit) }));
  }
  const now = nowS();
  const ii = makeInvoiceItem({ customer: cus.id, amount, currency: price.currency, description: p.description ?? null, metadata: mergeMeta({}, p.metadata),
    period: { start: int(p.period?.start) ?? now, end: int(p.period?.end) ?? now }, proration: false,
    quantity: Number(qty / SCALE), quantity_decimal: decString(qty), pricing: priceDetails(price, decString(unit)),
    parent: sub ? { type: 'subscription_details', subscription_details: { subscription: sub.id } } : null,
    discountable: p.discountable === undefined ? true : bool(p.discountable) });
  if (inv) { ii.invoice = inv.id; inv.lines.data.push(lineFromItem(ii, inv.id)); totals(inv); }
  return ii;
}
function updateSubscription(sub, p) {
  if (sub.status === 'canceled' && Object.keys(p).some((k) => !['metadata', 'cancellation_details', 'expand'].includes(k))) {
    throw bad('A canceled subscription can only update its cancellation_details and metadata.');
  }
  const t = int(p.proration_date) ?? nowS(), behavior = p.proration_behavior || 'create_prorations', { a, b } = period(sub);
  list(p.items).forEach((u, i) => {
    const item = u.id ? sub.items.data.find((x) => x.id === u.id) : null;
    if (u.id && !item) throw bad(`No such subscription_item: '${u.id}'`, { code: 'resource_missing', param: `items[${i}][id]` });
    if (item && bool(u.deleted)) { sub.items.data = sub.items.data.filter((x) => x !== item); return; }
    const price = u.price ? get(u.price, 'price', `items[${i}][price]`) : null;
    if (!item) { // Stripe adds a new item when no id is given
      if (!price) throw bad('Missing required param: items[' + i + '][price].', { code: 'parameter_missing', param: `items[${i}][price]` });
      sub.items.data.push(makeSubItem(sub, price, Number(u.quantity ?? 1), a, b));
      return;
    }
    if (price && price.id !== item.price.id && behavior !== 'none' && sub.status === 'active') {
      for (const pr of prorations(sub, item, price, t)) {
        makeInvoiceItem({ customer: sub.customer, proration: true, currency: pr.price.currency, amount: pr.amount, description: pr.description,
          metadata: {}, period: pr.period, quantity: 1, quantity_decimal: '1', pricing: priceDetails(pr.price, String(pr.amount)),
          parent: { type: 'subscription_details', subscription_details: { subscription: sub.id, subscription_item: item.id } } });
      }
    }
    if (price) item.price = price;
    if (u.quantity !== undefined) item.quantity = Number(u.quantity);
    if (u.metadata !== undefined) item.metadata = mergeMeta(item.metadata, u.metadata);
  });
  if (p.cancel_at_period_end !== undefined) {
    const c = bool(p.cancel_at_period_end);
    Object.assign(sub, { cancel_at_period_end: c, cancel_at: c ? b : null, canceled_at: c ? nowS() : null });
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
    client_reference_id: p.client_reference_id ?? null, metadata: mergeMeta({}, p.metadata), success_url: p.success_url ?? null, cancel_url: p.cancel_url ?? null,
    amount_subtotal: total, amount_total: total, currency: prices[0]?.price.currency ?? null, payment_intent: null, customer_details: null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, url: `https://checkout.stripe.com/c/pay/${id}` });
  S.extras.set(id, { prices, subscription_data: p.subscription_data || {} });
  return put(s);
}
// POST /v1/invoices/create_preview: the invoice the customer would get next: pending invoice items and the
// subscription's next period, or, with subscription_details, the invoice a change would produce now
// (prorations credit/charge the rest of the period, as Stripe's update would). A customer without a
// subscription (or one naming subscription_details[items] but no subscription) previews the subscription
// those items would create; one naming neither gets the next invoice among its subscriptions. The answer has an id
// prefixed `upcoming_in` (Invoice.id in the package's declarations) and is not stored.
function previewInvoice(p) {
  const d = p.subscription_details || {};
  if (p.customer === undefined && p.subscription === undefined) throw bad('Missing required param: customer.', { code: 'parameter_missing', param: 'customer' });
  const cus = p.customer !== undefined ? get(p.customer, 'customer', 'customer') : null;
  let sub = p.subscription !== undefined ? get(p.subscription, 'subscription', 'subscription') : null;
  if (sub && cus && sub.customer !== cus.id) throw bad(`The subscription ${sub.id} does not belong to customer ${cus.id}.`, { param: 'subscription' });
  const customer = cus?.id ?? sub.customer, now = nowS(), id = rid('upcoming_in_');
  // Neither subscription nor subscription_details[items]: the next invoice among the customer's subscriptions.
  if (!sub && !list(d.items).length) sub = all('subscription', (x) => x.customer === customer && x.status !== 'canceled').sort((x, y) => period(x).b - period(y).b)[0] ?? null;
  const pending = all('invoiceitem', (ii) => ii.customer === customer && !ii.invoice
    && (!ii.parent || ii.parent.subscription_details.subscription === sub?.id));
  const lines = pending.map((ii) => lineFromItem(ii, id));
  let ps = now, pe = now;
  if (sub && sub.status !== 'canceled') {
    const t = int(d.proration_date) ?? now, { a, b } = period(sub);
    const endAtPeriod = d.cancel_at_period_end !== undefined ? bool(d.cancel_at_period_end) : sub.cancel_at_period_end;
    const behavior = d.proration_behavior || 'create_prorations';
    const items = sub.items.data.map((it) => ({ ...it }));
    list(d.items).forEach((u, i) => {
      const it = u.id ? items.find((x) => x.id === u.id) : null;
      if (u.id && !it) throw bad(`No such subscription_item: '${u.id}'`, { code: 'resource_missing', param: `subscription_details[items][${i}][id]` });
      const price = u.price ? get(u.price, 'price', `subscription_details[items][${i}][price]`) : null;
      if (!it) { if (price) items.push({ id: rid('si_'), price, quantity: Number(u.quantity ?? 1) }); return; }
      if (price && price.id !== it.price.id && behavior !== 'none' && sub.status === 'active') {
        for (const pr of prorations(sub, it, price, t)) lines.push(lineFromSubItem(sub, it, pr.period.start, pr.period.end, id, pr));
      }
      if (price) it.price = price;
      if (u.quantity !== undefined) it.quantity = Number(u.quantity);
    });
    if (!endAtPeriod) for (const it of items) lines.push(lineFromSubItem(sub, it, b, addMonth(b), id));
    [ps, pe] = [a, b];
  } else if (!sub) { // a new subscription: its first period starts now
    list(d.items).forEach((u, i) => {
      if (!u.price) throw bad(`Missing required param: subscription_details[items][${i}][price].`, { code: 'parameter_missing', param: `subscription_details[items][${i}][price]` });
      const price = get(u.price, 'price', `subscription_details[items][${i}][price]`), start = int(d.start_date) ?? now;
      const shadow = { id: null, metadata: {} };
      const l = lineFromSubItem(shadow, { id: rid('si_'), price, quantity: Number(u.quantity ?? 1) }, start, addMonth(start), id);
      l.subscription = null; l.parent.subscription_item_details.subscription = null;
      lines.push(l);
    });
  }
  if (!lines.length) throw new StripeError(404, `No upcoming invoices for customer: ${customer}`, { code: 'invoice_upcoming_none' });
  const inv = invoiceShell({ customer, sub: sub && sub.status !== 'canceled' ? sub : null, status: 'draft', billing_reason: 'upcoming',
    period_start: ps, period_end: pe, next_payment_attempt: pe + 3600 });
  inv.id = id;
  if (inv.parent && d.proration_date !== undefined) inv.parent.subscription_details.subscription_proration_date = int(d.proration_date);
  inv.created = sub ? pe : now;
  inv.currency = lines[0].currency;
  inv.lines.data = lines;
  inv.lines.url = `/v1/invoices/${id}/lines`;
  return totals(inv);
}

// Routes: [method, path pattern (the key of PARAMS), handler(params, match)]
const routes = [
  ['POST', '/v1/customers', (p) => makeCustomer({ ...p, id: undefined })],
  ['GET', '/v1/customers/{id}', (p, m) => get(m[1], 'customer')],
  ['POST', '/v1/customers/{id}', (p, m) => {
    const c = get(m[1], 'customer');
    for (const k of ['email', 'name', 'phone', 'description']) if (p[k] !== undefined) c[k] = p[k] || null;
    c.metadata = mergeMeta(c.metadata, p.metadata);
    return c;
  }],
  ['POST', '/v1/checkout/sessions', createCheckoutSession],
  ['GET', '/v1/checkout/sessions/{id}', (p, m) => get(m[1], 'checkout.session')],
  ['GET', '/v1/subscriptions/{id}', (p, m) => get(m[1], 'subscription')],
  ['POST', '/v1/subscriptions/{id}', (p, m) => updateSubscription(get(m[1], 'subscription'), p)],
  ['DELETE', '/v1/subscriptions/{id}', (p, m) => {
    const s = get(m[1], 'subscription');
    if (s.status === 'canceled') throw new StripeError(404, `No such subscription: '${s.id}'`, { code: 'resource_missing', param: 'id' });
    const t = nowS();
    return Object.assign(s, { status: 'canceled', canceled_at: t, ended_at: t, cancellation_details: { ...s.cancellation_details, reason: 'cancellation_requested' } });
  }],
  ['POST', '/v1/invoiceitems', createInvoiceItem],
  ['GET', '/v1/invoiceitems', (p) => page(all('invoiceitem', (ii) => (p.customer === undefined || ii.customer === p.customer)
    && (p.invoice === undefined || ii.invoice === p.invoice) && (p.pending === undefined || (ii.invoice === null) === bool(p.pending))
    && createdIn(ii.date, p.created)), p, '/v1/invoiceitems')],
  ['GET', '/v1/invoiceitems/{id}', (p, m) => get(m[1], 'invoiceitem')],
  ['POST', '/v1/invoices/create_preview', previewInvoice],
  ['GET', '/v1/invoices/{id}', (p, m) => get(m[1], 'invoice')],
  ['GET', '/v1/invoices/{id}/lines', (p, m) => page(get(m[1], 'invoice').lines.data, p, `/v1/invoices/${m[1]}/lines`, true)],
].map(([method, pattern, fn]) => {
  if (!PARAMS[`${method} ${pattern}`]) throw new Error(`stripe-params.mjs has no row for ${method} ${pattern}`);
  return { method, pattern, re: new RegExp(`^${pattern.replace(/\{id\}/g, '([^/]+)')}$`), params: PARAMS[`${method} ${pattern}`].params, fn };
});
function createdIn(t, c) {
  if (c === undefined) return true;
  if (typeof c !== 'object') return t === Number(c);
  return (c.gt === undefined || t > Number(c.gt)) && (c.gte === undefined || t >= Number(c.gte))
    && (c.lt === undefined || t < Number(c.lt)) && (c.lte === undefined || t <= Number(c.lte));
}

// ---------- control endpoints (tests only, no auth) ----------
function control(method, path, body) {
  let j;
  try { j = body ? JSON.parse(body) : {}; } catch { throw bad('control endpoints take a JSON body'); }
  let m;
  if (method === 'GET' && path === '/__requests') return S.requests;
  if (method === 'POST' && path === '/__reset') { reset(); return { ok: true }; }
  if (method === 'POST' && path === '/__fail') {
    if (j.clear) S.fail = [];
    else {
      const when = j.when ?? 'before';
      if (!['before', 'after'].includes(when)) throw bad(`/__fail: when must be "before" or "after", not ${JSON.stringify(when)}`);
      S.fail.push({ count: Number(j.count ?? 1), status: j.status ?? (j.delay_ms ? null : 500), delay_ms: Number(j.delay_ms ?? 0),
        path_prefix: j.path_prefix || '/v1/', method: j.method || null, when });
    }
    return S.fail;
  }
  if (method === 'POST' && path === '/__prices') return makePrice(j);
  if (method === 'POST' && path === '/__customers') return makeCustomer(j);
  if (method === 'POST' && path === '/__subscriptions') {
    const cur = j.id && S.objects.get(j.id);
    if (!cur) return makeSubscription(j);
    const { a, b } = period(cur);
    if (j.current_period_start || j.current_period_end) setPeriod(cur, int(j.current_period_start) ?? a, int(j.current_period_end) ?? b);
    for (const k of ['status', 'trial_end', 'trial_start', 'metadata']) if (j[k] !== undefined) cur[k] = j[k];
    if (j.cancel_at_period_end !== undefined) Object.assign(cur, { cancel_at_period_end: bool(j.cancel_at_period_end), cancel_at: bool(j.cancel_at_period_end) ? period(cur).b : null });
    return cur;
  }
  if (method === 'POST' && path === '/__invoices') {
    const sub = j.subscription ? get(j.subscription, 'subscription', 'subscription') : null;
    const customer = j.customer || sub?.customer;
    get(customer, 'customer', 'customer');
    const ps = int(j.period_start) ?? (sub ? period(sub).a : nowS()), pe = int(j.period_end) ?? (sub ? period(sub).b : nowS());
    const inv = invoiceShell({ customer, sub, status: j.status, billing_reason: j.billing_reason, period_start: ps, period_end: pe,
      next_payment_attempt: j.status === 'paid' ? null : pe + 3600 });
    inv.id = j.id || rid('in_');
    if (inv.status !== 'draft') inv.number = `${S.objects.get(customer).invoice_prefix}-${String(++S.seq).padStart(4, '0')}`;
    if (sub && (j.billing_reason || 'subscription_cycle').startsWith('subscription')) {
      for (const it of sub.items.data) inv.lines.data.push(lineFromSubItem(sub, it, pe, addMonth(pe), inv.id));
      sub.latest_invoice = inv.id;
    }
    if (j.include_pending !== false) {
      for (const ii of all('invoiceitem', (x) => x.customer === customer && !x.invoice && (!x.parent || x.parent.subscription_details.subscription === sub?.id))) {
        ii.invoice = inv.id; inv.lines.data.push(lineFromItem(ii, inv.id));
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
const injectedError = (status) => new StripeError(status, status === 429 ? 'Request rate limit exceeded.' : 'An unknown error occurred (injected by the stand-in).',
  { type: status >= 500 ? 'api_error' : status === 402 ? 'card_error' : 'invalid_request_error', ...(status === 429 ? { code: 'rate_limit' } : {}) });
// Runs one /v1 request. Returns {status, body, replayed?, retry?}: `retry` is the Stripe-Should-Retry answer.
async function api(req, url, body, rec) {
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  if (!auth) throw new StripeError(401, "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
  const apiKey = auth[1];
  if (!opts.keys.includes(apiKey)) throw new StripeError(401, `Invalid API Key provided: ${apiKey.slice(0, 8)}********${apiKey.slice(-4)}`);
  // Stripe-Version: one of Stripe's versions; none means the account's default version (as at Stripe).
  const version = req.headers['stripe-version'];
  if (version !== undefined && !VERSIONS.has(version)) throw bad(`Invalid Stripe API version: ${version}`);
  rec.api_version = version ?? ACCOUNT_VERSION;
  let params = parseParams(url.search.slice(1));
  if (body.length) {
    const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    if (ct !== 'application/x-www-form-urlencoded') throw bad(`Invalid request: Content-Type must be application/x-www-form-urlencoded (got '${ct}')`);
    params = { ...params, ...parseParams(body.toString('utf8')) };
  }
  rec.form = params;
  // Fault injection (/__fail). when "before" (default): the request fails with `status` before the endpoint
  // runs: nothing happens, nothing is saved for its key (Stripe saves results only once execution began).
  // when "after": the endpoint runs (its objects are created and stay), then the answer is a `status` error,
  // saved for the key like any answer of a request that executed: a retry with the key replays it.
  // With delay_ms only: the request runs normally but slowly (its key is "in flight" meanwhile, so a retry
  // with the same key gets 409, then the saved result).
  const rule = S.fail.find((r) => r.count > 0 && url.pathname.startsWith(r.path_prefix) && (!r.method || r.method === req.method));
  if (rule) { rule.count--; rec.injected = true; rec.injected_when = rule.status ? rule.when : 'delay'; }
  const sleep = () => new Promise((r) => setTimeout(r, rule?.delay_ms || 0));
  if (rule?.status && rule.when === 'before') {
    await sleep();
    const e = injectedError(rule.status);
    e.retry = rule.status >= 500 || rule.status === 429;
    throw e;
  }
  const ik = req.headers['idempotency-key'];
  if (req.method === 'POST' && !ik) throw bad('missing Idempotency-Key');
  const route = routes.find((r) => r.method === req.method && r.re.test(url.pathname));
  if (!route) throw new StripeError(404, `Unrecognized request URL (${req.method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`);
  const slot = `${apiKey}\0${ik}`, fp = JSON.stringify([req.method, url.pathname, canon(params)]);
  if (req.method === 'POST') {
    const prev = S.idem.get(slot);
    if (prev && prev.fp !== fp) {
      throw new StripeError(400, `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${ik}' if you meant to execute a different request.`, { type: 'idempotency_error' });
    }
    if (prev?.inflight) {
      const e = new StripeError(409, `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${ik}. Please try again later.`, { type: 'idempotency_error', code: 'idempotency_key_in_use' });
      e.retry = true;
      throw e;
    }
    if (prev) return { ...prev.result, replayed: true };
  }
  checkKeys(params, route.params, ''); // a validation failure is not saved
  const run = () => {
    let result;
    try { result = { status: 200, body: present(route.fn(params, url.pathname.match(route.re))) }; }
    catch (e) { if (!(e instanceof StripeError)) throw e; result = { status: e.status, body: e.body, retry: false }; }
    if (rule?.status && rule.when === 'after') { const e = injectedError(rule.status); result = { status: e.status, body: e.body, retry: false }; }
    return result;
  };
  if (req.method !== 'POST') { await sleep(); return run(); }
  S.idem.set(slot, { fp, inflight: true });
  await sleep();
  let result;
  try { result = run(); } catch (e) { S.idem.delete(slot); throw e; }
  S.idem.set(slot, { fp, result }); // Stripe saves the outcome once the endpoint began executing, 4xx and 500 included
  return result;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const t0 = Date.now(), body = Buffer.concat(chunks), url = new URL(req.url, 'http://stand-in');
    const control_ = url.pathname.startsWith('/__'), requestId = rid('req_', 14);
    const rec = { method: req.method, path: url.pathname, query: url.search, headers: req.headers, idempotency_key: req.headers['idempotency-key'] ?? null,
      stripe_version: req.headers['stripe-version'] ?? null, api_version: null, form: null, time: new Date(t0).toISOString(), status: null, replayed: false,
      request_id: requestId };
    if (!control_) S.requests.push(rec);
    let out;
    try {
      out = control_ ? { status: 200, body: url.pathname === '/__requests' ? S.requests : present(control(req.method, url.pathname, body.toString('utf8'))) }
        : await api(req, url, body, rec);
    } catch (e) {
      if (e instanceof StripeError) out = { status: e.status, body: e.body, retry: e.retry ?? false };
      else { console.error(e); out = { status: 500, body: { error: { type: 'api_error', message: `stand-in bug: ${e.message}` } }, retry: false }; }
    }
    if (out.body?.error && !control_ && !out.replayed) out.body.error.request_log_url ??= `https://dashboard.stripe.com/test/logs/${requestId}?t=${Math.floor(t0 / 1000)}`;
    rec.status = out.status; rec.replayed = !!out.replayed;
    const headers = { 'content-type': 'application/json', 'request-id': requestId };
    if (!control_) headers['stripe-version'] = rec.api_version ?? ACCOUNT_VERSION;
    if (rec.idempotency_key && req.method === 'POST') headers['idempotency-key'] = rec.idempotency_key;
    if (out.replayed) headers['idempotent-replayed'] = 'true';
    if (!control_ && out.status >= 400) headers['stripe-should-retry'] = String(!!out.retry);
    if (!res.destroyed) res.writeHead(out.status, headers).end(JSON.stringify(out.body, null, 2));
    console.log(`${rec.time} ${req.method} ${url.pathname}${url.search} -> ${out.status} ${Date.now() - t0}ms` +
      (control_ ? ' (control)' : ` idem=${rec.idempotency_key ?? '-'} ver=${rec.stripe_version ?? '-'}${rec.replayed ? ' replayed' : ''}${rec.injected ? ` injected(${rec.injected_when})` : ''}`));
  });
});
reset();
// Resolve the interfaces once before serving (the first reply would otherwise pay about a second).
for (const t of ['customer', 'subscription', 'invoice', 'invoiceitem', 'checkout.session', 'line_item', 'subscription_item', 'price']) present(tmpl(t));
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  console.log(`stripe stand-in listening on http://${address}:${port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
