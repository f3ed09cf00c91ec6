// scripts/trigger: sends a realistic signed Stripe event for a user to a
// running stack, like `stripe trigger`, so the whole flow can be watched in
// the sandbox. Run it through scripts/trigger (which finds the stack).
import crypto from 'node:crypto';
import * as S from '../tests/integration/lib/stripe.mjs';
import { query, close } from '../tests/integration/lib/db.mjs';
import { env } from '../tests/integration/lib/env.mjs';
import { closeHttp } from '../tests/integration/lib/http.mjs';

const TYPES = {
  'checkout.session.completed': 'links a Stripe customer to the user',
  'customer.subscription.created': 'starts a subscription on --tier (default ai_secretary)',
  'customer.subscription.updated': 'changes the subscription: --tier, --status, --cancel-at-period-end',
  'customer.subscription.deleted': 'ends the user\'s subscription',
  'customer.subscription.paused': 'pauses the subscription (status paused)',
  'customer.subscription.resumed': 'resumes a paused subscription (status active)',
  'customer.subscription.trial_will_end': 'trial ends in --days (default 3)',
  'invoice.created': 'a draft renewal invoice for the period that just ended (bills overage)',
  'invoice.finalized': 'the renewal invoice finalized (open)',
  'invoice.paid': 'the renewal invoice paid; the cycle moves on',
  'invoice.payment_succeeded': 'the renewal invoice paid (Stripe sends it beside invoice.paid)',
  'invoice.payment_action_required': 'the payment awaits the customer (3-D Secure)',
  'invoice.voided': 'the renewal invoice voided',
  'invoice.marked_uncollectible': 'the renewal invoice marked uncollectible',
  'invoice.payment_failed': 'the renewal invoice failed (--amount cents)',
  'invoice.upcoming': 'the renewal notice (projected overage)',
};

function usage(code) {
  console.error('usage: scripts/trigger TYPE [--user ID] [--tier T] [--status S] [--cancel-at-period-end] [--days N] [--amount CENTS] [--shape current|2023-08-16]\n\n--shape: the API version the event is rendered in (default current, 2026-10-28.endive)\n\nTYPE:');
  for (const [t, d] of Object.entries(TYPES)) console.error(`  ${t.padEnd(38)} ${d}`);
  process.exit(code);
}

const argv = process.argv.slice(2);
const type = argv.shift();
if (!type || type === '-h' || type === '--help') usage(type ? 0 : 2);
if (!TYPES[type]) { console.error(`trigger: unknown type ${type}`); usage(2); }
const opt = {};
for (let i = 0; i < argv.length; i++) {
  const k = argv[i];
  if (k === '--cancel-at-period-end') opt.cancel = true;
  else if (['--user', '--tier', '--status', '--days', '--amount', '--shape'].includes(k) && argv[i + 1]) opt[k.slice(2)] = argv[++i];
  else { console.error(`trigger: unexpected ${k}`); usage(2); }
}
const shape = opt.shape || 'current';
if (!S.SHAPES.includes(shape)) { console.error(`trigger: --shape must be one of ${S.SHAPES.join(', ')}`); process.exit(2); }
const PRICES = { ai_secretary: 'price_ai_secretary', ai_project_manager: 'price_ai_project_manager', ai_cto: 'price_ai_cto' };
const tier = opt.tier || 'ai_secretary';
if (!PRICES[tier]) { console.error(`trigger: --tier must be one of ${Object.keys(PRICES).join(', ')}`); process.exit(2); }

const userId = opt.user || env.DEMO_USER_ID;
const [user] = await query('SELECT id, stripe_customer_id, subscription_id, billing_cycle_start, billing_cycle_end FROM users WHERE id = ?', [userId]);
if (!user) { console.error(`trigger: no user ${userId}`); process.exit(1); }
const now = Math.floor(Date.now() / 1000);
let customer = user.stripe_customer_id;
if (!customer && type !== 'checkout.session.completed') {
  /* As after a checkout: link a customer first. */
  customer = S.rid('cus_');
  await query('UPDATE users SET stripe_customer_id = ? WHERE id = ? AND stripe_customer_id IS NULL', [customer, userId]);
}
const subId = user.subscription_id || S.rid('sub_');
const ps = Number(user.billing_cycle_start) || now, pe = Number(user.billing_cycle_end) || ps + 30 * 86400;
const sub = (o = {}) => S.subscription({ shape, id: subId, customer, price: PRICES[tier], user_id: userId,
  current_period_start: ps, current_period_end: pe, status: opt.status || 'active', cancel_at_period_end: !!opt.cancel, ...o });
