// scripts/sandbox: watch billing happen in the local stack. A user of ours subscribes through our own API
// (Checkout), the Stripe stand-in puts the customer on a test clock, and every change (ours, the clock's,
// a card that fails) reaches our webhook as Stripe's signed events. Run it through scripts/sandbox.
import fs from 'node:fs';
import path from 'node:path';
import * as SB from '../tests/integration/lib/sandbox.mjs';
import { request, closeHttp } from '../tests/integration/lib/http.mjs';
import { close } from '../tests/integration/lib/db.mjs';
import { VAR_DIR } from '../tests/integration/lib/env.mjs';

const HELP = `usage: scripts/sandbox COMMAND [options]

  new [--tier T] [--card PM] [--days-ago N]
                       a new user subscribes to T (default ai_secretary) through our API's
                       Checkout, paying with PM (default pm_card_visa); the customer lives on a
                       test clock started N days ago (default 29: the first month ends soon)
  usage [--sms N] [--voice SECONDS]
                       reports usage (POST /api/usage, service token) at the clock's time
  advance --days N | --hours N | --month
                       moves the clock on; renewals, invoices, payments and retries happen
  card PM              the customer's card: pm_card_visa (pays) or pm_card_chargeCustomerFail
  upgrade T | downgrade T | cancel | resume
                       asks our API, as the user would
  show                 our view (usage, history) beside Stripe's (subscription, invoices, lines)
  events [N]           the last N (default 15) webhook deliveries and their answers
  use USER_ID          makes an earlier sandbox user the current one

The current user is kept in $XSB_VAR/sandbox.json (XSB_VAR: the stack, default var/).`;

const STATE = path.join(VAR_DIR, 'sandbox.json');
const load = () => {
  try { return JSON.parse(fs.readFileSync(STATE, 'utf8')); } catch { return { users: {} }; }
};
const save = (s) => fs.writeFileSync(STATE, JSON.stringify(s, null, 2) + '\n');
const die = (msg, code = 1) => { console.error(`sandbox: ${msg}`); process.exit(code); };
const day = (t) => (t ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 16) : '-');
const usd = (c) => (c === null || c === undefined ? '-' : `$${(c / 100).toFixed(2)}`);

function opts(argv, known) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--month') o.month = true;
    else if (known.includes(a.slice(2)) && argv[i + 1] !== undefined) o[a.slice(2)] = argv[++i];
    else if (a.startsWith('--')) die(`unexpected ${a}\n\n${HELP}`, 2);
    else o._.push(a);
  }
  return o;
}
function current(st) {
  const u = st.users[st.current];
  if (!u) die('no sandbox user yet: scripts/sandbox new');
  return u;
}
async function clockOf(u) { return (await SB.stripe('GET', `/v1/test_helpers/test_clocks/${u.clock}`)).json; }

async function show(u) {
  const clock = await clockOf(u);
  const tok = SB.token(u.user);
  const usage = (await request('GET', '/api/billing/usage', { token: tok })).json;
  const hist = (await request('GET', '/api/billing/history?limit=5', { token: tok })).json;
  const sub = (await SB.stripe('GET', `/v1/subscriptions/${u.subscription}`)).json;
  const invs = await SB.invoicesOf(u.customer);
  const cus = (await SB.stripe('GET', `/v1/customers/${u.customer}`)).json;
  console.log(`user ${u.user}   clock ${day(clock.frozen_time)} UTC (${clock.status})   card ${cus.invoice_settings?.default_payment_method}`);
  console.log('\n== ours (GET /api/billing/usage, /history)');
  if (usage?.error) console.log(`  usage: ${usage.error.code}`);
  else {
    console.log(`  tier ${usage.tier}, period ${day(usage.period.start)} .. ${day(usage.period.end)}`);
    console.log(`  used: voice ${usage.usage.voice_minutes} min, sms ${usage.usage.sms} (included ${usage.limits.voice_minutes} / ${usage.limits.sms});`
      + ` overage so far ${usd(usage.overage.total_cents)}`);
  }
  for (const i of (hist?.invoices ?? []).slice().reverse()) {
    console.log(`  invoice ${i.id} ${i.billing_reason.padEnd(19)} ${i.status.padEnd(6)} due ${usd(i.amount_due).padStart(8)} paid ${usd(i.amount_paid).padStart(8)}`
      + ` attempts ${i.attempt_count ?? 0}${i.next_payment_attempt ? `, next ${day(i.next_payment_attempt)}` : ''}`);
  }
  const ev = (hist?.events ?? []).slice(0, 5).map((e) => e.kind + (e.detail ? ` (${e.detail})` : ''));
  if (ev.length) console.log(`  latest events: ${ev.join(', ')}`);
  console.log('\n== Stripe (the stand-in)');
  const it = sub.items?.data?.[0];
  console.log(`  subscription ${sub.id} ${sub.status}${sub.cancel_at_period_end ? ' (cancels at period end)' : ''}, ${it?.price?.id},`
    + ` period ${day(it?.current_period_start)} .. ${day(it?.current_period_end)}`);
  for (const i of invs) {
    console.log(`  invoice ${i.id} ${i.billing_reason.padEnd(19)} ${i.status.padEnd(6)} total ${usd(i.total).padStart(8)} paid ${usd(i.amount_paid).padStart(8)}`
      + ` attempts ${i.attempt_count}${i.next_payment_attempt ? `, next ${day(i.next_payment_attempt)}` : ''}`);
    for (const l of i.lines.data) console.log(`      ${usd(l.amount).padStart(8)}  ${l.description}`);
  }
}

