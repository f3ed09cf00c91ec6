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
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadStripeTypes, stripeApiVersions, stripePinnedVersion } from './dts.mjs';
import { PARAMS } from './stripe-params.mjs';

// ---------- CLI ----------
const opts = { host: '127.0.0.1', port: 0, keys: [], prices: [], fixtures: null, accountVersion: null,
  webhookUrl: null, webhookSecret: null, webhookCa: null, events: 'on', draftWindowMs: 3000 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === '--port') opts.port = Number(v), i++;
  else if (a === '--host') opts.host = v, i++;
  else if (a === '--key') opts.keys.push(v), i++;
  else if (a === '--price') opts.prices.push(v), i++;
  else if (a === '--fixtures' || a === '--specs') opts.fixtures = v, i++;
  else if (a === '--account-version') opts.accountVersion = v, i++;
  else if (a === '--webhook-url') opts.webhookUrl = v, i++;
  else if (a === '--webhook-secret') opts.webhookSecret = v, i++;
  else if (a === '--webhook-ca') opts.webhookCa = v, i++;
  else if (a === '--events') opts.events = v, i++;
  else if (a === '--draft-window-ms') opts.draftWindowMs = Number(v), i++;
  else { console.error(`stripe stand-in: unknown argument ${a}`); process.exit(2); }
}
if (!opts.keys.length) { console.error('usage: stripe.mjs --port P [--host H] --key SECRET [--price ID=CENTS] [--account-version V] [--webhook-url URL --webhook-secret whsec_.. [--webhook-ca PEM] [--events on|off] [--draft-window-ms MS]]'); process.exit(2); }
if (!['on', 'off'].includes(opts.events)) { console.error('stripe stand-in: --events must be on or off'); process.exit(2); }
if (opts.webhookUrl && !opts.webhookSecret) { console.error('stripe stand-in: --webhook-url needs --webhook-secret'); process.exit(2); }
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
  'test_helpers.test_clock': ['TestHelpers/TestClocks.d.ts', 'TestClock'],
  charge: ['Charges.d.ts', 'Charge'], refund: ['Refunds.d.ts', 'Refund'], dispute: ['Disputes.d.ts', 'Dispute'],
  invoice_payment: ['InvoicePayments.d.ts', 'InvoicePayment'],
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
  if (!SHAPES[o.object] || o.deleted === true) return o; // Deleted* objects: {id, object, deleted}
  if (!ifaceOf.has(o.object)) {
    const [file, name] = SHAPES[o.object];
    ifaceOf.set(o.object, DTS.iface(file.startsWith('../') ? file.slice(3) : `resources/${file}`, name));
  }
  return fit(o, [ifaceOf.get(o.object)]);
}

// ---------- state ----------
let S;
function reset() {
  S = { objects: new Map(), requests: [], idem: new Map(), fail: [], extras: new Map(), seq: 0, order: 0,
    events: [], deliveries: [], queue: [], pumping: false, jobs: 0, ctx: null, gen: (S?.gen ?? 0) + 1, hook: hookDefaults(), rand: null, delayRand: null, held: null,
    dunning: 'cancel' };
  for (const p of opts.prices) { const [id, cents] = p.split('='); makePrice({ id, unit_amount: Number(cents) }); }
}
const put = (o) => (o._order = ++S.order, S.objects.set(o.id, o), o);
function get(id, type, param) {
  const o = typeof id === 'string' ? S.objects.get(id) : undefined;
  if (o && o.object === type) return o;
  throw new StripeError(param ? 400 : 404, `No such ${type}: '${id}'`, { code: 'resource_missing', param: param || 'id' });
}
const all = (type, pred) => [...S.objects.values()].filter((o) => o.object === type && pred(o));

// ---------- time: test clocks ----------
// Objects of a customer attached to a test clock live in the clock's time (its frozen_time); all others in
// real time. `tnow(customer id)` is "now" for that customer.
const clockOf = (cusId) => { const c = typeof cusId === 'string' ? S.objects.get(cusId) : null; const k = c?.test_clock ? S.objects.get(c.test_clock) : null; return k || null; };
const tnow = (cusId) => clockOf(cusId)?.frozen_time ?? nowS();
const customerOf = (o) => (o.object === 'customer' ? o.id : typeof o.customer === 'string' ? o.customer : null);

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
  const clock = f.test_clock ? get(f.test_clock, 'test_helpers.test_clock', 'test_clock') : null;
  const pm = f.payment_method ?? f.invoice_settings?.default_payment_method ?? null;
  c.invoice_settings = { ...c.invoice_settings, default_payment_method: pm };
  Object.assign(c, { id: f.id || rid('cus_'), created: clock?.frozen_time ?? nowS(), test_clock: clock?.id ?? null, email: f.email ?? null, name: f.name ?? null, phone: f.phone ?? null,
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
  return Object.assign(it, { id: rid('si_'), created: tnow(sub.customer), price, quantity, subscription: sub.id, metadata: {},
    current_period_start: start, current_period_end: end });
}
function makeSubscription(f) {
  const customer = S.objects.get(f.customer)?.object === 'customer' ? f.customer : makeCustomer({ id: f.customer }).id;
  const price = S.objects.get(f.price) || (f.unit_amount !== undefined ? makePrice({ id: f.price, unit_amount: f.unit_amount }) : null);
  if (!price) throw bad(`No such price: '${f.price}' (register it with --price, /__prices, or pass unit_amount)`, { code: 'resource_missing', param: 'price' });
  const s = tmpl('subscription'), start = int(f.current_period_start) ?? tnow(customer), end = int(f.current_period_end) ?? addMonth(start);
  const status = f.status || 'active';
  Object.assign(s, { id: f.id || rid('sub_'), customer, created: int(f.created) ?? start, start_date: int(f.created) ?? start, billing_cycle_anchor: start,
    status, metadata: f.metadata || {}, _start: start, _end: end,
    cancel_at_period_end: bool(f.cancel_at_period_end), cancel_at: bool(f.cancel_at_period_end) ? end : null, canceled_at: null, ended_at: null,
    trial_start: status === 'trialing' || f.trial_end ? int(f.trial_start) ?? start : null,
    trial_end: int(f.trial_end) ?? (status === 'trialing' ? end : null), latest_invoice: null, test_clock: S.objects.get(customer).test_clock ?? null, next_pending_invoice_item_invoice: null, currency: price.currency });
  s.items = { object: 'list', data: [], has_more: false, url: `/v1/subscription_items?subscription=${s.id}` };
  s.items.data.push(makeSubItem(s, price, Number(f.quantity ?? 1), start, end));
  if (f.item_id) s.items.data[0].id = f.item_id;
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
  Object.assign(inv, { created: tnow(f.customer), customer: f.customer, test_clock: clockOf(f.customer)?.id ?? null, attempt_count: 0, attempted: false,
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null }, status: f.status || 'draft',
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
  return put(Object.assign(ii, { id: rid('ii_'), date: tnow(f.customer), invoice: null, test_clock: clockOf(f.customer)?.id ?? null, discountable: true, ...f }));
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
  const now = tnow(cus.id);
  const ii = makeInvoiceItem({ customer: cus.id, amount, currency: price.currency, description: p.description ?? null, metadata: mergeMeta({}, p.metadata),
    period: { start: int(p.period?.start) ?? now, end: int(p.period?.end) ?? now }, proration: false,
    quantity: Number(qty / SCALE), quantity_decimal: decString(qty), pricing: priceDetails(price, decString(unit)),
    parent: sub ? { type: 'subscription_details', subscription_details: { subscription: sub.id } } : null,
    discountable: p.discountable === undefined ? true : bool(p.discountable) });
  if (inv) { ii.invoice = inv.id; inv.lines.data.push(lineFromItem(ii, inv.id)); totals(inv); inv._touched = Date.now(); }
  emit('invoiceitem.created', ii);
  return ii;
}
function updateSubscription(sub, p) {
  if (sub.status === 'canceled' && Object.keys(p).some((k) => !['metadata', 'cancellation_details', 'expand'].includes(k))) {
    throw bad('A canceled subscription can only update its cancellation_details and metadata.');
  }
  const t = int(p.proration_date) ?? tnow(sub.customer), behavior = p.proration_behavior || 'create_prorations', { a, b } = period(sub);
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
        const pi = makeInvoiceItem({ customer: sub.customer, proration: true, currency: pr.price.currency, amount: pr.amount, description: pr.description,
          metadata: {}, period: pr.period, quantity: 1, quantity_decimal: '1', pricing: priceDetails(pr.price, String(pr.amount)),
          parent: { type: 'subscription_details', subscription_details: { subscription: sub.id, subscription_item: item.id } } });
        emit('invoiceitem.created', pi);
      }
    }
    if (price) item.price = price;
    if (u.quantity !== undefined) item.quantity = Number(u.quantity);
    if (u.metadata !== undefined) item.metadata = mergeMeta(item.metadata, u.metadata);
  });
  if (p.cancel_at_period_end !== undefined) {
    const c = bool(p.cancel_at_period_end);
    Object.assign(sub, { cancel_at_period_end: c, cancel_at: c ? b : null, canceled_at: c ? tnow(sub.customer) : null });
  }
  if (p.trial_end === 'now') Object.assign(sub, { trial_end: tnow(sub.customer), status: 'active' });
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
  const customer = cus?.id ?? sub.customer, now = tnow(customer), id = rid('upcoming_in_');
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

