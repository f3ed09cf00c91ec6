// Stripe-side helpers for integration tests.
//
//   import { event, subscription, invoice, checkoutSession, signedWebhook, standin } from './lib/stripe.mjs';
//   const sub = subscription({ customer: 'cus_x', price: env.STRIPE_PRICE_AI_SECRETARY, user_id: '42' });
//   const r = await signedWebhook(event('customer.subscription.created', sub));   // -> {status, json, ...}
//   await standin.fail({ count: 2, status: 500, path_prefix: '/v1/invoiceitems' });
//
// Objects are built from Stripe's fixtures (tests/vendor/stripe/fixtures3_2023-08-16.json, from the
// repo root) so they carry every field a real 2023-08-16 payload has; pass what the test cares about.
// Webhooks are signed with the official stripe package (Stripe-Signature: t=...,v1=...).
import fs from 'node:fs';
import crypto from 'node:crypto';
import Stripe from 'stripe';
import { env, requireEnv } from './env.mjs';
import { request } from './http.mjs';

export const API_VERSION = '2023-09-12';
const FIXTURES = JSON.parse(fs.readFileSync(new URL('../../vendor/stripe/fixtures3_2023-08-16.json', import.meta.url), 'utf8')).resources;
const tmpl = (name) => structuredClone(FIXTURES[name]);
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A realistic random id: prefix + 24 alphanumerics (e.g. rid('sub_')). */
export const rid = (prefix, n = 24) => prefix + Array.from(crypto.randomBytes(n), (b) => ALNUM[b % 62]).join('');
const nowS = () => Math.floor(Date.now() / 1000);
const addMonth = (t) => { const d = new Date(t * 1000); d.setUTCMonth(d.getUTCMonth() + 1); return Math.floor(d / 1000); };
const stripe = new Stripe('sk_test_only_used_for_webhook_helpers');

// ---------- objects ----------
/** A price object; `price` may be an id (with unit_amount) or a ready object. */
export function price(p, { unit_amount = 0, currency = 'usd', interval = 'month', nickname = null } = {}) {
  if (p && typeof p === 'object') return p;
  return Object.assign(tmpl('price'), { id: p || rid('price_'), created: nowS(), currency, nickname, product: rid('prod_', 14),
    unit_amount, unit_amount_decimal: String(unit_amount), recurring: { ...FIXTURES.price.recurring, interval } });
}

/**
 * A subscription object (customer.subscription.* events). o: id, customer, price (id or object),
 * unit_amount, quantity, status, current_period_start/end, cancel_at_period_end, cancel_at, canceled_at,
 * ended_at, trial_start, trial_end, user_id (-> metadata.user_id), metadata, latest_invoice.
 * Items carry current_period_start/end too (newer API shape) besides the subscription-level fields.
 */
