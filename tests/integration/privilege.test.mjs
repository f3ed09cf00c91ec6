// Least privilege (issue 18), through nginx: the admin audit trail (who, what, when, from where, in
// the transaction of the change), usage reports attributed to their service and capped per user and
// billing period, per-user rates on the billing and phone APIs, /metrics behind METRICS_TOKEN.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request, rawRequest, closeHttp } from './lib/http.mjs';
import { query, close, asAdmin } from './lib/db.mjs';
import { requireEnv, REPO_ROOT, VAR_DIR } from './lib/env.mjs';
import { mint } from './lib/token.mjs';
import { postCallback } from './lib/twilio.mjs';
import * as mail from './lib/mail.mjs';
import { sleep, waitFor } from './lib/wait.mjs';

after(async () => { closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
async function newUser(tier = 'ai_secretary', { phone = false } = {}) {
  const id = crypto.randomUUID();
  const sid = phone ? `PN${crypto.randomBytes(16).toString('hex')}` : null;
  const num = phone ? `+1555${String(crypto.randomInt(1e7)).padStart(7, '0')}` : null;
  await query('INSERT INTO users (id, email, tier, phone_number, phone_sid, phone_status) VALUES (?, ?, ?, ?, ?, ?)',
    [id, `${id}@privilege.example`, tier, num, sid, phone ? 'active' : 'none']);
  return id;
}
const auditOf = (actor) => query('SELECT * FROM admin_audit WHERE actor = ? ORDER BY id', [actor]);

// ---------- audit ----------

test('PV1 every admin call past the token check leaves one audit row: who, key, what, target, outcome, when, from where', async () => {
  const { ADMIN_JWT_PUBLIC_KEYS } = requireEnv('ADMIN_JWT_PUBLIC_KEYS');
  const actor = `op-${crypto.randomBytes(6).toString('hex')}`;
  const tok = mint(['-r', 'admin', '-u', actor]);
  const admin = (m, p, o = {}) => request(m, p, { token: tok, headers: { 'X-Forwarded-For': '203.0.113.7' }, ...o });
  const id = crypto.randomUUID(), t0 = now();

  assert.equal((await admin('POST', '/api/admin/users', { json: { id, email: `${id}@privilege.example` } })).status, 201);
  assert.equal((await admin('POST', '/api/admin/users', { json: { id, email: `${id}@privilege.example` } })).status, 409);
  assert.equal((await admin('GET', `/api/admin/users/${id}`)).status, 200);
  const rv = await admin('POST', `/api/admin/users/${id}/revoke-tokens`);
  assert.equal(rv.status, 200);
  assert.equal((await admin('POST', '/api/admin/jobs/999999999999/retry')).status, 404);
  assert.equal((await admin('GET', '/api/admin/events?status=nonsense')).status, 400);
  assert.equal((await admin('GET', `/api/admin/users/${id}/bills`)).status, 200);
  assert.equal((await admin('GET', '/api/admin/phone/numbers?limit=1')).status, 200);
  // Refused tokens have no actor: a service token at an admin route writes nothing.
  const svc = mint(['-r', 'service', '-u', actor]);
  assert.equal((await request('GET', `/api/admin/users/${id}`, { token: svc })).status, 403);

  const rows = await auditOf(actor);
  const got = rows.map((r) => [r.action, r.target, r.outcome, r.status]);
  assert.deepEqual(got, [
    ['user.create', id, 'ok', 201],
    ['user.create', id, 'user_exists', 409],
    ['user.read', id, 'ok', 200],
    ['user.revoke-tokens', id, 'ok', 200],
    ['job.retry', '999999999999', 'no_such_job', 404],
    ['events.list', null, 'bad_status', 400],
    ['user.read', `${id}/bills`, 'ok', 200],
    ['phone.numbers', null, 'ok', 200],
  ]);
  for (const r of rows) {
    assert.equal(r.actor_key, ADMIN_JWT_PUBLIC_KEYS.split(',')[0].slice(0, 8), 'the key that signed the token');
    assert.equal(r.remote_addr, '127.0.0.1');
    assert.equal(r.forwarded_for, '203.0.113.7');
    assert.match(r.request_id, /^[0-9a-f]{32}$/);
    assert.ok(Number(r.at) >= t0 && Number(r.at) <= now() + 1, `when: ${r.at}`);
  }
  assert.equal(rows[0].detail, 'tier ai_buddy');
  assert.equal(rows[5].detail, 'status=nonsense');
  assert.equal(rows[7].detail, 'limit=1');
});

test('PV2 a change and its audit row commit together: an audit row that cannot be written undoes the change', async () => {
  const actor = `op-${crypto.randomBytes(6).toString('hex')}`;
  const tok = mint(['-r', 'admin', '-u', actor]);
  const user = await newUser();
  const before = (await query('SELECT jwt_version FROM users WHERE id = ?', [user]))[0].jwt_version;
  // A check refuses this actor's audit rows only (other files' admins are not disturbed).
  const { DB_NAME } = requireEnv('DB_NAME');
  asAdmin(`ALTER TABLE \`${DB_NAME}\`.admin_audit ADD CONSTRAINT pv2_refuse CHECK (actor <> '${actor}')`);
  try {
    const r = await request('POST', `/api/admin/users/${user}/revoke-tokens`, { token: tok });
    assert.ok(r.status >= 500, `refused when the audit row fails: ${r.status} ${r.text}`);
    assert.equal((await query('SELECT jwt_version FROM users WHERE id = ?', [user]))[0].jwt_version, before,
      'the bump was rolled back with the audit row');
    const read = await request('GET', `/api/admin/users/${user}`, { token: tok });
    assert.ok(read.status >= 500, 'a read that cannot be recorded is not shown');
    assert.equal(read.json?.user, undefined);
    const bills = await request('GET', `/api/admin/users/${user}/bills`, { token: tok });
    assert.ok(bills.status >= 500, `nor are bills: ${bills.status} ${bills.text}`);
    assert.equal(bills.json?.bills, undefined);
    const nums = await request('GET', '/api/admin/phone/numbers?limit=1', { token: tok });
    assert.ok(nums.status >= 500, `nor are numbers: ${nums.status} ${nums.text}`);
    assert.equal(nums.json?.numbers, undefined);
  } finally {
    asAdmin(`ALTER TABLE \`${DB_NAME}\`.admin_audit DROP CONSTRAINT IF EXISTS pv2_refuse`);
  }
  const r = await request('POST', `/api/admin/users/${user}/revoke-tokens`, { token: tok });
  assert.equal(r.status, 200);
  assert.equal(r.json.jwt_version, before + 1);
  assert.deepEqual((await auditOf(actor)).map((a) => [a.action, a.outcome]), [['user.revoke-tokens', 'ok']]);
});

test('PV3 GET /api/admin/audit filters by actor, action and time, pages with before; xsb-admin audit lists it', async () => {
  const actor = `op-${crypto.randomBytes(6).toString('hex')}`;
  const tok = mint(['-r', 'admin', '-u', actor]);
  for (let i = 0; i < 5; i++) assert.equal((await request('GET', '/api/admin/jobs?limit=1', { token: tok })).status, 200);
  assert.equal((await request('GET', '/api/admin/events?limit=1', { token: tok })).status, 200);
  const all = await auditOf(actor);
  assert.equal(all.length, 6);

  const viewer = mint(['-r', 'admin', '-u', `${actor}-viewer`]);
  const list = (q) => request('GET', `/api/admin/audit?${q}`, { token: viewer });
  let r = await list(`actor=${actor}&action=jobs.list&limit=2`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.entries.map((e) => e.id), [all[4].id, all[3].id].map(Number), 'newest first');
  assert.ok(r.json.entries.every((e) => e.actor === actor && e.action === 'jobs.list'));
  const seen = r.json.entries.map((e) => e.id);
  while (r.json.next_before !== null) {
    r = await list(`actor=${actor}&action=jobs.list&limit=2&before=${r.json.next_before}`);
    assert.equal(r.status, 200);
    seen.push(...r.json.entries.map((e) => e.id));
  }
  assert.deepEqual(seen, all.slice(0, 5).reverse().map((e) => Number(e.id)), 'the pages hold each row once');
  r = await list(`actor=${actor}&since=${Number(all[5].at) + 1}`);
  assert.deepEqual(r.json.entries, [], 'since is inclusive of later rows only');
  r = await list(`actor=${actor}&until=${Number(all[0].at)}`);
  assert.deepEqual(r.json.entries, [], 'until is exclusive');
  r = await list(`actor=${actor}&action=events.list`);
  assert.deepEqual(r.json.entries.map((e) => e.id), [Number(all[5].id)]);
  for (const [q, code] of [['actor=a%20b', 'bad_actor'], ['action=DROP', 'bad_action'], ['since=-1', 'bad_since'],
    ['until=x', 'bad_until'], ['before=1e3', 'bad_before'], ['limit=0', 'bad_limit'], ['actor=a&actor=b', 'bad_actor']]) {
    const e = await list(q);
    assert.equal(e.status, 400, q);
    assert.equal(e.json.error.code, code, q);
  }
  // Reading the audit is itself recorded.
  const viewed = await auditOf(`${actor}-viewer`);
  assert.ok(viewed.some((v) => v.action === 'audit.list' && v.outcome === 'ok'));
  assert.ok(viewed.some((v) => v.action === 'audit.list' && v.outcome === 'bad_action' && v.status === 400));
  assert.equal((await request('GET', '/api/admin/audit', { token: mint(['-r', 'service', '-u', actor]) })).status, 403);

  const cli = spawnSync(path.join(REPO_ROOT, 'scripts', 'xsb-admin'), ['audit', '--actor', actor, '--action', 'events.list'],
    { env: { ...process.env, XSB_VAR: VAR_DIR, ADMIN_TOKEN: '' }, encoding: 'utf8', timeout: 60000 });
  assert.equal(cli.status, 0, cli.stderr);
  const out = JSON.parse(cli.stdout);
  assert.deepEqual(out.entries.map((e) => [e.actor, e.action]), [[actor, 'events.list']]);
  const bad = spawnSync(path.join(REPO_ROOT, 'scripts', 'xsb-admin'), ['audit', '--since', 'yesterday'],
    { env: { ...process.env, XSB_VAR: VAR_DIR }, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad since/);
});

test('PV3b the audit pages newest first by time, then id: rows of one second, a clock behind (another node) and a before that is no row', async () => {
  const actor = `op-${crypto.randomBytes(6).toString('hex')}`;
  // Ids in insert order; times as two nodes with a clock 30 s apart would write them, three of one second.
  const t = now() - 3600;
  const ats = [t, t + 60, t + 30, t + 60, t + 60, t + 5, t + 90, t + 45];
  // The last four after a gap of ids (as Galera's auto_increment_increment leaves), for a before that is no row.
  let gap;
  for (const [i, at] of ats.entries()) {
    if (i === 4) {
      const [{ id }] = await query('SELECT MAX(id) AS id FROM admin_audit');
      gap = Number(id) + 50;
      await query("INSERT INTO admin_audit (id, at, actor, actor_key, action, outcome, status) VALUES (?, ?, ?, 'k', 'jobs.list', 'ok', 200)",
        [gap + 50, at, actor]);
      continue;
    }
    await query("INSERT INTO admin_audit (at, actor, actor_key, action, outcome, status) VALUES (?, ?, 'k', 'jobs.list', 'ok', 200)",
      [at, actor]);
  }
  const rows = (await auditOf(actor)).map((r) => ({ id: Number(r.id), at: Number(r.at) }));
  const want = [...rows].sort((a, b) => b.at - a.at || b.id - a.id).map((r) => r.id);
  const viewer = mint(['-r', 'admin', '-u', `${actor}-viewer`]);
  const list = (q) => request('GET', `/api/admin/audit?actor=${actor}&${q}`, { token: viewer });
  for (const limit of [1, 2, 3, 8]) {
    let r = await list(`limit=${limit}`);
    const seen = r.json.entries.map((e) => e.id);
    while (r.json.next_before !== null) {
      r = await list(`limit=${limit}&before=${r.json.next_before}`);
      assert.equal(r.status, 200, r.text);
      seen.push(...r.json.entries.map((e) => e.id));
    }
    assert.deepEqual(seen, want, `pages of ${limit}: each row once, newest first by (at, id)`);
  }
  // A before that is no row's id: after the nearest row below it (of any actor), that row included.
  const r = await list(`limit=8&before=${gap}`);
  const [near] = await query('SELECT id, at FROM admin_audit WHERE id < ? ORDER BY id DESC LIMIT 1', [gap]);
  const place = { id: gap, at: Number(near.at) };
  assert.deepEqual(r.json.entries.map((e) => e.id),
    rows.filter((x) => x.at < place.at || (x.at === place.at && x.id < place.id)).sort((a, b) => b.at - a.at || b.id - a.id)
      .map((x) => x.id), 'a before that is no row\'s id starts at the nearest row below it');
  assert.ok(r.json.entries.length >= 4 && r.json.entries.length < rows.length, 'the gap falls among the rows');
  assert.deepEqual((await list('before=0')).json.entries, [], 'no row at or below the id: an empty page');
});

// ---------- usage: attributed and capped ----------

const report = (tok, json) => request('POST', '/api/usage', { token: tok, json });
const smsOf = async (user) => Number((await query("SELECT COALESCE(SUM(quantity), 0) AS n FROM usage_events WHERE user_id = ? AND kind = 'sms'", [user]))[0].n);

test('PV4 each usage row names the service that reported it; Twilio\'s rows name twilio', async () => {
  const service = `svc-${crypto.randomBytes(6).toString('hex')}`;
  const user = await newUser('ai_secretary', { phone: true });
  const key = `pv4-${crypto.randomUUID()}`;
  const r = await report(mint(['-r', 'service', '-u', service]), { user_id: user, kind: 'sms', quantity: 2, idempotency_key: key });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.usage.reported_by, service);
  const sid = `CA${crypto.randomBytes(16).toString('hex')}`;
  const cb = await postCallback(`/phone/status/${user}`, { AccountSid: requireEnv('TWILIO_ACCOUNT_SID').TWILIO_ACCOUNT_SID,
    CallSid: sid, CallStatus: 'completed', CallDuration: '30', From: '+14155550100', To: '+14155550199', Direction: 'inbound',
    ApiVersion: '2010-04-01' });
  assert.equal(cb.status, 204, cb.text);
  const rows = await query('SELECT kind, source, reported_by FROM usage_events WHERE user_id = ? ORDER BY id', [user]);
  assert.deepEqual(rows, [{ kind: 'sms', source: 'app', reported_by: service }, { kind: 'voice', source: 'twilio', reported_by: 'twilio' }]);
});

test('PV5 a report past the SMS cap of the period is 422, stores nothing, and tells the operators once', async () => {
  const { USAGE_CAP_SMS } = requireEnv('USAGE_CAP_SMS');
  const cap = Number(USAGE_CAP_SMS);
  assert.ok(cap > 10, `the stack sets a cap (${USAGE_CAP_SMS})`);
  const svc = mint(['-r', 'service', '-u', 'pv5-service']);
  const user = await newUser();   // no subscription: the period is the calendar month in UTC
  const k = () => `pv5-${crypto.randomUUID()}`;
  const send = (quantity, extra = {}) => report(svc, { user_id: user, kind: 'sms', quantity, idempotency_key: k(), ...extra });

  let r = await send(cap + 1);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'usage_cap_exceeded');
  assert.equal(await smsOf(user), 0, 'nothing stored');
  const first = { user_id: user, kind: 'sms', quantity: cap - 1, idempotency_key: k() };
  assert.equal((await report(svc, first)).status, 201);
  r = await send(2);
  assert.equal(r.status, 422, 'cap - 1 + 2 passes the cap');
  assert.equal((await send(1)).status, 201, 'exactly the cap is allowed');
  assert.equal(await smsOf(user), cap);
  assert.equal((await send(1)).status, 422);
  const replay = await report(svc, first);
  assert.equal(replay.status, 200, 'a replay of a recorded report is not refused');
  assert.equal(replay.json.replayed, true);
  assert.equal(await smsOf(user), cap);

  // Another period (last month, within the 40 days the API accepts) has its own allowance.
  const d = new Date(); const lastMonth = Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000) - 3600;
  if (lastMonth > now() - 39 * 86400) assert.equal((await send(5, { occurred_at: lastMonth })).status, 201);

  // Three refusals, one notification to the operators (a notify job keyed by user, kind and period).
  const jobs = await query("SELECT dedupe_key, payload FROM jobs WHERE kind = 'notify' AND user_id = ? AND dedupe_key LIKE 'notify:operator_usage_cap:%'", [user]);
  assert.equal(jobs.length, 1, JSON.stringify(jobs));
  const p = typeof jobs[0].payload === 'string' ? JSON.parse(jobs[0].payload) : jobs[0].payload;
  assert.equal(p.kind, 'sms');
  assert.equal(p.cap, cap);
  assert.equal(p.used, 0, 'the first refusal saw nothing used yet');
  const msg = await mail.waitFor((m) => m.subject.includes('Usage cap reached') && m.body.includes(user), { timeoutMs: 20000 });
  assert.ok(msg.to.includes('operator@xswarm.ai'), msg.to.join());
});

