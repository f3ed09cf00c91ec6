// The rating engine (docs/BILLING.md) against the cases issue #14 found, D1-D8, each named: Stripe's
// events in the orders Stripe allows, delivered signed through nginx, the bills checked in our tables
// (through the admin API) and, where posted, on the Stripe stand-in. Expected amounts are worked out here
// from the price list, never with our functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, rawRequest, closeHttp } from './lib/http.mjs';
import { query, asAdmin, asAdminScript, close, hold, lockWaits } from './lib/db.mjs';
import { waitFor } from './lib/wait.mjs';
import { mint } from './lib/token.mjs';
import { requireEnv } from './lib/env.mjs';
import * as S from './lib/stripe.mjs';
import * as B from './lib/bills.mjs';

test.after(async () => { await S.standin.fail({ clear: true }); closeHttp(); await close(); });

const DAY = 86400;
const now = () => Math.floor(Date.now() / 1000);
const admin = () => mint(['-u', 'engine-test', '-r', 'admin']);
const cur = { api_version: S.API_VERSION };
const send = async (type, obj, created) => {
  const r = await S.signedWebhook(S.event(type, obj, { ...cur, created }));
  assert.equal(r.status, 200, `${type}: ${r.text}`);
  return r.json;
};
// The stand-in's subscription sub changed as Stripe would change it (no event sent; the test sends it).
const changeSub = (sub, o) => S.standin.createSubscription({ id: sub.id, silent: true, ...o });
const bills = async (user) => {
  const r = await request('GET', `/api/admin/users/${user}/bills`, { token: admin() });
  assert.equal(r.status, 200, r.text);
  return r.json.bills;
};
// The lines of the bill of period start ps: {kind: [quantity, cents]}.
const linesOf = async (user, ps) => {
  const b = (await bills(user)).find((x) => x.period_start === ps);
  assert.ok(b, `a bill for the period starting ${ps}`);
  return Object.fromEntries(b.lines.map((l) => [l.kind, [l.quantity, l.amount_cents]]));
};
const jobDone = (b, what) => waitFor(async () => (await B.jobOf(b))?.state === 'done', { timeoutMs: 30000, what });
const halfUp = (hundredths) => Math.floor((hundredths + 50) / 100);
const calls = (n, seconds) => Array.from({ length: n }, () => ['voice', seconds]);

// D1: a project manager with 400 min and 450 SMS whose move to ai_secretary takes effect at the renewal:
// the period that ended was entirely on ai_project_manager (500 + 500 included), whatever order the
// renewal's subscription update and invoice arrive in. Before the engine: 390 + 263 c, or nothing.
for (const order of ['update first', 'invoice first', 'deletion first']) {
  test(`D1 the order of the renewal's events does not decide the allowance (${order})`, async () => {
    const b = await B.billedUser({ tier: 'ai_project_manager', usage: [...calls(8, 3000), ['sms', 450]], invoice: order !== 'deletion first' });
    const next = { current_period_start: b.pe, current_period_end: b.pe + 30 * DAY };
    if (order === 'deletion first') {
      // Cancelled at the period's end: the subscription's last period is billed by its final bill.
      const gone = await changeSub(b.sub, { status: 'canceled' });
      await send('customer.subscription.deleted', { ...gone, ended_at: b.pe }, b.pe);
    } else {
      const moved = await changeSub(b.sub, { price: 'price_ai_secretary', ...next });
      const evs = [() => send('customer.subscription.updated', moved, b.pe), () => send('invoice.created', b.inv, b.pe)];
      if (order === 'invoice first') evs.reverse();
      for (const e of evs) await e();
    }
    await waitFor(async () => (await bills(b.id)).length === 1, { timeoutMs: 20000, what: 'the period rated' });
    const lines = await linesOf(b.id, b.ps);
    assert.deepEqual(lines, { phone: [1, 500] }, '400 min and 450 SMS are inside 500 and 500');
    const [bill] = await bills(b.id);
    assert.deepEqual(bill.computation.stretches.map((x) => x.tier), ['ai_project_manager']);
    if (order !== 'deletion first') {
      await jobDone(b, 'bill posted');
      assert.deepEqual(await B.onInvoice(b.inv.id), [['phone', 500]]);
    }
  });
}

// D1, mid-period: an upgrade ten days into a thirty-day period counts each tier by its share.
test('D1 an upgrade mid-period: each tier counts by the share of the period it was in force', async () => {
  const pe = now() - 60, ps = pe - 30 * DAY;
  const b = await B.billedUser({ ps, pe, usage: [...calls(8, 3000), ['sms', 450]] });
  const up = await changeSub(b.sub, { price: 'price_ai_project_manager' });
  await send('customer.subscription.updated', up, ps + 10 * DAY);
  await send('invoice.created', b.inv, pe);
  await jobDone(b, 'bill posted');
  // floor(100 x 10/30 + 500 x 20/30) = 366 included: voice 34 over = 44.2 c, SMS 84 over = 63 c.
  const included = Math.floor((100 * 10 * DAY + 500 * 20 * DAY) / (30 * DAY));
  assert.equal(included, 366);
  assert.deepEqual(await linesOf(b.id, ps), { voice: [400 - included, halfUp((400 - included) * 130)], sms: [450 - included, halfUp((450 - included) * 75)], phone: [1, 500] });
  assert.deepEqual(await B.onInvoice(b.inv.id), [['phone', 500], ['sms', 63], ['voice', 44]]);
});

// D2: usage dated inside a period already billed is billed by the next bill, as an adjustment.
test('D2 late usage of a billed period is an adjustment line on the next bill', async () => {
  const p1e = now() - 5 * DAY, p1s = p1e - 30 * DAY, p2e = p1e + 30 * DAY;
  const b = await B.billedUser({ ps: p1s, pe: p1e, usage: calls(101, 1), phone: false });
  await send('invoice.created', b.inv, p1e);
  await jobDone(b, 'period 1 billed');
  assert.deepEqual(await linesOf(b.id, p1s), { voice: [1, 1] }, '101 min: 1 over, 1.3 -> 1 c');
  // 20 more one-second calls of period 1, reported late through the API (occurred_at 10 days before its end).
  const svc = mint(['-u', 'engine-svc', '-r', 'service']);
  for (let i = 0; i < 20; i++) {
    const r = await request('POST', '/api/usage', { token: svc, json: { user_id: b.id, kind: 'voice', quantity: 1, occurred_at: p1e - 10 * DAY + i, idempotency_key: `late-${b.id}-${i}` } });
    assert.equal(r.status, 201, r.text);
  }
  const inv2 = await B.renewalInvoice({ cus: b.cus, sub: b.sub, ps: p1e, pe: p2e });
  await S.standin.createSubscription({ id: b.sub.id, current_period_start: p1e, current_period_end: p2e, silent: true });
  await send('invoice.created', inv2, p2e);
  const b2 = { ...b, ps: p1e };
  await jobDone(b2, 'period 2 billed');
  // Period 1 with the late calls: 121 min, 21 over; 1 was billed: the adjustment is 20 min, 26 c. (Period 2 has
  // no call; its SMS and the number bought when the tier began are its own lines.)
  const l2 = await linesOf(b.id, p1e);
  assert.deepEqual([l2.voice_adjust, l2.voice, l2.sms_adjust], [[20, 26], undefined, undefined]);
  const onInv = (await S.standin.object(inv2.id)).lines.data.filter((l) => l.metadata?.kind === 'voice_adjust');
  assert.deepEqual(onInv.map((l) => [l.quantity, l.amount]), [[20, 26]]);
  assert.match(onInv[0].description, /late usage of \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d/);
  // Every call is covered by exactly one bill.
  const cover = await query("SELECT COUNT(*) AS n, COUNT(DISTINCT u.id) AS d FROM usage_events u JOIN bill_usage c ON c.usage_id = u.id WHERE u.user_id = ? AND u.kind = 'voice'", [b.id]);
  assert.deepEqual([Number(cover[0].n), Number(cover[0].d)], [121, 121]);
  // The operators' view of one period's bill (xsb-admin bill USER PERIOD_START).
  const one = await request('GET', `/api/admin/users/${b.id}/bills?period_start=${p1s}`, { token: admin() });
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.json.bills.map((x) => x.period_start), [p1s]);
  assert.equal((await bills(b.id)).length, 2);
  for (const q of ['abc', '-5', '0', `${p1s}&period_start=${p1e}`]) {
    const bad = await request('GET', `/api/admin/users/${b.id}/bills?period_start=${q}`, { token: admin() });
    assert.equal(bad.status, 400, `${q}: ${bad.text}`);
    assert.equal(bad.json.error.code, 'invalid_period_start');
  }
});

