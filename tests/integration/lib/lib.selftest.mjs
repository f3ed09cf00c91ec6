// Self-test of the integration helpers without the real stack:
//   node --test tests/integration/lib/lib.selftest.mjs
// It writes a throw-away stack.env in a temp dir (XSB_VAR), serves HTTPS locally with a fresh
// self-signed certificate (openssl CLI), and starts the Stripe stand-in and the SMTP sink from
// tests/peers. db.mjs is not covered here (needs MariaDB).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import https from 'node:https';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import twilioPkg from 'twilio';
import Stripe from 'stripe';
import { dtsProps } from './dts.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-lib-selftest-'));
const peers = fileURLToPath(new URL('../../peers/', import.meta.url));
const WEBHOOK_SECRET = 'whsec_selftest_0123456789abcdef';
const TWILIO_TOKEN = '12345';
const children = [];
let server, lib = {}, received = [];

function startPeer(script, args, re) {
  const child = spawn(process.execPath, [path.join(peers, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => { buf += d; const m = re.exec(buf); if (m) resolve(m[1]); });
    child.on('exit', (c) => reject(new Error(`${script} exited ${c}`)));
  });
}

before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem')], { stdio: 'ignore' });
  server = https.createServer({ key: fs.readFileSync(path.join(tmp, 'key.pem')), cert: fs.readFileSync(path.join(tmp, 'cert.pem')) }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path: req.url }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const stripeUrl = await startPeer('stripe.mjs', ['--port', '0', '--key', 'sk_test_lib', '--price', 'price_ai_secretary=4000'], /listening on (http:\/\/\S+)/);
  const smtpPort = await startPeer('smtp-sink.mjs', ['--port', '0', '--dir', path.join(tmp, 'mail')], /listening on [\d.]+:(\d+)/);
  fs.writeFileSync(path.join(tmp, 'stack.env'), [
    '# written by lib.selftest.mjs',
    `BASE_URL=https://127.0.0.1:${server.address().port}`,
    'TLS_CERT=cert.pem',
    `export STRIPE_WEBHOOK_SECRETS="${WEBHOOK_SECRET}, whsec_old"`,
    `STRIPE_API_BASE=${stripeUrl}`,
    `TWILIO_AUTH_TOKEN='${TWILIO_TOKEN}'`,
    'PUBLIC_BASE_URL=https://billing.example.test',
    'MAIL_DIR=mail',
    `SMTP_PORT=${smtpPort}`,
    'OVERRIDDEN=from-file # trailing comment',
  ].join('\n'));
  process.env.XSB_VAR = tmp;
  process.env.OVERRIDDEN = 'from-process';
  for (const m of ['env', 'http', 'stripe', 'twilio', 'mail', 'wait']) lib[m] = await import(`./${m}.mjs`);
});
after(() => {
  lib.http?.closeHttp();
  server?.close();
  for (const c of children) c.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('env: file parsing, quotes, process.env overrides, relative paths', () => {
  const { env, envPath, requireEnv } = lib.env;
  assert.equal(env.TWILIO_AUTH_TOKEN, TWILIO_TOKEN);
  assert.equal(env.STRIPE_WEBHOOK_SECRETS, `${WEBHOOK_SECRET}, whsec_old`);
  assert.equal(env.OVERRIDDEN, 'from-process');
  assert.equal(envPath('TLS_CERT'), path.join(tmp, 'cert.pem'));
  assert.throws(() => requireEnv('NOPE_NOT_SET'), /NOPE_NOT_SET/);
  assert.deepEqual(lib.env.parseEnvFile('A=1\n# c\nexport B="x \\"y\\""\nC=\'$z\'\n'), { A: '1', B: 'x "y"', C: '$z' });
});

test('http: JSON request over TLS with the stack cert; raw request sends bytes as given', async () => {
  received = [];
  const r = await lib.http.request('POST', '/api/billing/checkout', { json: { tier: 'ai_secretary' }, token: 'jwt.abc' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { ok: true, path: '/api/billing/checkout' });
  assert.equal(received[0].headers.authorization, 'Bearer jwt.abc');
  assert.equal(received[0].headers['content-type'], 'application/json');
  assert.equal(received[0].body, '{"tier":"ai_secretary"}');
  await lib.http.rawRequest('POST', '/x', { body: '{not json', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(received[1].body, '{not json');
  assert.equal(received[1].headers['content-type'], 'text/plain');
});

test('stripe: webhook signature verifies with the stripe package and is POSTed', async () => {
  const S = lib.stripe;
  const sub = S.subscription({ customer: 'cus_1', price: 'price_ai_secretary', unit_amount: 4000, user_id: 42, status: 'trialing', trial_end: 1900000000 });
  assert.match(sub.id, /^sub_[A-Za-z0-9]{24}$/);
  assert.equal(sub.metadata.user_id, '42');
  assert.equal(sub.items.data[0].price.id, 'price_ai_secretary');
  assert.equal(sub.items.data[0].current_period_end, undefined, '2023-08-16: the period is on the subscription');
  const evt = S.event('customer.subscription.updated', sub, { previous_attributes: { status: 'incomplete' } });
  assert.match(evt.id, /^evt_/);
  assert.equal(evt.api_version, '2023-08-16');
  assert.equal(S.event('invoice.paid', { ...S.invoice({ shape: 'current' }), attempt_count: 2 }).api_version, '2026-10-28.endive');
  assert.equal(S.API_VERSION, Stripe.API_VERSION, 'the current shape is the pinned package\'s version');
  assert.deepEqual(Object.keys(evt).sort(), ['api_version', 'created', 'data', 'id', 'livemode', 'object', 'pending_webhooks', 'request', 'type']);
  received = [];
  const r = await S.signedWebhook(evt);
  assert.equal(r.status, 200);
  const got = received[0];
  assert.equal(got.url, '/stripe/webhook');
  const verified = S.verifySignature(got.body, got.headers['stripe-signature'], WEBHOOK_SECRET);
  assert.equal(verified.id, evt.id);
  assert.match(got.headers['stripe-signature'], /^t=\d+,v1=[0-9a-f]{64}$/);
  // an old timestamp fails verification (what the C code must reject too)
  const old = S.signatureHeader(evt, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
  assert.throws(() => S.verifySignature(JSON.stringify(evt), old, WEBHOOK_SECRET), /tolerance/i);
  const inv = S.invoice({ customer: 'cus_1', subscription: sub.id, status: 'paid', billing_reason: 'subscription_cycle', user_id: 42,
    lines: [{ amount: 4000, type: 'subscription' }, { amount: 65, type: 'invoiceitem', description: 'overage' }] });
  assert.equal(inv.amount_due, 4065);
  assert.equal(inv.amount_paid, 4065);
  assert.equal(inv.paid, true);
  const cs = S.checkoutSession({ user_id: 42, customer: 'cus_1' });
  assert.equal(cs.client_reference_id, '42');
  assert.equal(cs.object, 'checkout.session');
});

// Keys of a built object against an interface of the stripe package's .d.ts: every required
// property present, none that the type does not declare (optional ones may be left out).
function assertKeys(obj, file, name) {
  const { all, required } = dtsProps(file, name), keys = Object.keys(obj);
  assert.deepEqual(required.filter((k) => !keys.includes(k)), [], `${name}: missing required properties`);
  assert.deepEqual(keys.filter((k) => !all.includes(k)), [], `${name}: properties the type does not declare`);
}

test('stripe: current-shape builders carry exactly the properties of the .d.ts types', () => {
  const S = lib.stripe;
  const sub = S.subscription({ shape: 'current', customer: 'cus_1', price: 'price_ai_secretary', user_id: 42, trial_end: 1900000000 });
  assertKeys(sub, 'Subscriptions.d.ts', 'Subscription');
  assertKeys(sub.automatic_tax, 'Subscriptions.d.ts', 'Subscription.AutomaticTax');
  assertKeys(sub.billing_mode, 'Subscriptions.d.ts', 'Subscription.BillingMode');
  assertKeys(sub.invoice_settings, 'Subscriptions.d.ts', 'Subscription.InvoiceSettings');
  assertKeys(sub.cancellation_details, 'Subscriptions.d.ts', 'Subscription.CancellationDetails');
  assertKeys(sub.payment_settings, 'Subscriptions.d.ts', 'Subscription.PaymentSettings');
  assertKeys(sub.trial_settings, 'Subscriptions.d.ts', 'Subscription.TrialSettings');
  assertKeys(sub.items.data[0], 'SubscriptionItems.d.ts', 'SubscriptionItem');
  assertKeys(sub.items.data[0].price, 'Prices.d.ts', 'Price');
  assertKeys(sub.items.data[0].price.recurring, 'Prices.d.ts', 'Price.Recurring');
  assert.equal(sub.current_period_start, undefined);
  assert.ok(sub.items.data[0].current_period_end > sub.items.data[0].current_period_start);
  const inv = S.invoice({ shape: 'current', customer: 'cus_1', subscription: sub.id, status: 'open', user_id: 42,
    lines: [{ amount: 4000, type: 'subscription' }, { amount: 65, type: 'invoiceitem', description: 'overage' }, { amount: -10, proration: true }] });
  assertKeys(inv, 'Invoices.d.ts', 'Invoice');
  for (const k of ['AutomaticTax', 'Issuer', 'Parent', 'Parent.SubscriptionDetails', 'PaymentSettings', 'StatusTransitions'])
    assertKeys(k.split('.').reduce((o, p) => o[p.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()], inv), 'Invoices.d.ts', `Invoice.${k}`);
  assert.equal(inv.parent.subscription_details.subscription, sub.id);
  assert.equal(inv.parent.subscription_details.metadata.user_id, '42');
  assert.equal(inv.amount_due, 4055);
  for (const l of inv.lines.data) {
    assertKeys(l, 'InvoiceLineItems.d.ts', 'InvoiceLineItem');
    assertKeys(l.parent, 'InvoiceLineItems.d.ts', 'InvoiceLineItem.Parent');
    assertKeys(l.pricing, 'InvoiceLineItems.d.ts', 'InvoiceLineItem.Pricing');
    assertKeys(l.pricing.price_details, 'InvoiceLineItems.d.ts', 'InvoiceLineItem.Pricing.PriceDetails');
    assertKeys(l.period, 'InvoiceLineItems.d.ts', 'InvoiceLineItem.Period');
  }
  const [l0, l1, l2] = inv.lines.data;
  assertKeys(l0.parent.subscription_item_details, 'InvoiceLineItems.d.ts', 'InvoiceLineItem.Parent.SubscriptionItemDetails');
  assertKeys(l1.parent.invoice_item_details, 'InvoiceLineItems.d.ts', 'InvoiceLineItem.Parent.InvoiceItemDetails');
  assert.deepEqual([l0.parent.type, l1.parent.type, l2.parent.subscription_item_details.proration], ['subscription_item_details', 'invoice_item_details', true]);
  assert.equal(l0.parent.subscription_item_details.subscription, sub.id);
  const cs = S.checkoutSession({ shape: 'current', user_id: 42, customer: 'cus_1' });
  assertKeys(cs, 'Checkout/Sessions.d.ts', 'Session');
  assertKeys(cs.customer_details, 'Checkout/Sessions.d.ts', 'Session.CustomerDetails');
  assertKeys(cs.custom_text, 'Checkout/Sessions.d.ts', 'Session.CustomText');
  assertKeys(cs.total_details, 'Checkout/Sessions.d.ts', 'Session.TotalDetails');
  const evt = S.event('checkout.session.completed', cs);
  assertKeys(evt, 'Events.d.ts', 'EventBase');
  assert.equal(evt.api_version, S.API_VERSION);
  assert.equal(JSON.stringify(evt).includes('Symbol'), false);
});

test('stripe: stand-in control client', async () => {
  const { standin } = lib.stripe;
  await standin.reset();
  const sub = await standin.createSubscription({ customer: 'cus_ctl', price: 'price_ai_secretary' });
  assert.equal((await standin.object(sub.id)).id, sub.id);
  const inv = await standin.createInvoice({ subscription: sub.id });
  assert.equal(inv.amount_due, 4000);
  await standin.fail({ count: 1, status: 503 });
  const r = await fetch(new URL('/v1/customers/cus_ctl', lib.env.env.STRIPE_API_BASE), { headers: { authorization: 'Bearer sk_test_lib', 'stripe-version': '2026-10-28.endive' } });
  assert.equal(r.status, 503);
  const reqs = await standin.requests({ path_prefix: '/v1/customers' });
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].status, 503);
});

test('twilio: known signature vector and signed callback', async () => {
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
  // Twilio's published example (auth token 12345)
  assert.equal(lib.twilio.signTwilio('https://mycompany.com/myapp.php?foo=1&bar=2', params, { authToken: '12345' }), 'RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  received = [];
  const r = await lib.twilio.postCallback('/phone/status/voice', { CallSid: 'CA' + 'a'.repeat(32), CallStatus: 'completed', CallDuration: '61' });
  assert.equal(r.status, 200);
  const got = received[0];
  assert.equal(got.headers['content-type'], 'application/x-www-form-urlencoded');
  const form = Object.fromEntries(new URLSearchParams(got.body));
  assert.ok(twilioPkg.validateRequest(TWILIO_TOKEN, got.headers['x-twilio-signature'], 'https://billing.example.test/phone/status/voice', form));
  await lib.twilio.postCallback('/phone/status/voice', { CallSid: 'x' }, { signature: false });
  assert.equal(received[1].headers['x-twilio-signature'], undefined);
});

// A minimal SMTP client: enough to drive the sink.
function smtpSend(port, lines) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const replies = [];
    let buf = '', i = 0;
    sock.on('data', (d) => {
      buf += d;
      let m;
      while ((m = /^(\d{3}) .*\r\n/m.exec(buf))) { // last line of a (possibly multi-line) reply
        replies.push(m[0].trim());
        buf = buf.slice(m.index + m[0].length);
        if (i < lines.length) sock.write(lines[i++] + '\r\n'); else sock.end();
      }
    });
    sock.on('end', () => resolve(replies));
    sock.on('error', reject);
  });
}

test('mail: sink stores messages; list, waitFor, and the down switch', async () => {
  const port = Number(lib.env.env.SMTP_PORT);
  await lib.mail.clear();
  const replies = await smtpSend(port, ['EHLO selftest', 'MAIL FROM:<billing@xswarm.test>', 'RCPT TO:<u@example.com>', 'DATA',
    'From: billing@xswarm.test\r\nTo: u@example.com\r\nSubject: =?utf-8?B?UmVjZWlwdCDigJMgJDQwLjAw?=\r\nMessage-ID: <m1@xswarm.test>\r\n\r\nThanks!\r\n.', 'QUIT']);
  assert.match(replies[5], /^250 Message queued/, replies.join(' | '));
  const m = await lib.mail.waitFor((x) => x.to.includes('u@example.com'), { timeoutMs: 2000 });
  assert.equal(m.subject, 'Receipt – $40.00');
  assert.equal(m.messageId, '<m1@xswarm.test>');
  assert.equal(m.body, 'Thanks!\r\n');
  assert.equal((await lib.mail.to('U@example.com')).length, 1);
  await lib.mail.setDown(true);
  const down = await smtpSend(port, ['EHLO selftest', 'MAIL FROM:<billing@xswarm.test>', 'QUIT']);
  assert.match(down[2], /^421 /);
  await lib.mail.setDown(false);
  await assert.rejects(lib.wait.waitFor(() => false, { timeoutMs: 100, what: 'nothing' }), /nothing/);
});