test('PV6 concurrent reports cannot pass the cap together', async () => {
  const cap = Number(requireEnv('USAGE_CAP_VOICE_SECONDS').USAGE_CAP_VOICE_SECONDS);
  const svc = mint(['-r', 'service', '-u', 'pv6-service']);
  const user = await newUser();
  const each = Math.ceil(cap / 7);   // 7 fit (at most), 12 are sent at once
  const rs = await Promise.all(Array.from({ length: 12 }, () => report(svc, { user_id: user, kind: 'voice', quantity: Math.min(each, 1000000),
    idempotency_key: `pv6-${crypto.randomUUID()}` })));
  const ok = rs.filter((r) => r.status === 201).length;
  assert.ok(rs.every((r) => r.status === 201 || (r.status === 422 && r.json.error.code === 'usage_cap_exceeded')), rs.map((r) => r.status).join());
  // A call counts by its started minutes, as the bill counts it.
  const billed = Math.ceil(Math.min(each, 1000000) / 60) * 60;
  const fits = Math.floor(cap / billed);
  assert.equal(ok, Math.min(fits, 12), `${fits} reports of ${each} s (${billed} s billed) fit under ${cap} s`);
  const sum = Number((await query("SELECT SUM((quantity + 59) DIV 60 * 60) AS n FROM usage_events WHERE user_id = ? AND kind = 'voice'", [user]))[0].n);
  assert.ok(sum <= cap, `${sum} <= ${cap}`);
});

