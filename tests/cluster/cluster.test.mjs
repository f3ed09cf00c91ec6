// Several app nodes on MariaDB Galera (issue #15): nothing acknowledged is
// lost.  Run by scripts/test-cluster (make test-cluster): three Galera
// nodes, app node 1 on Galera node 1, app node 2 on Galera node 2, checks
// read on Galera node 3 with causal reads.  The rule under test: a 2xx
// answer to Stripe means the event and all its effects are committed, on
// every node; a database that cannot commit gives 503 with Retry-After,
// never 500.  The tests run in order: the last two break the cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { nodes, post, hook, query, closeAll } from './nodes.mjs';
import { waitFor, sleep } from '../integration/lib/wait.mjs';
import * as S from '../integration/lib/stripe.mjs';

test.after(closeAll);

const HOT_RUNS = Number(process.env.CLUSTER_HOT_RUNS || 200);
const HOT_EVENTS = Number(process.env.CLUSTER_HOT_EVENTS || 12);
const now = () => Math.floor(Date.now() / 1000);
const cluster = (...args) => execFileSync(path.join(import.meta.dirname, '../../scripts/cluster'), args,
  { encoding: 'utf8', timeout: 300000, stdio: ['ignore', 'pipe', 'pipe'] });

async function newUser(tier = 'ai_buddy') {
  const id = crypto.randomUUID();
  const customer = S.rid('cus_');
  await query("INSERT INTO users (id, email, tier, stripe_customer_id, phone_status) VALUES (?, ?, ?, ?, 'none')",
    [id, `${id}@example.test`, tier, customer]);
  /* A causal read on the app nodes' Galera nodes waits until they have applied it (as a real user's
   * row would be long before Stripe's first event about them). */
  await Promise.all([1, 2].map((g) => query('SELECT 1', [], g)));
  return { id, customer };
}

