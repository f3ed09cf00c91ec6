// The authorization matrix, through nginx: every route group × every kind of credential → the status
// expected (issue 18). User tokens are HS256 under JWT_SECRET; admin and service tokens EdDSA under
// the stack's own keypairs (var/test/admin.key, service.key, written by scripts/stack with
// `xsb-token keygen`). The genuine credentials come from xsb-token; the forged ones are signed here
// with node's crypto, each from a genuine token's claims with one defect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { request, closeHttp } from './lib/http.mjs';
import { query, close } from './lib/db.mjs';
import { requireEnv } from './lib/env.mjs';
import { mint } from './lib/token.mjs';

after(async () => { closeHttp(); await close(); });

const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const claimsOf = (tok) => JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString('utf8'));
const now = () => Math.floor(Date.now() / 1000);

/** The Ed25519 private key in file (base64url of libsodium's 64 bytes: seed, then public key). */
function edKey(file) {
  const raw = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64url');
  assert.equal(raw.length, 64);
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), raw.subarray(0, 32)]);
  return crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}
/** An EdDSA token (RFC 8037) of claims under key. */
function edJwt(claims, key) {
  const input = `${b64u({ alg: 'EdDSA', typ: 'JWT' })}.${b64u(claims)}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`;
}
/** An HS256 token of claims under secret. */
function hsJwt(claims, secret) {
  const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}
async function newUser() {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier) VALUES (?, ?, ?)', [id, `${id}@authz.example`, 'ai_secretary']);
  return id;
}

const C = {};   // credential name → token (undefined: no Authorization header)
let owner, other;

before(async () => {
  const { ADMIN_JWT_KEY_FILE, JWT_SECRET } = requireEnv('ADMIN_JWT_KEY_FILE', 'JWT_SECRET');
  owner = await newUser();
  other = await newUser();
  const revoked = await newUser();
  C.none = undefined;
  C.user = mint(['-u', owner]);
  C.other_user = mint(['-u', other]);
  C.revoked_user = mint(['-u', revoked]);
  await query('UPDATE users SET jwt_version = jwt_version + 1 WHERE id = ?', [revoked]);
  C.service = mint(['-r', 'service', '-u', 'authz-service']);
  C.admin = mint(['-r', 'admin', '-u', 'authz-operator']);
  C.metrics_token = requireEnv('METRICS_TOKEN').METRICS_TOKEN;   // a bearer secret, no JWT

  // Forged from the genuine admin token's claims: one defect each, signed with the real admin key.
  const a = claimsOf(C.admin), key = edKey(ADMIN_JWT_KEY_FILE), t = now();
  C.expired = edJwt({ ...a, iat: t - 7200, nbf: t - 7200, exp: t - 3600 }, key);
  C.overlong_lifetime = edJwt({ ...a, iat: t, nbf: t, exp: t + 2 * 3600 }, key);   // ADMIN_JWT_MAX_LIFETIME: 1 h
  C.wrong_audience = edJwt({ ...a, aud: claimsOf(C.user).aud }, key);
  // The app's key (JWT_SECRET) claiming admin: a genuine user token's claims plus role admin, with
  // the user audience and with the admin audience.
  C.app_key_admin = hsJwt({ ...claimsOf(C.user), role: 'admin' }, JWT_SECRET);
  C.app_key_admin_aud = hsJwt({ ...claimsOf(C.user), role: 'admin', aud: a.aud }, JWT_SECRET);

  // The genuine tokens are what they claim to be.
  assert.equal(claimsOf(C.admin).role, 'admin');
  assert.equal(JSON.parse(Buffer.from(C.admin.split('.')[0], 'base64url')).alg, 'EdDSA');
  assert.equal(claimsOf(C.service).role, 'service');
  assert.equal(claimsOf(C.user).role, undefined);
});

// The route groups, one call each.
const ROUTES = {
  billing: (tok) => request('GET', '/api/billing/usage', { token: tok }),
  usage_report: (tok) => request('POST', '/api/usage', { token: tok,
    json: { user_id: owner, kind: 'sms', quantity: 1, idempotency_key: `authz-${crypto.randomUUID()}` } }),
  phone: (tok) => request('GET', '/api/phone/details', { token: tok }),
  admin: (tok) => request('GET', `/api/admin/users/${owner}`, { token: tok }),
  metrics: (tok) => request('GET', '/metrics', { token: tok }),
  healthz: (tok) => request('GET', '/healthz', { token: tok }),
};

