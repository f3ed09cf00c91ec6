// Tokens minted by our own xsb-token, the real signer: a user token under JWT_SECRET; an admin or a
// service token under the stack's private key of that role (ADMIN_JWT_KEY_FILE, SERVICE_JWT_KEY_FILE
// in stack.env, written by scripts/stack).
//
//   import { mint } from './lib/token.mjs';
//   mint(['-u', userId]);                    // user
//   mint(['-u', 'ops', '-r', 'admin']);      // admin, signed with var/test/admin.key
import { execFileSync } from 'node:child_process';
import { env, requireEnv } from './env.mjs';

/** The stack's settings as the environment of a child process. */
export const stackEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(env).map((k) => [k, env[k]])) });

/** args plus `-k KEY_FILE` when they ask for an admin or service token. */
export function keyArgs(args) {
  const i = args.indexOf('-r');
  const role = i >= 0 ? args[i + 1] : 'user';
  if (role !== 'admin' && role !== 'service') return args;
  const k = `${role.toUpperCase()}_JWT_KEY_FILE`;
  return [...args, '-k', requireEnv(k)[k]];
}

/** Runs xsb-token with args (and the role's key); returns the token. */
export function mint(args) {
  const { XSB_BIN } = requireEnv('XSB_BIN');
  return execFileSync(`${XSB_BIN}/xsb-token`, keyArgs(args), { env: stackEnv(), encoding: 'utf8' }).trim();
}