const argv = process.argv.slice(2);
const cmd = argv.shift();
if (!cmd || cmd === '-h' || cmd === '--help') { console.log(HELP); process.exit(cmd ? 0 : 2); }
const st = load();
const now = Math.floor(Date.now() / 1000);
try {
  switch (cmd) {
    case 'new': {
      const o = opts(argv, ['tier', 'card', 'days-ago']);
      const daysAgo = Number(o['days-ago'] ?? 29);
      if (!(daysAgo >= 0 && daysAgo <= 39)) die('--days-ago must be 0..39 (our API takes usage up to 40 days back)', 2);
      const user = await SB.newUser();
      const s = await SB.subscribe({ user, tier: o.tier || 'ai_secretary', t0: now - daysAgo * SB.DAY, pm: o.card || 'pm_card_visa' });
      delete s.token;
      st.users[user] = s;
      st.current = user;
      save(st);
      await show(s);
      break;
    }
    case 'use': {
      if (!st.users[argv[0]]) die(`no sandbox user ${argv[0]} (known: ${Object.keys(st.users).join(', ') || 'none'})`);
      st.current = argv[0];
      save(st);
      await show(st.users[argv[0]]);
      break;
    }
    case 'usage': {
      const u = current(st), o = opts(argv, ['sms', 'voice']);
      if (o.sms === undefined && o.voice === undefined) die('usage: scripts/sandbox usage [--sms N] [--voice SECONDS]', 2);
      const t = (await clockOf(u)).frozen_time;
      if (t > now) die(`the clock (${day(t)}) is ahead of today: our API takes no usage from the future`);
      const svc = SB.token(u.user, 'service');
      for (const [kind, q] of [['sms', o.sms], ['voice', o.voice]]) {
        if (q === undefined) continue;
        const r = await SB.report(svc, u.user, kind, Number(q), t);
        console.log(`POST /api/usage ${kind} ${q} at ${day(t)} -> ${r.status}${r.status >= 300 ? ` ${r.text}` : ''}`);
      }
      break;
    }
    case 'advance': {
      const u = current(st), o = opts(argv, ['days', 'hours']);
      const t = (await clockOf(u)).frozen_time;
      let to;
      if (o.month) { const d = new Date(t * 1000); d.setUTCMonth(d.getUTCMonth() + 1); to = Math.floor(d / 1000) + 2 * 3600; }
      else if (o.days !== undefined) to = t + Math.round(Number(o.days) * SB.DAY);
      else if (o.hours !== undefined) to = t + Math.round(Number(o.hours) * 3600);
      else die('advance --days N | --hours N | --month', 2);
      const before = (await SB.control('GET', '/__deliveries')).length;
      await SB.advance(u.clock, to);
      const sent = (await SB.control('GET', '/__deliveries')).slice(before).filter((d) => !d.type.startsWith('test_helpers'));
      console.log(`clock ${day(t)} -> ${day(to)}; events: ${sent.map((d) => `${d.type} (${d.attempts.at(-1)?.status ?? d.state})`).join(', ') || 'none'}\n`);
      await show(u);
      break;
    }
    case 'card': {
      const u = current(st);
      if (!/^pm_/.test(argv[0] || '')) die('card pm_card_visa | pm_card_chargeCustomerFail', 2);
      await SB.setCard(u.customer, argv[0]);
      await SB.idle();
      console.log(`customer ${u.customer} now pays with ${argv[0]}`);
      break;
    }
    case 'upgrade': case 'downgrade': case 'cancel': case 'resume': {
      const u = current(st);
      const json = cmd === 'upgrade' || cmd === 'downgrade' ? { target_tier: argv[0] } : undefined;
      if (json && !argv[0]) die(`${cmd} TIER`, 2);
      const r = await request('POST', `/api/billing/${cmd}`, { token: SB.token(u.user), json: json ?? {} });
      console.log(`POST /api/billing/${cmd} -> ${r.status} ${r.text}`);
      await SB.idle();
      break;
    }
    case 'show': await show(current(st)); break;
    case 'events': {
      const n = Number(argv[0] ?? 15);
      for (const d of (await SB.control('GET', '/__deliveries')).slice(-n)) {
        const a = d.attempts.at(-1);
        console.log(`${d.event} ${d.type.padEnd(36)} ${d.state.padEnd(9)} ${d.attempts.length} attempt(s), last ${a ? `${a.status ?? a.error} ${a.response ?? ''}` : '-'}`);
      }
      break;
    }
    default: die(`unknown command ${cmd}\n\n${HELP}`, 2);
  }
} finally {
  closeHttp();
  await close();
}
