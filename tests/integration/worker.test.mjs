// The job worker against the Stripe stand-in: overage billed once per
// invoice with Idempotency-Keys, retried through failures, and exactly once
// across a worker killed in the middle of a call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { VAR_DIR, REPO_ROOT } from './lib/env.mjs';
import { waitFor, sleep } from './lib/wait.mjs';
import * as S from './lib/stripe.mjs';

test.after(async () => { await S.standin.fail({ clear: true }); closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
const DAY = 86400;

/* A user on ai_secretary whose last period had 150 voice minutes (two
 * calls, each billed per started minute), 120 SMS, and a phone number. */
async function billedUser() {
  const id = crypto.randomUUID();
  const cus = await S.standin.createCustomer({ email: `${id}@example.test`, metadata: { user_id: id } });
  await query("INSERT INTO users (id, email, tier, stripe_customer_id) VALUES (?, ?, 'ai_secretary', ?)", [id, `${id}@example.test`, cus.id]);
  const pe = now() - 60, ps = pe - 30 * DAY;
  const use = [['voice', 4499], ['voice', 4441], ['sms', 70], ['sms', 50]];
  for (const [i, [kind, q]] of use.entries()) {
    await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, ?, ?, ?, 'test', ?)",
      [id, kind, q, ps + 1000 + i, `${id}:${i}`]);
  }
  /* usage outside the period is not billed */
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'sms', 999, ?, 'test', ?)", [id, pe + 5, `${id}:late`]);
  await query('INSERT INTO phone_numbers (user_id, phone_number, phone_sid, held_from) VALUES (?, ?, ?, ?)',
    [id, '+1555' + String(Math.floor(Math.random() * 1e7)).padStart(7, '0'), 'PN' + crypto.randomBytes(16).toString('hex'), ps - DAY]);
  const inv = await S.standin.createInvoice({ customer: cus.id, status: 'draft', billing_reason: 'subscription_cycle', period_start: ps, period_end: pe });
  return { id, cus, inv };
}

async function jobState(invoiceId) {
  const rows = await query("SELECT state, attempts, last_error FROM jobs WHERE dedupe_key = ?", [`invoice_items:${invoiceId}`]);
  return rows[0];
}

const itemRequests = async (invoiceId) => (await S.standin.requests({ method: 'POST', path: '/v1/invoiceitems' }))
  .filter((r) => r.form?.invoice === invoiceId);

test('J1 invoice.created bills voice, SMS and phone once, with exact amounts and keys', async () => {
  const { id, inv } = await billedUser();
  const r = await S.signedWebhook(S.event('invoice.created', inv));
  assert.equal(r.json.status, 'processed', r.text);
  await waitFor(async () => (await jobState(inv.id))?.state === 'done', { timeoutMs: 15000, what: 'invoice_items job done' });
  const reqs = await itemRequests(inv.id);
  const byKind = Object.fromEntries(reqs.filter((q) => q.status === 200).map((q) => [q.form.metadata.kind, q]));
  assert.deepEqual(Object.keys(byKind).sort(), ['phone', 'sms', 'voice']);
  assert.equal(byKind.voice.headers['idempotency-key'], `${inv.id}:voice`);
  assert.equal(byKind.voice.form.quantity, '50');
  assert.equal(byKind.voice.form.unit_amount_decimal, '1.3');
  assert.equal(byKind.sms.headers['idempotency-key'], `${inv.id}:sms`);
  assert.equal(byKind.sms.form.quantity, '20');
  assert.equal(byKind.sms.form.unit_amount_decimal, '0.75');
  assert.equal(byKind.phone.headers['idempotency-key'], `${inv.id}:phone`);
  assert.equal(byKind.phone.form.quantity, '1');
  for (const q of reqs) assert.equal(q.headers['stripe-version'], '2026-10-28.endive');
  const after = await S.standin.object(inv.id);
  const added = after.lines.data.filter((l) => l.metadata?.kind).map((l) => [l.metadata.kind, l.amount]).sort();
  assert.deepEqual(added, [['phone', 500], ['sms', 15], ['voice', 65]]);
  const be = await query("SELECT kind, amount_cents FROM billing_events WHERE user_id = ? AND kind LIKE 'overage_%' ORDER BY kind", [id]);
  assert.deepEqual(be.map((b) => [b.kind, Number(b.amount_cents)]), [['overage_phone', 500], ['overage_sms', 15], ['overage_voice', 65]]);
});