// D3: usage arriving between two attempts of a job changes nothing it posts: the bill is frozen.
test('D3 a bill is frozen: usage arriving between attempts changes no parameter, no line is lost', async () => {
  const b = await B.billedUser();
  await S.standin.fail({ count: 1, status: 500, method: 'POST', path_prefix: '/v1/invoiceitems' });
  await send('invoice.created', b.inv, b.pe);
  await waitFor(async () => (await B.billOf(b)) !== undefined && (await B.jobOf(b))?.attempts >= 1, { timeoutMs: 15000, what: 'rated, first attempt made' });
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'sms', 300, ?, 'test', ?)", [b.id, b.ps + 99, `${b.id}:between`]);
  await jobDone(b, 'bill posted after the retry');
  assert.deepEqual(await B.onInvoice(b.inv.id), B.expectedItems(), 'the lines rated first, each once');
  const posts = await B.itemPosts(b.inv.id);
  assert.ok(posts.every((q) => q.status === 200 || q.injected), `no refusal: ${posts.map((q) => q.status)}`);
});

// D4: invoice.paid before invoice.created: the period is billed anyway; the invoice is no draft, so the
// lines are pending items, which Stripe sweeps into the next invoice.
test('D4 a renewal paid before its invoice.created arrives: the period is billed as pending items', async () => {
  const b = await B.billedUser({ invoice: false });
  const inv = await B.renewalInvoice({ ...b, status: 'paid' });
  await send('invoice.paid', inv, b.pe + 3600);
  await jobDone(b, 'bill posted');
  const [bill] = await bills(b.id);
  assert.deepEqual(bill.lines.map((l) => [l.kind, l.target]).sort(), [['phone', 'pending'], ['sms', 'pending'], ['voice', 'pending']]);
  const pending = await S.standin.requests({ method: 'POST', path: '/v1/invoiceitems' });
  const mine = pending.filter((q) => q.form?.customer === b.cus.id && q.status === 200);
  assert.deepEqual(mine.map((q) => [q.form.metadata.kind, q.form.invoice]).sort(), [['phone', undefined], ['sms', undefined], ['voice', undefined]]);
  // The late invoice.created of the same invoice bills nothing more.
  await send('invoice.created', { ...inv, status: 'draft' }, b.pe);
  assert.equal((await query('SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key LIKE ?', [`bill_period:${b.sub.id}:%`]))[0].n, 1);
});

// D5: events of a customer not yet linked are applied once it is.
test('D5 unmatched events apply themselves when their customer becomes known', async () => {
  // A subscription event for a customer nobody knows yet (no user in its metadata): stored unmatched.
  const cus = await S.standin.createCustomer({ email: 'late@example.test', silent: true });
  const user = `d5-${cus.id}`;
  await query("INSERT INTO users (id, email) VALUES (?, 'late@example.test')", [user]);
  const sub = await S.standin.createSubscription({ customer: cus.id, price: 'price_ai_secretary', current_period_start: now() - DAY,
    current_period_end: now() + 29 * DAY, silent: true });
  assert.equal((await send('customer.subscription.created', sub, now() - DAY)).status, 'unmatched');
  // Checkout completes: the customer is linked to the user; the stored event follows.
  const cs = S.checkoutSession({ customer: cus.id, subscription: sub.id, user_id: user });
  assert.equal((await send('checkout.session.completed', cs)).status, 'processed');
  await waitFor(async () => (await query('SELECT tier FROM users WHERE id = ?', [user]))[0].tier === 'ai_secretary',
    { timeoutMs: 20000, what: 'the unmatched subscription applied' });
  const evs = await query("SELECT status FROM stripe_events WHERE object_id = ? AND type = 'customer.subscription.created'", [sub.id]);
  assert.deepEqual(evs.map((e) => e.status), ['processed']);
  // The replay takes the event off the list after applying it (its own statement): soon after the tier.
  await waitFor(async () => Number((await query('SELECT COUNT(*) AS n FROM unmatched_events WHERE customer_id = ?', [cus.id]))[0].n) === 0,
    { timeoutMs: 20000, what: 'the replayed event off the unmatched list' });
});

// D6: an invoice's history never moves back to draft.
test('D6 invoice.created after invoice.payment_failed leaves the invoice open', async () => {
  const b = await B.billedUser({ invoice: false });
  const inv = await B.renewalInvoice({ ...b, status: 'open' });
  await send('invoice.payment_failed', { ...inv, attempt_count: 1 }, b.pe + 3600);
  await send('invoice.created', { ...inv, status: 'draft', attempt_count: 0 }, b.pe);
  assert.equal((await query('SELECT status FROM invoices WHERE id = ?', [inv.id]))[0].status, 'open');
});

// D7: a subscription that ends mid-period has its last period billed: the paid tier counts up to the end.
test('D7 the last period of a subscription that ends is billed', async () => {
  const ps = now() - 20 * DAY, pe = ps + 30 * DAY, ended = ps + 15 * DAY;
  const b = await B.billedUser({ ps, pe, invoice: false, usage: [...calls(80, 30), ['sms', 35], ['sms', 35]] });
  const gone = await changeSub(b.sub, { status: 'canceled' });
  await send('customer.subscription.deleted', { ...gone, ended_at: ended }, ended);
  await waitFor(async () => (await bills(b.id)).length === 1, { timeoutMs: 20000, what: 'the last period rated' });
  // floor(100 x 15/30) = 50 included: voice 80 - 50 = 30 over (39 c), SMS 70 - 50 = 20 over (15 c), the number 500 c.
  assert.deepEqual(await linesOf(b.id, ps), { voice: [30, 39], sms: [20, 15], phone: [1, 500] });
  const [bill] = await bills(b.id);
  assert.equal(bill.kind, 'final');
  assert.equal(bill.usage_end, ended);
});

