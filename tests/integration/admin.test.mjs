// The admin API (/api/admin/...), /metrics, the xsb-admin CLI, `make
// install` and the production nginx template.  Through nginx to
// xsb-billing against MariaDB, the Stripe stand-in and Prism (Twilio).
// Every test makes its own users (random uuids), so tests do not see each
// other; counters of /metrics are compared before and after.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { request, rawRequest, closeHttp } from './lib/http.mjs';
import { query, close, statementSql, asAdminScript } from './lib/db.mjs';
import { env, requireEnv, REPO_ROOT, VAR_DIR } from './lib/env.mjs';
import { waitFor } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';
import { keyArgs } from './lib/token.mjs';
import { twilioDelay, twilioLargeAccount } from './lib/twilio.mjs';

test.after(async () => { await S.standin.fail({ clear: true }); closeHttp(); await close(); });

const PRICE = { ai_secretary: 'price_ai_secretary', ai_project_manager: 'price_ai_project_manager' };
const CENTS = { ai_secretary: 4000, ai_project_manager: 28000 };

before(async () => {
  for (const tier of Object.keys(PRICE)) {
    try { await S.standin.object(PRICE[tier]); } catch { await S.standin.createPrice({ id: PRICE[tier], unit_amount: CENTS[tier] }); }
  }
});

