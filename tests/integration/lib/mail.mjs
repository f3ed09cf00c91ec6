// Mail the stack sent, as stored by tests/peers/smtp-sink.mjs in env.MAIL_DIR.
//
//   import * as mail from './lib/mail.mjs';
//   await mail.clear();
//   const m = await mail.waitFor((m) => m.to.includes('u@example.com') && /receipt/i.test(m.subject));
//   await mail.setDown(true);   // the sink answers 421 until setDown(false)
//
// Each message is {from, to: [...], subject, messageId, date, body, headers, auth_user, received_at, file};
// body is the raw text after the headers (still transfer-encoded if the sender encoded it).
import fs from 'node:fs/promises';
import path from 'node:path';
import { envPath } from './env.mjs';
import { waitFor as poll } from './wait.mjs';

const dir = () => envPath('MAIL_DIR');

/** All stored messages, oldest first. */
export async function list() {
  let names;
  try { names = await fs.readdir(dir()); } catch (e) { if (e.code === 'ENOENT') return []; throw e; }
  const files = names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  return Promise.all(files.map(async (n) => JSON.parse(await fs.readFile(path.join(dir(), n), 'utf8'))));
}

/** Messages to one address. */
export async function to(address) {
  return (await list()).filter((m) => m.to.some((t) => t.toLowerCase() === address.toLowerCase()));
}

/** Waits for the first message matching pred (default: any); opts as in wait.mjs. */
export function waitFor(pred = () => true, opts = {}) {
  return poll(async () => (await list()).find(pred), { what: 'a matching e-mail', ...opts });
}

/** Deletes stored messages (not the .down flag). */
export async function clear() {
  let names;
  try { names = await fs.readdir(dir()); } catch (e) { if (e.code === 'ENOENT') return; throw e; }
  await Promise.all(names.filter((n) => n.endsWith('.json') || n.endsWith('.eml')).map((n) => fs.rm(path.join(dir(), n), { force: true })));
}

/** Switches the sink's "SMTP down" mode (DIR/.down). */
export async function setDown(down) {
  const flag = path.join(dir(), '.down');
  if (down) { await fs.mkdir(dir(), { recursive: true }); await fs.writeFile(flag, ''); } else await fs.rm(flag, { force: true });
}
