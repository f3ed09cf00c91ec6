// POST /api/usage: the app reports usage with an idempotency key; a replay
// returns the first result and records nothing new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request, closeHttp } from './lib/http.mjs';
import { query, close, asAdmin, hold } from './lib/db.mjs';
import { env, requireEnv, VAR_DIR } from './lib/env.mjs';
import { keyArgs } from './lib/token.mjs';

test.after(async () => { closeHttp(); await close(); });

const stackEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(env).map((k) => [k, env[k]])) });
const token = (userId, args = []) => execFileSync(`${requireEnv('XSB_BIN').XSB_BIN}/xsb-token`, keyArgs(['-u', userId, ...args]),
  { env: stackEnv(), encoding: 'utf8' }).trim();
async function newUser(tier = 'ai_secretary') {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier) VALUES (?, ?, ?)', [id, `${id}@example.test`, tier]);
  return id;
}
const report = (tok, json, headers = {}) => request('POST', '/api/usage', { token: tok, json, headers });
const count = async (user) => Number((await query('SELECT COUNT(*) AS n FROM usage_events WHERE user_id = ?', [user]))[0].n);

test('U1 a service reports SMS and voice; the usage endpoint of the user shows it', async () => {
  const svc = token(await newUser(), ['-r', 'service']);
  const user = await newUser();
  const r1 = await report(svc, { user_id: user, kind: 'sms', quantity: 120, idempotency_key: `sms-batch-${crypto.randomUUID()}` });
  assert.equal(r1.status, 201, r1.text);
  assert.equal(r1.json.replayed, false);
  assert.equal(r1.json.usage.quantity, 120);
  const r2 = await report(svc, { user_id: user, kind: 'voice', quantity: 61 }, { 'Idempotency-Key': `call-${crypto.randomUUID()}` });
  assert.equal(r2.status, 201, r2.text);
  const u = await request('GET', '/api/billing/usage', { token: token(user) });
  assert.equal(u.status, 200);
  assert.equal(u.json.usage.sms, 120);
  assert.equal(u.json.usage.voice_minutes, 2, '61 s is two started minutes');
  // No subscription: 20 texts over ai_secretary's 100, which no bill charges (billing.test B4d).
  assert.deepEqual([u.json.overage.sms, u.json.overage.sms_cents], [20, 0]);
});

test('U2 a replay returns the first result and records nothing new; another body under the key is a conflict', async () => {
  const svc = token(await newUser(), ['-r', 'service']);
  const user = await newUser();
  const body = { user_id: user, kind: 'sms', quantity: 3, idempotency_key: `k-${crypto.randomUUID()}` };
  const first = await report(svc, body);
  const replays = await Promise.all(Array.from({ length: 5 }, () => report(svc, body)));
  assert.equal(first.status, 201);
  for (const r of replays) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.replayed, true);
    assert.equal(r.json.usage.id, first.json.usage.id);
  }
  assert.equal(await count(user), 1);
  const other = await report(svc, { ...body, quantity: 4 });
  assert.equal(other.status, 409);
  assert.equal(other.json.error.code, 'idempotency_conflict');
  assert.equal(await count(user), 1);
});

