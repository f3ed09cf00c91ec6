// Writes signed Stripe events for wrk, one per line: <Stripe-Signature>\t<body>.
//   node tests/bench/gen-events.mjs --out FILE --count N --type TYPE [--same] [--prefix P]
//        [--indexes FILE] [--created T]
// Signatures come from the npm `stripe` package, as Stripe would send them.
// --same writes N deliveries of one event (the duplicate workload).
// --indexes writes the events of the numbers listed in FILE (one a line)
// instead of 0..N-1, and --created gives their `created` time: with the
// prefix and time of an earlier file, the same events again (Stripe's
// redeliveries: same id and body, a fresh signature).
import fs from 'node:fs';
import Stripe from 'stripe';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => {
  if (v.startsWith('--')) a.push([v.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return a;
}, []));
const secret = (process.env.STRIPE_WEBHOOK_SECRETS || '').split(',')[0].trim();
if (!secret || !args.out) { console.error('needs STRIPE_WEBHOOK_SECRETS and --out'); process.exit(2); }
const count = Number(args.count || 100000), type = args.type || 'customer.subscription.updated';
const prefix = args.prefix || `evt_bench_${Date.now().toString(36)}_`;
const stripe = new Stripe('sk_test_bench');
const now = Math.floor(Date.now() / 1000);
const created = args.created ? Number(args.created) : now;
const indexes = args.indexes
  ? fs.readFileSync(args.indexes, 'utf8').split('\n').filter(Boolean).map(Number) : null;

function event(i) {
  // Today's shape (2026-10-28.endive): the period is on the item.
  const sub = { id: `sub_bench${i}`, object: 'subscription', customer: `cus_bench_unknown_${i % 1000}`, status: 'active',
    cancel_at_period_end: false, metadata: {},
    items: { object: 'list', data: [{ id: `si_bench${i}`, object: 'subscription_item', current_period_start: created,
      current_period_end: created + 2592000, price: { id: 'price_ai_secretary', object: 'price', unit_amount: 4000 } }] } };
  return JSON.stringify({ id: `${prefix}${i}`, object: 'event', api_version: '2026-10-28.endive', created, livemode: false,
    pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, data: { object: sub } });
}

const out = fs.createWriteStream(args.out);
const one = args.same ? event(0) : null;
const oneSig = one ? stripe.webhooks.generateTestHeaderString({ payload: one, secret, timestamp: now }) : null;
const n = indexes ? indexes.length : count;
for (let i = 0; i < n; i++) {
  const body = one ?? event(indexes ? indexes[i] : i);
  const sig = oneSig ?? stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: now });
  out.write(`${sig}\t${body}\n`);
}
out.end(() => console.log(`${n} ${args.same ? 'deliveries of one event' : 'events'} (${prefix}*) -> ${args.out}`));
