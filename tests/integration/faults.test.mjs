// Faults, each bounded in time: MariaDB stopped and started again under a
// stream of webhook deliveries, 50 concurrent deliveries of one event, and
// the Stripe API failing and timing out under the bill_period job.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request, closeHttp, metricCounters } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { env, requireEnv, VAR_DIR, REPO_ROOT } from './lib/env.mjs';
import { waitFor, sleep } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';
import * as B from './lib/bills.mjs';

after(async () => { await S.standin.fail({ clear: true }); closeHttp(); await close(); });

// The programs' logs from here on: no child may die, no sanitizer may speak (checked last).
const LOGS = ['webhook', 'billing', 'phone', 'worker'].map((p) => path.join(VAR_DIR, 'log', `${p}.log`));
const logFrom = Object.fromEntries(LOGS.map((f) => [f, fs.existsSync(f) ? fs.statSync(f).size : 0]));

const now = () => Math.floor(Date.now() / 1000);
const stackUp = () => promisify(execFile)(path.join(REPO_ROOT, 'scripts', 'stack'), ['up'], { env: process.env, encoding: 'utf8' });
const pidOf = (comp) => Number(fs.readFileSync(path.join(VAR_DIR, 'run', `${comp}.pid`), 'utf8'));
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const placeholders = (a) => a.map(() => '?').join(',');

async function newUser(tier = 'ai_buddy', customer = S.rid('cus_')) {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier, stripe_customer_id) VALUES (?, ?, ?, ?)', [id, `${id}@example.test`, tier, customer]);
  return { id, customer };
}