// D7b: the one-off invoice of a final bill, made by Stripe but answered 500 (saved for its key, so every retry under
// the key gets the 500 again): the job finds the invoice among the customer's by its metadata and finalizes it.
test('D7b a one-off invoice Stripe made but answered 500 for is found, not made again, and finalized', async () => {
  const ps = now() - 20 * DAY, pe = ps + 30 * DAY, ended = ps + 15 * DAY;
  const b = await B.billedUser({ ps, pe, invoice: false, usage: calls(80, 30) });
  await S.standin.fail({ count: 1, status: 500, method: 'POST', path_prefix: '/v1/invoices', when: 'after' });
  try {
    const gone = await changeSub(b.sub, { status: 'canceled' });
    await send('customer.subscription.deleted', { ...gone, ended_at: ended }, ended);
    await waitFor(async () => (await query("SELECT state FROM jobs WHERE dedupe_key LIKE ? AND kind = 'bill_period'", [`bill_period:${b.sub.id}:%`]))[0]?.state === 'done',
      { timeoutMs: 30000, what: 'the final bill posted' });
  } finally {
    await S.standin.fail({ clear: true });
  }
  const [bill] = await bills(b.id);
  const creates = (await S.standin.requests({ method: 'POST', path: '/v1/invoices' })).filter((q) => q.form?.customer === b.cus.id);
  assert.deepEqual(creates.map((q) => q.status), [500], 'one create, the one Stripe answered 500 for');
  const mine = (await S.standin.requests({ method: 'GET', path: '/v1/invoices' })).filter((q) => q.form?.customer === b.cus.id);
  assert.ok(mine.length >= 1, 'the customer\'s invoices were read');
  const inv = await S.standin.object(bill.oneoff_invoice_id);
  assert.equal(inv.metadata.xsb_bill, String(bill.id));
  assert.ok(['open', 'paid'].includes(inv.status), `finalized (and collected): ${inv.status}`);
  assert.deepEqual(inv.lines.data.filter((l) => l.metadata?.kind).map((l) => [l.metadata.kind, l.amount]).sort(), [['phone', 500], ['voice', 39]]);
});

// D13: a renewal bill posted as pending items (its invoice was finalized first, as in D4), then the subscription
// ends before the next renewal, with a final bill of no line (no number held, no usage, no late usage): no renewal
// will sweep the items in, so the final bill's one-off invoice collects them. Its create answers only after the
// worker gave up on it (Stripe makes it then, taking the items): the next attempt finds it by its metadata rather
// than reading the items as invoiced and leaving it a draft, and makes no second one.
test('D13 pending items of a renewal bill are collected by the one-off invoice of a final bill with no line', { timeout: 90000 }, async () => {
  const timeout = Number(process.env.HTTP_TIMEOUT_MS ?? 15000);
  const b = await B.billedUser({ invoice: false });
  // The number is given back at the period's end, and nothing is used after it: the last period bills nothing.
  await query('UPDATE phone_numbers SET held_to = ? WHERE user_id = ?', [b.pe, b.id]);
  await query('DELETE FROM usage_events WHERE user_id = ? AND occurred_at >= ?', [b.id, b.pe]);
  const inv = await B.renewalInvoice({ ...b, status: 'paid' });
  await send('invoice.paid', inv, b.pe + 60);
  await jobDone(b, 'period 1 posted');
  const first = (await bills(b.id)).find((x) => x.period_start === b.ps);
  assert.deepEqual(first.lines.map((l) => [l.kind, l.target]).sort(), [['phone', 'pending'], ['sms', 'pending'], ['voice', 'pending']]);
  assert.equal(first.oneoff_invoice_id, null, 'the subscription is live: its next invoice would sweep them in');
  // The model: ai_secretary's 100 + 100 included, 150 minutes and 120 texts (B.USAGE), the number: 65 + 15 + 500 c.
  const minutes = B.USAGE.filter(([k]) => k === 'voice').reduce((m, [, s]) => m + Math.ceil(s / 60), 0);
  const texts = B.USAGE.filter(([k]) => k === 'sms').reduce((a, [, q]) => a + q, 0);
  const model = [['phone', 500], ['sms', halfUp((texts - 100) * 75)], ['voice', halfUp((minutes - 100) * 130)]];
  assert.deepEqual(model, [['phone', 500], ['sms', 15], ['voice', 65]]);
  // The subscription ends in its next period, before that period renews.
  const p2 = { ps: b.pe, pe: b.pe + 30 * DAY }, ended = b.pe + 30;
  await S.standin.fail({ count: 1, delay_ms: timeout + 500, method: 'POST', path_prefix: '/v1/invoices' });
  let last;
  try {
    const gone = await changeSub(b.sub, { status: 'canceled', current_period_start: p2.ps, current_period_end: p2.pe });
    await send('customer.subscription.deleted', { ...gone, ended_at: ended }, ended);
    await waitFor(async () => (await B.jobOf({ sub: b.sub, ps: p2.ps }))?.state === 'done', { timeoutMs: 60000, what: 'the final bill posted' });
    last = (await bills(b.id)).find((x) => x.period_start === p2.ps);
  } finally {
    await S.standin.fail({ clear: true });
  }
  assert.equal(last.kind, 'final');
  assert.deepEqual(last.lines, [], 'the last period bills nothing of its own');
  assert.ok(last.oneoff_invoice_id, 'a one-off invoice for what is still pending');
  const oneoff = await S.standin.object(last.oneoff_invoice_id);
  assert.equal(oneoff.metadata.xsb_bill, String(last.id));
  assert.ok(['open', 'paid'].includes(oneoff.status), `finalized (and collected): ${oneoff.status}`);
  const ours = oneoff.lines.data.filter((l) => l.metadata?.kind);
  assert.deepEqual(ours.map((l) => [l.metadata.kind, l.amount]).sort(), model, 'period 1\'s lines, as the model bills them');
  assert.ok(ours.every((l) => l.metadata.xsb_bill === String(first.id)));
  assert.equal(oneoff.total, model.reduce((a, [, c]) => a + c, 0));
  // Each item of period 1 is on that invoice, none pending; made once; the invoice made under one key.
  for (const l of first.lines) assert.equal((await S.standin.object(l.stripe_item_id)).invoice, oneoff.id, `${l.kind} invoiced`);
  const items = (await S.standin.requests({ method: 'POST', path: '/v1/invoiceitems' })).filter((q) => q.form?.customer === b.cus.id);
  assert.equal(items.filter((q) => q.status === 200).length, 3, 'three items, each made once');
  const creates = (await S.standin.requests({ method: 'POST', path: '/v1/invoices' })).filter((q) => q.form?.customer === b.cus.id);
  assert.ok(creates.some((q) => q.injected), 'the slow create met the job');
  assert.deepEqual([...new Set(creates.map((q) => q.idempotency_key))], [`xsb-bill-${last.id}-invoice`]);
  assert.ok((await B.jobOf({ sub: b.sub, ps: p2.ps })).attempts >= 2, 'the attempt that gave up was followed by another');
});

// D8: one period model: the usage API shows the subscription's period and the engine's allowance;
// Checkout's estimate is the full price from signup.
test('D8 the usage API reads the subscription\'s period; a Checkout estimate is the full price', async () => {
  const ps = now() - 10 * DAY, pe = ps + 30 * DAY;
  const b = await B.billedUser({ ps, pe, invoice: false, usage: [] });
  const tok = mint(['-u', b.id]);
  const u = await request('GET', '/api/billing/usage', { token: tok });
  assert.equal(u.status, 200, u.text);
  assert.deepEqual([u.json.period.start, u.json.period.end], [ps, pe]);
  await query("INSERT INTO users (id, email) VALUES (?, 'd8@example.test')", [`d8-${b.id}`]);
  const e = await request('POST', '/api/billing/estimate', { token: mint(['-u', `d8-${b.id}`]), json: { target_tier: 'ai_secretary' } });
  assert.equal(e.status, 200, e.text);
  assert.equal(e.json.via, 'checkout');
  assert.equal(e.json.proration.charge_cents, 4000, 'Stripe charges the whole first period at Checkout');
  assert.equal(e.json.proration.net_cents, 4000);
});

