// scripts/migrate run again after an interruption: every migration applied but not recorded (the
// migrator died between the file and its row in schema_migrations), or applied in part (up to its first
// statement), is completed and recorded on the next run, and leaves the schema a run without the
// interruption makes (docs/OPERATIONS.md, 1.6).  On two scratch databases of the stack's server, made and
// dropped here as MariaDB's administrator: `clean` is migrated a file at a time, `dirty` is interrupted
// at every file; after each file their tables must be the same.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { REPO_ROOT, requireEnv } from './lib/env.mjs';

const { DB_SOCKET } = requireEnv('DB_SOCKET');
const CLEAN = 'xsb_migrate_clean', DIRTY = 'xsb_migrate_dirty';
const sqlDir = path.join(REPO_ROOT, 'sql');
const files = fs.readdirSync(sqlDir).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-migrate-'));

/** Runs sql in database db as root (tab-separated rows, no header); throws when a statement fails. */
const client = (db, sql) => execFileSync('mariadb', ['-S', DB_SOCKET, '-u', 'root', '-N', '-B', ...(db ? ['-D', db] : [])],
  { input: sql, encoding: 'utf8', timeout: 60000 }).trim();

const fresh = () => client(null, `DROP DATABASE IF EXISTS ${CLEAN}; DROP DATABASE IF EXISTS ${DIRTY};
  CREATE DATABASE ${CLEAN} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  CREATE DATABASE ${DIRTY} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`);
