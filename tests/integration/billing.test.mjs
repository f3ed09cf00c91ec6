// Billing API (/api/billing/...): through nginx to xsb-billing, against
// MariaDB and the Stripe stand-in.  Every test makes its own users (random
// uuids) and finds its own Stripe requests by their ids, so tests do not
// see each other.  Subscriptions are set up as the webhook would leave
// them (rows in subscriptions + users) unless a test delivers the webhook.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { request, closeHttp, metricCounters } from './lib/http.mjs';
import { query, close, statementSql } from './lib/db.mjs';
import { env, requireEnv, VAR_DIR } from './lib/env.mjs';
import * as S from './lib/stripe.mjs';
import { mint } from './lib/token.mjs';

test.after(async () => { closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
// The earliest second the server may read as "now" after this call: its time() reads the
// kernel's coarse clock, which trails Date.now() by up to a tick, so at a second's turn
// it can still say the previous second (B8 failed once so).
const serverEarliest = () => now() - 1;
const DAY = 86400;
/** Cents of hundredths of a cent, half up (the price list's rates are in hundredths). */
const halfUp = (hundredths) => Math.floor((hundredths + 50) / 100);
const PRICE = { ai_secretary: 'price_ai_secretary', ai_project_manager: 'price_ai_project_manager', ai_cto: 'price_ai_cto' };
const CENTS = { ai_buddy: 0, ai_secretary: 4000, ai_project_manager: 28000 };

before(async () => {
  // The stack registers the tier prices with the stand-in; make sure of it.
  for (const tier of ['ai_secretary', 'ai_project_manager']) {
    try { await S.standin.object(PRICE[tier]); } catch { await S.standin.createPrice({ id: PRICE[tier], unit_amount: CENTS[tier] }); }
  }
});

// ---------- tokens ----------
const stackEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(env).map((k) => [k, env[k]])) });
/** A token minted by our own xsb-token (the real signer). */
function token(userId, args = []) {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  return execFileSync(`${XSB_BIN}/xsb-token`, ['-u', userId, ...args], { env: stackEnv(), encoding: 'utf8' }).trim();
}
const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A token signed here, to forge what xsb-token would never make. */
function jwt(claims, { secret = requireEnv('JWT_SECRET').JWT_SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const data = `${b64u(header)}.${b64u(claims)}`;
  if (header.alg === 'none') return `${data}.`;
  return `${data}.${crypto.createHmac('sha256', secret).update(data).digest('base64url')}`;
}
const claims = (userId, o = {}) => ({ iss: env.JWT_ISSUER || 'xswarm-api', aud: env.JWT_AUDIENCE || 'xswarm-users', userId,
  jwtVersion: 1, iat: now() - 10, nbf: now() - 10, exp: now() + 600, ...o });

// ---------- fixtures ----------
/** A user row; customer: true creates one at the stand-in, a string uses it, false leaves none. */
async function newUser({ tier = 'ai_buddy', customer = false } = {}) {
  const id = crypto.randomUUID(), email = `${id}@example.test`;
  let cus = null;
  if (customer === true) cus = (await S.standin.createCustomer({ email, metadata: { user_id: id } })).id;
  else if (customer) cus = customer;
  await query('INSERT INTO users (id, email, tier, stripe_customer_id) VALUES (?, ?, ?, ?)', [id, email, tier, cus]);
  return { id, email, customer: cus, token: token(id) };
}

/**
 * Gives u a live subscription at the stand-in and in our rows, as the
 * webhook would have stored it.  Returns {id, item, last_event, start, end}.
 */
async function subscribe(u, { tier = 'ai_secretary', start = now() - 10 * DAY, end = now() + 20 * DAY, cancel = false, storeItem = true } = {}) {
  const sub = await S.standin.createSubscription({ customer: u.customer, price: PRICE[tier], current_period_start: start,
    current_period_end: end, status: 'active', cancel_at_period_end: cancel, metadata: { user_id: u.id } });
  const item = sub.items.data[0].id, last_event = S.rid('evt_');
  await query(`INSERT INTO subscriptions (id, user_id, customer_id, status, tier, price_id, item_id, current_period_start,
    current_period_end, cancel_at_period_end, deleted, last_event_id, last_event_created, last_event_rank)
    VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, 0, ?, ?, 0)`,
  [sub.id, u.id, u.customer, tier, PRICE[tier], storeItem ? item : null, start, end, cancel ? 1 : 0, last_event, now() - 100]);
  await query('UPDATE users SET tier = ?, subscription_id = ?, billing_cycle_start = ?, billing_cycle_end = ? WHERE id = ?',
    [tier, sub.id, start, end, u.id]);
  return { id: sub.id, item, last_event, start, end };
}

/** A paying user with a live subscription. */
async function subscriber(tier = 'ai_secretary', opts = {}) {
  const u = await newUser({ tier, customer: true });
  u.sub = await subscribe(u, { tier, ...opts });
  return u;
}

const api = (method, path, u, json) => request(method, path, { token: u.token ?? u, json });
/** Stand-in requests whose Idempotency-Key or customer belongs to u. */
async function stripeCalls(u, filter = {}) {
  const all = await S.standin.requests(filter);
  return all.filter((r) => (r.idempotency_key || '').includes(u.id) || (u.customer && r.form?.customer === u.customer)
    || (u.sub && r.path.endsWith(`/${u.sub.id}`)));
}
const subRow = async (id) => (await query('SELECT * FROM subscriptions WHERE id = ?', [id]))[0];
const userRow = async (id) => (await query('SELECT * FROM users WHERE id = ?', [id]))[0];
function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json?.error?.message, 'string', r.text);
  if (code) assert.equal(r.json.error.code, code, r.text);
}

// ---------- authentication ----------
const ENDPOINTS = [
  ['GET', '/api/billing/usage'],
  ['GET', '/api/billing/history'],
  ['POST', '/api/billing/estimate', { target_tier: 'ai_secretary' }],
  ['GET', '/api/billing/upcoming'],
  ['POST', '/api/billing/upgrade', { target_tier: 'ai_secretary' }],
  ['POST', '/api/billing/downgrade', { target_tier: 'ai_buddy' }],
  ['POST', '/api/billing/cancel'],
  ['POST', '/api/billing/resume'],
];

test('B1 every endpoint answers 401 to a missing, forged, expired, wrong-audience, alg-none, unknown-user or revoked token', async () => {
  const u = await newUser();
  const good = jwt(claims(u.id));
  const ok = await api('GET', '/api/billing/usage', good);
  assert.equal(ok.status, 200, `the test's own signer must be right: ${ok.text}`);
  const revokable = token(u.id);
  await query('UPDATE users SET jwt_version = jwt_version + 1 WHERE id = ?', [u.id]);
  const bad = {
    missing: null,
    forged: jwt(claims(u.id), { secret: 'not-the-secret' }),
    expired: jwt(claims(u.id, { iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })),
    wrong_audience: jwt(claims(u.id, { aud: 'someone-else' })),
    alg_none: jwt(claims(u.id), { header: { alg: 'none', typ: 'JWT' } }),
    unknown_user: jwt(claims(crypto.randomUUID())),
    revoked: revokable,
  };
  for (const [method, path, json] of ENDPOINTS) {
    for (const [why, tok] of Object.entries(bad)) {
      const r = await request(method, path, { token: tok ?? undefined, json });
      assertError(r, 401);
      if (why === 'revoked') assert.equal(r.json.error.code, 'token_revoked');
    }
  }
  assert.equal((await stripeCalls(u)).length, 0, 'no Stripe call without a valid token');
});

test('B2 unknown billing paths are 404 JSON, a wrong method 405', async () => {
  const u = await newUser();
  assertError(await api('GET', '/api/billing/nope', u), 404, 'not_found');
  assertError(await api('GET', '/api/billing/upgrade', u), 405, 'method_not_allowed');
  assertError(await api('POST', '/api/billing/usage', u, {}), 405, 'method_not_allowed');
  assertError(await api('DELETE', '/api/billing/cancel', u), 405, 'method_not_allowed');
});

