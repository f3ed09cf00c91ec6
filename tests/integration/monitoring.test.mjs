// The monitoring we ship (scripts/monitoring/): Prometheus alerting rules that
// promtool accepts and whose unit tests pass, a Grafana dashboard whose every
// query is valid PromQL, and no rule or panel naming a metric the running
// programs do not expose; and the stored-event counts /metrics serves from
// the worker's rollup stay exact across a rollup, as do the notification counts,
// and the webhook's batches count their events as they store them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { request, closeHttp } from './lib/http.mjs';
import { REPO_ROOT, requireEnv } from './lib/env.mjs';
import { query, close } from './lib/db.mjs';
import { waitFor } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';

const DIR = path.join(REPO_ROOT, 'scripts/monitoring');
const RULES = path.join(DIR, 'xswarm-billing.rules.yml');
const DASHBOARD = JSON.parse(fs.readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8'));
test.after(() => closeHttp());
test.after(() => close());

function promtool(args, cwd = DIR) {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  assert.notEqual(r.error?.code, 'ENOENT', 'promtool is installed by scripts/install-deps (Debian package prometheus)');
  return r;
}

// The queries of the dashboard with Grafana's variables given values.
const dashboardExprs = () => DASHBOARD.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title,
  expr: t.expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*') })));

test('M1 promtool accepts the alerting rules', () => {
  const r = promtool(['check', 'rules', RULES]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

test('M2 the rules\' unit tests pass (dead jobs, MariaDB down, Stripe errors, signatures, failed events)', () => {
  const r = promtool(['test', 'rules', 'xswarm-billing.rules.test.yml']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS/);
});

test('M3 every query of the Grafana dashboard is valid PromQL', () => {
  assert.equal(DASHBOARD.uid, 'xswarm-billing');
  const exprs = dashboardExprs();
  assert.ok(exprs.length >= 10);
  const ids = DASHBOARD.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  // As recording rules, promtool parses each query.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-dash-'));
  try {
    const file = path.join(tmp, 'dashboard.rules.yml');
    fs.writeFileSync(file, ['groups:', '  - name: dashboard', '    rules:',
      ...exprs.map((e, i) => `      - record: xsb_dashboard_query_${i}\n        expr: ${JSON.stringify(e.expr)}`)].join('\n') + '\n');
    const r = promtool(['check', 'rules', file], tmp);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('M4 every metric named by a rule or a panel is one /metrics exposes', async () => {
  const r = await request('GET', '/metrics', { token: requireEnv('METRICS_TOKEN').METRICS_TOKEN });
  assert.equal(r.status, 200);
  const exposed = new Set([...r.text.matchAll(/^(?:# TYPE )?(xsb_[a-z_]+)/gm)].map((m) => m[1]));
  assert.ok(exposed.has('xsb_db_up'));
  const named = new Set();
  const rules = fs.readFileSync(RULES, 'utf8').replace(/^\s*#.*$/gm, ''); // comments name families loosely
  for (const m of rules.matchAll(/\b(xsb_[a-z_]+)\b/g)) named.add(m[1]);
  for (const e of dashboardExprs()) for (const m of e.expr.matchAll(/\b(xsb_[a-z_]+)\b/g)) named.add(m[1]);
  named.delete('xsb_dashboard_query_'); // not a metric
  assert.ok(named.size >= 10);
  for (const n of named) assert.ok(exposed.has(n), `${n} is not exposed by /metrics`);
});

test('M5 the shipped scrape job is valid, loads the rules and sends METRICS_TOKEN as a bearer token from a file', () => {
  const text = fs.readFileSync(path.join(DIR, 'prometheus.yml'), 'utf8');
  assert.match(text, /^\s+- job_name: xswarm-billing$/m, 'the job the rules assume');
  assert.match(text, /authorization:\n\s+type: Bearer\n\s+credentials_file: \S+/, 'the token from a file, never inline');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-scrape-'));
  try {
    fs.writeFileSync(path.join(tmp, 'token'), 'x\n');
    const file = path.join(tmp, 'prometheus.yml');
    fs.writeFileSync(file, text.replace(/\/usr\/local\/share\/xswarm-billing\/monitoring\//g, `${DIR}/`)
      .replaceAll('/etc/prometheus/xswarm-billing.token', path.join(tmp, 'token')));
    const r = promtool(['check', 'config', file], tmp);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 rule files found/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

// xsb_stripe_events of one type, as /metrics serves them: { status: count }.
async function scrapedEvents(type) {
  const r = await request('GET', '/metrics', { token: requireEnv('METRICS_TOKEN').METRICS_TOKEN });
  assert.equal(r.status, 200);
  const out = {};
  for (const m of r.text.matchAll(/^xsb_stripe_events\{type="([^"]+)",status="([^"]+)"\} (\d+)$/gm))
    if (m[1] === type) out[m[2]] = Number(m[3]);
  return out;
}

// The same, counted from the table.
async function storedEvents(type) {
  const out = {};
  for (const r of await query('SELECT status, COUNT(*) AS n FROM stripe_events WHERE type = ? GROUP BY status', [type]))
    out[r.status] = Number(r.n);
  return out;
}

// Resolves once a rollup that started after this call has committed (METRICS_ROLLUP_SECONDS: 5 here).
async function nextRollup() {
  const round = async () => Number((await query('SELECT round FROM metrics_rollup WHERE id = 1'))[0].round);
  const r0 = await round();
  await waitFor(async () => (await round()) >= r0 + 2, { timeoutMs: 30000, intervalMs: 200, what: 'two metrics rollups' });
}

test('M6 /metrics counts stored events exactly before, across and after a rollup: new events, changed statuses, a status left empty', async () => {
  const type = `test.rollup.${Date.now()}`;
  const ids = Array.from({ length: 6 }, (_, i) => `evt_rollup_${Date.now()}_${i}`);
  const insert = (id, status) => query(
    "INSERT INTO stripe_events (id, type, livemode, created, payload, status) VALUES (?, ?, 0, UNIX_TIMESTAMP(), '{}', ?)",
    [id, type, status]);
  const exact = async (what) => assert.deepEqual(await scrapedEvents(type), await storedEvents(type), what);

  // New events: served before any rollup counted them.
  for (const [i, id] of ids.entries()) await insert(id, i < 4 ? 'processed' : 'failed');
  await exact('new events, not rolled up yet');
  assert.deepEqual(await storedEvents(type), { processed: 4, failed: 2 });
  await nextRollup();
  const counted = await query('SELECT status, n FROM metrics_event_counts WHERE type = ? ORDER BY status', [type]);
  assert.deepEqual(counted.map((r) => [r.status, Number(r.n)]), [['failed', 2], ['processed', 4]], 'the rollup counted them');
  assert.equal(Number((await query(
    'SELECT COUNT(*) AS n FROM stripe_events WHERE type = ? AND metrics_key = -1', [type]))[0].n), 0);
  await exact('after the rollup');

  // Statuses changed after they were counted: the counts are stale, the scrape is not.
  await query("UPDATE stripe_events SET status = 'processed' WHERE id IN (?, ?)", [ids[4], ids[5]]);
  await query("UPDATE stripe_events SET status = 'unmatched' WHERE id = ?", [ids[0]]);
  await insert(`${ids[0]}_late`, 'ignored');
  await exact('changed after the rollup');
  assert.deepEqual(await scrapedEvents(type), { processed: 5, unmatched: 1, ignored: 1 }, 'no failed series once none is failed');
  await nextRollup();
  await exact('after the next rollup');
  const after = await query('SELECT status, n FROM metrics_event_counts WHERE type = ? ORDER BY status', [type]);
  assert.deepEqual(after.map((r) => [r.status, Number(r.n)]), [['failed', 0], ['ignored', 1], ['processed', 5], ['unmatched', 1]]);
  assert.deepEqual(await scrapedEvents(type), { processed: 5, unmatched: 1, ignored: 1 });
});

test('M8 a batch of the webhook counts its events as it stores them: no rollup needed, each counted once, exact across a later change and rollup', async () => {
  // Six types, so that a batch holds more pairs than one statement adds (4).
  const base = `test.counted.${Date.now()}`;
  const types = Array.from({ length: 6 }, (_, k) => `${base}.${k}`);
  const batched = async () => Number((await query(
    'SELECT COUNT(*) AS n FROM stripe_events WHERE type LIKE ? AND metrics_key = 0', [`${base}.%`]))[0].n);
  const sharded = async () => Number((await query(
    'SELECT COALESCE(SUM(n), 0) AS n FROM metrics_event_counts WHERE type LIKE ? AND shard > 0', [`${base}.%`]))[0].n);
  const exact = async (what) => {
    for (const t of types) assert.deepEqual(await scrapedEvents(t), await storedEvents(t), `${what}: ${t}`);
  };

  // Bursts of deliveries at once (unknown types: stored "ignored") until some were stored by a batch.
  const ids = [];
  for (let b = 0; b < 6 && (await batched()) === 0; b++) {
    const evs = Array.from({ length: 36 }, (_, i) => S.event(types[i % 6], { id: S.rid('cus_'), object: 'customer' }));
    const rs = await Promise.all(evs.map((e) => S.signedWebhook(e)));
    rs.forEach((r) => assert.equal(r.status, 200, r.text));
    ids.push(...evs.map((e) => e.id));
  }
  const n = await batched();
  assert.ok(n > 1, 'some events were stored by a batch, counted as stored (metrics_key 0)');
  assert.deepEqual(await storedEvents(types[0]), { ignored: ids.length / 6 });
  // The batches' counts are in the committers' shards: each event once, none left for the rollup to mark.
  assert.equal(await sharded(), n, 'the shards hold exactly the events the batches stored');
  await exact('stored by batches, before any rollup');

  // A status changed afterwards (as a replay would): the scrape follows, the rollup moves it.
  await query("UPDATE stripe_events SET status = 'processed' WHERE id IN (?, ?)", [ids[0], ids[6]]);
  await exact('changed after being counted');
  await nextRollup();
  await exact('after the rollup');
  assert.equal(Number((await query(
    'SELECT COUNT(*) AS n FROM stripe_events WHERE type LIKE ? AND metrics_key = -1', [`${base}.%`]))[0].n), 0);
  assert.equal(await sharded(), n, 'the rollup adds to its own shard (0), not to the batches\'');
  assert.deepEqual(await scrapedEvents(types[0]), { ignored: ids.length / 6 - 2, processed: 2 });
});

// xsb_notifications of one template, as /metrics serves them, and as stored: { state: count }.
async function scrapedNotifications(template) {
  const r = await request('GET', '/metrics', { token: requireEnv('METRICS_TOKEN').METRICS_TOKEN });
  assert.equal(r.status, 200);
  const out = {};
  for (const m of r.text.matchAll(/^xsb_notifications\{template="([^"]+)",state="([^"]+)"\} (\d+)$/gm))
    if (m[1] === template) out[m[2]] = Number(m[3]);
  return out;
}
async function storedNotifications(template) {
  const out = {};
  for (const r of await query('SELECT state, COUNT(*) AS n FROM notifications WHERE template = ? GROUP BY state', [template]))
    out[r.state] = Number(r.n);
  return out;
}

test('M7 /metrics counts notifications exactly before, across and after a rollup: new rows, changed states, a state left empty', async () => {
  const template = `t${Date.now()}`.slice(0, 32);
  const keys = Array.from({ length: 5 }, (_, i) => `test:rollup:${template}:${i}`);
  const insert = (key, state) => query(
    "INSERT INTO notifications (dedupe_key, message_id, template, user_id, recipient, subject, state) VALUES (?, ?, ?, 'usr_rollup', 'a@example.com', 's', ?)",
    [key, `<${key}@test>`, template, state]);
  const exact = async (what) => assert.deepEqual(await scrapedNotifications(template), await storedNotifications(template), what);

  for (const [i, key] of keys.entries()) await insert(key, i < 3 ? 'sent' : 'sending');
  await exact('new notifications, not rolled up yet');
  assert.deepEqual(await storedNotifications(template), { sent: 3, sending: 2 });
  await nextRollup();
  const counted = await query('SELECT state, n FROM metrics_notification_counts WHERE template = ? ORDER BY state', [template]);
  assert.deepEqual(counted.map((r) => [r.state, Number(r.n)]), [['sending', 2], ['sent', 3]], 'the rollup counted them');
  assert.equal(Number((await query(
    'SELECT COUNT(*) AS n FROM notifications WHERE template = ? AND metrics_key = -1', [template]))[0].n), 0);
  await exact('after the rollup');

  await query("UPDATE notifications SET state = 'sent' WHERE dedupe_key = ?", [keys[3]]);
  await query("UPDATE notifications SET state = 'failed' WHERE dedupe_key IN (?, ?)", [keys[4], keys[0]]);
  await insert(`${keys[0]}:late`, 'deferred');
  await exact('changed after the rollup');
  assert.deepEqual(await scrapedNotifications(template), { sent: 3, failed: 2, deferred: 1 }, 'no sending series once none is sending');
  await nextRollup();
  await exact('after the next rollup');
  const after = await query('SELECT state, n FROM metrics_notification_counts WHERE template = ? ORDER BY state', [template]);
  assert.deepEqual(after.map((r) => [r.state, Number(r.n)]), [['deferred', 1], ['failed', 2], ['sending', 0], ['sent', 3]]);
});
