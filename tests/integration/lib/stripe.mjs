// Stripe-side helpers for integration tests.
//
//   import { event, subscription, invoice, checkoutSession, signedWebhook, standin } from './lib/stripe.mjs';
//   const sub = subscription({ customer: 'cus_x', price: env.STRIPE_PRICE_AI_SECRETARY, user_id: '42' });
//   const r = await signedWebhook(event('customer.subscription.created', sub));   // -> {status, json, ...}
//   const cur = subscription({ shape: 'current', customer: 'cus_x', price: 'price_x' });   // today's API version
//   await standin.fail({ count: 2, status: 500, path_prefix: '/v1/invoiceitems' });
//
// Two shapes of Stripe objects (an endpoint keeps the API version it was created with, and each
// event carries its `api_version`):
// - '2023-08-16' (the default): built from Stripe's fixtures (tests/vendor/stripe/fixtures3_2023-08-16.json,
//   from the repo root) so they carry every field a real 2023-08-16 payload has;
// - 'current' (API_VERSION, the version of the pinned `stripe` package): written from its type
//   definitions (tests/node_modules/stripe/cjs/resources/*.d.ts), every property the type declares
//   (null where unset), none it does not (lib.selftest.mjs checks the keys against the .d.ts).
// Pass what the test cares about. event() stamps the object's shape as api_version.
// Webhooks are signed with the official stripe package (Stripe-Signature: t=...,v1=...).
import fs from 'node:fs';
import crypto from 'node:crypto';
import Stripe from 'stripe';
import { env, requireEnv } from './env.mjs';
import { request } from './http.mjs';

/** Today's API version: the one the pinned `stripe` package (23.1.0) is generated for. */
export const API_VERSION = '2026-10-28.endive';
/** The version of the vendored spec and fixtures, which older endpoints still receive. */
export const API_VERSION_2023 = '2023-08-16';
export const SHAPES = ['current', '2023-08-16'];
/** Marks the shape of a built object: copied by object spread, never serialized. */
const SHAPE = Symbol('stripe shape');
const shaped = (o, shape) => Object.assign(o, { [SHAPE]: shape });
const isCurrent = (o) => o.shape === 'current';
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
 * 2023-08-16 shape: the period on the subscription, not on its item;
 * o.shape === 'current': today's shape (the period on the items only).
 */
