// Abuse catalogue: hostile and malformed input on every route, through
// nginx, against the real stack.  One table, CATALOGUE, lists every case
// with the answer it must get; each case is one test that also checks:
//   - an error answer is JSON {"error":{"code","message"}} (nginx's own
//     refusals included), with the code listed when the case names one;
//   - nothing is written: row counts of stripe_events, usage_events, users,
//     jobs, call_events, billing_events, subscriptions and invoices are the
//     same before and after (a case that must store something says what);
//   - nothing reached Stripe (the stand-in's log of API calls);
//   - the stack is still healthy (/healthz 200).
// At the end, no program's log has gained an "exited (status" line (the
// server master's note of a child that died) or a sanitizer report.
//
// Sections: body caps, JSON syntax and shape (every JSON route x every
// fault), numbers, SQL metacharacters (signed Stripe events, API bodies,
// query strings, Twilio callbacks), ids differing only by case, paths of
// /phone/status/:userId, missing headers and wrong content types, wrong
// methods, oversized query strings and headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rawRequest, closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { env, envPath, requireEnv, VAR_DIR } from './lib/env.mjs';
import { signTwilio, publicUrl } from './lib/twilio.mjs';
import * as S from './lib/stripe.mjs';
import { keyArgs } from './lib/token.mjs';

const now = () => Math.floor(Date.now() / 1000);
const KiB = 1024, MiB = 1024 * KiB;
const callSid = () => 'CA' + crypto.randomBytes(16).toString('hex');
const uuid = () => crypto.randomUUID();

// ---------- fixtures ----------
const stackEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(env).map((k) => [k, env[k]])) });
const mint = (userId, args = []) => execFileSync(`${requireEnv('XSB_BIN').XSB_BIN}/xsb-token`, keyArgs(['-u', userId, ...args]),
  { env: stackEnv(), encoding: 'utf8' }).trim();
async function newUser(tier = 'ai_buddy', { customer = null } = {}) {
  const id = uuid();
  await query('INSERT INTO users (id, email, tier, stripe_customer_id) VALUES (?, ?, ?, ?)', [id, `${id}@example.test`, tier, customer]);
  return id;
}

/** Filled in before(): users and tokens the cases use. */
const F = {};
before(async () => {
  F.buddy = await newUser('ai_buddy');            // no subscription, no phone tier
  F.buddyTok = mint(F.buddy);
  F.sec = await newUser('ai_secretary');          // receives Twilio status callbacks
  F.svcTok = mint(await newUser(), ['-r', 'service']);
});
after(async () => { closeHttp(); await close(); });

// ---------- senders ----------
/** Authorization for a token (or a function giving one, for tables built before the fixtures exist). */
const bearer = (tok) => { const t = typeof tok === 'function' ? tok() : tok; return t ? { Authorization: `Bearer ${t}` } : {}; };
/** Any request, bytes as given. */
const send = (method, p, { headers = {}, body } = {}) => rawRequest(method, p, { headers, body, timeoutMs: 20000 });
/** A JSON-ish body to an API route with a token. */
const api = (method, p, tok, body, ct = 'application/json') =>
  send(method, p, { headers: { ...bearer(tok), ...(ct ? { 'Content-Type': ct } : {}) }, body });

/**
 * A request whose path goes out exactly as written: the URL parser behind rawRequest() would resolve
 * "..", "%2e%2e" and "." on our side, and nginx is what should meet them.
 */
