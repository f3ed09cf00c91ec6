// Derives the Twilio OpenAPI document Prism serves to the stack.
//
//   node tests/peers/twilio-spec.mjs IN.json OUT.json
//
// Prism answers a static mock with the spec's one example, so every purchase would return
// +18089255327 / PNaaaa...: two users could never hold numbers at once (users.phone_number and
// phone_numbers.phone_sid are unique), and a number bought after a release would repeat a SID.
// Its dynamic mode (-d) generates from the schemas instead, but the spec's schemas allow null or
// any text for phone_number (lorem ipsum, which our client rightly refuses).  This copy tightens
// the few schemas the phone program reads, so `prism mock -d` answers what Twilio would: a fresh
// E.164 US number and a fresh PN + 32 lowercase hex SID per purchase, and at least one offer per
// search.  Requests are validated against the same parameters as before (401 without Basic auth,
// 422 for bad params).  OUT is written only when it changes, since Prism reloads a changed file.
import fs from 'node:fs';

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  console.error('usage: twilio-spec.mjs IN.json OUT.json');
  process.exit(2);
}
const spec = JSON.parse(fs.readFileSync(inPath, 'utf8'));
const schemas = spec.components.schemas;

const e164 = { type: 'string', pattern: '^\\+1[2-9][0-9]{2}[2-9][0-9]{6}$' };
const caps = {
  type: 'object',
  required: ['voice', 'sms', 'mms'],
  properties: { voice: { type: 'boolean', enum: [true] }, sms: { type: 'boolean', enum: [true] }, mms: { type: 'boolean', enum: [true] } },
};

function must(obj, what) {
  if (!obj) throw new Error(`twilio-spec: ${what} not found in ${inPath}`);
  return obj;
}

// IncomingPhoneNumber: what a purchase, a list and a fetch return.
const number = must(schemas['api.v2010.account.incoming_phone_number'], 'incoming_phone_number schema');
Object.assign(number.properties, {
  sid: { type: 'string', pattern: '^PN[0-9a-f]{32}$' },
  phone_number: e164,
  status: { type: 'string', enum: ['in-use'] },
  capabilities: caps,
});
number.required = [...new Set([...(number.required || []), 'sid', 'phone_number', 'status', 'capabilities'])];

// AvailablePhoneNumber (local): what a search returns.
const offer = must(schemas['api.v2010.account.available_phone_number_country.available_phone_number_local'], 'available_phone_number_local schema');
Object.assign(offer.properties, {
  phone_number: e164,
  friendly_name: { type: 'string', pattern: '^\\([2-9][0-9]{2}\\) [2-9][0-9]{2}-[0-9]{4}$' },
  locality: { type: 'string', enum: ['Hilo', 'San Francisco', 'Oakland', 'Portland', 'Austin'] },
  region: { type: 'string', enum: ['HI', 'CA', 'OR', 'TX'] },
  iso_country: { type: 'string', enum: ['US'] },
  capabilities: caps,
});
offer.required = [...new Set([...(offer.required || []), 'phone_number', 'friendly_name', 'locality', 'region', 'iso_country', 'capabilities'])];

const search = must(spec.paths['/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/Local.json']?.get?.responses?.['200']
  ?.content?.['application/json']?.schema?.properties?.available_phone_numbers, 'search response schema');
Object.assign(search, { minItems: 1, maxItems: 5 });

// Message: what a fetch returns. Twilio writes num_segments as a string; the stand-in bills every
// message as 2 segments, so a test can tell the count it asked Twilio for from a default of 1.
const message = must(schemas['api.v2010.account.message'], 'message schema');
Object.assign(message.properties, {
  sid: { type: 'string', pattern: '^SM[0-9a-f]{32}$' },
  num_segments: { type: 'string', enum: ['2'] },
});
message.required = [...new Set([...(message.required || []), 'sid', 'num_segments'])];

const text = JSON.stringify(spec);
let old = null;
try { old = fs.readFileSync(outPath, 'utf8'); } catch { /* first run */ }
if (old !== text) {
  fs.writeFileSync(`${outPath}.tmp`, text);
  fs.renameSync(`${outPath}.tmp`, outPath);
}
