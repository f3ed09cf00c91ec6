// Twilio-side helpers: signed status callbacks into the stack.
//
//   import { signTwilio, postCallback } from './lib/twilio.mjs';
//   const r = await postCallback('/phone/status/voice', { CallSid: 'CA...', CallStatus: 'completed', CallDuration: '61' });
//   const bad = await postCallback(path, params, { signature: 'not-it' });   // or signature: false to omit it
//   await twilioDelay(1500, 'IncomingPhoneNumbers'); ... (await twilioRequests()).some(...)  // the delaying proxy
//   await twilioPrefer('example=readFull', 'Contains=8089251571'); ... await twilioPrefer('');   // Prism's answer
//   await twilioLargeAccount(25); ... await twilioLargeAccount(0);   // the account's whole list: 25 full pages
//
// Twilio signs the full public URL it called (env.PUBLIC_BASE_URL + path) plus the POST params, with the
// account's auth token (env.TWILIO_AUTH_TOKEN): HMAC-SHA1, base64, header X-Twilio-Signature.
// The request itself goes to the stack's env.BASE_URL + path.
import twilio from 'twilio';
import { requireEnv } from './env.mjs';
import { request } from './http.mjs';

/** X-Twilio-Signature for url + params (params: plain object; arrays = repeated keys). */
export function signTwilio(url, params = {}, { authToken = requireEnv('TWILIO_AUTH_TOKEN').TWILIO_AUTH_TOKEN } = {}) {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

/** The URL Twilio would have signed for a stack path. */
export const publicUrl = (path) => new URL(path, requireEnv('PUBLIC_BASE_URL').PUBLIC_BASE_URL).toString();

/**
 * POSTs params form-encoded to the stack, signed as Twilio would. opts: signature (string to send
 * instead; false to send none), authToken, url (the URL to sign, default publicUrl(path)), headers.
 */
export function postCallback(path, params = {}, { signature, authToken, url, headers = {} } = {}) {
  const sig = signature === undefined ? signTwilio(url ?? publicUrl(path), params, authToken ? { authToken } : undefined) : signature;
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [].concat(v)) form.append(k, String(x));
  return request('POST', path, { body: form, headers: { ...(sig === false ? {} : { 'X-Twilio-Signature': sig }), 'User-Agent': 'TwilioProxy/1.1', ...headers } });
}

// The delaying proxy in front of Twilio's stand-in (tests/peers/twilio-delay.mjs, at env.TWILIO_API_BASE).
const proxy = (path, init) => fetch(`${requireEnv('TWILIO_API_BASE').TWILIO_API_BASE}${path}`, init);

/** Holds every request whose path contains match (all when '') ms before passing it on; 0: off. */
export async function twilioDelay(ms, match = '') {
  const r = await proxy('/__delay', { method: 'POST', body: JSON.stringify({ ms, match }) });
  if (r.status !== 200) throw new Error(`twilio-delay /__delay: ${r.status} ${await r.text()}`);
}

/**
 * Has the proxy send Prism `Prefer: prefer` with every request whose path (with its query) contains
 * match, e.g. 'example=readFull' for the spec's own example answer; '' turns it off.
 */
export async function twilioPrefer(prefer, match = '') {
  const r = await proxy('/__prefer', { method: 'POST', body: JSON.stringify({ prefer, match }) });
  if (r.status !== 200) throw new Error(`twilio-delay /__prefer: ${r.status} ${await r.text()}`);
}

/** The requests the proxy passed on so far, [{method, path, body}] (path with its query), oldest first. */
export const twilioRequests = async () => (await proxy('/__requests')).json();

/**
 * Makes the account's whole IncomingPhoneNumbers list (no filter) pages full pages of 1000 made-up
 * numbers, each named "large account P-I"; 0: Prism's own list again.
 */
export async function twilioLargeAccount(pages) {
  const r = await proxy('/__list', { method: 'POST', body: JSON.stringify({ pages }) });
  if (r.status !== 200) throw new Error(`twilio-delay /__list: ${r.status} ${await r.text()}`);
}
