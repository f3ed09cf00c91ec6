// The stand-in's parameter table (stripe-params.mjs) against Stripe's own declarations in the pinned
// `stripe` package: every row names a `*Params` interface; its top-level keys, and the keys of every hash
// the row details, must be exactly the interface's, with compatible types, the same enum values, the same
// required keys and the same `Emptyable` ('' unsets). Run: `node --test tests/peers/stripe-params.selftest.mjs`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadStripeTypes } from './dts.mjs';
import { PARAMS, str, int, hash, en, arr, req } from './stripe-params.mjs';

const D = loadStripeTypes();
const describe = (leaves) => leaves.map((l) => (l.k === 'lit' ? JSON.stringify(l.v) : l.k === 'prim' ? l.name : l.k === 'iface' ? l.name : l.k)).join(' | ');

// Problems of one table entry `spec` against the resolved .d.ts type `leaves`, pushed to `out`.
function compare(spec, leaves, where, out) {
  const bad = (msg) => out.push(`${where}: ${msg} (table ${spec.t}, .d.ts ${describe(leaves)})`);
  const dtsEmptyable = leaves.some((l) => l.k === 'lit' && l.v === '');
  if (!!spec.emptyable !== dtsEmptyable) bad(`emptyable ${!!spec.emptyable} but .d.ts ${dtsEmptyable}`);
  const has = (pred) => leaves.some(pred);
  switch (spec.t) {
    case 'any': return;
    case 'string': if (!has((l) => l.k === 'prim' && l.name === 'string')) bad('no string'); return;
    case 'integer': case 'number': if (!has((l) => l.k === 'prim' && l.name === 'number')) bad('no number'); return;
    case 'boolean': if (!has((l) => l.k === 'prim' && l.name === 'boolean')) bad('no boolean'); return;
    case 'decimal': if (!has((l) => l.k === 'decimal')) bad('no Decimal'); return;
    case 'metadata': if (!has((l) => l.k === 'metadata')) bad('no metadata'); return;
    case 'enum': {
      const lits = D.literals(leaves).filter((v) => v !== '').sort();
      if (JSON.stringify(lits) !== JSON.stringify([...spec.values].sort())) bad(`enum values differ: .d.ts [${lits}]`);
      return;
    }
    case 'array': {
      const a = leaves.find((l) => l.k === 'array');
      if (!a) return bad('no array');
      return compare(spec.of, D.arrayOf(a), `${where}[]`, out);
    }
    case 'hash': {
      const h = leaves.find((l) => l.k === 'iface');
      if (!h) return bad('no hash');
      return compareKeys(spec.keys, h.members, where, out);
    }
    case 'oneOf': {
      for (const alt of spec.of) compare({ ...alt, emptyable: spec.emptyable }, leaves, `${where} (alternative ${alt.t})`, out);
      return;
    }
    default: bad('unknown table type');
  }
}
function compareKeys(keys, members, where, out) {
  const name = (k) => (where ? `${where}[${k}]` : k);
  const dtsKeys = [...members.keys()].filter((k) => k !== '[index]');
  for (const k of dtsKeys) if (!(k in keys)) out.push(`${name(k)}: in the .d.ts, missing from the table`);
  for (const [k, spec] of Object.entries(keys)) {
    const m = members.get(k);
    if (!m) { out.push(`${name(k)}: in the table, not in the .d.ts`); continue; }
    if (!!spec.required === m.optional) out.push(`${name(k)}: required ${!!spec.required} but .d.ts optional ${m.optional}`);
    compare(spec, D.member(m), name(k), out);
  }
}

for (const [route, { dts: [file, iface], params }] of Object.entries(PARAMS)) {
  test(`${route} agrees with ${iface}`, () => {
    const out = [];
    compareKeys(params, D.iface(`resources/${file}`, iface).members, '', out);
    assert.deepEqual(out, []);
  });
}

// The checker itself must catch each kind of disagreement (else the tests above prove nothing).
test('the comparison catches unknown keys, missing keys, wrong types, enum drift, required and emptyable', () => {
  const members = D.iface('resources/InvoiceItems.d.ts', 'InvoiceItemCreateParams').members;
  const good = PARAMS['POST /v1/invoiceitems'].params;
  const run = (params) => { const out = []; compareKeys(params, members, '', out); return out; };
  assert.deepEqual(run(good), []);
  assert.match(run({ ...good, unit_amount: int }).join(), /unit_amount: in the table, not in the \.d\.ts/);
  const { currency, ...noCurrency } = good;
  assert.match(run(noCurrency).join(), /currency: in the \.d\.ts, missing from the table/);
  assert.match(run({ ...good, quantity: str }).join(), /quantity: no string/);
  assert.match(run({ ...good, tax_behavior: en('exclusive', 'inclusive') }).join(), /enum values differ/);
  assert.match(run({ ...good, period: hash({ end: req(int), start: int }) }).join(), /period\[start\]: required false/);
  assert.match(run({ ...good, period: hash({ end: req(int), start: req(int), middle: int }) }).join(), /period\[middle\]: in the table/);
  assert.match(run({ ...good, tax_rates: arr(int) }).join(), /tax_rates\[\]: no number/);
  assert.match(run({ ...good, description: { ...str, emptyable: true } }).join(), /description: emptyable true/);
});

// Every endpoint the stand-in serves has a row (the stand-in refuses to start otherwise; checked here too).
test('the table covers the endpoints our C code calls', () => {
  for (const r of ['POST /v1/customers', 'POST /v1/checkout/sessions', 'GET /v1/subscriptions/{id}', 'POST /v1/subscriptions/{id}',
    'POST /v1/invoices/create_preview', 'POST /v1/invoiceitems', 'GET /v1/invoices/{id}', 'GET /v1/invoiceitems', 'GET /v1/invoices/{id}/lines']) {
    assert.ok(PARAMS[r], r);
  }
});