// ---------- users and tokens ----------
const stackEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(env).map((k) => [k, env[k]])) });
function token(userId, role = 'user') {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  return execFileSync(`${XSB_BIN}/xsb-token`, keyArgs(['-u', userId, '-r', role]), { env: stackEnv(), encoding: 'utf8' }).trim();
}
async function newUser({ tier = 'ai_buddy', customer = null, phone = false } = {}) {
  const id = crypto.randomUUID(), email = `${id}@example.test`;
  const sid = phone ? `PN${crypto.randomBytes(16).toString('hex')}` : null;
  const num = phone ? `+1555${String(crypto.randomInt(1e7)).padStart(7, '0')}` : null;
  await query("INSERT INTO users (id, email, tier, stripe_customer_id, phone_number, phone_sid, phone_status) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [id, email, tier, customer, num, sid, phone ? 'active' : 'none']);
  return { id, email, sid, num };
}
let adminUser;
let ADMIN;
before(async () => {
  adminUser = await newUser();
  ADMIN = token(adminUser.id, 'admin');
});
const admin = (method, p, opts = {}) => request(method, p, { token: ADMIN, ...opts });

/** The metrics text as {name{labels}: value}. */
async function metrics() {
  const r = await rawRequest('GET', '/metrics', { headers: { authorization: `Bearer ${requireEnv('METRICS_TOKEN').METRICS_TOKEN}` } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const out = {};
  for (const line of r.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.]+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    out[m[1]] = Number(m[2]);
  }
  return { text: r.text, v: out };
}

// ---------- A1 authorization ----------
const ENDPOINTS = [
  ['POST', '/api/admin/users', { json: { email: 'x@example.test' } }],
  ['GET', '/api/admin/users/nobody'],
  ['POST', '/api/admin/users/nobody/revoke-tokens'],
  ['GET', '/api/admin/events'],
  ['POST', '/api/admin/events/evt_nothing/replay'],
  ['GET', '/api/admin/jobs'],
  ['POST', '/api/admin/jobs/1/retry'],
  ['POST', '/api/admin/jobs/dead/retry'],
  ['POST', '/api/admin/subscriptions/sub_nothing/resync'],
  ['GET', '/api/admin/phone/orphans'],
  ['POST', '/api/admin/phone/repoint'],
];

test('A1 every admin endpoint: 401 without or with a bad token, 403 for user and service tokens', async () => {
  const u = await newUser();
  const user = token(u.id), service = token(u.id, 'service');
  const before = (await query('SELECT COUNT(*) AS n FROM users'))[0].n;
  for (const [method, p, opts = {}] of ENDPOINTS) {
    const what = `${method} ${p}`;
    let r = await request(method, p, opts);
    assert.equal(r.status, 401, what);
    assert.equal(r.json.error.code, 'missing_token', what);
    r = await request(method, p, { ...opts, token: `${user}x` });
    assert.equal(r.status, 401, what);
    r = await request(method, p, { ...opts, token: user });
    assert.equal(r.status, 403, `${what}: ${r.text}`);
    assert.equal(r.json.error.code, 'forbidden');
    r = await request(method, p, { ...opts, token: service });
    assert.equal(r.status, 403, what);
  }
  assert.equal((await query('SELECT COUNT(*) AS n FROM users'))[0].n, before, 'nothing was created');
  // An admin token of a revoked admin is refused too.
  const a = await newUser(), t = token(a.id, 'admin');
  assert.equal((await request('GET', '/api/admin/events', { token: t })).status, 200);
  await query('UPDATE users SET jwt_version = jwt_version + 1 WHERE id = ?', [a.id]);
  const r = await request('GET', '/api/admin/events', { token: t });
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'token_revoked');
});

// ---------- A2 users ----------
test('A2 create a user (id given or generated), refuse duplicates and bad input, show its billing state', async () => {
  const id = crypto.randomUUID();
  let r = await admin('POST', '/api/admin/users', { json: { id, email: `${id}@example.test`, tier: 'ai_secretary' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.user.id, id);
  assert.equal(r.json.user.tier, 'ai_secretary');
  assert.equal(r.json.user.jwt_version, 1);
  assert.equal(r.json.user.phone_status, 'none');
  const [row] = await query('SELECT email, tier FROM users WHERE id = ?', [id]);
  assert.deepEqual({ ...row }, { email: `${id}@example.test`, tier: 'ai_secretary' });

  r = await admin('POST', '/api/admin/users', { json: { id, email: 'other@example.test' } });
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'user_exists');

  r = await admin('POST', '/api/admin/users', { json: { email: 'gen@example.test' } });
  assert.equal(r.status, 201);
  assert.match(r.json.user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(r.json.user.tier, 'ai_buddy');

  for (const [body, code] of [[{ email: 'not an address' }, 'bad_email'], [{}, 'bad_email'], [{ email: 'a@b.test', tier: 'gold' }, 'bad_tier'],
    [{ email: 'a@b.test', id: 'has space' }, 'bad_user_id'], [{ email: 'a@b.test', id: 'x'.repeat(65) }, 'bad_user_id'], [[1], 'bad_json']]) {
    r = await admin('POST', '/api/admin/users', { json: body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, code, JSON.stringify(body));
  }
  r = await admin('POST', '/api/admin/users', { body: '{"email":', headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 400);
  r = await admin('POST', '/api/admin/users', { body: 'email=a@b.test', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.status, 415);

  // Show: the row, subscriptions, invoices, usage, phone numbers, jobs.
  const cus = (await S.standin.createCustomer({ email: `${id}@example.test`, metadata: { user_id: id } })).id;
  await query('UPDATE users SET stripe_customer_id = ? WHERE id = ?', [cus, id]);
  const sub = S.subscription({ customer: cus, price: PRICE.ai_secretary, user_id: id });
  assert.equal((await S.signedWebhook(S.event('customer.subscription.created', sub))).json.status, 'processed');
  const inv = S.invoice({ customer: cus, subscription: sub.id, status: 'paid', billing_reason: 'subscription_create', user_id: id });
  assert.equal((await S.signedWebhook(S.event('invoice.paid', inv))).json.status, 'processed');
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'voice', 61, ?, 'test', ?)",
    [id, Math.floor(Date.now() / 1000), `${id}:v`]);
  r = await admin('GET', `/api/admin/users/${id}`);
  assert.equal(r.status, 200, r.text);
  const b = r.json;
  assert.equal(b.user.subscription_id, sub.id);
  assert.equal(b.user.stripe_customer_id, cus);
  assert.equal(b.subscription.id, sub.id);
  assert.equal(b.subscription.status, 'active');
  assert.equal(b.subscription.tier, 'ai_secretary');
  assert.equal(b.subscriptions.length, 1);
  assert.equal(b.invoices.length, 1);
  assert.equal(b.invoices[0].id, inv.id);
  assert.equal(b.invoices[0].status, 'paid');
  assert.equal(b.usage.voice_seconds, 61);
  assert.equal(b.usage.voice_minutes, 2);
  assert.equal(b.usage.calls, 1);
  assert.equal(b.usage.voice_included, 100);
  const nowS = Date.now() / 1000;
  assert.ok(b.usage.period_start <= nowS && nowS < b.usage.period_end, JSON.stringify(b.usage));
  assert.ok(Array.isArray(b.phone_numbers));
  assert.ok(Array.isArray(b.jobs));

  for (const p of ['/api/admin/users/no-such-user-' + id]) {
    r = await admin('GET', p);
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'no_such_user');
  }
  for (const p of [`/api/admin/users/${id}/x`, '/api/admin/users/bad%20id']) {
    assert.equal((await admin('GET', p)).status, 404, p);
  }
});

// ---------- A3 events and replay ----------
test('A3 an unmatched event is listed, replayed once its user exists, then final', async () => {
  const id = crypto.randomUUID(), cus = S.rid('cus_');
  const sub = S.subscription({ customer: cus, price: PRICE.ai_project_manager, user_id: id });
  const ev = S.event('customer.subscription.created', sub);
  assert.equal((await S.signedWebhook(ev)).json.status, 'unmatched');

  let r = await admin('GET', '/api/admin/events?status=unmatched&limit=500');
  assert.equal(r.status, 200);
  const listed = r.json.events.find((e) => e.id === ev.id);
  assert.ok(listed, 'the unmatched event is listed');
  assert.equal(listed.type, 'customer.subscription.created');
  assert.equal(listed.status, 'unmatched');
  assert.equal(listed.object_id, sub.id);
  assert.equal(listed.user_id, null);
  assert.ok(r.json.events.every((e) => e.status === 'unmatched'));
  r = await admin('GET', '/api/admin/events?limit=5');
  assert.equal(r.status, 200);
  assert.ok(r.json.events.length <= 5);

  // Replayed before the user exists: still unmatched.
  r = await admin('POST', `/api/admin/events/${ev.id}/replay`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { id: ev.id, type: ev.type, previous_status: 'unmatched', status: 'unmatched' });

  r = await admin('POST', '/api/admin/users', { json: { id, email: `${id}@example.test` } });
  assert.equal(r.status, 201);
  r = await admin('POST', `/api/admin/events/${ev.id}/replay`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'processed');
  const [u] = await query('SELECT tier, subscription_id, stripe_customer_id FROM users WHERE id = ?', [id]);
  assert.deepEqual({ ...u }, { tier: 'ai_project_manager', subscription_id: sub.id, stripe_customer_id: cus });
  const [e] = await query('SELECT status, user_id, attempts FROM stripe_events WHERE id = ?', [ev.id]);
  assert.equal(e.status, 'processed');
  assert.equal(e.user_id, id);
  assert.equal((await query("SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key = ?", [`phone_provision:${ev.id}`]))[0].n, 1);

  r = await admin('POST', `/api/admin/events/${ev.id}/replay`);
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'not_replayable');
  r = await admin('POST', `/api/admin/events/evt_${crypto.randomUUID()}/replay`);
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'no_such_event');
  assert.equal((await admin('POST', `/api/admin/events/${ev.id}/again`)).status, 404);
  assert.equal((await admin('GET', `/api/admin/events/${ev.id}/replay`)).status, 405);
  for (const q of ['status=nope', 'limit=0', 'limit=501', 'limit=abc', 'limit=1&limit=2']) {
    r = await admin('GET', `/api/admin/events?${q}`);
    assert.equal(r.status, 400, q);
  }
});

test('A3b a failed event is replayed after its cause is fixed', async () => {
  const cus = S.rid('cus_');
  await newUser({ customer: cus });
  const sub = S.subscription({ customer: cus, price: 'price_unknown_here' });
  const ev = S.event('customer.subscription.updated', sub);
  const r0 = await S.signedWebhook(ev);
  assert.equal(r0.status, 500, r0.text);
  let r = await admin('GET', '/api/admin/events?status=failed&limit=500');
  const listed = r.json.events.find((e) => e.id === ev.id);
  assert.match(listed.last_error, /unknown price/);
  // Still failing: 500 with the reason, recorded again.
  r = await admin('POST', `/api/admin/events/${ev.id}/replay`);
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, 'processing_failed');
  assert.match(r.json.error.message, /unknown price/);
  const [e] = await query('SELECT status, attempts FROM stripe_events WHERE id = ?', [ev.id]);
  assert.equal(e.status, 'failed');
  assert.ok(e.attempts >= 2);
});