// ---------- events (what Stripe emits for each change) ----------
// Every change to an object, whether made through /v1 (by our programs), a control endpoint or a test clock,
// emits the event types Stripe emits for it: an Event (Events.d.ts, EventBase) in today's shape, its
// `api_version` the version the stand-in renders (the pinned package's), `created` in the object's time (its
// customer's test clock, else now), `request` naming the /v1 request that caused it (null for the clock's),
// `data.previous_attributes` for *.updated (the top-level keys that changed, with their old values).
const EVENT_VERSION = stripePinnedVersion();
function emit(type, obj, prev) {
  if (S.silent) return null;
  const data = { object: present(obj) };
  if (type === 'invoice.upcoming') delete data.object.id; // "will not have an invoice ID" (Events.d.ts, InvoiceUpcomingEvent)
  if (prev && Object.keys(prev).length) data.previous_attributes = prev;
  const ev = { id: rid('evt_'), object: 'event', api_version: EVENT_VERSION,
    created: obj.object === 'test_helpers.test_clock' ? obj.frozen_time : tnow(customerOf(obj)), data, livemode: false,
    pending_webhooks: S.hook.enabled && S.hook.url && wanted(type) ? 1 : 0,
    request: { id: S.ctx?.request_id ?? null, idempotency_key: S.ctx?.idempotency_key ?? null }, type };
  S.events.push(ev);
  if (S.hook.enabled && S.hook.url && wanted(type)) enqueue(ev);
  return ev;
}
// Whether the endpoint's enabled_events (Stripe's WebhookEndpoint.enabled_events: event types, or '*' for all)
// want an event of `type`.
const wanted = (type) => S.hook.enabled_events.includes('*') || S.hook.enabled_events.includes(type);
// The top-level keys of `before` (a presented copy) that differ in obj now, with their old values.
function diff(before, obj) {
  const after = present(obj), prev = {};
  for (const k of Object.keys(before)) if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) prev[k] = before[k];
  return prev;
}
// Emits `type` (an *.updated) for obj when anything changed since `before` (= present(obj) taken earlier).
function changed(type, obj, before) {
  const prev = diff(before, obj);
  if (Object.keys(prev).length) emit(type, obj, prev);
}