/** Delivers ev to node until it is answered 200, as Stripe retries a 503; returns the 200 reply. */
async function deliver(node, ev) {
  for (let i = 0; ; i++) {
    const r = await hook(node, ev);
    if (r.status === 200) return r;
    assert.equal(r.status, 503, `${ev.id} on node ${node.n}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error?.code, 'database_unavailable', r.text);
    assert.ok(r.headers['retry-after'], 'a 503 says when to try again');
    assert.ok(i < 50, `${ev.id}: still 503 after 50 tries`);
    await sleep(100 + Math.random() * 200);
  }
}

/** The ids of evs (answered replies rs) that were answered 2xx and are not in stripe_events. */
async function lostOf(evs, rs) {
  const ok = evs.filter((e, i) => rs[i].status >= 200 && rs[i].status < 300).map((e) => e.id);
  if (!ok.length) return [];
  const have = new Set((await query('SELECT id FROM stripe_events WHERE id IN (?)', [ok])).map((r) => r.id));
  return ok.filter((id) => !have.has(id));
}

test('K1 one event delivered 20 times at once to both nodes: stored once, applied once', async () => {
  for (let round = 0; round < 5; round++) {
    const u = await newUser();
    const ev = S.event('customer.subscription.updated',
      S.subscription({ customer: u.customer, price: 'price_ai_secretary', status: 'active' }));
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => deliver(nodes[i % 2], ev)));
    const statuses = rs.map((r) => r.json.status);
    assert.ok(statuses.every((s) => s === 'processed' || s === 'duplicate'), statuses.join());
    assert.ok(statuses.includes('processed'), statuses.join());
    const rows = await query('SELECT status FROM stripe_events WHERE id = ?', [ev.id]);
    assert.deepEqual(rows.map((r) => r.status), ['processed']);
    const effects = await query('SELECT kind FROM billing_events WHERE event_id = ? ORDER BY kind', [ev.id]);
    assert.deepEqual(effects.map((r) => r.kind), ['subscription.updated', 'tier_changed']);
    assert.equal((await query('SELECT tier FROM users WHERE id = ?', [u.id]))[0].tier, 'ai_secretary');
  }
});

test('K2 created, updated and deleted of ten subscriptions, spread over both nodes at once: as in sequence', async () => {
  const t0 = now() - 100;
  const cases = await Promise.all(Array.from({ length: 10 }, async () => {
    const u = await newUser();
    const id = S.rid('sub_');
    const created = S.subscription({ id, customer: u.customer, price: 'price_ai_secretary', status: 'active' });
    const period = { current_period_start: created.current_period_start, current_period_end: created.current_period_end };
    return { u, id, evs: [
      S.event('customer.subscription.created', created, { created: t0 }),
      S.event('customer.subscription.updated', S.subscription({ id, customer: u.customer, ...period, price: 'price_ai_project_manager', status: 'active' }), { created: t0 + 10 }),
      S.event('customer.subscription.deleted', S.subscription({ id, customer: u.customer, ...period, price: 'price_ai_project_manager', status: 'canceled' }), { created: t0 + 20 }),
    ] };
  }));
  const all = cases.flatMap((c) => c.evs).sort(() => Math.random() - 0.5);
  await Promise.all(all.map((ev, i) => deliver(nodes[i % 2], ev)));
  for (const c of cases) {
    const u = (await query('SELECT tier, subscription_id FROM users WHERE id = ?', [c.u.id]))[0];
    const s = (await query('SELECT status, tier, deleted FROM subscriptions WHERE id = ?', [c.id]))[0];
    assert.deepEqual({ tier: u.tier, sub: u.subscription_id, status: s.status, deleted: s.deleted, stier: s.tier },
      { tier: 'ai_buddy', sub: c.id, status: 'canceled', deleted: 1, stier: 'ai_project_manager' });
    const stored = await query('SELECT COUNT(*) AS n FROM stripe_events WHERE id IN (?)', [c.evs.map((e) => e.id)]);
    assert.equal(stored[0].n, 3);
  }
});

/** Each Galera node's counts of brute-force aborts and certification failures. */
async function galeraCounters() {
  const out = {};
  for (const g of [1, 2, 3]) {
    const rows = await query("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_bf_aborts', 'wsrep_local_cert_failures')", [], g);
    out[g] = Object.fromEntries(rows.map((r) => [r.Variable_name.replace('wsrep_local_', ''), Number(r.Value)]));
  }
  return out;
}

/*
 * Everything K3 can say about a run whose user and subscription differ: both rows on each Galera node (does one
 * node differ?), what each event was, its answer, what was stored for it (status, billing events, tier history),
 * and the nodes' aborts since K3 began. A tier_changed row of an event that is neither the subscription's last
 * event nor stale would show a transaction committed in part.
 */
async function k3Detail(u, sub, evs, rs, bf0) {
  const ids = evs.map((e) => e.id);
  const short = (id) => id.slice(-6);
  const perNode = [];
  for (const g of [1, 2, 3]) {
    const [r] = await query('SELECT u.tier AS user_tier, s.tier AS sub_tier, s.last_event_id AS last FROM users u '
      + 'JOIN subscriptions s ON s.id = ? WHERE u.id = ?', [sub, u.id], g);
    perNode.push(`node ${g}: user ${r?.user_tier} subscription ${r?.sub_tier} last ${r ? short(r.last) : '-'}`);
  }
  const stored = new Map((await query('SELECT id, status FROM stripe_events WHERE id IN (?)', [ids])).map((r) => [r.id, r.status]));
  const effects = new Map();
  for (const r of await query('SELECT event_id, kind, detail FROM billing_events WHERE event_id IN (?) ORDER BY id', [ids])) {
    effects.set(r.event_id, [...(effects.get(r.event_id) ?? []), r.kind === 'tier_changed' ? `tier_changed ${r.detail}` : r.kind]);
  }
  const hist = new Map((await query('SELECT event_id, tier FROM tier_history WHERE subscription_id = ?', [sub])).map((r) => [r.event_id, r.tier]));
  const seen = evs.map((e, i) => `${short(e.id)} ${e.created} ${e.data.object.items.data[0].price.id.slice(6)} `
    + `${rs[i].status} ${rs[i].json?.status ?? rs[i].json?.error?.code} stored ${stored.get(e.id) ?? '-'} `
    + `history ${hist.get(e.id) ?? '-'} effects [${(effects.get(e.id) ?? []).join(', ')}]`).join('; ');
  return `${perNode.join('; ')}; aborts since K3 began ${JSON.stringify({ before: bf0, now: await galeraCounters() })}; events: ${seen}`;
}

test(`K3 one subscription's updates, ${HOT_EVENTS} at once over both nodes, ${HOT_RUNS} times: every 2xx stored with its effects`, async () => {
  const prices = ['price_ai_secretary', 'price_ai_project_manager'];
  const tally = {};
  let lostRuns = 0;
  const lost = [];
  const bf0 = await galeraCounters();
  for (let run = 0; run < HOT_RUNS; run++) {
    const u = await newUser();
    const sub = S.rid('sub_'), t0 = now() - 1000;
    const evs = Array.from({ length: HOT_EVENTS }, (_, i) => S.event('customer.subscription.updated',
      S.subscription({ id: sub, customer: u.customer, price: prices[i % 2], status: 'active' }),
      { created: t0 + crypto.randomInt(HOT_EVENTS) }));
    const rs = await Promise.all(evs.map((e, i) => hook(nodes[i % 2], e)));
    for (const r of rs) {
      const k = `${r.status} ${r.json?.status ?? r.json?.error?.code}`;
      tally[k] = (tally[k] || 0) + 1;
      assert.ok(r.status === 200 || (r.status === 503 && r.json?.error?.code === 'database_unavailable'), `${r.status} ${r.text}`);
    }
    const miss = await lostOf(evs, rs);
    if (miss.length) { lostRuns++; lost.push(...miss); }
    /* Each processed event's own effect is there (stale ones have none). */
    const processed = evs.filter((e, i) => rs[i].json?.status === 'processed').map((e) => e.id);
    if (processed.length) {
      const have = await query("SELECT COUNT(DISTINCT event_id) AS n FROM billing_events WHERE kind = 'subscription.updated' AND event_id IN (?)", [processed]);
      assert.equal(have[0].n, processed.length, `run ${run}: a processed event without its billing event`);
    }
    /* The user follows the subscription's last applied update. */
    const s = (await query('SELECT tier, last_event_id, last_event_created FROM subscriptions WHERE id = ?', [sub]))[0];
    const urow = (await query('SELECT tier, subscription_id FROM users WHERE id = ?', [u.id]))[0];
    if (s && urow.tier !== s.tier) {
      assert.equal(urow.tier, s.tier, `run ${run}: user ${JSON.stringify(urow)}, subscription ${JSON.stringify(s)}; `
        + (await k3Detail(u, sub, evs, rs, bf0)));
    }
  }
  console.log(`K3 answers: ${JSON.stringify(tally)}`);
  assert.equal(lost.length, 0, `${lost.length} acknowledged events lost in ${lostRuns} of ${HOT_RUNS} runs: ${lost.slice(0, 10).join(' ')}`);
});

test('K4 jobs enqueued on the cluster run on the workers of both nodes, each once', async () => {
  const u = await newUser('ai_secretary');
  const tag = String(crypto.randomInt(1e7)).padStart(7, '0');
  const keys = [];
  // Enough jobs, queued in one statement, that one worker (WORKER_CONCURRENCY runners, claiming again as
  // soon as one is idle) cannot finish them all before the other's next poll (WORKER_POLL_MS).
  const N = 200;
  for (let i = 0; i < N; i++) {
    const number = `+1555${tag.slice(0, 3)}${String(i).padStart(4, '0')}`;
    keys.push({ key: `notify:phone_provisioned:${u.id}:${number}`, number });
  }
  await query(`INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ${keys.map(() => "('notify', ?, ?, ?)").join(', ')}`,
    keys.flatMap(({ key, number }) => [key, u.id, JSON.stringify({ template: 'phone_provisioned', user_id: u.id, phone_number: number })]));
  const all = keys.map((k) => k.key);
  await waitFor(async () => (await query("SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key IN (?) AND state = 'done'", [all]))[0].n === all.length,
    { timeoutMs: 120000, intervalMs: 500, what: `all ${N} jobs done` });
  const jobs = await query('SELECT attempts, locked_by FROM jobs WHERE dedupe_key IN (?)', [all]);
  assert.ok(jobs.every((j) => j.attempts === 1), `a job ran twice: ${JSON.stringify(jobs.filter((j) => j.attempts !== 1))}`);
  const workers = new Set(jobs.map((j) => j.locked_by));
  assert.ok(workers.size >= 2, `one worker ran them all: ${[...workers]}`);
  /* One e-mail per job: the sink (shared by both nodes) holds each number once. */
  await sleep(1000);
  const dir = nodes[0].env.MAIL_DIR;
  const mails = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).subject ?? '');
  for (const { number } of keys) assert.equal(mails.filter((s) => s.includes(number)).length, 1, `e-mails about ${number}`);
});