function sendRaw(method, rawPath, { headers = {}, body } = {}) {
  const base = new URL(requireEnv('BASE_URL').BASE_URL);
  const h = { ...headers, ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) };
  return new Promise((resolve, reject) => {
    const req = https.request({ host: base.hostname, port: base.port, method, path: rawPath, headers: h, ca: fs.readFileSync(envPath('TLS_CERT')),
      servername: base.hostname === '127.0.0.1' ? undefined : base.hostname, timeout: 20000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${rawPath}: no answer`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Stripe-Signature over exact bytes (Stripe's scheme: HMAC-SHA256 of "<t>.<body>"). */
function stripeSig(bytes, { t = now(), secret = requireEnv('STRIPE_WEBHOOK_SECRETS').STRIPE_WEBHOOK_SECRETS.split(',')[0].trim() } = {}) {
  const mac = crypto.createHmac('sha256', secret).update(`${t}.`).update(Buffer.from(bytes)).digest('hex');
  return `t=${t},v1=${mac}`;
}
/** A signed delivery of exact bytes (string or Buffer). */
const hook = (bytes, { headers = {} } = {}) => send('POST', '/stripe/webhook',
  { headers: { 'Content-Type': 'application/json; charset=utf-8', 'Stripe-Signature': stripeSig(bytes), ...headers }, body: bytes });
const hookJson = (obj) => hook(JSON.stringify(obj));

/** A Twilio status callback to path, signed for exactly that path and params. */
function twilio(p, params, { signature, ct = 'application/x-www-form-urlencoded', headers = {}, raw = false } = {}) {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [].concat(v)) form.append(k, String(x));
  const sig = signature === undefined ? signTwilio(publicUrl(p), params) : signature;
  return (raw ? sendRaw : send)('POST', p, { headers: { ...(ct ? { 'Content-Type': ct } : {}), ...(sig === false ? {} : { 'X-Twilio-Signature': sig }), ...headers },
    body: form.toString() });
}
const call = (o = {}) => ({ CallSid: callSid(), CallStatus: 'completed', CallDuration: '61', ...o });

// ---------- what is written ----------
const COUNTED = {
  stripe_events: 'SELECT COUNT(*) FROM stripe_events',
  usage_events: 'SELECT COUNT(*) FROM usage_events',
  users: 'SELECT COUNT(*) FROM users',
  // The worker queues notify jobs of its own (phone_* jobs of earlier files): not ours.
  jobs: "SELECT COUNT(*) FROM jobs WHERE dedupe_key NOT LIKE 'notify:%:phone\\_%'",
  call_events: 'SELECT COUNT(*) FROM call_events',
  // overage_* rows are the worker's (bill_period jobs of earlier files).
  billing_events: "SELECT COUNT(*) FROM billing_events WHERE kind NOT LIKE 'overage\\_%'",
  subscriptions: 'SELECT COUNT(*) FROM subscriptions',
  invoices: 'SELECT COUNT(*) FROM invoices',
};
async function counts() {
  const sql = 'SELECT ' + Object.entries(COUNTED).map(([k, q]) => `(${q}) AS ${k}`).join(', ');
  const [row] = await query(sql);
  return Object.fromEntries(Object.keys(COUNTED).map((k) => [k, Number(row[k])]));
}
/** Calls our programs made to Stripe (the worker's invoice items excepted). */
const stripeCalls = async () => (await S.standin.requests()).filter((r) => !r.path.startsWith('/v1/invoiceitems')
  && !/^\/v1\/invoices\/[^/]+$/.test(r.path)).length;
const storedEvent = async (id) => (await query('SELECT * FROM stripe_events WHERE id = ?', [id]))[0];

// ---------- the catalogue ----------
// A case: { name, send: () => response (may also return {r, check}), status, code?, writes?: {table: delta},
//           stripe?: calls expected (default 0), check?: async (r) => extra assertions }
const CATALOGUE = [];
const section = (name, cases) => { for (const c of cases) CATALOGUE.push({ section: name, ...c }); };

// ---- 1. body caps: nginx answers 413 JSON before any program reads a byte ----
const API_POSTS = ['/api/billing/estimate', '/api/billing/upgrade', '/api/billing/downgrade', '/api/billing/cancel',
  '/api/billing/resume', '/api/usage', '/api/phone/provision'];
section('body cap', [
  { name: 'webhook: 1 MiB + 1 byte', send: () => hook('x'.repeat(MiB + 1)), status: 413, code: 'payload_too_large' },
  { name: 'webhook: 1 MiB + 1 byte, chunked', send: () => send('POST', '/stripe/webhook', { headers: { 'Content-Type': 'application/json', 'Stripe-Signature': 't=1,v1=00', 'Transfer-Encoding': 'chunked' }, body: 'x'.repeat(MiB + 1) }), status: 413, code: 'payload_too_large' },
  { name: 'webhook: 8 MiB', send: () => hook('{' + ' '.repeat(8 * MiB) + '}'), status: 413, code: 'payload_too_large' },
  { name: '/api/usage: Transfer-Encoding gzip (nginx: not implemented, in JSON)', send: () => send('POST', '/api/usage', { headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'gzip' }, body: '{}' }), status: 501, code: 'not_implemented' },
  ...API_POSTS.map((p) => ({ name: `${p}: 64 KiB + 1 byte`, send: () => api('POST', p, p === '/api/usage' ? F.svcTok : F.buddyTok, 'x'.repeat(64 * KiB + 1)), status: 413, code: 'payload_too_large' })),
  ...API_POSTS.map((p) => ({ name: `${p}: 64 KiB + 1 byte, chunked, no token`, send: () => send('POST', p, { headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, body: '{' + ' '.repeat(64 * KiB) + '}' }), status: 413, code: 'payload_too_large' })),
  { name: '/phone/status: 64 KiB + 1 byte', send: () => send('POST', `/phone/status/${F.sec}`, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'CallSid=' + 'C'.repeat(64 * KiB) }), status: 413, code: 'payload_too_large' },
  { name: 'POST /healthz: 64 KiB + 1 byte', send: () => send('POST', '/healthz', { body: 'x'.repeat(64 * KiB + 1) }), status: 413, code: 'payload_too_large' },
  { name: 'unknown path: 64 KiB + 1 byte', send: () => send('POST', '/nowhere', { body: 'x'.repeat(64 * KiB + 1) }), status: 413, code: 'payload_too_large' },
  // The limits themselves are accepted.
  { name: 'estimate: exactly 64 KiB of JSON is read (unknown members ignored)',
    send: () => { const pre = '{"target_tier":"ai_secretary","pad":"', post = '"}'; return api('POST', '/api/billing/estimate', F.buddyTok, pre + 'p'.repeat(64 * KiB - pre.length - post.length) + post); },
    status: 200, check: (r) => assert.equal(r.json.target_tier, 'ai_secretary') },
  { name: 'webhook: an event of exactly 1 MiB is stored',
    send: () => {
      const ev = S.event('customer.created', { id: S.rid('cus_'), object: 'customer', description: '' });
      ev.data.object.description = 'd'.repeat(MiB - JSON.stringify(ev).length);
      const body = JSON.stringify(ev);
      assert.equal(Buffer.byteLength(body), MiB);
      return hook(body).then((r) => ({ r, id: ev.id }));
    },
    status: 200, writes: { stripe_events: 1 },
    check: async (r, x) => { assert.equal(r.json.status, 'ignored'); assert.equal((await storedEvent(x.id)).payload.length, MiB); } },
]);

// ---- 2. JSON: every fault on every route that takes JSON ----
// Each route: how to send bytes, a valid body, the string member the faults corrupt, and the code it answers
// for a text that is not (strict) JSON, for valid JSON of the wrong shape, for the member of a wrong type.
// A body the parser wrongly accepted would get the route's normal answer (200, 201, 403, 409): the faults keep
// everything else valid, and a repeated key puts the valid value last.
const JSON_ROUTES = [
  { route: 'webhook', send: (b) => hook(b), valid: () => S.event('customer.created', { id: S.rid('cus_'), object: 'customer' }),
    field: 'id', good: () => S.rid('evt_'), codes: { syntax: 'malformed_event', shape: 'malformed_event', type: 'malformed_event' } },
  ...['estimate', 'upgrade', 'downgrade'].map((op) => ({
    route: op, send: (b) => api('POST', `/api/billing/${op}`, F.buddyTok, b), valid: () => ({ target_tier: op === 'downgrade' ? 'ai_buddy' : 'ai_secretary' }),
    field: 'target_tier', good: () => (op === 'downgrade' ? 'ai_buddy' : 'ai_secretary'),
    codes: { syntax: 'bad_request', shape: 'missing_target_tier', type: 'missing_target_tier' } })),
  { route: 'usage', send: (b) => api('POST', '/api/usage', F.svcTok, b),
    valid: () => ({ user_id: F.buddy, kind: 'sms', quantity: 1, idempotency_key: `abuse-${uuid()}` }),
    field: 'kind', good: () => 'sms', codes: { syntax: 'bad_json', shape: 'bad_user_id', type: 'bad_kind' } },
  { route: 'provision', send: (b) => api('POST', '/api/phone/provision', F.buddyTok, b), valid: () => ({ area_code: '415' }),
    field: 'area_code', good: () => '415', codes: { syntax: 'bad_request', shape: 'bad_request', type: 'bad_request' } },
];
/** The valid body with member `field` written as the raw JSON text `raw` (string or bytes). */
function withRaw(rt, raw) {
  const text = JSON.stringify({ ...rt.valid(), [rt.field]: '@@RAW@@' });
  const [a, b] = text.split('"@@RAW@@"');
  return Buffer.concat([Buffer.from(a), Buffer.from(raw), Buffer.from(b)]);
}
const str = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const JSON_FAULTS = [
  // Not JSON, or JSON we refuse: every route answers its "malformed" code.
  { fault: 'invalid UTF-8 byte in a string', kind: 'syntax', body: (rt) => withRaw(rt, str('"', rt.good(), [0xff], '"')) },
  { fault: 'invalid UTF-8: bad continuation (c3 28)', kind: 'syntax', body: (rt) => withRaw(rt, str('"', [0xc3, 0x28], rt.good(), '"')) },
  { fault: 'invalid UTF-8: overlong "/" (c0 af)', kind: 'syntax', body: (rt) => withRaw(rt, str('"', rt.good(), [0xc0, 0xaf], '"')) },
  { fault: 'invalid UTF-8: surrogate encoded (ed a0 80)', kind: 'syntax', body: (rt) => withRaw(rt, str('"', rt.good(), [0xed, 0xa0, 0x80], '"')) },
  { fault: 'invalid UTF-8: sequence cut at the end of a string', kind: 'syntax', body: (rt) => withRaw(rt, str('"', rt.good(), [0xe2, 0x82], '"')) },
  { fault: 'invalid UTF-8 in a key', kind: 'syntax', body: (rt) => str('{"', [0xff], '":1,', JSON.stringify(rt.valid()).slice(1)) },
  { fault: 'Latin-1 body (é as e9)', kind: 'syntax', body: (rt) => withRaw(rt, str('"', rt.good(), [0xe9], '"')) },
  { fault: 'UTF-16 body', kind: 'syntax', body: (rt) => Buffer.from(JSON.stringify(rt.valid()), 'utf16le') },
  { fault: 'byte order mark', kind: 'syntax', body: (rt) => str([0xef, 0xbb, 0xbf], JSON.stringify(rt.valid())) },
  { fault: 'raw NUL byte in a string', kind: 'syntax', body: (rt) => withRaw(rt, str('"', rt.good(), [0x00], 'x"')) },
  { fault: 'raw control character in a string', kind: 'syntax', body: (rt) => withRaw(rt, str('"', rt.good(), [0x01], '"')) },
  { fault: '\\u0000 escape after a valid value (C would cut there)', kind: 'syntax', body: (rt) => withRaw(rt, `"${rt.good()}\\u0000junk"`) },
  { fault: '\\u0000 escape in a key', kind: 'syntax', body: (rt) => str('{"', rt.field, '\\u0000x":1,', JSON.stringify(rt.valid()).slice(1)) },
  { fault: 'duplicated key, junk first and the valid value last', kind: 'syntax', body: (rt) => str(`{"${rt.field}":"junk value",`, JSON.stringify(rt.valid()).slice(1)) },
  { fault: 'duplicated key, same value twice', kind: 'syntax', body: (rt) => str(`{"${rt.field}":${JSON.stringify(rt.good())},`, JSON.stringify(rt.valid()).slice(1)) },
  { fault: 'duplicated key in a nested object', kind: 'syntax', body: (rt) => withRaw(rt, '{"a":1,"a":2}') },
  { fault: 'nesting 100 levels deep (arrays)', kind: 'syntax', body: (rt) => withRaw(rt, '['.repeat(100) + ']'.repeat(100)) },
  { fault: 'nesting 100 levels deep (objects)', kind: 'syntax', body: (rt) => withRaw(rt, '{"a":'.repeat(100) + '1' + '}'.repeat(100)) },
  { fault: 'nesting 30000 levels deep', kind: 'syntax', body: (rt) => withRaw(rt, '['.repeat(30000) + ']'.repeat(30000)) },
  { fault: 'unclosed nesting 30000 levels deep', kind: 'syntax', body: () => '['.repeat(30000) },
  { fault: 'integer 2^64 (json-c would saturate it)', kind: 'syntax', body: (rt) => withRaw(rt, '18446744073709551616') },
  { fault: 'integer 2^63', kind: 'syntax', body: (rt) => withRaw(rt, '9223372036854775808') },
  { fault: 'integer -2^63 - 1', kind: 'syntax', body: (rt) => withRaw(rt, '-9223372036854775809') },
  { fault: 'integer of 400 digits', kind: 'syntax', body: (rt) => withRaw(rt, '9'.repeat(400)) },
  { fault: 'trailing garbage', kind: 'syntax', body: (rt) => JSON.stringify(rt.valid()) + ' x' },
  { fault: 'a second value after the first', kind: 'syntax', body: (rt) => JSON.stringify(rt.valid()) + '{}' },
  { fault: 'a NUL byte after the value', kind: 'syntax', body: (rt) => str(JSON.stringify(rt.valid()), [0]) },
  { fault: 'truncated (no closing brace)', kind: 'syntax', body: (rt) => JSON.stringify(rt.valid()).slice(0, -1) },
  { fault: 'empty body', kind: 'syntax', body: () => '', skip: ['provision'] /* documented: an empty body is "no choice" */ },
  { fault: 'whitespace only', kind: 'syntax', body: () => ' \n\t ' },
  { fault: 'null', kind: 'syntax', body: () => 'null' },
  { fault: 'comment', kind: 'syntax', body: (rt) => '/* hi */' + JSON.stringify(rt.valid()) },
  { fault: 'single quotes', kind: 'syntax', body: (rt) => JSON.stringify(rt.valid()).replaceAll('"', "'") },
  { fault: 'unquoted key', kind: 'syntax', body: (rt) => str(`{${rt.field}:${JSON.stringify(rt.good())},`, JSON.stringify(rt.valid()).slice(1)) },
  { fault: 'trailing comma', kind: 'syntax', body: (rt) => JSON.stringify(rt.valid()).slice(0, -1) + ',}' },
  { fault: 'NaN', kind: 'syntax', body: (rt) => withRaw(rt, 'NaN') },
  { fault: 'Infinity', kind: 'syntax', body: (rt) => withRaw(rt, '-Infinity') },
  { fault: 'hex number', kind: 'syntax', body: (rt) => withRaw(rt, '0x10') },
  { fault: 'leading zero', kind: 'syntax', body: (rt) => withRaw(rt, '007') },
  { fault: 'leading plus', kind: 'syntax', body: (rt) => withRaw(rt, '+1') },
  { fault: 'bare word', kind: 'syntax', body: (rt) => withRaw(rt, 'undefined') },
  { fault: 'invalid escape', kind: 'syntax', body: (rt) => withRaw(rt, `"${rt.good()}\\x41"`) },
  // Valid JSON of the wrong shape.
  { fault: 'an array instead of an object', kind: 'shape', body: (rt) => JSON.stringify([rt.valid()]) },
  { fault: 'an empty array', kind: 'shape', body: () => '[]' },
  { fault: 'a string instead of an object', kind: 'shape', body: (rt) => JSON.stringify(JSON.stringify(rt.valid())) },
  { fault: 'a number instead of an object', kind: 'syntax', body: () => '42' }, // json-c gives no root for a bare scalar
  { fault: 'true instead of an object', kind: 'syntax', body: () => 'true' },
  { fault: 'the object one level down', kind: 'shape', body: (rt) => JSON.stringify({ data: rt.valid() }) },
  { fault: 'member as a number', kind: 'type', body: (rt) => withRaw(rt, '7') },
  { fault: 'member as 1e400', kind: 'type', body: (rt) => withRaw(rt, '1e400') },
  { fault: 'member as null', kind: 'type', body: (rt) => withRaw(rt, 'null'), skip: ['provision'] /* documented: null is "not given" */ },
  { fault: 'member as an object', kind: 'type', body: (rt) => withRaw(rt, JSON.stringify({ id: rt.good() })) },
  { fault: 'member as an array', kind: 'type', body: (rt) => withRaw(rt, JSON.stringify([rt.good()])) },
  { fault: 'member as true', kind: 'type', body: (rt) => withRaw(rt, 'true') },
];
section('JSON', JSON_ROUTES.flatMap((rt) => JSON_FAULTS.filter((f) => !f.skip?.includes(rt.route)).map((f) => ({
  name: `${rt.route}: ${f.fault}`, send: () => rt.send(f.body(rt)), status: 400, code: rt.codes[f.kind],
}))));
// Controls: the valid bodies themselves get the route's normal answer, so the 400s above are the faults'.
section('JSON control', [
  { name: 'webhook: the valid event is stored', send: () => hook(JSON.stringify(JSON_ROUTES[0].valid())), status: 200, writes: { stripe_events: 1 } },
  { name: 'estimate: the valid body', send: () => JSON_ROUTES[1].send(JSON.stringify(JSON_ROUTES[1].valid())), status: 200 },
  { name: 'usage: the valid body is recorded', send: () => JSON_ROUTES.at(-2).send(JSON.stringify(JSON_ROUTES.at(-2).valid())), status: 201, writes: { usage_events: 1 } },
  { name: 'provision: the valid body reaches the tier check', send: () => JSON_ROUTES.at(-1).send(JSON.stringify(JSON_ROUTES.at(-1).valid())), status: 403, code: 'tier_not_eligible' },
  { name: 'estimate: \\ud800 (lone surrogate escape) is a string, not a tier', send: () => api('POST', '/api/billing/estimate', F.buddyTok, '{"target_tier":"\\ud800"}'), status: 400, code: 'unknown_tier' },
  { name: 'estimate: unicode escapes of a valid tier are the tier', send: () => api('POST', '/api/billing/estimate', F.buddyTok, '{"target_tier":"\\u0061i_secretary"}'), status: 200 },
  { name: 'estimate: unknown members, even huge doubles, are ignored', send: () => api('POST', '/api/billing/estimate', F.buddyTok, '{"target_tier":"ai_secretary","n":1e400,"m":-0.0}'), status: 200 },
]);

// ---- 3. numbers where integers are expected ----
const usageBody = (o) => `{"user_id":"${F.buddy}","kind":"sms","idempotency_key":"abuse-${uuid()}",${o}}`;
const eventWith = (created) => JSON.stringify(S.event('customer.created', { id: S.rid('cus_'), object: 'customer' }, { created: 12345 })).replace('"created":12345', `"created":${created}`);
section('numbers', [
  ...[['1e400', 'bad_quantity'], ['18446744073709551616', 'bad_json'], ['9223372036854775807', 'bad_quantity'], ['-9223372036854775808', 'bad_quantity'],
    ['-0', 'bad_quantity'], ['1.0', 'bad_quantity'], ['1e0', 'bad_quantity'], ['0.5e1', 'bad_quantity'], ['1000001', 'bad_quantity'], ['"1"', 'bad_quantity'],
    ['-1', 'bad_quantity'], ['0', 'bad_quantity']]
    .map(([q, code]) => ({ name: `usage quantity ${q}`, send: () => api('POST', '/api/usage', F.svcTok, usageBody(`"quantity":${q}`)), status: 400, code })),
  ...[['1e400', 'bad_occurred_at'], ['18446744073709551616', 'bad_json'], ['-0', 'bad_occurred_at'], ['1.0', 'bad_occurred_at'], [`${now()}.0`, 'bad_occurred_at'],
    ['-9223372036854775808', 'bad_occurred_at'], ['9223372036854775807', 'bad_occurred_at']]
    .map(([t, code]) => ({ name: `usage occurred_at ${t}`, send: () => api('POST', '/api/usage', F.svcTok, usageBody(`"quantity":1,"occurred_at":${t}`)), status: 400, code })),
  ...['1e400', '18446744073709551616', '-9223372036854775809', '1.0', `${now()}.5`, '"1700000000"', 'null', '1e9']
    .map((c) => ({ name: `webhook created ${c}`, send: () => hook(eventWith(c)), status: 400, code: 'malformed_event' })),
  { name: 'webhook created -0 is 0 (stored as such)', send: () => { const b = eventWith('-0'); return hook(b).then((r) => ({ r, id: JSON.parse(b).id })); },
    status: 200, writes: { stripe_events: 1 }, check: async (r, x) => assert.equal(Number((await storedEvent(x.id)).created), 0) },
  { name: 'webhook: 2^64 in an amount of an invoice', send: async () => {
      const u = await newUser();
      const b = JSON.stringify(S.event('invoice.paid', S.invoice({ user_id: u, status: 'paid', amount_due: 4000 }))).replace('"amount_due":4000', '"amount_due":18446744073709551616');
      return hook(b);
    }, status: 400, code: 'malformed_event', writes: { users: 1 } },
]);

// ---- 4. SQL metacharacters in every field we read ----
const METAS = ["'", '"', '\\', "';--", "' OR '1'='1", '%', '_', '%_%', '\\0', "x'); DROP TABLE users; --", '`', '$1', '\\\'', 'ǅ', 'L'.repeat(300), 'K'.repeat(5000)];
const metaLabel = (m) => (m.length > 20 ? `${m[0]} x ${m.length}` : JSON.stringify(m));
/** What ids_ext_ok() accepts: 1..max printable ASCII, no space. */
const extOk = (s, max = 255) => s.length >= 1 && s.length <= max && /^[!-~]+$/.test(s);
/** What ids_user_ok() accepts. */
const userOk = (s) => /^[A-Za-z0-9_-]{1,64}$/.test(s);
/** What POST /api/usage accepts as an idempotency key. */
const keyOk = (s) => /^[A-Za-z0-9_\-:.]{1,200}$/.test(s);
/** A user (fresh per case) that an event can find by metadata. */
const sub = (o) => S.subscription({ price: 'price_ai_secretary', ...o });
section('SQL metacharacters: signed Stripe events', METAS.flatMap((m) => [
  // The event id is stored verbatim when it is a plausible id, refused (nothing stored) when not.
  extOk('evt_' + m)
    ? { name: `event id evt_<random>${metaLabel(m)} is stored verbatim`, send: () => { const ev = S.event('customer.created', { id: 'cus_1' }, { id: S.rid('evt_') + m }); return hookJson(ev).then((r) => ({ r, id: ev.id })); },
      status: 200, writes: { stripe_events: 1 }, check: async (r, x) => {
        assert.equal(r.json.status, 'ignored');
        const rows = await query('SELECT id FROM stripe_events WHERE id = ?', [x.id]);
        assert.deepEqual(rows.map((e) => e.id), [x.id]);
      } }
    : { name: `event id evt_<random>${metaLabel(m)} is refused`, send: () => hookJson(S.event('customer.created', { id: 'cus_1' }, { id: S.rid('evt_') + m })), status: 400, code: 'malformed_event' },
  // A customer nobody has, a user id that is not one, a client_reference_id: the event is stored unmatched, nothing else.
  { name: `customer cus_${metaLabel(m)}: unmatched, nothing linked`, send: () => hookJson(S.event('customer.subscription.created', sub({ customer: 'cus_' + m }))),
    status: 200, writes: { stripe_events: 1 }, check: (r) => assert.equal(r.json.status, 'unmatched') },
  { name: `metadata.user_id ${metaLabel(m)}: unmatched`, send: () => hookJson(S.event('customer.subscription.created', sub({ user_id: m }))),
    status: 200, writes: { stripe_events: 1 }, check: (r) => assert.equal(r.json.status, 'unmatched') },
  { name: `client_reference_id ${metaLabel(m)}: unmatched`, send: () => hookJson(S.event('checkout.session.completed', S.checkoutSession({ client_reference_id: m }))),
    status: 200, writes: { stripe_events: 1 }, check: (r) => assert.equal(r.json.status, 'unmatched') },
  // An unknown price fails the event (stored failed, 500), never a tier; the user is not linked either.
  { name: `price price_${metaLabel(m)}: failed, no tier, no link`, send: async () => {
      const u = await newUser(), ev = S.event('customer.subscription.created', sub({ user_id: u, price: 'price_' + m }));
      return { r: await hookJson(ev), u, id: ev.id };
    }, status: 500, code: 'processing_failed', writes: { users: 1, stripe_events: 1 }, check: async (r, x) => {
      const [row] = await query('SELECT tier, stripe_customer_id, subscription_id FROM users WHERE id = ?', [x.u]);
      assert.deepEqual({ ...row }, { tier: 'ai_buddy', stripe_customer_id: null, subscription_id: null });
      const e = await storedEvent(x.id);
      assert.equal(e.status, 'failed');
      assert.match(e.last_error, /^unknown price/);
    } },
  // An invoice id: stored verbatim as the invoice's key when plausible, else the event fails.
  extOk('in_' + m)
    ? { name: `invoice id in_<random>${metaLabel(m)}: history row keyed exactly`, send: async () => {
        const u = await newUser(), inv = S.invoice({ id: S.rid('in_') + m, user_id: u, status: 'paid' });
        return { r: await hookJson(S.event('invoice.paid', inv)), u, inv };
      // The invoice's customer is linked to the user: a second look at its unmatched events is queued (a job).
      }, status: 200, writes: { users: 1, stripe_events: 1, invoices: 1, billing_events: 1, jobs: 1 }, check: async (r, x) => {
        assert.equal(r.json.status, 'processed');
        assert.deepEqual((await query('SELECT id FROM invoices WHERE user_id = ?', [x.u])).map((i) => i.id), [x.inv.id]);
      } }
    : { name: `invoice id in_<random>${metaLabel(m)}: failed, nothing applied`, send: async () => hookJson(S.event('invoice.paid', S.invoice({ id: S.rid('in_') + m, user_id: await newUser(), status: 'paid' }))),
      status: 500, code: 'processing_failed', writes: { users: 1, stripe_events: 1 } },
]));
section('SQL metacharacters: API bodies', METAS.flatMap((m) => [
  ...['estimate', 'upgrade', 'downgrade'].map((op) => ({ name: `${op} target_tier ${metaLabel(m)}`, send: () => api('POST', `/api/billing/${op}`, F.buddyTok, JSON.stringify({ target_tier: m })), status: 400, code: 'unknown_tier' })),
  { name: `usage user_id ${metaLabel(m)}`, send: () => api('POST', '/api/usage', F.svcTok, JSON.stringify({ user_id: m, kind: 'sms', quantity: 1, idempotency_key: `abuse-${uuid()}` })),
    ...(userOk(m) ? { status: 404, code: 'unknown_user' } : { status: 400, code: 'bad_user_id' }) },
  { name: `usage kind ${metaLabel(m)}`, send: () => api('POST', '/api/usage', F.svcTok, JSON.stringify({ user_id: F.buddy, kind: m, quantity: 1, idempotency_key: `abuse-${uuid()}` })), status: 400, code: 'bad_kind' },
  // A key is refused unless every character is one of ours; one that is (a "_") is just a key.
  ...[['body', (k) => api('POST', '/api/usage', F.svcTok, JSON.stringify({ user_id: F.buddy, kind: 'sms', quantity: 1, idempotency_key: k }))],
    // A header value cannot hold every byte; the printable ones go as Idempotency-Key.
    ...(/^[ -~]+$/.test(m) && m.length < 4000 ? [['header', (k) => send('POST', '/api/usage', { headers: { ...bearer(F.svcTok), 'Content-Type': 'application/json', 'Idempotency-Key': k }, body: JSON.stringify({ user_id: F.buddy, kind: 'sms', quantity: 1 }) })]] : [])]
    .map(([where, post]) => ({ name: `usage idempotency key (${where}) abuse-<uuid>${metaLabel(m)}`, send: () => post(`abuse-${uuid()}${m}`),
      ...(keyOk(`abuse-${uuid()}${m}`) ? { status: 201, writes: { usage_events: 1 } } : { status: 400, code: 'bad_idempotency_key' }) })),
  { name: `provision area_code ${metaLabel(m)}`, send: () => api('POST', '/api/phone/provision', F.buddyTok, JSON.stringify({ area_code: m })), status: 400, code: 'bad_request' },
  { name: `provision phone_number ${metaLabel(m)}`, send: () => api('POST', '/api/phone/provision', F.buddyTok, JSON.stringify({ phone_number: m })), status: 400, code: 'bad_request' },
  { name: `provision member named ${metaLabel(m)}`, send: () => api('POST', '/api/phone/provision', F.buddyTok, JSON.stringify({ [m]: '415' })), status: 400, code: 'bad_request' },
]));
const q = (o) => '?' + Object.entries(o).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
section('SQL metacharacters: query strings', [...METAS, '\u00e9', '1 OR 1=1', '4 5'].flatMap((m) => [
  { name: `search area_code ${metaLabel(m)}`, send: () => api('GET', '/api/phone/search' + q({ area_code: m }), F.buddyTok), status: 400, code: 'bad_request' },
  { name: `search contains ${metaLabel(m)}`, send: () => api('GET', '/api/phone/search' + q({ contains: m }), F.buddyTok), status: 400, code: 'bad_request' },
  { name: `search limit ${metaLabel(m)}`, send: () => api('GET', '/api/phone/search' + q({ limit: m }), F.buddyTok), status: 400, code: 'bad_request' },
  { name: `search country ${metaLabel(m)}`, send: () => api('GET', '/api/phone/search' + q({ country: m }), F.buddyTok), status: 400, code: 'bad_request' },
  { name: `history cursor ${metaLabel(m)}`, send: () => api('GET', '/api/billing/history' + q({ cursor: m }), F.buddyTok), status: 400, code: 'bad_cursor' },
  { name: `history cursor base64url("1.5.1700000000." + ${metaLabel(m)})`, send: () => api('GET', '/api/billing/history' + q({ cursor: Buffer.from('1.5.1700000000.' + m).toString('base64url') }), F.buddyTok),
    // A well-formed cursor is only a position: the caller's (empty) lists, never another's.
    ...(extOk(m, 255) ? { status: 200, check: (r) => assert.deepEqual(r.json, { invoices: [], events: [], next_cursor: null }) } : { status: 400, code: 'bad_cursor' }) },
  { name: `history limit ${metaLabel(m)}`, send: () => api('GET', '/api/billing/history' + q({ limit: m }), F.buddyTok), status: 400, code: 'bad_limit' },
]).concat([
  ...['-0', '1.0', '1e1', '0x10', ' 1', '+1', '-1', '18446744073709551616', '101', '0', ''].map((l) => ({ name: `history limit "${l}"`, send: () => api('GET', '/api/billing/history' + q({ limit: l }), F.buddyTok), status: 400, code: 'bad_limit' })),
  { name: 'history limit "01" is 1 (digits are digits)', send: () => api('GET', '/api/billing/history?limit=01', F.buddyTok), status: 200 },
  ...['%00', '1%00', '%zz', '%', '%4'].map((raw) => ({ name: `history limit=${raw} (bad escape)`, send: () => api('GET', `/api/billing/history?limit=${raw}`, F.buddyTok), status: 400, code: 'bad_request' })),
  { name: 'search with a NUL escape in a name', send: () => api('GET', '/api/phone/search?area%00code=415', F.buddyTok), status: 400, code: 'bad_request' },
]));
section('SQL metacharacters: Twilio callbacks', [...METAS, '\u00e9', 'completed ', 'COMPLETED'].flatMap((m) => [
  { name: `CallSid ${metaLabel(m)}`, send: () => twilio(`/phone/status/${F.sec}`, call({ CallSid: m })), status: 400, code: 'bad_request' },
  { name: `CallSid CA+32 hex+${metaLabel(m)}`, send: () => twilio(`/phone/status/${F.sec}`, call({ CallSid: callSid() + m })), status: 400, code: 'bad_request' },
  { name: `CallStatus ${metaLabel(m)}`, send: () => twilio(`/phone/status/${F.sec}`, call({ CallStatus: m })), status: 400, code: 'bad_request' },
  { name: `CallDuration ${metaLabel(m)}`, send: () => twilio(`/phone/status/${F.sec}`, call({ CallDuration: m })), status: 400, code: 'bad_request' },
]).concat([
  ...['-1', '1.5', '1e3', '604801', '18446744073709551616', ' 61', '0x3d', '061'].map((d) => ({ name: `CallDuration "${d}"`, send: () => twilio(`/phone/status/${F.sec}`, call({ CallDuration: d })), status: 400, code: 'bad_request' })),
  { name: 'CallSid with a NUL escape', send: () => send('POST', `/phone/status/${F.sec}`, { headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'x' }, body: `CallSid=${callSid()}%00&CallStatus=completed` }), status: 400, code: 'bad_request' },
  { name: 'a bad escape in the form', send: () => send('POST', `/phone/status/${F.sec}`, { headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'x' }, body: 'CallSid=%zz' }), status: 400, code: 'bad_request' },
  { name: 'a forged signature carrying metacharacters', send: () => twilio(`/phone/status/${F.sec}`, call(), { signature: "' OR 1=1 --" }), status: 403, code: 'invalid_signature' },
  // Metacharacters in a member we do not read change nothing: the call is recorded once, as it should be.
  { name: 'an extra parameter full of metacharacters: the call is recorded once', send: () => twilio(`/phone/status/${F.sec}`, call({ Caller: "'; DROP TABLE call_events; --", Note: '%_\\' })),
    status: 204, writes: { call_events: 1, usage_events: 1 } },
]));

// ---- 5. ids that differ only by case stay distinct (binary collation end to end) ----
section('case-distinct ids', [
  { name: 'two events evt_xAb / evt_XaB are two rows', send: async () => {
      const base = S.rid('evt_', 20);
      const ids = [base + 'xAb', base + 'XaB'];
      const rs = [];
      for (const id of ids) rs.push(await hookJson(S.event('customer.created', { id: 'cus_1' }, { id })));
      for (const r of rs) assert.equal(r.json.status, 'ignored');
      return { r: rs[1], ids };
    }, status: 200, writes: { stripe_events: 2 }, check: async (r, x) => {
      assert.deepEqual((await query('SELECT id FROM stripe_events WHERE id IN (?, ?) ORDER BY id', x.ids)).map((e) => e.id), [...x.ids].sort());
    } },
  { name: 'usage keys k-abc / k-ABC are two entries', send: async () => {
      const k = `abuse-${uuid()}`;
      const a = await api('POST', '/api/usage', F.svcTok, JSON.stringify({ user_id: F.buddy, kind: 'sms', quantity: 1, idempotency_key: k + '-abc' }));
      assert.equal(a.status, 201, a.text);
      return api('POST', '/api/usage', F.svcTok, JSON.stringify({ user_id: F.buddy, kind: 'sms', quantity: 2, idempotency_key: k + '-ABC' }));
    }, status: 201, writes: { usage_events: 2 }, check: (r) => assert.equal(r.json.replayed, false) },
  { name: 'call sids differing by case are two calls', send: async () => {
      const sid = 'CA' + crypto.randomBytes(16).toString('hex').replace(/[0-9]/g, 'a');
      const a = await twilio(`/phone/status/${F.sec}`, call({ CallSid: sid }));
      assert.equal(a.status, 204);
      return twilio(`/phone/status/${F.sec}`, call({ CallSid: 'CA' + sid.slice(2).toUpperCase() }));
    }, status: 204, writes: { call_events: 2, usage_events: 2 } },
  { name: 'usage for the upper-cased id of a user is an unknown user', send: async () => {
      const id = 'abuse-' + crypto.randomBytes(6).toString('hex');
      await query("INSERT INTO users (id, email) VALUES (?, 'case@example.test')", [id]);
      return api('POST', '/api/usage', F.svcTok, JSON.stringify({ user_id: id.toUpperCase(), kind: 'sms', quantity: 1, idempotency_key: `abuse-${uuid()}` }));
    }, status: 404, code: 'unknown_user', writes: { users: 1 } },
  { name: 'a callback for the upper-cased id of a user is for nobody (204, nothing recorded)', send: async () => {
      const id = 'abuse-' + crypto.randomBytes(6).toString('hex');
      await query("INSERT INTO users (id, email, tier) VALUES (?, 'case@example.test', 'ai_secretary')", [id]);
      return twilio(`/phone/status/${id.toUpperCase()}`, call());
    }, status: 204, writes: { users: 1 } },
  { name: 'a customer differing by case is another customer (unmatched)', send: async () => {
      const cus = S.rid('cus_');
      await newUser('ai_buddy', { customer: cus });
      return hookJson(S.event('customer.subscription.created', sub({ customer: cus.toUpperCase() === cus ? cus.toLowerCase() : cus.toUpperCase() })));
    }, status: 200, writes: { users: 1, stripe_events: 1 }, check: (r) => assert.equal(r.json.status, 'unmatched') },
]);

// ---- 6. /phone/status/:userId paths ----
const P = (p) => () => twilio(p, call(), { raw: true });
section('paths', [
  { name: '/phone/status/<id>/.. (nginx resolves it to /phone/status/)', send: () => P(`/phone/status/${F.sec}/..`)(), status: 404, code: 'not_found' },
  { name: '/phone/status/.. (resolves to /phone/)', send: P('/phone/status/..'), status: 404, code: 'not_found' },
  { name: '/phone/status/%2e%2e', send: P('/phone/status/%2e%2e'), status: 404, code: 'not_found' },
  { name: '/phone/status/%2e%2e%2f%2e%2e%2fhealthz (POST /healthz)', send: P('/phone/status/%2e%2e%2f%2e%2e%2fhealthz'), status: 405, code: 'method_not_allowed' },
  { name: '/phone/status/..%2f..%2fapi%2fusage (POST /api/usage without a token)', send: P('/phone/status/..%2f..%2fapi%2fusage'), status: 401, code: 'missing_token' },
  { name: '/phone/status/../../../../etc/passwd (above the root)', send: P('/phone/status/../../../../etc/passwd'), status: 400, code: 'bad_request' },
  { name: '/phone/status/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd', send: P('/phone/status/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd'), status: 400, code: 'bad_request' },
  { name: '/phone/status/<id>%00', send: () => P(`/phone/status/${F.sec}%00`)(), status: 400, code: 'bad_request' },
  { name: '/phone/status/<id>%00x', send: () => P(`/phone/status/${F.sec}%00.json`)(), status: 400, code: 'bad_request' },
  { name: '/phone/status/a%2 (cut escape)', send: P('/phone/status/a%2'), status: 400, code: 'bad_request' },
  { name: '/phone/status/%zz', send: P('/phone/status/%zz'), status: 400, code: 'bad_request' },
  { name: '/phone/status/<65 chars>', send: P('/phone/status/' + 'a'.repeat(65)), status: 404, code: 'not_found' },
  { name: '/phone/status/<2000 chars>', send: P('/phone/status/' + 'a'.repeat(2000)), status: 404, code: 'not_found' },
  { name: '/phone/status/<10000 chars> (over nginx\'s line buffer)', send: P('/phone/status/' + 'a'.repeat(10000)), status: 414, code: 'uri_too_long' },
  { name: '/phone/status/<byte e9> (raw, not UTF-8)', send: P('/phone/status/\u00e9'), status: 404, code: 'not_found' },
  { name: '/phone/status/%C3%A9', send: P('/phone/status/%C3%A9'), status: 404, code: 'not_found' },
  { name: '/phone/status/%F0%9F%92%A5 (emoji)', send: P('/phone/status/%F0%9F%92%A5'), status: 404, code: 'not_found' },
  { name: '/phone/status/%FF (not UTF-8)', send: P('/phone/status/%FF'), status: 404, code: 'not_found' },
  { name: '/phone/status/<id>/extra', send: () => P(`/phone/status/${F.sec}/extra`)(), status: 404, code: 'not_found' },
  { name: '/phone/status/<id>%2fextra', send: () => P(`/phone/status/${F.sec}%2fextra`)(), status: 404, code: 'not_found' },
  { name: '/phone/status/<id>/', send: () => P(`/phone/status/${F.sec}/`)(), status: 404, code: 'not_found' },
  { name: '/phone/status/<id>;jsessionid=1', send: () => P(`/phone/status/${F.sec};x=1`)(), status: 404, code: 'not_found' },
  { name: '/phone/status/<id>.json', send: () => P(`/phone/status/${F.sec}.json`)(), status: 404, code: 'not_found' },
  { name: '/phone/status/%27%20OR%201%3D1', send: P('/phone/status/%27%20OR%201%3D1'), status: 404, code: 'not_found' },
  { name: '/phone/status/ (no id)', send: P('/phone/status/'), status: 404, code: 'not_found' },
  // Twilio signs the URL it called; a path nginx rewrites is not that URL.
  { name: '/phone/status//<id> (merged slashes, signed as sent)', send: () => P(`/phone/status//${F.sec}`)(), status: 403, code: 'invalid_signature' },
  { name: '/phone/status/<id>?x=1 signed without the query', send: () => { const c = call(); return twilio(`/phone/status/${F.sec}?x=1`, c, { signature: signTwilio(publicUrl(`/phone/status/${F.sec}`), c) }); }, status: 403, code: 'invalid_signature' },
  { name: 'a valid id with a signature for another id', send: async () => { const c = call(); return twilio(`/phone/status/${F.sec}`, c, { signature: signTwilio(publicUrl(`/phone/status/${F.buddy}`), c) }); }, status: 403, code: 'invalid_signature' },
  { name: 'a valid id, correctly signed (control)', send: () => P(`/phone/status/${F.sec}`)(), status: 204, writes: { call_events: 1, usage_events: 1 } },
  { name: 'extra segments under the API', send: () => api('GET', '/api/billing/usage/extra', F.buddyTok), status: 404, code: 'not_found' },
  { name: 'the API path with a trailing slash', send: () => api('GET', '/api/billing/usage/', F.buddyTok), status: 404, code: 'not_found' },
  { name: '/stripe/webhook/extra', send: () => { const b = ev0(); return send('POST', '/stripe/webhook/extra', { headers: { 'Content-Type': 'application/json', 'Stripe-Signature': stripeSig(b) }, body: b }); }, status: 404, code: 'not_found' },
  { name: '/api/usage/extra', send: () => api('POST', '/api/usage/extra', F.svcTok, '{}'), status: 404, code: 'not_found' },
  { name: '/API/billing/usage (paths are case-sensitive)', send: () => api('GET', '/API/billing/usage', F.buddyTok), status: 404, code: 'not_found' },
  { name: '/api/billing/%75sage (escaped letter is the same path)', send: () => api('GET', '/api/billing/%75sage', F.buddyTok), status: 200 },
  { name: '/.xsb-error/400 (nginx\'s internal error page is not a route)', send: () => send('GET', '/.xsb-error/400'), status: 404, code: 'not_found' },
]);

// ---- 7. missing headers, wrong content types ----
const ROUTES = [
  ['POST', '/stripe/webhook'], ['GET', '/api/billing/usage'], ['GET', '/api/billing/history'], ['POST', '/api/billing/estimate'],
  ['GET', '/api/billing/upcoming'], ['POST', '/api/billing/upgrade'], ['POST', '/api/billing/downgrade'], ['POST', '/api/billing/cancel'],
  ['POST', '/api/billing/resume'], ['POST', '/api/usage'], ['GET', '/api/phone/search'], ['POST', '/api/phone/provision'],
  ['DELETE', '/api/phone/release'], ['GET', '/api/phone/details'], ['POST', '/phone/status/:id'], ['GET', '/healthz'],
];
const JWT_ROUTES = ROUTES.filter(([, p]) => p.startsWith('/api/'));
const ev0 = () => JSON.stringify(S.event('customer.created', { id: S.rid('cus_'), object: 'customer' }));
section('headers', [
  // Stripe-Signature
  { name: 'webhook without Stripe-Signature', send: () => send('POST', '/stripe/webhook', { headers: { 'Content-Type': 'application/json' }, body: ev0() }), status: 400, code: 'signature_invalid' },
  { name: 'webhook with an empty Stripe-Signature', send: () => hook(ev0(), { headers: { 'Stripe-Signature': '' } }), status: 400, code: 'signature_invalid' },
  { name: 'webhook signed for another body', send: () => hook(ev0(), { headers: { 'Stripe-Signature': stripeSig(ev0()) } }), status: 400, code: 'signature_invalid' },
  { name: 'webhook signed with metacharacters', send: () => hook(ev0(), { headers: { 'Stripe-Signature': "t=1',v1=';--" } }), status: 400, code: 'signature_invalid' },
  { name: 'webhook with 500 v1 entries', send: () => hook(ev0(), { headers: { 'Stripe-Signature': `t=${now()},` + Array.from({ length: 500 }, () => 'v1=' + '0'.repeat(64)).join(',').slice(0, 7000) } }), status: 400, code: 'signature_invalid' },
  { name: 'webhook with t=2^64', send: () => { const b = ev0(); return hook(b, { headers: { 'Stripe-Signature': stripeSig(b, { t: '18446744073709551616' }) } }); }, status: 400, code: 'signature_invalid' },
  { name: 'webhook with t=-1', send: () => { const b = ev0(); return hook(b, { headers: { 'Stripe-Signature': stripeSig(b, { t: '-1' }) } }); }, status: 400, code: 'signature_invalid' },
  // Authorization
  ...JWT_ROUTES.map(([m, p]) => ({ name: `${m} ${p} without Authorization`, send: () => send(m, p, { headers: { 'Content-Type': 'application/json' }, body: m === 'POST' ? '{}' : undefined }), status: 401, code: 'missing_token' })),
  ...[['Basic eDp5', 'missing_token'], ['Bearer', 'missing_token'], ['Bearer ', 'missing_token'], ['Token abc', 'missing_token'],
    ["Bearer ' OR 1=1 --", 'invalid_token'], ['Bearer a.b.c', 'invalid_token'], ['Bearer ' + 'a'.repeat(4000), 'invalid_token'], ['Bearer \u00e9.\u00e9.\u00e9', 'invalid_token']]
    .map(([h, code]) => ({ name: `usage with Authorization: ${h.slice(0, 30)}`, send: () => send('GET', '/api/billing/usage', { headers: { Authorization: h } }), status: 401, code })),
  { name: 'two Authorization headers', send: () => send('GET', '/api/billing/usage', { headers: { Authorization: ['Bearer x', `Bearer ${F.buddyTok}`] } }), status: 400, code: 'bad_request' },
  { name: 'a genuine token of a user that does not exist', send: () => send('GET', '/api/billing/usage', { headers: bearer(mint(uuid(), ['-v', '1'])) }), status: 401, code: 'invalid_token' },
  // X-Twilio-Signature
  { name: 'callback without X-Twilio-Signature', send: () => twilio(`/phone/status/${F.sec}`, call(), { signature: false }), status: 403, code: 'invalid_signature' },
  { name: 'callback with an empty X-Twilio-Signature', send: () => twilio(`/phone/status/${F.sec}`, call(), { signature: '' }), status: 403, code: 'invalid_signature' },
  { name: 'callback signed with another auth token', send: () => { const c = call(); return twilio(`/phone/status/${F.sec}`, c, { signature: signTwilio(publicUrl(`/phone/status/${F.sec}`), c, { authToken: 'not-the-token' }) }); }, status: 403, code: 'invalid_signature' },
  { name: 'callback signed, then a parameter changed', send: () => { const c = call(); return twilio(`/phone/status/${F.sec}`, { ...c, CallDuration: '6100' }, { signature: signTwilio(publicUrl(`/phone/status/${F.sec}`), c) }); }, status: 403, code: 'invalid_signature' },
  // Content types
  ...['/api/billing/estimate', '/api/billing/upgrade', '/api/billing/downgrade', '/api/usage', '/api/phone/provision'].flatMap((p) => {
    const tok = () => (p === '/api/usage' ? F.svcTok : F.buddyTok);
    const body = p === '/api/usage' ? () => JSON.stringify({ user_id: F.buddy, kind: 'sms', quantity: 1, idempotency_key: `abuse-${uuid()}` })
      : p.includes('provision') ? () => '{"area_code":"415"}' : () => '{"target_tier":"ai_secretary"}';
    return [
      { name: `${p} without Content-Type`, send: () => api('POST', p, tok, body(), null), status: 415, code: 'unsupported_media_type' },
      { name: `${p} as text/plain`, send: () => api('POST', p, tok, body(), 'text/plain'), status: 415, code: 'unsupported_media_type' },
      { name: `${p} as a form`, send: () => api('POST', p, tok, 'target_tier=ai_secretary&user_id=x&area_code=415', 'application/x-www-form-urlencoded'), status: 415, code: 'unsupported_media_type' },
      { name: `${p} as multipart`, send: () => api('POST', p, tok, '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n', 'multipart/form-data; boundary=b'), status: 415, code: 'unsupported_media_type' },
      { name: `${p} as application/jsonx`, send: () => api('POST', p, tok, body(), 'application/jsonx'), status: 415, code: 'unsupported_media_type' },
      { name: `${p} as application/json-seq`, send: () => api('POST', p, tok, body(), 'application/json-seq'), status: 415, code: 'unsupported_media_type' },
      { name: `${p} as text/json`, send: () => api('POST', p, tok, body(), 'text/json'), status: 415, code: 'unsupported_media_type' },
    ];
  }),
  { name: 'estimate as APPLICATION/JSON; charset=UTF-8 (media types are case-insensitive)', send: () => api('POST', '/api/billing/estimate', F.buddyTok, '{"target_tier":"ai_secretary"}', 'APPLICATION/JSON; charset=UTF-8'), status: 200 },
  { name: 'callback as JSON', send: () => { const c = call(); return send('POST', `/phone/status/${F.sec}`, { headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': signTwilio(publicUrl(`/phone/status/${F.sec}`), c) }, body: JSON.stringify(c) }); }, status: 415, code: 'unsupported_media_type' },
  { name: 'callback without Content-Type', send: () => twilio(`/phone/status/${F.sec}`, call(), { ct: null }), status: 415, code: 'unsupported_media_type' },
  { name: 'callback as text/plain', send: () => twilio(`/phone/status/${F.sec}`, call(), { ct: 'text/plain' }), status: 415, code: 'unsupported_media_type' },
  { name: 'callback as multipart', send: () => twilio(`/phone/status/${F.sec}`, call(), { ct: 'multipart/form-data; boundary=b' }), status: 415, code: 'unsupported_media_type' },
  // Stripe authenticates the bytes, not the headers: the webhook reads the signed body whatever its label.
  ...[null, 'text/plain', 'application/x-www-form-urlencoded'].map((ct) => ({ name: `webhook with Content-Type ${ct ?? '(none)'}: the signed body counts`, send: () => {
      const b = ev0();
      return send('POST', '/stripe/webhook', { headers: { 'Stripe-Signature': stripeSig(b), ...(ct ? { 'Content-Type': ct } : {}) }, body: b });
    }, status: 200, writes: { stripe_events: 1 } })),
  { name: 'webhook as a form of a signed event: not JSON', send: () => { const b = 'id=evt_1&type=customer.created'; return send('POST', '/stripe/webhook', { headers: { 'Stripe-Signature': stripeSig(b), 'Content-Type': 'application/x-www-form-urlencoded' }, body: b }); }, status: 400, code: 'malformed_event' },
]);

// ---- 8. methods ----
const WRONG = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'FOO'];
section('methods', [
  ...ROUTES.flatMap(([right, p]) => WRONG.filter((m) => m !== right && !(right === 'GET' && m === 'HEAD')).map((m) => ({
    name: `${m} ${p}`, send: () => send(m, p.replace(':id', F.sec), { headers: { ...bearer(F.buddyTok), 'Content-Type': 'application/json' }, body: ['POST', 'PUT', 'PATCH'].includes(m) ? '{}' : undefined }),
    status: 405, code: 'method_not_allowed' }))),
  ...ROUTES.map(([right, p]) => ({ name: `TRACE ${p} (refused by nginx)`, send: () => send('TRACE', p.replace(':id', F.sec)), status: 405, code: 'method_not_allowed' })),
  ...ROUTES.filter(([right]) => right !== 'GET').map(([, p]) => ({ name: `HEAD ${p}`, send: () => send('HEAD', p.replace(':id', F.sec), { headers: bearer(F.buddyTok) }), status: 405 })),
  { name: 'HEAD /healthz', send: () => send('HEAD', '/healthz'), status: 200 },
]);

// ---- 9. oversized query strings and headers ----
const many = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join('&');
section('limits', [
  ...['/api/billing/usage', '/api/billing/history', '/api/phone/search', '/api/phone/details'].flatMap((p) => [
    { name: `${p} with 1000 short parameters (over our 256)`, send: () => api('GET', `${p}?${many(1000, () => 'a')}`, F.buddyTok), status: 400, code: 'bad_request' },
    { name: `${p} with 1000 parameters over 8 KB (nginx)`, send: () => api('GET', `${p}?${many(1000, (i) => `p${i}=${i}`)}`, F.buddyTok), status: 414, code: 'uri_too_long' },
  ]),
  { name: 'history with 257 parameters', send: () => api('GET', `/api/billing/history?${many(257, (i) => `x${i}=1`)}`, F.buddyTok), status: 400, code: 'bad_request' },
  { name: 'history with 256 parameters (the limit: read)', send: () => api('GET', `/api/billing/history?${many(255, (i) => `x${i}=1`)}&limit=5`, F.buddyTok), status: 200 },
  { name: 'history with limit given 1000 times', send: () => api('GET', `/api/billing/history?${many(1000, () => 'limit=5').slice(0, 7000)}`, F.buddyTok), status: 400, code: 'bad_request' },
  { name: 'webhook with 1000 query parameters', send: () => { const b = ev0(); return send('POST', `/stripe/webhook?${many(1000, () => 'a')}`, { headers: { 'Content-Type': 'application/json', 'Stripe-Signature': stripeSig(b) }, body: b }); }, status: 400, code: 'bad_request' },
  { name: 'callback with 1000 form parameters', send: () => twilio(`/phone/status/${F.sec}`, { ...call(), ...Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`p${i}`, '1'])) }), status: 400, code: 'bad_request' },
  { name: 'a header of 8 KB + 1', send: () => send('GET', '/api/billing/usage', { headers: { ...bearer(F.buddyTok), 'X-Big': 'b'.repeat(8 * KiB + 1) } }), status: 400, code: 'bad_request' },
  { name: 'a header of 64 KB', send: () => send('GET', '/api/billing/usage', { headers: { ...bearer(F.buddyTok), 'X-Big': 'b'.repeat(64 * KiB) } }), status: 400, code: 'bad_request' },
  { name: 'Authorization of 9 KB', send: () => send('GET', '/api/billing/usage', { headers: bearer('a'.repeat(9 * KiB)) }), status: 400, code: 'bad_request' },
  { name: 'Stripe-Signature of 9 KB', send: () => hook(ev0(), { headers: { 'Stripe-Signature': 't=1,v1=' + 'a'.repeat(9 * KiB) } }), status: 400, code: 'bad_request' },
  { name: 'headers of 40 KB in all (5 x 8000)', send: () => send('GET', '/api/billing/usage', { headers: { ...bearer(F.buddyTok), ...Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`X-H${i}`, 'h'.repeat(8000)])) } }), status: 400, code: 'bad_request' },
  { name: '500 headers of 1 KB', send: () => send('GET', '/api/billing/usage', { headers: { ...bearer(F.buddyTok), ...Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`X-H${i}`, 'h'.repeat(1024)])) } }), status: 400, code: 'bad_request' },
  { name: 'a request URI of 9 KB', send: () => api('GET', '/api/billing/usage?x=' + 'a'.repeat(9 * KiB), F.buddyTok), status: 414, code: 'uri_too_long' },
]);

