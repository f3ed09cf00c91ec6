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
//
// Prism's lists are one short page, so a test that needs a large account sets
//   POST /__list {"pages": 20}                                      (0 = off; GET /__list reads it)
// and then a GET of an account's whole IncomingPhoneNumbers.json list (no FriendlyName, PhoneNumber,
// Beta or Origin filter: a filtered list stays Prism's) is still passed on (validated, delayed), but
// its 200 answer becomes page Page (the query's, 0 when absent) of an account of that many full
// pages: 1000 numbers each (PN sids and +1650 numbers of their own, named "large account P-I"), and
// a next_page_uri of the next page under the account, as Twilio pages, until the last page.
import crypto from 'node:crypto';
import http from 'node:http';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const port = Number(opt('port', '0'));
const target = new URL(opt('target', 'http://127.0.0.1:4010'));
let delay = { ms: 0, match: '' };
let prefer = { prefer: '', match: '' };
let list = { pages: 0 };
const seen = [];
const PAGE = 1000;		// Twilio's largest page, which our list asks for

/** The account of a GET of the whole IncomingPhoneNumbers list, else null. */
function wholeList(req) {
  if (req.method !== 'GET' || list.pages === 0) return null;
  const u = new URL(req.url, 'http://x');
  const m = /^\/2010-04-01\/Accounts\/([^/]+)\/IncomingPhoneNumbers\.json$/.exec(u.pathname);
  if (!m || ['FriendlyName', 'PhoneNumber', 'Beta', 'Origin'].some((k) => u.searchParams.has(k))) return null;
  return { account: decodeURIComponent(m[1]), page: Number(u.searchParams.get('Page') ?? 0) };
}

/** Prism's list reply body as page w.page of an account of list.pages full pages. */
function largePage(body, w) {
  const o = JSON.parse(body);
  const base = `/2010-04-01/Accounts/${w.account}/IncomingPhoneNumbers.json?PageSize=${PAGE}`;
  const p = Number.isInteger(w.page) && w.page >= 0 ? w.page : 0;
  const n = p < list.pages ? PAGE : 0;
  o.incoming_phone_numbers = Array.from({ length: n }, (_, i) => {
    const sid = `PN${crypto.createHash('md5').update(`${p}:${i}`).digest('hex')}`;
    return { sid, account_sid: w.account, friendly_name: `large account ${p}-${i}`,
      phone_number: `+1650${String(p * PAGE + i).padStart(7, '0')}`, status: 'in-use',
      capabilities: { voice: true, sms: true, mms: true },
      uri: `/2010-04-01/Accounts/${w.account}/IncomingPhoneNumbers/${sid}.json` };
  });
  Object.assign(o, { page: p, page_size: PAGE, start: p * PAGE, end: p * PAGE + Math.max(n - 1, 0),
    uri: `${base}&Page=${p}`, first_page_uri: `${base}&Page=0`,
    previous_page_uri: p > 0 ? `${base}&Page=${p - 1}&PageToken=PB${p - 1}` : null,
    next_page_uri: p + 1 < list.pages ? `${base}&Page=${p + 1}&PageToken=PA${p + 1}` : null });
  return JSON.stringify(o);
}

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
  if (req.url === '/__list') {
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(list));
      return;
    }
    control(req, res, (d) => {
      const pages = Number(d.pages ?? 0);
      if (!Number.isInteger(pages) || pages < 0 || pages > 1000) throw new Error('pages must be 0..1000');
      list = { pages };
      return list;
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
        const w = ur.statusCode === 200 ? wholeList(req) : null;
        if (!w) {
          res.writeHead(ur.statusCode, ur.headers);
          ur.pipe(res);
          return;
        }
        const got = [];
        ur.on('data', (c) => got.push(c));
        ur.on('end', () => {
          let body = Buffer.concat(got).toString('utf8');
          try { body = largePage(body, w); } catch { /* not Prism's list: passed on as it is */ }
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
        });
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
