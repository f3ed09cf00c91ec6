// Phone numbers that work (issue #16): calls and texts to a user's number (Twilio's webhooks
// POST /phone/voice/<user id> and /phone/sms/<user id>, signed with the npm `twilio` package as
// Twilio signs them) answered with TwiML; texts metered from Twilio (inbound NumSegments and the
// StatusCallback of sent messages) once per MessageSid; provisioning that answers at once while
// the worker buys (Twilio's stand-in slowed by tests/peers/twilio-delay.mjs); the search's
// geography and the stored preference; the grace of a lapsed subscription; the operators' list.
// Through nginx, against MariaDB, Prism and the worker of the integration stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { request, closeHttp, metricCounters } from './lib/http.mjs';
import { query, close, hold, lockWaits } from './lib/db.mjs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { requireEnv, REPO_ROOT, VAR_DIR } from './lib/env.mjs';
import { postCallback, twilioDelay, twilioRequests } from './lib/twilio.mjs';
import { mint } from './lib/token.mjs';
import { sleep, waitFor } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';

test.after(async () => { closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
const hex = (n) => crypto.randomBytes(n).toString('hex');
const sid = (prefix) => prefix + hex(16);
const randomNumber = () => '+1415' + String(crypto.randomInt(2e6, 1e7)).padStart(7, '0');
const ACCOUNT = () => requireEnv('TWILIO_ACCOUNT_SID').TWILIO_ACCOUNT_SID;

/**
 * A user of tier; with held: true a number held now (as a provisioning leaves it: users.phone_*
 * and an open phone_numbers row). customer: a Stripe customer id to link.
 */
async function newUser({ tier = 'ai_secretary', held = false, customer = null } = {}) {
  const id = crypto.randomUUID();
  const u = { id, customer, number: held ? randomNumber() : null, sid: held ? sid('PN') : null };
  await query(`INSERT INTO users (id, email, tier, stripe_customer_id, phone_number, phone_sid, phone_status,
    phone_provisioned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  [id, `${id}@example.test`, tier, customer, u.number, u.sid, held ? 'active' : 'none', held ? now() - 100 : null]);
  if (held) {
    await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from) VALUES (?, ?, ?, ?)',
      [id, u.number, u.sid, now() - 100]);
  }
  u.token = mint(['-u', id]);
  return u;
}

const smsUsage = (msgSid) => query('SELECT user_id, kind, quantity, source FROM usage_events WHERE idempotency_key = ?',
  [`twilio:sms:${msgSid}`]);
const details = (u) => request('GET', '/api/phone/details', { token: u.token });
const xml = (r) => {
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/xml/);
  assert.match(r.text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<Response>[\s\S]*<\/Response>\n$/);
  return r.text;
};
const call = (u, extra = {}) => ({ AccountSid: ACCOUNT(), CallSid: sid('CA'), From: '+14155550100', To: u.number,
  CallStatus: 'ringing', Direction: 'inbound', ApiVersion: '2010-04-01', ...extra });
const text = (u, extra = {}) => ({ AccountSid: ACCOUNT(), MessageSid: sid('SM'), SmsSid: undefined, From: '+14155550100',
  To: u.number, Body: 'hello there', NumSegments: '1', NumMedia: '0', SmsStatus: 'received', ApiVersion: '2010-04-01', ...extra });
const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
/** Twilio's status callback of message m that u sent: status st, segs segments. */
const smsStatus = (u, m, st, segs) => postCallback(`/phone/sms/${u.id}/status`, { AccountSid: ACCOUNT(), MessageSid: m,
  MessageStatus: st, From: u.number, To: '+14155550100', NumSegments: String(segs) });

// ---------- inbound calls and texts ----------
test('T1 a call to a secretary user\'s number is redirected to the assistant', async () => {
  const { ASSISTANT_VOICE_URL } = requireEnv('ASSISTANT_VOICE_URL');
  const u = await newUser({ held: true });
  const body = xml(await postCallback(`/phone/voice/${u.id}`, call(u)));
  assert.ok(body.includes(`<Redirect method="POST">${ASSISTANT_VOICE_URL}/${u.id}</Redirect>`), body);
  assert.doesNotMatch(body, /<Say>|<Reject/);
});

test('T2 a text is metered once by its segments through Twilio retries, and the app\'s report of it replays', async () => {
  const { ASSISTANT_SMS_URL } = requireEnv('ASSISTANT_SMS_URL');
  const u = await newUser({ held: true });
  const params = clean(text(u, { NumSegments: '3' }));
  const first = xml(await postCallback(`/phone/sms/${u.id}`, params));
  assert.ok(first.includes(`<Redirect method="POST">${ASSISTANT_SMS_URL}/${u.id}</Redirect>`), first);
  // Twilio retries the webhook (same MessageSid), twice at once.
  const again = await Promise.all([1, 2].map(() => postCallback(`/phone/sms/${u.id}`, params)));
  for (const r of again) xml(r);
  assert.deepEqual(await smsUsage(params.MessageSid), [{ user_id: u.id, kind: 'sms', quantity: 3, source: 'twilio' }]);
  // The app reports the same message with the key Twilio's report has: counted once.
  const svc = mint(['-u', 'assistant', '-r', 'service']);
  const rep = await request('POST', '/api/usage', { token: svc, json: { user_id: u.id, kind: 'sms', quantity: 3,
    idempotency_key: `twilio:sms:${params.MessageSid}` } });
  assert.ok(rep.status === 200 || rep.status === 201, rep.text);
  assert.equal(rep.json.replayed, true, rep.text);
  const n = await query("SELECT COUNT(*) AS n, SUM(quantity) AS q FROM usage_events WHERE user_id = ? AND kind = 'sms'", [u.id]);
  assert.equal(Number(n[0].n), 1);
  assert.equal(Number(n[0].q), 3);
});

// T2b: the app reports a text under Twilio's key before Twilio's callback comes. Twilio bills us per segment,
// so its count replaces the app's while no bill has counted the row; a row a bill covers stays as billed.
test('T2b a text the app reported first takes Twilio\'s segment count, unless a bill has counted it', async () => {
  const u = await newUser({ held: true });
  const svc = mint(['-u', 'assistant', '-r', 'service']);
  const report = (m, quantity) => request('POST', '/api/usage', { token: svc, json: { user_id: u.id, kind: 'sms', quantity,
    idempotency_key: `twilio:sms:${m}` } });
  const status = (m, st, segs) => smsStatus(u, m, st, segs);
  // One message, its callbacks one at a time.
  const m1 = sid('SM');
  assert.equal((await report(m1, 1)).status, 201);
  assert.equal((await status(m1, 'sent', 3)).status, 204);
  assert.equal((await status(m1, 'delivered', 3)).status, 204);
  assert.deepEqual(await smsUsage(m1), [{ user_id: u.id, kind: 'sms', quantity: 3, source: 'twilio' }]);
  const again = await report(m1, 1);
  assert.equal(again.json?.replayed, true, again.text);
  // Many at once, so that the group commit takes some in one batch: each ends with Twilio's count.
  const many = Array.from({ length: 12 }, (_, i) => ({ m: sid('SM'), segs: 2 + (i % 3) }));
  for (const x of many) assert.equal((await report(x.m, 1)).status, 201);
  const rs = await Promise.all(many.flatMap((x) => [status(x.m, 'sent', x.segs), status(x.m, 'delivered', x.segs)]));
  for (const r of rs) assert.equal(r.status, 204, r.text);
  for (const x of many) assert.deepEqual(await smsUsage(x.m), [{ user_id: u.id, kind: 'sms', quantity: x.segs, source: 'twilio' }], x.m);
  // A row a bill has counted: Twilio's later count changes nothing the bill posted.
  const m2 = sid('SM');
  assert.equal((await report(m2, 1)).status, 201);
  const [row] = await query('SELECT id FROM usage_events WHERE idempotency_key = ?', [`twilio:sms:${m2}`]);
  const bill = await query("INSERT INTO bills (user_id, subscription_id, customer_id, kind, period_start, period_end, usage_end, state, computation) VALUES (?, ?, 'cus_t2b', 'cycle', ?, ?, ?, 'posted', '{}')",
    [u.id, `sub_t2b_${hex(8)}`, now() - 1000, now() + 1000, now() + 1000]);
  await query('INSERT INTO bill_usage (usage_id, bill_id, for_period_start) VALUES (?, ?, ?)', [row.id, bill.insertId, now() - 1000]);
  assert.equal((await status(m2, 'sent', 4)).status, 204);
  assert.deepEqual(await smsUsage(m2), [{ user_id: u.id, kind: 'sms', quantity: 1, source: 'app' }]);
  // What the user is shown adds up: 3 + the dozen's segments + 1, independent of our sums.
  const total = 3 + many.reduce((a, x) => a + x.segs, 0) + 1;
  const use = await request('GET', '/api/billing/usage', { token: u.token });
  assert.equal(use.status, 200, use.text);
  assert.equal(use.json.usage.sms, total);
});

// T2d: the app reports a text under Twilio's key for the wrong user (a number that changed owner, a stale
// mapping), then Twilio's signed callback for the user whose number sent it: the row is that user's, with
// Twilio's count. Before: the count was taken and the row stayed the other user's, billed to them.
test('T2d Twilio\'s count of a text the app reported for another user moves the row to the callback\'s user', async () => {
  const a = await newUser({ held: true }), b = await newUser();
  const svc = mint(['-u', 'assistant', '-r', 'service']);
  const m = sid('SM');
  const rep = await request('POST', '/api/usage', { token: svc, json: { user_id: b.id, kind: 'sms', quantity: 1,
    idempotency_key: `twilio:sms:${m}` } });
  assert.equal(rep.status, 201, rep.text);
  assert.deepEqual(await smsUsage(m), [{ user_id: b.id, kind: 'sms', quantity: 1, source: 'app' }]);
  assert.equal((await smsStatus(a, m, 'sent', 2)).status, 204);
  assert.deepEqual(await smsUsage(m), [{ user_id: a.id, kind: 'sms', quantity: 2, source: 'twilio' }]);
  const [{ n }] = await query("SELECT COUNT(*) AS n FROM usage_events WHERE user_id = ? AND kind = 'sms'", [b.id]);
  assert.equal(Number(n), 0, 'nothing left on the other user');
});

// T2c: a take of Twilio's count writes the user's row before it reads the text's row, as a rating writes it
// before it reads the period's rows (D12, engine.test). On one server the two take turns. On Galera, where a
// lock does not reach another node, both write that row, so the later of two that overlap fails certification
// and runs again, seeing the other (docs/SCALING.md). A text Twilio recorded itself needs no such write.
test('T2c Twilio\'s count of a text the app reported waits for the user\'s row; a redelivery of Twilio\'s own text does not', async () => {
  const u = await newUser({ held: true });
  const svc = mint(['-u', 'assistant', '-r', 'service']);
  const status = (m, st, segs) => smsStatus(u, m, st, segs);
  const own = sid('SM'), reported = sid('SM');
  assert.equal((await status(own, 'sent', 2)).status, 204);
  const rep = await request('POST', '/api/usage', { token: svc, json: { user_id: u.id, kind: 'sms', quantity: 1,
    idempotency_key: `twilio:sms:${reported}` } });
  assert.equal(rep.status, 201, rep.text);
  const row = await hold('SELECT id FROM users WHERE id = ? FOR UPDATE', [u.id]);
  let pending;
  try {
    const again = await status(own, 'delivered', 2);
    assert.equal(again.status, 204, again.text);
    pending = status(reported, 'sent', 3);
    await waitFor(() => lockWaits('UPDATE users SET updated_at') > 0,
      { timeoutMs: 15000, intervalMs: 100, what: 'the take waiting for the user\'s row' });
    assert.deepEqual(await smsUsage(reported), [{ user_id: u.id, kind: 'sms', quantity: 1, source: 'app' }]);
  } finally {
    await row.release();
  }
  const r = await pending;
  assert.equal(r.status, 204, r.text);
  assert.deepEqual(await smsUsage(reported), [{ user_id: u.id, kind: 'sms', quantity: 3, source: 'twilio' }]);
  assert.deepEqual(await smsUsage(own), [{ user_id: u.id, kind: 'sms', quantity: 2, source: 'twilio' }]);
});

test('T3 a sent message is metered from its status callback once, sent and delivered alike', async () => {
  const u = await newUser({ held: true });
  const m = sid('SM');
  const cb = (status, extra = {}) => postCallback(`/phone/sms/${u.id}/status`, { AccountSid: ACCOUNT(), MessageSid: m,
    SmsSid: m, MessageStatus: status, SmsStatus: status, From: u.number, To: '+14155550100', ApiVersion: '2010-04-01', ...extra });
  for (const st of ['queued', 'sending']) assert.equal((await cb(st)).status, 204);
  assert.deepEqual(await smsUsage(m), [], 'not yet sent: nothing billed');
  assert.equal((await cb('sent', { NumSegments: '2' })).status, 204);
  assert.equal((await cb('delivered', { NumSegments: '2' })).status, 204);
  assert.equal((await cb('delivered', { NumSegments: '2' })).status, 204);
  assert.deepEqual(await smsUsage(m), [{ user_id: u.id, kind: 'sms', quantity: 2, source: 'twilio' }]);
  // Without NumSegments, Twilio's message says (the stand-in bills every message as 2 segments).
  const m2 = sid('SM');
  const r = await postCallback(`/phone/sms/${u.id}/status`, { AccountSid: ACCOUNT(), MessageSid: m2, MessageStatus: 'sent',
    From: u.number, To: '+14155550100' });
  assert.equal(r.status, 204, r.text);
  assert.deepEqual(await smsUsage(m2), [{ user_id: u.id, kind: 'sms', quantity: 2, source: 'twilio' }]);
});

// T3b: a status callback without NumSegments whose message Twilio cannot tell now (the fetch times out). Twilio
// does not send the callback again, so the text is answered 204 and a job asks Twilio later: the text is billed
// by Twilio's count (the stand-in's is 2). Before: 502, nothing recorded, the text never billed.
test('T3b a sent message whose segments Twilio cannot tell now is recorded later by a job', { timeout: 90000 }, async () => {
  const u = await newUser({ held: true });
  const m = sid('SM');
  await twilioDelay(8000, `Messages/${m}`);
  let r;
  try {
    r = await postCallback(`/phone/sms/${u.id}/status`, { AccountSid: ACCOUNT(), MessageSid: m, MessageStatus: 'sent',
      From: u.number, To: '+14155550100' });
  } finally {
    await twilioDelay(0);
  }
  assert.equal(r.status, 204, r.text);
  const job = async () => (await query("SELECT state FROM jobs WHERE kind = 'sms_segments' AND dedupe_key = ?", [`sms_segments:${m}`]))[0];
  assert.ok(await job(), 'a job asks Twilio again');
  await waitFor(async () => (await smsUsage(m)).length > 0, { timeoutMs: 60000, what: 'the text recorded by the job' });
  assert.deepEqual(await smsUsage(m), [{ user_id: u.id, kind: 'sms', quantity: 2, source: 'twilio' }]);
  await waitFor(async () => (await job()).state === 'done', { timeoutMs: 15000, what: 'the job done' });
  // Twilio's delivered callback, with its count this time, adds nothing.
  const again = await smsStatus(u, m, 'delivered', 2);
  assert.equal(again.status, 204, again.text);
  assert.deepEqual(await smsUsage(m), [{ user_id: u.id, kind: 'sms', quantity: 2, source: 'twilio' }]);
});

/** xsb-phone's group commit counters, from /metrics. */
async function twilioBatches() {
  const m = await metricCounters('xsb_twilio_batches_total', 'xsb_twilio_batched_callbacks_total');
  return { batches: m.xsb_twilio_batches_total, batched: m.xsb_twilio_batched_callbacks_total };
}

test('T3b message callbacks and inbound texts all at once share the group commit: each message metered once', async () => {
  const c0 = await twilioBatches();
  assert.ok(Number.isFinite(c0.batches) && Number.isFinite(c0.batched), JSON.stringify(c0));
  let c1 = c0;
  for (let round = 0; round < 6 && c1.batched === c0.batched; round++) {
    const u = await newUser({ held: true });
    const sent = Array.from({ length: 24 }, (_, i) => ({ m: sid('SM'), segs: 1 + (i % 3) }));
    const inbound = Array.from({ length: 8 }, () => clean(text(u, { NumSegments: '2' })));
    const cb = (x, status) => postCallback(`/phone/sms/${u.id}/status`, { AccountSid: ACCOUNT(), MessageSid: x.m,
      MessageStatus: status, From: u.number, To: '+14155550100', NumSegments: String(x.segs) });
    const all = [...sent.flatMap((x) => [() => cb(x, 'sent'), () => cb(x, 'delivered')]),
      ...inbound.flatMap((t) => [() => postCallback(`/phone/sms/${u.id}`, t), () => postCallback(`/phone/sms/${u.id}`, t)])];
    const rs = await Promise.all(all.sort(() => Math.random() - 0.5).map((f) => f()));
    for (const r of rs) assert.ok(r.status === 204 || r.status === 200, `${r.status} ${r.text}`);
    const rows = await query("SELECT idempotency_key AS k, quantity AS q FROM usage_events WHERE user_id = ? AND kind = 'sms' ORDER BY k", [u.id]);
    const want = [...sent.map((x) => [`twilio:sms:${x.m}`, x.segs]), ...inbound.map((t) => [`twilio:sms:${t.MessageSid}`, 2])]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    assert.deepEqual(rows.map((x) => [x.k, Number(x.q)]), want);
    c1 = await twilioBatches();
  }
  assert.ok(c1.batches > c0.batches && c1.batched >= c0.batched + 2, `no callback was stored in a batch: ${JSON.stringify({ c0, c1 })}`);
});

test('T4 forged or missing signatures are 403 on calls, texts and message callbacks, and meter nothing', async () => {
  const u = await newUser({ held: true });
  const t = clean(text(u));
  for (const [path, params] of [[`/phone/voice/${u.id}`, call(u)], [`/phone/sms/${u.id}`, t],
    [`/phone/sms/${u.id}/status`, { MessageSid: t.MessageSid, MessageStatus: 'delivered', NumSegments: '1' }]]) {
    const forged = await postCallback(path, params, { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    assert.equal(forged.status, 403, `${path}: ${forged.text}`);
    assert.equal(forged.json.error.code, 'invalid_signature');
    const wrongKey = await postCallback(path, params, { authToken: 'not-our-token' });
    assert.equal(wrongKey.status, 403);
    const none = await postCallback(path, params, { signature: false });
    assert.equal(none.status, 403);
  }
  assert.deepEqual(await smsUsage(t.MessageSid), []);
});

test('T5 a free-tier user\'s number gets the refusal; a number not the user\'s and an unknown user are rejected', async () => {
  const free = await newUser({ tier: 'ai_buddy', held: true });
  const voice = xml(await postCallback(`/phone/voice/${free.id}`, call(free)));
  assert.match(voice, /<Say>This number's plan includes no calls or texts\.[^<]*<\/Say><Hangup\/>/);
  assert.doesNotMatch(voice, /<Redirect/);
  const t = clean(text(free));
  const sms = xml(await postCallback(`/phone/sms/${free.id}`, t));
  assert.match(sms, /<Message>This number's plan includes no calls or texts\.[^<]*<\/Message>/);
  assert.doesNotMatch(sms, /<Redirect/);
  // Twilio bills the text our number took: metered all the same.
  assert.equal((await smsUsage(t.MessageSid)).length, 1);

  const u = await newUser({ held: true });
  const other = { number: randomNumber() };
  assert.match(xml(await postCallback(`/phone/voice/${u.id}`, call(other))), /<Response><Reject reason="rejected"\/><\/Response>/);
  const ghost = crypto.randomUUID();
  assert.match(xml(await postCallback(`/phone/voice/${ghost}`, call(u))), /<Reject reason="rejected"\/>/);
  const lost = clean(text(other));
  assert.match(xml(await postCallback(`/phone/sms/${u.id}`, lost)), /<Response><\/Response>/);
  assert.deepEqual(await smsUsage(lost.MessageSid), [], 'a text not to the user\'s number is not theirs to pay');
  const bad = await postCallback(`/phone/sms/${u.id}`, clean(text(u, { MessageSid: 'SM123' })));
  assert.equal(bad.status, 400);
  const badPath = await postCallback(`/phone/sms/${u.id}/other`, clean(text(u)));
  assert.equal(badPath.status, 404);
  // An id longer than any is nobody's, never a cut-down one.
  const long = await postCallback(`/phone/sms/${u.id}${'x'.repeat(40)}/status`, { MessageSid: sid('SM'), MessageStatus: 'sent' });
  assert.equal(long.status, 404);
});

// ---------- provisioning that never blocks ----------

test('T6 provisioning answers within 1 s while Twilio takes 20 s; details go provisioning -> active', async () => {
  const u = await newUser();
  await twilioDelay(20000);
  try {
    const t0 = Date.now();
    const r = await request('POST', '/api/phone/provision', { token: u.token, json: { area_code: '415' } });
    const took = Date.now() - t0;
    assert.equal(r.status, 202, r.text);
    assert.ok(took < 1000, `answered in ${took} ms`);
    assert.equal(r.json.status, 'provisioning');
    assert.equal(r.json.phone_number, null);
    await sleep(2500);
    const d = await details(u);
    assert.equal(d.json.status, 'provisioning', d.text);
    const again = await request('POST', '/api/phone/provision', { token: u.token });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'provisioning_in_progress');
  } finally {
    await twilioDelay(0);
  }
  let d;
  await waitFor(async () => (d = await details(u)).json.status === 'active', { timeoutMs: 60000, what: 'the number' });
  assert.match(d.json.phone_number, /^\+1\d{10}$/);
  assert.match(d.json.phone_sid, /^PN[0-9a-f]{32}$/);
  assert.equal(d.json.error, null);
  const mail = await query("SELECT COUNT(*) AS n FROM jobs WHERE user_id = ? AND kind = 'notify' AND payload LIKE '%phone_provisioned%'", [u.id]);
  assert.equal(Number(mail[0].n), 1, 'the user is told once the number is ready');
});

// T6b: a provisioning job run twice at once (its lease ran out while Twilio was slow): the run that finds the
// other's number recorded first releases the one it bought, which nobody would use and we would pay for.
test('T6b a number bought by a second run of the provisioning, the first run\'s recorded, is released at Twilio', async () => {
  const u = await newUser();
  const before = (await twilioRequests()).length;
  const other = { number: randomNumber(), sid: sid('PN') };
  await twilioDelay(1500, 'IncomingPhoneNumbers');
  try {
    const r = await request('POST', '/api/phone/provision', { token: u.token, json: { area_code: '415' } });
    assert.equal(r.status, 202, r.text);
    // The job is asking Twilio for our numbers by name; meanwhile "the other run" records its number.
    await waitFor(async () => (await twilioRequests()).slice(before).some((q) => q.method === 'GET' && /IncomingPhoneNumbers\.json\?/.test(q.path)),
      { timeoutMs: 15000, what: 'the job listing our numbers at Twilio' });
    await query("UPDATE users SET phone_number = ?, phone_sid = ?, phone_status = 'active' WHERE id = ?", [other.number, other.sid, u.id]);
    await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from) VALUES (?, ?, ?, ?)', [u.id, other.number, other.sid, now()]);
    await waitFor(async () => (await twilioRequests()).slice(before).some((q) => q.method === 'DELETE'), { timeoutMs: 20000, what: 'a release at Twilio' });
  } finally {
    await twilioDelay(0);
  }
  const mine = (await twilioRequests()).slice(before);
  const bought = mine.filter((q) => q.method === 'POST' && /IncomingPhoneNumbers\.json$/.test(q.path));
  const released = mine.filter((q) => q.method === 'DELETE').map((q) => q.path);
  assert.equal(bought.length, 1, JSON.stringify(mine));
  assert.equal(released.length, 1, JSON.stringify(mine));
  assert.match(released[0], /IncomingPhoneNumbers\/PN[0-9a-fA-F]{32}\.json$/);
  assert.ok(!released[0].includes(other.sid), 'the number the user holds is not the one released');
  const d = await details(u);
  assert.deepEqual([d.json.status, d.json.phone_sid], ['active', other.sid]);
});

test('T7 a provisioning that fails for good shows failed with the reason; a new request starts afresh', async () => {
  const u = await newUser();
  const claim = now();
  await query("UPDATE users SET phone_status = 'provisioning', phone_provisioned_at = ? WHERE id = ?", [claim, u.id]);
  // A job whose wish Twilio's search cannot take (as a stored job from an older program might hold).
  await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('phone_provision', ?, ?, ?)",
    [`phone_provision:${u.id}:${claim}`, u.id, JSON.stringify({ claim, want: { country: 'usa' } })]);
  await waitFor(async () => (await details(u)).json.status === 'failed', { timeoutMs: 30000, what: 'the failure' });
  const d = await details(u);
  assert.match(d.json.error, /country is malformed/);
  assert.equal(d.json.phone_number, null);
  const r = await request('POST', '/api/phone/provision', { token: u.token, json: { region: 'CA' } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.error, null);
  await waitFor(async () => (await details(u)).json.status === 'active', { timeoutMs: 30000, what: 'the number' });
});

// ---------- geography and the stored preference ----------
test('T8 search takes region, locality, postal code, near a number or a point with a distance', async () => {
  const u = await newUser();
  for (const q of ['region=CA', 'locality=San%20Francisco', 'postal_code=94103', 'near_number=%2B14155550100&distance=25',
    'near_lat_long=37.7749,-122.4194&distance=50', 'country=US&area_code=415&contains=55*&region=CA']) {
    const r = await request('GET', `/api/phone/search?${q}`, { token: u.token });
    assert.equal(r.status, 200, `${q}: ${r.text}`);
    assert.ok(r.json.numbers.length >= 1);
  }
  for (const q of ['distance=25', 'near_lat_long=91,0', 'near_lat_long=37.7,-181', 'near_lat_long=abc', 'postal_code=9',
    'near_number=4155550100', 'region=C%3B', 'distance=501', 'near_number=%2B14155550100&near_lat_long=1,1', 'regoin=CA']) {
    const r = await request('GET', `/api/phone/search?${q}`, { token: u.token });
    // An unknown parameter is ignored, as before: only the known ones are checked.
    if (q === 'regoin=CA') { assert.equal(r.status, 200); continue; }
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.equal(r.json.error.code, 'bad_request');
  }
  const bad = await request('POST', '/api/phone/provision', { token: u.token, json: { phone_number: '+14155550100', region: 'CA' } });
  assert.equal(bad.status, 400);
});

test('T9 the stored preference is what automatic provisioning buys with', async () => {
  const u = await newUser();
  const pref = { country: 'US', region: 'CA', near_lat_long: '37.7749,-122.4194', distance: '50' };
  const put = await request('PUT', '/api/phone/preference', { token: u.token, json: pref });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.preference, pref);
  assert.deepEqual((await details(u)).json.preference, pref);
  const badPut = await request('PUT', '/api/phone/preference', { token: u.token, json: { distance: '5' } });
  assert.equal(badPut.status, 400);
  assert.deepEqual((await details(u)).json.preference, pref, 'a refused preference changes nothing');
  // The job a subscription queues (payload as the webhook writes it: no wish of its own).
  await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('phone_provision', ?, ?, '{}')", [`phone_provision:t9:${u.id}`, u.id]);
  await waitFor(async () => (await details(u)).json.status === 'active', { timeoutMs: 30000, what: 'the number' });
  const free = await newUser({ tier: 'ai_buddy' });
  const no = await request('PUT', '/api/phone/preference', { token: free.token, json: pref });
  assert.equal(no.status, 403);
  // A preference is a search, never one number (API.md).
  const one = await request('PUT', '/api/phone/preference', { token: u.token, json: { phone_number: '+14155550100' } });
  assert.equal(one.status, 400, one.text);
  assert.equal(one.json.error.code, 'bad_request');
  assert.deepEqual((await details(u)).json.preference, pref);
  // POST /api/phone/provision with {} (as with no body) buys as the stored preference says: its job carries no wish.
  const v = await newUser();
  assert.equal((await request('PUT', '/api/phone/preference', { token: v.token, json: { area_code: '212' } })).status, 200);
  const r = await request('POST', '/api/phone/provision', { token: v.token, json: {} });
  assert.equal(r.status, 202, r.text);
  const [job] = await query("SELECT payload FROM jobs WHERE kind = 'phone_provision' AND user_id = ?", [v.id]);
  assert.equal(JSON.parse(job.payload).want, undefined, `the job's payload: ${job.payload}`);
  // So do members all empty or null, as a form that sends every field does (an empty member is not asked).
  const w = await newUser();
  assert.equal((await request('PUT', '/api/phone/preference', { token: w.token, json: { area_code: '212' } })).status, 200);
  const e = await request('POST', '/api/phone/provision', { token: w.token, json: { area_code: '', country: '', locality: null } });
  assert.equal(e.status, 202, e.text);
  const [job2] = await query("SELECT payload FROM jobs WHERE kind = 'phone_provision' AND user_id = ?", [w.id]);
  assert.equal(JSON.parse(job2.payload).want, undefined, `the job's payload: ${job2.payload}`);
});

// ---------- grace ----------
const lapse = async (u, subId, status, created) => {
  const r = await S.signedWebhook(S.event('customer.subscription.updated',
    S.subscription({ id: subId, customer: u.customer, price: 'price_ai_secretary', status }), { created }));
  assert.equal(r.status, 200, r.text);
};
const graceJobs = (u) => query("SELECT id, state, FLOOR(UNIX_TIMESTAMP(run_after)) AS run_after FROM jobs WHERE user_id = ? AND kind = 'phone_grace_release' ORDER BY id", [u.id]);
const userRow = async (u) => (await query('SELECT tier, phone_number, phone_sid, phone_status, phone_grace_until FROM users WHERE id = ?', [u.id]))[0];
const holdings = (u) => query('SELECT phone_sid, held_to FROM phone_numbers WHERE user_id = ?', [u.id]);
/** The grace's days pass: its end and its job are moved to now. */
const graceEnds = async (u) => {
  await query('UPDATE users SET phone_grace_until = LEAST(phone_grace_until, ?) WHERE id = ?', [now() - 1, u.id]);
  await query("UPDATE jobs SET run_after = NOW(6) WHERE user_id = ? AND kind = 'phone_grace_release' AND state = 'pending'", [u.id]);
  await waitFor(async () => (await graceJobs(u)).every((j) => j.state === 'done'), { timeoutMs: 30000, what: 'the grace job' });
};

/** A secretary user holding a number whose subscription went active, then unpaid. */
async function lapsedUser() {
  const u = await newUser({ held: true, customer: S.rid('cus_') });
  const subId = S.rid('sub_');
  const t = now() - 60;
  await lapse(u, subId, 'active', t);
  await lapse(u, subId, 'unpaid', t + 1);
  return { u, subId, t };
}

test('T10 unpaid then paid within the grace keeps the same number', async () => {
  const { u, subId, t } = await lapsedUser();
  let row = await userRow(u);
  assert.equal(row.tier, 'ai_buddy');
  assert.equal(row.phone_sid, u.sid, 'held through the grace');
  const days = 7;
  assert.ok(Math.abs(Number(row.phone_grace_until) - (now() + days * 86400)) < 120, String(row.phone_grace_until));
  const jobs = await graceJobs(u);
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0].state, 'pending');
  assert.ok(Math.abs(Number(jobs[0].run_after) - Number(row.phone_grace_until)) <= 1);
  assert.equal((await details(u)).json.grace_until, Number(row.phone_grace_until));
  // A call in the grace: the tier has no phone, so the refusal.
  assert.match(xml(await postCallback(`/phone/voice/${u.id}`, call(u))), /<Say>/);
  await lapse(u, subId, 'active', t + 2);
  row = await userRow(u);
  assert.equal(row.tier, 'ai_secretary');
  assert.equal(row.phone_grace_until, null);
  await graceEnds(u);
  row = await userRow(u);
  assert.equal(row.phone_sid, u.sid);
  assert.equal(row.phone_number, u.number);
  assert.equal(row.phone_status, 'active');
  assert.deepEqual(await holdings(u), [{ phone_sid: u.sid, held_to: null }]);
});