const renewal = (o = {}) => S.invoice({ shape, id: S.rid('in_'), customer, subscription: subId, user_id: userId, billing_reason: 'subscription_cycle',
  period_start: ps - 30 * 86400, period_end: ps, lines: [{ amount: Number(opt.amount || 4000), type: 'subscription', period: { start: ps, end: pe } }], ...o });

let object;
switch (type) {
  case 'checkout.session.completed': object = S.checkoutSession({ shape, user_id: userId, customer: customer || S.rid('cus_'), subscription: subId }); break;
  case 'customer.subscription.created': case 'customer.subscription.updated': object = sub(); break;
  case 'customer.subscription.deleted': object = sub({ status: 'canceled', ended_at: now }); break;
  case 'customer.subscription.paused': object = sub({ status: 'paused' }); break;
  case 'customer.subscription.resumed': object = sub({ status: 'active' }); break;
  case 'customer.subscription.trial_will_end': object = sub({ status: 'trialing', trial_end: now + Number(opt.days || 3) * 86400 }); break;
  case 'invoice.created': object = renewal({ status: 'draft' }); break;
  case 'invoice.paid': case 'invoice.payment_succeeded': object = renewal({ status: 'paid' }); break;
  case 'invoice.finalized': case 'invoice.payment_action_required': object = renewal({ status: 'open' }); break;
  case 'invoice.voided': object = renewal({ status: 'void' }); break;
  case 'invoice.marked_uncollectible': object = renewal({ status: 'uncollectible' }); break;
  case 'invoice.payment_failed': object = renewal({ status: 'open', attempt_count: 1, hosted_invoice_url: `https://invoice.stripe.com/i/${crypto.randomBytes(8).toString('hex')}` }); break;
  case 'invoice.upcoming': object = renewal({ status: 'draft' }); delete object.id; break;
}
// The objects the event is about are made (or set) at the Stripe stand-in too, silently (the event sent is
// this hand-made one), so that what follows from it works: the worker adds items to the invoice of
// invoice.created, and upgrade/cancel/upcoming find the subscription.
async function standin(path, body) {
  const r = await fetch(env.STRIPE_API_BASE + path, { method: path.startsWith('/__objects/') ? 'GET' : 'POST',
    body: path.startsWith('/__objects/') ? undefined : JSON.stringify({ ...body, silent: true }) });
  return { status: r.status, json: await r.json() };
}
async function mirror() {
  if (type === 'checkout.session.completed' || type === 'invoice.upcoming') return;
  if ((await standin(`/__objects/${customer}`)).status === 404) await standin('/__customers', { id: customer, email: `${userId}@sandbox.example` });
  const have = (await standin(`/__objects/${subId}`)).status === 200;
  if (type.startsWith('customer.subscription.') || !have) {
    const r = await standin('/__subscriptions', { id: subId, customer, price: PRICES[tier], status: object.status ?? 'active',
      current_period_start: ps, current_period_end: pe, cancel_at_period_end: !!opt.cancel, metadata: { user_id: String(userId) },
      item_id: object.items?.data?.[0]?.id });
    if (r.status !== 200) throw new Error(`stand-in subscription: ${r.status} ${JSON.stringify(r.json)}`);
  }
  if (type.startsWith('invoice.')) {
    const r = await standin('/__invoices', { id: object.id, subscription: subId, status: object.status, billing_reason: 'subscription_cycle',
      period_start: object.period_start, period_end: object.period_end, include_pending: false });
    if (r.status !== 200) throw new Error(`stand-in invoice: ${r.status} ${JSON.stringify(r.json)}`);
  }
}
try { await mirror(); } catch (e) { console.error(`trigger: could not mirror the objects at the Stripe stand-in (${e.message}); sending the event anyway`); }

const ev = S.event(type, object);
const r = await S.signedWebhook(ev);
console.log(`${type} ${ev.id} for user ${userId} -> ${r.status} ${r.text}`);
closeHttp();
await close();
process.exit(r.status === 200 ? 0 : 1);
