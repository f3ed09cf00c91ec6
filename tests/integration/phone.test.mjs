// Phone API (/api/phone/...), Twilio's call status callbacks
// (/phone/status/<user id>) and its webhooks for calls and texts to a
// user's number (/phone/voice/, /phone/sms/): through nginx to xsb-phone
// and xsb-worker (which buys the numbers), against MariaDB
// and Prism serving Twilio's OpenAPI spec (dynamic mode on a copy of the
// spec tightened by tests/peers/twilio-spec.mjs, so each purchase returns
// a fresh E.164 number and PN sid).  Prism keeps no state: it validates
// our requests and answers generated bodies, so these tests judge what we
// store and answer, and count our purchases in Prism's request log.
// Every test makes its own users (random uuids).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { request, closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { env, requireEnv, VAR_DIR, REPO_ROOT } from './lib/env.mjs';
import { postCallback, signTwilio, publicUrl, twilioPrefer, twilioRequests } from './lib/twilio.mjs';
import { sleep, waitFor } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';

test.after(async () => { closeHttp(); await close(); });

const E164 = /^\+[1-9][0-9]{6,14}$/;
const PN = /^PN[0-9a-fA-F]{32}$/;
const now = () => Math.floor(Date.now() / 1000);

// ---------- fixtures ----------
const stackEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(env).map((k) => [k, env[k]])) });
/** A token minted by our own xsb-token. */
function token(userId) {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  return execFileSync(`${XSB_BIN}/xsb-token`, ['-u', userId], { env: stackEnv(), encoding: 'utf8' }).trim();
}

/** A user row of tier (phone-eligible by default) with a token. */
async function newUser(tier = 'ai_secretary') {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier) VALUES (?, ?, ?)', [id, `${id}@example.test`, tier]);
  return { id, token: token(id) };
}

const phoneRow = async (id) => (await query(
  'SELECT phone_number, phone_sid, phone_status, phone_provisioned_at FROM users WHERE id = ?', [id]))[0];
const history = (id) => query('SELECT phone_number, phone_sid, held_from, held_to FROM phone_numbers WHERE user_id = ? ORDER BY id', [id]);
const callSid = () => 'CA' + crypto.randomBytes(16).toString('hex');

const provision = (u, json) => request('POST', '/api/phone/provision', { token: u.token, ...(json === undefined ? {} : { json }) });
const details = (u) => request('GET', '/api/phone/details', { token: u.token });

/**
 * Waits until the worker ends u's provisioning; returns the details then (status active or
 * failed) as a reply of status 200.
 */
async function settled(u, timeoutMs = 30000) {
  let d;
  await waitFor(async () => {
    d = await details(u);
    return d.status === 200 && d.json.status !== 'provisioning';
  }, { timeoutMs, what: `provisioning of ${u.id} to end` });
  return d;
}

/** POST /api/phone/provision, which answers 202 at once, then the worker's outcome (details). */
async function provisioned(u, json) {
  const r = await provision(u, json);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.status, 'provisioning');
  return settled(u);
}

/** Purchases Prism has answered so far (its log has one line per request), or null. */
function purchasesLogged() {
  const log = path.join(VAR_DIR, 'log', 'twilio.log');
  if (!fs.existsSync(log)) return null;
  return fs.readFileSync(log, 'utf8').split('\n')
    .filter((l) => /\[HTTP SERVER\] post \/2010-04-01\/Accounts\/[^/]+\/IncomingPhoneNumbers\.json /.test(l)).length;
}

/**
 * Starts watching purchases; the returned function checks that every
 * purchase Prism saw since became a stored number (phone_numbers row) and
 * returns how many there were.  Counting all users' rows keeps a purchase
 * the worker makes meanwhile for another user from looking like ours.
 */
