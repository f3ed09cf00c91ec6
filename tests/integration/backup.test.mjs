// scripts/backup: a hot mariadb-backup copy of the running stack's MariaDB,
// prepared, restored into a fresh datadir and started there, holds what the
// live database held at the moment of the backup (row counts and checksums
// of tables nothing writes to during the test, and a row written just before).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { query, close } from './lib/db.mjs';
import { REPO_ROOT, VAR_DIR, env } from './lib/env.mjs';
import { waitFor } from './lib/wait.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-backup-'));
after(async () => { await close(); fs.rmSync(dir, { recursive: true, force: true }); });

const backup = (args) => spawnSync(path.join(REPO_ROOT, 'scripts/backup'), args, { encoding: 'utf8',
  env: { ...process.env, DB_NAME: env.DB_NAME || 'xswarm_billing' }, timeout: 300000 });

test('K1 backup create, then verify: the restored copy has the live tables\' rows and checksums', async () => {
  const email = `backup-${crypto.randomUUID()}@example.test`, id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier) VALUES (?, ?, ?)', [id, email, 'ai_buddy']);
  // Tables the running stack does not write by itself (the worker touches jobs and notifications,
  // and its metrics rollup marks the Stripe events it counts: wait until none is left to count).
  await waitFor(async () => (await query('SELECT COUNT(*) AS n FROM stripe_events WHERE metrics_key = -1'))[0].n == 0,
    { timeoutMs: 60000, intervalMs: 250, what: 'the metrics rollup to count every stored event' });
  const stable = ['users', 'stripe_events', 'subscriptions', 'invoices', 'billing_events', 'schema_migrations'];
  const live = {};
  for (const t of stable) {
    const [c] = await query(`SELECT COUNT(*) AS n FROM \`${t}\``);
    const [s] = await query(`CHECKSUM TABLE \`${t}\``);
    live[t] = { rows: String(c.n), checksum: String(s.Checksum) };
  }
  const sock = path.join(VAR_DIR, 'run', 'mariadb.sock');
  const made = backup(['create', dir, '--', `--socket=${sock}`, `--user=${os.userInfo().username}`]);
  assert.equal(made.status, 0, made.stderr);
  const target = made.stdout.trim();
  assert.match(target, /\/xsb-\d{8}T\d{6}Z$/);
  assert.equal(fs.statSync(target).mode & 0o077, 0, 'the backup is readable by its owner only');
  assert.match(fs.readFileSync(path.join(target, 'xtrabackup_checkpoints'), 'utf8'), /backup_type = log-applied/);

  const v = backup(['verify', target]);
  assert.equal(v.status, 0, v.stderr);
  const restored = Object.fromEntries(v.stdout.trim().split('\n').map((l) => l.split('\t')).map(([t, rows, checksum]) => [t, { rows, checksum }]));
  for (const t of stable) assert.deepEqual(restored[t], live[t], `${t} restored as it was`);
  const tables = (await query('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()')).map((x) => x.t);
  assert.deepEqual(Object.keys(restored).sort(), tables.sort(), 'every table is in the copy');

  // A restore never overwrites a datadir in use.
  const busy = path.join(dir, 'busy');
  fs.mkdirSync(busy);
  fs.writeFileSync(path.join(busy, 'ibdata1'), 'x');
  const r = backup(['restore', target, busy]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /is not empty/);

  // K2: a restore's files belong to the server that will run on them. Into /var/lib/mysql the parent is
  // root's, so the parent's owner is no guide: the packaged server's user (mysql) is, or --owner.
  const lib = path.join(dir, 'lib');
  fs.mkdirSync(lib, { mode: 0o755 });
  const owners = (d) => new Set(fs.readdirSync(d, { recursive: true }).map((f) => {
    const st = fs.statSync(path.join(d, f));
    return `${st.uid}:${st.gid}`;
  }));
  const idOf = (args) => spawnSync('id', args, { encoding: 'utf8' }).stdout.trim();
  if (process.getuid() === 0) {
    assert.equal(fs.statSync(lib).uid, 0, 'the parent is root\'s');
    const mysql = spawnSync('id', ['mysql']).status === 0;
    const want = mysql ? `${idOf(['-u', 'mysql'])}:${idOf(['-g', 'mysql'])}` : '0:0';
    const d1 = path.join(lib, 'mysql');
    const r1 = backup(['restore', target, d1]);
    assert.equal(r1.status, 0, r1.stderr);
    assert.deepEqual([...owners(d1)], [want], mysql ? 'every file is mysql\'s' : 'no mysql user: the parent\'s owner');
    const d2 = path.join(lib, 'other');
    const r2 = backup(['restore', target, d2, '--owner', 'nobody:nogroup']);
    assert.equal(r2.status, 0, r2.stderr);
    assert.deepEqual([...owners(d2)], [`${idOf(['-u', 'nobody'])}:${idOf(['-g', 'nobody'])}`], 'every file is --owner\'s');
  } else {
    const r3 = backup(['restore', target, path.join(lib, 'x'), '--owner', 'nobody:nogroup']);
    assert.notEqual(r3.status, 0);
    assert.match(r3.stderr, /--owner needs root/);
  }
  const r4 = backup(['restore', target, path.join(lib, 'y'), '--owner', 'no owner']);
  assert.notEqual(r4.status, 0);
  assert.match(r4.stderr, /--owner takes USER:GROUP/);
});