// PV6b: the voice cap counts each call as the bill does, by its started minutes. Calls of one second each bill a
// minute: summing their seconds would let a runaway app bill 60 times the cap. The model: a call of q seconds is
// ceil(q / 60) minutes; the cap is in seconds of those minutes.
test('PV6b the voice cap counts started minutes: one-second calls stop at cap / 60 calls, not cap', async () => {
  const cap = Number(requireEnv('USAGE_CAP_VOICE_SECONDS').USAGE_CAP_VOICE_SECONDS);
  const svc = mint(['-r', 'service', '-u', 'pv6b-service']);
  const user = await newUser();
  const minutes = Math.floor(cap / 60);
  // Most of the allowance in one call, then one-second calls: each counts 60 s.
  const big = (minutes - 3) * 60;
  const send = (quantity) => report(svc, { user_id: user, kind: 'voice', quantity, idempotency_key: `pv6b-${crypto.randomUUID()}` });
  assert.equal((await send(big)).status, 201);
  const rs = [];
  for (let i = 0; i < 5; i++) rs.push((await send(1)).status);
  assert.deepEqual(rs, [201, 201, 201, 422, 422], 'three one-second calls fill the last three minutes');
  const [{ n }] = await query("SELECT SUM((quantity + 59) DIV 60) AS n FROM usage_events WHERE user_id = ? AND kind = 'voice'", [user]);
  assert.equal(Number(n), minutes, 'the minutes billed are the cap\'s');
});