async function watchPurchases() {
  const rows = async () => Number((await query('SELECT COUNT(*) AS n FROM phone_numbers'))[0].n);
  const stored0 = await rows();
  const bought0 = purchasesLogged();
  return async () => {
    if (bought0 === null) return null;
    await sleep(300);
    const bought = purchasesLogged() - bought0;
    const stored = (await rows()) - stored0;
    assert.ok(bought <= stored, `Prism saw ${bought} purchases, ${stored} numbers were stored`);
    return bought;
  };
}

/** Asserts u holds exactly the number r (a 200 reply) names, and its history row is open. */
async function assertHolds(u, r) {
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.phone_number, E164);
  assert.match(r.json.phone_sid, PN);
  assert.equal(r.json.status, 'active');
  const row = await phoneRow(u.id);
  assert.equal(row.phone_status, 'active');
  assert.equal(row.phone_number, r.json.phone_number);
  assert.equal(row.phone_sid, r.json.phone_sid);
  assert.ok(Math.abs(Number(row.phone_provisioned_at) - now()) < 120);
  const h = await history(u.id);
  const open = h.filter((x) => x.held_to === null);
  assert.equal(open.length, 1);
  assert.equal(open[0].phone_sid, r.json.phone_sid);
  assert.equal(open[0].phone_number, r.json.phone_number);
}

// ---------- search ----------
test('P1 search offers numbers with capabilities, at most limit', async () => {
  const u = await newUser();
  const r = await request('GET', '/api/phone/search?area_code=415&limit=3', { token: u.token });
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json.numbers));
  assert.ok(r.json.numbers.length >= 1 && r.json.numbers.length <= 3);
  for (const n of r.json.numbers) {
    assert.match(n.phone_number, E164);
    assert.deepEqual(Object.keys(n).sort(), ['capabilities', 'friendly_name', 'locality', 'phone_number', 'region']);
    for (const k of ['voice', 'sms', 'mms']) assert.equal(typeof n.capabilities[k], 'boolean');
  }
  const one = await request('GET', '/api/phone/search?country=US&contains=55*&limit=1', { token: u.token });
  assert.equal(one.status, 200, one.text);
  assert.ok(one.json.numbers.length <= 1);
  const dflt = await request('GET', '/api/phone/search', { token: u.token });
  assert.equal(dflt.status, 200, dflt.text);
});

test('P2 search refuses bad input with 400 and no token with 401', async () => {
  const u = await newUser();
  for (const q of ['area_code=41', 'area_code=4155', 'area_code=41a', 'country=usa', 'country=USA', 'country=U1',
    'contains=5', 'contains=a%21b', 'contains=12345678901', 'contains=%2B55', 'limit=0', 'limit=31', 'limit=abc',
    'limit=010', 'limit=-1', 'area_code=415&area_code=416']) {
    const r = await request('GET', `/api/phone/search?${q}`, { token: u.token });
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.equal(r.json.error.code, 'bad_request', q);
  }
  const anon = await request('GET', '/api/phone/search');
  assert.equal(anon.status, 401);
});

test('P3 a tier without phone gets 403 tier_not_eligible and nothing changes', async () => {
  const u = await newUser('ai_buddy');
  const s = await request('GET', '/api/phone/search', { token: u.token });
  assert.equal(s.status, 403);
  assert.equal(s.json.error.code, 'tier_not_eligible');
  const p = await provision(u, { area_code: '415' });
  assert.equal(p.status, 403);
  assert.equal(p.json.error.code, 'tier_not_eligible');
  assert.deepEqual(await phoneRow(u.id), { phone_number: null, phone_sid: null, phone_status: 'none', phone_provisioned_at: null });
  assert.equal((await history(u.id)).length, 0);
});

// ---------- provision ----------
test('P4 provision stores the purchased number, its sid and an open history row', async () => {
  const u = await newUser();
  const r = await provisioned(u, { area_code: '415' });
  await assertHolds(u, r);
  const d = await request('GET', '/api/phone/details', { token: u.token });
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json.phone_number, r.json.phone_number);
  assert.equal(d.json.phone_sid, r.json.phone_sid);
  assert.equal(d.json.status, 'active');
  assert.equal(d.json.tier, 'ai_secretary');
  // Prism answers a generated object (not our number): it is shown as Twilio's view.
  if (d.json.twilio === null) assert.equal(typeof d.json.warning, 'string');
  else assert.match(d.json.twilio.sid, PN);
});