test('J2 Stripe failing with 500s: the job retries with backoff and the same keys, then succeeds', async () => {
  const { inv } = await billedUser();
  await S.standin.fail({ count: 2, status: 500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  await S.signedWebhook(S.event('invoice.created', inv));
  await waitFor(async () => (await jobState(inv.id))?.state === 'done', { timeoutMs: 30000, what: 'job done after retries' });
  const j = await jobState(inv.id);
  assert.ok(j.attempts >= 3, `attempts ${j.attempts}`);
  const reqs = await itemRequests(inv.id);
  const voice = reqs.filter((q) => q.form.metadata.kind === 'voice');
  assert.ok(voice.length >= 2, 'the voice item was tried more than once');
  assert.equal(new Set(voice.map((q) => q.headers['idempotency-key'])).size, 1, 'one key across retries');
  const after = await S.standin.object(inv.id);
  assert.equal(after.lines.data.filter((l) => l.metadata?.kind).length, 3);
});

test('J3 a worker killed mid-call and restarted bills nothing twice', async () => {
  const { inv } = await billedUser();
  const pidFile = path.join(VAR_DIR, 'run', 'worker.pid');
  await S.standin.fail({ count: 1, delay_ms: 2500, path_prefix: '/v1/invoiceitems' });
  await S.signedWebhook(S.event('invoice.created', inv));
  await waitFor(async () => (await jobState(inv.id))?.state === 'running', { timeoutMs: 10000, what: 'job running' });
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  process.kill(pid, 'SIGKILL');
  await sleep(3000); /* the slow call completes at Stripe after the worker died */
  execFileSync(path.join(REPO_ROOT, 'scripts', 'stack'), ['up'], { stdio: 'ignore', env: process.env });
  await waitFor(async () => (await jobState(inv.id))?.state === 'done', { timeoutMs: 30000, what: 'job done after restart' });
  const after = await S.standin.object(inv.id);
  const kinds = after.lines.data.filter((l) => l.metadata?.kind).map((l) => l.metadata.kind).sort();
  assert.deepEqual(kinds, ['phone', 'sms', 'voice'], 'each item once');
  const replays = (await itemRequests(inv.id)).filter((q) => q.form.metadata.kind === 'voice');
  assert.ok(replays.length >= 2, 'the voice call was sent again after the restart');
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

/* What billedUser()'s period bills, from the tier's terms (ai_secretary: 100 min and 100 SMS included; voice 1.3 c per
 * started minute of each call, SMS 0.75 c, the number 500 c), each line rounded half up once: [kind, cents]. */
function expectedItems() {
  const minutes = [4499, 4441].reduce((m, s) => m + Math.ceil(s / 60), 0), sms = 70 + 50;
  const halfUp = (hundredths) => Math.floor((hundredths + 50) / 100); // hundredths of a cent -> cents
  return [['phone', 500], ['sms', halfUp(Math.max(0, sms - 100) * 75)], ['voice', halfUp(Math.max(0, minutes - 100) * 130)]];
}
const onInvoice = async (invoiceId) => (await S.standin.object(invoiceId)).lines.data.filter((l) => l.metadata?.kind)
  .map((l) => [l.metadata.kind, l.amount]).sort();

test('J6 a 500 saved after Stripe created the item: the job finds it on the invoice and posts nothing twice', async () => {
  const { id, inv } = await billedUser();
  await S.standin.fail({ count: 1, status: 500, method: 'POST', path_prefix: '/v1/invoiceitems', when: 'after' });
  await S.signedWebhook(S.event('invoice.created', inv));
  await waitFor(async () => (await jobState(inv.id))?.state === 'done', { timeoutMs: 30000, what: 'invoice_items job done' });
  assert.deepEqual(await onInvoice(inv.id), expectedItems(), 'each item once, with the amounts of the tier');
  const posts = await itemRequests(inv.id);
  const failed = posts.filter((q) => q.status === 500);
  assert.equal(failed.length, 1, 'the fault met the job');
  const kind = failed[0].form.metadata.kind;
  assert.deepEqual(posts.filter((q) => q.form.metadata.kind === kind).map((q) => q.headers['idempotency-key']), [`${inv.id}:${kind}`],
    'the item created by the failed call was found, not posted again');
  for (const q of posts) assert.equal(q.form.metadata.xsb_line, `${inv.id}:${q.form.metadata.kind}`);
  const lists = (await S.standin.requests({ method: 'GET', path: '/v1/invoiceitems' })).filter((q) => q.form?.invoice === inv.id);
  assert.ok(lists.length >= 1, 'the invoice was read after the 500');
  assert.equal(lists[0].form.limit, '100');
  const items = (await S.standin.object(inv.id)).lines.data.filter((l) => l.metadata?.kind);
  const be = await query("SELECT kind, amount_cents, detail FROM billing_events WHERE user_id = ? AND kind LIKE 'overage_%' ORDER BY kind", [id]);
  assert.deepEqual(be.map((b) => [b.kind.replace('overage_', ''), Number(b.amount_cents)]), expectedItems());
  assert.deepEqual(be.map((b) => b.detail).sort(), items.map((l) => l.parent?.invoice_item_details?.invoice_item ?? l.invoice_item).sort(), 'the items recorded are those on the invoice');
});
