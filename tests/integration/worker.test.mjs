// The job worker against the Stripe stand-in: overage billed once per
// invoice with Idempotency-Keys, retried through failures, and exactly once
// across a worker killed in the middle of a call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { closeHttp, rawRequest, request } from './lib/http.mjs';
import { query, asAdminScript, close } from './lib/db.mjs';
import { VAR_DIR, REPO_ROOT } from './lib/env.mjs';
import { waitFor, sleep } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';
import * as B from './lib/bills.mjs';
import { stackEnv, mint } from './lib/token.mjs';
import * as mail from './lib/mail.mjs';
import { twilioDelay, twilioRequests } from './lib/twilio.mjs';
import { requireEnv } from './lib/env.mjs';

test.after(async () => { await S.standin.fail({ clear: true }); closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
const DAY = 86400;

const created = (inv) => S.signedWebhook(S.event('invoice.created', inv, { api_version: S.API_VERSION }));
const done = (b, timeoutMs = 15000) => waitFor(async () => (await B.jobOf(b))?.state === 'done', { timeoutMs, what: 'bill_period job done' });

test('J1 invoice.created bills voice, SMS and phone once, with exact amounts and keys', async () => {
  const b = await B.billedUser(), { id, inv } = b;
  const r = await created(inv);
  assert.equal(r.json.status, 'processed', r.text);
  await done(b);
  const bill = await B.billOf(b);
  const reqs = await B.itemPosts(inv.id);
  const byKind = Object.fromEntries(reqs.filter((q) => q.status === 200).map((q) => [q.form.metadata.kind, q]));
  assert.deepEqual(Object.keys(byKind).sort(), ['phone', 'sms', 'voice']);
  assert.equal(byKind.voice.headers['idempotency-key'], B.keyOf(bill, 'voice'));
  assert.equal(byKind.voice.form.quantity, '50');
  assert.equal(byKind.voice.form.unit_amount_decimal, '1.3');
  assert.equal(byKind.sms.headers['idempotency-key'], B.keyOf(bill, 'sms'));
  assert.equal(byKind.sms.form.quantity, '20');
  assert.equal(byKind.sms.form.unit_amount_decimal, '0.75');
  assert.equal(byKind.phone.headers['idempotency-key'], B.keyOf(bill, 'phone'));
  assert.equal(byKind.phone.form.quantity, '1');
  for (const q of reqs) assert.equal(q.headers['stripe-version'], '2026-10-28.endive');
  const after = await S.standin.object(inv.id);
  const added = after.lines.data.filter((l) => l.metadata?.kind).map((l) => [l.metadata.kind, l.amount]).sort();
  assert.deepEqual(added, [['phone', 500], ['sms', 15], ['voice', 65]]);
  const be = await query("SELECT kind, amount_cents FROM billing_events WHERE user_id = ? AND kind LIKE 'overage_%' ORDER BY kind", [id]);
  assert.deepEqual(be.map((b) => [b.kind, Number(b.amount_cents)]), [['overage_phone', 500], ['overage_sms', 15], ['overage_voice', 65]]);
});

test('J2 Stripe failing with 500s: the job retries with backoff and the same keys, then succeeds', async () => {
  const b = await B.billedUser(), { inv } = b;
  await S.standin.fail({ count: 2, status: 500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  await created(inv);
  await done(b, 30000);
  const j = await B.jobOf(b);
  assert.ok(j.attempts >= 3, `attempts ${j.attempts}`);
  const reqs = await B.itemPosts(inv.id);
  const voice = reqs.filter((q) => q.form.metadata.kind === 'voice');
  assert.ok(voice.length >= 2, 'the voice item was tried more than once');
  assert.equal(new Set(voice.map((q) => q.headers['idempotency-key'])).size, 1, 'one key across retries');
  const after = await S.standin.object(inv.id);
  assert.equal(after.lines.data.filter((l) => l.metadata?.kind).length, 3);
});

test('J3 a worker killed mid-call and restarted bills nothing twice', async () => {
  const b = await B.billedUser(), { inv } = b;
  const pidFile = path.join(VAR_DIR, 'run', 'worker.pid');
  await S.standin.fail({ count: 1, delay_ms: 2500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  await created(inv);
  await waitFor(async () => (await B.jobOf(b))?.state === 'running', { timeoutMs: 10000, what: 'job running' });
  // Killed while Stripe is executing the (slow) first item call, not before the call left.
  await waitFor(async () => (await B.itemPosts(inv.id)).length > 0, { timeoutMs: 10000, what: 'the first item call sent' });
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  process.kill(pid, 'SIGKILL');
  await sleep(3000); /* the slow call completes at Stripe after the worker died */
  execFileSync(path.join(REPO_ROOT, 'scripts', 'stack'), ['up'], { stdio: 'ignore', env: process.env });
  await done(b, 30000);
  const after = await S.standin.object(inv.id);
  const kinds = after.lines.data.filter((l) => l.metadata?.kind).map((l) => l.metadata.kind).sort();
  assert.deepEqual(kinds, ['phone', 'sms', 'voice'], 'each item once');
  // The restarted job knew the line had been sent: it read the customer's items and found it there.
  const voice = (await B.itemPosts(inv.id)).filter((q) => q.form.metadata.kind === 'voice');
  assert.equal(voice.length, 1, 'the voice item was posted once');
  const lists = (await S.standin.requests({ method: 'GET', path: '/v1/invoiceitems' })).filter((q) => q.form?.customer === b.cus.id);
  assert.ok(lists.length >= 1, 'the customer\'s items were read after the restart');
});

test('J4 entering a phone tier buys a number through the worker; leaving releases it after the grace', async () => {
  const id = crypto.randomUUID();
  const customer = S.rid('cus_');
  await query('INSERT INTO users (id, email, stripe_customer_id) VALUES (?, ?, ?)', [id, `${id}@example.test`, customer]);
  const subId = S.rid('sub_');
  const t = now() - 20;
  await S.signedWebhook(S.event('customer.subscription.created', S.subscription({ id: subId, customer, price: 'price_ai_secretary' }), { created: t }));
  await waitFor(async () => (await query('SELECT phone_status FROM users WHERE id = ?', [id]))[0].phone_status === 'active',
    { timeoutMs: 30000, what: 'number provisioned by the worker' });
  const [u] = await query('SELECT phone_number, phone_sid FROM users WHERE id = ?', [id]);
  assert.match(u.phone_number, /^\+1\d{10}$/);
  assert.match(u.phone_sid, /^PN[0-9a-f]{32}$/);
  const held = await query('SELECT held_to FROM phone_numbers WHERE user_id = ?', [id]);
  assert.equal(held.length, 1);
  assert.equal(held[0].held_to, null);
  const n1 = await query("SELECT payload FROM jobs WHERE user_id = ? AND kind = 'notify'", [id]);
  assert.ok(n1.some((j) => JSON.parse(j.payload).template === 'phone_provisioned' && JSON.parse(j.payload).phone_number === u.phone_number));

  await S.signedWebhook(S.event('customer.subscription.deleted', S.subscription({ id: subId, customer, price: 'price_ai_secretary', status: 'canceled' }), { created: t + 5 }));
  // The number is held through the grace; its days pass here at once.
  await sleep(1500);
  assert.equal((await query('SELECT phone_status FROM users WHERE id = ?', [id]))[0].phone_status, 'active', 'held in the grace');
  await query('UPDATE users SET phone_grace_until = ? WHERE id = ?', [Math.floor(Date.now() / 1000) - 1, id]);
  await query("UPDATE jobs SET run_after = NOW(6) WHERE user_id = ? AND kind = 'phone_grace_release'", [id]);
  await waitFor(async () => (await query('SELECT phone_status FROM users WHERE id = ?', [id]))[0].phone_status === 'none',
    { timeoutMs: 30000, what: 'number released by the worker' });
  const after = await query('SELECT held_to FROM phone_numbers WHERE user_id = ?', [id]);
  assert.ok(Number(after[0].held_to) > 0, 'the history keeps the holding, closed');
  const n2 = await query("SELECT payload FROM jobs WHERE user_id = ? AND kind = 'notify'", [id]);
  assert.ok(n2.some((j) => JSON.parse(j.payload).template === 'phone_released'));
});

// J4b: the user comes back to a phone tier while the grace release is at Twilio: the subscription's event saw the
// number still held and only ended the grace; once released, the job sees the phone tier and queues a new number.
test('J4b back on a phone tier while the number is being released: a new number is provisioned', async () => {
  const id = crypto.randomUUID(), oldSid = 'PN' + crypto.randomBytes(16).toString('hex');
  await query("INSERT INTO users (id, email, tier, phone_number, phone_sid, phone_status, phone_provisioned_at, phone_grace_until) VALUES (?, ?, 'ai_buddy', ?, ?, 'active', ?, ?)",
    [id, `${id}@example.test`, '+1555' + String(crypto.randomInt(1e7)).padStart(7, '0'), oldSid, now() - 100, now() - 1]);
  const before = (await twilioRequests()).length;
  await twilioDelay(1500, 'IncomingPhoneNumbers');
  try {
    await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('phone_grace_release', ?, ?, '{}')", [`phone_grace_release:test:${id}`, id]);
    await waitFor(async () => (await twilioRequests()).slice(before).some((q) => q.method === 'DELETE' && q.path.includes(oldSid)),
      { timeoutMs: 15000, what: 'the release sent to Twilio' });
    // Paid again meanwhile: what the subscription's event does to a user it sees holding a number.
    await query("UPDATE users SET tier = 'ai_secretary', phone_grace_until = NULL WHERE id = ?", [id]);
  } finally {
    await twilioDelay(0);
  }
  await waitFor(async () => (await query('SELECT state FROM jobs WHERE dedupe_key = ?', [`phone_grace_release:test:${id}`]))[0].state === 'done',
    { timeoutMs: 15000, what: 'release job done' });
  await waitFor(async () => (await query('SELECT phone_status FROM users WHERE id = ?', [id]))[0].phone_status === 'active',
    { timeoutMs: 30000, what: 'a new number provisioned' });
  const [u] = await query('SELECT phone_sid FROM users WHERE id = ?', [id]);
  assert.match(u.phone_sid, /^PN[0-9a-f]{32}$/);
  assert.notEqual(u.phone_sid, oldSid);
  const held = await query('SELECT phone_sid, held_to FROM phone_numbers WHERE user_id = ? ORDER BY held_from', [id]);
  assert.deepEqual(held.map((h) => [h.phone_sid, h.held_to === null]), [[u.phone_sid, true]], 'the new number is held (the old one had no history row here)');
});

test('J5 a release queued before the user came back to a phone tier keeps the number', async () => {
  const id = crypto.randomUUID();
  const customer = S.rid('cus_');
  await query("INSERT INTO users (id, email, stripe_customer_id, tier, phone_number, phone_sid, phone_status, phone_provisioned_at) VALUES (?, ?, ?, 'ai_secretary', ?, ?, 'active', ?)",
    [id, `${id}@example.test`, customer, '+1555' + String(crypto.randomInt(1e7)).padStart(7, '0'), 'PN' + crypto.randomBytes(16).toString('hex'), now()]);
  /* The release job exists, but by the time it runs the tier allows a phone again. */
  await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('phone_release', ?, ?, '{}')", [`phone_release:test:${id}`, id]);
  await waitFor(async () => (await query('SELECT state FROM jobs WHERE dedupe_key = ?', [`phone_release:test:${id}`]))[0].state === 'done',
    { timeoutMs: 15000, what: 'release job done' });
  assert.equal((await query('SELECT phone_status FROM users WHERE id = ?', [id]))[0].phone_status, 'active');
});

// ---------- Stripe failing while it executes (its failure saved for the key) ----------

test('J6 a 500 saved after Stripe created the item: the job finds it on the invoice and posts nothing twice', async () => {
  const b = await B.billedUser(), { id, inv } = b;
  await S.standin.fail({ count: 1, status: 500, method: 'POST', path_prefix: '/v1/invoiceitems', when: 'after' });
  await created(inv);
  await done(b, 30000);
  const bill = await B.billOf(b);
  assert.deepEqual(await B.onInvoice(inv.id), B.expectedItems(), 'each item once, with the amounts of the tier');
  const posts = await B.itemPosts(inv.id);
  const failed = posts.filter((q) => q.status === 500);
  assert.equal(failed.length, 1, 'the fault met the job');
  const kind = failed[0].form.metadata.kind;
  assert.deepEqual(posts.filter((q) => q.form.metadata.kind === kind).map((q) => q.headers['idempotency-key']), [B.keyOf(bill, kind)],
    'the item created by the failed call was found, not posted again');
  for (const q of posts) assert.equal(q.form.metadata.xsb_line, `bill:${bill}:${q.form.metadata.kind}`);
  const lists = (await S.standin.requests({ method: 'GET', path: '/v1/invoiceitems' })).filter((q) => q.form?.customer === b.cus.id);
  assert.ok(lists.length >= 1, 'the invoice was read after the 500');
  assert.equal(lists[0].form.limit, '100');
  const items = (await S.standin.object(inv.id)).lines.data.filter((l) => l.metadata?.kind);
  const be = await query("SELECT kind, amount_cents, detail FROM billing_events WHERE user_id = ? AND kind LIKE 'overage_%' ORDER BY kind", [id]);
  assert.deepEqual(be.map((e) => [e.kind.replace('overage_', ''), Number(e.amount_cents)]), B.expectedItems());
  assert.deepEqual(be.map((e) => e.detail).sort(), items.map((l) => l.parent?.invoice_item_details?.invoice_item ?? l.invoice_item).sort(), 'the items recorded are those on the invoice');
});

// J6b: an attempt that made the item at Stripe but could not record it, retried after Stripe forgot the key (Stripe
// keeps Idempotency-Keys for 24 hours): the retry finds the item among the customer's and makes no second one.
test('J6b a line sent but not recorded, retried after Stripe forgot its key: found, not charged twice', async () => {
  const b = await B.billedUser(), { inv } = b;
  const trg = `j6b_${b.id.replace(/-/g, '')}`;
  asAdminScript(`DELIMITER //
CREATE TRIGGER ${trg} BEFORE UPDATE ON bill_lines FOR EACH ROW BEGIN
  IF NEW.stripe_item_id IS NOT NULL AND OLD.stripe_item_id IS NULL AND NEW.bill_id IN (SELECT id FROM bills WHERE user_id = '${b.id}') THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'j6b: the item cannot be recorded';
  END IF;
END//
DELIMITER ;
`);
  try {
    await created(inv);
    await waitFor(async () => (await B.jobOf(b))?.attempts >= 1 && (await B.itemPosts(inv.id)).some((q) => q.status === 200),
      { timeoutMs: 15000, what: 'an item made at Stripe, its recording refused' });
    await S.standin.expireKeys();
  } finally {
    asAdminScript(`DROP TRIGGER IF EXISTS ${trg};`);
  }
  await done(b, 60000);
  assert.deepEqual(await B.onInvoice(inv.id), B.expectedItems(), 'each item once, with the amounts of the tier');
  const bill = await B.billOf(b);
  const made = (await B.itemPosts(inv.id)).filter((q) => q.status === 200 && !q.replayed);
  assert.deepEqual(made.map((q) => q.form.metadata.kind).sort(), B.expectedItems().map(([k]) => k), 'one item made per line');
  const rows = await query('SELECT kind, stripe_item_id FROM bill_lines WHERE bill_id = ? ORDER BY kind', [bill]);
  const onInv = (await S.standin.object(inv.id)).lines.data.filter((l) => l.metadata?.kind)
    .map((l) => [l.metadata.kind, l.parent?.invoice_item_details?.invoice_item]).sort();
  assert.deepEqual(rows.map((r) => [r.kind, r.stripe_item_id]), onInv, 'the items recorded are those on the invoice');
});

test('J7 two workers claiming in batches, one killed with jobs in hand: each job\'s effect exactly once', async () => {
  /* Twelve invoices, three items each; every item call answers slowly, so
   * the stack's worker holds several claimed jobs when it is killed. */
  const users = [];
  for (let i = 0; i < 12; i++) users.push(await B.billedUser());
  await S.standin.fail({ count: 36, delay_ms: 1500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  const { XSB_BIN } = requireEnv('XSB_BIN');
  const second = spawn(`${XSB_BIN}/xsb-worker`, [], { env: stackEnv(), stdio: 'ignore' });
  const exited = new Promise((resolve) => second.on('exit', (code, sig) => resolve({ code, sig })));
  try {
    for (const u of users) await created(u.inv);
    const keys = users.map((u) => `bill_period:${u.sub.id}:${u.ps}`);
    const pid = Number(fs.readFileSync(path.join(VAR_DIR, 'run', 'worker.pid'), 'utf8'));
    const held = await waitFor(async () => {
      const [r] = await query("SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key IN (?) AND state = 'running' AND locked_by LIKE ?",
        [keys, `%:${pid}`]);
      return Number(r.n) >= 2 && Number(r.n);
    }, { timeoutMs: 20000, what: 'the stack worker holding several jobs' });
    process.kill(pid, 'SIGKILL');
    assert.ok(held >= 2);
    await sleep(2000); /* its slow calls complete at Stripe after it died */
    execFileSync(path.join(REPO_ROOT, 'scripts', 'stack'), ['up'], { stdio: 'ignore', env: process.env });
    await waitFor(async () => {
      const [r] = await query("SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key IN (?) AND state = 'done'", [keys]);
      return Number(r.n) === keys.length;
    }, { timeoutMs: 60000, what: 'every job done' });
    const rerun = await query('SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key IN (?) AND attempts >= 2', [keys]);
    assert.ok(Number(rerun[0].n) >= 1, 'the killed worker\'s jobs were claimed again after their leases expired');
    for (const u of users) {
      assert.deepEqual(await B.onInvoice(u.inv.id), B.expectedItems(), `each item of ${u.inv.id} once, with its amount`);
      const be = await query("SELECT kind, amount_cents FROM billing_events WHERE user_id = ? AND kind LIKE 'overage_%' ORDER BY kind", [u.id]);
      assert.deepEqual(be.map((e) => [e.kind.replace('overage_', ''), Number(e.amount_cents)]), B.expectedItems(), 'each line recorded once');
    }
  } finally {
    await S.standin.fail({ clear: true });
    second.kill('SIGTERM');
  }
  /* A stop lets the jobs in hand finish and record, then the worker exits. */
  const how = await Promise.race([exited, sleep(20000).then(() => null)]);
  assert.ok(how, 'the second worker stopped after SIGTERM');
  assert.equal(how.code, 0);
});

// J8: a job slower than its lease (JOB_LEASE_SECONDS, 10 s in this stack): Stripe takes 4 s for each of the bill's
// three items. The worker renews the lease while the job runs, so it is not claimed again and run a second time.
test('J8 a job that outlasts its lease is renewed, not run twice at once', { timeout: 90000 }, async () => {
  const lease = Number(requireEnv('JOB_LEASE_SECONDS').JOB_LEASE_SECONDS);
  const b = await B.billedUser();
  await S.standin.fail({ count: 3, delay_ms: 4000, method: 'POST', path_prefix: '/v1/invoiceitems' });
  const t0 = Date.now();
  await created(b.inv);
  await done(b, 60000);
  const took = Date.now() - t0;
  assert.ok(took > lease * 1000, `the job took ${took} ms, longer than its ${lease} s lease`);
  const job = await B.jobOf(b);
  assert.equal(job.attempts, 1, 'one run: its lease was renewed, nobody claimed it again');
  assert.deepEqual(await B.onInvoice(b.inv.id), B.expectedItems());
});

test('J9 the daily purge deletes old done jobs, but never dead ones nor a done job whose row still guards a side effect', { timeout: 120000 }, async () => {
  const tag = `j9${crypto.randomBytes(4).toString('hex')}`;
  const old = "NOW(6) - INTERVAL 100 DAY", recent = "NOW(6) - INTERVAL 10 DAY";
  const job = (name, kind, state, when) => query(`INSERT INTO jobs (kind, dedupe_key, payload, state, run_after, created_at,
    updated_at) VALUES (?, ?, '{}', ?, ${when}, ${when}, ${when})`, [kind, `${tag}:${name}`, state]);
  const note = (name, state) => query(`INSERT INTO notifications (dedupe_key, message_id, template, user_id, recipient,
    subject, state) VALUES (?, ?, 'payment_failed', 'u', 'a@example.test', 's', ?)`, [`${tag}:${name}`, `<${tag}-${name}>`, state]);
  await job('period-old', 'bill_period', 'done', old);
  await job('period-recent', 'bill_period', 'done', recent);
  await job('period-dead', 'bill_period', 'dead', old);
  await job('items-old', 'invoice_items', 'done', old);
  await job('notify-sent', 'notify', 'done', old);
  await note('notify-sent', 'sent');
  await job('notify-sending', 'notify', 'done', old);
  await note('notify-sending', 'sending');
  await job('notify-none', 'notify', 'done', old);
  // More than one run deletes (10,000): the run queues another at once, and the chain ends when none are left.
  await query(`INSERT INTO jobs (kind, dedupe_key, payload, state, run_after, created_at, updated_at)
    SELECT 'replay_unmatched', CONCAT('${tag}:bulk:', seq), '{}', 'done', ${old}, ${old}, ${old} FROM seq_1_to_10300`);
  const since = Number((await query('SELECT MAX(id) AS id FROM jobs'))[0].id);
  await query("INSERT INTO jobs (kind, dedupe_key, payload) VALUES ('jobs_purge', ?, '{}')", [`jobs_purge:test-${tag}`]);
  await waitFor(async () => Number((await query(`SELECT COUNT(*) AS n FROM jobs WHERE id > ? AND kind = 'jobs_purge'
    AND state <> 'done' AND run_after <= NOW(6)`, [since]))[0].n) === 0
    && Number((await query("SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key LIKE ?", [`${tag}:bulk:%`]))[0].n) === 0,
  { timeoutMs: 90000, intervalMs: 500, what: 'the purge runs and its chain ends' });
  const left = (await query('SELECT dedupe_key AS k FROM jobs WHERE dedupe_key LIKE ? ORDER BY dedupe_key', [`${tag}:%`]))
    .map((r) => r.k.slice(tag.length + 1));
  assert.deepEqual(left, ['items-old', 'notify-none', 'notify-sending', 'period-dead', 'period-recent']);
  const chain = await query("SELECT dedupe_key AS k, state, run_after > NOW(6) AS later FROM jobs WHERE id > ? AND kind = 'jobs_purge'",
    [since]);
  assert.ok(chain.some((c) => /^jobs_purge:after:\d+$/.test(c.k) && c.state === 'done'), `a run followed a full one: ${JSON.stringify(chain)}`);
  // The first run (migration 019, at the stack's start) queued tomorrow's; each run queues it, once.
  const daily = await query("SELECT dedupe_key AS k, state, run_after > NOW(6) AS later FROM jobs WHERE kind = 'jobs_purge' "
    + "AND (dedupe_key = 'jobs_purge:first' OR dedupe_key REGEXP '^jobs_purge:[0-9]{4}-[0-9]{2}-[0-9]{2}$') ORDER BY id");
  assert.deepEqual(daily[0] && [daily[0].k, daily[0].state], ['jobs_purge:first', 'done'], JSON.stringify(daily));
  // One a day (two when this file runs across midnight UTC), due tomorrow at 04:00.
  assert.ok(daily.length >= 2 && daily.length <= 3 && daily.slice(1).every((c) => c.state === 'pending' && Number(c.later) === 1),
    JSON.stringify(daily));
  asAdminScript(`DELETE FROM jobs WHERE dedupe_key LIKE '${tag}:%'; DELETE FROM notifications WHERE dedupe_key LIKE '${tag}:%';`);
});

// ---------- J10 the retention of stored Stripe events ----------
// STRIPE_EVENT_RETENTION_DAYS (400 by default): the daily events_purge deletes processed, ignored and stale
// events received before then, never failed or unmatched ones, and takes each off the /metrics counts under
// the status it was counted as. The model of the gauge is the test's own: the rows left, by status.
test('J10 the daily events purge deletes old final events, keeps failed and unmatched ones, and /metrics still counts what is stored', { timeout: 120000 }, async () => {
  const tag = `j10${crypto.randomBytes(4).toString('hex')}`;
  const type = `test.${tag}`;
  const old = 'NOW(6) - INTERVAL 401 DAY', recent = 'NOW(6) - INTERVAL 399 DAY';
  // counted: the status it is counted under (metrics_round 0, as a batch stores it), or null (not counted yet).
  const ev = (name, status, counted, when) => query(`INSERT INTO stripe_events (id, type, livemode, created, payload,
    status, received_at, metrics_status, metrics_round) VALUES (?, ?, 0, 1, '{}', ?, ${when}, ?, IF(? IS NULL, NULL, 0))`,
  [`evt_${tag}_${name}`, type, status, counted, counted]);
  const count = (status, n) => query(`INSERT INTO metrics_event_counts (type, status, shard, n) VALUES (?, ?, 7, ?)
    ON DUPLICATE KEY UPDATE n = n + VALUES(n)`, [type, status, n]);
  await ev('processed', 'processed', 'processed', old); await count('processed', 1);
  await ev('ignored', 'ignored', 'ignored', old); await count('ignored', 1);
  await ev('stale-uncounted', 'stale', null, old);
  // A failed event replayed since: processed now, still counted as failed until the rollup runs.
  await ev('replayed', 'processed', 'failed', old); await count('failed', 1);
  await ev('failed', 'failed', 'failed', old); await count('failed', 1);
  await ev('unmatched', 'unmatched', 'unmatched', old); await count('unmatched', 1);
  await query('INSERT INTO unmatched_events (event_id, customer_id, created) VALUES (?, ?, 1)', [`evt_${tag}_unmatched`, `cus_${tag}`]);
  await ev('recent', 'processed', 'processed', recent); await count('processed', 1);
  // More than one run deletes (10,000): the run queues another at once, and the chain ends when none are left.
  await query(`INSERT INTO stripe_events (id, type, livemode, created, payload, status, received_at, metrics_status, metrics_round)
    SELECT CONCAT('evt_${tag}_bulk_', seq), ?, 0, 1, '{}', 'processed', ${old}, 'processed', 0 FROM seq_1_to_10300`, [type]);
  await count('processed', 10300);

  const gauge = async () => {
    const r = await rawRequest('GET', '/metrics', { headers: { authorization: `Bearer ${requireEnv('METRICS_TOKEN').METRICS_TOKEN}` } });
    assert.equal(r.status, 200);
    const out = {};
    for (const m of r.text.matchAll(/^xsb_stripe_events\{type="([^"]*)",status="([^"]*)"\} (-?\d+)$/gm)) {
      if (m[1] === type) out[m[2]] = Number(m[3]);
    }
    return out;
  };
  const model = async () => Object.fromEntries((await query(`SELECT status, COUNT(*) AS n FROM stripe_events WHERE type = ?
    GROUP BY status`, [type])).map((r) => [r.status, Number(r.n)]));
  assert.deepEqual(await gauge(), await model(), 'the fixture is counted as stored');

  const since = Number((await query('SELECT MAX(id) AS id FROM jobs'))[0].id);
  await query("INSERT INTO jobs (kind, dedupe_key, payload) VALUES ('events_purge', ?, '{}')", [`events_purge:test-${tag}`]);
  await waitFor(async () => Number((await query(`SELECT COUNT(*) AS n FROM jobs WHERE id > ? AND kind = 'events_purge'
    AND state <> 'done' AND run_after <= NOW(6)`, [since]))[0].n) === 0
    && Number((await query('SELECT COUNT(*) AS n FROM stripe_events WHERE type = ? AND id LIKE ?', [type, `evt_${tag}_bulk_%`]))[0].n) === 0,
  { timeoutMs: 90000, intervalMs: 500, what: 'the purge runs and its chain ends' });
  const left = (await query('SELECT id FROM stripe_events WHERE type = ? ORDER BY id', [type])).map((r) => r.id.slice(`evt_${tag}_`.length));
  assert.deepEqual(left, ['failed', 'recent', 'unmatched']);
  assert.equal((await query('SELECT COUNT(*) AS n FROM unmatched_events WHERE event_id = ?', [`evt_${tag}_unmatched`]))[0].n, 1);
  assert.deepEqual(await model(), { failed: 1, processed: 1, unmatched: 1 });
  assert.deepEqual(await gauge(), { failed: 1, processed: 1, unmatched: 1 }, 'the gauge counts what is left');
  const chain = await query("SELECT dedupe_key AS k, state FROM jobs WHERE id > ? AND kind = 'events_purge'", [since]);
  assert.ok(chain.some((c) => /^events_purge:after:\d+$/.test(c.k) && c.state === 'done'), `a run followed a full one: ${JSON.stringify(chain)}`);
  // The first run (migration 021, at the stack's start) queued tomorrow's (05:00 UTC); each run queues it, once.
  const daily = await query("SELECT dedupe_key AS k, state, run_after > NOW(6) AS later FROM jobs WHERE kind = 'events_purge' "
    + "AND (dedupe_key = 'events_purge:first' OR dedupe_key REGEXP '^events_purge:[0-9]{4}-[0-9]{2}-[0-9]{2}$') ORDER BY id");
  assert.deepEqual(daily[0] && [daily[0].k, daily[0].state], ['events_purge:first', 'done'], JSON.stringify(daily));
  assert.ok(daily.length >= 2 && daily.length <= 3 && daily.slice(1).every((c) => c.state === 'pending' && Number(c.later) === 1),
    JSON.stringify(daily));
  asAdminScript(`DELETE FROM stripe_events WHERE type = '${type}'; DELETE FROM unmatched_events WHERE event_id LIKE 'evt_${tag}_%';
    DELETE FROM metrics_event_counts WHERE type = '${type}';`);
});

// ---------- J11-J14 leases: expiries, the claim as the owner, failure texts ----------
// tests/tools/jobs-probe runs domain/jobs.c's claim, record and renewal one step a line (its header) against
// this stack's MariaDB, so that a test puts what it likes between the steps; its jobs are of a kind of their
// own, which the stack's worker does not run.
function jobsProbe() {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  const child = spawn(path.join(XSB_BIN, '..', 'tests', 'jobs-probe'), [], { env: stackEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = [];
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  readline.createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.resolve(JSON.parse(l)));
  const exited = new Promise((resolve) => child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`jobs-probe exited (${code}): ${log}`));
    resolve(code);
  }));
  return {
    send: (cmd) => new Promise((resolve, reject) => { waiting.push({ resolve, reject }); child.stdin.write(`${cmd}\n`); }),
    close: () => { child.stdin.end(); return exited; },
    log: () => log,
  };
}
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const probeKind = () => `probe_${crypto.randomBytes(4).toString('hex')}`;
const jobRow = async (id) => (await query(`SELECT state, attempts, expiries, locked_by, last_error, lease_until
  FROM jobs WHERE id = ?`, [id]))[0];

// A job whose run crashes its worker (SIGKILL, out of memory, a bug) or hangs past the renewals is found
// running with its lease expired, again and again: its third expiry makes it dead (the alert counts dead jobs)
// instead of a fourth run. Below that it is claimed and run, an expiry counted.
test('J11 a job whose lease ran out three times is dead with the reason and not run; one at its second runs', { timeout: 60000 }, async () => {
  const tag = crypto.randomBytes(4).toString('hex');
  const user = crypto.randomUUID(), email = `${user}@example.test`;
  await query("INSERT INTO users (id, email, tier) VALUES (?, ?, 'ai_secretary')", [user, email]);
  const number = '+1555' + String(crypto.randomInt(1e7)).padStart(7, '0');
  const key = `notify:phone_provisioned:${user}:${number}`;
  const running = `INSERT INTO jobs (kind, dedupe_key, user_id, payload, state, attempts, expiries, lease_until, locked_by)
    VALUES (?, ?, ?, ?, 'running', ?, ?, NOW(6) - INTERVAL 1 SECOND, 'gone:1')`;
  // An e-mail whose lease ran out twice already (its attempts past JOB_MAX_ATTEMPTS: they do not decide).
  const { insertId: doomed } = await query(running, ['notify', key, user,
    JSON.stringify({ template: 'phone_provisioned', user_id: user, phone_number: number }), 12, 2]);
  // A job whose lease ran out once.
  const { insertId: second } = await query(running, ['noop', `noop:j11:${tag}`, null, '{}', 1, 1]);
  await waitFor(async () => (await jobRow(doomed)).state !== 'running' && (await jobRow(second)).state === 'done',
    { timeoutMs: 20000, what: 'both expired jobs taken by the worker' });
  const d = await jobRow(doomed);
  assert.deepEqual([d.state, d.attempts, d.expiries, d.last_error], ['dead', 12, 3,
    'lease ran out 3 times (its run crashed or hung its worker; last held by gone:1)'], 'dead, not claimed (no attempt more)');
  assert.equal(d.lease_until, null);
  const n = await jobRow(second);
  assert.deepEqual([n.state, n.attempts, n.expiries], ['done', 2, 2], 'claimed once more and run');
  // It did not run: nothing sent, nothing begun.
  assert.deepEqual(await mail.to(email), []);
  assert.deepEqual(await query('SELECT state FROM notifications WHERE dedupe_key = ?', [key]), []);
  // An operator's retry starts it afresh, expiries too, and the worker runs it: the e-mail it would have sent.
  const r = await request('POST', `/api/admin/jobs/${doomed}/retry`, { token: mint(['-u', user, '-r', 'admin']) });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await jobRow(doomed)).state === 'done', { timeoutMs: 20000, what: 'the retried job done' });
  const a = await jobRow(doomed);
  assert.deepEqual([a.attempts, a.expiries, a.last_error], [1, 0, null]);
  const m = await mail.waitFor((x) => x.to.includes(email), { timeoutMs: 10000 });
  assert.ok(m.body.includes(number));
  asAdminScript(`DELETE FROM jobs WHERE id IN (${doomed}, ${second});`);
});

// The claim owns the job, not the worker: a run whose lease ran out (its worker's main loop stalled, or
// WORKER_LEASE_RENEWALS passed) and whose job the same worker claimed again must not write its outcome onto
// the second claim, nor renew its lease.
test('J12 the outcome and renewal of a run whose job its own worker claimed again change nothing', async () => {
  const kind = probeKind(), worker = 'j12-host:4242';
  const { insertId: id } = await query("INSERT INTO jobs (kind, dedupe_key, payload) VALUES (?, ?, '{}')", [kind, `${kind}:j12`]);
  const p = jobsProbe();
  try {
    let r = await p.send(`claim ${worker} ${kind} 4`);
    assert.deepEqual(r.claimed.map((c) => [c.id, c.attempt]), [[id, 1]], p.log());
    const first = r.claimed[0].slot;
    await query('UPDATE jobs SET lease_until = NOW(6) - INTERVAL 1 SECOND WHERE id = ?', [id]);
    r = await p.send(`claim ${worker} ${kind} 4`);
    assert.deepEqual(r.claimed.map((c) => [c.id, c.attempt]), [[id, 2]], p.log());
    const second = r.claimed[0].slot;
    const held = await jobRow(id);
    assert.deepEqual([held.state, held.attempts, held.expiries, held.locked_by, held.last_error], ['running', 2, 1, worker, null]);
    for (const outcome of [`dead ${hex('first run: refused')}`, `fail ${hex('first run: timeout')}`, 'done']) {
      assert.deepEqual(await p.send(`record ${worker} ${first} ${outcome}`), { recorded: 1 }, p.log());
      assert.deepEqual(await jobRow(id), held, `the first run's ${outcome.split(' ')[0]} changed nothing`);
    }
    assert.deepEqual(await p.send(`extend ${worker} ${first}`), { renewed: 0 });
    assert.deepEqual(await jobRow(id), held, 'its renewal changed nothing');
    // The second claim's own renewal and outcome are recorded.
    assert.deepEqual(await p.send(`extend ${worker} ${second}`), { renewed: 1 });
    assert.ok((await jobRow(id)).lease_until > held.lease_until, 'renewed');
    assert.deepEqual(await p.send(`record ${worker} ${second} fail ${hex('second run: timeout')}`), { recorded: 1 });
    const after = await jobRow(id);
    assert.deepEqual([after.state, after.attempts, after.expiries, after.last_error], ['pending', 2, 0, 'second run: timeout']);
  } finally {
    await p.close();
    asAdminScript(`DELETE FROM jobs WHERE id = ${id};`);
  }
});

// A remote's message cut by bytes (Stripe's at 200, Twilio's at 240) may end inside a character. MariaDB (strict
// mode) refuses such a last_error, and the batch's transaction took every outcome with it: the leases ran
// out and all ran again. The text is recorded with each byte that starts no valid character made '?'.
test('J13 a failure text with a cut UTF-8 character is recorded, and so are the other outcomes of its batch', async () => {
  const kind = probeKind(), worker = 'j13-host:4343';
  const ids = [];
  for (const n of ['done', 'cut', 'bad', 'fine']) {
    ids.push((await query("INSERT INTO jobs (kind, dedupe_key, payload) VALUES (?, ?, '{}')", [kind, `${kind}:${n}`])).insertId);
  }
  const p = jobsProbe();
  try {
    const r = await p.send(`claim ${worker} ${kind} 4`);
    assert.deepEqual(r.claimed.map((c) => c.id).sort(), [...ids].sort(), p.log());
    const slot = Object.fromEntries(r.claimed.map((c) => [c.id, c.slot]));
    const cafe = Buffer.from('Stripe 400: café');
    const cut = cafe.subarray(0, cafe.length - 1); /* the é's first byte only */
    const bad = Buffer.concat([Buffer.from('bad '), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from(' byte ✓')]);
    assert.deepEqual(await p.send(`record ${worker} ${slot[ids[0]]} done ${slot[ids[1]]} dead ${hex(cut)} `
      + `${slot[ids[2]]} fail ${hex(bad)} ${slot[ids[3]]} fail ${hex('fine: ✓ é')}`), { recorded: 4 }, p.log());
    const rows = await Promise.all(ids.map(jobRow));
    assert.deepEqual(rows.map((x) => [x.state, x.last_error]), [['done', null], ['dead', 'Stripe 400: caf?'],
      ['pending', 'bad ??( byte ✓'], ['pending', 'fine: ✓ é']]);
  } finally {
    await p.close();
    asAdminScript(`DELETE FROM jobs WHERE id IN (${ids.join(', ')});`);
  }
});

// The same through the worker: Stripe refuses a bill's line with a message that stripe.c cuts at 200 bytes in
// the middle of a character; two other bills refused at the same time, likely in the same batch of outcomes.
test('J14 a Stripe 400 whose message is cut inside a character leaves its job dead with the text, the others recorded', { timeout: 90000 }, async () => {
  const users = [];
  for (let i = 0; i < 3; i++) users.push(await B.billedUser());
  const message = `${'x'.repeat(199)}é and more`;
  await S.standin.fail({ count: 1, status: 400, delay_ms: 1000, method: 'POST', path_prefix: '/v1/invoiceitems', message });
  await S.standin.fail({ count: 2, status: 400, delay_ms: 1000, method: 'POST', path_prefix: '/v1/invoiceitems' });
  try {
    for (const u of users) await created(u.inv);
    await waitFor(async () => (await Promise.all(users.map(B.jobOf))).every((j) => j?.state === 'dead'),
      { timeoutMs: 30000, what: 'the three bill_period jobs dead' });
    const errors = (await Promise.all(users.map(B.jobOf))).map((j) => j.last_error);
    const cut = errors.filter((e) => e.endsWith(`Stripe 400: ${'x'.repeat(199)}?`));
    assert.equal(cut.length, 1, JSON.stringify(errors));
    assert.match(cut[0], /^[a-z]+ line: Stripe 400: x{199}\?$/);
    assert.equal(errors.filter((e) => /^[a-z]+ line: Stripe 400: An unknown error occurred \(injected by the stand-in\)\.$/.test(e)).length, 2,
      JSON.stringify(errors));
    for (const j of await Promise.all(users.map(B.jobOf))) assert.equal(j.attempts, 1, 'each recorded at its first run');
  } finally {
    await S.standin.fail({ clear: true });
  }
});