after(() => {
  client(null, `DROP DATABASE IF EXISTS ${CLEAN}; DROP DATABASE IF EXISTS ${DIRTY};`);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A folder holding the migrations up to files[i], as a release that ended there shipped them. */
function upTo(i) {
  const d = path.join(tmp, `upto-${i}`);
  if (!fs.existsSync(d)) {
    fs.mkdirSync(d);
    for (const f of files.slice(0, i + 1)) fs.symlinkSync(path.join(sqlDir, f), path.join(d, f));
  }
  return d;
}

/** scripts/migrate --dir dir against database db, as root over the stack's socket. */
function migrate(db, dir) {
  const r = spawnSync(path.join(REPO_ROOT, 'scripts/migrate'), ['--dir', dir], { encoding: 'utf8', timeout: 300000,
    env: { ...process.env, DB_SOCKET, DB_HOST: '', DB_USER: 'root', DB_PASSWORD: '', DB_NAME: db } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * What must not differ: SHOW CREATE TABLE of every table, the seeded rows, and the versions and checksums
 * recorded.  AUTO_INCREMENT= is left out: a seed INSERT ... ON DUPLICATE KEY UPDATE that finds its row
 * still takes a number from the counter (a gap in jobs' ids), which is data, not schema.
 */
function snapshot(db) {
  const tables = client(db, 'SHOW TABLES').split('\n').filter(Boolean);
  const seeds = { tiers: 'SELECT * FROM tiers ORDER BY name',
    jobs: 'SELECT kind, dedupe_key, payload, state, attempts FROM jobs ORDER BY dedupe_key',
    metrics_rollup: 'SELECT id, round, rolled_at FROM metrics_rollup ORDER BY id',
    schema_migrations: 'SELECT version, name, checksum FROM schema_migrations ORDER BY version' };
  // One client for it all, each answer after a line naming it.
  let sql = '';
  for (const t of tables) sql += `SELECT '@@${t}'; SHOW CREATE TABLE \`${t}\`; SELECT '@@${t} rows'; SELECT COUNT(*) FROM \`${t}\`;\n`;
  for (const [t, q] of Object.entries(seeds)) if (tables.includes(t)) sql += `SELECT '@@${t} content'; ${q};\n`;
  const out = {};
  let at;
  for (const line of client(db, sql).split('\n')) {
    if (line.startsWith('@@')) out[at = line.slice(2)] = [];
    else out[at].push(line.replace(/ AUTO_INCREMENT=\d+/, ''));
  }
  return out;
}

/** The statements of a migration file: its comment lines dropped, split after each ";" that ends a line. */
const statements = (f) => fs.readFileSync(path.join(sqlDir, f), 'utf8').split('\n')
  .filter((l) => !/^\s*--/.test(l)).join('\n').split(/;[ \t]*\n/).map((s) => s.trim()).filter(Boolean);

const versionOf = (f) => Number(f.slice(0, 3));
const sumOf = (f) => execFileSync('sha256sum', [path.join(sqlDir, f)], { encoding: 'utf8' }).split(' ')[0];

function assertRecorded(db, f) {
  assert.equal(client(db, `SELECT CONCAT(name, ' ', checksum) FROM schema_migrations WHERE version = ${versionOf(f)}`),
    `${f} ${sumOf(f)}`, `${f} recorded once more, with its checksum`);
}

test('M1 each migration, applied in part (its first statement) or whole but not recorded, completes on the next run with the schema of a run without the interruption', () => {
  fresh();
  for (const [i, f] of files.entries()) {
    const dir = upTo(i);
    const c = migrate(CLEAN, dir);
    assert.equal(c.status, 0, c.out);
    const want = snapshot(CLEAN);

    // The migrator died after the first statement of a file of several.
    const stmts = statements(f);
    if (stmts.length > 1) {
      client(DIRTY, `${stmts[0]};`);
      const p = migrate(DIRTY, dir);
      assert.equal(p.status, 0, `${f} after its first statement by hand: ${p.out}`);
      assert.match(p.out, new RegExp(`applied ${f}`));
    } else {
      const d = migrate(DIRTY, dir);
      assert.equal(d.status, 0, d.out);
    }
    assert.deepEqual(snapshot(DIRTY), want, `${f} completed: the schema of a run without the interruption`);

    // The migrator died after the file, before its row.
    client(DIRTY, `DELETE FROM schema_migrations WHERE version = ${versionOf(f)}`);
    const r = migrate(DIRTY, dir);
    assert.equal(r.status, 0, `${f} run again: ${r.out}`);
    assert.match(r.out, new RegExp(`applied ${f}`));
    assertRecorded(DIRTY, f);
    assert.deepEqual(snapshot(DIRTY), want, `${f} run again changes nothing`);
  }
});

test('M2 after a full migrate, each migration not recorded is run again and recorded, and changes nothing', () => {
  const all = upTo(files.length - 1);
  const want = snapshot(DIRTY);
  assert.equal(want['schema_migrations content'].length, files.length, 'M1 left every file applied');
  for (const f of files) {
    // 012 drops the index 006 adds: 006 run again after 012 adds it back.  A migrator interrupted at
    // 006 runs 012 after it (M1).
    if (f.startsWith('006_')) continue;
    client(DIRTY, `DELETE FROM schema_migrations WHERE version = ${versionOf(f)}`);
    const r = migrate(DIRTY, all);
    assert.equal(r.status, 0, `${f} run again: ${r.out}`);
    assertRecorded(DIRTY, f);
    assert.deepEqual(snapshot(DIRTY), want, `${f} run again changes nothing`);
  }
});

test('M3 a file of DML alone is applied and recorded in one transaction: a failure keeps neither', () => {
  const dir = path.join(tmp, 'dml');
  fs.mkdirSync(dir);
  for (const f of files) fs.symlinkSync(path.join(sqlDir, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, '900_dml_test.sql'),
    "INSERT INTO jobs (kind, dedupe_key, payload) VALUES ('jobs_purge', 'migrate-test', '{}');\nINSERT INTO no_such_table VALUES (1);\n");
  const r = migrate(DIRTY, dir);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /900_dml_test\.sql failed; schema_migrations was not updated/);
  assert.equal(client(DIRTY, "SELECT COUNT(*) FROM jobs WHERE dedupe_key = 'migrate-test'"), '0', 'the first INSERT rolled back');
  assert.equal(client(DIRTY, 'SELECT COUNT(*) FROM schema_migrations WHERE version = 900'), '0');

  fs.writeFileSync(path.join(dir, '900_dml_test.sql'),
    "INSERT INTO jobs (kind, dedupe_key, payload) VALUES ('jobs_purge', 'migrate-test', '{}');\n");
  const ok = migrate(DIRTY, dir);
  assert.equal(ok.status, 0, ok.out);
  assert.equal(client(DIRTY, "SELECT COUNT(*) FROM jobs WHERE dedupe_key = 'migrate-test'"), '1');
  assert.equal(client(DIRTY, 'SELECT COUNT(*) FROM schema_migrations WHERE version = 900'), '1');
});