// ---------- A4 jobs ----------
async function deadJob(userId, kind = 'phone_release') {
  const key = `admin-test:${crypto.randomUUID()}`;
  const { insertId } = await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload, state, attempts, last_error) VALUES (?, ?, ?, ?, 'dead', 8, 'test: gave up')",
    [kind, key, userId, JSON.stringify({ user_id: userId })]);
  return insertId;
}
const job = async (id) => (await query('SELECT state, attempts, last_error FROM jobs WHERE id = ?', [id]))[0];

test('A4 dead jobs are listed, one is retried (attempts reset) and the worker runs it; all dead of a kind at once', async () => {
  const u = await newUser();
  const id = await deadJob(u.id);
  let r = await admin('GET', '/api/admin/jobs?state=dead&limit=500');
  assert.equal(r.status, 200);
  const listed = r.json.jobs.find((j) => j.id === id);
  assert.ok(listed, 'the dead job is listed');
  assert.equal(listed.kind, 'phone_release');
  assert.equal(listed.user_id, u.id);
  assert.equal(listed.attempts, 8);
  assert.equal(listed.last_error, 'test: gave up');
  assert.ok(r.json.jobs.every((j) => j.state === 'dead'));
  assert.deepEqual((await admin('GET', '/api/admin/jobs')).json.jobs.map((j) => j.state).filter((s) => s !== 'dead'), [], 'default state is dead');

  r = await admin('POST', `/api/admin/jobs/${id}/retry`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { id, state: 'pending', attempts: 0 });
  // phone_release of a user without a number is done at once.
  await waitFor(async () => (await job(id)).state === 'done', { timeoutMs: 15000, what: 'the retried job done' });
  assert.equal((await job(id)).attempts, 1);

  r = await admin('POST', `/api/admin/jobs/${id}/retry`);
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'not_retryable');
  r = await admin('POST', '/api/admin/jobs/999999999999/retry');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'no_such_job');
  for (const p of ['/api/admin/jobs/0/retry', '/api/admin/jobs/abc/retry', `/api/admin/jobs/${id}/run`, `/api/admin/jobs/${id}`]) {
    assert.equal((await admin('POST', p)).status, 404, p);
  }
  assert.equal((await admin('GET', '/api/admin/jobs?state=nope')).status, 400);

  const ids = [await deadJob(u.id), await deadJob(u.id)];
  r = await admin('POST', '/api/admin/jobs/dead/retry?kind=phone_release');
  assert.equal(r.status, 200);
  assert.ok(r.json.retried >= 2, r.text);
  for (const j of ids) await waitFor(async () => (await job(j)).state === 'done', { timeoutMs: 15000, what: `job ${j} done` });
  assert.equal((await admin('POST', '/api/admin/jobs/dead/retry?kind=no%20such')).status, 400);
});

