// App nodes on a primary and its semi-synchronous replica (issue #15, the
// second topology of scripts/cluster): run by scripts/test-cluster's
// replica phase (make test-cluster).  App node 1 runs on the primary (node
// 1), app node 2 on the read-only replica (node 2).  The rules under test:
// a 2xx answer to Stripe means the event is committed on the primary and
// in the replica's relay log (AFTER_SYNC), unless the replica did not
// answer within CLUSTER_SEMISYNC_TIMEOUT, when the primary goes on alone;
// a node on the read-only replica answers 503 with Retry-After, never 500.
// The tests run in order: the last one kills the replica and starts it
// again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import { nodes, post, hook, closeAll } from './nodes.mjs';
import { sleep } from '../integration/lib/wait.mjs';
import * as S from '../integration/lib/stripe.mjs';

const TIMEOUT_MS = Number(process.env.CLUSTER_SEMISYNC_TIMEOUT || 10000);
const script = path.join(import.meta.dirname, '../../scripts/cluster');
const cluster = (...args) => execFileSync(script, args,
  { encoding: 'utf8', timeout: 300000, stdio: ['ignore', 'pipe', 'pipe'] });

const conns = new Map();
/** Runs one statement on database node `n` (1 the primary, 2 the replica) as the application's user. */
async function query(sql, params = [], n = 1) {
  if (!conns.has(n)) {
    const port = Number(process.env[`DB_PORT_N${n}`] || 0);
    if (!port) throw new Error(`DB_PORT_N${n} is not set (scripts/test-cluster sets it)`);
    conns.set(n, mysql.createConnection({ host: '127.0.0.1', port, user: process.env.DB_USER,
      password: process.env.DB_PASSWORD, database: process.env.DB_NAME, timezone: 'Z' }));
  }
  try {
    const [rows] = await (await conns.get(n)).query(sql, params);
    return rows;
  } catch (e) {
    conns.delete(n);	// a node killed by a test: connect again next time
    throw e;
  }
}

test.after(async () => {
  await closeAll();
  for (const c of conns.values()) await (await c.catch(() => null))?.end().catch(() => {});
});

/** The primary's semi-sync counters: { status, clients, yes, no }. */
async function semi() {
  const rows = await query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'");
  const v = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
  return { status: v.Rpl_semi_sync_master_status, clients: Number(v.Rpl_semi_sync_master_clients),
    yes: Number(v.Rpl_semi_sync_master_yes_tx), no: Number(v.Rpl_semi_sync_master_no_tx) };
}

/** Waits until the replica has applied everything the primary has written so far. */
async function caughtUp(secs = 60) {
  const pos = (await query('SELECT @@GLOBAL.gtid_binlog_pos AS p'))[0].p;
  const r = (await query('SELECT MASTER_GTID_WAIT(?, ?) AS w', [pos, secs], 2))[0].w;
  assert.equal(Number(r), 0, `the replica did not reach ${pos} within ${secs} s`);
}

/** The ids of evs that are not in stripe_events on node n. */
async function missing(evs, n) {
  if (!evs.length) return [];
  const have = new Set((await query('SELECT id FROM stripe_events WHERE id IN (?)', [evs.map((e) => e.id)], n)).map((r) => r.id));
  return evs.map((e) => e.id).filter((id) => !have.has(id));
}

const subEvent = () => S.event('customer.subscription.updated',
  S.subscription({ customer: S.rid('cus_'), price: 'price_ai_secretary', status: 'active' }));

test('R1 events acknowledged by the app node on the primary were acknowledged by the replica (semi-sync) and are there', async () => {
  const before = await semi();
  assert.equal(before.status, 'ON', JSON.stringify(before));
  assert.equal(before.clients, 1, JSON.stringify(before));
  const evs = Array.from({ length: 60 }, subEvent);
  const rs = await Promise.all(evs.map((e) => hook(nodes[0], e)));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  const after = await semi();
  assert.equal(after.status, 'ON', JSON.stringify(after));
  assert.equal(after.no - before.no, 0, `commits the replica did not acknowledge: ${JSON.stringify({ before, after })}`);
  assert.ok(after.yes > before.yes, JSON.stringify({ before, after }));
  assert.deepEqual(await missing(evs, 1), []);
  await caughtUp();
  assert.deepEqual(await missing(evs, 2), []);
});