// D8b: the usage API shows what the bill will charge, figured here from the price list: a secretary whose
// subscription went unpaid at mid-period (free tier now, the number kept in its grace) still owes the number's fee;
// a period that began on the unlimited tier counts only the minutes and texts after it.
test('D8b the usage API shows the bill\'s figures: the phone fee of a number held, units outside an unlimited stretch', async () => {
  const ps = now() - 20 * DAY, pe = ps + 30 * DAY;
  const b = await B.billedUser({ ps, pe, invoice: false });
  const unpaid = await changeSub(b.sub, { status: 'unpaid' });
  await send('customer.subscription.updated', unpaid, ps + 15 * DAY);
  let u = await request('GET', '/api/billing/usage', { token: mint(['-u', b.id]) });
  assert.equal(u.status, 200, u.text);
  // Secretary for 15 of 30 days: 50 + 50 included; 150 minutes and 120 texts (B.USAGE), the number held.
  const [vo, so] = [150 - 50, 120 - 50];
  assert.deepEqual([u.json.limits.voice_minutes, u.json.limits.sms], [50, 50]);
  assert.deepEqual(u.json.overage, { voice_minutes: vo, voice_cents: halfUp(vo * 130), sms: so, sms_cents: halfUp(so * 75),
    phone_fee_cents: 500, total_cents: halfUp(vo * 130) + halfUp(so * 75) + 500 });
  // Ten days on ai_cto (unlimited), then ai_secretary: the 150 minutes and 120 texts of day 0 are free; 50 one-minute
  // calls and 30 texts after the change count against floor(100 x 20/30) = 66.
  await S.standin.createPrice({ id: 'price_ai_cto', unit_amount: 100000, currency: 'usd', interval: 'month' }); // custom: none by default
  const c = await B.billedUser({ ps, pe, invoice: false, tier: 'ai_cto' });
  const sec = await changeSub(c.sub, { price: 'price_ai_secretary' });
  await send('customer.subscription.updated', sec, ps + 10 * DAY);
  for (let i = 0; i < 50; i++) {
    await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'voice', 60, ?, 'test', ?)",
      [c.id, ps + 12 * DAY + i, `${c.id}:after:${i}`]);
  }
  await query("INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES (?, 'sms', 30, ?, 'test', ?)",
    [c.id, ps + 12 * DAY, `${c.id}:after:sms`]);
  u = await request('GET', '/api/billing/usage', { token: mint(['-u', c.id]) });
  assert.equal(u.status, 200, u.text);
  assert.deepEqual([u.json.usage.voice_minutes, u.json.usage.sms], [50, 30]);
  assert.deepEqual([u.json.limits.voice_minutes, u.json.limits.sms], [66, 66]);
  assert.deepEqual(u.json.percent_used, { voice: Math.floor(5000 / 66), sms: Math.floor(3000 / 66) });
  assert.equal(u.json.overage.total_cents, 500, 'nothing over; the number');
});

// D9: a usage row committed while its period is being rated (after the engine's locking read, which READ
// COMMITTED does not extend to rows not yet there) is not covered by that bill, which did not count it: the next
// bill finds it uncovered and bills it as late usage. A trigger on bills writes the row inside the rating's own
// transaction, between its read and its cover, as a report committed at that moment would be seen.
test('D9 usage committed during a rating is not covered by that bill; the next bill counts it as late', async () => {
  const p1e = now() - 5 * DAY, p1s = p1e - 30 * DAY, p2e = p1e + 30 * DAY;
  const b = await B.billedUser({ ps: p1s, pe: p1e });
  const { DB_NAME } = requireEnv('DB_NAME');
  const trg = `\`${DB_NAME}\`.d9_${b.id.replace(/-/g, '')}`;
  asAdmin(`CREATE TRIGGER ${trg} AFTER INSERT ON \`${DB_NAME}\`.bills FOR EACH ROW ` +
    `INSERT IGNORE INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) ` +
    `SELECT NEW.user_id, 'voice', 600, NEW.period_start + 100, 'test', CONCAT(NEW.user_id, ':during') FROM DUAL ` +
    `WHERE NEW.user_id = '${b.id}'`);
  try {
    await send('invoice.created', b.inv, p1e);
    await jobDone(b, 'period 1 billed');
  } finally {
    asAdmin(`DROP TRIGGER IF EXISTS ${trg}`);
  }
  const [during] = await query('SELECT u.id, c.bill_id FROM usage_events u LEFT JOIN bill_usage c ON c.usage_id = u.id WHERE u.idempotency_key = ?', [`${b.id}:during`]);
  assert.ok(during, 'the trigger wrote the row during the rating');
  assert.equal(during.bill_id, null, 'the bill that did not count the row does not cover it');
  // Period 1 as rated: 150 min and 120 SMS on ai_secretary (100 + 100 included), the number.
  assert.deepEqual(await linesOf(b.id, p1s), { phone: [1, 500], sms: [20, halfUp(20 * 75)], voice: [50, halfUp(50 * 130)] });
  const inv2 = await B.renewalInvoice({ cus: b.cus, sub: b.sub, ps: p1e, pe: p2e });
  await S.standin.createSubscription({ id: b.sub.id, current_period_start: p1e, current_period_end: p2e, silent: true });
  await send('invoice.created', inv2, p2e);
  await jobDone({ ...b, ps: p1e }, 'period 2 billed');
  // Period 1 with the row: 160 min, 60 over; 50 were billed: the adjustment is 10 min.
  const l2 = await linesOf(b.id, p1e);
  assert.deepEqual(l2.voice_adjust, [10, halfUp(10 * 130)]);
  const [cov] = await query('SELECT c.for_period_start AS ps, b.period_start AS billed FROM bill_usage c JOIN bills b ON b.id = c.bill_id WHERE c.usage_id = ?', [during.id]);
  assert.deepEqual([Number(cov.ps), Number(cov.billed)], [p1s, p1e], 'covered for period 1 by the bill of period 2');
});