// ---------- A5 resync ----------
test('A5 resync reads the subscription from Stripe and applies it as customer.subscription.updated', async () => {
  const cus = (await S.standin.createCustomer({ email: 'resync@example.test' })).id;
  const u = await newUser({ customer: cus });
  const sub = await S.standin.createSubscription({ customer: cus, price: PRICE.ai_secretary, metadata: { user_id: u.id } });
  const m0 = await metrics();
  let r = await admin('POST', `/api/admin/subscriptions/${sub.id}/resync`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.event_id, new RegExp(`^resync_${sub.id}_\\d{10}$`));
  assert.equal(r.json.status, 'processed');
  assert.equal(r.json.stripe.status, 'active');
  assert.equal(r.json.subscription.user_id, u.id);
  assert.equal(r.json.subscription.tier, 'ai_secretary');
  let [row] = await query('SELECT tier, subscription_id, past_due FROM users WHERE id = ?', [u.id]);
  assert.deepEqual({ ...row }, { tier: 'ai_secretary', subscription_id: sub.id, past_due: 0 });
  const [ev] = await query('SELECT type, status, created, api_version, user_id FROM stripe_events WHERE id = ?', [r.json.event_id]);
  assert.equal(ev.type, 'customer.subscription.updated');
  assert.equal(ev.status, 'processed');
  assert.equal(ev.api_version, '2026-10-28.endive');
  assert.ok(Math.abs(ev.created - Date.now() / 1000) < 30);
  const m1 = await metrics();
  assert.ok(m1.v['xsb_upstream_requests_total{upstream="stripe",outcome="2xx"}'] > m0.v['xsb_upstream_requests_total{upstream="stripe",outcome="2xx"}'],
    'the Stripe call was counted');

  // Stripe says past_due now; a second later the resync is newer and applies.
  await S.standin.createSubscription({ id: sub.id, status: 'past_due' });
  await new Promise((res) => setTimeout(res, 1100));
  r = await admin('POST', `/api/admin/subscriptions/${sub.id}/resync`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'processed');
  [row] = await query('SELECT tier, past_due FROM users WHERE id = ?', [u.id]);
  assert.deepEqual({ ...row }, { tier: 'ai_secretary', past_due: 1 });
  // The same second again is the same event: a duplicate.
  const again = await admin('POST', `/api/admin/subscriptions/${sub.id}/resync`);
  assert.ok(['processed', 'duplicate'].includes(again.json.status), again.text);

  // A deleted subscription stays deleted: the resync is stale.
  await S.signedWebhook(S.event('customer.subscription.deleted', { ...(await S.standin.object(sub.id)), status: 'canceled' }));
  await new Promise((res) => setTimeout(res, 1100));
  r = await admin('POST', `/api/admin/subscriptions/${sub.id}/resync`);
  assert.equal(r.json.status, 'stale', r.text);
  assert.equal(r.json.subscription.deleted, true);

  r = await admin('POST', '/api/admin/subscriptions/sub_doesnotexist123/resync');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'no_such_subscription');
  await S.standin.fail({ count: 5, status: 500, path_prefix: `/v1/subscriptions/${sub.id}` });
  r = await admin('POST', `/api/admin/subscriptions/${sub.id}/resync`);
  await S.standin.fail({ clear: true });
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'stripe_error');
  assert.equal((await admin('POST', `/api/admin/subscriptions/${sub.id}/sync`)).status, 404);
});

test('A5b resync: Stripe refusing the read is 502 stripe_refused with its code; the period end is the item\'s', async () => {
  const cus = (await S.standin.createCustomer({ email: 'resync-refused@example.test' })).id;
  const u = await newUser({ customer: cus });
  const sub = await S.standin.createSubscription({ customer: cus, price: PRICE.ai_secretary, metadata: { user_id: u.id } });
  await S.standin.fail({ count: 1, status: 403, path_prefix: `/v1/subscriptions/${sub.id}` });
  let r = await admin('POST', `/api/admin/subscriptions/${sub.id}/resync`);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, 'stripe_refused');
  assert.match(r.json.error.message, /HTTP 403, code none/);
  assert.doesNotMatch(r.json.error.message, /try again/i);
  r = await admin('POST', `/api/admin/subscriptions/${sub.id}/resync`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.stripe.current_period_end, (await S.standin.object(sub.id)).items.data[0].current_period_end);
});

// ---------- A6 revoke ----------
test('A6 revoke-tokens: the old token is refused, a new one works', async () => {
  const u = await newUser();
  const old = token(u.id);
  assert.equal((await request('GET', '/api/billing/usage', { token: old })).status, 200);
  let r = await admin('POST', `/api/admin/users/${u.id}/revoke-tokens`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { user_id: u.id, jwt_version: 2 });
  r = await request('GET', '/api/billing/usage', { token: old });
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'token_revoked');
  assert.equal((await request('GET', '/api/billing/usage', { token: token(u.id) })).status, 200);
  r = await admin('POST', `/api/admin/users/${crypto.randomUUID()}/revoke-tokens`);
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'no_such_user');
  assert.equal((await admin('POST', `/api/admin/users/${u.id}/revoke`)).status, 404);
});

// ---------- A7 phone ----------
test('A7 orphans: the report\'s shape, and a number Twilio does not list shows as ours but gone', async () => {
  const u = await newUser({ tier: 'ai_secretary', phone: true });
  const r = await admin('GET', '/api/admin/phone/orphans');
  assert.equal(r.status, 200, r.text);
  const b = r.json;
  assert.equal(b.complete, true, 'Twilio\'s whole list was read');
  assert.equal(b.incomplete_reason, null);
  assert.equal(b.twilio_pages, 1, 'Prism\'s list is one short page');
  for (const k of ['twilio_numbers', 'twilio_unparsed', 'xsb_numbers', 'other_numbers', 'ours', 'matched']) {
    assert.equal(typeof b[k], 'number', k);
  }
  assert.ok(Array.isArray(b.bought_not_ours));
  for (const n of b.bought_not_ours) {
    assert.match(n.sid, /^PN[0-9a-f]{32}$/);
    assert.match(n.friendly_name, /^xsb/);
    assert.ok('user_id' in n && 'user_phone_status' in n && 'phone_number' in n);
  }
  const gone = b.ours_gone_at_twilio.find((g) => g.user_id === u.id);
  assert.deepEqual(gone, { user_id: u.id, phone_number: u.num, sid: u.sid, phone_status: 'active' });
  assert.ok(b.ours >= 1);
  assert.equal(b.ours, b.matched + b.ours_gone_at_twilio.length);
  // Prism makes up its list: none of its numbers is ours.
  assert.equal(b.twilio_numbers, b.matched + b.bought_not_ours.length + b.other_numbers);
  const c = cli(['orphans']);
  assert.equal(c.status, 0, c.err);
  assert.equal(c.json.complete, true);
});