// ---------- usage ----------
test('B3 usage: the cycle, per-call minutes, overage, phone fee and percentages', async () => {
  const u = await subscriber('ai_secretary');
  const { start, end } = u.sub;
  const ins = (kind, q, at) => query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
    [u.id, kind, q, at, 'test', crypto.randomUUID()]);
  await ins('voice', 61, start + 10);        // 2 minutes
  await ins('voice', 3600, start + 20);      // 60
  await ins('voice', 2400, end - 10);        // 40 -> 102 minutes, 2 over
  await ins('voice', 600, start - 1);        // before the period: not counted
  await ins('voice', 600, end);              // the end is outside [start, end)
  await ins('sms', 120, start + 30);         // 20 over
  await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from) VALUES (?, ?, ?, ?)',
    [u.id, '+1555' + String(Math.floor(Math.random() * 1e7)).padStart(7, '0'), 'PN' + crypto.randomBytes(16).toString('hex'), start - DAY]);
  const r = await api('GET', '/api/billing/usage', u);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    tier: 'ai_secretary',
    period: { start, end },
    usage: { voice_seconds: 6061, voice_minutes: 102, calls: 3, sms: 120 },
    limits: { voice_minutes: 100, sms: 100 },
    overage: { voice_minutes: 2, voice_cents: 3, sms: 20, sms_cents: 15, phone_fee_cents: 500, total_cents: 518 },
    percent_used: { voice: 102, sms: 120 },
  });
});

test('B4 usage: unlimited tiers give -1 limits and null percentages; without a cycle the period is the UTC month', async () => {
  const u = await newUser({ tier: 'ai_cto' });
  await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
    [u.id, 'voice', 90000, now() - 5, 'test', crypto.randomUUID()]);
  const r = await api('GET', '/api/billing/usage', u);
  assert.equal(r.status, 200, r.text);
  const d = new Date();
  assert.deepEqual(r.json.period, { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000 });
  assert.deepEqual(r.json.limits, { voice_minutes: -1, sms: -1 });
  assert.deepEqual(r.json.percent_used, { voice: null, sms: null });
  assert.equal(r.json.usage.voice_minutes, 1500);
  assert.equal(r.json.overage.total_cents, 0);
  // ai_buddy includes nothing: any use is all of it, over the allowance; no subscription bills it (B4d).
  const b = await newUser();
  await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
    [b.id, 'sms', 4, now() - 5, 'test', crypto.randomUUID()]);
  const rb = await api('GET', '/api/billing/usage', b);
  assert.deepEqual(rb.json.percent_used, { voice: 0, sms: 100 });
  assert.deepEqual(rb.json.overage, { voice_minutes: 0, voice_cents: 0, sms: 4, sms_cents: 0, phone_fee_cents: 0, total_cents: 0 });
});

// B4d: usage no bill will charge (docs/BILLING.md: without a live subscription it is shown against the UTC month and
// never billed) shows its units over the allowance and no money: an ai_buddy whose texts and calls the app reports,
// a user whose subscription was deleted and who still holds a number (its grace), a paid tier with no subscription.
// The units are worked out here from the rows written; the cents of a bill would not be 0 (1.3 c a minute, 0.75 c a
// text, 500 c the number), so 0 is the rule under test, not a rounding.
test('B4d usage without a live subscription: units over the allowance shown, no cents, in the API and the admin view', async () => {
  const svc = mint(['-u', 'b4d-svc', '-r', 'service']), admin = mint(['-u', 'b4d-ops', '-r', 'admin']);
  const d = new Date();
  const month = { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000 };
  const at = Math.max(month.start, now() - 60);
  const report = async (u, kind, quantity) => {
    const r = await api('POST', '/api/usage', svc, { user_id: u.id, kind, quantity, occurred_at: at, idempotency_key: `b4d-${crypto.randomUUID()}` });
    assert.equal(r.status, 201, r.text);
  };
  const noMoney = { voice_cents: 0, sms_cents: 0, phone_fee_cents: 0, total_cents: 0 };
  // An ai_buddy (0 and 0 included): 12 texts and a call of 125 s (3 started minutes), reported by the app.
  const buddy = await newUser();
  await report(buddy, 'sms', 12);
  await report(buddy, 'voice', 125);
  // A secretary's subscription deleted (ai_buddy now), the number still held: 7 texts since.
  const gone = await subscriber('ai_secretary');
  await query("UPDATE subscriptions SET status = 'canceled', deleted = 1 WHERE id = ?", [gone.sub.id]);
  await query("UPDATE users SET tier = 'ai_buddy' WHERE id = ?", [gone.id]);
  await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from) VALUES (?, ?, ?, ?)',
    [gone.id, '+1555' + String(Math.floor(Math.random() * 1e7)).padStart(7, '0'), 'PN' + crypto.randomBytes(16).toString('hex'), month.start - DAY]);
  await report(gone, 'sms', 7);
  // ai_secretary with no subscription (100 and 100 included): 130 texts, 30 over.
  const paid = await newUser({ tier: 'ai_secretary' });
  await report(paid, 'sms', 130);
  const want = [
    [buddy, { voice_minutes: 3, sms: 12 }, [0, 0]],
    [gone, { voice_minutes: 0, sms: 7 }, [0, 0]],
    [paid, { voice_minutes: 0, sms: 30 }, [100, 100]],
  ];
  for (const [u, over, [vi, si]] of want) {
    const r = await api('GET', '/api/billing/usage', u);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.period, month);
    assert.deepEqual([r.json.limits.voice_minutes, r.json.limits.sms], [vi, si]);
    assert.deepEqual(r.json.overage, { ...over, ...noMoney }, `user ${want.findIndex((w) => w[0] === u)}`);
    const a = await request('GET', `/api/admin/users/${u.id}`, { token: admin });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual([a.json.usage.overage_cents, a.json.usage.phone_fee_cents], [0, 0]);
  }
});

/** The usage reads' batch counters of /metrics (xsb_usage_read_*). */
async function usageReads() {
  const m = await metricCounters('xsb_usage_read_batches_total', 'xsb_usage_read_batched_requests_total');
  return { batches: m.xsb_usage_read_batches_total, batched: m.xsb_usage_read_batched_requests_total };
}

test('B4b usage of many users at once: read several a round trip, each answered with its own period, usage and phone fee', async () => {
  // Subscribers, each with a period of its own, and users on the UTC month;
  // rows inside and outside each period.  The expected figures come from
  // the rows the test wrote, summed here.
  const d = new Date();
  const month = { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000 };
  const users = [];
  for (let i = 0; i < 12; i++) {
    let u;
    if (i < 6) {
      u = await subscriber('ai_secretary', { start: now() - (3 + i) * DAY, end: now() + (20 + i) * DAY });
      u.period = { start: u.sub.start, end: u.sub.end };
    } else {
      u = await newUser({ tier: 'ai_project_manager' });
      u.period = month;
    }
    const rows = [
      ['voice', 61 + i, u.period.start + 1], ['voice', 30 * (i + 1), now() - 2], ['sms', 1 + i, now() - 3],
      ['voice', 600, u.period.start - 1], ['sms', 50, u.period.end],
    ];
    for (const [kind, q, at] of rows) {
      await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
        [u.id, kind, q, at, 'test', crypto.randomUUID()]);
    }
    const inside = rows.filter(([, , at]) => at >= u.period.start && at < u.period.end);
    const voice = inside.filter(([k]) => k === 'voice');
    u.want = {
      voice_seconds: voice.reduce((a, [, q]) => a + q, 0),
      voice_minutes: voice.reduce((a, [, q]) => a + Math.ceil(q / 60), 0),
      calls: voice.length,
      sms: inside.filter(([k]) => k === 'sms').reduce((a, [, q]) => a + q, 0),
    };
    // Numbers held: one still held (1), one given back in the period and one before it (3), one given back
    // at the period's start (2): a fee for those held at some moment of the period.
    const s = u.period.start;
    const held = [[], [[s - DAY, null]], [[s - 10 * DAY, s]], [[s - 10 * DAY, s - DAY], [s + DAY, s + 2 * DAY]]][i % 4];
    // A subscriber's number given back a second before its own period: inside the span of a batch with an
    // earlier period (a user on the UTC month, or an earlier subscriber), never in its own.
    if (i < 6) held.push([s - 20 * DAY, s - 1]);
    // A user on the UTC month has no subscription: no bill charges the number (B4d).
    u.fee = i < 6 && held.some(([from, to]) => from < u.period.end && (to === null || to > s)) ? 500 : 0;
    for (const [from, to] of held) {
      await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from, held_to) VALUES (?, ?, ?, ?, ?)',
        [u.id, '+1555' + String(Math.floor(Math.random() * 1e7)).padStart(7, '0'), 'PN' + crypto.randomBytes(16).toString('hex'), from, to]);
    }
    users.push(u);
  }
  // A token revoked after it was issued, asked for in the same waves.
  const revoked = await newUser();
  await query('UPDATE users SET jwt_version = jwt_version + 1 WHERE id = ?', [revoked.id]);
  const c0 = await usageReads();
  assert.ok(Number.isFinite(c0.batches) && Number.isFinite(c0.batched), JSON.stringify(c0));
  let c1 = c0;
  for (let wave = 0; wave < 5 && c1.batched === c0.batched; wave++) {
    const asks = [...users, ...users, ...users, revoked];
    const got = await Promise.all(asks.map((u) => api('GET', '/api/billing/usage', u)));
    got.forEach((r, i) => {
      const u = asks[i];
      if (u === revoked) {
        assertError(r, 401, 'token_revoked');
        return;
      }
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.period, u.period, `period of user ${users.indexOf(u)}`);
      assert.deepEqual(r.json.usage, u.want, `usage of user ${users.indexOf(u)}`);
      assert.equal(r.json.overage.phone_fee_cents, u.fee, `phone fee of user ${users.indexOf(u)}`);
    });
    c1 = await usageReads();
  }
  assert.ok(c1.batched > c0.batched && c1.batches > c0.batches, `no request was read in a batch: ${JSON.stringify([c0, c1])}`);
});