// ---------- the runner ----------
const PROGRAM_LOGS = ['webhook', 'billing', 'phone', 'worker'].map((p) => path.join(VAR_DIR, 'log', `${p}.log`));
const logStart = Object.fromEntries(PROGRAM_LOGS.map((f) => [f, fs.existsSync(f) ? fs.statSync(f).size : 0]));
const since = (f) => {
  if (!fs.existsSync(f)) return '';
  const fd = fs.openSync(f, 'r'), size = fs.fstatSync(fd).size, from = Math.min(logStart[f], size), buf = Buffer.alloc(size - from);
  fs.readSync(fd, buf, 0, buf.length, from);
  fs.closeSync(fd);
  return buf.toString('utf8');
};

function assertJsonError(r, c) {
  assert.match(String(r.headers['content-type']), /^application\/json/, `content-type of a ${r.status}: ${r.text.slice(0, 200)}`);
  if (r.status === 405 && !r.json) return; // HEAD: no body to read
  assert.ok(r.json && typeof r.json.error === 'object', `a JSON error body: ${r.text.slice(0, 200)}`);
  assert.deepEqual(Object.keys(r.json).sort(), ['error']);
  assert.equal(typeof r.json.error.code, 'string');
  assert.equal(typeof r.json.error.message, 'string');
  if (c.code) assert.equal(r.json.error.code, c.code, r.text.slice(0, 300));
}

