// POST /api/usage: the app reports usage with an idempotency key; a replay
// returns the first result and records nothing new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { request, closeHttp } from './lib/http.mjs';
import { query, close, asAdmin, statementSql } from './lib/db.mjs';
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
  assert.equal(u.json.overage.sms_cents, 15);
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
  const { DB_USER, DB_NAME, DB_SOCKET } = requireEnv('DB_USER', 'DB_NAME', 'DB_SOCKET');
  const log = path.join(VAR_DIR, 'log', 'billing.log');
  const was = asAdmin('SELECT @@GLOBAL.innodb_lock_wait_timeout');
  let blocker;
  try {
    // A lock wait of 1 s for every new session; the programs' sessions are
    // ended so that they reconnect with it (a read is retried on a new one).
    asAdmin('SET GLOBAL innodb_lock_wait_timeout = 1');
    const own = (await query('SELECT CONNECTION_ID() AS id'))[0].id;
    const ids = asAdmin(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${DB_USER}' AND ID <> ${Number(own)}`)
      .split('\n').filter(Boolean);
    for (const id of ids) { try { asAdmin(`KILL CONNECTION ${Number(id)}`); } catch { /* gone already */ } }
    blocker = await mysql.createConnection({ socketPath: DB_SOCKET, user: DB_USER, password: env.DB_PASSWORD ?? '', database: DB_NAME });
    const hold = async (key) => {
      await blocker.beginTransaction();
      await blocker.query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
        [user, 'sms', 99, Math.floor(Date.now() / 1000), 'test', prefix + key]);
    };

    // The key is held 1.6 s: the first run waits 1 s and is aborted, a later run records it.
    const from = fs.statSync(log).size;
    const k1 = `held-${crypto.randomUUID()}`;
    await hold(k1);
    const pending = report(svc, { user_id: user, kind: 'sms', quantity: 2, idempotency_key: k1 });
    await sleep(1600);
    await blocker.rollback();
    const r1 = await pending;
    assert.equal(r1.status, 201, r1.text);
    assert.equal(r1.json.usage.quantity, 2);
    const said = fs.readFileSync(log, 'utf8').slice(from);
    assert.match(said, /db: USAGE_INSERT: error 1205 \(HY000\)/, 'the first run was aborted by the lock wait timeout');

    // The key is held past every run: 503 saying to try again, nothing recorded; sent again later, 201.
    const k2 = `stuck-${crypto.randomUUID()}`;
    await hold(k2);
    const r2 = await report(svc, { user_id: user, kind: 'sms', quantity: 2, idempotency_key: k2 });
    await blocker.rollback();
    assert.equal(r2.status, 503, r2.text);
    assert.equal(r2.json.error.code, 'database_unavailable');
    assert.match(r2.json.error.message, /try again/);
    assert.equal(r2.headers['retry-after'], '1');
    assert.equal(Number((await query('SELECT COUNT(*) AS n FROM usage_events WHERE idempotency_key = ?', [prefix + k2]))[0].n), 0);
    const r3 = await report(svc, { user_id: user, kind: 'sms', quantity: 2, idempotency_key: k2 });
    assert.equal(r3.status, 201, r3.text);
  } finally {
    await blocker?.rollback().catch(() => {});
    await blocker?.end().catch(() => {});
    asAdmin(`SET GLOBAL innodb_lock_wait_timeout = ${Number(was)}`);
  }
});

// ---------- reads of a period, whatever the history ----------

/** Index entries a statement made MariaDB examine on this connection: Handler_* of the session, around it. */
async function examined(sql, params) {
  const status = async () => Object.fromEntries((await query("SHOW SESSION STATUS WHERE Variable_name IN "
    + "('Handler_icp_attempts', 'Handler_icp_match', 'Handler_read_next')")).map((r) => [r.Variable_name, Number(r.Value)]));
  const a = await status();
  await query(sql, params);
  const b = await status();
  const d = (k) => b[k] - a[k];
  // With the condition pushed into the index, each entry looked at is an attempt and a match is then read;
  // without, each entry is a read.
  return d('Handler_icp_attempts') + d('Handler_read_next') - d('Handler_icp_match');
}