test('R2 /healthz of the app node on the read-only replica: 503 database_cannot_commit; the primary\'s node: 200', async () => {
  const h2 = await post(nodes[1], 'GET', '/healthz');
  assert.equal(h2.status, 503, h2.text);
  assert.equal(h2.json?.error?.code, 'database_cannot_commit', h2.text);
  assert.match(h2.json.error.message, /read-only \(read_only\)/);
  assert.ok(h2.headers['retry-after']);
  const h1 = await post(nodes[0], 'GET', '/healthz');
  assert.equal(h1.status, 200, h1.text);
});

test('R3 a webhook to the node on the read-only replica: 503 with Retry-After, not 500; nothing stored; then stored by the primary\'s node', async () => {
  const evs = Array.from({ length: 4 }, subEvent);
  for (const r of await Promise.all(evs.map((e) => hook(nodes[1], e)))) {
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json?.error?.code, 'database_unavailable', r.text);
    assert.ok(r.headers['retry-after'], 'a 503 says when to try again');
  }
  assert.deepEqual(await missing(evs, 1), evs.map((e) => e.id));
  /* Stripe redelivers; the balancer sends it to the healthy node. */
  for (const r of await Promise.all(evs.map((e) => hook(nodes[0], e)))) assert.equal(r.status, 200, r.text);
  assert.deepEqual(await missing(evs, 1), []);
});

test('R4 kill -9 of the replica mid-stream: the primary goes on after its semi-sync timeout, nothing acknowledged lost; the replica catches up', async () => {
  const before = await semi();
  const evs = [], rs = [], ms = [];
  let kill, killedAt = 0;
  /* Pairs of events to app node 1, one pair after the other; the replica is killed while they flow, and
   * they go on for a while after the primary stopped waiting for it. */
  const t0 = Date.now();
  for (let i = 0; i < 2000; i++) {
    if (i === 10) {
      killedAt = Date.now();
      kill = new Promise((resolve, reject) => execFile(script, ['kill', '2'], (err) => (err ? reject(err) : resolve(true))));
    }
    if (kill && (await Promise.race([kill, sleep(0).then(() => false)])) && Date.now() - killedAt > TIMEOUT_MS + 3000) break;
    const batch = [subEvent(), subEvent()];
    const s = Date.now();
    const got = await Promise.all(batch.map((e) => hook(nodes[0], e, { timeoutMs: 120000 }).catch((err) => ({ status: 0, text: String(err) }))));
    ms.push(Date.now() - s);
    evs.push(...batch);
    rs.push(...got);
  }
  await kill;
  for (const r of rs) assert.equal(r.status, 200, `${r.status} ${r.text}`);
  const stall = Math.max(...ms.slice(10));
  console.log(`R4: ${evs.length} events in ${Date.now() - t0} ms; longest answer after the kill ${stall} ms (timeout ${TIMEOUT_MS} ms)`);
  assert.ok(stall < TIMEOUT_MS + 10000, `the primary stalled ${stall} ms`);
  const fell = await semi();
  assert.equal(fell.status, 'OFF', `semi-sync fell back to asynchronous: ${JSON.stringify(fell)}`);
  assert.ok(fell.no > before.no, JSON.stringify({ before, fell }));
  assert.deepEqual(await missing(evs, 1), []);
  /* The replica comes back from its GTID position, catches up, and the primary waits for it again. */
  cluster('start', '2');
  conns.get(2)?.then((c) => c.destroy()).catch(() => {});
  conns.delete(2);	// its connection died with it
  await caughtUp();
  assert.deepEqual(await missing(evs, 2), []);
  const back = await semi();
  assert.equal(back.status, 'ON', JSON.stringify(back));
  const ev = subEvent();
  assert.equal((await hook(nodes[0], ev)).status, 200);
  const last = await semi();
  assert.ok(last.yes > back.yes, JSON.stringify({ back, last }));
  assert.equal(last.no, back.no);
});