// B4c: subscribers read in the same batches, each period priced by its own tier history (by share of the period,
// usage in an unlimited stretch free), figured here from the tiers' terms and the rows the test wrote.
test('B4c usage of subscribers read at once: each period priced by its own tier history, as figured here', async () => {
  const terms = Object.fromEntries((await query('SELECT name, voice_minutes_included AS v, sms_included AS s FROM tiers'))
    .map((t) => [t.name, [Number(t.v), Number(t.s)]]));
  const L = 30 * DAY;
  // [tier, from day of the period]. The reader reads histories from some weeks before the period: the last three
  // have entries before that (the one in force at the start, or not), and the last begins after the start (then
  // its first entry holds from the start).
  const plans = [
    [['ai_secretary', -30]],
    [['ai_secretary', -30], ['ai_project_manager', 15]],
    [['ai_project_manager', -30], ['ai_buddy', 6]],
    [['ai_cto', -30], ['ai_secretary', 4]],
    [['ai_project_manager', -400], ['ai_cto', -90], ['ai_secretary', -30]],
    [['ai_secretary', -400], ['ai_project_manager', -200], ['ai_secretary', 5]],
    [['ai_project_manager', 0.5], ['ai_secretary', 12]],
  ];
  const users = [];
  for (let i = 0; i < 2 * plans.length; i++) {
    const plan = plans[i % plans.length];
    const start = now() - (10 + i) * DAY, end = start + L;
    const u = await subscriber('ai_secretary', { start, end });
    await query('UPDATE users SET tier = ? WHERE id = ?', [plan.at(-1)[0], u.id]);
    for (const [k, [tier, d]] of plan.entries()) {
      await query('INSERT INTO tier_history (event_id, subscription_id, user_id, tier, effective_at, event_rank) VALUES (?, ?, ?, ?, ?, 1)',
        [`evt_b4c_${u.id}_${k}`, u.sub.id, u.id, tier, start + Math.round(d * DAY)]);
    }
    // Calls and texts on days 1 to 9 of the period, a long call on day 8; one of each before the period.
    const rows = [['voice', 600, start - 1], ['sms', 40, start - 1], ['voice', 7200 * (i % 3), start + 8 * DAY + 7]];
    for (let day = 1; day <= 9; day++) rows.push(['voice', 61 * day + i, start + day * DAY], ['sms', 20 + i, start + day * DAY + 5]);
    await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES ?',
      [rows.map(([kind, q, at]) => [u.id, kind, q, at, 'test', crypto.randomUUID()])]);
    // The model: stretches of the period, allowance floor(sum a d / L) over finite terms, units outside unlimited ones.
    const cut = plan.map(([, d], k) => (k === 0 ? start : Math.max(start, start + Math.round(d * DAY))));
    const stretches = plan.map(([tier], k) => ({ tier, from: cut[k], to: k + 1 < plan.length ? cut[k + 1] : end }));
    const tierAt = (t) => stretches.find((st) => t >= st.from && t < st.to).tier;
    const units = (x) => rows.filter(([kind, , t]) => kind === ['voice', 'sms'][x] && t >= start && t < end && terms[tierAt(t)][x] !== -1)
      .reduce((a, [, q]) => a + (x === 0 ? Math.ceil(q / 60) : q), 0);
    const allowance = (x) => Math.floor(stretches.reduce((a, st) => a + Math.max(0, terms[st.tier][x]) * (st.to - st.from), 0) / L);
    const [vu, su, va, sa] = [units(0), units(1), allowance(0), allowance(1)];
    const [vo, so] = [Math.max(0, vu - va), Math.max(0, su - sa)];
    u.want = { limits: [va, sa], usage: [vu, su], overage: { voice_minutes: vo, voice_cents: halfUp(vo * 130), sms: so,
      sms_cents: halfUp(so * 75), phone_fee_cents: 0, total_cents: halfUp(vo * 130) + halfUp(so * 75) } };
    users.push(u);
  }
  const c0 = await usageReads();
  let c1 = c0;
  for (let wave = 0; wave < 5 && c1.batched === c0.batched; wave++) {
    const asks = [...users, ...users, ...users];
    const got = await Promise.all(asks.map((u) => api('GET', '/api/billing/usage', u)));
    got.forEach((r, i) => {
      const u = asks[i], n = users.indexOf(u);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual([r.json.limits.voice_minutes, r.json.limits.sms], u.want.limits, `allowances of user ${n}`);
      assert.deepEqual([r.json.usage.voice_minutes, r.json.usage.sms], u.want.usage, `units of user ${n}`);
      assert.deepEqual(r.json.overage, u.want.overage, `overage of user ${n}`);
    });
    c1 = await usageReads();
  }
  assert.ok(c1.batched > c0.batched, `no request was read in a batch: ${JSON.stringify([c0, c1])}`);
});

// ---------- history ----------
async function seedHistory(u, n) {
  const t0 = now() - 1000;
  const invoices = [];
  for (let i = 0; i < n; i++) {
    const id = S.rid('in_');
    // Two invoices share each `created` second: the id breaks the tie.
    const created = t0 + Math.floor(i / 2) * 10;
    await query(`INSERT INTO invoices (id, user_id, subscription_id, number, status, billing_reason, currency, amount_due, amount_paid,
      period_start, period_end, attempt_count, next_payment_attempt, hosted_invoice_url, created) VALUES (?, ?, NULL, ?, 'paid', 'subscription_cycle', 'usd', ?, ?, ?, ?, 1, NULL, ?, ?)`,
    [id, u.id, `N-${i}`, 4000 + i, 4000 + i, created - 100, created, `https://invoice.example/${id}`, created]);
    invoices.push({ id, created });
    await query('INSERT INTO billing_events (user_id, event_id, kind, amount_cents, detail) VALUES (?, ?, ?, ?, ?)',
      [u.id, S.rid('evt_'), `kind_${i}`, i % 2 ? 100 * i : null, `detail ${i}`]);
  }
  invoices.sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
  return invoices;
}