test('U9 the usage API and the rating read a period along the index: the rows of a long history before it are not looked at', async () => {
  const day = 86400, now = Math.floor(Date.now() / 1000);
  const start = now - 40 * day, end = now - 10 * day;
  // Two years of calls and texts before the period, 10 + 10 in it, 5 after it.
  const users = [await newUser(), await newUser()];
  for (const user of users) {
    const rows = [];
    for (let i = 0; i < 400; i++) rows.push([i % 2 ? 'voice' : 'sms', start - day - i * 43 * 3600]);
    for (let i = 0; i < 20; i++) rows.push([i % 2 ? 'voice' : 'sms', start + i * day]);
    for (let i = 0; i < 5; i++) rows.push([i % 2 ? 'voice' : 'sms', end + i * 3600]);
    await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES ?',
      [rows.map(([kind, at], i) => [user, kind, 7, at, 'test', `u9-${user}-${i}`])]);
  }
  await query('ANALYZE TABLE usage_events');
  const [u, v] = users;
  const [sum, sums2, rating, ratingLock, unbilled, kindSum] = statementSql('USAGE_SUM', 'USAGE_SUMS_2', 'RATING_USAGE',
    'RATING_USAGE_LOCK', 'RECONCILE_UNBILLED', 'USAGE_KIND_SUM');
  const reads = [
    ['USAGE_SUM', sum, [u, end, start, u, start, end], 20],
    ['USAGE_SUMS_2', sums2, [u, start, end, v, start, end, u, end, start, v, end, start], 40],
    ['RATING_USAGE', rating, [u, start, end], 20],
    ['RATING_USAGE_LOCK', ratingLock, [u, start, end], 20],
    ['RECONCILE_UNBILLED', unbilled, [u, start, end], 20],
    ['USAGE_KIND_SUM', kindSum, [u, 'voice', start, end], 10],
  ];
  // kind IN (...) is what bounds the range: it must list every kind the table may hold (its CHECK), or rows of
  // a kind left out would be neither shown nor billed.
  const [check] = await query("SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS "
    + "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'usage_events' AND CONSTRAINT_NAME = 'usage_kind'");
  const kinds = (s) => [...(s.match(/kind`? in \(([^)]*)\)/i)?.[1] ?? '').matchAll(/'([a-z]+)'/g)].map((m) => m[1]).sort();
  assert.ok(check && kinds(check.c).length > 0, JSON.stringify(check));
  for (const [name, sql, params, inPeriod] of reads) {
    if (name !== 'USAGE_KIND_SUM') assert.deepEqual(kinds(sql), kinds(check.c), `${name} lists every kind of usage_kind`);
    const n = await examined(sql, params);
    // The period's rows, and at most one entry past the end of each range (a user's kinds: up to 2 a user).
    assert.ok(n >= inPeriod && n <= inPeriod + 4, `${name} looked at ${n} index entries for ${inPeriod} rows in the period (${sql})`);
  }
  // usage_user_time holds quantity (sql/016): the sums and the rating's rows come from the index alone.
  const tables = (node) => (node && typeof node === 'object'
    ? [...(node.table_name ? [node] : []), ...Object.values(node).flatMap(tables)] : []);
  for (const [name, sql, params] of reads.filter(([name]) => name !== 'RECONCILE_UNBILLED')) {
    const [{ EXPLAIN: plan }] = await query(`EXPLAIN FORMAT=JSON ${sql}`, params);
    const usage = tables(JSON.parse(plan)).filter((t) => t.key === 'usage_user_time');
    assert.ok(usage.length > 0 && usage.every((t) => t.using_index === true), `${name} reads usage_user_time alone: ${plan}`);
  }
  // The figures themselves: the period's rows only.
  const [row] = await query(sum, [u, end, start, u, start, end]);
  const cells = Object.values(row).map(Number);
  assert.deepEqual(cells.slice(0, 4), [70, 10, 10, 70], 'voice seconds, started minutes, calls, texts of the period');
});
