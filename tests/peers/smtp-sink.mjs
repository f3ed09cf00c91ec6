#!/usr/bin/env node
// SMTP sink for integration tests: accepts every message and stores it as files.
//
//   node tests/peers/smtp-sink.mjs --port P --dir DIR [--host 127.0.0.1] [--starttls]
//
// - No TLS needed (STARTTLS is not even offered unless --starttls; then smtp-server's built-in
//   self-signed certificate is used). AUTH PLAIN/LOGIN accepted with any credentials, AUTH optional.
// - Each message becomes DIR/<ms-timestamp>-<n>.eml (raw, as received) and DIR/<same>.json with
//   {from, to: [...], subject, messageId, date, body, headers, auth_user, received_at}; both written
//   atomically (temp file + rename), .eml first, so a .json file means the message is complete.
// - "SMTP down" switch: while DIR/.down exists, MAIL FROM is answered 421 (transaction refused).
// One log line per message (or refusal) on stdout.
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

const opts = { host: '127.0.0.1', port: 0, dir: null, starttls: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === '--port') opts.port = Number(v), i++;
  else if (a === '--host') opts.host = v, i++;
  else if (a === '--dir') opts.dir = v, i++;
  else if (a === '--starttls') opts.starttls = true;
  else { console.error(`smtp-sink: unknown argument ${a}`); process.exit(2); }
}
if (!opts.dir) { console.error('usage: smtp-sink.mjs --port P --dir DIR [--host H] [--starttls]'); process.exit(2); }
fs.mkdirSync(opts.dir, { recursive: true });

let n = 0;
const isDown = () => fs.existsSync(path.join(opts.dir, '.down'));
function writeAtomic(file, data) {
  const tmp = path.join(opts.dir, `.tmp-${process.pid}-${path.basename(file)}`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
// RFC 2047 encoded words (=?utf-8?B?...?= / =?utf-8?Q?...?=) in headers such as Subject.
function decodeWords(s) {
  return s.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (_, cs, enc, text) => {
    const buf = /b/i.test(enc) ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    try { return new TextDecoder(cs.toLowerCase()).decode(buf); } catch { return buf.toString('utf8'); }
  });
}
function parseMessage(raw) {
  const text = raw.toString('utf8');
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text;
  const body = m ? text.slice(m.index + m[0].length) : '';
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) { // unfold, then split
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = decodeWords(line.slice(i + 1).trim());
  }
  return { headers, body };
}

const server = new SMTPServer({
  secure: false,
  authOptional: true,
  allowInsecureAuth: true,
  authMethods: ['PLAIN', 'LOGIN'],
  disabledCommands: opts.starttls ? [] : ['STARTTLS'],
  size: 25 * 1024 * 1024,
  logger: false,
  banner: 'xswarm-billing test SMTP sink',
  onAuth(auth, session, cb) { cb(null, { user: auth.username || 'anonymous' }); },
  onMailFrom(address, session, cb) {
    if (isDown()) {
      console.log(`${new Date().toISOString()} refused MAIL FROM:<${address.address}> with 421 (.down present)`);
      const err = new Error('Service not available, closing transmission channel (test sink is down)');
      err.responseCode = 421;
      return cb(err);
    }
    cb();
  },
  onData(stream, session, cb) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      if (stream.sizeExceeded) { const e = new Error('Message exceeds fixed maximum message size'); e.responseCode = 552; return cb(e); }
      try {
        const raw = Buffer.concat(chunks);
        const { headers, body } = parseMessage(raw);
        const base = `${Date.now()}-${String(++n).padStart(4, '0')}`;
        const record = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: headers.subject ?? null,
          messageId: headers['message-id'] ?? null,
          date: headers.date ?? null,
          body,
          headers,
          auth_user: session.user ?? null,
          received_at: new Date().toISOString(),
          file: `${base}.eml`,
        };
        writeAtomic(path.join(opts.dir, `${base}.eml`), raw);
        writeAtomic(path.join(opts.dir, `${base}.json`), JSON.stringify(record, null, 2) + '\n');
        console.log(`${record.received_at} stored ${base} from=<${record.from}> to=${record.to.join(',')} subject=${JSON.stringify(record.subject)}`);
        cb(null, `Message queued as ${base}`);
      } catch (e) {
        console.error(e);
        const err = new Error('Local error in processing'); err.responseCode = 451; cb(err);
      }
    });
  },
});
server.on('error', (e) => console.error(`smtp-sink: ${e.message}`));
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.server.address();
  console.log(`smtp sink listening on ${address}:${port}, writing to ${opts.dir}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