test('B5 history: newest first, both lists paged by one opaque cursor until next_cursor is null', async () => {
  const u = await newUser();
  const other = await newUser();
  const expected = await seedHistory(u, 5);
  await seedHistory(other, 3);
  const seenInv = [], seenEv = [];
  let cursor, pages = 0;
  do {
    const r = await api('GET', `/api/billing/history?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, u);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.invoices.length <= 2 && r.json.events.length <= 2);
    seenInv.push(...r.json.invoices);
    seenEv.push(...r.json.events);
    cursor = r.json.next_cursor;
    if (cursor !== null) assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    pages++;
  } while (cursor !== null && pages < 10);
  assert.equal(pages, 3);
  assert.deepEqual(seenInv.map((i) => i.id), expected.map((i) => i.id));
  assert.deepEqual(seenEv.map((e) => e.kind), ['kind_4', 'kind_3', 'kind_2', 'kind_1', 'kind_0']);
  const ids = seenEv.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
  const inv = seenInv.find((i) => i.number === 'N-1');
  assert.deepEqual(Object.keys(inv).sort(), ['amount_due', 'amount_paid', 'attempt_count', 'billing_reason', 'created', 'currency',
    'hosted_invoice_url', 'id', 'next_payment_attempt', 'number', 'period_end', 'period_start', 'status', 'subscription_id']);
  assert.equal(inv.amount_due, 4001);
  assert.equal(inv.next_payment_attempt, null);
  const ev = seenEv.find((e) => e.kind === 'kind_1');
  assert.equal(ev.amount_cents, 100);
  assert.equal(ev.detail, 'detail 1');
  assert.equal(seenEv.find((e) => e.kind === 'kind_0').amount_cents, null);
  assert.ok(Math.abs(ev.created - now()) < 120, `created is unix seconds: ${ev.created}`);
  // The default page holds everything here; the other user's rows never show.
  const all = await api('GET', '/api/billing/history', u);
  assert.equal(all.json.invoices.length, 5);
  assert.equal(all.json.events.length, 5);
  assert.equal(all.json.next_cursor, null);
  const theirs = await api('GET', '/api/billing/history', other);
  assert.equal(theirs.json.invoices.length, 3);
  assert.ok(theirs.json.invoices.every((i) => !expected.some((e) => e.id === i.id)));
  // A cursor is only a position: used by another user it shows that user's rows.
  const first = await api('GET', '/api/billing/history?limit=1', u);
  const cross = await api('GET', `/api/billing/history?limit=100&cursor=${first.json.next_cursor}`, other);
  assert.equal(cross.status, 200);
  assert.ok(cross.json.invoices.every((i) => !expected.some((e) => e.id === i.id)));
});

test('B5b history: both pages in one statement, each side read along its index from the cursor', async () => {
  // BILLING_HISTORY of common/store/stmt.c, as the first page asks it.
  const [history] = statementSql('BILLING_HISTORY');
  const plan = await query(`EXPLAIN ${history}`, [1e15, 'usr_x', 1e15, 1e15, '', 21, 1e15, 'usr_x', 1e15, 21]);
  for (const [table, key] of [['invoices', 'invoices_user'], ['billing_events', 'billing_events_user']]) {
    const row = plan.find((p) => p.table === table);
    assert.ok(row, JSON.stringify(plan));
    assert.equal(row.key, key, JSON.stringify(row));
    assert.doesNotMatch(row.Extra ?? '', /filesort/, JSON.stringify(row));
  }
});

test('B6 history: a bad limit or cursor is 400', async () => {
  const u = await newUser();
  for (const l of ['0', '101', 'abc', '-1', '1.5', '', '1e2', '%2B5', '1000']) {
    assertError(await api('GET', `/api/billing/history?limit=${l}`, u), 400, 'bad_limit');
  }
  assertError(await api('GET', '/api/billing/history?limit=5&limit=6', u), 400, 'bad_limit');
  for (const l of ['1', '100', '020']) assert.equal((await api('GET', `/api/billing/history?limit=${l}`, u)).status, 200);
  const enc = (s) => Buffer.from(s).toString('base64url');
  for (const c of ['', 'not a cursor', '!!!!', enc('2.5.1.in_x'), enc('1.5'), enc('1.x.1.in_x'), enc('1.0.0.'),
    enc('1.5.0.in_x'), enc('1.5.7.'), enc('1.-5.0.'), enc('1.05.0.'), enc('1.99999999999999999999.0.'),
    enc('1.5.0.') + '=', 'A'.repeat(600), enc('1.5.7.in x')]) {
    assertError(await api('GET', `/api/billing/history?cursor=${encodeURIComponent(c)}`, u), 400, 'bad_cursor');
  }
  assert.equal((await api('GET', `/api/billing/history?cursor=${enc('1.5.0.')}`, u)).status, 200);
});

// ---------- estimate ----------
/** Stripe's proration line: price x remaining / period, half up. */
const line = (price, rem, period) => Math.floor((2 * price * rem + period) / (2 * period));

test('B7 estimate: an upgrade of a subscription is prorated to the second', async () => {
  const u = await subscriber('ai_secretary');
  const t0 = serverEarliest();
  const r = await api('POST', '/api/billing/estimate', u, { target_tier: 'ai_project_manager' });
  const t1 = now();
  assert.equal(r.status, 200, r.text);
  const e = r.json, p = e.proration, period = u.sub.end - u.sub.start;
  assert.equal(e.current_tier, 'ai_secretary');
  assert.equal(e.target_tier, 'ai_project_manager');
  assert.equal(e.change, 'upgrade');
  assert.equal(e.via, 'subscription_update');
  assert.equal(e.has_subscription, true);
  assert.deepEqual(e.period, { start: u.sub.start, end: u.sub.end });
  assert.equal(p.period_seconds, period);
  assert.ok(p.remaining_seconds >= u.sub.end - t1 && p.remaining_seconds <= u.sub.end - t0);
  assert.equal(p.credit_cents, -line(4000, p.remaining_seconds, period));
  assert.equal(p.charge_cents, line(28000, p.remaining_seconds, period));
  assert.equal(p.net_cents, p.credit_cents + p.charge_cents);
  assert.equal(e.new_price_cents, 28000);
  assert.deepEqual(e.new_limits, { voice_minutes: 500, sms: 500 });
  assert.equal(e.next_billing_date, u.sub.end);
  assert.ok(e.effective_at >= t0 && e.effective_at <= t1);
  assert.equal((await stripeCalls(u)).length, 0, 'an estimate calls nobody');
});

test('B8 estimate: without a subscription it is Checkout, which charges the whole first period from now', async () => {
  const u = await newUser();
  const t0 = serverEarliest();
  const r = await api('POST', '/api/billing/estimate', u, { target_tier: 'ai_secretary' });
  assert.equal(r.status, 200, r.text);
  const { start, end } = r.json.period;
  assert.ok(start >= t0 && start <= t0 + 5, `the period starts now (${start})`);
  const d = new Date(start * 1000);
  assert.equal(end, Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000, 'one month later');
  assert.equal(r.json.via, 'checkout');
  assert.equal(r.json.has_subscription, false);
  assert.deepEqual([r.json.proration.credit_cents, r.json.proration.charge_cents, r.json.proration.net_cents], [0, 4000, 4000]);
  assert.deepEqual(r.json.new_limits, { voice_minutes: 100, sms: 100 });
});

test('B9 estimate: downgrades are not prorated; to ai_buddy they take effect at the period end', async () => {
  const u = await subscriber('ai_project_manager');
  const r = await api('POST', '/api/billing/estimate', u, { target_tier: 'ai_secretary' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.change, 'downgrade');
  assert.equal(r.json.via, 'subscription_update');
  assert.deepEqual([r.json.proration.credit_cents, r.json.proration.charge_cents, r.json.proration.net_cents], [0, 0, 0]);
  assert.equal(r.json.next_billing_date, u.sub.end);
  const f = await api('POST', '/api/billing/estimate', u, { target_tier: 'ai_buddy' });
  assert.equal(f.status, 200, f.text);
  assert.equal(f.json.via, 'cancel_at_period_end');
  assert.equal(f.json.effective_at, u.sub.end);
  assert.equal(f.json.next_billing_date, null);
  assert.deepEqual(f.json.new_limits, { voice_minutes: 0, sms: 0 });
  const none = await newUser({ tier: 'ai_secretary' });
  assertError(await api('POST', '/api/billing/estimate', none, { target_tier: 'ai_buddy' }), 404, 'no_subscription');
});

test('B10 estimate, upgrade, downgrade: bad input is 400/415, the same tier 409, and nothing reaches Stripe', async () => {
  const u = await subscriber('ai_secretary');
  for (const path of ['/api/billing/estimate', '/api/billing/upgrade', '/api/billing/downgrade']) {
    assertError(await api('POST', path, u, { target_tier: 'ai_platinum' }), 400, 'unknown_tier');
    assertError(await api('POST', path, u, { target_tier: 'AI_SECRETARY' }), 400, 'unknown_tier');
    assertError(await api('POST', path, u, { target_tier: 'ai_cto' }), 400, 'custom_pricing');
    assertError(await api('POST', path, u, { target_tier: 7 }), 400, 'missing_target_tier');
    assertError(await api('POST', path, u, {}), 400, 'missing_target_tier');
    assertError(await api('POST', path, u, ['ai_secretary']), 400, 'missing_target_tier');
    assertError(await api('POST', path, u, { target_tier: 'ai_secretary' }), 409, 'same_tier');
    assertError(await request('POST', path, { token: u.token, body: '{"target_tier":', headers: { 'Content-Type': 'application/json' } }), 400, 'bad_request');
    assertError(await request('POST', path, { token: u.token, body: 'target_tier=ai_project_manager', form: true }), 415);
  }
  assertError(await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_buddy' }), 409, 'not_an_upgrade');
  assertError(await api('POST', '/api/billing/downgrade', u, { target_tier: 'ai_project_manager' }), 409, 'not_a_downgrade');
  assert.equal((await stripeCalls(u)).length, 0);
});

// ---------- upcoming ----------
test('B11 upcoming: Stripe\'s preview mapped, with a fresh Idempotency-Key per call', async () => {
  const u = await subscriber('ai_secretary');
  const r = await api('GET', '/api/billing/upcoming', u);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.amount_due, 4000);
  assert.equal(r.json.total, 4000);
  assert.equal(r.json.subtotal, 4000);
  assert.equal(r.json.currency, 'usd');
  assert.deepEqual(r.json.period, { start: u.sub.start, end: u.sub.end });
  assert.equal(r.json.next_payment_attempt, u.sub.end + 3600);
  assert.equal(r.json.lines.length, 1);
  assert.deepEqual(Object.keys(r.json.lines[0]).sort(), ['amount', 'description', 'period', 'proration', 'quantity']);
  assert.equal(r.json.lines[0].amount, 4000);
  assert.equal(r.json.lines[0].quantity, 1);
  assert.equal(r.json.lines[0].proration, false);
  await api('GET', '/api/billing/upcoming', u);
  const calls = await stripeCalls(u, { path: '/v1/invoices/create_preview' });
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.equal(c.method, 'POST');
    assert.deepEqual(c.form, { customer: u.customer, subscription: u.sub.id });
    assert.match(c.idempotency_key, new RegExp(`^preview:${u.id}:[0-9a-f]{32}$`));
    assert.equal(c.stripe_version, '2026-10-28.endive');
    assert.match(c.headers.authorization, /^Bearer sk_/);
    assert.equal(c.replayed, false);
  }
  assert.notEqual(calls[0].idempotency_key, calls[1].idempotency_key);
});

test('B12 upcoming: 404 without a customer or anything to bill, 502 when Stripe fails', async () => {
  assertError(await api('GET', '/api/billing/upcoming', await newUser()), 404, 'no_customer');
  assertError(await api('GET', '/api/billing/upcoming', await newUser({ customer: true })), 404, 'no_upcoming_invoice');
  const u = await subscriber('ai_secretary');
  await S.standin.fail({ count: 1, status: 500, path_prefix: '/v1/invoices/create_preview' });
  const r = await api('GET', '/api/billing/upcoming', u);
  assertError(r, 502, 'stripe_error');
  assert.match(r.json.error.message, /preview/);
  assert.doesNotMatch(r.text, /sk_/);
  assert.equal((await api('GET', '/api/billing/upcoming', u)).status, 200);
});

// ---------- upgrade ----------
test('B13 upgrade of a subscription: the price changes at Stripe with prorations; our rows wait for the webhook', async () => {
  const u = await subscriber('ai_secretary');
  const est = (await api('POST', '/api/billing/estimate', u, { target_tier: 'ai_project_manager' })).json;
  const r = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { action: 'subscription_updated', subscription: { id: u.sub.id, status: 'active', tier: 'ai_project_manager',
    cancel_at_period_end: false, current_period_end: u.sub.end } });
  const [c] = await stripeCalls(u, { method: 'POST', path: `/v1/subscriptions/${u.sub.id}` });
  assert.deepEqual(c.form, { items: [{ id: u.sub.item, price: PRICE.ai_project_manager }], proration_behavior: 'create_prorations' });
  assert.equal(c.idempotency_key, `${u.id}:${u.sub.id}:upgrade:ai_project_manager:${u.sub.last_event}`);
  // The webhook is the source of truth: nothing changed here yet.
  assert.equal((await userRow(u.id)).tier, 'ai_secretary');
  assert.equal((await subRow(u.sub.id)).price_id, PRICE.ai_secretary);
  // Stripe's own proration (the stand-in's) matches the estimate to the cent.
  const up = await api('GET', '/api/billing/upcoming', u);
  const pr = up.json.lines.filter((l) => l.proration).map((l) => l.amount);
  assert.equal(pr.length, 2);
  assert.ok(Math.abs(pr[0] + pr[1] - est.proration.net_cents) <= 1, `stand-in ${pr} vs estimate ${est.proration.net_cents}`);
});

test('B14 upgrade: a double-click is one change at Stripe (same key, replayed)', async () => {
  const u = await subscriber('ai_secretary');
  const rs = await Promise.all([1, 2, 3].map(() => api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' })));
  for (const r of rs) assert.ok(r.status === 200 || (r.status === 409 && r.json.error.code === 'request_in_progress'), r.text);
  const calls = await stripeCalls(u, { method: 'POST', path: `/v1/subscriptions/${u.sub.id}` });
  assert.equal(calls.length, 3);
  assert.equal(new Set(calls.map((c) => c.idempotency_key)).size, 1);
  assert.equal(calls.filter((c) => c.status === 200 && !c.replayed).length, 1);
  const sub = await S.standin.object(u.sub.id);
  assert.equal(sub.items.data.length, 1);
  assert.equal(sub.items.data[0].price.id, PRICE.ai_project_manager);
});

test('B15 upgrade without a subscription: a customer (once) and a Checkout session', async () => {
  const u = await newUser();
  const r = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_secretary' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, 'checkout');
  assert.match(r.json.session_id, /^cs_test_/);
  assert.equal(r.json.checkout_url, `https://checkout.stripe.com/c/pay/${r.json.session_id}`);
  const customer = (await userRow(u.id)).stripe_customer_id;
  assert.match(customer, /^cus_/);
  const [cc] = await S.standin.requests({ method: 'POST', path: '/v1/customers' }).then((a) => a.filter((x) => x.idempotency_key === `customer:${u.id}`));
  assert.deepEqual(cc.form, { email: u.email, metadata: { user_id: u.id } });
  const [cs] = (await S.standin.requests({ method: 'POST', path: '/v1/checkout/sessions' })).filter((x) => x.form.client_reference_id === u.id);
  const { success_url, cancel_url, ...rest } = cs.form;
  assert.deepEqual(rest, { mode: 'subscription', customer, client_reference_id: u.id, line_items: [{ price: PRICE.ai_secretary, quantity: '1' }],
    metadata: { user_id: u.id }, subscription_data: { metadata: { user_id: u.id } } });
  assert.match(success_url, /^https?:\/\//);
  assert.match(cancel_url, /^https?:\/\//);
  if (env.CHECKOUT_SUCCESS_URL) assert.equal(success_url, env.CHECKOUT_SUCCESS_URL);
  assert.match(cs.idempotency_key, new RegExp(`^${u.id}:checkout:ai_secretary:\\d+$`));
  // Again: the customer is reused, the session is the same (a double-click).
  const again = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_secretary' });
  assert.equal(again.json.session_id, r.json.session_id);
  const customers = (await S.standin.requests({ path: '/v1/customers' })).filter((x) => x.idempotency_key === `customer:${u.id}`);
  assert.equal(customers.length, 1);
  // Another tier is another session.
  const pm = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assert.notEqual(pm.json.session_id, r.json.session_id);
});

test('B16 upgrade without a customer, clicked five times at once: one customer recorded, one session', async () => {
  const u = await newUser();
  const rs = await Promise.all(Array.from({ length: 5 }, () => api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' })));
  const ok = rs.filter((r) => r.status === 200);
  for (const r of rs) assert.ok(r.status === 200 || (r.status === 409 && r.json.error.code === 'request_in_progress'), r.text);
  assert.ok(ok.length >= 1);
  assert.equal(new Set(ok.map((r) => r.json.session_id)).size, 1);
  const customers = (await S.standin.requests({ path: '/v1/customers' })).filter((x) => x.idempotency_key === `customer:${u.id}`);
  const created = customers.filter((c) => c.status === 200 && !c.replayed);
  assert.equal(created.length, 1, 'Stripe created one customer');
  const stored = (await userRow(u.id)).stripe_customer_id;
  assert.equal((await S.standin.object(stored)).metadata.user_id, u.id);
  const cs = (await S.standin.requests({ path: '/v1/checkout/sessions' })).filter((x) => x.form?.client_reference_id === u.id);
  assert.ok(cs.every((x) => x.form.customer === stored));
});

test('B17 upgrade reads the item from Stripe when our row lacks it', async () => {
  const u = await subscriber('ai_secretary', { storeItem: false });
  const r = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assert.equal(r.status, 200, r.text);
  const calls = await stripeCalls(u, { path: `/v1/subscriptions/${u.sub.id}` });
  assert.deepEqual(calls.map((c) => c.method), ['GET', 'POST']);
  assert.equal(calls[1].form.items[0].id, u.sub.item);
});

test('B18 a failed Stripe change is 502, changes nothing, and a retry with the same key succeeds', async () => {
  const u = await subscriber('ai_secretary');
  await S.standin.fail({ count: 1, status: 503, path_prefix: `/v1/subscriptions/${u.sub.id}` });
  const r = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assertError(r, 502, 'stripe_error');
  assert.equal((await S.standin.object(u.sub.id)).items.data[0].price.id, PRICE.ai_secretary);
  assert.equal((await userRow(u.id)).tier, 'ai_secretary');
  const again = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assert.equal(again.status, 200, again.text);
  const calls = await stripeCalls(u, { method: 'POST', path: `/v1/subscriptions/${u.sub.id}` });
  assert.equal(calls.length, 2);
  assert.equal(calls[0].idempotency_key, calls[1].idempotency_key);
  assert.equal((await S.standin.object(u.sub.id)).items.data[0].price.id, PRICE.ai_project_manager);
});

// ---------- downgrade, cancel, resume ----------
test('B19 downgrade to a paid tier: new price now, no proration', async () => {
  const u = await subscriber('ai_project_manager');
  const r = await api('POST', '/api/billing/downgrade', u, { target_tier: 'ai_secretary' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, 'subscription_updated');
  assert.equal(r.json.subscription.tier, 'ai_secretary');
  const [c] = await stripeCalls(u, { method: 'POST', path: `/v1/subscriptions/${u.sub.id}` });
  assert.deepEqual(c.form, { items: [{ id: u.sub.item, price: PRICE.ai_secretary }], proration_behavior: 'none' });
  assert.equal(c.idempotency_key, `${u.id}:${u.sub.id}:downgrade:ai_secretary:${u.sub.last_event}`);
  const up = await api('GET', '/api/billing/upcoming', u);
  assert.equal(up.json.lines.filter((l) => l.proration).length, 0);
  assert.equal(up.json.amount_due, 4000);
});

test('B20 downgrade to ai_buddy cancels at the period end; 404 without a subscription; 409 when already cancelling', async () => {
  const u = await subscriber('ai_secretary');
  const r = await api('POST', '/api/billing/downgrade', u, { target_tier: 'ai_buddy' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, 'cancel_scheduled');
  assert.equal(r.json.subscription.cancel_at_period_end, true);
  const [c] = await stripeCalls(u, { method: 'POST', path: `/v1/subscriptions/${u.sub.id}` });
  assert.deepEqual(c.form, { cancel_at_period_end: 'true' });
  assert.equal(c.idempotency_key, `${u.id}:${u.sub.id}:cancel:${u.sub.last_event}`);
  // The cancel endpoint shares the key: clicking both cancels once.
  assert.equal((await api('POST', '/api/billing/cancel', u)).status, 200);
  const calls = await stripeCalls(u, { method: 'POST', path: `/v1/subscriptions/${u.sub.id}` });
  assert.equal(calls.length, 2);
  assert.equal(calls[1].replayed, true);
  const cancelling = await subscriber('ai_secretary', { cancel: true });
  assertError(await api('POST', '/api/billing/downgrade', cancelling, { target_tier: 'ai_buddy' }), 409, 'already_cancelling');
  const free = await newUser({ tier: 'ai_secretary', customer: true });
  assertError(await api('POST', '/api/billing/downgrade', free, { target_tier: 'ai_buddy' }), 404, 'no_subscription');
  assertError(await api('POST', '/api/billing/downgrade', await newUser(), { target_tier: 'ai_buddy' }), 409, 'same_tier');
});

test('B21 cancel and resume follow our rows: 404 without a live subscription, 409 in the wrong state', async () => {
  const u = await subscriber('ai_secretary');
  assertError(await api('POST', '/api/billing/resume', u), 409, 'not_cancelling');
  const r = await api('POST', '/api/billing/cancel', u);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { action: 'cancel_scheduled', subscription: { id: u.sub.id, status: 'active', tier: 'ai_secretary',
    cancel_at_period_end: true, current_period_end: u.sub.end } });
  // The webhook records the cancellation (simulated here), with its event id.
  await query('UPDATE subscriptions SET cancel_at_period_end = 1, last_event_id = ? WHERE id = ?', ['evt_cancel_applied', u.sub.id]);
  assertError(await api('POST', '/api/billing/cancel', u), 409, 'already_cancelling');
  const res = await api('POST', '/api/billing/resume', u);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.action, 'cancel_withdrawn');
  assert.equal(res.json.subscription.cancel_at_period_end, false);
  const calls = await stripeCalls(u, { method: 'POST', path: `/v1/subscriptions/${u.sub.id}` });
  assert.deepEqual(calls.map((c) => [c.form, c.idempotency_key]), [
    [{ cancel_at_period_end: 'true' }, `${u.id}:${u.sub.id}:cancel:${u.sub.last_event}`],
    [{ cancel_at_period_end: 'false' }, `${u.id}:${u.sub.id}:resume:evt_cancel_applied`],
  ]);
  // A deleted subscription is not live.
  await query('UPDATE subscriptions SET deleted = 1, status = ? WHERE id = ?', ['canceled', u.sub.id]);
  assertError(await api('POST', '/api/billing/cancel', u), 404, 'no_subscription');
  assertError(await api('POST', '/api/billing/resume', u), 404, 'no_subscription');
  const none = await newUser();
  assertError(await api('POST', '/api/billing/cancel', none), 404, 'no_subscription');
  assertError(await api('POST', '/api/billing/resume', none), 404, 'no_subscription');
});

test('B22 a user never reaches another user\'s subscription, customer or data', async () => {
  const a = await subscriber('ai_secretary');
  const b = await subscriber('ai_secretary');
  await seedHistory(a, 2);
  await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
    [a.id, 'sms', 50, now() - 5, 'test', crypto.randomUUID()]);
  // Input naming a's ids is ignored: the user comes from the token.
  const body = { target_tier: 'ai_project_manager', user_id: a.id, subscription: a.sub.id, customer: a.customer };
  assert.equal((await api('POST', '/api/billing/upgrade', b, body)).status, 200);
  assert.equal((await api('POST', `/api/billing/cancel?user_id=${a.id}`, b)).status, 200);
  assert.equal((await api('GET', `/api/billing/upcoming?customer=${a.customer}`, b)).status, 200);
  assert.equal((await api('GET', `/api/billing/usage?user_id=${a.id}`, b)).json.usage.sms, 0);
  const h = await api('GET', `/api/billing/history?user_id=${a.id}`, b);
  assert.deepEqual([h.json.invoices.length, h.json.events.length], [0, 0]);
  const touchedA = (await S.standin.requests()).filter((x) => x.path.endsWith(a.sub.id) || x.form?.customer === a.customer
    || x.form?.subscription === a.sub.id);
  assert.equal(touchedA.length, 0);
  assert.equal((await S.standin.object(a.sub.id)).items.data[0].price.id, PRICE.ai_secretary);
});

test('B23 end to end: Checkout, then the webhooks, then a later change gets a new key', async () => {
  const u = await newUser();
  const co = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_secretary' });
  assert.equal(co.status, 200, co.text);
  const { subscription } = await S.standin.completeCheckout(co.json.session_id);
  assert.equal(subscription.metadata.user_id, u.id);
  const created = S.event('customer.subscription.created', subscription);
  assert.equal((await S.signedWebhook(created)).status, 200);
  let row = await userRow(u.id);
  assert.equal(row.tier, 'ai_secretary');
  assert.equal(row.subscription_id, subscription.id);
  // The upgrade changes the subscription; the webhook then applies it.
  const r1 = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assert.equal(r1.status, 200, r1.text);
  // Stripe's events of the three changes, a second apart (events of one second are settled by a resync).
  const updated = S.event('customer.subscription.updated', await S.standin.object(subscription.id), { created: created.created + 1 });
  assert.equal((await S.signedWebhook(updated)).status, 200);
  row = await userRow(u.id);
  assert.equal(row.tier, 'ai_project_manager');
  // Now a downgrade is a new request, keyed by the event just applied.
  const r2 = await api('POST', '/api/billing/downgrade', u, { target_tier: 'ai_secretary' });
  assert.equal(r2.status, 200, r2.text);
  const updated2 = S.event('customer.subscription.updated', await S.standin.object(subscription.id), { created: created.created + 2 });
  assert.equal((await S.signedWebhook(updated2)).status, 200);
  assert.equal((await userRow(u.id)).tier, 'ai_secretary');
  // And upgrading again is not a replay of the first upgrade.
  const r3 = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assert.equal(r3.status, 200, r3.text);
  const calls = (await S.standin.requests({ method: 'POST', path: `/v1/subscriptions/${subscription.id}` }));
  assert.deepEqual(calls.map((c) => c.idempotency_key), [
    `${u.id}:${subscription.id}:upgrade:ai_project_manager:${created.id}`,
    `${u.id}:${subscription.id}:downgrade:ai_secretary:${updated.id}`,
    `${u.id}:${subscription.id}:upgrade:ai_project_manager:${updated2.id}`,
  ]);
  assert.ok(calls.every((c) => !c.replayed));
  assert.equal((await S.standin.object(subscription.id)).items.data[0].price.id, PRICE.ai_project_manager);
  const h = await api('GET', '/api/billing/history', u);
  assert.ok(h.json.events.some((e) => e.kind === 'tier_changed'));
});

// ---------- Stripe's failures, as the user sees them ----------
test('B24 a request Stripe refuses for good is 502 stripe_refused with Stripe\'s code, never "try again", and changes nothing', async () => {
  const u = await subscriber('ai_secretary');
  // Our row names an item Stripe does not have: Stripe's 400 resource_missing, whatever the retries.
  await query('UPDATE subscriptions SET item_id = ? WHERE id = ?', ['si_not_at_stripe', u.sub.id]);
  const r = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assertError(r, 502, 'stripe_refused');
  assert.match(r.json.error.message, /HTTP 400, code resource_missing/);
  assert.doesNotMatch(r.json.error.message, /try again/i);
  assert.equal(r.headers['retry-after'], undefined, 'no Retry-After for what retrying will not fix');
  assert.doesNotMatch(r.text, /sk_|No such/, 'Stripe\'s own message is not shown');
  assert.equal((await S.standin.object(u.sub.id)).items.data[0].price.id, PRICE.ai_secretary);
  // A 500 Stripe saved for the key (it failed while running): the same answer to every retry, so not "try again".
  const v = await subscriber('ai_secretary');
  await S.standin.fail({ count: 1, status: 500, method: 'POST', path_prefix: `/v1/subscriptions/${v.sub.id}`, when: 'after' });
  const s = await api('POST', '/api/billing/cancel', v);
  assertError(s, 502, 'stripe_refused');
  assert.match(s.json.error.message, /HTTP 500.*answers the same to a retry/);
  assert.doesNotMatch(s.json.error.message, /try again/i);
  const again = await api('POST', '/api/billing/cancel', v);
  assertError(again, 502, 'stripe_refused');
  const calls = await stripeCalls(v, { method: 'POST', path: `/v1/subscriptions/${v.sub.id}` });
  assert.deepEqual(calls.map((c) => [c.status, c.replayed]), [[500, false], [500, true]], 'the retry got the saved 500');
  // A 404 for a subscription our row names: Stripe will not find it later either.
  const gone = await subscriber('ai_secretary', { storeItem: false });
  await query('UPDATE users SET subscription_id = ? WHERE id = ?', ['sub_not_at_stripe', gone.id]);
  await query('UPDATE subscriptions SET id = ? WHERE id = ?', ['sub_not_at_stripe', gone.sub.id]);
  const g = await api('POST', '/api/billing/upgrade', gone, { target_tier: 'ai_project_manager' });
  assertError(g, 502, 'stripe_refused');
  assert.match(g.json.error.message, /HTTP 404, code resource_missing/);
});

test('B25 a payment Stripe cannot take (402) is 402 payment_failed, never "try again"', async () => {
  const u = await subscriber('ai_secretary');
  await S.standin.fail({ count: 1, status: 402, path_prefix: `/v1/subscriptions/${u.sub.id}` });
  const r = await api('POST', '/api/billing/upgrade', u, { target_tier: 'ai_project_manager' });
  assertError(r, 402, 'payment_failed');
  assert.match(r.json.error.message, /could not take the payment \(code /);
  assert.doesNotMatch(r.json.error.message, /try again/i);
  assert.doesNotMatch(r.text, /injected/);
});

test('B26 what a retry may fix says so: 502 stripe_error or 503 stripe_busy with Retry-After; 409 while the same call runs', async () => {
  const u = await subscriber('ai_secretary');
  const path_prefix = `/v1/subscriptions/${u.sub.id}`;
  await S.standin.fail({ count: 1, status: 503, path_prefix });
  const a = await api('POST', '/api/billing/cancel', u);
  assertError(a, 502, 'stripe_error');
  assert.match(a.json.error.message, /try again later/);
  assert.match(a.headers['retry-after'] ?? '', /^\d+$/);
  await S.standin.fail({ count: 1, status: 429, path_prefix });
  const b = await api('POST', '/api/billing/cancel', u);
  assertError(b, 503, 'stripe_busy');
  assert.match(b.headers['retry-after'] ?? '', /^\d+$/);
  // The first call runs slowly at Stripe; the second, same key, meets it in flight.
  await S.standin.fail({ count: 1, delay_ms: 1500, method: 'POST', path_prefix });
  const first = api('POST', '/api/billing/cancel', u);
  await new Promise((res) => setTimeout(res, 300));
  assertError(await api('POST', '/api/billing/cancel', u), 409, 'request_in_progress');
  assert.equal((await first).status, 200);
  assert.equal((await S.standin.object(u.sub.id)).cancel_at_period_end, true);
});

test('B29 a Stripe call slower than HTTP_INTERACTIVE_TIMEOUT_MS: the API answers 502 "try again later" in that time, not the worker\'s', { timeout: 30000 }, async () => {
  const progEnv = (name) => {
    const pid = Number(fs.readFileSync(path.join(VAR_DIR, 'run', 'billing.pid'), 'utf8'));
    const v = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((l) => l.startsWith(`${name}=`));
    return v ? Number(v.split('=')[1]) : undefined;
  };
  const interactive = progEnv('HTTP_INTERACTIVE_TIMEOUT_MS') ?? 8000, worker = progEnv('HTTP_TIMEOUT_MS') ?? 15000;
  assert.ok(interactive + 1500 < worker, `the test needs interactive (${interactive}) well under the worker's (${worker})`);
  const u = await subscriber('ai_secretary');
  await S.standin.fail({ count: 1, delay_ms: interactive + 1500, method: 'POST', path_prefix: `/v1/subscriptions/${u.sub.id}` });
  const t0 = Date.now();
  const r = await api('POST', '/api/billing/cancel', u);
  const took = Date.now() - t0;
  assertError(r, 502, 'stripe_error');
  assert.match(r.json.error.message, /did not answer; try again later/);
  assert.ok(took >= interactive - 100 && took < interactive + 1400, `answered after ${took} ms (limit ${interactive} ms)`);
  // Stripe finished it meanwhile; the retry the message invites replays it.
  await new Promise((res) => setTimeout(res, 1800));
  assert.equal((await api('POST', '/api/billing/cancel', u)).status, 200);
});

// ---------- previews ----------
test('B27 upcoming without a subscription previews the one Checkout would start; a free user names it with target_tier', async () => {
  const u = await newUser({ tier: 'ai_secretary', customer: true });
  const r = await api('GET', '/api/billing/upcoming', u);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.amount_due, CENTS.ai_secretary);
  assert.equal(r.json.lines.length, 1);
  assert.equal(r.json.lines[0].proration, false);
  const [c] = await stripeCalls(u, { path: '/v1/invoices/create_preview' });
  assert.deepEqual(c.form, { customer: u.customer, subscription_details: { items: [{ price: PRICE.ai_secretary }] } });
  const f = await newUser({ customer: true });
  assertError(await api('GET', '/api/billing/upcoming', f), 404, 'no_upcoming_invoice');
  const t = await api('GET', '/api/billing/upcoming?target_tier=ai_project_manager', f);
  assert.equal(t.status, 200, t.text);
  assert.equal(t.json.amount_due, CENTS.ai_project_manager);
  const calls = await stripeCalls(f, { path: '/v1/invoices/create_preview' });
  assert.equal(calls.length, 1, 'the free tier without a target asks Stripe nothing');
  assert.deepEqual(calls[0].form, { customer: f.customer, subscription_details: { items: [{ price: PRICE.ai_project_manager }] } });
  for (const [q, code] of [['ai_cto', 'custom_pricing'], ['ai_platinum', 'unknown_tier']]) {
    assertError(await api('GET', `/api/billing/upcoming?target_tier=${q}`, f), 400, code);
  }
  assert.equal((await stripeCalls(f, { path: '/v1/invoices/create_preview' })).length, 1);
});

test('B28 upcoming?target_tier previews a change of the subscription as upgrade and downgrade would make it', async () => {
  const u = await subscriber('ai_secretary');
  const t0 = serverEarliest();
  const up = await api('GET', '/api/billing/upcoming?target_tier=ai_project_manager', u);
  const t1 = now();
  assert.equal(up.status, 200, up.text);
  const [c] = await stripeCalls(u, { path: '/v1/invoices/create_preview' });
  const { proration_date, ...details } = c.form.subscription_details;
  assert.deepEqual({ ...c.form, subscription_details: details }, { customer: u.customer, subscription: u.sub.id,
    subscription_details: { items: [{ id: u.sub.item, price: PRICE.ai_project_manager }], proration_behavior: 'create_prorations' } });
  assert.ok(Number(proration_date) >= t0 && Number(proration_date) <= t1, `proration_date ${proration_date}`);
  // Stripe's prorations: credit of the unused time on the old price, charge of it on the new, to the second.
  const period = u.sub.end - u.sub.start, rem = u.sub.end - Number(proration_date);
  const pr = up.json.lines.filter((l) => l.proration).map((l) => l.amount).sort((a, b) => a - b);
  assert.deepEqual(pr, [-line(CENTS.ai_secretary, rem, period), line(CENTS.ai_project_manager, rem, period)]);
  assert.equal((await S.standin.object(u.sub.id)).items.data[0].price.id, PRICE.ai_secretary, 'a preview changes nothing');
  // Down to a paid tier: not prorated.
  const pm = await subscriber('ai_project_manager');
  const down = await api('GET', '/api/billing/upcoming?target_tier=ai_secretary', pm);
  assert.equal(down.status, 200, down.text);
  assert.equal(down.json.lines.filter((l) => l.proration).length, 0);
  assert.equal(down.json.amount_due, CENTS.ai_secretary);
  const [d] = await stripeCalls(pm, { path: '/v1/invoices/create_preview' });
  assert.deepEqual(d.form.subscription_details, { items: [{ id: pm.sub.item, price: PRICE.ai_secretary }], proration_behavior: 'none' });
  // To the free tier: cancelled at the period end, so nothing more to bill.
  assertError(await api('GET', '/api/billing/upcoming?target_tier=ai_buddy', pm), 404, 'no_upcoming_invoice');
  const calls = await stripeCalls(pm, { path: '/v1/invoices/create_preview' });
  assert.deepEqual(calls[1].form.subscription_details, { cancel_at_period_end: 'true' });
  // The own tier is the plain next invoice.
  await api('GET', '/api/billing/upcoming?target_tier=ai_project_manager', pm);
  assert.deepEqual((await stripeCalls(pm, { path: '/v1/invoices/create_preview' }))[2].form, { customer: pm.customer, subscription: pm.sub.id });
});

// A tier moved to a new price keeps its subscribers on the old one: its STRIPE_PRICE_* lists the price sold first,
// the older ones after it (scripts/integration gives ai_secretary one older price; docs/OPERATIONS.md 1.9).
test('B30 a tier\'s older price, after the first in its STRIPE_PRICE_* list, is the tier; Checkout and changes sell the first', async () => {
  const [sold, older, ...rest] = (env.STRIPE_PRICE_AI_SECRETARY || '').split(',');
  assert.ok(older, 'scripts/integration sets STRIPE_PRICE_AI_SECRETARY to the price sold, then an older one');
  assert.deepEqual([sold, rest], [PRICE.ai_secretary, []]);
  // A subscriber on the older price: the webhook reads it as ai_secretary, and its own changes as well.
  const u = await newUser({ customer: true }), t = now() - 30;
  const sub = S.subscription({ customer: u.customer, price: older, status: 'active', user_id: u.id });
  let r = await S.signedWebhook(S.event('customer.subscription.created', sub, { created: t }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'processed');
  let row = await userRow(u.id);
  assert.deepEqual([row.tier, row.subscription_id], ['ai_secretary', sub.id]);
  assert.deepEqual([(await subRow(sub.id)).tier, (await subRow(sub.id)).price_id], ['ai_secretary', older]);
  r = await S.signedWebhook(S.event('customer.subscription.updated', { ...sub, status: 'past_due' }, { created: t + 1 }));
  assert.equal(r.json.status, 'processed', r.text);
  row = await userRow(u.id);
  assert.deepEqual([row.tier, row.past_due], ['ai_secretary', 1], 'past_due on the older price keeps the tier, flagged');
  // A new subscriber buys the first.
  const n = await newUser();
  const c = await api('POST', '/api/billing/upgrade', n, { target_tier: 'ai_secretary' });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.action, 'checkout');
  const [cs] = (await S.standin.requests({ method: 'POST', path: '/v1/checkout/sessions' })).filter((x) => x.form.client_reference_id === n.id);
  assert.deepEqual(cs.form.line_items, [{ price: sold, quantity: '1' }]);
  // A change of plan to it, too.
  const pm = await subscriber('ai_project_manager');
  const d = await api('POST', '/api/billing/downgrade', pm, { target_tier: 'ai_secretary' });
  assert.equal(d.status, 200, d.text);
  const [ch] = await stripeCalls(pm, { method: 'POST', path: `/v1/subscriptions/${pm.sub.id}` });
  assert.deepEqual(ch.form.items, [{ id: pm.sub.item, price: sold }]);
});