/** Runs fn over items with at most n in flight; fn gets (item, index). */
async function pool(items, n, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

test('F1 MariaDB stopped and started during 300 deliveries: every 2xx is stored, every 5xx succeeds on redelivery, nothing twice', { timeout: 240000 }, async () => {
  // 100 events with effects (a failed payment: invoice row, billing event, notify job), 200 without.
  const users = [];
  for (let i = 0; i < 100; i++) users.push(await newUser('ai_secretary'));
  const effectful = users.map((u) => S.event('invoice.payment_failed',
    S.invoice({ customer: u.customer, status: 'open', billing_reason: 'subscription_cycle', lines: [{ amount: 4000 }] })));
  const plain = Array.from({ length: 200 }, () => S.event('customer.created', { id: S.rid('cus_'), object: 'customer' }));
  const events = [...effectful, ...plain].sort(() => Math.random() - 0.5);
  const invoiceOf = new Map(effectful.map((e) => [e.id, e.data.object.id]));
  const first = new Array(events.length);

  // Three phases: the first 100 flowing while MariaDB gets SIGTERM (after 60 answers), the next 100 once it
  // is gone, the last 100 once /healthz is 200 again.
  let answered = 0, recovered = false, stopped = false;
  const dbPid = pidOf('mariadb');
  const outage = (async () => {
    await waitFor(() => answered >= 60, { timeoutMs: 60000, intervalMs: 10, what: '60 answers before the stop' });
    await close();
    process.kill(dbPid, 'SIGTERM');
    await waitFor(() => !alive(dbPid), { timeoutMs: 60000, what: 'mariadbd to stop' });
    stopped = true;
    await waitFor(() => answered >= 200, { timeoutMs: 60000, intervalMs: 10, what: '100 answers while MariaDB is away' });
    await stackUp();
    await waitFor(async () => (await request('GET', '/healthz')).status === 200, { timeoutMs: 60000, what: '/healthz 200 after the restart' });
    recovered = true;
  })();
  const t0 = Date.now();
  await pool(events, 8, async (ev, i) => {
    if (i >= 200) await waitFor(() => recovered, { timeoutMs: 120000, intervalMs: 20, what: 'recovery' });
    else if (i >= 100) await waitFor(() => stopped, { timeoutMs: 60000, intervalMs: 5, what: 'the stop' });
    const r = await S.signedWebhook(ev).catch((e) => ({ status: 0, text: String(e) }));
    first[i] = r;
    answered++;
    if (i < 100) await sleep(5); // let the stop land while these are still flowing
  });
  await outage;
  const elapsed = Date.now() - t0;

  const statuses = first.map((r) => r.status);
  for (const r of first) assert.ok([200, 500, 502, 503, 504, 0].includes(r.status), `unexpected ${r.status}: ${r.text}`);
  const failedFirst = events.filter((_, i) => statuses[i] !== 200);
  assert.ok(failedFirst.length > 0, 'the outage overlapped the stream');
  assert.ok(failedFirst.length < events.length, 'some deliveries succeeded');
  const okFirst = events.filter((_, i) => statuses[i] === 200);

  // Every 2xx is in the database, with its effects.
  const ids = okFirst.map((e) => e.id);
  const stored = await query(`SELECT id, status FROM stripe_events WHERE id IN (${placeholders(ids)})`, ids);
  assert.equal(stored.length, ids.length, 'every acknowledged event is stored');
  const processed = stored.filter((e) => invoiceOf.has(e.id)).map((e) => e.id);
  if (processed.length) {
    const be = await query(`SELECT event_id FROM billing_events WHERE kind = 'payment_failed' AND event_id IN (${placeholders(processed)})`, processed);
    assert.equal(be.length, processed.length, 'each acknowledged payment failure has its billing event');
  }

  // The others succeed on redelivery.
  const again = [];
  await pool(failedFirst, 8, async (ev) => { again.push(await S.signedWebhook(ev)); });
  for (const r of again) {
    assert.equal(r.status, 200, r.text);
    assert.ok(['processed', 'ignored', 'duplicate'].includes(r.json.status), r.text);
  }

  // Nothing twice: each event once and final, each effect once.
  const all = events.map((e) => e.id);
  const rows = await query(`SELECT id, status FROM stripe_events WHERE id IN (${placeholders(all)})`, all);
  assert.equal(rows.length, events.length);
  assert.deepEqual([...new Set(rows.map((e) => e.status))].sort(), ['ignored', 'processed']);
  const eff = [...invoiceOf.keys()];
  const perEvent = await query(`SELECT event_id, kind, COUNT(*) AS n FROM billing_events WHERE event_id IN (${placeholders(eff)}) GROUP BY event_id, kind`, eff);
  assert.equal(perEvent.length, eff.length, 'one billing event per payment failure');
  for (const b of perEvent) assert.deepEqual([b.kind, Number(b.n)], ['payment_failed', 1]);
  const jobs = await query(`SELECT dedupe_key FROM jobs WHERE dedupe_key IN (${placeholders(eff)})`, eff.map((id) => `notify:payment_failed:${id}`));
  assert.equal(jobs.length, eff.length, 'one notification job per payment failure');
  const inv = [...invoiceOf.values()];
  const invRows = await query(`SELECT id, status FROM invoices WHERE id IN (${placeholders(inv)})`, inv);
  assert.equal(invRows.length, inv.length);
  for (const r of invRows) assert.equal(r.status, 'open', 'a failed payment leaves the invoice open');
  console.log(`# F1: ${events.length} deliveries in ${elapsed} ms, ${failedFirst.length} not acknowledged (${[...new Set(statuses)].join('/')}), all redelivered`);
});

test('F2 50 concurrent deliveries of one subscription event: one effect, 1 processed + 49 duplicates', { timeout: 60000 }, async () => {
  const u = await newUser('ai_buddy');
  const ev = S.event('customer.subscription.created', S.subscription({ customer: u.customer, price: 'price_ai_secretary', status: 'active' }));
  const body = JSON.stringify(ev);
  // Stripe re-signs a redelivery: half the copies carry the first signature, the rest each a fresh one
  // (with the other secret of the rotation for some).
  const secrets = env.STRIPE_WEBHOOK_SECRETS.split(',').map((s) => s.trim());
  const sig0 = S.signatureHeader(body);
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => S.signedWebhook(body,
    i < 25 ? { signature: sig0 } : { secret: secrets[i % secrets.length], timestamp: now() - (i % 7) })));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  const by = rs.reduce((m, r) => ({ ...m, [r.json.status]: (m[r.json.status] ?? 0) + 1 }), {});
  assert.deepEqual(by, { processed: 1, duplicate: 49 });
  assert.equal((await query('SELECT COUNT(*) AS n FROM stripe_events WHERE id = ?', [ev.id]))[0].n, 1);
  const be = await query('SELECT kind, COUNT(*) AS n FROM billing_events WHERE event_id = ? GROUP BY kind ORDER BY kind', [ev.id]);
  assert.deepEqual(be.map((b) => [b.kind, Number(b.n)]), [['subscription.created', 1], ['tier_changed', 1]]);
  const jobs = await query('SELECT kind, dedupe_key FROM jobs WHERE user_id = ? AND kind <> ?', [u.id, 'notify']);
  assert.deepEqual(jobs.map((j) => j.dedupe_key), [`phone_provision:${ev.id}`]);
  assert.equal((await query('SELECT COUNT(*) AS n FROM subscriptions WHERE id = ?', [ev.data.object.id]))[0].n, 1);
  const [row] = await query('SELECT tier, subscription_id FROM users WHERE id = ?', [u.id]);
  assert.deepEqual({ ...row }, { tier: 'ai_secretary', subscription_id: ev.data.object.id });
});

