// Builders for the payment objects of the events tests/integration/events.test.mjs sends: charge,
// refund, dispute, customer (and the invoice of invoice.payment_action_required), each in two
// shapes of Stripe's API:
//
//   OLD = '2023-08-16': Stripe's own fixtures of that version (tests/vendor/stripe/
//         fixtures3_2023-08-16.json, resources.charge/refund/dispute/customer/invoice), fields set.
//   NOW = '2026-10-28.endive': the same objects changed as the `stripe` package 23.1.0 types them
//         (tests/node_modules/stripe/cjs/resources/*.d.ts) and as its CHANGELOG.md says:
//         Charge has no `invoice` since 2025-03-31.basil (the link is the InvoicePayment) and
//         requires `source`; Refund gained `customer`, `customer_account` and `payment_method`;
//         Dispute requires `enhanced_eligibility_types` and `intended_submission_method`;
//         Invoice lost `subscription`, `subscription_details`, `charge`, `payment_intent` and
//         `paid` (basil), its subscription details now under `parent`.
//
// Charge.refunds is expandable since 2022-11-15: an event's charge carries no list unless the
// test asks for one (refunds: [...]), which is what an expanded charge looks like.
//
//   import * as E from './lib/stripe-events.mjs';
//   const ch = E.charge(E.NOW, { customer: u.customer, amount: 4000 });
//   await signedWebhook(event('charge.succeeded', ch, { api_version: E.NOW }));
import fs from 'node:fs';
import { rid, invoice as oldInvoice } from './stripe.mjs';

export const OLD = '2023-08-16';
export const NOW = '2026-10-28.endive';
export const SHAPES = [NOW, OLD];

const FIXTURES = JSON.parse(fs.readFileSync(new URL('../../vendor/stripe/fixtures3_2023-08-16.json', import.meta.url), 'utf8')).resources;
const tmpl = (name) => structuredClone(FIXTURES[name]);
const nowS = () => Math.floor(Date.now() / 1000);
const isNow = (shape) => {
  if (shape !== OLD && shape !== NOW) throw new Error(`unknown shape ${shape}`);
  return shape === NOW;
};

/**
 * A refund. o: id, amount (cents), currency, charge, payment_intent, customer (NOW only: the
 * 2023-08-16 Refund has none), status, reason, metadata.
 */
export function refund(shape, o = {}) {
  const r = tmpl('refund');
  Object.assign(r, { id: o.id || rid('re_'), amount: o.amount ?? 1000, currency: o.currency || 'usd', charge: o.charge ?? rid('ch_'),
    payment_intent: o.payment_intent ?? null, status: o.status || 'succeeded', reason: o.reason ?? 'requested_by_customer',
    created: o.created ?? nowS(), metadata: o.metadata || {} });
  if (isNow(shape)) Object.assign(r, { customer: o.customer ?? null, customer_account: null, payment_method: r.payment_method ?? null });
  return r;
}

/**
 * A charge. o: id, amount, amount_refunded, currency, customer, payment_intent, invoice (OLD only),
 * metadata, refunds (an array of refund objects: the list as an expanded charge has it; NOW omits
 * the list unless given, OLD keeps the fixture's, empty unless given).
 */
export function charge(shape, o = {}) {
  const c = tmpl('charge'), id = o.id || rid('ch_'), amount = o.amount ?? 4000, refunded = o.amount_refunded ?? 0;
  Object.assign(c, { id, amount, amount_captured: amount, amount_refunded: refunded, refunded: refunded >= amount, captured: true,
    paid: true, status: 'succeeded', currency: o.currency || 'usd', customer: o.customer ?? null,
    payment_intent: o.payment_intent ?? null, created: o.created ?? nowS(), metadata: o.metadata || {} });
  const list = (data) => ({ object: 'list', data, has_more: false, total_count: data.length, url: `/v1/charges/${id}/refunds` });
  if (isNow(shape)) {
    delete c.invoice;
    c.source = null;
    if (o.refunds) c.refunds = list(o.refunds); else delete c.refunds;
  } else {
    c.invoice = o.invoice ?? null;
    c.refunds = list(o.refunds || []);
  }
  return c;
}

/** A dispute. o: id, charge, payment_intent, amount, currency, reason, status, due_by, metadata. */
export function dispute(shape, o = {}) {
  const d = tmpl('dispute');
  Object.assign(d, { id: o.id || rid('dp_'), charge: o.charge ?? rid('ch_'), payment_intent: o.payment_intent ?? null,
    amount: o.amount ?? 4000, currency: o.currency || 'usd', reason: o.reason || 'fraudulent', status: o.status || 'needs_response',
    created: o.created ?? nowS(), metadata: o.metadata || {}, is_charge_refundable: (o.status || 'needs_response') === 'needs_response' });
  d.evidence_details = { ...d.evidence_details, due_by: o.due_by ?? d.evidence_details.due_by };
  if (isNow(shape)) Object.assign(d, { enhanced_eligibility_types: [], intended_submission_method: null });
  return d;
}

/** A customer (as customer.deleted carries it). o: id, email, metadata. */
export function customer(shape, o = {}) {
  isNow(shape);
  const c = tmpl('customer');
  Object.assign(c, { id: o.id || rid('cus_'), email: o.email ?? null, created: o.created ?? nowS() - 86400, metadata: o.metadata || {} });
  return c;
}

/**
 * An open invoice awaiting the customer's confirmation (invoice.payment_action_required).
 * o: customer, amount_due, hosted_invoice_url, subscription, user_id, currency.
 */
export function actionInvoice(shape, o = {}) {
  const inv = oldInvoice({ customer: o.customer, status: 'open', subscription: o.subscription ?? rid('sub_'), user_id: o.user_id,
    billing_reason: 'subscription_create', amount_due: o.amount_due ?? 4000, attempt_count: 1,
    hosted_invoice_url: o.hosted_invoice_url ?? `https://invoice.stripe.com/i/acct_test/${rid('test_')}`,
    lines: [{ amount: o.amount_due ?? 4000, price: 'price_ai_secretary', type: 'subscription' }] });
  inv.currency = o.currency || 'usd';
  if (isNow(shape)) {
    const sub = inv.subscription, meta = inv.subscription_details?.metadata ?? null;
    for (const k of ['subscription', 'subscription_details', 'charge', 'payment_intent', 'paid', 'paid_out_of_band']) delete inv[k];
    inv.parent = { type: 'subscription_details', quote_details: null,
      subscription_details: { metadata: meta, subscription: sub } };
  }
  return inv;
}