// PV5b: a report backdated into the last billing period is capped with that period's usage, the one its bill will
// count it in, not the calendar month's. The periods here straddle the start of a calendar month M: the last one is
// [M - 10 d, M + 1 d), the current one [M + 1 d, now + 20 d). Before: a report at M + 12 h was capped in month M,
// apart from the same period's usage of the month before, so the period could hold nearly twice the cap.
test('PV5b a backdated report is capped in the stored billing period it falls in, not the calendar month', async () => {
  const cap = Number(requireEnv('USAGE_CAP_SMS').USAGE_CAP_SMS);
  const svc = mint(['-r', 'service', '-u', 'pv5b-service']);
  const user = await newUser();
  const DAY = 86400, d = new Date((now() - 3 * DAY) * 1000);
  const M = Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000);
  const sub = `sub_pv5b_${crypto.randomBytes(6).toString('hex')}`;
  await query(`INSERT INTO subscriptions (id, user_id, customer_id, status, tier, price_id, current_period_start, current_period_end,
    last_event_id, last_event_created, last_event_rank) VALUES (?, ?, ?, 'active', 'ai_secretary', 'price_ai_secretary', ?, ?, ?, ?, 0)`,
  [sub, user, `cus_pv5b_${crypto.randomBytes(6).toString('hex')}`, M + DAY, now() + 20 * DAY, `evt_pv5b_${crypto.randomBytes(6).toString('hex')}`, M + DAY]);
  await query('UPDATE users SET tier = ?, subscription_id = ?, billing_cycle_start = ?, billing_cycle_end = ? WHERE id = ?',
    ['ai_secretary', sub, M + DAY, now() + 20 * DAY, user]);
  for (const [ps, pe] of [[M - 10 * DAY, M + DAY], [M + DAY, now() + 20 * DAY]]) {
    await query('INSERT INTO billing_periods (subscription_id, period_start, period_end, user_id) VALUES (?, ?, ?, ?)', [sub, ps, pe, user]);
  }
  const send = (quantity, at) => report(svc, { user_id: user, kind: 'sms', quantity, occurred_at: at, idempotency_key: `pv5b-${crypto.randomUUID()}` });
  // The last period, in the month before M: nearly the cap.
  assert.equal((await send(cap - 10, M - 5 * DAY)).status, 201);
  // The same period, in month M: the period's total would pass the cap.
  const r = await send(20, M + 12 * 3600);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'usage_cap_exceeded');
  assert.ok(r.json.error.message.includes(`period from ${M - 10 * DAY} to ${M + DAY}`), r.json.error.message);
  assert.equal((await send(10, M + 12 * 3600)).status, 201, 'exactly the cap fits');
  // The current period has its own allowance.
  assert.equal((await send(20, now() - 60)).status, 201);
});

