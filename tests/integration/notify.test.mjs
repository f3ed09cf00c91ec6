// Notifications: signed Stripe events -> notify jobs -> xsb-worker -> SMTP
// -> the sink (tests/peers/smtp-sink.mjs), read back from MAIL_DIR.
// Exactly once across redelivery, a worker that dies, a relay that is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { env, envPath, VAR_DIR, REPO_ROOT } from './lib/env.mjs';
import { waitFor, sleep } from './lib/wait.mjs';
import * as mail from './lib/mail.mjs';
import * as S from './lib/stripe.mjs';
import * as B from './lib/bills.mjs';

test.after(async () => { await mail.setDown(false); closeHttp(); await close(); });

const now = () => Math.floor(Date.now() / 1000);
const PRICE = { ai_secretary: 'price_ai_secretary', ai_project_manager: 'price_ai_project_manager' };
const APP_URL = (env.APP_URL || 'https://xswarm.ai').replace(/\/+$/, '');
const FROM = env.SMTP_FROM || 'xSwarm Billing <billing@xswarm.ai>';
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
/** A Unix time as the e-mails write it: "24 November 2026", UTC. */
const human = (t) => { const d = new Date(t * 1000); return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`; };
const msgId = (key) => `<${crypto.createHash('sha256').update(key).digest('hex')}@xswarm-billing>`;

async function newUser({ tier = 'ai_buddy', email } = {}) {
  const id = crypto.randomUUID();
  const customer = S.rid('cus_');
  await query('INSERT INTO users (id, email, tier, stripe_customer_id) VALUES (?, ?, ?, ?)', [id, email ?? `${id}@example.test`, tier, customer]);
  return { id, customer, email: email ?? `${id}@example.test` };
}
const job = async (key) => (await query('SELECT id, state, attempts, last_error FROM jobs WHERE dedupe_key = ?', [key]))[0];
const note = async (key) => (await query('SELECT * FROM notifications WHERE dedupe_key = ?', [key]))[0];
const jobDone = (key, timeoutMs = 20000) => waitFor(async () => (await job(key))?.state === 'done', { timeoutMs, what: `job ${key} done` });
/** Every message the sink holds for one address. */
const inbox = (address) => mail.to(address);
/** Waits for the message of one dedupe key (by its Message-ID). */
const messageOf = (key, timeoutMs = 20000) => mail.waitFor((m) => m.messageId === msgId(key), { timeoutMs, what: `the e-mail of ${key}` });

/** What every notification carries, whatever its template. */
function assertEnvelope(m, u, key) {
  assert.deepEqual(m.to, [u.email]);
  assert.equal(m.headers.to, u.email);
  assert.equal(m.headers.from, FROM);
  assert.equal(m.from, FROM.match(/<([^>]+)>/)?.[1] ?? FROM);
  assert.equal(m.messageId, msgId(key));
  assert.equal(m.headers['mime-version'], '1.0');
  assert.equal(m.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(m.headers['content-transfer-encoding'], '8bit');
  assert.match(m.date, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$/);
  assert.ok(Math.abs(Date.parse(m.date) - Date.now()) < 120000, `Date ${m.date} is now`);
  const raw = fs.readFileSync(path.join(envPath('MAIL_DIR'), m.file), 'utf8');
  assert.ok(!/[^\r]\n/.test(raw), 'CRLF line ends only');
  assert.ok(raw.split('\r\n').every((l) => Buffer.byteLength(l) <= 998), 'lines within 998 bytes');
  assert.ok(!m.body.includes('{{'), 'no tag left');
  return raw;
}

test('N1 trial_will_end: one e-mail to the user with the trial end date, sent and recorded', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const trialEnd = now() + 3 * 86400;
  const ev = S.event('customer.subscription.trial_will_end',
    S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', trial_end: trialEnd }));
  assert.equal((await S.signedWebhook(ev)).json.status, 'processed');
  const key = `notify:trial_ending:${ev.id}`;
  const m = await messageOf(key);
  assertEnvelope(m, u, key);
  assert.equal(m.subject, `Your xSwarm trial ends on ${human(trialEnd)}`);
  assert.match(m.body, new RegExp(`Your xSwarm trial ends on ${human(trialEnd)}\\.\\r\\n`));
  assert.ok(m.body.includes(`\r\n${APP_URL}/billing\r\n`));
  await jobDone(key);
  const n = await note(key);
  assert.equal(n.state, 'sent');
  assert.equal(n.message_id, msgId(key));
  assert.equal(n.recipient, u.email);
  assert.equal(n.attempts, 1);
  assert.ok(n.sent_at);
});

test('N2 invoice.payment_failed: the amount from cents, the retry date, the invoice link; encoded subject', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const next = now() + 5 * 86400;
  const inv = S.invoice({ customer: u.customer, subscription: S.rid('sub_'), status: 'open', amount_due: 123456,
    next_payment_attempt: next, hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1/test_' + S.rid('', 12) });
  const ev = S.event('invoice.payment_failed', inv);
  assert.equal((await S.signedWebhook(ev)).json.status, 'processed');
  const key = `notify:payment_failed:${ev.id}`;
  const m = await messageOf(key);
  const raw = assertEnvelope(m, u, key);
  assert.equal(m.subject, 'We couldn\u2019t process your payment of $1,234.56');
  assert.match(raw, /^Subject: =\?utf-8\?B\?[A-Za-z0-9+/=]+\?=(\r\n =\?utf-8\?B\?[A-Za-z0-9+/=]+\?=)*\r\n/m, 'RFC 2047 words');
  assert.ok(m.body.includes('payment of $1,234.56 for your'));
  assert.ok(m.body.includes(`We will try again on ${human(next)}.`));
  assert.ok(m.body.includes(`\r\n${inv.hosted_invoice_url}\r\n`));

  /* Stripe's last attempt: no next date, no hosted page -> our billing page. */
  const u2 = await newUser({ tier: 'ai_secretary' });
  const inv2 = S.invoice({ customer: u2.customer, subscription: S.rid('sub_'), status: 'open', amount_due: 4000 });
  inv2.next_payment_attempt = null;
  const ev2 = S.event('invoice.payment_failed', inv2);
  await S.signedWebhook(ev2);
  const m2 = await messageOf(`notify:payment_failed:${ev2.id}`);
  assert.equal(m2.subject, 'We couldn\u2019t process your payment of $40.00');
  assert.ok(m2.body.includes('We will not try again automatically.'));
  assert.ok(!m2.body.includes('try again on'));
  assert.ok(m2.body.includes(`\r\n${APP_URL}/billing\r\n`));
});

test('N3 invoice.upcoming with overage: the projected amount and its breakdown', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  await B.liveSubscription({ user: u.id, customer: u.customer });
  const t = now();
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'voice', ?, ?, 'test', ?)", [u.id, 150 * 60, t, `n3:${u.id}:v`]);
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'sms', 120, ?, 'test', ?)", [u.id, t, `n3:${u.id}:s`]);
  const inv = S.invoice({ customer: u.customer, status: 'draft' });
  delete inv.id;
  const ev = S.event('invoice.upcoming', inv);
  assert.equal((await S.signedWebhook(ev)).json.status, 'processed');
  const key = `notify:projected_overage:${ev.id}`;
  const m = await messageOf(key);
  assertEnvelope(m, u, key);
  assert.equal(m.subject, 'Your xSwarm usage: $0.80 beyond your plan so far');
  assert.match(m.body, /Voice minutes +\$0\.65\r\n/);
  assert.match(m.body, /Text messages +\$0\.15\r\n/);
  assert.match(m.body, /Phone number +\$0\.00\r\n/);
  assert.match(m.body, /Total +\$0\.80\r\n/);
  assert.match(m.body, /The billing period ends on \d{1,2} [A-Z][a-z]+ \d{4};/);
});

test('N4 subscription cancelled and downgraded: tier display names', async () => {
  const u = await newUser({ tier: 'ai_buddy' });
  const id = S.rid('sub_');
  const t = now() - 30;
  await S.signedWebhook(S.event('customer.subscription.created', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary }), { created: t }));
  const del = S.event('customer.subscription.deleted', S.subscription({ id, customer: u.customer, price: PRICE.ai_secretary, status: 'canceled' }), { created: t + 1 });
  assert.equal((await S.signedWebhook(del)).json.status, 'processed');
  const key = `notify:subscription_cancelled:${del.id}`;
  const m = await messageOf(key);
  assertEnvelope(m, u, key);
  assert.equal(m.subject, 'Your xSwarm AI Secretary subscription has ended');
  assert.ok(m.body.includes('Your AI Secretary subscription has ended'));
  assert.ok(m.body.includes('free AI Buddy plan'));

  const d = await newUser({ tier: 'ai_project_manager' });
  const down = S.event('customer.subscription.updated', S.subscription({ customer: d.customer, price: PRICE.ai_secretary }));
  assert.equal((await S.signedWebhook(down)).json.status, 'processed');
  const dkey = `notify:subscription_downgraded:${down.id}`;
  const dm = await messageOf(dkey);
  assertEnvelope(dm, d, dkey);
  assert.equal(dm.subject, 'Your xSwarm plan changed to AI Secretary');
  assert.ok(dm.body.includes('from AI Project Manager to AI Secretary.'));
});

test('N5 phone_provisioned / phone_released jobs (as the phone code enqueues them) are sent', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const number = '+1555' + String(crypto.randomInt(1e7)).padStart(7, '0');
  for (const tmpl of ['phone_provisioned', 'phone_released']) {
    const key = `notify:${tmpl}:${u.id}:${number}`;
    await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('notify', ?, ?, ?)",
      [key, u.id, JSON.stringify({ template: tmpl, user_id: u.id, phone_number: number })]);
    const m = await messageOf(key);
    assertEnvelope(m, u, key);
    assert.equal(m.subject, tmpl === 'phone_provisioned' ? `Your xSwarm phone number ${number} is ready`
      : `Your xSwarm phone number ${number} has been released`);
    assert.ok(m.body.includes(number));
  }
});

test('N6 redelivered event, and a job run again after a crash between send and "done": still one e-mail', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const ev = S.event('customer.subscription.trial_will_end',
    S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', trial_end: now() + 86400 }));
  await S.signedWebhook(ev);
  const key = `notify:trial_ending:${ev.id}`;
  await messageOf(key);
  await jobDone(key);
  /* Stripe redelivers (and again, later): duplicates, no second job. */
  assert.equal((await S.signedWebhook(ev)).json.status, 'duplicate');
  assert.equal((await S.signedWebhook(ev)).json.status, 'duplicate');
  assert.equal((await query('SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key = ?', [key]))[0].n, 1);
  /* The worker died after the relay's 250 and our "sent", before the job
   * was marked done: the job comes back (as after its lease expired). */
  const before = await job(key);
  await query("UPDATE jobs SET state = 'pending', run_after = NOW(6), locked_by = NULL WHERE dedupe_key = ?", [key]);
  await waitFor(async () => { const j = await job(key); return j.state === 'done' && j.attempts > before.attempts; },
    { timeoutMs: 20000, what: 'the job run again' });
  await sleep(1000);
  const got = await inbox(u.email);
  assert.equal(got.length, 1, 'one e-mail');
  const n = await note(key);
  assert.equal(n.state, 'sent');
  assert.equal(n.attempts, 1, 'one SMTP transaction');
});

test('N6b the documented window: a crash after the relay\'s 250 but before "sent" sends again, with the same Message-ID', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  const ev = S.event('customer.subscription.trial_will_end',
    S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', trial_end: now() + 86400 }));
  await S.signedWebhook(ev);
  const key = `notify:trial_ending:${ev.id}`;
  await messageOf(key);
  await jobDone(key);
  /* As if the worker had died right after the 250: neither "sent" nor "done" written. */
  await query("UPDATE notifications SET state = 'sending', sent_at = NULL WHERE dedupe_key = ?", [key]);
  await query("UPDATE jobs SET state = 'pending', run_after = NOW(6), locked_by = NULL WHERE dedupe_key = ?", [key]);
  const two = await waitFor(async () => { const g = await inbox(u.email); return g.length === 2 && g; }, { timeoutMs: 20000, what: 'the second copy' });
  assert.equal(two[0].messageId, two[1].messageId, 'the receiving side can drop the copy by its Message-ID');
  assert.equal(two[1].messageId, msgId(key));
  await jobDone(key);
  const n = await note(key);
  assert.equal(n.state, 'sent');
  assert.equal(n.attempts, 2);
});

test('N7 SMTP down (421): the job retries with backoff, then the e-mail goes once, to the address of send time', async () => {
  const u = await newUser({ tier: 'ai_secretary' });
  await mail.setDown(true);
  try {
    const inv = S.invoice({ customer: u.customer, subscription: S.rid('sub_'), status: 'open', amount_due: 4000 });
    const ev = S.event('invoice.payment_failed', inv);
    assert.equal((await S.signedWebhook(ev)).json.status, 'processed');
    const key = `notify:payment_failed:${ev.id}`;
    const j = await waitFor(async () => { const r = await job(key); return r && r.attempts >= 2 && r.state === 'pending' && r; },
      { timeoutMs: 30000, what: 'two failed attempts' });
    assert.match(j.last_error, /421/);
    const n = await note(key);
    assert.equal(n.state, 'deferred', 'refused at MAIL FROM: certainly not delivered');
    assert.match(n.last_error, /421/);
    assert.equal((await inbox(u.email)).length, 0);
    /* The user changes address while the relay is away. */
    const newer = `${crypto.randomUUID()}@example.test`;
    await query('UPDATE users SET email = ? WHERE id = ?', [newer, u.id]);
    await mail.setDown(false);
    const m = await messageOf(key, 30000);
    assert.deepEqual(m.to, [newer], 'the address is read at send time');
    await jobDone(key);
    await sleep(1000);
    assert.equal((await inbox(newer)).length, 1, 'exactly once');
    assert.equal((await inbox(u.email)).length, 0);
    const done = await job(key);
    assert.ok(done.attempts >= 3, `attempts ${done.attempts}`);
    assert.equal((await note(key)).state, 'sent');
  } finally {
    await mail.setDown(false);
  }
});

test('N8 a worker killed while the relay is down: after the restart the e-mail goes once', async () => {
  const pidFile = path.join(VAR_DIR, 'run', 'worker.pid');
  const u = await newUser({ tier: 'ai_secretary' });
  await mail.setDown(true);
  try {
    const ev = S.event('customer.subscription.trial_will_end',
      S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', trial_end: now() + 86400 }));
    await S.signedWebhook(ev);
    const key = `notify:trial_ending:${ev.id}`;
    await waitFor(async () => (await job(key))?.attempts >= 1, { timeoutMs: 20000, what: 'a first attempt' });
    process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
    await mail.setDown(false);
    execFileSync(path.join(REPO_ROOT, 'scripts', 'stack'), ['up'], { stdio: 'ignore', env: process.env });
    await messageOf(key, 30000);
    await jobDone(key, 30000);
    await sleep(1000);
    assert.equal((await inbox(u.email)).length, 1);
    assert.equal((await note(key)).state, 'sent');
  } finally {
    await mail.setDown(false);
  }
});

test('N9 permanent failures: a recipient the relay refuses (5xx), an unknown template: dead at once, nothing sent', async () => {
  /* Passes our syntax check, refused by the relay with 501. */
  const u = await newUser({ tier: 'ai_secretary', email: `${crypto.randomUUID()}@x..test` });
  const ev = S.event('customer.subscription.trial_will_end',
    S.subscription({ customer: u.customer, price: PRICE.ai_secretary, status: 'trialing', trial_end: now() + 86400 }));
  await S.signedWebhook(ev);
  const key = `notify:trial_ending:${ev.id}`;
  const j = await waitFor(async () => { const r = await job(key); return r?.state === 'dead' && r; }, { timeoutMs: 20000, what: 'job dead' });
  assert.equal(j.attempts, 1);
  assert.match(j.last_error, /RCPT failed: 5\d\d/);
  const n = await note(key);
  assert.equal(n.state, 'failed');

  const v = await newUser();
  const bad = `notify:welcome:${v.id}`;
  await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('notify', ?, ?, ?)",
    [bad, v.id, JSON.stringify({ template: 'welcome', user_id: v.id })]);
  const b = await waitFor(async () => { const r = await job(bad); return r?.state === 'dead' && r; }, { timeoutMs: 20000, what: 'job dead' });
  assert.equal(b.attempts, 1);
  assert.match(b.last_error, /unknown notification template welcome/);
  const missing = `notify:phone_provisioned:${v.id}`;
  await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('notify', ?, ?, ?)",
    [missing, v.id, JSON.stringify({ template: 'phone_provisioned', user_id: v.id })]);
  const c = await waitFor(async () => { const r = await job(missing); return r?.state === 'dead' && r; }, { timeoutMs: 20000, what: 'job dead' });
  assert.match(c.last_error, /field phone_number missing/);
  assert.equal((await inbox(v.email)).length, 0);
});

test('N10 the transport dot-stuffs: a line that is a lone "." arrives intact (libcurl, as the worker uses it)', async () => {
  const rcpt = `${crypto.randomUUID()}@example.test`;
  const file = path.join(VAR_DIR, 'dot-test.eml');
  fs.writeFileSync(file, `From: a@example.test\r\nTo: ${rcpt}\r\nSubject: dots\r\n\r\nbefore\r\n.\r\n..two\r\n.x\r\nafter\r\n`);
  execFileSync('curl', ['-sS', env.SMTP_URL, '--mail-from', 'a@example.test', '--mail-rcpt', rcpt, '-T', file]);
  const m = await mail.waitFor((x) => x.to.includes(rcpt), { timeoutMs: 10000 });
  assert.equal(m.body, 'before\r\n.\r\n..two\r\n.x\r\nafter\r\n');
  fs.rmSync(file, { force: true });
});