test('T11 after the grace the number is released, once; the held days stay in the holding', async () => {
  const { u, subId, t } = await lapsedUser();
  const until = Number((await userRow(u)).phone_grace_until);
  // A second lapse event in the same grace neither extends it nor queues a release twice over.
  const r = await S.signedWebhook(S.event('customer.subscription.deleted',
    S.subscription({ id: subId, customer: u.customer, price: 'price_ai_secretary', status: 'canceled' }), { created: t + 2 }));
  assert.equal(r.status, 200, r.text);
  assert.equal(Number((await userRow(u)).phone_grace_until), until);
  assert.equal((await graceJobs(u)).length, 1, 'one release for one grace');
  assert.deepEqual((await holdings(u)).map((h) => h.held_to), [null], 'held (and billed) through the grace');
  await graceEnds(u);
  const row = await userRow(u);
  assert.deepEqual({ ...row, tier: undefined }, { tier: undefined, phone_number: null, phone_sid: null, phone_status: 'none', phone_grace_until: null });
  const h = await holdings(u);
  assert.equal(h.length, 1);
  assert.ok(Number(h[0].held_to) >= now() - 60, 'closed at the release');
  const heldTo = h[0].held_to;
  const released = async () => Number((await query("SELECT COUNT(*) AS n FROM jobs WHERE user_id = ? AND kind = 'notify' AND payload LIKE '%phone_released%'", [u.id]))[0].n);
  assert.equal(await released(), 1);
  // Every grace job run again: nothing more happens.
  await query("UPDATE jobs SET state = 'pending', run_after = NOW(6), attempts = 0 WHERE user_id = ? AND kind = 'phone_grace_release'", [u.id]);
  await waitFor(async () => (await graceJobs(u)).every((j) => j.state === 'done'), { timeoutMs: 30000, what: 'the grace jobs again' });
  assert.deepEqual((await holdings(u)).map((x) => x.held_to), [heldTo]);
  assert.equal(await released(), 1);
});