// ---------- rates ----------

/**
 * Sends send() 16 at a time until one is refused with 429 (at most 3 × per): how many were served
 * (answered anything else), the first refusal, and the milliseconds it took.
 */
async function untilRefused(per, send) {
  const t0 = Date.now();
  let served = 0, over;
  while (!over && served < 3 * per) {
    const rs = await Promise.all(Array.from({ length: 16 }, send));
    for (const r of rs) {
      if (r.status === 429) over ??= r;
      else { assert.equal(r.status, 400, r.text); served++; }
    }
  }
  assert.ok(over, `refused within ${3 * per} requests`);
  return { served, over, ms: Date.now() - t0 };
}

test('PV7 past its allowance a user gets 429 with Retry-After on the billing API; others and the phone API are not affected', async () => {
  const per = Number(requireEnv('RATE_LIMIT_BILLING_PER_MINUTE').RATE_LIMIT_BILLING_PER_MINUTE);
  assert.ok(per > 0 && per <= 5000, `the stack sets a billing rate (${per})`);
  const user = await newUser(), other = await newUser();
  const tok = mint(['-u', user]);
  // A bad limit is answered after the token check: cheap, and it counts as any request.
  const { served, over, ms } = await untilRefused(per, () => request('GET', '/api/billing/history?limit=0', { token: tok }));
  assert.ok(served >= per, `the whole allowance is served first: ${served} of ${per}`);
  assert.ok(served <= per + Math.ceil((ms * per) / 60000) + 1, `no more than the allowance and its refill in ${ms} ms: ${served}`);
  assert.equal(over.json.error.code, 'rate_limited');
  const wait = Number(over.headers['retry-after']);
  assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `Retry-After ${over.headers['retry-after']}`);
  assert.equal((await request('GET', '/api/billing/usage', { token: mint(['-u', other]) })).status, 200, 'another user');
  assert.equal((await request('GET', '/api/phone/details', { token: tok })).status, 200, 'the phone API counts apart');
  await sleep(wait * 1000 + 200);
  assert.equal((await request('GET', '/api/billing/usage', { token: tok })).status, 200, 'the bucket refills');
});