export function subscription(o = {}) {
  const s = tmpl('subscription'), id = o.id || rid('sub_'), start = o.current_period_start ?? nowS(), end = o.current_period_end ?? addMonth(start);
  const status = o.status || 'active', cape = !!o.cancel_at_period_end;
  const pr = price(o.price, { unit_amount: o.unit_amount ?? 0 });
  Object.assign(s, { id, customer: o.customer || rid('cus_'), created: o.created ?? start, start_date: o.created ?? start, billing_cycle_anchor: start,
    current_period_start: start, current_period_end: end, status, currency: pr.currency,
    cancel_at_period_end: cape, cancel_at: o.cancel_at ?? (cape ? end : null), canceled_at: o.canceled_at ?? null, ended_at: o.ended_at ?? null,
    trial_start: o.trial_start ?? (o.trial_end ? start : null), trial_end: o.trial_end ?? null, latest_invoice: o.latest_invoice ?? null,
    next_pending_invoice_item_invoice: null, metadata: { ...(o.user_id !== undefined ? { user_id: String(o.user_id) } : {}), ...o.metadata } });
  const item = Object.assign(s.items.data[0], { id: o.item_id || rid('si_'), created: start, price: pr, quantity: o.quantity ?? 1, subscription: id,
    current_period_start: start, current_period_end: end });
  s.items = { object: 'list', data: [item], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${id}` };
  return s;
}

/**
 * An invoice object (invoice.* events). o: id, customer, subscription, status (draft|open|paid|uncollectible|void),
 * billing_reason (subscription_cycle|subscription_create|subscription_update|manual|...), period_start/end,
 * lines: [{amount, description, price, period:{start,end}, type, proration, quantity, metadata}],
 * amount_due / amount_paid / total (default: from lines), attempt_count, next_payment_attempt, user_id (->
 * subscription_details.metadata.user_id), hosted_invoice_url, number.
 */
export function invoice(o = {}) {
  const inv = tmpl('invoice'), id = o.id || rid('in_'), now = nowS(), status = o.status || 'draft';
  const ps = o.period_start ?? now, pe = o.period_end ?? now;
  const lines = (o.lines || []).map((l) => Object.assign(tmpl('line_item'), {
    id: l.id || rid('il_'), amount: l.amount, amount_excluding_tax: l.amount, currency: l.currency || 'usd', description: l.description ?? null,
    invoice_item: l.type === 'subscription' ? undefined : (l.invoice_item || rid('ii_')), metadata: l.metadata || {},
    period: l.period || { start: pe, end: addMonth(pe) }, price: price(l.price, { unit_amount: l.amount }), proration: !!l.proration,
    quantity: l.quantity ?? 1, subscription: o.subscription ?? null, type: l.type || 'subscription', unit_amount_excluding_tax: String(l.amount) }));
  const total = o.total ?? lines.reduce((a, l) => a + l.amount, 0);
  const amount_due = o.amount_due ?? total, amount_paid = o.amount_paid ?? (status === 'paid' ? amount_due : 0);
  Object.assign(inv, { id, customer: o.customer || rid('cus_'), subscription: o.subscription ?? null, status, created: o.created ?? now,
    billing_reason: o.billing_reason || 'subscription_cycle', period_start: ps, period_end: pe, subtotal: total, subtotal_excluding_tax: total,
    total, total_excluding_tax: total, amount_due, amount_paid, amount_remaining: amount_due - amount_paid, paid: status === 'paid',
    attempted: (o.attempt_count ?? 0) > 0 || status !== 'draft', attempt_count: o.attempt_count ?? (status === 'draft' ? 0 : 1),
    next_payment_attempt: o.next_payment_attempt ?? (status === 'draft' || status === 'open' ? pe + 3600 : null),
    number: o.number ?? (status === 'draft' ? null : `${rid('', 8).toUpperCase()}-0001`), hosted_invoice_url: o.hosted_invoice_url ?? null,
    auto_advance: status === 'draft' || status === 'open', effective_at: status === 'draft' ? null : now, due_date: null, webhooks_delivered_at: null,
    subscription_details: { metadata: o.user_id !== undefined ? { user_id: String(o.user_id) } : (o.subscription_metadata ?? null) },
    status_transitions: { finalized_at: status === 'draft' ? null : now, marked_uncollectible_at: status === 'uncollectible' ? now : null,
      paid_at: status === 'paid' ? now : null, voided_at: status === 'void' ? now : null },
    metadata: o.metadata || {} });
  inv.lines = { object: 'list', data: lines, has_more: false, total_count: lines.length, url: `/v1/invoices/${id}/lines` };
  return inv;
}

/**
 * A checkout.session object (checkout.session.completed). o: id, customer, subscription, client_reference_id,
 * user_id (-> metadata.user_id and default client_reference_id), metadata, mode, status, payment_status,
 * amount_total, currency, customer_email.
 */
export function checkoutSession(o = {}) {
  const s = tmpl('checkout.session'), id = o.id || rid('cs_test_'), now = nowS();
  Object.assign(s, { id, created: o.created ?? now - 60, expires_at: (o.created ?? now) + 86400, mode: o.mode || 'subscription',
    customer: o.customer ?? rid('cus_'), subscription: o.subscription ?? (o.mode && o.mode !== 'subscription' ? null : rid('sub_')),
    client_reference_id: o.client_reference_id ?? (o.user_id !== undefined ? String(o.user_id) : null),
    metadata: { ...(o.user_id !== undefined ? { user_id: String(o.user_id) } : {}), ...o.metadata },
    status: o.status || 'complete', payment_status: o.payment_status || 'paid', payment_intent: null,
    amount_subtotal: o.amount_total ?? 4000, amount_total: o.amount_total ?? 4000, currency: o.currency || 'usd',
    customer_email: o.customer_email ?? null, customer_details: { ...s.customer_details, email: o.customer_email ?? s.customer_details.email },
    url: (o.status || 'complete') === 'open' ? `https://checkout.stripe.com/c/pay/${id}` : null });
  return s;
}

/** An event envelope around `object`. opts: id, created, previous_attributes, api_version. */
export function event(type, object, { id, created, previous_attributes, api_version = API_VERSION } = {}) {
  return { id: id || rid('evt_'), object: 'event', api_version, created: created ?? nowS(),
    data: { object, ...(previous_attributes ? { previous_attributes } : {}) },
    livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type };
}

// ---------- webhooks ----------
const defaultSecret = () => requireEnv('STRIPE_WEBHOOK_SECRETS').STRIPE_WEBHOOK_SECRETS.split(',')[0].trim();

/** The Stripe-Signature header for a payload (object or exact string). */
export function signatureHeader(payload, { secret = defaultSecret(), timestamp = nowS() } = {}) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
}