// A grace job is due at the grace's end by the database's clock (run_after against NOW()); a worker whose clock
// is behind the database's ran it then, found the end still ahead by its own clock, finished the job (its key
// used up) and kept the number for good. Made here without moving a clock: the job of a grace that ends 3 s
// from now by the database's clock, due now, is what a worker 3 s behind sees at the end. The number is
// released once the grace has ended by the database's clock, not before, and not kept.
test('T11b a grace job run while its grace still runs by the database\'s clock releases the number once it has ended', async () => {
  const { u } = await lapsedUser();
  const [job] = await query("SELECT id, dedupe_key, payload FROM jobs WHERE user_id = ? AND kind = 'phone_grace_release'", [u.id]);
  assert.equal(job.dedupe_key, `phone_grace_release:${u.id}:${(await userRow(u)).phone_grace_until}`, 'queued once per grace, keyed by its end');
  const t = Number((await query('SELECT UNIX_TIMESTAMP() AS t'))[0].t);
  const until = t + 3;
  // The same grace and job, 3 s before its end.
  await query('UPDATE users SET phone_grace_until = ? WHERE id = ?', [until, u.id]);
  const key = `phone_grace_release:${u.id}:${until}`;
  await query("UPDATE jobs SET dedupe_key = ?, payload = JSON_SET(payload, '$.until', ?), run_after = NOW(6) WHERE id = ?",
    [key, until, job.id]);
  const before = (await twilioRequests()).length;
  await waitFor(async () => (await userRow(u)).phone_status === 'none', { timeoutMs: 30000, what: 'the number released' });
  const row = await userRow(u);
  assert.deepEqual({ ...row, tier: undefined }, { tier: undefined, phone_number: null, phone_sid: null, phone_status: 'none', phone_grace_until: null });
  const released = (await twilioRequests()).slice(before).filter((q) => q.method === 'DELETE');
  assert.equal(released.length, 1, JSON.stringify(released));
  assert.match(released[0].path, new RegExp(`/IncomingPhoneNumbers/${u.sid}\\.json$`));
  const h = await holdings(u);
  assert.equal(h.length, 1);
  assert.ok(Number(h[0].held_to) >= until, `released at ${h[0].held_to}, the grace ended at ${until}`);
  await waitFor(async () => (await graceJobs(u)).every((j) => j.state === 'done'), { timeoutMs: 30000, what: 'the grace jobs done' });
});

