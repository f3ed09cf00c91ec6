// Foundation: the stack answers through nginx over TLS, errors are JSON,
// the body cap holds, and the programs stop and start cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, rawRequest, closeHttp } from './lib/http.mjs';
import { query, close, asAdmin } from './lib/db.mjs';
import { VAR_DIR } from './lib/env.mjs';
import { waitFor } from './lib/wait.mjs';
import fs from 'node:fs';
import path from 'node:path';

test.after(async () => { closeHttp(); await close(); });

test('F1 /healthz answers 200 through nginx when MariaDB answers', async () => {
  const r = await request('GET', '/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
  assert.match(r.headers['x-request-id'], /^[0-9a-f]{32}$/);
});

test('F2 unknown paths get a JSON 404 from nginx and from our programs', async () => {
  const outside = await request('GET', '/nothing-here');
  assert.equal(outside.status, 404);
  assert.equal(outside.json.error.code, 'not_found');
  const inside = await request('GET', '/api/billing/no-such-endpoint');
  assert.equal(inside.status, 404);
  assert.equal(typeof inside.json.error.message, 'string');
});

test('F3 a wrong method gets 405 with a JSON error', async () => {
  const r = await request('GET', '/stripe/webhook');
  assert.equal(r.status, 405);
  assert.equal(r.json.error.code, 'method_not_allowed');
});

test('F4 a body over the cap gets 413 JSON and reaches nothing', async () => {
  const before = await query('SELECT COUNT(*) AS n FROM stripe_events');
  const big = 'x'.repeat(1024 * 1024 + 10);
  const r = await rawRequest('POST', '/stripe/webhook', { body: big, headers: { 'Content-Type': 'application/json', 'Stripe-Signature': 't=1,v1=00' } });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'payload_too_large');
  const after = await query('SELECT COUNT(*) AS n FROM stripe_events');
  assert.equal(after[0].n, before[0].n);
});

test('F5 migrations are recorded once each, in order', async () => {
  const rows = await query('SELECT version FROM schema_migrations ORDER BY version');
  const versions = rows.map((r) => r.version);
  assert.ok(versions.length >= 3);
  assert.deepEqual(versions, [...new Set(versions)].sort((a, b) => a - b));
  assert.equal(versions[0], 1);
});

test('F6 tiers are seeded with integer money and -1 for unlimited', async () => {
  const rows = await query('SELECT name, monthly_price_cents AS p, voice_minutes_included AS v, sms_included AS s, phone_eligible AS ph FROM tiers ORDER BY rank');
  assert.deepEqual(rows.map((r) => [r.name, Number(r.p), Number(r.v), Number(r.s), r.ph]), [
    ['ai_buddy', 0, 0, 0, 0],
    ['ai_secretary', 4000, 100, 100, 1],
    ['ai_project_manager', 28000, 500, 500, 1],
    ['ai_cto', -1, -1, -1, 1],
  ]);
});

test('F7 the request id of nginx is on our log line for that request', async () => {
  const r = await request('GET', '/stripe/webhook');
  assert.equal(r.status, 405);
  const id = r.headers['x-request-id'];
  const log = path.join(VAR_DIR, 'log', 'webhook.log');
  await waitFor(() => fs.readFileSync(log, 'utf8').includes(`rid=${id} `), { what: 'log line with the request id' });
});

test('F8 /healthz is 503 with a reason while MariaDB is read-only, 200 again after', async () => {
  assert.equal(asAdmin('SELECT @@GLOBAL.read_only'), '0');
  try {
    asAdmin('SET GLOBAL read_only = 1');
    const r = await request('GET', '/healthz');
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, 'database_cannot_commit');
    assert.match(r.json.error.message, /read-only \(read_only\)/);
    assert.equal(r.headers['retry-after'], '5');
    // What healthz says holds: the application's user cannot write.
    await assert.rejects(query("UPDATE tiers SET display_name = display_name WHERE 1 = 0"), /read-only|ER_OPTION_PREVENTS_STATEMENT/);
  } finally {
    asAdmin('SET GLOBAL read_only = 0');
  }
  assert.equal(asAdmin('SELECT @@GLOBAL.read_only'), '0');
  const r = await request('GET', '/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
});
