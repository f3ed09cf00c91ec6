// A subscribed user whose period has just ended, for the tests of the bills the worker posts
// (worker.test.mjs, faults.test.mjs): the customer, its subscription and the renewal's draft invoice exist at
// the Stripe stand-in; our side learns of the subscription from its signed customer.subscription.created
// (created at the period's start: the tier history the rating engine reads, docs/BILLING.md).
//
//   const b = await billedUser();                       // ai_secretary, 150 min in two calls, 120 SMS, a number
//   await S.signedWebhook(S.event('invoice.created', b.inv, { api_version: S.API_VERSION }));
//   await waitFor(async () => (await jobOf(b))?.state === 'done');
import crypto from 'node:crypto';
import { query } from './db.mjs';
import * as S from './stripe.mjs';

export const DAY = 86400;
const now = () => Math.floor(Date.now() / 1000);

// The usage of billedUser()'s period: two calls (4499 s = 75 started minutes, 4441 s = 75) and two texts.
export const USAGE = [['voice', 4499], ['voice', 4441], ['sms', 70], ['sms', 50]];

/**
 * The user (id), its customer (cus), subscription (sub), draft renewal invoice (inv, unless invoice is false) and
 * period [ps, pe) (default: 30 days that ended a minute ago). usage: [kind, quantity] rows at ps + 1000 s on.
 */
export async function billedUser({ tier = 'ai_secretary', usage = USAGE, phone = true, pe = now() - 60, ps = pe - 30 * DAY, invoice = true } = {}) {
  const id = crypto.randomUUID();
  const cus = await S.standin.createCustomer({ email: `${id}@example.test`, metadata: { user_id: id }, silent: true });
  const number = '+1555' + String(crypto.randomInt(1e7)).padStart(7, '0'), sid = 'PN' + crypto.randomBytes(16).toString('hex');
  // Holding a number already, so entering the tier buys none.
  await query("INSERT INTO users (id, email, stripe_customer_id, phone_number, phone_sid, phone_status, phone_provisioned_at) VALUES (?, ?, ?, ?, ?, 'active', ?)",
    [id, `${id}@example.test`, cus.id, phone ? number : null, phone ? sid : null, ps - DAY]);
  if (phone) await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from) VALUES (?, ?, ?, ?)', [id, number, sid, ps - DAY]);
  for (const [i, [kind, q]] of usage.entries()) {
    await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, 'test', ?)",
      [id, kind, q, ps + 1000 + i, `${id}:${i}`]);
  }
  // Usage after the period is not this bill's.
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'sms', 999, ?, 'test', ?)", [id, pe + 5, `${id}:next`]);
  const sub = await S.standin.createSubscription({ customer: cus.id, price: `price_${tier}`, status: 'active', current_period_start: ps,
    current_period_end: pe, metadata: { user_id: id }, silent: true });
  const r = await S.signedWebhook(S.event('customer.subscription.created', sub, { api_version: S.API_VERSION, created: ps }));
  if (r.json?.status !== 'processed') throw new Error(`subscription of ${id}: ${r.status} ${r.text}`);
  const inv = invoice ? await renewalInvoice({ cus, sub, ps, pe }) : null;
  return { id, cus, sub, inv, ps, pe };
}

/**
 * A live subscription of user (customer) in our rows only, as the webhook would have stored it, its period
 * [start, end) holding now unless given: a usage report then prices that period, as a bill will (docs/BILLING.md;
 * without a live subscription the report shows no money). Returns its id.
 */
export async function liveSubscription({ user, customer = S.rid('cus_'), tier = 'ai_secretary', id = S.rid('sub_'), start = now() - DAY, end = now() + 29 * DAY }) {
  await query(`INSERT INTO subscriptions (id, user_id, customer_id, status, tier, price_id, current_period_start, current_period_end,
    last_event_id, last_event_created, last_event_rank) VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, 0)`,
  [id, user, customer, tier, `price_${tier}`, start, end, S.rid('evt_'), start]);
  await query('UPDATE users SET tier = ?, subscription_id = ?, billing_cycle_start = ?, billing_cycle_end = ? WHERE id = ?',
    [tier, id, start, end, user]);
  return id;
}

/** A renewal invoice of [ps, pe) at the stand-in (draft unless status says otherwise), no event sent. */
export function renewalInvoice({ cus, sub, ps, pe, status = 'draft' }) {
  return S.standin.createInvoice({ customer: cus.id, subscription: sub.id, status, billing_reason: 'subscription_cycle',
    period_start: ps, period_end: pe, silent: true });
}

/** The job that bills b's period. */
export const jobOf = async (b) => (await query('SELECT state, attempts, last_error FROM jobs WHERE dedupe_key = ?', [`bill_period:${b.sub.id}:${b.ps}`]))[0];
/** The id of b's bill, once rated. */
export const billOf = async (b) => (await query('SELECT id FROM bills WHERE subscription_id = ? AND period_start = ?', [b.sub.id, b.ps]))[0]?.id;
/** The Idempotency-Key of a line of bill `bill` posted on its renewal invoice (docs/BILLING.md). */
export const keyOf = (bill, kind) => `xsb-bill-${bill}-${kind}-invoice`;
/** The stand-in's POSTs of invoice items onto invoice `inv`. */
export const itemPosts = async (inv) => (await S.standin.requests({ method: 'POST', path: '/v1/invoiceitems' })).filter((q) => q.form?.invoice === inv);
/** Our lines on the stand-in's invoice: [kind, cents], sorted. */
export const onInvoice = async (inv) => (await S.standin.object(inv)).lines.data.filter((l) => l.metadata?.kind)
  .map((l) => [l.metadata.kind, l.amount]).sort();

/* What billedUser()'s period bills, from the tier's terms (ai_secretary: 100 min and 100 SMS included; voice 1.3 c per
 * started minute of each call, SMS 0.75 c, the number 500 c), each line rounded half up once: [kind, cents]. */
export function expectedItems(usage = USAGE) {
  const minutes = usage.filter(([k]) => k === 'voice').reduce((m, [, s]) => m + Math.ceil(s / 60), 0);
  const sms = usage.filter(([k]) => k === 'sms').reduce((a, [, q]) => a + q, 0);
  const halfUp = (hundredths) => Math.floor((hundredths + 50) / 100); // hundredths of a cent -> cents
  return [['phone', 500], ['sms', halfUp(Math.max(0, sms - 100) * 75)], ['voice', halfUp(Math.max(0, minutes - 100) * 130)]]
    .filter(([k, c]) => k === 'phone' || c > 0);
}