// ---------- Stripe failing under the bill_period job ----------

/** A setting the worker process was started with, else its default. */
function workerEnv(name, dflt) {
  const environ = fs.readFileSync(`/proc/${pidOf('worker')}/environ`, 'utf8').split('\0');
  const v = environ.find((l) => l.startsWith(`${name}=`));
  return v ? Number(v.slice(name.length + 1)) : dflt;
}
/** The worker's outbound timeout. */
const workerTimeoutMs = () => workerEnv('HTTP_TIMEOUT_MS', 15000);
/** The least first backoff of the worker's jobs: half of JOB_BACKOFF_BASE_SECONDS (jitter), as jobs_backoff() draws it. */
function backoffLeastMs() {
  const base = workerEnv('JOB_BACKOFF_BASE_SECONDS', 2);
  return 1000 * (base > 1 ? Math.floor(base / 2) : base);
}

/** Waits for the job, then checks: one item per kind at Stripe, one key per kind across every try. */
async function billedOnce(b, timeoutMs) {
  await waitFor(async () => (await B.jobOf(b))?.state === 'done', { timeoutMs, intervalMs: 200, what: 'bill_period job done' });
  assert.deepEqual(await B.onInvoice(b.inv.id), B.expectedItems(), 'each item once, amounts exact');
  const bill = await B.billOf(b), posts = await B.itemPosts(b.inv.id);
  for (const kind of ['voice', 'sms', 'phone']) {
    const keys = new Set(posts.filter((q) => q.form.metadata.kind === kind).map((q) => q.headers['idempotency-key']));
    assert.deepEqual([...keys], [B.keyOf(bill, kind)], `one Idempotency-Key for ${kind} across retries`);
  }
  return { posts, job: await B.jobOf(b) };
}
const created = (inv) => S.signedWebhook(S.event('invoice.created', inv, { api_version: S.API_VERSION }));