// ---------- operators ----------
test('T12 operators list numbers, ours beside Twilio\'s, paged, with status', async () => {
  const admin = mint(['-u', 'ops', '-r', 'admin']);
  const a = await newUser({ held: true });
  const b = await newUser({ held: true, tier: 'ai_buddy' });
  await query('UPDATE users SET phone_grace_until = ? WHERE id = ?', [now() + 3600, b.id]);
  const seen = new Map();
  let after = '';
  for (let pages = 0; pages < 1000; pages++) {
    const r = await request('GET', `/api/admin/phone/numbers?limit=2${after ? `&after=${after}` : ''}`, { token: admin });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.numbers.length <= 2);
    for (const n of r.json.numbers) seen.set(n.phone_sid, n);
    if (r.json.next_after === null) break;
    after = r.json.next_after;
  }
  const na = seen.get(a.sid);
  assert.equal(na.status, 'active');
  assert.equal(na.user_id, a.id);
  assert.equal(na.phone_number, a.number);
  assert.ok('twilio' in na);
  assert.equal(seen.get(b.sid).status, 'grace');
  // The CLI walks the same pages, from a first one without a cursor (it sent an empty after=: 400 bad_after).
  for (const args of [['numbers'], ['numbers', '--held']]) {
    const cli = spawnSync(path.join(REPO_ROOT, 'scripts', 'xsb-admin'), args,
      { env: { ...process.env, XSB_VAR: VAR_DIR, ADMIN_TOKEN: '' }, encoding: 'utf8', timeout: 60000 });
    assert.equal(cli.status, 0, `${args.join(' ')}: ${cli.stderr}`);
    assert.ok(cli.stdout.includes(a.sid), args.join(' '));
  }
  const user = await request('GET', '/api/admin/phone/numbers', { token: a.token });
  assert.equal(user.status, 403);
});

