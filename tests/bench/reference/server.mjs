// The reference receiver for `make bench`: a Stripe webhook endpoint written
// the way the Node ecosystem usually writes one, to compare xsb-webhook with.
//
//   node tests/bench/reference/server.mjs --listen SOCKET_OR_PORT [--workers 2] [--table reference_events]
//
// - node:http, one cluster worker per --workers (default 2: one per core);
// - the raw body is verified with the npm `stripe` package's
//   stripe.webhooks.constructEvent(rawBody, header, secret), as Stripe's
//   docs show (the first secret of STRIPE_WEBHOOK_SECRETS);
// - the event is stored with one INSERT (autocommit, so a durable commit
//   with the server's innodb_flush_log_at_trx_commit=1) through a mysql2
//   pool (connectionLimit: REF_POOL, default mysql2's 10) into a table of the
//   same columns as stripe_events; a redelivery fails with ER_DUP_ENTRY and
//   is answered 200 "duplicate";
// - 200 only after the INSERT returned, 400 on a bad signature, 500 on any
//   other database error (Stripe would retry).
// It applies no effects (no user lookup, no transaction): it only stores.
//
// Settings come from the stack's environment (var/bench/stack.env):
// STRIPE_WEBHOOK_SECRETS, DB_SOCKET, DB_USER, DB_PASSWORD, DB_NAME.
// SIGTERM to the primary stops the workers, then the primary.
import cluster from 'node:cluster';
import http from 'node:http';
import fs from 'node:fs';
import mysql from 'mysql2/promise';
import Stripe from 'stripe';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => {
  if (v.startsWith('--')) a.push([v.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return a;
}, []));
const listen = args.listen;
const workers = Number(args.workers || 2);
const table = args.table || 'reference_events';
if (!listen || !/^[A-Za-z0-9_]+$/.test(table)) {
  console.error('usage: server.mjs --listen SOCKET_OR_PORT [--workers N] [--table NAME]');
  process.exit(2);
}

if (cluster.isPrimary) {
  if (!/^\d+$/.test(listen)) fs.rmSync(listen, { force: true });
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) console.error(`reference: worker ${w.process.pid} exited (${signal || code})`);
    if (Object.keys(cluster.workers).length === 0 && stopping) process.exit(0);
  });
  const stop = () => {
    stopping = true;
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const secret = (process.env.STRIPE_WEBHOOK_SECRETS || '').split(',')[0].trim();
  const stripe = new Stripe('sk_test_reference');
  const pool = mysql.createPool({
    socketPath: process.env.DB_SOCKET,
    user: process.env.DB_USER,
    password: process.env.DB_PASSWORD,
    database: process.env.DB_NAME,
    charset: 'utf8mb4',
    connectionLimit: Number(process.env.REF_POOL || 10),
  });
  const insert = `INSERT INTO ${table} (id, type, api_version, livemode, created, object_id, payload, status, processed_at) `
    + 'VALUES (?, ?, ?, ?, ?, ?, ?, ?, NOW(6))';

  const reply = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/stripe/webhook') {
      reply(res, 404, { error: { code: 'not_found', message: 'no such route' } });
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    let event;
    try {
      event = stripe.webhooks.constructEvent(raw, req.headers['stripe-signature'], secret);
    } catch (err) {
      reply(res, 400, { error: { code: 'signature_invalid', message: err.message } });
      return;
    }
    let status = 'processed';
    try {
      await pool.execute(insert, [event.id, event.type, event.api_version ?? null, event.livemode ? 1 : 0,
        event.created, event.data?.object?.id ?? null, raw.toString('utf8'), status]);
    } catch (err) {
      if (err.code !== 'ER_DUP_ENTRY') {
        console.error(`reference: ${event.id}: ${err.code || err.message}`);
        reply(res, 500, { error: { code: 'processing_failed', message: 'event not stored' } });
        return;
      }
      status = 'duplicate';
    }
    reply(res, 200, { received: true, status });
  });
  server.keepAliveTimeout = 30000;
  server.listen(/^\d+$/.test(listen) ? { host: '127.0.0.1', port: Number(listen) } : listen);
  process.on('SIGTERM', () => {
    server.close();
    pool.end().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
