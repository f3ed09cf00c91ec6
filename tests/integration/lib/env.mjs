// Test-stack settings for integration tests.
//
//   import { env, envPath, requireEnv } from './lib/env.mjs';
//
// Reads $XSB_VAR/stack.env (XSB_VAR defaults to <repo>/var/test, the repo found from this file's
// location). The file holds KEY=VALUE lines as written by the stack script (comments, blank lines,
// `export ` prefixes and simple '...'/"..." quoting allowed). A variable set in process.env wins over
// the file, for any key: `env.X` looks in process.env first, then in the file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const VAR_DIR = path.resolve(process.env.XSB_VAR || path.join(REPO_ROOT, 'var', 'test'));
export const ENV_FILE = path.join(VAR_DIR, 'stack.env');

/** Parses the text of an env file into a plain object. */
export function parseEnvFile(text) {
  const out = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    if (v.length >= 2 && v[0] === "'" && v.at(-1) === "'") v = v.slice(1, -1);
    else if (v.length >= 2 && v[0] === '"' && v.at(-1) === '"') v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    else v = v.replace(/\s+#.*$/, '');
    out[m[1]] = v;
  }
  return out;
}

const fileVars = fs.existsSync(ENV_FILE) ? parseEnvFile(fs.readFileSync(ENV_FILE, 'utf8')) : {};
export const envFileFound = fs.existsSync(ENV_FILE);

/** Settings: process.env overrides, then stack.env. Enumerating it lists the file's keys. */
export const env = new Proxy(fileVars, {
  get: (t, k) => (typeof k === 'string' && Object.hasOwn(process.env, k) ? process.env[k] : t[k]),
  has: (t, k) => Object.hasOwn(process.env, k) || k in t,
});

/** Returns the named settings, or throws one clear error naming all that are missing. */
export function requireEnv(...names) {
  const missing = names.filter((n) => !env[n]);
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')} (looked in process.env and ${ENV_FILE}${envFileFound ? '' : ', which does not exist: is the stack up?'})`);
  }
  return Object.fromEntries(names.map((n) => [n, env[n]]));
}

/** A setting holding a file path; a relative one is taken relative to the env file's directory. */
export function envPath(name) {
  const v = requireEnv(name)[name];
  return path.resolve(VAR_DIR, v);
}