/** Checks a header the way Stripe's libraries do; throws on a bad one (used to self-test the helpers). */
export function verifySignature(body, header, secret = defaultSecret(), toleranceS = 300) {
  return stripe.webhooks.constructEvent(body, header, secret, toleranceS);
}

/**
 * POSTs a signed event to the stack (default path /stripe/webhook) and returns the response plus
 * `sent: {body, signature}`. opts: secret, timestamp (unix s), signature (a header to use instead,
 * e.g. a tampered one), path, headers.
 */
export async function signedWebhook(payload, { secret, timestamp, signature, path = '/stripe/webhook', headers = {} } = {}) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const sig = signature ?? signatureHeader(body, { secret: secret ?? defaultSecret(), timestamp: timestamp ?? nowS() });
  const r = await request('POST', path, { body, headers: { 'Content-Type': 'application/json; charset=utf-8', 'Stripe-Signature': sig, ...headers } });
  return { ...r, sent: { body, signature: sig } };
}

// ---------- the stand-in's control endpoints (tests/peers/stripe.mjs) ----------
const standinBase = () => env.STRIPE_STANDIN_URL || requireEnv('STRIPE_API_BASE').STRIPE_API_BASE;
async function ctl(method, path, body) {
  const r = await fetch(new URL(path, standinBase()), { method, headers: body ? { 'content-type': 'application/json' } : {},
    body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`stand-in ${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}
export const standin = {
  /** Recorded /v1 requests; filter: {method, path (exact or RegExp), path_prefix}. */
  async requests(filter = {}) {
    const all = await ctl('GET', '/__requests');
    return all.filter((r) => (!filter.method || r.method === filter.method)
      && (!filter.path || (filter.path instanceof RegExp ? filter.path.test(r.path) : r.path === filter.path))
      && (!filter.path_prefix || r.path.startsWith(filter.path_prefix)));
  },
  reset: () => ctl('POST', '/__reset'),
  /** {count, status, delay_ms, path_prefix, method}: next `count` matching requests fail / are slow. {clear:true} drops all rules. */
  fail: (rule) => ctl('POST', '/__fail', rule),
  createPrice: (o) => ctl('POST', '/__prices', o),
  createCustomer: (o = {}) => ctl('POST', '/__customers', o),
  /** {customer, price, unit_amount?, quantity, status, current_period_start/end, trial_end, cancel_at_period_end, metadata, id}; an existing id updates. */
  createSubscription: (o) => ctl('POST', '/__subscriptions', o),
  /** {customer?, subscription, status, billing_reason, period_start/end, include_pending, id} -> invoice (pending items swept in). */
  createInvoice: (o) => ctl('POST', '/__invoices', o),
  /** Completes an open Checkout Session: creates its subscription -> {session, subscription}. */
  completeCheckout: (id, o = {}) => ctl('POST', `/__checkout/${id}/complete`, o),
  object: (id) => ctl('GET', `/__objects/${id}`),
};
