// Restarts: MariaDB going away and coming back, and a FastCGI program
// stopped with SIGTERM in the middle of a stream of deliveries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request, closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { VAR_DIR, REPO_ROOT } from './lib/env.mjs';
import { waitFor } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';
import { mint } from './lib/token.mjs';

test.after(async () => { closeHttp(); await close(); });

const stack = (...args) => execFileSync(path.join(REPO_ROOT, 'scripts', 'stack'), args, { env: process.env, encoding: 'utf8' });
const pidOf = (comp) => Number(fs.readFileSync(path.join(VAR_DIR, 'run', `${comp}.pid`), 'utf8'));
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('R1 /healthz is 503 while MariaDB is down and 200 again once it is back (reconnect)', async () => {
  // The usage API's reader holds a connection of its own: it answers 503
  // while the database is away and reads again once it is back.
  const user = `r1-${Date.now()}`;
  await query('INSERT INTO users (id, email, tier) VALUES (?, ?, ?)', [user, `${user}@example.test`, 'ai_secretary']);
  await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)',
    [user, 'sms', 7, Math.floor(Date.now() / 1000) - 5, 'test', `app:${user}`]);
  const tok = mint(['-u', user]);
  const usage = () => Promise.all([0, 1, 2].map(() => request('GET', '/api/billing/usage', { token: tok })));
  for (const r of await usage()) assert.equal(r.status, 200, r.text);
  await close();
  const pid = pidOf('mariadb');
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !alive(pid), { timeoutMs: 60000, what: 'mariadbd to stop' });
  const down = await request('GET', '/healthz');
  assert.equal(down.status, 503);
  assert.equal(down.json.error.code, 'database_unavailable');
  const ev = S.event('customer.created', { id: S.rid('cus_'), object: 'customer' });
  const lost = await S.signedWebhook(ev);
  assert.equal(lost.status, 503, 'no 2xx while nothing can be stored');
  for (const r of await usage()) {
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'database_unavailable', r.text);
    assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After');
  }
  stack('up');
  await waitFor(async () => (await request('GET', '/healthz')).status === 200, { timeoutMs: 30000, what: 'healthz 200 after restart' });
  for (const r of await usage()) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.sms, 7);
  }
  const again = await S.signedWebhook(ev);
  assert.equal(again.status, 200, 'the redelivery succeeds');
  assert.equal((await query('SELECT status FROM stripe_events WHERE id = ?', [ev.id]))[0].status, 'ignored');
});

test('R2 SIGTERM to a FastCGI program mid-stream: every 200 is stored, and it comes back', async () => {
  const master = pidOf('webhook');
  const evs = Array.from({ length: 120 }, () => S.event('customer.created', { id: S.rid('cus_'), object: 'customer' }));
  let answered = 0;
  const results = evs.map((ev) => S.signedWebhook(ev).then((r) => { answered++; return r; }, (e) => ({ status: 0, error: e })));
  await waitFor(() => answered >= 10, { timeoutMs: 10000, what: 'some answers' });
  process.kill(master, 'SIGTERM');
  const rs = await Promise.all(results);
  await waitFor(() => !alive(master), { timeoutMs: 30000, what: 'the webhook master to exit' });
  const ok = evs.filter((_, i) => rs[i].status === 200).map((e) => e.id);
  assert.ok(ok.length >= 10);
  const stored = await query(`SELECT id FROM stripe_events WHERE id IN (${ok.map(() => '?').join(',')})`, ok);
  assert.equal(stored.length, ok.length, 'every acknowledged event is stored');
  for (const r of rs) assert.ok([200, 502, 503, 504, 0].includes(r.status), `status ${r.status}`);
  stack('up');
  const retry = evs.filter((_, i) => rs[i].status !== 200);
  for (const ev of retry) assert.equal((await S.signedWebhook(ev)).status, 200, 'redelivered after restart');
  assert.equal((await query(`SELECT COUNT(*) AS n FROM stripe_events WHERE id IN (${evs.map(() => '?').join(',')})`, evs.map((e) => e.id)))[0].n, evs.length);
});
