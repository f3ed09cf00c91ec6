// A delaying proxy in front of Prism (Twilio's stand-in), for tests that need Twilio slow.
//
//   node tests/peers/twilio-delay.mjs --port P --target http://127.0.0.1:Q
//
// Every request is passed to the target as it is (method, path, headers, body) and the answer
// returned as it is; Prism stays the one that validates and answers. By default nothing is
// delayed. A test sets a delay with
//   POST /__delay {"ms": 20000, "match": "IncomingPhoneNumbers"}   (match: a substring of the path; "" = all)
//   POST /__delay {"ms": 0}                                        (off again)
// and reads it back with GET /__delay. GET /__requests lists the requests passed on so far ({method, path,
// body}: path with its query, body the form as sent, "" for none; oldest first, the last 2,000), for a test
// that checks what our programs asked of Twilio. A request is held ms before it is forwarded; the client
// (our worker) may give up first, as it would with a slow Twilio. A target that does not answer
// is a 502 {"code":20500,...} as Twilio would say for an internal error.
//
// Prism answers what the request's Prefer header asks (example=NAME: that example of the spec,
// code=N, dynamic=false). Our programs send none; a test makes the proxy add one with
//   POST /__prefer {"prefer": "example=readFull", "match": "Contains=8089251571"}   (match: a substring of
//                                                                                    the path with its query)
//   POST /__prefer {"prefer": ""}                                                   (off again)
// e.g. so that a search answers the spec's example (+18089251571) instead of generated numbers.
import http from 'node:http';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const port = Number(opt('port', '0'));
const target = new URL(opt('target', 'http://127.0.0.1:4010'));
let delay = { ms: 0, match: '' };
let prefer = { prefer: '', match: '' };
const seen = [];

/** Reads a JSON control body, then answers set(body) or 400 with what it threw. */
function control(req, res, set) {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    try {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(set(JSON.parse(body || '{}'))));
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: e.message }));
    }
  });
}

const server = http.createServer((req, res) => {
  if (req.url === '/__requests' && req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(seen));
    return;
  }
  if (req.url === '/__delay') {
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(delay));
      return;
    }
    control(req, res, (d) => {
      const ms = Number(d.ms ?? 0);
      if (!Number.isInteger(ms) || ms < 0 || ms > 600000) throw new Error('ms must be 0..600000');
      delay = { ms, match: typeof d.match === 'string' ? d.match : '' };
      return delay;
    });
    return;
  }
  if (req.url === '/__prefer') {
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(prefer));
      return;
    }
    control(req, res, (d) => {
      const p = d.prefer ?? '';
      // One header value: no line breaks.
      if (typeof p !== 'string' || /[\r\n]/.test(p)) throw new Error('prefer must be a header value');
      prefer = { prefer: p, match: typeof d.match === 'string' ? d.match : '' };
      return prefer;
    });
    return;
  }
  const entry = { method: req.method, path: req.url, body: '' };
  seen.push(entry);
  if (seen.length > 2000) seen.shift();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    entry.body = Buffer.concat(chunks).toString('utf8');
    const wait = delay.ms > 0 && req.url.includes(delay.match) ? delay.ms : 0;
    const headers = { ...req.headers, host: target.host };
    if (prefer.prefer !== '' && req.url.includes(prefer.match)) headers.prefer = prefer.prefer;
    setTimeout(() => {
      if (res.destroyed || req.socket.destroyed) return;
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url,
        headers }, (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ code: 20500, message: 'the stand-in behind the proxy did not answer', status: 502 }));
      });
      up.end(Buffer.concat(chunks));
    }, wait);
  });
});
server.listen(port, '127.0.0.1', () => {
  console.log(`twilio-delay listening on http://127.0.0.1:${server.address().port} -> ${target.href}`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => server.close(() => process.exit(0)));
