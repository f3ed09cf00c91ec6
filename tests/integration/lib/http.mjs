// HTTPS client for the test stack (nginx in front of the FastCGI programs).
//
//   import { request, rawRequest } from './lib/http.mjs';
//   const r = await request('POST', '/api/billing/checkout', { json: { tier: 'ai_secretary' }, token: jwt });
//   r.status, r.headers, r.text, r.json   // json: parsed body, or undefined if it is not JSON
//
// Base URL: env.BASE_URL (e.g. https://127.0.0.1:8443). Trust: only env.TLS_CERT, the stack's
// self-signed certificate (hostname checks stay on, so the cert must name the BASE_URL host).
// One keep-alive agent is shared by all calls; call closeHttp() in an after() hook if a test file
// wants the process to exit promptly.
import fs from 'node:fs';
import https from 'node:https';
import { env, envPath, requireEnv } from './env.mjs';

let agent;
function getAgent() {
  agent ??= new https.Agent({ keepAlive: true, maxSockets: 32, ca: fs.readFileSync(envPath('TLS_CERT')) });
  return agent;
}
export function closeHttp() { agent?.destroy(); agent = undefined; }

/**
 * Sends exactly what it is given: no JSON encoding, no content-type unless in headers.
 * body: string | Buffer | undefined. Content-Length is added when there is a body and neither
 * content-length nor transfer-encoding was given. opts.timeoutMs (default 15000) aborts the request.
 * opts.base and opts.agent address another stack than env's (tests/cluster: two app nodes).
 */
export function rawRequest(method, path, { headers = {}, body, timeoutMs = 15000, base, agent: ag } = {}) {
  const url = new URL(path, base ?? requireEnv('BASE_URL').BASE_URL);
  const h = { ...headers };
  const lower = Object.keys(h).map((k) => k.toLowerCase());
  if (body !== undefined && !lower.includes('content-length') && !lower.includes('transfer-encoding')) {
    h['Content-Length'] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers: h, agent: ag ?? getAgent(), timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The usual call. opts:
 *   json    value sent as JSON (sets content-type application/json)
 *   body    string/Buffer sent as is; a URLSearchParams or plain object with form: true is form-encoded
 *   token   adds Authorization: Bearer <token>
 *   headers extra headers (win over the defaults above)
 */
export function request(method, path, { headers = {}, body, json, token, form = false, timeoutMs } = {}) {
  const h = { Accept: 'application/json' };
  if (json !== undefined) {
    body = JSON.stringify(json);
    h['Content-Type'] = 'application/json';
  } else if (body instanceof URLSearchParams || (form && body && typeof body === 'object' && !Buffer.isBuffer(body))) {
    body = new URLSearchParams(body).toString();
    h['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  if (token) h.Authorization = `Bearer ${token}`;
  return rawRequest(method, path, { headers: { ...h, ...headers }, body, timeoutMs });
}

/**
 * The named counters of GET /metrics (read with METRICS_TOKEN) as numbers,
 * { name: value }; NaN for one the scrape does not show.
 */
export async function metricCounters(...names) {
  const r = await rawRequest('GET', '/metrics', { headers: { authorization: `Bearer ${requireEnv('METRICS_TOKEN').METRICS_TOKEN}` } });
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}: ${r.text}`);
  return Object.fromEntries(names.map((n) => [n, Number((new RegExp(`^${n} ([0-9]+)$`, 'm').exec(r.text) || [])[1])]));
}

export { env };