// Every token refused for what it is (forged, expired, revoked) is 401 on every API; a genuine
// token of the wrong kind is 403. /metrics takes METRICS_TOKEN alone (nginx lets loopback in, as the test
// runs); /healthz takes no token.
const BAD = { revoked_user: 401, expired: 401, overlong_lifetime: 401, wrong_audience: 401, app_key_admin: 401,
  app_key_admin_aud: 401, metrics_token: 401 };
const ALL = Object.keys({ none: 0, user: 0, other_user: 0, service: 0, admin: 0, ...BAD });
const MATRIX = {
  billing: { none: 401, user: 200, other_user: 200, service: 403, admin: 403, ...BAD },
  usage_report: { none: 401, user: 403, other_user: 403, service: 201, admin: 201, ...BAD },
  phone: { none: 401, user: 200, other_user: 200, service: 403, admin: 403, ...BAD },
  admin: { none: 401, user: 403, other_user: 403, service: 403, admin: 200, ...BAD },
  metrics: { ...Object.fromEntries(ALL.map((k) => [k, 401])), metrics_token: 200 },
  healthz: Object.fromEntries(ALL.map((k) => [k, 200])),
};

for (const [route, row] of Object.entries(MATRIX)) {
  test(`AZ ${route}: every credential gets its status`, async () => {
    const got = {};
    for (const cred of Object.keys(row)) {
      const r = await ROUTES[route](C[cred]);
      got[cred] = r.status;
      if (r.status === 401) assert.ok(r.json?.error?.code, `${route} × ${cred}: a JSON error (${r.text})`);
    }
    assert.deepEqual(got, row);
  });
}

test('AZ the reasons: refused tokens say why, wrong kinds say what is needed', async () => {
  const why = async (route, cred) => (await ROUTES[route](C[cred])).json.error;
  assert.match((await why('admin', 'expired')).message, /expired/);
  assert.match((await why('admin', 'overlong_lifetime')).message, /bad_lifetime/);
  assert.match((await why('admin', 'wrong_audience')).message, /bad_audience/);
  assert.match((await why('admin', 'app_key_admin')).message, /bad_role/);
  // HS256 is verified as a user token: the admin audience is not the users'.
  assert.match((await why('admin', 'app_key_admin_aud')).message, /bad_audience/);
  assert.equal((await why('admin', 'revoked_user')).code, 'token_revoked');
  assert.match((await why('admin', 'service')).message, /an admin token/);
  assert.match((await why('billing', 'admin')).message, /a user token/);
  assert.match((await why('usage_report', 'user')).message, /a service or admin token/);
});

test('AZ other user: a token reads its own user, never the one a service billed', async () => {
  const billed = await ROUTES.usage_report(C.service);
  assert.equal(billed.status, 201, billed.text);
  const mine = await ROUTES.billing(C.user), theirs = await ROUTES.billing(C.other_user);
  assert.ok(mine.json.usage.sms >= 1, mine.text);
  assert.equal(theirs.json.usage.sms, 0, theirs.text);
});

test('AZ alg confusion and unknown keys through nginx: 401', async () => {
  const { JWT_SECRET, ADMIN_JWT_PUBLIC_KEYS } = requireEnv('JWT_SECRET', 'ADMIN_JWT_PUBLIC_KEYS');
  const a = claimsOf(C.admin);
  const stranger = crypto.generateKeyPairSync('ed25519').privateKey;
  const forged = {
    alg_none: `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(a)}.`,
    hs256_with_public_key: hsJwt(a, ADMIN_JWT_PUBLIC_KEYS),
    hs256_with_raw_public_key: hsJwt(a, Buffer.from(ADMIN_JWT_PUBLIC_KEYS, 'base64url')),
    eddsa_unknown_key: edJwt(a, stranger),
    eddsa_header_hmac_signature: (() => {
      const input = `${b64u({ alg: 'EdDSA', typ: 'JWT' })}.${b64u(a)}`;
      return `${input}.${crypto.createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`;
    })(),
  };
  for (const [name, tok] of Object.entries(forged)) {
    const r = await ROUTES.admin(tok);
    assert.equal(r.status, 401, `${name}: ${r.text}`);
  }
});