// D14: a period rated after the next bill has billed its rows as late usage (its bill job failed and was retried
// by an operator after the next period's bill). The next bill's adjustment billed period 1's overage as it stood
// then; period 1's own bill then bills only what that adjustment did not: with the usage that arrived after the
// adjustment, against the same allowance, never the allowance a second time. A trigger refuses period 1's bill
// until the retry.
test('D14 a period rated after the next bill billed its rows as late usage: its bill adds what the adjustment did not', async () => {
  const p1e = now() - 5 * DAY, p1s = p1e - 30 * DAY, p2e = p1e + 30 * DAY;
  // Period 1: two calls of an hour (120 min) and 120 texts; after the renewal (billedUser), 999 texts of period 2.
  const b = await B.billedUser({ ps: p1s, pe: p1e, usage: [...calls(2, 3600), ['sms', 120]] });
  const { DB_NAME } = requireEnv('DB_NAME');
  const trg = `d14_${b.id.replace(/-/g, '')}`;
  asAdminScript(`DELIMITER //
CREATE TRIGGER ${trg} BEFORE INSERT ON bills FOR EACH ROW BEGIN
  IF NEW.subscription_id = '${b.sub.id}' AND NEW.period_start = ${p1s} THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'd14: period 1 held';
  END IF;
END//
DELIMITER ;
`);
  let p1job;
  try {
    await send('invoice.created', b.inv, p1e);
    await waitFor(async () => { const j = await B.jobOf(b); return j?.attempts >= 1 && ['pending', 'dead'].includes(j.state); },
      { timeoutMs: 15000, what: 'period 1\'s bill job failed' });
    // Left for an operator: nothing runs it before the retry below.
    await query("UPDATE jobs SET run_after = NOW(6) + INTERVAL 1 DAY WHERE dedupe_key = ? AND state = 'pending'", [`bill_period:${b.sub.id}:${p1s}`]);
    [{ id: p1job }] = await query('SELECT id FROM jobs WHERE dedupe_key = ?', [`bill_period:${b.sub.id}:${p1s}`]);
    assert.equal(await B.billOf(b), undefined, 'period 1 not rated');
    // Period 2 is rated first: every row of period 1 is uncovered, so it is late usage of period 1.
    const inv2 = await B.renewalInvoice({ cus: b.cus, sub: b.sub, ps: p1e, pe: p2e });
    await S.standin.createSubscription({ id: b.sub.id, current_period_start: p1e, current_period_end: p2e, silent: true });
    await send('invoice.created', inv2, p2e);
    await jobDone({ ...b, ps: p1e }, 'period 2 billed');
  } finally {
    asAdminScript(`DROP TRIGGER IF EXISTS \`${DB_NAME}\`.${trg};`);
  }
  // The model: ai_secretary includes 100 min and 100 texts; voice 1.3 c per started minute of each call, a text
  // 0.75 c, each line rounded half up once. Period 1 had 120 min and 120 texts when period 2 was rated: its
  // adjustment is 20 and 20. Then 30 min and 30 texts of period 1 arrive: period 1 comes to 150 and 150, 50 over
  // each; its own bill adds 30 and 30, and its number.
  const model = (units, included) => Math.max(0, units - included);
  const adjV = model(120, 100), adjS = model(120, 100), allV = model(120 + 30, 100), allS = model(120 + 30, 100);
  const ownV = allV - adjV, ownS = allS - adjS;
  assert.deepEqual([adjV, ownV, allV], [20, 30, 50]);
  assert.deepEqual(await linesOf(b.id, p1e), { voice_adjust: [adjV, halfUp(adjV * 130)], sms_adjust: [adjS, halfUp(adjS * 75)],
    sms: [999 - 100, halfUp((999 - 100) * 75)], phone: [1, 500] }, 'period 2: its texts, its number, period 1 as late usage');
  // Late usage of period 1, reported through the API ten days before its end.
  const svc = mint(['-u', 'engine-svc', '-r', 'service']);
  for (const [kind, quantity] of [['voice', 30 * 60], ['sms', 30]]) {
    const r = await request('POST', '/api/usage', { token: svc, json: { user_id: b.id, kind, quantity, occurred_at: p1e - 10 * DAY,
      idempotency_key: `d14-${b.id}-${kind}` } });
    assert.equal(r.status, 201, r.text);
  }
  // The operator's retry: period 1 is rated now.
  const r = await request('POST', `/api/admin/jobs/${p1job}/retry`, { token: admin() });
  assert.equal(r.status, 200, r.text);
  await jobDone(b, 'period 1 billed');
  const l1 = await linesOf(b.id, p1s);
  assert.deepEqual(l1, { voice: [ownV, halfUp(ownV * 130)], sms: [ownS, halfUp(ownS * 75)], phone: [1, 500] },
    'period 1: the overage the adjustment did not bill, and the number');
  assert.deepEqual(await B.onInvoice(b.inv.id), [['phone', 500], ['sms', halfUp(ownS * 75)], ['voice', halfUp(ownV * 130)]]);
  // Over both bills, period 1's voice is its 50 min over: 26 + 39 = 65 c, as one line of 50 min would be.
  const l2 = await linesOf(b.id, p1e);
  assert.deepEqual([l1.voice[0] + l2.voice_adjust[0], l1.voice[1] + l2.voice_adjust[1]], [allV, halfUp(allV * 130)]);
  assert.deepEqual([l1.voice[1], l2.voice_adjust[1]], [39, 26]);
  assert.deepEqual([l1.sms[0] + l2.sms_adjust[0], l1.sms[1] + l2.sms_adjust[1]], [allS, halfUp(allS * 75)]);
  // What period 1's bill says it subtracted.
  const [bill1] = (await bills(b.id)).filter((x) => x.period_start === p1s);
  assert.deepEqual(bill1.computation.voice, { units: 150, allowance: 100, over: ownV, cents: halfUp(ownV * 130) });
  assert.deepEqual(bill1.computation.billed_late, { voice_units: 120, voice_over: adjV, sms_units: 120, sms_over: adjS });
  assert.match(bill1.lines.find((l) => l.kind === 'voice').description, /: 30 min \(50 over 100 included, less 20 billed as late usage\)/);
  // Every row of period 1 is covered once: those of period 2's adjustment by its bill, the rest by period 1's, each
  // for period 1.
  const cover = await query(`SELECT b.period_start AS billed, c.for_period_start AS ps, u.kind, COUNT(*) AS n, COUNT(DISTINCT u.id) AS d
    FROM usage_events u JOIN bill_usage c ON c.usage_id = u.id JOIN bills b ON b.id = c.bill_id
    WHERE u.user_id = ? AND u.occurred_at < ? GROUP BY b.period_start, c.for_period_start, u.kind ORDER BY b.period_start, u.kind`, [b.id, p1e]);
  assert.deepEqual(cover.map((x) => [Number(x.billed), Number(x.ps), x.kind, Number(x.n), Number(x.d)]),
    [[p1s, p1s, 'sms', 1, 1], [p1s, p1s, 'voice', 1, 1], [p1e, p1s, 'sms', 1, 1], [p1e, p1s, 'voice', 2, 2]]);
  const [{ n: rows }] = await query('SELECT COUNT(*) AS n FROM usage_events WHERE user_id = ? AND occurred_at < ?', [b.id, p1e]);
  assert.equal(Number(rows), 5, 'no row of period 1 left uncovered');
});