// The usage cap is checked under the user's row lock, which does not reach another Galera node: the row is
// also written, so two nodes' reports that each fit conflict at commit and the loser is checked again.
test('K4b usage reported at once to both nodes near the cap: the cap holds across the cluster', async () => {
  const cap = Number(nodes[0].env.USAGE_CAP_SMS);
  assert.ok(cap > 1000, `USAGE_CAP_SMS ${nodes[0].env.USAGE_CAP_SMS}`);
  const tokens = nodes.map((node) => execFileSync(`${node.env.XSB_BIN}/xsb-token`,
    ['-u', 'k4b-svc', '-r', 'service', '-k', node.env.SERVICE_JWT_KEY_FILE], { env: { ...process.env, ...node.env }, encoding: 'utf8' }).trim());
  const report = (i, user, quantity, key) => post(nodes[i % 2], 'POST', '/api/usage', { headers: { 'Content-Type': 'application/json',
    Authorization: `Bearer ${tokens[i % 2]}` }, body: JSON.stringify({ user_id: user, kind: 'sms', quantity, idempotency_key: key }) });
  const tally = {};
  for (let run = 0; run < 5; run++) {
    const u = await newUser('ai_secretary');
    const first = await report(0, u.id, cap - 1000, `k4b-${u.id}-first`);
    assert.equal(first.status, 201, first.text);
    await Promise.all([1, 2].map((g) => query('SELECT 1', [], g)));
    // 1,000 left: one report of 600 fits, never two.
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => report(i, u.id, 600, `k4b-${u.id}-${i}`)));
    for (const r of rs) {
      const k = `${r.status} ${r.json?.error?.code ?? ''}`.trim();
      tally[k] = (tally[k] || 0) + 1;
      assert.ok([201, 422, 503].includes(r.status), `${r.status} ${r.text}`);
    }
    const [sum] = await query("SELECT COALESCE(SUM(quantity), 0) AS q, COUNT(*) AS n FROM usage_events WHERE user_id = ? AND kind = 'sms'", [u.id]);
    assert.ok(Number(sum.q) <= cap, `run ${run}: ${sum.q} SMS recorded against a cap of ${cap} (${sum.n} rows)`);
    assert.equal(Number(sum.n), 1 + rs.filter((r) => r.status === 201).length, 'each 201 is a row, nothing else');
  }
  console.log(`K4b answers: ${JSON.stringify(tally)}`);
});

