// Direct MariaDB access for assertions and fixtures.
//
//   import { query, close } from './lib/db.mjs';
//   const [u] = await query('SELECT tier FROM users WHERE id = ?', [42]);
//   after(close);
//
// Connects (lazily, once) with mysql2/promise over env.DB_SOCKET, or env.DB_HOST/DB_PORT when no
// socket is set, as env.DB_USER / env.DB_PASSWORD to env.DB_NAME. DATETIMEs are read as UTC and DECIMALs
// come back as strings (exact money). `?` placeholders are escaped client-side (mysql2 query()).
import { execFileSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import { env, requireEnv } from './env.mjs';

// The promise is kept, not the connection: callers racing on the first use
// (Promise.all of queries) share one connection instead of leaking others.
let conn;
function options() {
  const { DB_USER, DB_NAME } = requireEnv('DB_USER', 'DB_NAME');
  const where = env.DB_SOCKET ? { socketPath: env.DB_SOCKET } : { host: env.DB_HOST || '127.0.0.1', port: Number(env.DB_PORT || 3306) };
  return { ...where, user: DB_USER, password: env.DB_PASSWORD ?? '', database: DB_NAME,
    timezone: 'Z', supportBigNumbers: true, bigNumberStrings: false, multipleStatements: false };
}

export function connection() {
  if (!conn) conn = mysql.createConnection(options());
  return conn;
}

/**
 * Runs sql (a locking read, say) in a transaction on a connection of its own, and keeps that transaction
 * open, with its locks, until release() rolls it back and closes the connection: what waits for those
 * locks can then be seen (lockWaits()).
 */
export async function hold(sql, params = []) {
  const c = await mysql.createConnection(options());
  try {
    await c.beginTransaction();
    await c.query(sql, params);
  } catch (e) {
    await c.end().catch(() => {});
    throw e;
  }
  return { release: async () => { await c.rollback().catch(() => {}); await c.end().catch(() => {}); } };
}

/** Runs one statement; returns rows for SELECT, the result header ({affectedRows, insertId}) otherwise. */
export async function query(sql, params = []) {
  const [rows] = await (await connection()).query(sql, params);
  return rows;
}

export async function close() {
  const c = conn;
  conn = undefined;
  await (await c)?.end();
}

/** The `mariadb` client as root over env.DB_SOCKET (as scripts/stack created it), with args and stdin input. */
function rootClient(args, input) {
  const { DB_SOCKET } = requireEnv('DB_SOCKET');
  return execFileSync('mariadb', ['-S', DB_SOCKET, '-u', 'root', '-N', ...args], { input, encoding: 'utf8', timeout: 30000 }).trim();
}

/**
 * Runs sql as MariaDB's administrator (root over env.DB_SOCKET, as scripts/stack created it) with the
 * `mariadb` client, for what the application's user may not do (SET GLOBAL, KILL); returns its output
 * (tab-separated rows, no header), trimmed. Throws when the statement fails.
 */
export function asAdmin(sql) {
  return rootClient(['-e', sql]);
}

/** How many transactions wait for a lock in a statement whose text starts with prefix (INNODB_TRX, read as root). */
export function lockWaits(prefix) {
  return Number(asAdmin("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' " +
    `AND trx_query LIKE '${prefix.replace(/[\\'%_]/g, (c) => `\\${c}`)}%'`));
}

/**
 * How many of the application's connections are running a statement whose text starts with prefix: a
 * locking read that waits while the optimizer reads a row by its key shows here ("Statistics"), not always
 * in INNODB_TRX as a lock wait.
 */
export function running(prefix) {
  const { DB_USER } = requireEnv('DB_USER');
  const esc = (v) => v.replace(/[\\'%_]/g, (c) => `\\${c}`);
  return Number(asAdmin("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE command IN ('Query', 'Execute') " +
    `AND user = '${esc(DB_USER)}' AND info LIKE '${esc(prefix)}%'`));
}

/** asAdmin for a script fed to the client on stdin, in the application's database (DELIMITER works there). */
export function asAdminScript(sql) {
  return rootClient([requireEnv('DB_NAME').DB_NAME], sql);
}

/**
 * The SQL of the named statements of common/store/stmt.c (enum stmt names without STMT_), as the programs
 * run them: printed by the build's tests/stmt-sql (Makefile, TOOLS), never a copy. For plans: EXPLAIN and
 * ANALYZE of what the code asks.
 */
export function statementSql(...names) {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  return execFileSync(`${XSB_BIN}/../tests/stmt-sql`, names, { encoding: 'utf8' }).trimEnd().split('\n');
}

/**
 * The rows and index entries MariaDB looked at to run sql (with params) on this module's connection: its
 * session's Handler_* counters around the statement. With a condition pushed into the index each entry
 * looked at is an attempt and a match is then read; without, each entry is a read (next, previous, or of a
 * whole-table scan).
 */
export async function examined(sql, params = []) {
  const names = ['Handler_icp_attempts', 'Handler_icp_match', 'Handler_read_next', 'Handler_read_prev', 'Handler_read_rnd_next'];
  const status = async () => Object.fromEntries((await query(`SHOW SESSION STATUS WHERE Variable_name IN (${names.map(() => '?').join(', ')})`,
    names)).map((r) => [r.Variable_name, Number(r.Value)]));
  const a = await status();
  await query(sql, params);
  const b = await status();
  const d = (k) => b[k] - a[k];
  return d('Handler_icp_attempts') - d('Handler_icp_match') + d('Handler_read_next') + d('Handler_read_prev') + d('Handler_read_rnd_next');
}