export function subscription(o = {}) {
  if (isCurrent(o)) return subscriptionCurrent(o);
  const s = tmpl('subscription'), id = o.id || rid('sub_'), start = o.current_period_start ?? nowS(), end = o.current_period_end ?? addMonth(start);
  const status = o.status || 'active', cape = !!o.cancel_at_period_end;
  const pr = price(o.price, { unit_amount: o.unit_amount ?? 0 });
  Object.assign(s, { id, customer: o.customer || rid('cus_'), created: o.created ?? start, start_date: o.created ?? start, billing_cycle_anchor: start,
    current_period_start: start, current_period_end: end, status, currency: pr.currency,
    cancel_at_period_end: cape, cancel_at: o.cancel_at ?? (cape ? end : null), canceled_at: o.canceled_at ?? null, ended_at: o.ended_at ?? null,
    trial_start: o.trial_start ?? (o.trial_end ? start : null), trial_end: o.trial_end ?? null, latest_invoice: o.latest_invoice ?? null,
    next_pending_invoice_item_invoice: null, metadata: { ...(o.user_id !== undefined ? { user_id: String(o.user_id) } : {}), ...o.metadata } });
  const item = Object.assign(s.items.data[0], { id: o.item_id || rid('si_'), created: start, price: pr, quantity: o.quantity ?? 1, subscription: id });
  s.items = { object: 'list', data: [item], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${id}` };
  return shaped(s, API_VERSION_2023);
}

/**
 * An invoice object (invoice.* events). o: id, customer, subscription, status (draft|open|paid|uncollectible|void),
 * billing_reason (subscription_cycle|subscription_create|subscription_update|manual|...), period_start/end,
 * lines: [{amount, description, price, period:{start,end}, type, proration, quantity, metadata}],
 * amount_due / amount_paid / total (default: from lines), attempt_count, next_payment_attempt, user_id (->
 * subscription_details.metadata.user_id), hosted_invoice_url, number. o.shape === 'current': today's shape
 * (parent.subscription_details, lines with parent and pricing).
 */
export function invoice(o = {}) {
  if (isCurrent(o)) return invoiceCurrent(o);
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
  return shaped(inv, API_VERSION_2023);
}

/**
 * A checkout.session object (checkout.session.completed). o: id, customer, subscription, client_reference_id,
 * user_id (-> metadata.user_id and default client_reference_id), metadata, mode, status, payment_status,
 * amount_total, currency, customer_email. o.shape === 'current': today's shape.
 */
export function checkoutSession(o = {}) {
  if (isCurrent(o)) return checkoutSessionCurrent(o);
  const s = tmpl('checkout.session'), id = o.id || rid('cs_test_'), now = nowS();
  Object.assign(s, { id, created: o.created ?? now - 60, expires_at: (o.created ?? now) + 86400, mode: o.mode || 'subscription',
    customer: o.customer ?? rid('cus_'), subscription: o.subscription ?? (o.mode && o.mode !== 'subscription' ? null : rid('sub_')),
    client_reference_id: o.client_reference_id ?? (o.user_id !== undefined ? String(o.user_id) : null),
    metadata: { ...(o.user_id !== undefined ? { user_id: String(o.user_id) } : {}), ...o.metadata },
    status: o.status || 'complete', payment_status: o.payment_status || 'paid', payment_intent: null,
    amount_subtotal: o.amount_total ?? 4000, amount_total: o.amount_total ?? 4000, currency: o.currency || 'usd',
    customer_email: o.customer_email ?? null, customer_details: { ...s.customer_details, email: o.customer_email ?? s.customer_details.email },
    url: (o.status || 'complete') === 'open' ? `https://checkout.stripe.com/c/pay/${id}` : null });
  return shaped(s, API_VERSION_2023);
}

/**
 * An event envelope around `object`. opts: id, created, previous_attributes, api_version, shape.
 * api_version defaults to the shape's version: API_VERSION for 'current', '2023-08-16' otherwise
 * (the object's shape when it was built here, else opts.shape).
 */
export function event(type, object, { id, created, previous_attributes, api_version, shape } = {}) {
  const sh = shape ?? object?.[SHAPE] ?? API_VERSION_2023;
  return { id: id || rid('evt_'), object: 'event', api_version: api_version ?? (sh === 'current' ? API_VERSION : API_VERSION_2023),
    created: created ?? nowS(), data: { object, ...(previous_attributes ? { previous_attributes } : {}) },
    livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type };
}

// ---------- current shape (API_VERSION), from the stripe package's .d.ts ----------
const automaticTaxSub = () => ({ disabled_reason: null, enabled: false, liability: null });

/** A Price (Prices.d.ts Price). */
function priceCurrent(p, { unit_amount = 0, currency = 'usd', interval = 'month', nickname = null } = {}) {
  if (p && typeof p === 'object') return p;
  return { id: p || rid('price_'), object: 'price', active: true, billing_scheme: 'per_unit', created: nowS(), currency,
    custom_unit_amount: null, livemode: false, lookup_key: null, metadata: {}, nickname, product: rid('prod_', 14),
    recurring: { interval, interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' },
    tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: 'recurring', unit_amount,
    unit_amount_decimal: String(unit_amount) };
}

/** A SubscriptionItem (SubscriptionItems.d.ts): the billing period lives here since 2025-03-31.basil. */
function subscriptionItemCurrent(o, sub, start, end, pr) {
  return { id: o.item_id || rid('si_'), object: 'subscription_item', billing_thresholds: null, created: start,
    current_period_end: end, current_period_start: start, current_trial: null, discounts: [], metadata: {}, plan: null, price: pr,
    quantity: o.quantity ?? 1, subscription: sub, tax_rates: [] };
}

/** A Subscription (Subscriptions.d.ts): no current_period_* of its own, they are on the items. */
function subscriptionCurrent(o) {
  const id = o.id || rid('sub_'), start = o.current_period_start ?? nowS(), end = o.current_period_end ?? addMonth(start);
  const status = o.status || 'active', cape = !!o.cancel_at_period_end, created = o.created ?? start;
  const pr = priceCurrent(o.price, { unit_amount: o.unit_amount ?? 0 });
  return shaped({ id, object: 'subscription', application: null, application_fee_percent: null, automatic_tax: automaticTaxSub(),
    billing_cycle_anchor: start, billing_cycle_anchor_config: null, billing_mode: { flexible: null, type: 'classic' },
    billing_schedules: [], billing_thresholds: null, cancel_at: o.cancel_at ?? (cape ? end : null), cancel_at_period_end: cape,
    canceled_at: o.canceled_at ?? null, cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: 'charge_automatically', created, currency: pr.currency, customer: o.customer || rid('cus_'),
    customer_account: null, days_until_due: null, default_payment_method: null, default_source: null, default_tax_rates: [],
    description: null, discounts: [], ended_at: o.ended_at ?? null,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
    items: { object: 'list', data: [subscriptionItemCurrent(o, id, start, end, pr)], has_more: false, url: `/v1/subscription_items?subscription=${id}` },
    latest_invoice: o.latest_invoice ?? null, livemode: false, managed_payments: null,
    metadata: { ...(o.user_id !== undefined ? { user_id: String(o.user_id) } : {}), ...o.metadata },
    next_pending_invoice_item_invoice: null, on_behalf_of: null,
    pause_collection: null, payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null, pending_setup_intent: null, pending_update: null, schedule: null, start_date: created,
    status, test_clock: null, transfer_data: null, trial_end: o.trial_end ?? null,
    trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
    trial_start: o.trial_start ?? (o.trial_end ? start : null) }, 'current');
}

/**
 * An InvoiceLineItem (InvoiceLineItems.d.ts): `parent` says what it bills (subscription_item_details
 * with proration, or invoice_item_details), `pricing.price_details.price` the price id.
 */
function lineCurrent(l, inv, sub, pe) {
  const isSub = (l.type || 'subscription') === 'subscription', proration = !!l.proration;
  return { id: l.id || rid('il_'), object: 'line_item', amount: l.amount, currency: l.currency || 'usd', description: l.description ?? null,
    discount_amounts: [], discountable: true, discounts: [], invoice: inv, livemode: false, metadata: l.metadata || {},
    parent: isSub
      ? { invoice_item_details: null, type: 'subscription_item_details',
        subscription_item_details: { invoice_item: proration ? rid('ii_') : null, proration, proration_details: { credited_items: null },
          subscription: sub, subscription_item: l.subscription_item || rid('si_') } }
      : { subscription_item_details: null, type: 'invoice_item_details',
        invoice_item_details: { invoice_item: l.invoice_item || rid('ii_'), proration, proration_details: { credited_items: null }, subscription: sub } },
    period: l.period || { start: pe, end: addMonth(pe) }, pretax_credit_amounts: [],
    pricing: { price_details: { price: typeof l.price === 'object' && l.price ? l.price.id : (l.price || rid('price_')), product: rid('prod_', 14) },
      type: 'price_details', unit_amount_decimal: String(l.amount) },
    quantity: l.quantity ?? 1, quantity_decimal: String(l.quantity ?? 1), subscription: sub, subtotal: l.amount, taxes: [] };
}

/**
 * An Invoice (Invoices.d.ts): the subscription and its metadata are under
 * parent.subscription_details since 2025-03-31.basil; no `paid`, no top-level `subscription`.
 */
function invoiceCurrent(o) {
  const id = o.id || rid('in_'), now = nowS(), status = o.status || 'draft', sub = o.subscription ?? null;
  const ps = o.period_start ?? now, pe = o.period_end ?? now;
  const lines = (o.lines || []).map((l) => lineCurrent(l, id, sub, pe));
  const total = o.total ?? lines.reduce((a, l) => a + l.amount, 0);
  const amount_due = o.amount_due ?? total, amount_paid = o.amount_paid ?? (status === 'paid' ? amount_due : 0);
  const meta = o.user_id !== undefined ? { user_id: String(o.user_id) } : (o.subscription_metadata ?? null);
  return shaped({ id, object: 'invoice', account_country: 'US', account_name: 'xSwarm', account_tax_ids: null, amount_due,
    amount_overpaid: 0, amount_paid, amount_remaining: amount_due - amount_paid, amount_shipping: 0, application: null,
    attempt_count: o.attempt_count ?? (status === 'draft' ? 0 : 1), attempted: (o.attempt_count ?? 0) > 0 || status !== 'draft',
    auto_advance: status === 'draft' || status === 'open',
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: status === 'draft' ? pe + 3600 : null, billing_reason: o.billing_reason || 'subscription_cycle',
    collection_method: 'charge_automatically', created: o.created ?? now, currency: 'usd', custom_fields: null,
    customer: o.customer || rid('cus_'), customer_account: null, customer_address: null, customer_email: null, customer_name: null,
    customer_phone: null, customer_shipping: null, customer_tax_exempt: 'none', customer_tax_ids: [], default_payment_method: null,
    default_source: null, default_tax_rates: [], description: null, discounts: [], due_date: null,
    effective_at: status === 'draft' ? null : now, ending_balance: status === 'draft' ? null : 0, footer: null, from_invoice: null,
    hosted_invoice_url: o.hosted_invoice_url ?? null, invoice_pdf: null, issuer: { type: 'self' }, last_finalization_error: null,
    latest_revision: null, lines: { object: 'list', data: lines, has_more: false, url: `/v1/invoices/${id}/lines` }, livemode: false,
    metadata: o.metadata || {}, next_payment_attempt: o.next_payment_attempt ?? (status === 'draft' || status === 'open' ? pe + 3600 : null),
    number: o.number ?? (status === 'draft' ? null : `${rid('', 8).toUpperCase()}-0001`), on_behalf_of: null,
    parent: sub === null && meta === null ? null
      : { quote_details: null, type: 'subscription_details', subscription_details: { metadata: meta, subscription: sub } },
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: pe, period_start: ps, post_payment_credit_notes_amount: 0, pre_payment_credit_notes_amount: 0, receipt_number: null,
    rendering: null, shipping_cost: null, shipping_details: null, starting_balance: 0, statement_descriptor: null, status,
    status_transitions: { finalized_at: status === 'draft' ? null : now, marked_uncollectible_at: status === 'uncollectible' ? now : null,
      paid_at: status === 'paid' ? now : null, voided_at: status === 'void' ? now : null },
    subtotal: total, subtotal_excluding_tax: total, test_clock: null, total, total_discount_amounts: [], total_excluding_tax: total,
    total_pretax_credit_amounts: [], total_taxes: [], webhooks_delivered_at: null }, 'current');
}

/** A Checkout Session (Checkout/Sessions.d.ts Session). */
function checkoutSessionCurrent(o) {
  const id = o.id || rid('cs_test_'), now = nowS(), status = o.status || 'complete', created = o.created ?? now - 60;
  return shaped({ id, object: 'checkout.session', adaptive_pricing: null, after_expiration: null, allow_promotion_codes: null,
    allowed_payment_method_types: null, amount_subtotal: o.amount_total ?? 4000, amount_total: o.amount_total ?? 4000,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null }, billing_address_collection: null,
    cancel_url: 'https://example.com/cancel', client_reference_id: o.client_reference_id ?? (o.user_id !== undefined ? String(o.user_id) : null),
    client_secret: null, collected_information: null, consent: null, consent_collection: null, created, currency: o.currency || 'usd',
    currency_conversion: null, custom_fields: [], custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: o.customer ?? rid('cus_'), customer_account: null, customer_creation: null,
    customer_details: { address: null, business_name: null, email: o.customer_email ?? 'example@example.com', individual_name: null, name: null, phone: null, tax_exempt: 'none', tax_ids: [] },
    customer_email: o.customer_email ?? null, discounts: [], expires_at: created + 86400, integration_identifier: null, invoice: null,
    invoice_creation: null, livemode: false, locale: null, managed_payments: null,
    metadata: { ...(o.user_id !== undefined ? { user_id: String(o.user_id) } : {}), ...o.metadata }, mode: o.mode || 'subscription',
    origin_context: null, payment_intent: null, payment_link: null, payment_method_collection: 'always',
    payment_method_configuration_details: null, payment_method_options: {}, payment_method_types: ['card'],
    payment_status: o.payment_status || 'paid', permissions: null, phone_number_collection: { enabled: false }, recovered_from: null,
    saved_payment_method_options: null, setup_intent: null, shipping_address_collection: null, shipping_cost: null, shipping_options: [],
    status, submit_type: null, subscription: o.subscription ?? (o.mode && o.mode !== 'subscription' ? null : rid('sub_')),
    success_url: 'https://example.com/success', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, ui_mode: 'hosted',
    url: status === 'open' ? `https://checkout.stripe.com/c/pay/${id}` : null, wallet_options: null }, 'current');
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
  /** {count, status, delay_ms, path_prefix, method, when, message}: next `count` matching requests fail / are slow. {clear:true} drops all rules. */
  fail: (rule) => ctl('POST', '/__fail', rule),
  /** Forgets every saved Idempotency-Key, as 24 hours passing would at Stripe. */
  expireKeys: () => ctl('POST', '/__idempotency/expire', {}),
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
