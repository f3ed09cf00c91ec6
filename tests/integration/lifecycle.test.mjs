// The randomized lifecycle of issue #14: many customers, each on its own Stripe test clock, over three
// billing cycles (XSB_LIFECYCLE_CYCLES), with usage (voice calls and SMS), upgrades and downgrades through our
// API, failed payments then a good card, cancellations (our POST /api/billing/cancel, and deletions made at
// Stripe: the dashboard's DELETE, or dunning after the last failed retry), late usage (rows of a period already
// billed), every event delivered 1-3 times in a seeded random order, our worker killed at random and
// restarted, Stripe answering 500 (before and after doing the work) and timing out. Then the lines the
// stand-in holds for every customer, on every invoice and pending, must equal a model of docs/BILLING.md
// written here (never our code's functions): none missing, none twice, to the cent.
//
//   make test                                      a fixed seed, 50 customers (XSB_LIFECYCLE_SEED, _CUSTOMERS)
//   make soak SEED=123 CUSTOMERS=200 CYCLES=4      a longer run; prints its seed
//
// Contract with the rating engine (docs/BILLING.md), as this test reads it:
// - our lines are invoice items with metadata[xsb_line] = "bill:<bill id>:<kind>" and metadata[kind] the same
//   kind, one of voice, sms, phone, voice_adjust, sms_adjust;
// - an ordinary line (voice, sms, phone) has `period` = the billed period [start, end) as Stripe stated it (for
//   the last period of an ended subscription: its whole period [current_period_start, current_period_end),
//   whose length L the allowance divides by, as in the worked example 5);
// - an adjustment line is on the next bill of the same subscription: its bill id is the one of that bill's
//   other lines.
// The model derives tier stretches from what this test did (the test clock's time of each change and the
// stand-in's ended_at), periods from the stand-in's subscriptions and renewal invoices, usage from what this
// test reported, and whether a number was held from phone_numbers (a fact, as cycles.test.mjs reads it) as it
// stood when the period was rated. (Our phone_numbers times are real time, the periods clock time: a number
// released, in real time, while the clock stands in a later period, e.g. at the end of a subscription that
// ended ahead of today, may or may not be released yet when that period is rated: the model accepts either.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import * as SB from './lib/sandbox.mjs';
import { request, closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { waitFor, sleep } from './lib/wait.mjs';
import { VAR_DIR, REPO_ROOT, requireEnv } from './lib/env.mjs';

const SEED = Number(process.env.XSB_LIFECYCLE_SEED || 14);
const N = Number(process.env.XSB_LIFECYCLE_CUSTOMERS || 50);
const CYCLES = Number(process.env.XSB_LIFECYCLE_CYCLES || 3);
const DAY = SB.DAY, HOUR = 3600;

// ---------------------------------------------------------------- the model (docs/BILLING.md) ----
// Prices and allowances per period; overage rates in hundredths of a cent.
const TIERS = {
  ai_buddy: { price: 0, voice: 0, sms: 0 },
  ai_secretary: { price: 4000, voice: 100, sms: 100 },
  ai_project_manager: { price: 28000, voice: 500, sms: 500 },
};
const RATE = { voice: 130, sms: 75 };
const PHONE_FEE = 500;
const lineCents = (kind, units) => Math.floor((units * RATE[kind] + 50) / 100); // round half up, once
const halfUp = (num, den) => Math.floor((2 * num + den) / (2 * den));
// Units of a usage row: a call is billed per started minute, a text per segment.
const units = (row) => (row.kind === 'voice' ? Math.ceil(row.q / 60) : row.q);
// The tier in force at t: the latest record at or before t (records in the order they happened), before the
// first record the first record's tier.
function tierAt(records, t) {
  let tier = records[0].tier;
  for (const r of records) if (r.t <= t) tier = r.tier;
  return tier;
}
// The allowance of `kind` over the period [s, e): floor(sum a_i * d_i / L) over the stretches of one tier.
function allowance(records, s, e, kind) {
  const cuts = [...new Set([s, ...records.map((r) => r.t).filter((t) => t > s && t < e), e])].sort((a, b) => a - b);
  let sum = 0;
  for (let i = 0; i + 1 < cuts.length; i++) sum += TIERS[tierAt(records, cuts[i])][kind] * (cuts[i + 1] - cuts[i]);
  return Math.floor(sum / (e - s));
}
const overage = (rows, kind, A) => Math.max(0, rows.filter((r) => r.kind === kind).reduce((a, r) => a + units(r), 0) - A);

// The lines a customer's bills must have: {ordinary: Map 'start:kind' -> {amount, why}, adjust: [{kind,
// amount, billStart, why}]}. bills: [{s, e, ratedSeq}] (from the stand-in), rows: what the test reported
// with the sequence number of its arrival, endedAt: the subscription's ended_at (or null), held(s, e, bill):
// true, false, or 'either'.
function modelLines(u, bills, endedAt, held) {
  const ordinary = new Map(), adjust = [];
  const billed = new Map(); // period start -> rows billed for it so far
  const inPeriod = (r, s, e) => r.at >= s && r.at < e && (endedAt === null || r.at < endedAt);
  for (const b of [...bills].sort((x, y) => x.ratedSeq - y.ratedSeq)) {
    const rows = u.rows.filter((r) => inPeriod(r, b.s, b.e) && r.seq < b.ratedSeq);
    billed.set(b.s, rows);
    for (const kind of ['voice', 'sms']) {
      const A = allowance(u.records, b.s, b.e, kind), O = overage(rows, kind, A);
      if (O > 0) ordinary.set(`${b.s}:${kind}`, { amount: lineCents(kind, O), why: `${O} over an allowance of ${A}` });
    }
    const h = held(b.s, endedAt === null ? b.e : Math.min(b.e, endedAt), b);
    if (h) ordinary.set(`${b.s}:phone`, { amount: PHONE_FEE, why: h === true ? 'a number held' : 'a number held until a release that may have come after rating', optional: h !== true });
    // late rows of periods billed before: an adjustment per kind on this bill
    for (const p of bills) {
      if (p === b || !billed.has(p.s) || p.ratedSeq >= b.ratedSeq) continue;
      const before_ = billed.get(p.s), late = u.rows.filter((r) => inPeriod(r, p.s, p.e) && r.seq < b.ratedSeq && !before_.includes(r));
      if (!late.length) continue;
      for (const kind of ['voice', 'sms']) {
        const A = allowance(u.records, p.s, p.e, kind), q = overage([...before_, ...late], kind, A) - overage(before_, kind, A);
        if (q > 0) adjust.push({ kind: `${kind}_adjust`, amount: lineCents(kind, q), billStart: b.s, why: `${q} late units of the period from ${iso(p.s)}` });
      }
      billed.set(p.s, [...before_, ...late]);
    }
  }
  return { ordinary, adjust };
}

// ---------------------------------------------------------------- the run ----
// A small seeded generator (mulberry32): the same seed draws the same customers, usage and actions.
function seeded(seed) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6D2B79F5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
const rand = seeded(SEED);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // integer in [lo, hi]
const iso = (t) => new Date(t * 1000).toISOString().replace(':00.000Z', 'Z');
const addMonth = (t) => { const d = new Date(t * 1000); d.setUTCMonth(d.getUTCMonth() + 1); return Math.floor(d / 1000); };

const now = Math.floor(Date.now() / 1000);
const t0 = Math.floor(now / DAY) * DAY - 35 * DAY + HOUR; // period 1 started 35 days ago: its usage can be reported
const P = [];
for (let k = 0, s = t0; k < CYCLES; k++, s = addMonth(s)) P.push([s, addMonth(s)]);

const customers = [];
const notes = []; // what did not settle in time (shown with the failures)
let svc, base, scenarioError = null;

// Runs fn over items, at most n at a time, in item order.
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); }
  }));
  return out;
}
// A call to our API through nginx, tried again (up to 5 times) when the connection breaks before an answer
// (a kept-alive connection nginx closed: ECONNRESET): the calls here are idempotent (usage by its key, tier
// changes by our API's own key).
async function api(method, pathname, opts) {
  for (let attempt = 0; ; attempt++) {
    try { return await request(method, pathname, opts); } catch (e) {
      if (attempt >= 4 || !/ECONNRESET|EPIPE|socket hang up/.test(`${e.code} ${e.message}`)) throw e;
      await sleep(100);
    }
  }
}
// One /v1 call with the stack's key; list calls page through everything.
async function listAll(pathname, params) {
  const out = [];
  for (let after_ = null; ;) {
    const r = await SB.stripe('GET', pathname, { ...params, limit: 100, ...(after_ ? { starting_after: after_ } : {}) });
    if (r.status !== 200) throw new Error(`GET ${pathname}: ${r.status} ${JSON.stringify(r.json)}`);
    out.push(...r.json.data);
    if (!r.json.has_more) return out;
    after_ = r.json.data.at(-1).id;
  }
}
// Waits until the stand-in has delivered what it queued and no clock advances, then until our jobs are done
// (those due within 30 s: a job backing off longer is noted, not waited for).
async function settle(what) {
  const start = Date.now();
  for (;;) {
    const r = await fetch(`${base}/__idle?max_ms=30000`);
    if (r.status === 200) break;
    if (Date.now() - start > 240000) throw new Error(`the stand-in is not idle after 240 s (${what})`);
  }
  try {
    await waitFor(async () => Number((await query("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('pending', 'running') AND run_after <= NOW(6) + INTERVAL 30 SECOND"))[0].n) === 0,
      { timeoutMs: 60000, intervalMs: 200, what: `our jobs done (${what})` });
  } catch (e) { notes.push(e.message); }
}
// Advances every customer's clock to to(u) at once, and records for each what this advance crossed.
async function advanceAll(to) {
  await Promise.all(customers.map(async (u) => {
    const target = to(u);
    const r = await SB.stripe('POST', `/v1/test_helpers/test_clocks/${u.clock}/advance`, { frozen_time: target });
    if (r.status !== 200) throw new Error(`${u.name}: advance to ${iso(target)}: ${r.status} ${JSON.stringify(r.json)}`);
    u.advances.push({ from: u.at, to: target, seq: ++u.seq, real: Math.floor(Date.now() / 1000) });
    u.at = target;
  }));
  await settle('advance');
  for (const u of customers) {
    const k = await SB.stripe('GET', `/v1/test_helpers/test_clocks/${u.clock}`);
    if (k.json.status !== 'ready' || k.json.frozen_time !== u.at) throw new Error(`${u.name}: clock ${k.json.status} at ${k.json.frozen_time}, wanted ready at ${u.at}`);
  }
}
// Reports rows of usage: through our API (a service token) where occurred_at is not in the future, straight into
// usage_events otherwise, as cycles.test.mjs does. All rows of one call arrive together (one sequence number).
async function deliverRows(u, rows) {
  if (!rows.length) return;
  const seq = ++u.seq, direct = [];
  for (const r of rows) {
    r.seq = seq;
    r.key = `life-${SEED}-${crypto.randomUUID()}`;
    u.rows.push(r);
    // our API takes 1 s and more (a 0 s call, as Twilio may report one, goes to the ledger directly)
    if (r.at > Math.floor(Date.now() / 1000) - 120 || r.q === 0) { direct.push(r); continue; }
    for (let attempt = 0; ; attempt++) {
      const res = await api('POST', '/api/usage', { token: svc, json: { user_id: u.user, kind: r.kind, quantity: r.q, occurred_at: r.at, idempotency_key: r.key } });
      if (res.status === 201 || res.status === 200) break;
      if (res.status < 500 || attempt >= 5) throw new Error(`${u.name}: POST /api/usage ${r.kind} ${r.q} at ${iso(r.at)}: ${res.status} ${res.text}`);
      await sleep(300);
    }
  }
  if (direct.length) {
    await query(`INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES ${direct.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`,
      direct.flatMap((r) => [u.user, r.kind, r.q, r.at, 'test', r.key]));
  }
}
// Draws usage of [from, to): about `scale` times the allowance of tierName (at least a few units), calls of
// 0 s to an hour (edges: 0, 1, 59, 60, 61, 120, 121 s), texts of several segments; a few at the edges of the span.
function drawUsage(tierName, from, to, scale) {
  const tier = TIERS[tierName], rows = [], span = to - from;
  if (span <= 0) return rows;
  const when = () => { const x = rand(); return x < 0.04 ? from : x < 0.08 ? to - 1 : from + Math.floor(rand() * span); };
  const wantMin = Math.floor(Math.max(3, tier.voice) * scale * (0.2 + rand()));
  for (let m = 0; m < wantMin;) {
    const q = rand() < 0.3 ? pick([0, 1, 59, 60, 61, 119, 120, 121]) : between(1, 3600);
    rows.push({ kind: 'voice', q, at: when() });
    m += Math.max(1, Math.ceil(q / 60));
  }
  const wantSms = Math.floor(Math.max(3, tier.sms) * scale * (0.2 + rand()));
  for (let n = 0; n < wantSms;) {
    const q = rand() < 0.5 ? between(1, 4) : between(1, Math.max(2, Math.floor(tier.sms / 4)));
    rows.push({ kind: 'sms', q, at: when() });
    n += q;
  }
  return rows;
}