test('F3 a Stripe call slower than HTTP_TIMEOUT_MS: the job times out, backs off, retries with the same key, bills once', { timeout: 120000 }, async () => {
  const timeout = workerTimeoutMs();
  const b = await B.billedUser();
  // The first item call answers only after the worker gave up on it (and Stripe creates the item then).
  await S.standin.fail({ count: 1, delay_ms: timeout + 1500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  const r = await created(b.inv);
  assert.equal(r.json?.status, 'processed', r.text);
  const { posts, job } = await billedOnce(b, timeout * 3 + 45000);
  assert.ok(job.attempts >= 2, `attempts ${job.attempts}`);
  const slow = posts.find((q) => q.injected);
  assert.ok(slow, 'the slow call was made');
  // When the call gives up it looks among the customer's items at once (the item may have been made); not there
  // yet, the attempt fails. The next attempt, after the backoff, knows the line was sent: it looks among the items
  // first (found once Stripe made it), and sends it again under the same key when it is not there yet.
  const lists = (await S.standin.requests({ method: 'GET', path: '/v1/invoiceitems' })).filter((q) => q.form?.customer === b.cus.id);
  const after = [...posts.filter((q) => q !== slow && q.form.metadata.kind === slow.form.metadata.kind),
    ...lists.filter((q) => Date.parse(q.time) > Date.parse(slow.time))].sort((x, y) => Date.parse(x.time) - Date.parse(y.time));
  const [look, retry] = after;
  assert.ok(look && look.method === 'GET', 'the call that gave up looked among the items');
  // The worker's clock starts before it connects, the stand-in's once the request has arrived: a little slack.
  const waited = Date.parse(look.time) - Date.parse(slow.time);
  assert.ok(waited >= timeout - 250 && waited < timeout + 1500, `gave up ${waited} ms after the call: at the ${timeout} ms timeout, before the answer`);
  assert.ok(retry, 'the timed-out line was tried again');
  // Both times are the stand-in's; the failure is saved after the look was answered, the retry runs a backoff later.
  const gap = Date.parse(retry.time) - Date.parse(look.time), least = backoffLeastMs();
  assert.ok(gap >= least, `the retry came ${gap} ms after the attempt gave up: after the backoff (at least ${least} ms)`);
});

test('F4 Stripe answering 500, then timing out, then 429: retried with backoff to success, same keys, no duplicate item', { timeout: 150000 }, async () => {
  const timeout = workerTimeoutMs();
  const b = await B.billedUser();
  // On the item POSTs: the job's own reads (GET /v1/invoiceitems, /v1/invoices) are not the faults under test.
  await S.standin.fail({ count: 1, status: 500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  await S.standin.fail({ count: 1, delay_ms: timeout + 1500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  await S.standin.fail({ count: 1, status: 429, method: 'POST', path_prefix: '/v1/invoiceitems' });
  await created(b.inv);
  const { posts, job } = await billedOnce(b, timeout * 3 + 90000);
  assert.ok(job.attempts >= 4, `attempts ${job.attempts}`);
  const injected = posts.filter((q) => q.injected).map((q) => q.status);
  assert.equal(injected.length, 3, 'all three faults met the job');
  const times = posts.map((q) => Date.parse(q.time));
  assert.ok(times.at(-1) - times[0] >= timeout + 1000, 'the retries were spread out, not immediate');
});

test('F6 a 500 saved after Stripe created the item, and the read of the invoice failing too: found later, billed once', { timeout: 90000 }, async () => {
  const b = await B.billedUser();
  await S.standin.fail({ count: 1, status: 500, method: 'POST', path_prefix: '/v1/invoiceitems', when: 'after' });
  await S.standin.fail({ count: 1, status: 503, method: 'GET', path_prefix: '/v1/invoiceitems' });
  await created(b.inv);
  const { posts, job } = await billedOnce(b, 60000);
  assert.ok(job.attempts >= 2, `attempts ${job.attempts}`);
  const reads = (await S.standin.requests({ method: 'GET', path: '/v1/invoiceitems' })).filter((q) => q.form?.customer === b.cus.id);
  assert.deepEqual(reads.map((q) => q.status).slice(0, 1), [503], 'the first read of the customer\'s items failed');
  assert.ok(reads.some((q) => q.status === 200), 'a later read found the item');
  const first = posts.find((q) => q.status === 500);
  assert.ok(first, 'the saved 500 met the job');
  // The retry under the same key replays the saved 500, and the item is then found on the invoice.
  assert.ok(posts.filter((q) => q.form.metadata.kind === first.form.metadata.kind).every((q) => q.status === 500));
});

// F7: a server that ends a transaction of ours without an error to the statement (Galera did, between a batch's
// COMMIT AND CHAIN and its next statement, docs/SCALING.md): the statements after would commit one by one, outside
// the transaction and its locks. core/db.c checks after each statement that the server is still in the
// transaction; tests/tools/txn-probe (core/db.c with statements of its own, on this stack's MariaDB) ends one
// with a prepared COMMIT and expects an abort, for a statement and for rows read after it, then a clean rollback.
test('F7 a statement after which the server is in no transaction of ours is an abort, and the handle stays usable', async () => {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  const before = await metricCounters('xsb_db_transactions_ended_total', 'xsb_db_chains_lost_total');
  const { stdout, stderr } = await promisify(execFile)(path.join(XSB_BIN, '..', 'tests', 'txn-probe'), [],
    { env: process.env, encoding: 'utf8' }).catch((e) => e);
  assert.deepEqual(String(stdout).trim().split('\n'), ['ended ok', 'ended-select ok', 'chain ok'], String(stderr));
  // Each statement found outside the transaction is counted on /metrics (the probe shares the stack's counters
  // file): the COMMIT of "ended", the COMMIT and the read of "ended-select". No chain was lost.
  const after = await metricCounters('xsb_db_transactions_ended_total', 'xsb_db_chains_lost_total');
  assert.equal(after.xsb_db_transactions_ended_total - before.xsb_db_transactions_ended_total, 3);
  assert.equal(after.xsb_db_chains_lost_total, before.xsb_db_chains_lost_total);
});

test('F5 no program died and no sanitizer spoke during the faults', () => {
  for (const f of LOGS) {
    if (!fs.existsSync(f)) continue;
    const text = fs.readFileSync(f).subarray(logFrom[f]).toString('utf8');
    assert.doesNotMatch(text, /exited \(status/, `${path.basename(f)}: a process died`);
    assert.doesNotMatch(text, /ERROR: (Address|Leak)Sanitizer|runtime error:/, `${path.basename(f)}: sanitizer report`);
  }
});