// Each number of these pages costs a Twilio call; nginx gives up after 30 s of silence (504). With Twilio
// slower than HTTP_INTERACTIVE_TIMEOUT_MS (2.5 s in the test stack), a page of 14 would take 35 s: it stops
// early instead, its cursor at the last number done, so the operator carries on from there.
test('T12b a page of numbers that Twilio makes slow ends early, within nginx\'s time, and continues', { timeout: 120000 }, async () => {
  const admin = mint(['-u', 'ops', '-r', 'admin']);
  const interactive = Number(process.env.HTTP_INTERACTIVE_TIMEOUT_MS);
  const L = 14;
  assert.ok(interactive * L > 32000 && interactive * 3 < 25000, `the stack's Twilio timeout (${interactive} ms)`);
  for (let i = 0; i < L; i++) await newUser({ held: true });
  const firstHeld = await query('SELECT id FROM phone_numbers WHERE held_to IS NULL ORDER BY id LIMIT ?', [L + 1]);
  const firstUsers = await query('SELECT id FROM users WHERE phone_sid IS NOT NULL ORDER BY id LIMIT ?', [L]);
  await twilioDelay(interactive + 1000, 'IncomingPhoneNumbers');
  let list, repoint;
  try {
    [list, repoint] = await Promise.all([
      request('GET', `/api/admin/phone/numbers?held=1&limit=${L}`, { token: admin, timeoutMs: 60000 }),
      request('POST', `/api/admin/phone/repoint?limit=${L}`, { token: admin, timeoutMs: 60000 }),
    ]);
  } finally {
    await twilioDelay(0);
  }
  assert.equal(list.status, 200, list.text);
  const n = list.json.numbers.length;
  assert.ok(n >= 1 && n < L, `the page stopped early: ${n} of ${L}`);
  assert.deepEqual(list.json.numbers.map((x) => x.id), firstHeld.slice(0, n).map((x) => x.id));
  for (const x of list.json.numbers) assert.ok(x.twilio?.error, `Twilio could not say in time: ${JSON.stringify(x.twilio)}`);
  assert.equal(list.json.next_after, firstHeld[n - 1].id, 'the cursor is at the last number done');
  assert.equal(repoint.status, 200, repoint.text);
  const m = repoint.json.numbers.length;
  assert.ok(m >= 1 && m < L, `the repoint stopped early: ${m} of ${L}`);
  assert.deepEqual(repoint.json.numbers.map((x) => x.user_id), firstUsers.slice(0, m).map((x) => x.id));
  assert.equal(repoint.json.updated + repoint.json.failed, m);
  assert.equal(repoint.json.next_after, firstUsers[m - 1].id);
  // Twilio answering again: the next page carries on after the cursor.
  const next = await request('GET', `/api/admin/phone/numbers?held=1&limit=1&after=${list.json.next_after}`, { token: admin });
  assert.equal(next.status, 200, next.text);
  assert.equal(next.json.numbers[0].id, firstHeld[n].id);
});