test('K5 kill -9 of Galera node 2 mid-stream: nothing acknowledged lost; app node 2 unhealthy, app node 1 serves', async () => {
  const u = await newUser();
  const sub = S.rid('sub_');
  const evs = [], rs = [];
  /* Pairs of events, one to each app node, one pair after the other; node 2 is killed while they flow,
   * and they go on until app node 2 has answered 503 a few times (its database gone). */
  let kill, killedAt = 0, first503 = 0, longest1 = 0;
  const refused = () => rs.filter((r, k) => k % 2 === 1 && r.status === 503).length;
  for (let i = 0; i < 5000 && (refused() < 5 || !kill || !(await kill.done)); i++) {
    if (i === 20) {
      killedAt = Date.now();
      kill = { done: false };
      kill.done = new Promise((resolve, reject) => execFile(path.join(import.meta.dirname, '../../scripts/cluster'), ['kill', '2'],
        (err) => (err ? reject(err) : resolve(true))));
    }
    const batch = [S.event('customer.subscription.updated',
      S.subscription({ id: sub, customer: u.customer, price: i % 2 ? 'price_ai_secretary' : 'price_ai_project_manager', status: 'active' }),
      { created: now() - 1000 + i }), S.event('customer.subscription.updated',
      S.subscription({ customer: S.rid('cus_'), price: 'price_ai_secretary', status: 'active' }))];
    const t = [];
    const got = await Promise.all(batch.map((e, k) => { const s = Date.now(); return hook(nodes[k], e, { timeoutMs: 120000 })
      .catch((err) => ({ status: 0, text: String(err) })).finally(() => { t[k] = Date.now() - s; }); }));
    if (killedAt) longest1 = Math.max(longest1, t[0]);
    if (killedAt && !first503 && got[1].status === 503) first503 = Date.now() - killedAt;
    evs.push(...batch);
    rs.push(...got);
  }
  await kill.done;
  console.log(`K5: after the kill, app node 1's longest answer ${longest1} ms; app node 2's first 503 ${first503} ms after it`);
  for (const r of rs) assert.ok([200, 503, 0].includes(r.status), `${r.status} ${r.text}`);
  assert.ok(rs.some((r, i) => i % 2 === 1 && r.status === 503), 'app node 2 answered 503 once its database was gone');
  assert.deepEqual(await lostOf(evs, rs), []);
  const h2 = await post(nodes[1], 'GET', '/healthz');
  assert.equal(h2.status, 503, h2.text);
  assert.equal(h2.json?.error?.code, 'database_unavailable', h2.text);
  const h1 = await post(nodes[0], 'GET', '/healthz');
  assert.equal(h1.status, 200, h1.text);
  /* Node 2 rejoins (IST); app node 2 is healthy again and its events are stored. */
  const t0 = Date.now();
  cluster('start', '2');
  await waitFor(async () => (await post(nodes[1], 'GET', '/healthz')).status === 200,
    { timeoutMs: 60000, intervalMs: 500, what: 'app node 2 healthy after Galera node 2 rejoined' });
  console.log(`K5: Galera node 2 started, rejoined and app node 2 healthy in ${Date.now() - t0} ms`);
  const ev = S.event('customer.subscription.updated', S.subscription({ customer: u.customer, price: 'price_ai_secretary', status: 'active' }));
  await deliver(nodes[1], ev);
  assert.equal((await query('SELECT COUNT(*) AS n FROM stripe_events WHERE id = ?', [ev.id]))[0].n, 1);
});

test('K6 quorum lost (Galera nodes 2 and 3 killed): app node 1 answers 503, never 500', async () => {
  cluster('kill', '3');
  cluster('kill', '2');
  /* Node 1 alone is not a Primary component once it has given up on the others. */
  let h;
  const t0 = Date.now();
  await waitFor(async () => { h = await post(nodes[0], 'GET', '/healthz'); return h.status === 503; },
    { timeoutMs: 90000, intervalMs: 500, what: 'app node 1 unhealthy without quorum' });
  console.log(`K6: app node 1 unhealthy ${Date.now() - t0} ms after the second kill`);
  assert.equal(h.json?.error?.code, 'database_cannot_commit', h.text);
  assert.match(h.json.error.message, /Primary component/);
  assert.ok(h.headers['retry-after']);
  const ev = S.event('customer.subscription.updated',
    S.subscription({ customer: S.rid('cus_'), price: 'price_ai_secretary', status: 'active' }));
  const r = await hook(nodes[0], ev);
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json?.error?.code, 'database_unavailable', r.text);
  assert.ok(r.headers['retry-after']);
});