test('P5 a second provision is 409 already_has_number and buys nothing', async () => {
  const u = await newUser();
  const first = await provisioned(u);
  await assertHolds(u, first);
  const check = await watchPurchases();
  const again = await provision(u, { area_code: '212' });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, 'already_has_number');
  await assertHolds(u, first);
  assert.equal((await history(u.id)).length, 1);
  await check();
});

test('P6 concurrent provisions: exactly one is accepted and buys, the others get 409', async () => {
  const u = await newUser();
  const check = await watchPurchases();
  const rs = await Promise.all(Array.from({ length: 5 }, () => provision(u, { area_code: '415' })));
  const ok = rs.filter((r) => r.status === 202);
  const conflict = rs.filter((r) => r.status === 409);
  assert.equal(ok.length, 1, rs.map((r) => r.text).join('\n'));
  assert.equal(conflict.length, 4);
  for (const r of conflict) assert.ok(['provisioning_in_progress', 'already_has_number'].includes(r.json.error.code), r.text);
  await assertHolds(u, await settled(u));
  assert.equal((await history(u.id)).length, 1);
  // The four losers never reached Twilio: no purchase went unstored.
  const bought = await check();
  if (bought !== null) assert.ok(bought >= 1);
});

test('P7 provision refuses bad input with 400/415 and keeps no claim', async () => {
  const u = await newUser();
  for (const body of [{ area_code: '41' }, { area_code: '4155' }, { area_code: 415 }, { phone_number: '4155550100' },
    { phone_number: '+1 415 555 0100' }, { area_code: '415', phone_number: '+14155550100' }, { areacode: '415' }, [], 'x']) {
    const r = await provision(u, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
  }
  const bad = await request('POST', '/api/phone/provision', { token: u.token, body: '{"area_code":', headers: { 'Content-Type': 'application/json' } });
  assert.equal(bad.status, 400);
  const form = await request('POST', '/api/phone/provision', { token: u.token, body: { area_code: '415' }, form: true });
  assert.equal(form.status, 415);
  const anon = await request('POST', '/api/phone/provision', { json: {} });
  assert.equal(anon.status, 401);
  assert.equal((await phoneRow(u.id)).phone_status, 'none');
  assert.equal((await history(u.id)).length, 0);
});

// A number given by phone_number is bought only when the search a pick makes (local, voice and SMS, US)
// offers it, narrowed with Contains to its national digits. Prism generates random offers, so these
// tests have the proxy ask it for the spec's own example answer of that search ("readFull", one
// number: +18089251571) or its empty one ("readEmpty"), for the search of one number only.
const OFFERED = '+18089251571';
const purchases = (reqs, u) => reqs.filter((q) => q.method === 'POST' && /\/IncomingPhoneNumbers\.json$/.test(q.path) &&
  new URLSearchParams(q.body).get('FriendlyName') === `xsb:${u.id}`);
const notices = async (u) => Number((await query("SELECT COUNT(*) AS n FROM jobs WHERE user_id = ? AND kind = 'notify'", [u.id]))[0].n);

test('P8 provision of a given E.164 number the search offers checks it, then buys that number', async () => {
  const u = await newUser('ai_cto');
  const before = (await twilioRequests()).length;
  await twilioPrefer('example=readFull', 'Contains=8089251571');
  let r;
  try {
    r = await provisioned(u, { phone_number: OFFERED });
  } finally {
    await twilioPrefer('');
  }
  // Prism sells a generated number whatever was asked: what Twilio sold is stored.
  await assertHolds(u, r);
  const mine = (await twilioRequests()).slice(before);
  const listed = mine.findIndex((q) => q.method === 'GET' && /\/IncomingPhoneNumbers\.json\?/.test(q.path) &&
    new URL(q.path, 'http://x').searchParams.get('FriendlyName') === `xsb:${u.id}`);
  const buys = purchases(mine, u);
  assert.ok(listed >= 0, `the reconcile by name: ${JSON.stringify(mine)}`);
  assert.equal(buys.length, 1, JSON.stringify(mine));
  assert.equal(new URLSearchParams(buys[0].body).get('PhoneNumber'), OFFERED);
  // Between the reconcile and the purchase, one search: the same as a pick's, narrowed to the number.
  const searches = mine.slice(listed, mine.indexOf(buys[0])).filter((q) => q.path.includes('/AvailablePhoneNumbers/'));
  assert.equal(searches.length, 1, JSON.stringify(mine));
  const url = new URL(searches[0].path, 'http://x');
  assert.equal(searches[0].method, 'GET');
  assert.match(url.pathname, /\/AvailablePhoneNumbers\/US\/Local\.json$/);
  assert.equal(url.searchParams.get('Contains'), '8089251571');
  assert.equal(url.searchParams.get('VoiceEnabled'), 'true');
  assert.equal(url.searchParams.get('SmsEnabled'), 'true');
});

test('P8b a number the search does not offer is refused for good: no purchase, nothing held', async () => {
  // The search lists another number (the spec's example), or none at all.
  for (const [number, prefer] of [['+14155550123', 'example=readFull'], ['+12125550142', 'example=readEmpty']]) {
    const u = await newUser('ai_cto');
    const national = number.slice(2);
    const before = (await twilioRequests()).length;
    await twilioPrefer(prefer, `Contains=${national}`);
    let d;
    try {
      const r = await provision(u, { phone_number: number });
      assert.equal(r.status, 202, r.text);
      d = await settled(u);
    } finally {
      await twilioPrefer('');
    }
    assert.equal(d.json.status, 'failed', d.text);
    assert.equal(d.json.error, `${number} is not offered as a local US number with voice and SMS; ` +
      'provision one GET /api/phone/search offers');
    assert.equal(d.json.phone_number, null);
    assert.deepEqual(await phoneRow(u.id), { phone_number: null, phone_sid: null, phone_status: 'none', phone_provisioned_at: null });
    assert.equal((await history(u.id)).length, 0);
    assert.equal(await notices(u), 0, 'no e-mail about a number');
    const mine = (await twilioRequests()).slice(before);
    assert.ok(mine.some((q) => q.method === 'GET' && new URL(q.path, 'http://x').searchParams.get('Contains') === national),
      JSON.stringify(mine));
    assert.deepEqual(purchases(mine, u), [], 'no purchase reached Twilio');
    // A permanent refusal: the job ends dead after its one attempt, not retried later.
    const job = () => query("SELECT state, attempts FROM jobs WHERE user_id = ? AND kind = 'phone_provision'", [u.id]);
    await waitFor(async () => (await job()).every((j) => j.state !== 'running' && j.state !== 'pending'),
      { timeoutMs: 15000, what: 'the job\'s outcome' });
    assert.deepEqual((await job()).map((j) => [j.state, Number(j.attempts)]), [['dead', 1]]);
  }
});

test('P8c a phone_number of another country than the searches\' (US) is 400 at once: no claim, no job', async () => {
  const u = await newUser('ai_cto');
  const before = (await twilioRequests()).length;
  for (const number of ['+442071838750', '+61291234567', '+1415555012']) {
    const r = await provision(u, { phone_number: number });
    assert.equal(r.status, 400, `${number}: ${r.text}`);
    assert.equal(r.json.error.code, 'bad_request');
    assert.equal(r.json.error.message, `phone_number ${number} is no US number: only local US numbers are sold ` +
      '(see GET /api/phone/search)');
  }
  assert.deepEqual(await phoneRow(u.id), { phone_number: null, phone_sid: null, phone_status: 'none', phone_provisioned_at: null });
  assert.equal(Number((await query('SELECT COUNT(*) AS n FROM jobs WHERE user_id = ?', [u.id]))[0].n), 0);
  await sleep(300);
  assert.equal((await twilioRequests()).slice(before).filter((q) => q.path.includes(u.id) || q.body.includes(u.id)).length, 0);
});

test('P9 a claim in progress is 409; a stale one is taken over', async () => {
  const u = await newUser();
  await query("UPDATE users SET phone_status = 'provisioning', phone_provisioned_at = ? WHERE id = ?", [now(), u.id]);
  const busy = await provision(u);
  assert.equal(busy.status, 409);
  assert.equal(busy.json.error.code, 'provisioning_in_progress');
  const rel = await request('DELETE', '/api/phone/release', { token: u.token });
  assert.equal(rel.status, 409);
  assert.equal(rel.json.error.code, 'provisioning_in_progress');
  // A process that died mid-way left this claim an hour ago.
  await query('UPDATE users SET phone_provisioned_at = ? WHERE id = ?', [now() - 3600, u.id]);
  const r = await provisioned(u);
  await assertHolds(u, r);
});

// ---------- release and details ----------
test('P10 release clears the number, closes history; a second release is 404', async () => {
  const u = await newUser();
  const p = await provisioned(u);
  await assertHolds(u, p);
  const r = await request('DELETE', '/api/phone/release', { token: u.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.released_number, p.json.phone_number);
  assert.equal(r.json.released_sid, p.json.phone_sid);
  assert.deepEqual(await phoneRow(u.id), { phone_number: null, phone_sid: null, phone_status: 'none', phone_provisioned_at: null });
  const h = await history(u.id);
  assert.equal(h.length, 1);
  assert.ok(h[0].held_to !== null && Number(h[0].held_to) >= Number(h[0].held_from));
  const again = await request('DELETE', '/api/phone/release', { token: u.token });
  assert.equal(again.status, 404);
  assert.equal(again.json.error.code, 'no_number');
  // And a new number can be had after.
  const p2 = await provisioned(u);
  await assertHolds(u, p2);
  assert.notEqual(p2.json.phone_sid, p.json.phone_sid);
  assert.equal((await history(u.id)).length, 2);
});

test('P11 details of a user without a number: our record, no Twilio view', async () => {
  const u = await newUser('ai_buddy');
  const d = await request('GET', '/api/phone/details', { token: u.token });
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json.status, 'none');
  assert.equal(d.json.phone_number, null);
  assert.equal(d.json.twilio, null);
  assert.equal(d.json.phone_eligible, false);
  const rel = await request('DELETE', '/api/phone/release', { token: u.token });
  assert.equal(rel.status, 404);
  assert.equal(rel.json.error.code, 'no_number');
});

// ---------- status callbacks ----------
const usageOf = (key) => query('SELECT user_id, kind, quantity, source FROM usage_events WHERE idempotency_key = ?', [key]);
const eventsOf = (sid) => query('SELECT user_id, call_status, duration FROM call_events WHERE call_sid = ? ORDER BY id', [sid]);
const completed = (sid, secs = '61') => ({ AccountSid: requireEnv('TWILIO_ACCOUNT_SID').TWILIO_ACCOUNT_SID, CallSid: sid,
  CallStatus: 'completed', CallDuration: secs, From: '+14155550100', To: '+14155550199', Direction: 'inbound', ApiVersion: '2010-04-01' });

test('P12 a signed completed call is recorded as voice usage and a call event', async () => {
  const u = await newUser();
  const sid = callSid();
  const r = await postCallback(`/phone/status/${u.id}`, completed(sid, '61'));
  assert.equal(r.status, 204, r.text);
  assert.deepEqual(await usageOf(`call:${sid}`), [{ user_id: u.id, kind: 'voice', quantity: 61, source: 'twilio' }]);
  assert.deepEqual(await eventsOf(sid), [{ user_id: u.id, call_status: 'completed', duration: 61 }]);
});

test('P13 a CallSid is counted once however often Twilio sends it', async () => {
  const u = await newUser();
  const sid = callSid();
  const { CallDuration, ...ringingParams } = { ...completed(sid), CallStatus: 'ringing' };
  const ringing = await postCallback(`/phone/status/${u.id}`, ringingParams);
  assert.equal(ringing.status, 204, ringing.text);
  const rs = await Promise.all([1, 2, 3].map(() => postCallback(`/phone/status/${u.id}`, completed(sid, '125'))));
  for (const r of rs) assert.equal(r.status, 204, r.text);
  const late = await postCallback(`/phone/status/${u.id}`, completed(sid, '125'));
  assert.equal(late.status, 204);
  assert.deepEqual(await usageOf(`call:${sid}`), [{ user_id: u.id, kind: 'voice', quantity: 125, source: 'twilio' }]);
  assert.deepEqual((await eventsOf(sid)).map((e) => e.call_status), ['ringing', 'completed']);
  const n = await query("SELECT COUNT(*) AS n, SUM(quantity) AS s FROM usage_events WHERE user_id = ? AND kind = 'voice'", [u.id]);
  assert.equal(Number(n[0].n), 1);
  assert.equal(Number(n[0].s), 125);
});

test('P14 forged, missing and replayed-with-a-change signatures are 403 and record nothing', async () => {
  const u = await newUser();
  const other = await newUser();
  const p = `/phone/status/${u.id}`;
  const sid = callSid();
  const params = completed(sid, '30');
  const forged = await postCallback(p, params, { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
  assert.equal(forged.status, 403);
  assert.equal(forged.json.error.code, 'invalid_signature');
  const none = await postCallback(p, params, { signature: false });
  assert.equal(none.status, 403);
  const wrongKey = await postCallback(p, params, { authToken: 'not-our-token' });
  assert.equal(wrongKey.status, 403);
  // A genuine signature replayed with one parameter changed.
  const sig = signTwilio(publicUrl(p), params);
  const changed = await postCallback(p, { ...params, CallDuration: '3000' }, { signature: sig });
  assert.equal(changed.status, 403);
  // A genuine signature for another user's URL.
  const moved = await postCallback(`/phone/status/${other.id}`, params, { signature: sig });
  assert.equal(moved.status, 403);
  assert.deepEqual(await usageOf(`call:${sid}`), []);
  assert.deepEqual(await eventsOf(sid), []);
  // The untouched replay is accepted, once.
  const genuine = await postCallback(p, params, { signature: sig });
  assert.equal(genuine.status, 204);
  assert.equal((await usageOf(`call:${sid}`)).length, 1);
});

test('P15 callbacks: a bad user id is 404, an unknown user 204 with nothing stored, bad fields 400', async () => {
  for (const id of ['a.b', 'x'.repeat(65), 'a%20b', 'a%2Fb']) {
    const r = await postCallback(`/phone/status/${id}`, completed(callSid()));
    assert.equal(r.status, 404, `${id}: ${r.text}`);
  }
  const ghost = crypto.randomUUID();
  const sid = callSid();
  const r = await postCallback(`/phone/status/${ghost}`, completed(sid));
  assert.equal(r.status, 204, r.text);
  assert.deepEqual(await usageOf(`call:${sid}`), []);
  assert.deepEqual(await eventsOf(sid), []);
  const u = await newUser();
  for (const params of [{ ...completed('CA123'), CallSid: 'CA123' }, { ...completed(callSid()), CallDuration: '-5' },
    { ...completed(callSid()), CallDuration: '1.5' }, { ...completed(callSid()), CallStatus: '' }]) {
    const bad = await postCallback(`/phone/status/${u.id}`, params);
    assert.equal(bad.status, 400, `${JSON.stringify(params)}: ${bad.text}`);
  }
  const get = await request('GET', `/phone/status/${u.id}`);
  assert.equal(get.status, 405);
});

test('P15b concurrent callbacks (group commit): each acknowledged one is stored once; redeliveries add nothing', async () => {
  const u = await newUser();
  const p = `/phone/status/${u.id}`;
  // 60 calls, all at once: each completed, half also ringing.
  const calls = Array.from({ length: 60 }, (_, i) => ({ sid: callSid(), secs: 10 + i }));
  const burst = [];
  for (const [i, c] of calls.entries()) {
    burst.push(completed(c.sid, String(c.secs)));
    if (i % 2 === 0) burst.push({ ...completed(c.sid), CallStatus: 'ringing', CallDuration: '' });
  }
  const send = (list) => Promise.all(list.map((params) => postCallback(p, params)));
  const log = path.join(VAR_DIR, 'log', 'phone.log');
  const logFrom = fs.statSync(log).size;
  // Among them, calls of a user who does not exist: answered 204 in the same batches, nothing stored.
  const ghost = crypto.randomUUID();
  const ghostCalls = Array.from({ length: 10 }, () => completed(callSid(), '30'));
  const [rs, gs] = await Promise.all([send(burst),
    Promise.all(ghostCalls.map((params) => postCallback(`/phone/status/${ghost}`, params)))]);
  for (const r of [...rs, ...gs]) assert.equal(r.status, 204, r.text);
  for (const t of ['usage_events', 'call_events'])
    assert.equal(Number((await query(`SELECT COUNT(*) AS n FROM ${t} WHERE user_id = ?`, [ghost]))[0].n), 0, t);
  // No batch of distinct calls fell back to one call at a time (each would still be right, only slower).
  const fd = fs.openSync(log, 'r');
  const tail = Buffer.alloc(fs.statSync(log).size - logFrom);
  fs.readSync(fd, tail, 0, tail.length, logFrom);
  fs.closeSync(fd);
  assert.doesNotMatch(tail.toString(), /each stored alone/);
  const check = async () => {
    const usage = await query("SELECT idempotency_key AS k, quantity AS q FROM usage_events WHERE user_id = ? AND kind = 'voice' ORDER BY k", [u.id]);
    assert.deepEqual(usage.map((x) => [x.k, Number(x.q)]), calls.map((c) => [`call:${c.sid}`, c.secs]).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    const ev = await query('SELECT call_sid, call_status, COUNT(*) AS n FROM call_events WHERE user_id = ? GROUP BY call_sid, call_status', [u.id]);
    assert.equal(ev.length, calls.length + calls.length / 2);
    for (const e of ev) assert.equal(Number(e.n), 1, `${e.call_sid} ${e.call_status}`);
    assert.equal(ev.filter((e) => e.call_status === 'ringing').length, calls.length / 2);
  };
  await check();
  // Twilio retrying the lot twice over, all at once, with new calls sent twice at once among them:
  // every one acknowledged, each new call stored once, nothing else added.
  const more = Array.from({ length: 20 }, (_, i) => ({ sid: callSid(), secs: 100 + i }));
  const twice = more.flatMap((c) => [completed(c.sid, String(c.secs)), completed(c.sid, String(c.secs))]);
  const again = await send([...burst, ...twice, ...burst]);
  for (const r of again) assert.equal(r.status, 204, r.text);
  calls.push(...more);
  const ev = await query("SELECT call_sid FROM call_events WHERE user_id = ? AND call_status = 'completed'", [u.id]);
  assert.equal(ev.length, calls.length);
  const usage = await query("SELECT idempotency_key AS k, quantity AS q FROM usage_events WHERE user_id = ? AND kind = 'voice' ORDER BY k", [u.id]);
  assert.deepEqual(usage.map((x) => [x.k, Number(x.q)]), calls.map((c) => [`call:${c.sid}`, c.secs]).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
});

// ---------- Twilio down ----------
const stack = (...args) => execFileSync(path.join(REPO_ROOT, 'scripts', 'stack'), args, { env: process.env, encoding: 'utf8' });
const pidOf = (comp) => Number(fs.readFileSync(path.join(VAR_DIR, 'run', `${comp}.pid`), 'utf8'));
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('P16 with Twilio down: provisioning is accepted and waits, details still ours; back up, the number comes', async () => {
  const held = await newUser();
  const p = await provisioned(held);
  await assertHolds(held, p);
  const u = await newUser();
  const pid = pidOf('twilio');
  process.kill(-pid, 'SIGTERM');
  await waitFor(() => !alive(pid), { timeoutMs: 20000, what: 'Prism to stop' });
  try {
    const r = await provision(u, { area_code: '415' });
    assert.equal(r.status, 202, r.text);
    await sleep(3000);
    const waiting = await details(u);
    assert.equal(waiting.json.status, 'provisioning', 'the worker keeps trying while Twilio is down');
    assert.equal((await history(u.id)).length, 0);
    const s = await request('GET', '/api/phone/search', { token: u.token });
    assert.equal(s.status, 502);
    assert.equal(s.json.error.code, 'twilio_error');
    const d = await request('GET', '/api/phone/details', { token: held.token });
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.phone_number, p.json.phone_number);
    assert.equal(d.json.twilio, null);
    assert.match(d.json.warning, /Twilio/);
    const rel = await request('DELETE', '/api/phone/release', { token: held.token });
    assert.equal(rel.status, 502, rel.text);
    assert.equal(rel.json.error.code, 'twilio_error');
    await assertHolds(held, p);
  } finally {
    stack('up');
  }
  await assertHolds(u, await settled(u, 60000));
  const rel = await request('DELETE', '/api/phone/release', { token: held.token });
  assert.equal(rel.status, 200, rel.text);
});

// P17: a user is given at most PHONE_NUMBERS_PER_30_DAYS numbers (3 by default) in 30 days. Each is a purchase
// whose month Twilio charges whether it is held or released, so provisioning and releasing again and again would
// spend without a limit. Two numbers of the last 30 days are in the history; a third is provisioned and released
// through the API; the fourth is refused (429, Retry-After until the oldest is 30 days old), with nothing claimed,
// queued or bought; once the oldest is older than 30 days, a provisioning goes through.
test('P17 at most three numbers in 30 days: the fourth provisioning is 429 provision_limit, nothing bought', async () => {
  const u = await newUser();
  const t = now(), DAY = 86400;
  for (const [i, from] of [t - 10 * DAY, t - 5 * DAY].entries()) {
    await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from, held_to) VALUES (?, ?, ?, ?, ?)',
      [u.id, `+1555000${String(i).padStart(4, '0')}`, 'PN' + crypto.randomBytes(16).toString('hex'), from, from + DAY]);
  }
  const third = await provisioned(u);
  assert.equal(third.json.status, 'active', third.text);
  const rel = await request('DELETE', '/api/phone/release', { token: u.token });
  assert.equal(rel.status, 200, rel.text);
  const jobs = async () => Number((await query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'phone_provision' AND user_id = ?", [u.id]))[0].n);
  const jobs0 = await jobs(), bought = await watchPurchases();
  const r = await provision(u);
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, 'provision_limit');
  assert.match(r.json.error.message, /3 numbers were given to you in the last 30 days/);
  // The oldest of the three was given ten days ago: the next may be in twenty days.
  const wait = Number(r.headers['retry-after']);
  assert.ok(Math.abs(wait - 20 * DAY) <= 30, `Retry-After ${wait}`);
  assert.deepEqual(await phoneRow(u.id), { phone_number: null, phone_sid: null, phone_status: 'none', phone_provisioned_at: null });
  assert.equal(await jobs(), jobs0, 'no provisioning queued');
  const n = await bought();
  if (n !== null) assert.equal(n, 0, 'nothing bought');
  // Thirty-one days later for the oldest: two in the window, a third may be given.
  await query('UPDATE phone_numbers SET held_from = ?, held_to = ? WHERE user_id = ? AND held_from = ?', [t - 31 * DAY, t - 30 * DAY, u.id, t - 10 * DAY]);
  const again = await provisioned(u);
  assert.equal(again.json.status, 'active', again.text);
});