// ---------- webhook delivery ----------
// Events go to one endpoint (--webhook-url, signed with --webhook-secret as Stripe signs:
// Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 hex of "t.body">), asynchronously. First attempts leave in
// emission order, one at a time (so in order per object); an attempt answered non-2xx (or failing) is retried
// on Stripe's schedule (live mode: exponential back-off for up to three days), compressed: RETRY_S are
// Stripe seconds, divided by hook.retry_scale (default 3600: an hour of Stripe's takes a second). Retries do
// not hold up later events (as at Stripe, they then arrive out of order).
const RETRY_S = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 24 * 3600];
function hookDefaults() {
  return { enabled: opts.events === 'on' && !!opts.webhookUrl, url: opts.webhookUrl, secret: opts.webhookSecret, ca: opts.webhookCa,
    retry_scale: 3600, draft_window_ms: opts.draftWindowMs, chaos: null, upcoming_days: 3, enabled_events: ['*'] };
}
// A small seeded generator (mulberry32) for chaos, so a seed replays the same duplicates and reorderings.
function seeded(seed) {
  let a = Number(seed) >>> 0;
  return () => { a = (a + 0x6D2B79F5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function enqueue(ev) {
  const body = JSON.stringify(ev, null, 2);
  const mk = (dup) => ({ id: rid('whd_', 14), event: ev.id, type: ev.type, object: ev.data.object.id ?? null, duplicate: dup, state: 'pending',
    attempts: [], next_retry_at: null, _body: body });
  // Chaos is decided here, in emission order, so that a seed gives the same deliveries whatever the timing:
  // a duplicate follows its original; a reordered event is held back until the next one has been queued
  // (or 200 ms have passed).
  // Up to max_copies deliveries of one event (default 2): each further copy with probability `duplicate`.
  const d = mk(false), c = S.hook.chaos, held = S.held, dups = [];
  S.deliveries.push(d);
  while (c && 1 + dups.length < (c.max_copies ?? 2) && S.rand() < (c.duplicate ?? 0)) dups.push(mk(true));
  S.deliveries.push(...dups);
  S.held = null;
  if (!held && c && S.rand() < (c.reorder ?? 0)) {
    S.held = { items: [d, ...dups], timer: setTimeout(() => release(S.gen), 200) };
  } else {
    S.queue.push(d, ...dups);
  }
  if (held) { clearTimeout(held.timer); S.queue.push(...held.items); }
  pump();
}
function release(gen) {
  if (gen !== S.gen || !S.held) return;
  S.queue.push(...S.held.items);
  S.held = null;
  pump();
}
async function pump() {
  if (S.pumping) return;
  S.pumping = true;
  const gen = S.gen;
  while (S.queue.length && gen === S.gen) {
    const d = S.queue.shift(), c = S.hook.chaos;
    if (c?.delay_ms) await sleep(Math.floor(S.delayRand() * c.delay_ms));
    await attempt(d, gen);
  }
  if (gen === S.gen) S.pumping = false;
}
function postHook(body, sigHeader) {
  return new Promise((resolve, reject) => {
    const u = new URL(S.hook.url), mod = u.protocol === 'https:' ? https : http;
    let ca;
    if (S.hook.ca) { try { ca = fs.readFileSync(S.hook.ca); } catch (e) { return reject(new Error(`webhook CA ${S.hook.ca}: ${e.code}`)); } }
    const req = mod.request(u, { method: 'POST', ca, timeout: 10000, agent: false,
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        'stripe-signature': sigHeader, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (x) => chunks.push(x));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}
async function attempt(d, gen) {
  const t = nowS(), sig = crypto.createHmac('sha256', S.hook.secret).update(`${t}.${d._body}`, 'utf8').digest('hex');
  const a = { at: new Date().toISOString(), status: null, response: null, error: null, ms: 0 }, t0 = Date.now();
  d.attempts.push(a);
  d.state = 'sending';
  try { const r = await postHook(d._body, `t=${t},v1=${sig}`); a.status = r.status; a.response = r.body; }
  catch (e) { a.error = e.message; }
  a.ms = Date.now() - t0;
  if (gen !== S.gen) return;
  if (a.status >= 200 && a.status < 300) { d.state = 'delivered'; d.next_retry_at = null; return; }
  const wait = RETRY_S[d.attempts.length - 1];
  if (wait === undefined) { d.state = 'failed'; d.next_retry_at = null; return; }
  const ms = Math.round(wait * 1000 / S.hook.retry_scale);
  d.state = 'retrying'; d.next_retry_at = new Date(Date.now() + ms).toISOString();
  setTimeout(() => { if (gen === S.gen && S.hook.enabled) attempt(d, gen); }, ms);
}
// Resolves once no first attempt is queued or being sent and no test clock is advancing (retries aside),
// or after maxMs.
async function idle(maxMs = 30000, clocks = true) {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (!S.queue.length && !S.held && !S.pumping && !S.jobs && (!clocks || !all('test_helpers.test_clock', (k) => k.status === 'advancing').length)) return true;
    await sleep(20);
  }
  return false;
}

// ---------- billing: invoices, payments, renewals ----------
// Stripe's test payment methods: pm_card_visa (and other plain pm_card_<brand>) succeed; the ones that
// decline (pm_card_chargeCustomerFail: attaches, then every charge fails; pm_card_visa_chargeDeclined*) fail.
const pmFails = (pm) => /chargeCustomerFail|chargeDeclined/.test(pm || '');
// Failed automatic payments are retried at these days after the first failure (Stripe's default retry
// setting: up to 4 attempts); when the last fails, the subscription goes per S.dunning ('cancel': canceled,
// Stripe's default; 'unpaid'; 'past_due': left as it is).
const PAYMENT_RETRY_DAYS = [3, 5, 7];
const subOf = (inv) => (inv.parent?.subscription_details?.subscription ? S.objects.get(inv.parent.subscription_details.subscription) : null);
// A draft invoice of sub: its items over [lineStart, lineEnd) (billing in advance), the customer's pending
// invoice items swept in; invoice period [ps, pe) (the period that just ended, where Stripe puts usage).
function draftInvoice(sub, reason, ps, pe, lineStart, lineEnd, t) {
  const inv = invoiceShell({ customer: sub.customer, sub, status: 'draft', billing_reason: reason, period_start: ps, period_end: pe,
    next_payment_attempt: t + 3600 });
  inv.id = rid('in_');
  inv.created = t;
  for (const it of sub.items.data) inv.lines.data.push(lineFromSubItem(sub, it, lineStart, lineEnd, inv.id));
  for (const ii of all('invoiceitem', (x) => x.customer === sub.customer && !x.invoice && (!x.parent || x.parent.subscription_details.subscription === sub.id))) {
    ii.invoice = inv.id; inv.lines.data.push(lineFromItem(ii, inv.id));
  }
  inv.lines.url = `/v1/invoices/${inv.id}/lines`;
  inv.currency = sub.currency;
  inv._finalize_at = t + 3600; // Stripe leaves a subscription's draft open for about an hour
  inv._touched = Date.now();
  sub.latest_invoice = inv.id;
  return put(totals(inv));
}
function finalize(inv, t) {
  Object.assign(inv, { status: 'open', number: `${S.objects.get(inv.customer).invoice_prefix}-${String(++S.seq).padStart(4, '0')}`, effective_at: t,
    next_payment_attempt: t, due_date: null, hosted_invoice_url: `https://invoice.stripe.com/i/acct_standin/test_${inv.id.slice(3)}`,
    invoice_pdf: `https://pay.stripe.com/invoice/acct_standin/test_${inv.id.slice(3)}/pdf` });
  inv.status_transitions.finalized_at = t;
  delete inv._finalize_at;
  totals(inv);
  emit('invoice.finalized', inv);
}
// One payment attempt on an open invoice at time t with the customer's default payment method (or pm).
// Returns true when paid.
function payInvoice(inv, t, pm, outOfBand = false) {
  const cus = S.objects.get(inv.customer), sub = subOf(inv);
  pm ??= cus?.invoice_settings?.default_payment_method || 'pm_card_visa';
  if (inv.amount_due > 0 && !outOfBand) { inv.attempt_count += 1; inv.attempted = true; }
  const charged = inv.amount_due > 0 && !outOfBand;
  if (inv.amount_due === 0 || outOfBand || !pmFails(pm)) {
    if (charged) emit('charge.succeeded', makeCharge(inv, pm, t, true));
    Object.assign(inv, { status: 'paid', next_payment_attempt: null, auto_advance: false, paid_out_of_band: outOfBand });
    inv.status_transitions.paid_at = t;
    totals(inv);
    emit('invoice.paid', inv);
    emit('invoice.payment_succeeded', inv);
    if (sub && ['past_due', 'unpaid'].includes(sub.status)
      && !all('invoice', (x) => x !== inv && x.status === 'open' && subOf(x) === sub && x.amount_remaining > 0).length) {
      const before = present(sub);
      sub.status = 'active';
      changed('customer.subscription.updated', sub, before);
    }
    return true;
  }
  inv._first_fail ??= t;
  emit('charge.failed', makeCharge(inv, pm, t, false));
  const days = PAYMENT_RETRY_DAYS[inv.attempt_count - 1];
  inv.next_payment_attempt = days === undefined ? null : inv._first_fail + days * 86400;
  emit('invoice.payment_failed', inv);
  if (sub && ['active', 'trialing'].includes(sub.status)) {
    const before = present(sub);
    sub.status = 'past_due';
    changed('customer.subscription.updated', sub, before);
  }
  if (inv.next_payment_attempt === null && sub && !['canceled', 'incomplete_expired'].includes(sub.status)) {
    inv.auto_advance = false;
    if (S.dunning === 'cancel') endSubscription(sub, t, 'payment_failed');
    else if (S.dunning === 'unpaid') { const before = present(sub); sub.status = 'unpaid'; changed('customer.subscription.updated', sub, before); }
  }
  return false;
}
// ---------- charges, refunds, disputes ----------
// The charge of one payment attempt on inv at t with pm (charge.succeeded / charge.failed). Today's Charge
// names no invoice: the invoice names its payments (Invoice.payments, given when expanded: an InvoicePayment
// whose payment is {type: 'charge', charge}). PaymentIntents are not modelled (payment_intent null).
function makeCharge(inv, pm, t, ok) {
  const ch = tmpl('charge'), id = rid('ch_');
  Object.assign(ch, { id, created: t, amount: inv.amount_due, amount_captured: ok ? inv.amount_due : 0, amount_refunded: 0, captured: ok, paid: ok,
    currency: inv.currency, customer: inv.customer, description: `Payment for Invoice ${inv.number ?? inv.id}`, disputed: false, refunded: false,
    failure_code: ok ? null : 'card_declined', failure_message: ok ? null : 'Your card was declined.', status: ok ? 'succeeded' : 'failed',
    payment_intent: null, payment_method: pm, metadata: {}, balance_transaction: null, receipt_url: null, receipt_email: S.objects.get(inv.customer)?.email ?? null,
    outcome: { advice_code: null, network_advice_code: null, network_decline_code: null, network_status: ok ? 'approved_by_network' : 'declined_by_network',
      reason: ok ? null : 'generic_decline', risk_level: 'normal', seller_message: ok ? 'Payment complete.' : 'The bank did not return any further details with this decline.',
      type: ok ? 'authorized' : 'issuer_declined' } });
  delete ch.refunds; // "not included by default": expand[]=refunds
  ch._refunds = [];
  ch._invoice = inv.id;
  if (ok) {
    inv._payments ??= [];
    inv._payments.push({ id: rid('inpay_'), object: 'invoice_payment', amount_paid: inv.amount_due, amount_requested: inv.amount_due, created: t, currency: inv.currency,
      invoice: inv.id, is_default: true, livemode: false, payment: { type: 'charge', charge: id }, status: 'paid', status_transitions: { canceled_at: null, paid_at: t } });
  }
  return put(ch);
}
// POST /v1/refunds: refunds `amount` (default: what is left) of a charge: refund.created and charge.refunded.
function createRefund(p) {
  if (p.charge === undefined && p.payment_intent === undefined) throw bad('One of charge or payment_intent is required.', { code: 'parameter_missing', param: 'charge' });
  if (p.charge === undefined) throw bad(`No such payment_intent: '${p.payment_intent}'`, { code: 'resource_missing', param: 'payment_intent' });
  const ch = get(p.charge, 'charge', 'charge'), left = ch.amount_captured - ch.amount_refunded;
  if (ch.status !== 'succeeded') throw bad(`Charge ${ch.id} has not been captured, so it cannot be refunded.`, { param: 'charge' });
  if (ch.disputed && S.objects.get(ch._dispute)?.status?.match(/needs_response|under_review/)) throw bad(`Charge ${ch.id} has been charged back; cannot issue a refund.`, { code: 'charge_disputed', param: 'charge' });
  if (left === 0) throw bad(`Charge ${ch.id} has already been refunded.`, { code: 'charge_already_refunded', param: 'charge' });
  const amount = p.amount === undefined ? left : Number(p.amount);
  if (amount <= 0) throw bad('Invalid positive integer', { param: 'amount' });
  if (amount > left) throw bad(`Refund amount (${money(amount)}) is greater than unrefunded amount on charge (${money(left)})`, { param: 'amount' });
  const t = tnow(ch.customer), re = tmpl('refund');
  Object.assign(re, { id: rid('re_'), amount, charge: ch.id, created: t, currency: ch.currency, customer: ch.customer, metadata: mergeMeta({}, p.metadata),
    payment_intent: null, payment_method: ch.payment_method, reason: p.reason ?? null, status: 'succeeded', balance_transaction: null, receipt_number: null });
  put(re);
  const before = present(ch);
  ch.amount_refunded += amount;
  ch.refunded = ch.amount_refunded === ch.amount_captured;
  ch._refunds.unshift(re);
  emit('charge.refunded', ch, diff(before, ch));
  emit('refund.created', re);
  return re;
}
// POST /__disputes {charge, amount?, reason?}: the cardholder disputes a charge (charge.dispute.created);
// POST /__disputes/:id/close {status: won|lost} ends it (charge.dispute.closed).
function openDispute(j) {
  const ch = get(j.charge, 'charge', 'charge');
  if (ch.status !== 'succeeded') throw bad(`Charge ${ch.id} did not succeed: nothing to dispute.`);
  if (ch.disputed) throw bad(`Charge ${ch.id} is already disputed.`);
  const t = tnow(ch.customer), du = tmpl('dispute');
  Object.assign(du, { id: rid('du_'), amount: Number(j.amount ?? ch.amount_captured - ch.amount_refunded), charge: ch.id, created: t, currency: ch.currency,
    reason: j.reason ?? 'fraudulent', status: 'needs_response', is_charge_refundable: false, metadata: {}, payment_intent: null, balance_transactions: [],
    evidence_details: { due_by: t + 7 * 86400, enhanced_eligibility: {}, has_evidence: false, past_due: false, submission_count: 0 } });
  put(du);
  ch.disputed = true;
  ch._dispute = du.id;
  emit('charge.dispute.created', du);
  return du;
}
function closeDispute(du, j) {
  if (!['won', 'lost'].includes(j.status)) throw bad('/__disputes/:id/close takes {"status":"won"} or {"status":"lost"}');
  if (['won', 'lost'].includes(du.status)) throw bad(`Dispute ${du.id} is already closed (${du.status}).`);
  du.status = j.status;
  emit('charge.dispute.closed', du);
  return du;
}

function endSubscription(sub, t, reason) {
  Object.assign(sub, { status: 'canceled', canceled_at: sub.canceled_at ?? t, ended_at: t, cancel_at_period_end: sub.cancel_at_period_end,
    cancellation_details: { ...sub.cancellation_details, reason } });
  emit('customer.subscription.deleted', sub);
}
// The period of sub ends at t (its clock reached it): cancel_at_period_end ends it; otherwise a trial ends or
// the period renews: the period moves on, a draft invoice bills the new period and sweeps pending items. An
// `unpaid` subscription keeps renewing, but its draft is neither finalized nor attempted (auto_advance false),
// as Stripe does ("payments aren't attempted; invoices continue to be generated and remain in draft").
function renew(sub) {
  const { a, b } = period(sub);
  if (sub.cancel_at_period_end) return endSubscription(sub, b, 'cancellation_requested');
  const before = present(sub), end = addMonth(b);
  setPeriod(sub, b, end);
  if (sub.status === 'trialing') sub.status = 'active';
  const inv = draftInvoice(sub, 'subscription_cycle', a, b, b, end, b);
  if (sub.status === 'unpaid') { // Stripe: "invoices continue to be generated each billing cycle and remain in draft state"
    Object.assign(inv, { auto_advance: false, next_payment_attempt: null });
    delete inv._finalize_at;
  }
  changed('customer.subscription.updated', sub, before);
  emit('invoice.created', inv);
}
const RENEWING = ['active', 'trialing', 'past_due', 'unpaid'];
// The next thing due on a clock's customers at or before `target`: {t, run, window?} or null.
function nextDue(clock, target) {
  const cus = new Set(all('customer', (c) => c.test_clock === clock.id).map((c) => c.id));
  const due = [];
  for (const s of all('subscription', (x) => cus.has(x.customer) && RENEWING.includes(x.status))) {
    const { b } = period(s);
    if (s.status === 'trialing' && s.trial_end && !s._trial_will_end && s.trial_end - 3 * 86400 <= target && s.trial_end - 3 * 86400 > s.created) {
      due.push({ t: s.trial_end - 3 * 86400, run: () => { s._trial_will_end = true; emit('customer.subscription.trial_will_end', s); } });
    }
    const up = b - S.hook.upcoming_days * 86400;
    if (S.hook.upcoming_days > 0 && !s.cancel_at_period_end && s._upcoming !== b && up <= target && up > s.created && up < b) {
      due.push({ t: up, run: () => { s._upcoming = b; emit('invoice.upcoming', previewInvoice({ subscription: s.id })); } });
    }
    if (b <= target) due.push({ t: b, run: () => renew(s) });
  }
  for (const inv of all('invoice', (x) => cus.has(x.customer))) {
    if (inv.status === 'draft' && inv._finalize_at !== undefined && inv._finalize_at <= target) {
      due.push({ t: inv._finalize_at, window: inv, run: () => { finalize(inv, inv.effective_at ?? clock.frozen_time); if (inv.collection_method !== 'send_invoice') payInvoice(inv, clock.frozen_time); } });
    } else if (inv.status === 'open' && inv.auto_advance && inv.next_payment_attempt !== null && inv.next_payment_attempt <= target) {
      due.push({ t: inv.next_payment_attempt, run: () => payInvoice(inv, inv.next_payment_attempt) });
    }
  }
  due.sort((x, y) => x.t - y.t);
  return due[0] ?? null;
}
// Advances a clock to target, step by step: each step's events are delivered before the next step runs; a
// draft invoice stays open `hook.draft_window_ms` of real time after its invoice.created was delivered (and
// as long as items keep arriving, up to 10 windows), so that what our worker adds on invoice.created is on it.
async function advanceClock(clock, target, gen) {
  try {
    for (;;) {
      const step = nextDue(clock, target);
      if (!step || gen !== S.gen) break;
      if (step.window) {
        await idle(30000, false);
        const start = Date.now(), w = S.hook.draft_window_ms;
        await sleep(w);
        while (Date.now() - step.window._touched < w / 2 && Date.now() - start < 10 * w) await sleep(Math.max(20, w / 4));
        if (gen !== S.gen) break;
      }
      clock.frozen_time = Math.max(clock.frozen_time, step.t);
      step.run();
      await idle(30000, false);
    }
    if (gen !== S.gen) return;
    Object.assign(clock, { frozen_time: target, status: 'ready', status_details: {} });
    emit('test_helpers.test_clock.ready', clock);
  } catch (e) {
    console.error(e);
    Object.assign(clock, { status: 'internal_failure', status_details: {} });
    emit('test_helpers.test_clock.internal_failure', clock);
  }
}
function createClock(p) {
  const cus = p.customer !== undefined ? get(p.customer, 'customer', 'customer') : null;
  if (cus?.test_clock) throw bad(`Customer ${cus.id} is already attached to test clock ${cus.test_clock}.`, { param: 'customer' });
  const k = put({ id: rid('clock_'), object: 'test_helpers.test_clock', created: nowS(), deletes_after: nowS() + 30 * 86400,
    frozen_time: int(p.frozen_time), livemode: false, name: p.name ?? null, status: 'ready', status_details: {} });
  if (cus) {
    cus.test_clock = k.id;
    for (const s of all('subscription', (x) => x.customer === cus.id)) s.test_clock = k.id;
    for (const x of all('invoice', (i) => i.customer === cus.id)) x.test_clock = k.id;
    for (const x of all('invoiceitem', (i) => i.customer === cus.id)) x.test_clock = k.id;
  }
  emit('test_helpers.test_clock.created', k);
  return k;
}
// Stripe's limit on an advance (TestClockAdvanceParams.frozen_time): "Cannot be more than two intervals in the
// future from the shortest subscription in this test clock. If there are no subscriptions in this test clock,
// it cannot be more than two years in the future." Counted from the clock's frozen_time, over the subscriptions
// that can still renew; an interval is the price's recurring interval x interval_count.
const addInterval = (t, unit, n) => {
  const d = new Date(t * 1000);
  if (unit === 'day') d.setUTCDate(d.getUTCDate() + n);
  else if (unit === 'week') d.setUTCDate(d.getUTCDate() + 7 * n);
  else if (unit === 'month') d.setUTCMonth(d.getUTCMonth() + n);
  else d.setUTCFullYear(d.getUTCFullYear() + n);
  return Math.floor(d / 1000);
};
function advanceLimit(k) {
  const cus = new Set(all('customer', (c) => c.test_clock === k.id).map((c) => c.id));
  let best = null;
  for (const s of all('subscription', (x) => cus.has(x.customer) && RENEWING.includes(x.status))) {
    for (const it of s.items.data) {
      const r = it.price.recurring || { interval: 'month', interval_count: 1 }, n = 2 * (r.interval_count || 1);
      const t = addInterval(k.frozen_time, r.interval, n);
      if (!best || t < best.t) best = { t, what: `${n} ${r.interval}${n > 1 ? 's' : ''}` };
    }
  }
  return best ?? { t: addInterval(k.frozen_time, 'year', 2), what: 'no subscription: 2 years' };
}
function advance(k, p) {
  const target = int(p.frozen_time);
  if (k.status === 'advancing') throw bad(`The test clock ${k.id} is currently advancing; wait until it is ready.`, { code: 'test_clock_advancing' });
  if (target <= k.frozen_time) throw bad(`The frozen_time (${target}) must be after the test clock's current frozen_time (${k.frozen_time}).`, { param: 'frozen_time' });
  const limit = advanceLimit(k);
  if (target > limit.t) {
    throw bad(`Cannot advance the test clock ${k.id} to ${target}: frozen_time cannot be more than two intervals (${limit.what}) in the future from the shortest subscription on this test clock, at most ${limit.t}.`, { param: 'frozen_time' });
  }
  Object.assign(k, { status: 'advancing', status_details: { advancing: { target_frozen_time: target } } });
  emit('test_helpers.test_clock.advancing', k);
  setImmediate(() => advanceClock(k, target, S.gen));
  return k;
}
// Deleting a clock deletes it and the objects of its customers, as Stripe does.
function deleteClock(k) {
  const cus = new Set(all('customer', (c) => c.test_clock === k.id).map((c) => c.id));
  for (const [id, o] of S.objects) if (cus.has(id) || (cus.has(o.customer) && o.object !== 'price')) S.objects.delete(id);
  S.objects.delete(k.id);
  emit('test_helpers.test_clock.deleted', k);
  return { id: k.id, object: 'test_helpers.test_clock', deleted: true };
}
// POST /v1/invoices/:id/pay: a draft is finalized first; then one attempt (payment_method overrides the
// default; paid_out_of_band marks it paid without a charge). A decline is 402 card_declined, as at Stripe.
function payRoute(p, m) {
  const inv = get(m[1], 'invoice');
  const t = tnow(inv.customer);
  if (inv.status === 'draft') finalize(inv, t);
  if (inv.status !== 'open') throw bad(`Invoice is already ${inv.status}.`, { code: 'invoice_not_open' });
  if (!payInvoice(inv, t, p.payment_method, bool(p.paid_out_of_band))) {
    throw new StripeError(402, 'Your card was declined.', { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' });
  }
  return inv;
}

// POST /v1/invoices: a one-off invoice (billing_reason `manual`), a draft in the customer's time (its test clock's).
// pending_invoice_items_behavior (Stripe's default today: `exclude`) `include` sweeps in the customer's pending
// invoice items (with `subscription`: only that subscription's, as Stripe documents). auto_advance (default
// false) lets Stripe finalize it about an hour later (automatically_finalizes_at) and then collect it.
function createInvoice(p) {
  const sub = p.subscription !== undefined ? get(p.subscription, 'subscription', 'subscription') : null;
  if (p.customer === undefined && !sub) throw bad('Missing required param: customer.', { code: 'parameter_missing', param: 'customer' });
  const cus = p.customer !== undefined ? get(p.customer, 'customer', 'customer') : S.objects.get(sub.customer);
  if (sub && sub.customer !== cus.id) throw bad(`The subscription ${sub.id} does not belong to customer ${cus.id}.`, { param: 'subscription' });
  const method = p.collection_method || 'charge_automatically';
  if (p.days_until_due !== undefined && method !== 'send_invoice') throw bad('Invoices with `collection_method=charge_automatically` cannot have `days_until_due`.', { param: 'days_until_due' });
  const t = tnow(cus.id), auto = bool(p.auto_advance);
  const inv = invoiceShell({ customer: cus.id, sub, status: 'draft', billing_reason: 'manual', period_start: t, period_end: t, next_payment_attempt: null });
  inv.id = rid('in_');
  Object.assign(inv, { created: t, auto_advance: auto, collection_method: method, description: p.description ?? null, metadata: mergeMeta({}, p.metadata),
    currency: p.currency ?? sub?.currency ?? 'usd', automatically_finalizes_at: auto ? int(p.automatically_finalizes_at) ?? t + 3600 : null,
    days_until_due: int(p.days_until_due) ?? null });
  if ((p.pending_invoice_items_behavior || 'exclude') === 'include') {
    for (const ii of all('invoiceitem', (x) => x.customer === cus.id && !x.invoice && (!sub || x.parent?.subscription_details?.subscription === sub.id))) {
      ii.invoice = inv.id; inv.lines.data.push(lineFromItem(ii, inv.id));
    }
  }
  if (auto) inv._finalize_at = inv.automatically_finalizes_at;
  inv.lines.url = `/v1/invoices/${inv.id}/lines`;
  inv._touched = Date.now();
  put(totals(inv));
  emit('invoice.created', inv);
  return inv;
}
// POST /v1/invoices/:id/finalize: draft -> open (invoice.finalized). With auto_advance (the parameter, else the
// invoice's) and charge_automatically, Stripe then attempts the payment with the customer's default card, after
// the answer (which shows the invoice open): invoice.paid + invoice.payment_succeeded, or invoice.payment_failed
// and Stripe's retry schedule (3, 5, 7 days after the first failure; on a test clock, as it advances).
function finalizeRoute(p, m) {
  const inv = get(m[1], 'invoice');
  if (inv.status !== 'draft') throw bad(`This invoice is already finalized, you can't re-finalize a non-draft invoice.`, { code: 'invoice_not_editable' });
  if (p.auto_advance !== undefined) inv.auto_advance = bool(p.auto_advance);
  finalize(inv, tnow(inv.customer));
  if (inv.auto_advance && inv.collection_method !== 'send_invoice') {
    const gen = S.gen;
    S.jobs++;
    setImmediate(() => {
      S.jobs--;
      if (gen === S.gen && inv.status === 'open' && inv.attempt_count === 0) payInvoice(inv, tnow(inv.customer));
    });
  } else inv.next_payment_attempt = null;
  return inv;
}

// Routes: [method, path pattern (the key of PARAMS), handler(params, match)]
const routes = [
  ['POST', '/v1/customers', (p) => { const c = makeCustomer({ ...p, id: undefined }); emit('customer.created', c); return c; }],
  ['GET', '/v1/customers/{id}', (p, m) => get(m[1], 'customer')],
  ['POST', '/v1/customers/{id}', (p, m) => {
    const c = get(m[1], 'customer'), before = present(c);
    for (const k of ['email', 'name', 'phone', 'description']) if (p[k] !== undefined) c[k] = p[k] || null;
    c.metadata = mergeMeta(c.metadata, p.metadata);
    if (p.invoice_settings?.default_payment_method !== undefined) c.invoice_settings.default_payment_method = p.invoice_settings.default_payment_method || null;
    changed('customer.updated', c, before);
    return c;
  }],
  ['POST', '/v1/checkout/sessions', createCheckoutSession],
  ['GET', '/v1/checkout/sessions/{id}', (p, m) => get(m[1], 'checkout.session')],
  ['GET', '/v1/subscriptions/{id}', (p, m) => get(m[1], 'subscription')],
  ['POST', '/v1/subscriptions/{id}', (p, m) => {
    const s = get(m[1], 'subscription'), before = present(s);
    updateSubscription(s, p);
    changed('customer.subscription.updated', s, before);
    return s;
  }],
  ['DELETE', '/v1/subscriptions/{id}', (p, m) => {
    const s = get(m[1], 'subscription');
    if (s.status === 'canceled') throw new StripeError(404, `No such subscription: '${s.id}'`, { code: 'resource_missing', param: 'id' });
    endSubscription(s, tnow(s.customer), 'cancellation_requested');
    return s;
  }],
  ['POST', '/v1/invoiceitems', createInvoiceItem],
  ['GET', '/v1/invoiceitems', (p) => page(all('invoiceitem', (ii) => (p.customer === undefined || ii.customer === p.customer)
    && (p.invoice === undefined || ii.invoice === p.invoice) && (p.pending === undefined || (ii.invoice === null) === bool(p.pending))
    && createdIn(ii.date, p.created)), p, '/v1/invoiceitems')],
  ['GET', '/v1/invoiceitems/{id}', (p, m) => get(m[1], 'invoiceitem')],
  ['POST', '/v1/invoices/create_preview', previewInvoice],
  ['GET', '/v1/invoices/{id}', (p, m) => {
    const inv = get(m[1], 'invoice');
    if (!list(p.expand).includes('payments')) return inv; // "not included by default": expand[]=payments
    return { ...inv, payments: { object: 'list', data: inv._payments ?? [], has_more: false, url: `/v1/invoice_payments?invoice=${inv.id}` } };
  }],
  ['GET', '/v1/invoices', (p) => page(all('invoice', (i) => (p.customer === undefined || i.customer === p.customer)
    && (p.subscription === undefined || subOf(i)?.id === p.subscription) && (p.status === undefined || i.status === p.status)
    && (p.collection_method === undefined || i.collection_method === p.collection_method) && createdIn(i.created, p.created)), p, '/v1/invoices')],
  ['POST', '/v1/invoices/{id}/pay', payRoute],
  ['POST', '/v1/invoices', createInvoice],
  ['POST', '/v1/invoices/{id}/finalize', finalizeRoute],
  ['POST', '/v1/test_helpers/test_clocks', createClock],
  ['GET', '/v1/test_helpers/test_clocks', (p) => page(all('test_helpers.test_clock', () => true), p, '/v1/test_helpers/test_clocks')],
  ['GET', '/v1/test_helpers/test_clocks/{id}', (p, m) => get(m[1], 'test_helpers.test_clock')],
  ['DELETE', '/v1/test_helpers/test_clocks/{id}', (p, m) => deleteClock(get(m[1], 'test_helpers.test_clock'))],
  ['POST', '/v1/test_helpers/test_clocks/{id}/advance', (p, m) => advance(get(m[1], 'test_helpers.test_clock'), p)],
  ['GET', '/v1/invoices/{id}/lines', (p, m) => page(get(m[1], 'invoice').lines.data, p, `/v1/invoices/${m[1]}/lines`, true)],
  ['GET', '/v1/charges', (p) => page(all('charge', (c) => (p.customer === undefined || c.customer === p.customer) && createdIn(c.created, p.created)), p, '/v1/charges')],
  ['GET', '/v1/charges/{id}', (p, m) => {
    const ch = get(m[1], 'charge');
    if (!list(p.expand).includes('refunds')) return ch;
    return { ...ch, refunds: { object: 'list', data: ch._refunds, has_more: false, url: `/v1/charges/${ch.id}/refunds` } };
  }],
  ['POST', '/v1/refunds', createRefund],
  ['GET', '/v1/refunds/{id}', (p, m) => get(m[1], 'refund')],
  ['GET', '/v1/disputes/{id}', (p, m) => get(m[1], 'dispute')],
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
// {"silent": true} in a body: the change emits no event (scripts/trigger makes the objects its hand-made
// event is about, and sends that event itself).
function control(method, path, body) {
  let j;
  try { j = body ? JSON.parse(body) : {}; } catch { throw bad('control endpoints take a JSON body'); }
  S.silent = j?.silent === true;
  try { return controlRun(method, path, j); } finally { S.silent = false; }
}
function controlRun(method, path, j) {
  let m;
  if (method === 'GET' && path === '/__requests') return S.requests;
  if (method === 'POST' && path === '/__reset') { reset(); return { ok: true }; }
  if (method === 'POST' && path === '/__fail') {
    if (j.clear) S.fail = [];
    else {
      const when = j.when ?? 'before';
      if (!['before', 'after'].includes(when)) throw bad(`/__fail: when must be "before" or "after", not ${JSON.stringify(when)}`);
      if (j.message !== undefined && typeof j.message !== 'string') throw bad('/__fail: message must be a string');
      S.fail.push({ count: Number(j.count ?? 1), status: j.status ?? (j.delay_ms ? null : 500), delay_ms: Number(j.delay_ms ?? 0),
        path_prefix: j.path_prefix || '/v1/', method: j.method || null, when, message: j.message ?? null });
    }
    return S.fail;
  }
  // Stripe prunes a key once it is at least 24 hours old: as if that time had passed for every key saved.
  if (method === 'POST' && path === '/__idempotency/expire') { const n = S.idem.size; S.idem.clear(); return { expired: n }; }
  if (method === 'POST' && path === '/__prices') return makePrice(j);
  if (method === 'POST' && path === '/__disputes') return openDispute(j);
  if (method === 'POST' && (m = /^\/__disputes\/([^/]+)\/close$/.exec(path))) return closeDispute(get(m[1], 'dispute'), j);
  if (method === 'POST' && path === '/__customers') { const c = makeCustomer(j); emit('customer.created', c); return c; }
  if (method === 'POST' && (m = /^\/__customers\/([^/]+)\/payment_method$/.exec(path))) {
    const c = get(m[1], 'customer'), before = present(c);
    if (typeof j.payment_method !== 'string' || !/^pm_/.test(j.payment_method)) throw bad('/__customers/:id/payment_method takes {"payment_method":"pm_card_visa"} (a pm_ id)');
    c.invoice_settings.default_payment_method = j.payment_method;
    changed('customer.updated', c, before);
    return c;
  }
  if (method === 'POST' && path === '/__webhook') {
    for (const k of ['url', 'secret', 'ca']) if (j[k] !== undefined) S.hook[k] = j[k];
    if (j.enabled !== undefined) S.hook.enabled = !!j.enabled;
    if (j.retry_scale !== undefined) { if (!(Number(j.retry_scale) > 0)) throw bad('retry_scale must be > 0'); S.hook.retry_scale = Number(j.retry_scale); }
    if (j.draft_window_ms !== undefined) S.hook.draft_window_ms = Math.max(0, Number(j.draft_window_ms));
    if (j.upcoming_days !== undefined) S.hook.upcoming_days = Math.max(0, Number(j.upcoming_days));
    if (j.enabled_events !== undefined) {
      const ev = j.enabled_events;
      if (!Array.isArray(ev) || !ev.length || !ev.every((x) => typeof x === 'string' && /^(\*|[a-z_]+(\.[a-z_]+)+)$/.test(x))) {
        throw bad('/__webhook: enabled_events must be a non-empty array of event types (e.g. "invoice.created") or ["*"]');
      }
      S.hook.enabled_events = [...ev];
    }
    if (j.chaos !== undefined) {
      if (j.chaos && j.chaos.max_copies !== undefined && !(Number.isInteger(j.chaos.max_copies) && j.chaos.max_copies >= 1)) throw bad('/__webhook: chaos.max_copies must be an integer >= 1');
      S.hook.chaos = j.chaos ? { seed: Number(j.chaos.seed ?? 1), duplicate: Number(j.chaos.duplicate ?? 0), reorder: Number(j.chaos.reorder ?? 0), delay_ms: Number(j.chaos.delay_ms ?? 0),
        max_copies: j.chaos.max_copies ?? 2 } : null;
      S.rand = j.chaos ? seeded(S.hook.chaos.seed) : null;
      S.delayRand = j.chaos ? seeded(S.hook.chaos.seed + 1) : null;
    }
    if (S.hook.enabled && !(S.hook.url && S.hook.secret)) { S.hook.enabled = false; throw bad('/__webhook: delivery needs url and secret'); }
    if (j.dunning !== undefined) {
      if (!['cancel', 'unpaid', 'past_due'].includes(j.dunning)) throw bad('dunning must be cancel, unpaid or past_due');
      S.dunning = j.dunning;
    }
    return { ...S.hook, secret: S.hook.secret ? `${S.hook.secret.slice(0, 9)}...` : null, dunning: S.dunning };
  }
  if (method === 'GET' && path === '/__deliveries') return S.deliveries.map(({ _body, ...d }) => d);
  if (method === 'GET' && path === '/__events') return S.events;
  if (method === 'POST' && path === '/__subscriptions') {
    const cur = j.id && S.objects.get(j.id);
    if (!cur) { const s = makeSubscription(j); emit('customer.subscription.created', s); return s; }
    const { a, b } = period(cur), before = present(cur);
    if (j.current_period_start || j.current_period_end) setPeriod(cur, int(j.current_period_start) ?? a, int(j.current_period_end) ?? b);
    for (const k of ['status', 'trial_end', 'trial_start', 'metadata']) if (j[k] !== undefined) cur[k] = j[k];
    if (j.price !== undefined) cur.items.data[0].price = get(j.price, 'price', 'price');
    if (j.item_id) cur.items.data[0].id = j.item_id;
    if (j.cancel_at_period_end !== undefined) Object.assign(cur, { cancel_at_period_end: bool(j.cancel_at_period_end), cancel_at: bool(j.cancel_at_period_end) ? period(cur).b : null });
    changed('customer.subscription.updated', cur, before);
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
    put(totals(inv));
    emit('invoice.created', inv);
    return inv;
  }
  if (method === 'POST' && (m = /^\/__checkout\/([^/]+)\/complete$/.exec(path))) {
    // As if the person paid on Stripe's page: the customer (made now if the session had none) gets the card
    // (payment_method, default pm_card_visa) as its default, the subscription starts (in the customer's
    // clock time), its first invoice is created, finalized and paid; the events Stripe sends for this, in this
    // order: checkout.session.completed, customer.subscription.created, invoice.created, invoice.finalized,
    // invoice.paid, invoice.payment_succeeded (customer.created first when the customer is new).
    const cs = get(m[1], 'checkout.session'), x = S.extras.get(cs.id), d = x.subscription_data;
    if (cs.status === 'complete') throw bad(`Checkout session ${cs.id} is already complete.`);
    const { payment_method: pm, ...over } = j;
    let cus = cs.customer ? S.objects.get(cs.customer) : null;
    const fresh = !cus;
    if (!cus) cus = makeCustomer({ email: cs.customer_email });
    cus.invoice_settings.default_payment_method = pm || cus.invoice_settings.default_payment_method || 'pm_card_visa';
    const customer = cus.id, now = tnow(customer), trialDays = int(d.trial_period_days);
    if (fresh) emit('customer.created', cus);
    const sub = makeSubscription({ customer, price: x.prices[0].price.id, quantity: x.prices[0].quantity, metadata: mergeMeta({}, d.metadata),
      status: trialDays ? 'trialing' : 'active', current_period_start: now, current_period_end: trialDays ? now + trialDays * 86400 : addMonth(now), ...over });
    Object.assign(cs, { status: 'complete', payment_status: trialDays ? 'no_payment_required' : 'paid', subscription: sub.id, customer });
    emit('checkout.session.completed', cs);
    emit('customer.subscription.created', sub);
    const { a, b } = period(sub);
    const inv = draftInvoice(sub, 'subscription_create', a, a, a, b, a);
    if (trialDays) for (const l of inv.lines.data) { l.amount = 0; l.subtotal = 0; l.description = `Trial period for ${x.prices[0].price.nickname || x.prices[0].price.product}`; }
    totals(inv);
    emit('invoice.created', inv);
    finalize(inv, a);
    payInvoice(inv, a, 'pm_card_visa'); // Checkout collected the payment
    return { session: cs, subscription: sub, invoice: inv };
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
const injectedError = (status, message) => new StripeError(status, message
  ?? (status === 429 ? 'Request rate limit exceeded.' : 'An unknown error occurred (injected by the stand-in).'),
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
    const e = injectedError(rule.status, rule.message);
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
    S.ctx = { request_id: rec.request_id, idempotency_key: req.method === 'POST' ? ik : null }; // named by the events it causes
    try { result = { status: 200, body: present(route.fn(params, url.pathname.match(route.re))) }; }
    catch (e) { if (!(e instanceof StripeError)) throw e; result = { status: e.status, body: e.body, retry: false }; }
    finally { S.ctx = null; }
    if (rule?.status && rule.when === 'after') { const e = injectedError(rule.status, rule.message); result = { status: e.status, body: e.body, retry: false }; }
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
      if (control_ && req.method === 'GET' && url.pathname === '/__idle') { // waits (up to ?max_ms=, default 30 s) until deliveries and clocks rest
        const ok = await idle(Number(url.searchParams.get('max_ms') ?? 30000));
        out = { status: ok ? 200 : 504, body: { idle: ok, queued: S.queue.length, retrying: S.deliveries.filter((d) => d.state === 'retrying').length } };
      } else out = control_ ? { status: 200, body: url.pathname === '/__requests' ? S.requests : present(control(req.method, url.pathname, body.toString('utf8'))) }
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
for (const t of ['customer', 'subscription', 'invoice', 'invoiceitem', 'checkout.session', 'line_item', 'subscription_item', 'price', 'charge', 'refund', 'dispute']) present(tmpl(t));
// Node closes an idle kept-alive connection after 5 s by default; a client (the tests' fetch) that reuses
// it just then gets "fetch failed". Idle connections live longer than any client keeps them.
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  console.log(`stripe stand-in listening on http://${address}:${port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