// D15: Stripe starts a period inside a stored one (a trial ended early, a billing anchor reset): both rows stay in
// billing_periods. A moment belongs to the latest period that began at or before it, so a late row inside both
// is late usage of the newer period only. Before: it was counted as late usage of each (40 min, 52 c).
test('D15 a late row inside two stored periods that overlap is billed once, as usage of the later one', async () => {
  const s = now() - 60 * DAY;
  const pa = [s, s + 30 * DAY], pb = [s + 20 * DAY, s + 50 * DAY], pc = [s + 50 * DAY, s + 80 * DAY];
  // Period A: 101 one-second calls (101 min, 1 over), billed.
  const b = await B.billedUser({ ps: pa[0], pe: pa[1], usage: calls(101, 1), phone: false });
  await send('invoice.created', b.inv, pa[1]);
  await jobDone(b, 'period A billed');
  assert.deepEqual((await linesOf(b.id, pa[0])).voice, [1, 1]);
  const svc = mint(['-u', 'engine-svc', '-r', 'service']);
  const report = async (quantity, at, key) => {
    const r = await request('POST', '/api/usage', { token: svc, json: { user_id: b.id, kind: 'voice', quantity, occurred_at: at,
      idempotency_key: `d15-${b.id}-${key}` } });
    assert.equal(r.status, 201, r.text);
  };
  // Period B starts inside A. A call of 100 min in B alone (after A's end), then B is billed: 100 min, none over.
  await report(6000, s + 35 * DAY, 'b');
  const renew = async (p, what) => {
    const inv = await B.renewalInvoice({ cus: b.cus, sub: b.sub, ps: p[0], pe: p[1] });
    await changeSub(b.sub, { current_period_start: p[0], current_period_end: p[1] });
    await send('invoice.created', inv, p[1]);
    await jobDone({ ...b, ps: p[0] }, what);
  };
  await renew(pb, 'period B billed');
  assert.equal((await linesOf(b.id, pb[0])).voice, undefined, 'period B: 100 min, none over');
  const stored = await query('SELECT period_start, period_end FROM billing_periods WHERE subscription_id = ? ORDER BY period_start', [b.sub.id]);
  assert.deepEqual(stored.slice(0, 2).map((x) => [Number(x.period_start), Number(x.period_end)]), [pa, pb], 'both periods stored');
  // A late call of 20 min at a moment of both A and B (after B began), reported before period C is billed.
  await report(1200, s + 25 * DAY, 'late');
  await renew(pc, 'period C billed');
  // The model: the call is B's (B began before it, and A ended when B began). B: 100 + 20 = 120 min, 20 over its
  // 100 included; A is unchanged. The adjustment is 20 min, 20 x 1.3 = 26 c.
  const adj = Math.max(0, 100 + 20 - 100) - Math.max(0, 100 - 100);
  const l3 = await linesOf(b.id, pc[0]);
  assert.deepEqual(l3.voice_adjust, [adj, halfUp(adj * 130)]);
  const [bill3] = (await bills(b.id)).filter((x) => x.period_start === pc[0]);
  assert.deepEqual(bill3.computation.late.map((q) => [q.period_start, q.rows_end, q.voice_over_before, q.voice_over_after]),
    [[pb[0], pb[1], 0, 20]], 'late usage of period B only');
  const [cov] = await query(`SELECT c.for_period_start AS ps, b.period_start AS billed FROM bill_usage c JOIN bills b ON b.id = c.bill_id
    JOIN usage_events u ON u.id = c.usage_id WHERE u.user_id = ? AND u.occurred_at = ?`, [b.id, s + 25 * DAY]);
  assert.deepEqual([Number(cov.ps), Number(cov.billed)], [pb[0], pc[0]], 'covered for period B by the bill of period C');
});

// D16: the same rule for a period's own rows. Period B, started inside period A, is stored (its subscription
// update arrived) before A's renewal invoice: A's bill rates A's rows up to where B began; a call after that is
// B's, for B's bill. Before: A's bill took it (21 min over instead of 1) and B's found it covered.
test('D16 a period rated after a later one began inside it rates its rows up to where that one began', async () => {
  const s = now() - 60 * DAY;
  const pa = [s, s + 30 * DAY], pb = [s + 20 * DAY, s + 50 * DAY];
  const b = await B.billedUser({ ps: pa[0], pe: pa[1], usage: calls(101, 1), phone: false });
  const svc = mint(['-u', 'engine-svc', '-r', 'service']);
  const r = await request('POST', '/api/usage', { token: svc, json: { user_id: b.id, kind: 'voice', quantity: 1200,
    occurred_at: s + 25 * DAY, idempotency_key: `d16-${b.id}` } });
  assert.equal(r.status, 201, r.text);
  // Stripe moved the subscription to period B: its update is stored before A's invoice arrives.
  const moved = await changeSub(b.sub, { current_period_start: pb[0], current_period_end: pb[1] });
  await send('customer.subscription.updated', moved, pb[0]);
  const stored = await query('SELECT period_start FROM billing_periods WHERE subscription_id = ? ORDER BY period_start', [b.sub.id]);
  assert.deepEqual(stored.map((x) => Number(x.period_start)), [pa[0], pb[0]], 'both periods stored');
  await send('invoice.created', b.inv, pa[1]);
  await jobDone(b, 'period A billed');
  // The model: A's rows end where B began: its 101 one-second calls, 101 min, 1 over its 100 included: 1 c.
  // The 20-minute call (after B began) is B's: 20 min, none over.
  assert.deepEqual(await linesOf(b.id, pa[0]), { voice: [1, halfUp(1 * 130)] });
  const inv = await B.renewalInvoice({ cus: b.cus, sub: b.sub, ps: pb[0], pe: pb[1] });
  await send('invoice.created', inv, pb[1]);
  await jobDone({ ...b, ps: pb[0] }, 'period B billed');
  assert.equal((await linesOf(b.id, pb[0])).voice, undefined, 'period B: 20 min, none over');
  const [cov] = await query(`SELECT c.for_period_start AS ps, b.period_start AS billed FROM bill_usage c JOIN bills b ON b.id = c.bill_id
    JOIN usage_events u ON u.id = c.usage_id WHERE u.user_id = ? AND u.occurred_at = ?`, [b.id, s + 25 * DAY]);
  assert.deepEqual([Number(cov.ps), Number(cov.billed)], [pb[0], pb[0]], 'covered for period B by its own bill');
});

// D12: a rating writes the user's row first: before it locks the subscription's row (a Stripe event's
// transaction locks the user's, then the subscription's) and before it reads the period's rows, as a take of
// Twilio's count writes it before it reads a text's row (T2c, numbers.test). On Galera, where a lock does not
// reach another node, the later of two that overlap then fails certification and runs again (docs/SCALING.md).
// Here an upgrade ten days into the period is applied while the rating waits for it: the test holds the
// subscription's row, so the event's transaction holds the user's row and waits; the bill job (queued as
// invoice.created queues it) then waits for the user's row; the event commits first and the bill counts it.
test('D12 a rating waits for the user\'s row; an upgrade committed meanwhile is billed by its share', async () => {
  const pe = now() - 60, ps = pe - 30 * DAY;
  const b = await B.billedUser({ ps, pe, usage: [...calls(8, 3000), ['sms', 450]], invoice: false });
  const up = await changeSub(b.sub, { price: 'price_ai_project_manager' });
  const waits = (prefix) => lockWaits(prefix) > 0;
  const row = await hold('SELECT id FROM subscriptions WHERE id = ? FOR UPDATE', [b.sub.id]);
  let upgrade;
  try {
    upgrade = send('customer.subscription.updated', up, ps + 10 * DAY);
    await waitFor(() => waits('SELECT user_id, status, tier'), { timeoutMs: 15000, intervalMs: 100, what: 'the event waiting for the subscription\'s row' });
    await query("INSERT INTO jobs (kind, dedupe_key, user_id, payload) VALUES ('bill_period', ?, ?, ?)",
      [`bill_period:${b.sub.id}:${b.ps}`, b.id, JSON.stringify({ customer: b.cus.id, subscription: b.sub.id,
        period_start: b.ps, period_end: b.pe })]);
    await waitFor(() => waits('UPDATE users SET updated_at'),
      { timeoutMs: 15000, intervalMs: 100, what: 'the rating waiting for the user\'s row' });
    assert.deepEqual(await bills(b.id), []);
  } finally {
    await row.release();
  }
  assert.equal((await upgrade).status, 'processed');
  await jobDone(b, 'the period billed');
  // As D1 mid-period: floor(100 x 10/30 + 500 x 20/30) = 366 included; 400 min and 450 SMS, the number.
  const included = Math.floor((100 * 10 * DAY + 500 * 20 * DAY) / (30 * DAY));
  assert.deepEqual(await linesOf(b.id, ps), { voice: [400 - included, halfUp((400 - included) * 130)],
    sms: [450 - included, halfUp((450 - included) * 75)], phone: [1, 500] });
});