for (const c of CATALOGUE) {
  test(`${c.section}: ${c.name}`, async () => {
    const before = await counts();
    const calls = await stripeCalls();
    const out = await c.send();
    const r = out && out.r ? out.r : out;
    const expect = [].concat(c.status);
    assert.ok(expect.includes(r.status), `status ${r.status}, expected ${expect.join(' or ')}: ${String(r.text).slice(0, 300)}`);
    if (r.status >= 400) assertJsonError(r, c);
    if (c.check) await c.check(r, out);
    const after = await counts();
    const want = Object.fromEntries(Object.entries(before).map(([k, n]) => [k, n + (c.writes?.[k] ?? 0)]));
    assert.deepEqual(after, want, 'rows written');
    assert.equal(await stripeCalls(), calls + (c.stripe ?? 0), 'calls made to Stripe');
    const h = await send('GET', '/healthz');
    assert.equal(h.status, 200, `the stack is still healthy: ${String(h.text).slice(0, 300)}`);
  });
}

test('no program died and no sanitizer spoke while the catalogue ran', () => {
  for (const f of PROGRAM_LOGS) {
    const text = since(f);
    assert.doesNotMatch(text, /exited \(status/, `${path.basename(f)}: a process died:\n${text.split('\n').filter((l) => /exited \(status/.test(l)).join('\n')}`);
    assert.doesNotMatch(text, /ERROR: (Address|Leak)Sanitizer|runtime error:/, `${path.basename(f)}: sanitizer report`);
  }
});