test('U3 only service or admin tokens may report; bad input is 400 and records nothing', async () => {
  const user = await newUser();
  const body = { user_id: user, kind: 'sms', quantity: 1, idempotency_key: `x1-${crypto.randomUUID()}` };
  assert.equal((await report(null, body)).status, 401);
  const asUser = await report(token(user), body);
  assert.equal(asUser.status, 403);
  const admin = token(await newUser(), ['-r', 'admin']);
  const svc = token(await newUser(), ['-r', 'service']);
  const bad = [
    [{ ...body, kind: 'mms' }, 'bad_kind'],
    [{ ...body, quantity: 0 }, 'bad_quantity'],
    [{ ...body, quantity: -5 }, 'bad_quantity'],
    [{ ...body, quantity: 1.5 }, 'bad_quantity'],
    [{ ...body, quantity: '7' }, 'bad_quantity'],
    [{ ...body, quantity: 1e12 }, 'bad_quantity'],
    [{ ...body, idempotency_key: undefined }, 'bad_idempotency_key'],
    [{ ...body, idempotency_key: "x'; DROP TABLE users; --" }, 'bad_idempotency_key'],
    [{ ...body, idempotency_key: 'k'.repeat(201) }, 'bad_idempotency_key'],
    [{ ...body, user_id: '../etc/passwd' }, 'bad_user_id'],
    [{ ...body, occurred_at: Math.floor(Date.now() / 1000) + 3600 }, 'bad_occurred_at'],
  ];
  for (const [b, code] of bad) {
    const r = await report(svc, b);
    assert.equal(r.status, 400, `${JSON.stringify(b)} ${r.text}`);
    assert.equal(r.json.error.code, code);
  }
  const notJson = await request('POST', '/api/usage', { token: svc, body: 'kind=sms', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.equal(notJson.status, 415);
  const unknown = await report(svc, { ...body, user_id: crypto.randomUUID() });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'unknown_user');
  assert.equal(await count(user), 0);
  assert.equal((await report(admin, body)).status, 201, 'admin may report too');
});

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

test('U4 an insert the server aborts (lock wait timeout) is run again: 201 once the lock goes, 503 with Retry-After while it stays', async () => {
  const svc = token(await newUser(), ['-r', 'service']);
  const user = await newUser();
  // How a key is stored, learnt from a report rather than assumed.
  const k0 = `probe-${crypto.randomUUID()}`;
  assert.equal((await report(svc, { user_id: user, kind: 'sms', quantity: 1, idempotency_key: k0 })).status, 201);
  const [{ idempotency_key: stored }] = await query('SELECT idempotency_key FROM usage_events WHERE user_id = ?', [user]);
  assert.ok(stored.endsWith(k0));
  const prefix = stored.slice(0, stored.length - k0.length);
  const { DB_USER } = requireEnv('DB_USER');
  const log = path.join(VAR_DIR, 'log', 'billing.log');
  const was = asAdmin('SELECT @@GLOBAL.innodb_lock_wait_timeout');
  let held;
  try {
    // A lock wait of 1 s for every new session; the programs' sessions are
    // ended so that they reconnect with it (a read is retried on a new one).
    asAdmin('SET GLOBAL innodb_lock_wait_timeout = 1');
    const own = (await query('SELECT CONNECTION_ID() AS id'))[0].id;
    const ids = asAdmin(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${DB_USER}' AND ID <> ${Number(own)}`)
      .split('\n').filter(Boolean);
    for (const id of ids) { try { asAdmin(`KILL CONNECTION ${Number(id)}`); } catch { /* gone already */ } }
    const holdKey = async (key) => {
      held = await hold('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
        [user, 'sms', 99, Math.floor(Date.now() / 1000), 'test', prefix + key]);
    };

    // The key is held 1.6 s: the first run waits 1 s and is aborted, a later run records it.
    const from = fs.statSync(log).size;
    const k1 = `held-${crypto.randomUUID()}`;
    await holdKey(k1);
    const pending = report(svc, { user_id: user, kind: 'sms', quantity: 2, idempotency_key: k1 });
    await sleep(1600);
    await held.release();
    const r1 = await pending;
    assert.equal(r1.status, 201, r1.text);
    assert.equal(r1.json.usage.quantity, 2);
    const said = fs.readFileSync(log, 'utf8').slice(from);
    assert.match(said, /db: USAGE_INSERT: error 1205 \(HY000\)/, 'the first run was aborted by the lock wait timeout');

    // The key is held past every run: 503 saying to try again, nothing recorded; sent again later, 201.
    const k2 = `stuck-${crypto.randomUUID()}`;
    await holdKey(k2);
    const r2 = await report(svc, { user_id: user, kind: 'sms', quantity: 2, idempotency_key: k2 });
    await held.release();
    assert.equal(r2.status, 503, r2.text);
    assert.equal(r2.json.error.code, 'database_unavailable');
    assert.match(r2.json.error.message, /try again/);
    assert.equal(r2.headers['retry-after'], '1');
    assert.equal(Number((await query('SELECT COUNT(*) AS n FROM usage_events WHERE idempotency_key = ?', [prefix + k2]))[0].n), 0);
    const r3 = await report(svc, { user_id: user, kind: 'sms', quantity: 2, idempotency_key: k2 });
    assert.equal(r3.status, 201, r3.text);
  } finally {
    await held?.release();
    asAdmin(`SET GLOBAL innodb_lock_wait_timeout = ${Number(was)}`);
  }
});