// Kills our worker (SIGKILL, as worker.test.mjs does) after a random pause, then starts it again with
// `scripts/stack up` after another.
async function killWorker(pauseMs, downMs) {
  await sleep(pauseMs);
  const pidFile = path.join(VAR_DIR, 'run', 'worker.pid');
  try { process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL'); } catch (e) { notes.push(`worker kill: ${e.message}`); }
  await sleep(downMs);
  await new Promise((resolve, reject) => execFile(path.join(REPO_ROOT, 'scripts', 'stack'), ['up'], { env: process.env },
    (err, stdout, stderr) => (err ? reject(new Error(`stack up: ${err.message} ${stderr}`)) : resolve())));
}
// Stripe's bad moments, on the calls that post our lines: 500 before doing anything, 500 after doing it (the
// answer saved for the key), and a timeout (slower than our 5 s worker limit).
async function injectFaults() {
  const rules = [
    { count: between(1, 3), status: 500, path_prefix: '/v1/invoiceitems', method: 'POST', when: 'before' },
    { count: between(0, 1), status: 500, path_prefix: '/v1/invoiceitems', method: 'POST', when: 'after' },
    { count: between(0, 1), delay_ms: 6000, path_prefix: '/v1/invoiceitems', method: 'POST' },
    { count: between(0, 1), status: 500, path_prefix: '/v1/invoices', method: 'POST', when: 'before' },
    { count: between(0, 1), delay_ms: 6000, path_prefix: '/v1/invoices', method: 'POST' },
  ];
  for (const r of rules) if (r.count) await SB.control('POST', '/__fail', r);
}
const subOf = async (u) => (await SB.stripe('GET', `/v1/subscriptions/${u.subscription}`)).json;

// One period k: a stop at u.tau[k] (usage so far, late usage of the period before, the customer's action),
// then the period's end plus two hours (the renewal, its finalization an hour later, the payment).
async function period(k) {
  const [s, e] = P[k];
  // A customer whose renewal failed (past_due) mostly stops before Stripe's retries run out (day 7).
  const pre = await Promise.all(customers.map(subOf));
  customers.forEach((u, i) => {
    u.tau[k] = pre[i].status === 'past_due' && rand() < 0.75 ? between(s + DAY, s + 6 * DAY) : between(s + DAY, e - DAY);
  });
  await advanceAll((u) => u.tau[k]);
  const subs = await Promise.all(customers.map(subOf));
  // Decisions, in customer order (the same seed, the same run): usage, late usage, an action.
  const plans = customers.map((u, i) => {
    const sub = subs[i], tau = u.tau[k], alive = sub.status !== 'canceled';
    const all = drawUsage(alive ? tierAt(u.records, s) : 'ai_buddy', s, e, 1.1);
    const plan = { early: all.filter((r) => r.at < tau), rest: all.filter((r) => r.at >= tau), late: [], action: null };
    if (k > 0 && rand() < 0.35) {
      const [ps, pe] = P[k - 1];
      plan.late = Array.from({ length: between(1, 3) }, () => (rand() < 0.5 ? { kind: 'voice', q: between(60, 3000), at: between(ps, pe - 1) }
        : { kind: 'sms', q: between(5, 60), at: between(ps, pe - 1) }));
    }
    const x = rand();
    if (u.card !== 'pm_card_visa' && sub.status === 'past_due' && rand() < 0.8) plan.action = 'good_card';
    else if (sub.status === 'active' && !sub.cancel_at_period_end) {
      const tier = tierAt(u.records, tau);
      if (x < 0.22) plan.action = tier === 'ai_secretary' ? 'upgrade' : 'downgrade';
      else if (x < 0.28) plan.action = 'cancel';
      else if (x < 0.33) plan.action = 'delete';
      else if (x < 0.40 && k + 1 < CYCLES) plan.action = 'bad_card';
    }
    return plan;
  });
  await pool(customers, 8, async (u, i) => {
    const plan = plans[i], tau = u.tau[k];
    await deliverRows(u, plan.early);
    await deliverRows(u, plan.late);
    const act = plan.action;
    if (act === 'upgrade' || act === 'downgrade') {
      const to = act === 'upgrade' ? 'ai_project_manager' : 'ai_secretary', from = tierAt(u.records, tau);
      const r = await api('POST', `/api/billing/${act}`, { token: u.token, json: { target_tier: to } });
      if (r.status !== 200) throw new Error(`${u.name}: ${act} at ${iso(tau)}: ${r.status} ${r.text}`);
      u.seq++;
      u.records.push({ t: tau, tier: to });
      u.changes.push({ t: tau, from, to, s, e, prorated: act === 'upgrade' });
    } else if (act === 'cancel') {
      const r = await api('POST', '/api/billing/cancel', { token: u.token });
      if (r.status !== 200) throw new Error(`${u.name}: cancel at ${iso(tau)}: ${r.status} ${r.text}`);
      u.seq++;
      u.expectEnd = { t: e, how: 'cancel_at_period_end' };
    } else if (act === 'delete') {
      const r = await SB.stripe('DELETE', `/v1/subscriptions/${u.subscription}`);
      if (r.status !== 200) throw new Error(`${u.name}: DELETE at ${iso(tau)}: ${r.status} ${JSON.stringify(r.json)}`);
      u.deleted = { t: tau, ratedSeq: ++u.seq, ratedReal: Math.floor(Date.now() / 1000) };
      u.expectEnd = { t: tau, how: 'deleted at Stripe' };
    } else if (act === 'good_card' || act === 'bad_card') {
      u.card = act === 'good_card' ? 'pm_card_visa' : 'pm_card_chargeCustomerFail';
      await SB.setCard(u.customer, u.card);
    }
    u.log.push(`P${k + 1} stop ${iso(tau)}: ${act ?? 'no action'}; ${plan.early.length + plan.rest.length} rows, ${plan.late.length} late`);
  });
  await settle(`period ${k + 1} stop`);
  await pool(customers, 8, (u, i) => deliverRows(u, plans[i].rest));
  await injectFaults();
  const kill = rand() < 0.7 || k === 0 ? killWorker(between(200, 2500), between(200, 1500)) : null;
  await advanceAll(() => e + 2 * HOUR);
  await kill;
  await settle(`period ${k + 1} end`);
}

before(async () => {
  base = requireEnv('STRIPE_API_BASE').STRIPE_API_BASE;
  console.log(`lifecycle: seed ${SEED}, ${N} customers, ${CYCLES} cycles from ${iso(t0)} (XSB_LIFECYCLE_SEED=${SEED} to replay)`);
  await SB.control('POST', '/__webhook', { enabled: true, draft_window_ms: 1000, dunning: 'cancel',
    chaos: { seed: SEED, duplicate: 0.3, reorder: 0.3, delay_ms: 4, max_copies: 3 } });
  svc = SB.token(await SB.newUser('ai_buddy'), 'service');
  const started = Date.now();
  try {
    const specs = Array.from({ length: N }, (_, i) => ({ i, tier: rand() < 0.65 ? 'ai_secretary' : 'ai_project_manager', card: rand() < 0.15 ? 'pm_card_chargeCustomerFail' : 'pm_card_visa' }));
    await pool(specs, 8, async (sp) => {
      const user = await SB.newUser();
      const s = await SB.subscribe({ user, tier: sp.tier, t0, pm: sp.card, wait: false });
      customers[sp.i] = { ...s, name: `customer #${sp.i} ${s.customer} (user ${user})`, tier0: sp.tier, card: sp.card, at: t0, seq: 0,
        records: [{ t: t0, tier: sp.tier }], rows: [], advances: [], changes: [], tau: [], log: [`${sp.tier}, card ${sp.card}`], deleted: null, expectEnd: null };
    });
    await settle('subscriptions');
    let t = Date.now();
    console.log(`lifecycle: ${N} customers subscribed in ${Date.now() - started} ms`);
    for (let k = 0; k < CYCLES; k++) {
      await period(k);
      console.log(`lifecycle: period ${k + 1} in ${Date.now() - t} ms`);
      t = Date.now();
    }
  } catch (e) {
    scenarioError = e;
  }
});
after(async () => {
  await SB.control('POST', '/__fail', { clear: true }).catch(() => {});
  await SB.control('POST', '/__webhook', { enabled: false, chaos: null }).catch(() => {});
  closeHttp();
  await close();
});

// The stand-in's view of u once the run is over: its subscription, invoices with their lines, every invoice
// item (pending or not).
async function standIn(u) {
  const sub = await subOf(u);
  const invoices = (await listAll('/v1/invoices', { customer: u.customer })).reverse();
  for (const inv of invoices) inv.allLines = await listAll(`/v1/invoices/${inv.id}/lines`, {});
  const items = await listAll('/v1/invoiceitems', { customer: u.customer });
  return { sub, invoices, items, pending: items.filter((ii) => ii.invoice === null) };
}
// The bills of u, as Stripe's objects say: each renewal invoice's period (rated when the advance crossed its
// end), and the last period of an ended subscription (rated at ended_at).
function billsOf(u, view) {
  const crossing = (t) => { const a = u.advances.find((x) => x.from < t && t <= x.to); return { ratedSeq: a?.seq, ratedReal: a?.real }; };
  const bills = view.invoices.filter((i) => i.billing_reason === 'subscription_cycle')
    .map((i) => ({ s: i.period_start, e: i.period_end, ...crossing(i.period_end) }));
  if (view.sub.ended_at !== null) {
    const it = view.sub.items.data[0];
    bills.push({ s: it.current_period_start, e: it.current_period_end, ...(u.deleted ?? crossing(view.sub.ended_at)) });
  }
  return bills;
}
function records(u, view) {
  return view.sub.ended_at === null ? u.records : [...u.records.filter((r) => r.t < view.sub.ended_at), { t: view.sub.ended_at, tier: 'ai_buddy' }];
}
let views = null;
async function allViews() {
  if (scenarioError) throw scenarioError;
  views ??= await pool(customers, 8, standIn);
  return views;
}
const describe = (u) => `${u.name} [${u.log.join(' | ')}]`;

test('L1 Stripe\'s own lines: first invoices, every renewal at the price in force, prorations of upgrades, ends', { timeout: 900000 }, async () => {
  const vs = await allViews();
  const problems = [];
  customers.forEach((u, i) => {
    const v = vs[i], who = describe(u);
    const [first, ...rest] = v.invoices;
    if (!first || first.billing_reason !== 'subscription_create' || first.status !== 'paid' || first.total !== TIERS[u.tier0].price) {
      problems.push(`${who}: first invoice ${JSON.stringify(first && [first.billing_reason, first.status, first.total])}, want subscription_create paid ${TIERS[u.tier0].price}`);
    }
    const recs = records(u, v);
    const renewals = rest.filter((x) => x.billing_reason === 'subscription_cycle');
    const wantPeriods = P.filter(([, e]) => e <= u.at && (v.sub.ended_at === null || e < v.sub.ended_at));
    const got = renewals.map((x) => [x.period_start, x.period_end]);
    if (JSON.stringify(got) !== JSON.stringify(wantPeriods)) problems.push(`${who}: renewal periods ${JSON.stringify(got.map((p) => p.map(iso)))}, want ${JSON.stringify(wantPeriods.map((p) => p.map(iso)))}`);
    for (const r of renewals) {
      const subLine = r.allLines.filter((l) => l.parent.type === 'subscription_item_details' && !l.parent.subscription_item_details.proration);
      const want = TIERS[tierAt(recs, r.period_end - 1)].price;
      if (subLine.length !== 1 || subLine[0].amount !== want || subLine[0].period.start !== r.period_end) {
        problems.push(`${who}: renewal of ${iso(r.period_start)}: subscription lines ${JSON.stringify(subLine.map((l) => [l.amount, iso(l.period.start)]))}, want [${want}, ${iso(r.period_end)}]`);
      }
    }
    const want = u.changes.filter((c) => c.prorated).flatMap((c) => [-halfUp(TIERS[c.from].price * (c.e - c.t), c.e - c.s), halfUp(TIERS[c.to].price * (c.e - c.t), c.e - c.s)]).sort((a, b) => a - b);
    const prorations = v.items.filter((ii) => ii.proration).map((ii) => ii.amount).sort((a, b) => a - b);
    if (JSON.stringify(prorations) !== JSON.stringify(want)) problems.push(`${who}: proration items ${JSON.stringify(prorations)}, want ${JSON.stringify(want)}`);
    if (u.expectEnd && v.sub.ended_at !== u.expectEnd.t) problems.push(`${who}: ended_at ${v.sub.ended_at && iso(v.sub.ended_at)}, want ${iso(u.expectEnd.t)} (${u.expectEnd.how})`);
    if (v.sub.ended_at !== null && !u.expectEnd && v.sub.cancellation_details?.reason !== 'payment_failed') problems.push(`${who}: ended at ${iso(v.sub.ended_at)} for no reason this test knows`);
  });
  assert.deepEqual(problems, [], `seed ${SEED}: ${problems.length} problems`);
});

test('L2 our tier follows Stripe, whatever the order of the deliveries', { timeout: 120000 }, async () => {
  const vs = await allViews();
  const want = customers.map((u, i) => tierAt(records(u, vs[i]), u.at));
  const tiers = async () => Promise.all(customers.map(async (u) => (await query('SELECT tier FROM users WHERE id = ?', [u.user]))[0].tier));
  let got = [];
  try { await waitFor(async () => JSON.stringify(got = await tiers()) === JSON.stringify(want), { timeoutMs: 20000, what: 'our tiers' }); } catch { /* reported below */ }
  const problems = customers.filter((u, i) => got[i] !== want[i]).map((u) => `${describe(u)}: our tier ${got[customers.indexOf(u)]}, Stripe's ${want[customers.indexOf(u)]}`);
  assert.deepEqual(problems, [], `seed ${SEED}`);
});

test('L3 the lines at Stripe equal the model of docs/BILLING.md for every customer and period: none missing, none twice', { timeout: 300000 }, async () => {
  const vs = await allViews();
  const OURS = ['voice', 'sms', 'phone', 'voice_adjust', 'sms_adjust'];
  const problems = [];
  await pool(customers, 8, async (u, i) => {
    const v = vs[i], who = `${u.name}`, endedAt = v.sub.ended_at;
    const phones = await query('SELECT held_from, held_to FROM phone_numbers WHERE user_id = ?', [u.user]);
    // held at some moment of [s, e): as the rows say now, and as they said when bill b was rated (a release
    // not before the real time of the step that rated it may not have been there yet)
    const heldIf = (s, e, open) => phones.some((r) => Number(r.held_from) < e && (r.held_to === null || open(r) || Number(r.held_to) > s));
    const held = (s, e, b) => {
      const now_ = heldIf(s, e, () => false), then = heldIf(s, e, (r) => Number(r.held_to) >= b.ratedReal - 1);
      return now_ === then ? now_ : 'either';
    };
    const bills = billsOf(u, v);
    const m = modelLines({ ...u, records: records(u, v) }, bills, endedAt, held);
    // every line of ours the stand-in holds: on an invoice, or pending
    const found = [];
    for (const inv of v.invoices) for (const l of inv.allLines) if (l.metadata?.xsb_line || OURS.includes(l.metadata?.kind)) found.push({ where: `invoice ${inv.id} (${inv.billing_reason}, ${inv.status})`, l });
    for (const ii of v.pending) if (ii.metadata?.xsb_line || OURS.includes(ii.metadata?.kind)) found.push({ where: `pending item ${ii.id}`, l: ii });
    const lineOf = (f) => `${f.l.metadata.xsb_line ?? '(no xsb_line)'} ${f.l.amount} c, period ${iso(f.l.period?.start)}-${iso(f.l.period?.end)}, ${f.where}`;
    const keys = new Map(), byBill = new Map(), adjustGot = [], seen = new Map();
    for (const f of found) {
      const x = /^bill:([^:]+):([a-z_]+)$/.exec(f.l.metadata.xsb_line ?? '');
      if (!x || x[2] !== f.l.metadata.kind || !OURS.includes(x[2])) { problems.push(`${who}: a line not identified as ours (metadata ${JSON.stringify(f.l.metadata)}): ${lineOf(f)}`); continue; }
      if (keys.has(f.l.metadata.xsb_line)) { problems.push(`${who}: TWICE ${lineOf(f)} and ${lineOf(keys.get(f.l.metadata.xsb_line))}`); continue; }
      keys.set(f.l.metadata.xsb_line, f);
      if (x[2].endsWith('_adjust')) { adjustGot.push({ bill: x[1], kind: x[2], amount: f.l.amount, f }); continue; }
      const b = bills.find((y) => y.s === f.l.period.start);
      if (!b || f.l.period.end !== b.e) problems.push(`${who}: ${lineOf(f)}: its period is not a billed period (${bills.map((y) => `${iso(y.s)}-${iso(y.e)}`).join(', ')})`);
      byBill.set(x[1], f.l.period.start);
      const k = `${f.l.period.start}:${x[2]}`, want = m.ordinary.get(k);
      if (seen.has(k)) { problems.push(`${who}: period ${iso(f.l.period.start)} ${x[2]}: TWICE ${lineOf(f)} and ${lineOf(seen.get(k))}`); continue; }
      seen.set(k, f);
      if (!want) problems.push(`${who}: period ${iso(f.l.period.start)} ${x[2]}: stand-in ${lineOf(f)}, model: no line`);
      else if (want.amount !== f.l.amount) problems.push(`${who}: period ${iso(f.l.period.start)} ${x[2]}: stand-in ${lineOf(f)}, model ${want.amount} c (${want.why})`);
      m.ordinary.delete(k);
    }
    for (const [k, want] of m.ordinary) {
      const [s, kind] = k.split(':');
      if (want.optional) continue;
      problems.push(`${who}: period ${iso(Number(s))} ${kind}: MISSING at the stand-in, model ${want.amount} c (${want.why})`);
    }
    // adjustments: the same multiset per customer, each on the bill of the period the model puts it on
    const rest = [...adjustGot];
    for (const a of m.adjust) {
      const j = rest.findIndex((g) => g.kind === a.kind && g.amount === a.amount && (!byBill.has(g.bill) || byBill.get(g.bill) === a.billStart));
      if (j < 0) problems.push(`${who}: ${a.kind} on the bill of ${iso(a.billStart)}: MISSING at the stand-in, model ${a.amount} c (${a.why})`);
      else rest.splice(j, 1);
    }
    for (const g of rest) problems.push(`${who}: ${g.kind}: stand-in ${lineOf(g.f)}, model: no such adjustment (model: ${JSON.stringify(m.adjust.map((a) => [a.kind, a.amount, iso(a.billStart)]))})`);
  });
  problems.sort();
  const count = (re) => problems.filter((p) => re.test(p)).length;
  const summary = `${count(/MISSING/)} missing, ${count(/TWICE/)} twice, ${count(/not identified/)} not identified as ours, ${count(/model: no/)} not in the model, ${count(/stand-in .* c, model \d+ c/)} of another amount, ${count(/not a billed period/)} outside the billed periods`;
  const shown = problems.slice(0, 60).join('\n  ');
  assert.equal(problems.length, 0, `seed ${SEED}: ${problems.length} differences between the stand-in's lines and the model (${summary})${notes.length ? `; notes: ${notes.join('; ')}` : ''}:\n  ${shown}${problems.length > 60 ? '\n  ...' : ''}`);
});

test('L4 nothing stuck: every delivery was answered 2xx in the end', { timeout: 120000 }, async () => {
  if (scenarioError) throw scenarioError;
  let bad = [];
  try {
    await waitFor(async () => (bad = (await SB.control('GET', '/__deliveries')).filter((d) => d.state !== 'delivered')).length === 0, { timeoutMs: 90000, intervalMs: 500, what: 'deliveries' });
  } catch { /* reported below */ }
  assert.deepEqual(bad.map((d) => `${d.type} ${d.object} ${d.state} ${d.attempts.at(-1)?.status ?? d.attempts.at(-1)?.error}`), []);
});