// D10: the renewal's invoice.created of a subscription whose events have not reached us (failing, say, until an
// operator fixes a price): the bill job waits for them while Stripe would still redeliver (three days), past its
// attempts (JOB_MAX_ATTEMPTS, 16 by default), then bills once they arrive; one queued longer ago than that is dead.
test('D10 a bill job waiting for its subscription\'s events retries for three days, past its attempts', async () => {
  const b = await B.billedUser({ invoice: false });
  const unknownSub = () => S.standin.createSubscription({ customer: b.cus.id, price: 'price_ai_secretary', status: 'active',
    current_period_start: b.ps, current_period_end: b.pe, metadata: { user_id: b.id }, silent: true });
  const sub = await unknownSub(), key = `bill_period:${sub.id}:${b.ps}`;
  const job = async (k) => (await query('SELECT state, attempts, last_error FROM jobs WHERE dedupe_key = ?', [k]))[0];
  const again = (k) => query('UPDATE jobs SET run_after = NOW(6) WHERE dedupe_key = ?', [k]);
  await send('invoice.created', await B.renewalInvoice({ cus: b.cus, sub, ps: b.ps, pe: b.pe }), b.pe);
  await waitFor(async () => (await job(key))?.attempts >= 1 && (await job(key)).state === 'pending', { timeoutMs: 15000, what: 'first attempt failed' });
  assert.match((await job(key)).last_error, /not known yet/);
  await query('UPDATE jobs SET attempts = 16 WHERE dedupe_key = ?', [key]);
  await again(key);
  await waitFor(async () => (await job(key)).attempts === 17 && (await job(key)).state !== 'running', { timeoutMs: 15000, what: 'a 17th attempt' });
  assert.equal((await job(key)).state, 'pending', 'still waiting after its attempts: queued less than three days ago');
  // The subscription's events arrive: the next attempt bills the period.
  const r = await S.signedWebhook(S.event('customer.subscription.created', sub, { ...cur, created: b.ps }));
  assert.equal(r.json?.status, 'processed', r.text);
  await again(key);
  await waitFor(async () => (await job(key)).state === 'done', { timeoutMs: 30000, what: 'billed once the events came' });
  assert.ok(await B.billOf({ sub, ps: b.ps }), 'the period has its bill');
  // A job queued more than three days ago waits no longer.
  const late = await unknownSub(), lateKey = `bill_period:${late.id}:${b.ps}`;
  await send('invoice.created', await B.renewalInvoice({ cus: b.cus, sub: late, ps: b.ps, pe: b.pe }), b.pe);
  await waitFor(async () => (await job(lateKey))?.attempts >= 1 && (await job(lateKey)).state === 'pending', { timeoutMs: 15000, what: 'first attempt failed' });
  await query('UPDATE jobs SET attempts = 16, created_at = NOW(6) - INTERVAL 3 DAY - INTERVAL 1 MINUTE WHERE dedupe_key = ?', [lateKey]);
  await again(lateKey);
  await waitFor(async () => (await job(lateKey)).state === 'dead', { timeoutMs: 15000, what: 'dead after three days of waiting' });
});

// D11: every subscription event writes a tier history row, whether it changes the tier or not (a customer who turns
// cancellation on and off, Dashboard edits, resyncs). Eighty of them in one period on the same tier: the period is
// still rated whole, with the tier's whole allowance.
test('D11 eighty same-tier updates in a period: rated on the whole period, the whole allowance', async () => {
  const b = await B.billedUser();
  for (let i = 1; i <= 80; i++) {
    const r = await S.signedWebhook(S.event('customer.subscription.updated', { ...b.sub, cancel_at_period_end: i % 2 === 1 },
      { ...cur, created: b.ps + i * 3600 }));
    assert.equal(r.status, 200, r.text);
  }
  const n = await query('SELECT COUNT(*) AS n FROM tier_history WHERE subscription_id = ?', [b.sub.id]);
  assert.ok(Number(n[0].n) >= 81, `history rows: ${n[0].n}`);
  await send('invoice.created', b.inv, b.pe);
  await jobDone(b, 'billed');
  assert.deepEqual(await B.onInvoice(b.inv.id), B.expectedItems(), 'ai_secretary\'s 100 + 100 over the whole period');
});

// The daily reconcile: a posted line that differs from Stripe's item is reported (bill, log, /metrics), and
// each run queues the next.
test('R1 the reconcile finds a posted line that differs from the item Stripe holds', async () => {
  const b = await B.billedUser();
  await send('invoice.created', b.inv, b.pe);
  await jobDone(b, 'bill posted');
  const bill = await B.billOf(b);
  // Our record of the voice line no longer matches Stripe's item (as a bug or a hand edit would leave it).
  await query("UPDATE bill_lines SET amount_cents = amount_cents + 1 WHERE bill_id = ? AND kind = 'voice'", [bill]);
  const key = `bill_reconcile:test-${bill}`;
  await query("INSERT INTO jobs (kind, dedupe_key, payload) VALUES ('bill_reconcile', ?, '{}')", [key]);
  await waitFor(async () => (await query('SELECT state FROM jobs WHERE dedupe_key = ?', [key]))[0].state === 'done', { timeoutMs: 30000, what: 'reconcile done' });
  const [row] = await query('SELECT reconcile_state, reconcile_detail FROM bills WHERE id = ?', [bill]);
  assert.equal(row.reconcile_state, 'mismatch');
  assert.match(row.reconcile_detail, /^voice: item ii_\w+ has 50 x = 65 c, ours 50 x = 66 c$/);
  const others = await query("SELECT reconcile_state FROM bills WHERE subscription_id <> ? AND reconcile_state IS NOT NULL AND state = 'posted' AND reconcile_state <> 'ok'", [b.sub.id]);
  const m = (await rawRequest('GET', '/metrics', { headers: { authorization: `Bearer ${requireEnv('METRICS_TOKEN').METRICS_TOKEN}` } })).text.match(/^xsb_bill_reconcile_mismatches (\d+)$/m);
  assert.ok(m, 'the mismatch count is in /metrics');
  assert.equal(Number(m[1]), others.length + 1);
  const next = await query("SELECT run_after > NOW() AS later FROM jobs WHERE kind = 'bill_reconcile' AND dedupe_key LIKE 'bill\\_reconcile:2%'");
  assert.ok(next.length >= 1 && next.every((j) => Number(j.later) === 1), 'the next run is queued for a later day');
});