// The report reads every page of Twilio's list before it answers, and nginx gives up after 30 s of
// silence (a 504 of its own, not our JSON). An account of 25 full pages, each page slowed to just under
// HTTP_INTERACTIVE_TIMEOUT_MS (2.5 s in the test stack), would take 37 s: the report stops reading in
// time and answers the pages read, marked incomplete.
test('A7b orphans: a list too slow to read whole in nginx\'s time answers the pages read, complete false', { timeout: 120000 }, async () => {
  const interactive = Number(process.env.HTTP_INTERACTIVE_TIMEOUT_MS);
  const pages = 25, slow = interactive - 1000;
  assert.ok(slow > 0 && slow * pages > 32000, `the stack's Twilio timeout (${interactive} ms)`);
  const u = await newUser({ tier: 'ai_secretary', phone: true });
  await twilioLargeAccount(pages);
  await twilioDelay(slow, 'IncomingPhoneNumbers.json');
  const t0 = Date.now();
  let r, c;
  try {
    [r, c] = await Promise.all([admin('GET', '/api/admin/phone/orphans', { timeoutMs: 60000 }), cliAsync(['orphans'])]);
  } finally {
    await twilioDelay(0);
    await twilioLargeAccount(0);
  }
  const ms = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.ok(ms < 30000, `answered before nginx's 30 s: ${ms} ms`);
  const b = r.json;
  assert.equal(b.complete, false);
  assert.equal(b.incomplete_reason, 'out_of_time');
  assert.ok(b.twilio_pages >= 1 && b.twilio_pages < pages, `stopped early: ${b.twilio_pages} of ${pages} pages`);
  assert.equal(b.twilio_numbers, b.twilio_pages * 1000);
  // Ours may be on a page not read: no number of ours is called gone.
  assert.equal(b.ours_gone_at_twilio, null);
  assert.ok(b.ours >= 1 && b.matched === 0, `${u.sid} is not in the large account`);
  // What was read is compared: none of it is named for us.
  assert.deepEqual(b.bought_not_ours, []);
  assert.equal(b.other_numbers, b.twilio_numbers);
  assert.ok(b.twilio_ms > 0 && b.twilio_ms < ms);
  const audit = await admin('GET', `/api/admin/audit?actor=${adminUser.id}&action=phone.orphans&limit=1`);
  assert.equal(audit.status, 200, audit.text);
  assert.equal(audit.json.entries[0].detail, `incomplete: ${b.twilio_pages} pages, ${b.twilio_numbers} numbers read in ${b.twilio_ms} ms`);
  // The CLI, beside it: the report on stdout, exit 1 and why on stderr.
  assert.equal(c.status, 1, c.err);
  assert.equal(c.json.complete, false);
  assert.match(c.err, /incomplete: \d+ pages of Twilio's list read in \d+ ms/);
});

test('A8 repoint: every held number\'s URLs set at PUBLIC_BASE_URL, page by page', async () => {
  const u = await newUser({ tier: 'ai_secretary', phone: true });
  const m0 = await metrics();
  let after = '', seen = null, calls = 0;
  for (;;) {
    const r = await admin('POST', `/api/admin/phone/repoint?limit=100&after=${after}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.public_base_url, requireEnv('PUBLIC_BASE_URL').PUBLIC_BASE_URL);
    assert.equal(r.json.updated + r.json.failed, r.json.numbers.length);
    seen ??= r.json.numbers.find((n) => n.user_id === u.id);
    calls += r.json.numbers.length;
    if (!r.json.next_after) break;
    after = encodeURIComponent(r.json.next_after);
  }
  assert.deepEqual(seen, { user_id: u.id, phone_number: u.num, sid: u.sid, result: 'updated' });
  const m1 = await metrics();
  const k = 'xsb_upstream_requests_total{upstream="twilio",outcome="2xx"}';
  assert.ok(m1.v[k] - m0.v[k] >= calls, 'one Twilio call per number, counted');
  // Small pages carry on where the last ended.
  const r1 = await admin('POST', '/api/admin/phone/repoint?limit=1');
  assert.equal(r1.json.numbers.length, 1);
  const r2 = await admin('POST', `/api/admin/phone/repoint?limit=1&after=${encodeURIComponent(r1.json.next_after)}`);
  assert.ok(r2.json.numbers.length === 0 || r2.json.numbers[0].user_id > r1.json.numbers[0].user_id);
  for (const q of ['limit=0', 'limit=101', 'after=bad%20id']) {
    assert.equal((await admin('POST', `/api/admin/phone/repoint?${q}`)).status, 400, q);
  }
});

// ---------- A9 metrics ----------
test('A9 /metrics: the expected series; signature failures counted by xsb-webhook, read by xsb-billing', async () => {
  const m0 = await metrics();
  const bad = await S.signedWebhook(S.event('invoice.paid', S.invoice({})), { secret: 'whsec_wrong' });
  assert.equal(bad.status, 400);
  const stale = await S.signedWebhook(S.event('invoice.paid', S.invoice({})), { timestamp: Math.floor(Date.now() / 1000) - 3600 });
  assert.equal(stale.status, 400);
  // An ignored type, so its series exists.
  await S.signedWebhook(S.event('customer.created', { id: S.rid('cus_'), object: 'customer' }));
  const u = await newUser();
  await deadJob(u.id, 'admin_test_kind');

  const m = await metrics();
  assert.equal(m.v.xsb_webhook_signature_failures_total - m0.v.xsb_webhook_signature_failures_total, 2);
  assert.equal(m.v.xsb_db_up, 1);
  assert.equal(m.v.xsb_metrics_shared, 1, 'the counters file is shared');
  assert.ok(m.v['xsb_stripe_events{type="customer.created",status="ignored"}'] >= 1);
  assert.ok(m.v['xsb_stripe_events{type="customer.subscription.created",status="processed"}'] >= 1);
  assert.ok(m.v['xsb_jobs{kind="admin_test_kind",state="dead"}'] >= 1);
  assert.ok('xsb_jobs_oldest_age_seconds{kind="admin_test_kind",state="dead"}' in m.v);
  for (const up of ['stripe', 'twilio', 'smtp']) {
    for (const o of ['2xx', '4xx', '5xx', 'error']) assert.ok(`xsb_upstream_requests_total{upstream="${up}",outcome="${o}"}` in m.v);
    const inf = m.v[`xsb_upstream_request_duration_seconds_bucket{upstream="${up}",le="+Inf"}`];
    assert.equal(inf, m.v[`xsb_upstream_request_duration_seconds_count{upstream="${up}"}`]);
    assert.ok(`xsb_upstream_request_duration_seconds_sum{upstream="${up}"}` in m.v);
  }
  for (const fam of ['xsb_stripe_events gauge', 'xsb_jobs gauge', 'xsb_notifications gauge', 'xsb_webhook_signature_failures_total counter',
    'xsb_upstream_request_duration_seconds histogram']) {
    assert.ok(m.text.includes(`# TYPE ${fam}\n`), fam);
  }
  await query("DELETE FROM jobs WHERE kind = 'admin_test_kind'");
});

// ---------- A10 the CLI ----------
const cliOpts = (extra) => ({ env: { ...process.env, XSB_VAR: VAR_DIR, ADMIN_TOKEN: '', ...extra }, encoding: 'utf8', timeout: 60000 });
const cliResult = (status, out, err) => ({ status, out, err, json: (() => { try { return JSON.parse(out); } catch { return undefined; } })() });
function cli(args, { env: extra = {} } = {}) {
  const r = spawnSync(path.join(REPO_ROOT, 'scripts', 'xsb-admin'), args, cliOpts(extra));
  return cliResult(r.status, r.stdout, r.stderr);
}
/** cli() without holding up the test's other requests. */
function cliAsync(args) {
  return new Promise((resolve) => execFile(path.join(REPO_ROOT, 'scripts', 'xsb-admin'), args, cliOpts({}),
    (e, out, err) => resolve(cliResult(e ? e.code : 0, out, err))));
}

test('A10 xsb-admin: create, show, events, jobs, revoke, token, errors', async () => {
  const id = crypto.randomUUID();
  let r = cli(['user', 'create', `${id}@example.test`, '--id', id, '--tier', 'ai_secretary']);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.json.user.id, id);
  assert.equal(r.json.user.tier, 'ai_secretary');
  r = cli(['user', 'show', id]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.json.user.email, `${id}@example.test`);
  assert.equal(r.json.usage.voice_included, 100);
  r = cli(['events', 'processed', '--limit', '3']);
  assert.equal(r.status, 0, r.err);
  assert.ok(r.json.events.length <= 3 && r.json.events.every((e) => e.status === 'processed'));
  r = cli(['jobs']);
  assert.equal(r.status, 0, r.err);
  assert.ok(Array.isArray(r.json.jobs));
  const jid = await deadJob(id);
  r = cli(['retry', String(jid)]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.json.state, 'pending');
  r = cli(['token', id]);
  assert.equal(r.status, 0, r.err);
  const t = r.out.trim();
  assert.equal((await request('GET', '/api/billing/usage', { token: t })).status, 200);
  r = cli(['revoke', id]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.json.jwt_version, 2);
  assert.equal((await request('GET', '/api/billing/usage', { token: t })).status, 401);
  r = cli(['token', id, '--admin']);
  assert.equal((await request('GET', '/api/admin/events?limit=1', { token: r.out.trim() })).status, 200);
  // With ADMIN_TOKEN and BASE_URL only (as in production).
  r = cli(['events', 'failed'], { env: { XSB_VAR: '/nonexistent', ADMIN_TOKEN: ADMIN, BASE_URL: env.BASE_URL, TLS_CERT: env.TLS_CERT } });
  assert.equal(r.status, 0, r.err);
  // Errors: the API's (exit 1, body on stderr) and usage (exit 2).
  r = cli(['user', 'show', crypto.randomUUID()]);
  assert.equal(r.status, 1);
  assert.match(r.err, /HTTP 404/);
  assert.match(r.err, /no_such_user/);
  assert.equal(cli(['frobnicate']).status, 2);
  assert.equal(cli([]).status, 2);
  assert.equal(cli(['user', 'show', 'bad id']).status, 1);
  r = cli(['events'], { env: { XSB_VAR: '/nonexistent' } });
  assert.equal(r.status, 1);
  assert.match(r.err, /ADMIN_TOKEN/);
});

// ---------- A11 install ----------
test('A11 make install DESTDIR=… PREFIX=/usr: programs, migrations, nginx template, units, env example', () => {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-install-'));
  try {
    execFileSync('make', ['-C', REPO_ROOT, '--no-print-directory', 'install', `DESTDIR=${dest}`, 'PREFIX=/usr'], { stdio: 'pipe', timeout: 600000 });
    const has = (p, mode) => {
      const st = fs.statSync(path.join(dest, p));
      assert.ok(st.isFile(), p);
      if (mode) assert.equal(st.mode & 0o777, mode, `${p} mode`);
    };
    for (const p of ['webhook', 'billing', 'phone', 'worker', 'token', 'config', 'admin']) has(`usr/bin/xsb-${p}`, 0o755);
    const share = 'usr/share/xswarm-billing';
    has(`${share}/migrate`, 0o755);
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'sql')).filter((f) => f.endsWith('.sql'))) has(`${share}/sql/${f}`, 0o644);
    has(`${share}/nginx/production.conf.in`, 0o644);
    has(`${share}/nginx/fastcgi.conf`, 0o644);
    has(`${share}/xswarm-billing.env.example`, 0o644);
    const units = 'usr/lib/systemd/system';
    for (const p of ['webhook', 'billing', 'phone']) {
      const u = fs.readFileSync(path.join(dest, units, `xsb-${p}.service`), 'utf8');
      const pool = { webhook: 'WEBHOOK_PROCESSES', billing: 'FCGI_PROCESSES', phone: 'PHONE_PROCESSES' }[p];
      assert.match(u, new RegExp(`^ExecStart=/usr/bin/xsb-${p} -s /run/xswarm-billing/${p}\\.sock -n \\$\\{${pool}\\}$`, 'm'));
      assert.match(u, new RegExp(`^Environment=${pool}=[1-9][0-9]*$`, 'm'));
      assert.match(u, /^EnvironmentFile=\/etc\/xswarm-billing\/env$/m);
      assert.match(u, /^RuntimeDirectory=xswarm-billing$/m);
      assert.doesNotMatch(u, /@[A-Z_]+@/);
    }
    const w = fs.readFileSync(path.join(dest, units, 'xsb-worker.service'), 'utf8');
    assert.match(w, /^ExecStart=\/usr\/bin\/xsb-worker$/m);
    assert.match(w, /^EnvironmentFile=\/etc\/xswarm-billing\/env$/m);
    // The env example, once its blanks are filled, is a valid production configuration.
    const filled = fs.readFileSync(path.join(dest, share, 'xswarm-billing.env.example'), 'utf8')
      .replace(/^TWILIO_ACCOUNT_SID=CHANGE_ME$/m, `TWILIO_ACCOUNT_SID=AC${'0'.repeat(32)}`)
      .replace(/^JWT_SECRET=CHANGE_ME$/m, `JWT_SECRET=${'k'.repeat(40)}`)
      .replace(/^METRICS_TOKEN=CHANGE_ME$/m, `METRICS_TOKEN=${'m'.repeat(40)}`)
      .replace(/^(STRIPE_PRICE_\w+)=CHANGE_ME$/gm, (_, k) => `${k}=price_${k.toLowerCase()}`) // one tier's each
      .replaceAll('CHANGE_ME', 'set');
    const envFile = path.join(dest, 'env');
    fs.writeFileSync(envFile, filled);
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(XSB_|DB_|STRIPE_|TWILIO_|JWT_|SMTP_|PUBLIC_|APP_|FCGI_|LOG_|JOB_|WORKER_|HTTP_|MAX_|METRICS_|CHECKOUT_)/.test(k)));
    const out = execFileSync(path.join(dest, 'usr/bin/xsb-config'), ['--check'], { env: { ...clean, XSB_ENV_FILE: envFile }, encoding: 'utf8' });
    assert.match(out, /^XSB_MODE=production$/m);
    assert.match(out, /^METRICS_FILE=\/run\/xswarm-billing\/metrics$/m);
    assert.match(out, /^JWT_SECRET=\(secret\)$/m);
    assert.match(out, /^METRICS_TOKEN=\(secret\)$/m);
  } finally {
    fs.rmSync(dest, { recursive: true, force: true });
  }
});

