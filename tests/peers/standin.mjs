// Starts the Stripe stand-in (stripe.mjs) as a child process for the peers' self tests and gives small
// clients for its /v1 API and its control endpoints.
//
//   const s = await startStandIn(['--key', KEY, '--price', 'price_x=4000']);
//   await s.call('POST', '/v1/customers', { params: { email } });  // -> {status, headers, json}
//   await s.ctl('POST', '/__reset');                                 // -> parsed JSON
//   s.stop();
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const VERSION = '2026-10-28.endive'; // the pinned package's apiVersion: the API of today

// Resolves with {base, call, ctl, stop} once the stand-in says where it listens.
export async function startStandIn(args) {
  const script = fileURLToPath(new URL('./stripe.mjs', import.meta.url));
  const key = args[args.indexOf('--key') + 1];
  const child = spawn(process.execPath, [script, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`stand-in exited with ${code}`)));
  });
  child.stdout.resume();
  let seq = 0;
  const newKey = () => `selftest-${process.pid}-${++seq}`;
  const form = (o) => new URLSearchParams(o).toString();
  // One /v1 request: Bearer `key`, Stripe-Version `version`, an Idempotency-Key for POSTs unless given.
  async function call(method, path, { params, key: k = key, idem = method === 'POST' ? newKey() : undefined, version = VERSION, headers = {}, signal } = {}) {
    const h = { ...headers };
    if (k) h.authorization = `Bearer ${k}`;
    if (version) h['stripe-version'] = version;
    if (idem) h['idempotency-key'] = idem;
    let body;
    if (params && method === 'GET') path += '?' + form(params);
    else if (params) { body = form(params); h['content-type'] = 'application/x-www-form-urlencoded'; }
    const r = await fetch(base + path, { method, headers: h, body, signal });
    return { status: r.status, headers: r.headers, json: await r.json() };
  }
  const ctl = async (method, path, body) => (await fetch(base + path, { method, body: body && JSON.stringify(body) })).json();
  return { base, call, ctl, newKey, stop: () => child.kill() };
}