// More bills are due than one run checks (500): the run queues another at once, and so on until each is checked.
test('R2 more bills due than a run checks: runs follow at once until every one is checked, then stop', { timeout: 150000 }, async () => {
  const tag = `r2${Date.now().toString(36)}`;
  const n = 1100;
  // Posted bills without lines (nothing to ask Stripe), as a month of renewals leaves them.
  await query(`INSERT INTO bills (user_id, subscription_id, customer_id, kind, period_start, period_end, usage_end,
    state, computation, posted_at) SELECT 'usr_${tag}', CONCAT('sub_${tag}_', seq), 'cus_${tag}', 'cycle', 1, 2, 2,
    'posted', '{}', NOW(6) - INTERVAL 1 DAY FROM seq_1_to_${n}`);
  const mine = async () => (await query(`SELECT COUNT(*) AS n, COUNT(reconciled_at) AS done
    FROM bills WHERE user_id = ?`, [`usr_${tag}`]))[0];
  const since = (await query('SELECT MAX(id) AS id FROM jobs'))[0].id ?? 0;
  await query("INSERT INTO jobs (kind, dedupe_key, payload) VALUES ('bill_reconcile', ?, '{}')", [`bill_reconcile:test-${tag}`]);
  await waitFor(async () => Number((await mine()).done) === n, { timeoutMs: 120000, intervalMs: 500, what: `all ${n} bills checked` });
  const follow = await query("SELECT dedupe_key, state FROM jobs WHERE id > ? AND dedupe_key LIKE 'bill\\_reconcile:after:%'", [since]);
  assert.ok(follow.length >= 2, `the runs that followed: ${JSON.stringify(follow)}`);
  await waitFor(async () => (await query("SELECT COUNT(*) AS n FROM jobs WHERE id > ? AND kind = 'bill_reconcile' AND state <> 'done'",
    [since]))[0].n === 0, { timeoutMs: 30000, what: 'the chain ends' });
  const last = await query("SELECT COUNT(*) AS n FROM jobs WHERE id > ? AND dedupe_key LIKE 'bill\\_reconcile:after:%'", [since]);
  assert.ok(Number(last[0].n) <= Math.ceil(n / 500) + 1, `a run follows only a full one: ${last[0].n} for ${n} bills`);
  const [m] = await query("SELECT COUNT(*) AS ok FROM bills WHERE user_id = ? AND reconcile_state = 'ok'", [`usr_${tag}`]);
  assert.equal(Number(m.ok), n, 'each checked and found as Stripe holds it (no lines)');
  asAdminScript(`DELETE FROM bills WHERE user_id = 'usr_${tag}';`);
});

// Posted bills of n users, never checked yet: their ids, in the order they were posted (the order the reconcile takes).
const postedBills = async (n) => {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const b = await B.billedUser();
    await send('invoice.created', b.inv, b.pe);
    await jobDone(b, 'bill posted');
    ids.push(await B.billOf(b));
  }
  return ids;
};
const reconciled = async (ids) => query(`SELECT id, reconcile_state AS state, reconcile_detail AS detail, reconciled_at
  FROM bills WHERE id IN (?) ORDER BY id`, [ids]);
/** Queues a run of the reconcile, as the daily chain does, and waits for it and the runs it queued to end. */
async function reconcileRun(tag, timeoutMs = 60000) {
  const since = (await query('SELECT MAX(id) AS id FROM jobs'))[0].id ?? 0;
  await query("INSERT INTO jobs (kind, dedupe_key, payload) VALUES ('bill_reconcile', ?, '{}')", [`bill_reconcile:test-${tag}`]);
  const chain = () => query(`SELECT dedupe_key AS k, state, attempts, last_error,
    TIMESTAMPDIFF(MICROSECOND, created_at, updated_at) / 1e6 AS took FROM jobs
    WHERE id > ? AND kind = 'bill_reconcile' AND (dedupe_key = ? OR dedupe_key LIKE 'bill\\_reconcile:after:%') ORDER BY id`,
  [since, `bill_reconcile:test-${tag}`]);
  await waitFor(async () => (await chain()).every((j) => j.state === 'done' || j.state === 'dead'),
    { timeoutMs, intervalMs: 500, what: 'the reconcile runs' });
  return chain();
}

// A bill whose check fails for good (Stripe answers 400 for one of its items) stopped the whole run, and, never
// checked, it was first in every run of its 60 days: no other bill was checked again. It is recorded "error" with
// the reason (the bill, the log, /metrics) and the run goes on with the others.
test('R3 a bill Stripe refuses to show is recorded as an error with why; the run checks the other bills', { timeout: 120000 }, async () => {
  const ids = await postedBills(3);
  const [bad, ...good] = ids;
  const first = await query("SELECT id FROM bills WHERE state = 'posted' AND reconciled_at IS NULL ORDER BY id LIMIT 1");
  assert.equal(first[0]?.id, bad, 'the bill first in line');
  const [item] = await query("SELECT stripe_item_id AS id FROM bill_lines WHERE bill_id = ? AND kind = 'voice'", [bad]);
  await S.standin.fail({ count: 100, status: 400, method: 'GET', path_prefix: `/v1/invoiceitems/${item.id}` });
  let chain;
  try {
    chain = await reconcileRun(`r3-${bad}`);
  } finally {
    await S.standin.fail({ clear: true });
  }
  assert.deepEqual(chain.map((j) => [j.state, j.last_error]), [['done', null]], 'the run ends well');
  const rows = await reconciled(ids);
  assert.deepEqual(rows.map((r) => [r.id, r.state]), [[bad, 'error'], ...good.map((id) => [id, 'ok'])]);
  assert.match(rows[0].detail, new RegExp(`^voice: item ${item.id}: Stripe answered 400\\b`));
  assert.ok(rows.every((r) => r.reconciled_at !== null), 'each has its time: the bad one is behind the never checked next time');
  const m = (await rawRequest('GET', '/metrics', { headers: { authorization: `Bearer ${requireEnv('METRICS_TOKEN').METRICS_TOKEN}` } })).text.match(/^xsb_bill_reconcile_errors (\d+)$/m);
  assert.ok(m, 'the count of bills not checked is in /metrics');
  const [errors] = await query("SELECT COUNT(*) AS n FROM bills WHERE reconcile_state = 'error'");
  assert.equal(Number(m[1]), Number(errors.n));
  // Due again (a day later) beside a bill never checked: that one is taken first, and Stripe shows the item now.
  const [fresh] = await postedBills(1);
  await query('UPDATE bills SET reconciled_at = reconciled_at - 21 * 3600 WHERE id = ?', [bad]);
  assert.deepEqual((await query(`SELECT id FROM bills WHERE state = 'posted' AND (reconciled_at IS NULL
    OR reconciled_at < UNIX_TIMESTAMP() - 20 * 3600) ORDER BY reconciled_at, id`)).map((r) => r.id), [fresh, bad]);
  await reconcileRun(`r3-again-${bad}`);
  assert.deepEqual((await reconciled([bad, fresh])).map((r) => [r.id, r.state, r.detail]), [[bad, 'ok', ''], [fresh, 'ok', '']]);
});

// A slow Stripe: a run takes no new bill once half a lease (JOB_LEASE_SECONDS) has passed, and queues the rest as
// another run at once, so that none runs longer than its lease (the worker renews it ten times at most; a run past
// that would be claimed again and run twice at once).
test('R3b with Stripe slow, each run of the reconcile ends within its lease and queues the rest', { timeout: 120000 }, async () => {
  const lease = Number(requireEnv('JOB_LEASE_SECONDS').JOB_LEASE_SECONDS);
  const ids = await postedBills(3);
  // Each of the nine items is shown 0.2 lease late: a bill of three takes 0.6 lease, three of them 1.8 leases.
  await S.standin.fail({ count: 9, delay_ms: lease * 200, method: 'GET', path_prefix: '/v1/invoiceitems/' });
  let chain;
  try {
    chain = await reconcileRun(`r3b-${ids[0]}`, 90000);
  } finally {
    await S.standin.fail({ clear: true });
  }
  assert.deepEqual((await reconciled(ids)).map((r) => r.state), ['ok', 'ok', 'ok']);
  assert.ok(chain.length >= 2, `runs: ${JSON.stringify(chain)}`);
  for (const j of chain) {
    assert.deepEqual([j.state, j.attempts], ['done', 1], JSON.stringify(j));
    assert.ok(Number(j.took) < lease, `a run took ${j.took} s, the lease is ${lease} s`);
  }
});