// ---------- A12 the production nginx template ----------
test('A12 nginx -t accepts the rendered production config', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-nginx-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=billing.example.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const vars = { SERVER_NAME: 'billing.example.test', CERT: path.join(dir, 'cert.pem'), KEY: path.join(dir, 'key.pem'),
      FASTCGI_CONF: path.join(REPO_ROOT, 'nginx', 'fastcgi.conf'), ADMIN_ALLOW: path.join(REPO_ROOT, 'nginx', 'admin-allow.conf'),
      METRICS_ALLOW: path.join(REPO_ROOT, 'nginx', 'metrics-allow.conf') };
    let conf = fs.readFileSync(path.join(REPO_ROOT, 'nginx', 'production.conf.in'), 'utf8')
      .replace(/@([A-Z_]+)@/g, (m, k) => { assert.ok(k in vars, `unknown template variable ${m}`); return vars[k]; });
    if (process.getuid() !== 0) {
      // Not root: the master may not open /var/log/nginx or /run; what is checked stays the same.
      conf = conf.replaceAll('/var/log/nginx/', `${dir}/`).replace('pid /run/nginx.pid;', `pid ${dir}/nginx.pid;`).replace(/^user .*;$/m, '');
    }
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const r = spawnSync('nginx', ['-t', '-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /syntax is ok/);
    assert.match(r.stderr, /test is successful/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------- A12c README's settings table is the one xsb-config prints ----------
// README says "`xsb-config --doc` prints this table": a setting added, renamed or re-documented in
// common/core/cfg.c must reach the README too.
test('A12c README\'s settings table is exactly what xsb-config --doc prints', () => {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  const doc = execFileSync(`${XSB_BIN}/xsb-config`, ['--doc'], { encoding: 'utf8' }).trimEnd().split('\n');
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').split('\n');
  const at = readme.indexOf(doc[0]);
  assert.ok(at >= 0, 'README has the table\'s header line');
  let end = at;
  while (end < readme.length && readme[end].startsWith('|')) end++;
  assert.deepEqual(readme.slice(at, end), doc);
});

// ---------- A12b nginx's cache of kept connections against the programs' threads ----------
// A kept FastCGI connection holds a request thread of the program behind it
// while nginx caches it (OPERATIONS.md 1.7): each template's workers times
// an upstream's keepalive must leave at least half of that program's
// threads (its default count, one process of xsb-webhook and xsb-phone) to
// the requests in flight.
test('A12b nginx templates: workers x keepalive leaves half of each program\'s threads free', () => {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  const doc = execFileSync(`${XSB_BIN}/xsb-config`, ['--doc'], { encoding: 'utf8' });
  const dflt = (name) => {
    const m = doc.match(new RegExp('^\\| `' + name + '` \\| `(\\d+)`', 'm'));
    assert.ok(m, `xsb-config --doc has no default for ${name}`);
    return Number(m[1]);
  };
  const threads = {
    xsb_webhook: dflt('WEBHOOK_THREADS'),
    xsb_phone: dflt('PHONE_THREADS'),
    xsb_billing: dflt('FCGI_PROCESSES') * dflt('FCGI_THREADS'),
  };
  for (const t of ['local.conf.in', 'production.conf.in']) {
    const conf = fs.readFileSync(path.join(REPO_ROOT, 'nginx', t), 'utf8');
    const w = conf.match(/^worker_processes\s+(\S+);/m);
    assert.ok(w, `${t}: no worker_processes`);
    assert.match(w[1], /^\d+$/, `${t}: worker_processes ${w[1]} grows with the host's cores`);
    for (const [up, n] of Object.entries(threads)) {
      const m = conf.match(new RegExp(`upstream ${up} \\{[^}]*keepalive (\\d+);`));
      assert.ok(m, `${t}: upstream ${up} has no keepalive`);
      assert.ok(Number(w[1]) * Number(m[1]) * 2 <= n,
        `${t}: ${w[1]} workers x keepalive ${m[1]} for ${up} against its ${n} threads`);
    }
  }
});

// On a copy of stripe_events (its indexes, a known population of 5,000 rows), so that the plan does not
// depend on how many events the tests before this one stored: on a few rows MariaDB rightly prefers a sort.
test('A13 the admin event lists read an index in their order, never a sort of the whole table', () => {
  const [recent, byStatus] = statementSql('ADMIN_EVENTS_RECENT', 'ADMIN_EVENTS_BY_STATUS');
  const copy = (sql) => {
    assert.match(sql, /\bFROM stripe_events\b/);
    return sql.replace(/\bFROM stripe_events\b/, 'FROM a13_stripe_events');
  };
  const explain = (sql) => asAdminScript(`EXPLAIN ${sql};`).split('\n').map((l) => l.split('\t'));
  asAdminScript(`DROP TABLE IF EXISTS a13_stripe_events;
    CREATE TABLE a13_stripe_events LIKE stripe_events;
    INSERT INTO a13_stripe_events (id, type, livemode, created, payload, status, received_at)
      SELECT CONCAT('evt_a13_', seq), 'invoice.paid', 0, seq, '{}', IF(seq % 20 = 0, 'failed', 'processed'),
        NOW(6) - INTERVAL seq SECOND FROM seq_1_to_5000;
    ANALYZE TABLE a13_stripe_events PERSISTENT FOR ALL;`);
  try {
    for (const [sql, key] of [
      [copy(recent).replace(/LIMIT \?$/, 'LIMIT 50'), 'stripe_events_received'],
      [copy(byStatus).replace('status = ?', "status = 'failed'").replace(/LIMIT \?$/, 'LIMIT 50'), 'stripe_events_status'],
    ]) {
      assert.doesNotMatch(sql, /\?/, sql);
      const plan = explain(sql);
      // id select_type table type possible_keys key key_len ref rows Extra
      assert.equal(plan.length, 1, `${sql}: ${JSON.stringify(plan)}`);
      assert.equal(plan[0][5], key, `${sql}: ${JSON.stringify(plan[0])}`);
      assert.doesNotMatch(plan[0][9] ?? '', /filesort/, sql);
    }
  } finally {
    asAdminScript('DROP TABLE IF EXISTS a13_stripe_events;');
  }
});
