// Two app nodes over one Galera cluster, for tests/cluster/*.test.mjs.
//
//   import { nodes, post, hook, query, closeAll } from './nodes.mjs';
//   const r = await hook(nodes[1], event);     // signed POST /stripe/webhook to app node 2
//
// scripts/test-cluster starts three Galera nodes (scripts/cluster) and two
// app stacks (scripts/stack on DB_HOST), app node N on Galera node N, and
// names their stack.env files in XSB_CLUSTER_APPS (colon-separated).  Each
// node has its own nginx, certificate and URL; they share the Stripe
// webhook secrets (one secrets file).  Queries go to Galera node 3, which
// neither app node writes to: what it shows was replicated.
import fs from 'node:fs';
import https from 'node:https';
import mysql from 'mysql2/promise';
import { parseEnvFile } from '../integration/lib/env.mjs';
import * as S from '../integration/lib/stripe.mjs';
import { rawRequest } from '../integration/lib/http.mjs';

const files = (process.env.XSB_CLUSTER_APPS || '').split(':').filter(Boolean);
if (files.length < 2) throw new Error('XSB_CLUSTER_APPS must name the stack.env of two app nodes (scripts/test-cluster sets it)');

/** The app nodes: { n, env, agent, url }. */
export const nodes = files.map((f, i) => {
  const env = parseEnvFile(fs.readFileSync(f, 'utf8'));
  return { n: i + 1, env, url: env.BASE_URL, agent: new https.Agent({ keepAlive: true, maxSockets: 64, ca: fs.readFileSync(env.TLS_CERT) }) };
});
const secret = nodes[0].env.STRIPE_WEBHOOK_SECRETS.split(',')[0].trim();

/** A request to app node `node`; resolves { status, headers, text, json }. */
export function post(node, method, path, { body, headers = {}, timeoutMs = 60000 } = {}) {
  return rawRequest(method, path, { body, headers, timeoutMs, base: node.url, agent: node.agent });
}

/** POSTs event ev, signed with the shared secret, to node's webhook. */
export function hook(node, ev, opts = {}) {
  const body = JSON.stringify(ev);
  return post(node, 'POST', '/stripe/webhook', { ...opts, body, headers: { 'Content-Type': 'application/json',
    'Stripe-Signature': S.signatureHeader(body, { secret }) } });
}

let conns;
/**
 * Runs one statement on Galera node `galera` (default 3) as the application's user, with causal
 * reads (wsrep_sync_wait=1): a read sees every transaction the cluster committed before it.
 */
export async function query(sql, params = [], galera = 3) {
  conns ??= new Map();
  if (!conns.has(galera)) {
    const e = nodes[0].env;
    const port = Number(process.env[`DB_PORT_N${galera}`] || 0);
    if (!port) throw new Error(`DB_PORT_N${galera} is not set (scripts/test-cluster sets it)`);
    conns.set(galera, mysql.createConnection({ host: '127.0.0.1', port, user: e.DB_USER, password: process.env.DB_PASSWORD,
      database: e.DB_NAME, timezone: 'Z' }).then(async (c) => { await c.query('SET SESSION wsrep_sync_wait = 1'); return c; }));
  }
  try {
    const [rows] = await (await conns.get(galera)).query(sql, params);
    return rows;
  } catch (e) {
    conns.delete(galera);	// a node killed by a test: connect again next time
    throw e;
  }
}

export async function closeAll() {
  for (const n of nodes) n.agent.destroy();
  for (const c of conns?.values() ?? []) await (await c.catch(() => null))?.end().catch(() => {});
  conns = undefined;
}
