// Whole billing flows driven through the Stripe stand-in's objects and test clocks (tests/peers/README.md),
// shared by scripts/sandbox and the integration tests of whole cycles.
//
//   import * as SB from './lib/sandbox.mjs';
//   const user = await SB.newUser();
//   const s = await SB.subscribe({ user, tier: 'ai_secretary', t0, pm: 'pm_card_visa' }); // our checkout, paid
//   await SB.advance(s.clock, t0 + 31 * SB.DAY);                                          // renewal runs
//
// Our side is reached through our own API (nginx, a user token); Stripe's side through the stand-in's /v1
// API with the stack's secret key, as our programs call it, and its control endpoints where Stripe has
// only a person (paying on Checkout's page).
import crypto from 'node:crypto';
import { requireEnv } from './env.mjs';
import { request } from './http.mjs';
import { query } from './db.mjs';
import { mint } from './token.mjs';

export const DAY = 86400;
export const VERSION = '2026-10-28.endive';

// A token for a user (role: undefined for a user token, 'service' or 'admin').
export const token = (userId, role) => mint(['-u', userId, ...(role ? ['-r', role] : [])]);

// A new user of ours on `tier` (default the free one); returns its id.
export async function newUser(tier = 'ai_buddy') {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier) VALUES (?, ?, ?)', [id, `${id}@sandbox.example`, tier]);
  return id;
}

// One /v1 call to the stand-in, as our programs make them. params: a flat {key: value} (bracket keys).
export async function stripe(method, path, params) {
  const { STRIPE_API_BASE, STRIPE_SECRET_KEY } = requireEnv('STRIPE_API_BASE', 'STRIPE_SECRET_KEY');
  const h = { authorization: `Bearer ${STRIPE_SECRET_KEY}`, 'stripe-version': VERSION };
  let url = STRIPE_API_BASE + path, body;
  const form = params && new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  if (method === 'POST') { h['idempotency-key'] = `sandbox-${crypto.randomUUID()}`; h['content-type'] = 'application/x-www-form-urlencoded'; body = form; }
  else if (form) url += `?${form}`;
  const r = await fetch(url, { method, headers: h, body });
  return { status: r.status, json: await r.json() };
}
// A control endpoint of the stand-in (no auth, JSON).
export async function control(method, path, body) {
  const r = await fetch(requireEnv('STRIPE_API_BASE').STRIPE_API_BASE + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (r.status >= 400) throw new Error(`stand-in ${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}
// Waits until the stand-in has delivered what it queued and no clock is advancing.
export const idle = () => control('GET', '/__idle?max_ms=60000');

// Subscribes `user` to `tier` through our API (POST /api/billing/upgrade starts a Checkout session), puts
// the customer our API made on a new test clock frozen at t0, and completes the session as if the person
// paid with `pm` (which stays the customer's default card). Resolves once the events are delivered (with
// wait: false, at once: many subscribe together, then wait for idle() once).
export async function subscribe({ user, tier = 'ai_secretary', t0, pm = 'pm_card_visa', wait = true }) {
  const tok = token(user);
  const r = await request('POST', '/api/billing/upgrade', { token: tok, json: { target_tier: tier } });
  if (r.status !== 200 || r.json?.action !== 'checkout') throw new Error(`upgrade for ${user}: ${r.status} ${r.text}`);
  const cs = await control('GET', `/__objects/${r.json.session_id}`);
  const clock = await stripe('POST', '/v1/test_helpers/test_clocks', { frozen_time: t0, customer: cs.customer, name: `user ${user}` });
  if (clock.status !== 200) throw new Error(`test clock: ${clock.status} ${JSON.stringify(clock.json)}`);
  const done = await control('POST', `/__checkout/${cs.id}/complete`, { payment_method: pm });
  if (wait) await idle();
  return { user, token: tok, customer: cs.customer, clock: clock.json.id, subscription: done.subscription.id, session: cs.id };
}

// Advances a test clock to `to` (unix seconds) and waits until it is ready and its events are delivered.
export async function advance(clock, to) {
  const r = await stripe('POST', `/v1/test_helpers/test_clocks/${clock}/advance`, { frozen_time: to });
  if (r.status !== 200) throw new Error(`advance ${clock}: ${r.status} ${JSON.stringify(r.json)}`);
  await idle();
  const k = await stripe('GET', `/v1/test_helpers/test_clocks/${clock}`);
  if (k.json.status !== 'ready') throw new Error(`clock ${clock} is ${k.json.status}`);
  return k.json;
}

// Makes `pm` (pm_card_visa, pm_card_chargeCustomerFail, ...) the customer's default card, as a person
// updating their card would.
export async function setCard(customer, pm) {
  const r = await stripe('POST', `/v1/customers/${customer}`, { 'invoice_settings[default_payment_method]': pm });
  if (r.status !== 200) throw new Error(`card for ${customer}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

// Reports usage as the xSwarm app does (POST /api/usage with a service token).
export async function report(serviceToken, user, kind, quantity, occurredAt) {
  const json = { user_id: user, kind, quantity, idempotency_key: `sandbox-${crypto.randomUUID()}` };
  if (occurredAt !== undefined) json.occurred_at = occurredAt;
  return request('POST', '/api/usage', { token: serviceToken, json });
}

// The stand-in's invoices of a customer, oldest first (GET /v1/invoices, newest first at Stripe).
export async function invoicesOf(customer) {
  const r = await stripe('GET', '/v1/invoices', { customer, limit: 100 });
  if (r.status !== 200) throw new Error(`invoices of ${customer}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.data.reverse();
}