test('PV7b a revoked token spends nothing of its user\'s allowance', async () => {
  const per = Number(requireEnv('RATE_LIMIT_BILLING_PER_MINUTE').RATE_LIMIT_BILLING_PER_MINUTE);
  assert.ok(per > 0 && per <= 5000, `the stack sets a billing rate (${per})`);
  const user = await newUser();
  const old = mint(['-u', user, '-v', '1']);
  await query('UPDATE users SET jwt_version = 2 WHERE id = ?', [user]);
  // The routes that check the token's version against the row they read anyway (usage, upcoming, cancel,
  // resume): the allowance and more (its refill during the run) sent, each refused as revoked.
  const routes = [['GET', '/api/billing/usage'], ['GET', '/api/billing/upcoming'], ['POST', '/api/billing/cancel'],
    ['POST', '/api/billing/resume']];
  let sent = 0;
  const t0 = Date.now();
  while (sent < per + 16 + Math.ceil(((Date.now() - t0) * per) / 60000)) {
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => {
      const [m, p] = routes[(sent + i) % routes.length];
      return request(m, p, { token: old, ...(m === 'POST' ? { json: {} } : {}) });
    }));
    for (const r of rs) {
      assert.equal(r.status, 401, `${r.status} ${r.text}`);
      assert.equal(r.json.error.code, 'token_revoked');
    }
    sent += rs.length;
  }
  const fresh = mint(['-u', user, '-v', '2']);
  assert.equal((await request('GET', '/api/billing/usage', { token: fresh })).status, 200, 'the user is served');
});

