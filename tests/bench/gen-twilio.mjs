// Writes signed Twilio call status callbacks for wrk, one per line:
// <X-Twilio-Signature>\t<form body>.
//   node tests/bench/gen-twilio.mjs --out FILE --count N --user USER_ID [--status completed]
// Each line is a different call (a fresh CallSid), so each is a durable
// write: a call_events row, plus a usage_events row for a completed call.
// Signatures come from the npm `twilio` package (getExpectedTwilioSignature
// over PUBLIC_BASE_URL + /phone/status/<user> and the form parameters), as
// Twilio would send them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import twilio from 'twilio';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => {
  if (v.startsWith('--')) a.push([v.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return a;
}, []));
const { TWILIO_AUTH_TOKEN: token, PUBLIC_BASE_URL: base, TWILIO_ACCOUNT_SID: account } = process.env;
if (!token || !base || !account || !args.out || !args.user) {
  console.error('needs TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, --out and --user');
  process.exit(2);
}
const count = Number(args.count || 100000), status = args.status || 'completed';
const url = new URL(`/phone/status/${args.user}`, base).toString();
// CA + 32 hex: 8 random hex for this file, then the line number.
const run = crypto.randomBytes(4).toString('hex');

const out = fs.createWriteStream(args.out);
for (let i = 0; i < count; i++) {
  const params = { AccountSid: account, ApiVersion: '2010-04-01', CallSid: `CA${run}${i.toString(16).padStart(24, '0')}`,
    CallStatus: status, CallDuration: String(30 + (i % 600)), Direction: 'inbound', From: '+14155550100', To: '+14155550199' };
  const sig = twilio.getExpectedTwilioSignature(token, url, params);
  out.write(`${sig}\t${new URLSearchParams(params).toString()}\n`);
}
out.end(() => console.log(`${count} ${status} callbacks for ${url} -> ${args.out}`));