test('PV8 the phone API has its own allowance', async () => {
  const per = Number(requireEnv('RATE_LIMIT_PHONE_PER_MINUTE').RATE_LIMIT_PHONE_PER_MINUTE);
  assert.ok(per > 0 && per <= 5000);
  const user = await newUser();
  const tok = mint(['-u', user]);
  const { served, over, ms } = await untilRefused(per, () => request('GET', '/api/phone/search?country=x', { token: tok }));
  assert.ok(served >= per && served <= per + Math.ceil((ms * per) / 60000) + 1, `${served} served of ${per} in ${ms} ms`);
  assert.equal(over.json.error.code, 'rate_limited');
  assert.ok(Number(over.headers['retry-after']) >= 1);
});

// ---------- metrics ----------

test('PV9 /metrics wants METRICS_TOKEN as a bearer token', async () => {
  const { METRICS_TOKEN } = requireEnv('METRICS_TOKEN');
  const none = await rawRequest('GET', '/metrics');
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'missing_token');
  assert.match(none.headers['www-authenticate'], /^Bearer/);
  const wrong = await rawRequest('GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}x` } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error.code, 'invalid_token');
  const right = await rawRequest('GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(right.status, 200);
  assert.match(right.text, /^# TYPE xsb_db_up gauge$/m);
});


// ---------- the token check without a database ----------

test('PV10 while MariaDB is away the token check answers 503 with Retry-After', { timeout: 150000 }, async () => {
  const user = await newUser();
  const tok = mint(['-u', user]);
  assert.equal((await request('GET', '/api/billing/history', { token: tok })).status, 200);
  const dbPid = Number(fs.readFileSync(path.join(VAR_DIR, 'run', 'mariadb.pid'), 'utf8'));
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  await close();
  process.kill(dbPid, 'SIGTERM');
  try {
    await waitFor(() => !alive(dbPid), { timeoutMs: 60000, what: 'mariadbd to stop' });
    // /api/billing/history checks the token's jwtVersion against the user's row first.
    const r = await request('GET', '/api/billing/history', { token: tok });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'database_unavailable');
    assert.equal(r.headers['retry-after'], '1');
  } finally {
    await promisify(execFile)(path.join(REPO_ROOT, 'scripts', 'stack'), ['up'], { env: process.env, encoding: 'utf8' });
    await waitFor(async () => (await request('GET', '/healthz')).status === 200, { timeoutMs: 60000, what: '/healthz 200 again' });
  }
  assert.equal((await request('GET', '/api/billing/history', { token: tok })).status, 200);
});
