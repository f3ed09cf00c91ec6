// The host: what `make install` lays down (modes, the system user and groups,
// the units' hardening and their systemd-analyze exposure), the sockets of the
// running programs, and the production nginx config run on loopback in front
// of the test stack's programs (admin and /metrics from allowed addresses
// only, rate limits on every public route, nosniff).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { execFileSync, spawnSync, spawn } from 'node:child_process';
import { requireEnv, REPO_ROOT, VAR_DIR } from './lib/env.mjs';
import { waitFor } from './lib/wait.mjs';

const UNITS = ['webhook', 'billing', 'phone', 'worker'];
// Directives every unit must carry (the list and what was there).
const HARDENING = ['NoNewPrivileges=yes', 'CapabilityBoundingSet=', 'AmbientCapabilities=', 'RestrictSUIDSGID=yes',
  'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'ProtectKernelTunables=yes',
  'ProtectKernelModules=yes', 'ProtectKernelLogs=yes', 'ProtectControlGroups=yes', 'ProtectClock=yes',
  'ProtectProc=invisible', 'ProcSubset=pid', 'RestrictNamespaces=yes', 'LockPersonality=yes',
  'MemoryDenyWriteExecute=yes', 'SystemCallArchitectures=native', 'SystemCallFilter=@system-service',
  'SystemCallErrorNumber=EPERM', 'UMask=0077', 'User=xswarm-billing', 'Group=xswarm-billing-sock',
  'RuntimeDirectoryMode=0750'];

let dest;
before(() => {
  dest = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-host-'));
  execFileSync('make', ['-C', REPO_ROOT, '--no-print-directory', 'install', `DESTDIR=${dest}`, 'PREFIX=/usr'], { stdio: 'pipe', timeout: 600000 });
});
after(() => fs.rmSync(dest, { recursive: true, force: true }));

// Every file below dir, relative.
function walk(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = path.join(rel, e.name);
    return e.isDirectory() ? [p + '/', ...walk(dir, p)] : [p];
  });
}

test('H1 installed files: programs 0755, data 0644, nothing writable by group or others', () => {
  const files = walk(dest);
  assert.ok(files.length > 20, files.join(' '));
  for (const f of files) {
    const mode = fs.statSync(path.join(dest, f)).mode & 0o7777;
    assert.equal(mode & 0o022, 0, `${f} is writable by group or others (${mode.toString(8)})`);
    assert.equal(mode & 0o6000, 0, `${f} is set-user-id or set-group-id`);
    if (f.endsWith('/')) continue;
    const exec = f.startsWith('usr/bin/') || f.endsWith('/migrate') || f.endsWith('/backup');
    assert.equal(mode, exec ? 0o755 : 0o644, `${f} mode ${mode.toString(8)}`);
  }
  for (const f of ['usr/share/xswarm-billing/nginx/admin-allow.conf', 'usr/share/xswarm-billing/nginx/metrics-allow.conf',
    'usr/lib/sysusers.d/xswarm-billing.conf', 'usr/share/xswarm-billing/monitoring/xswarm-billing.rules.yml',
    'usr/share/xswarm-billing/monitoring/grafana-dashboard.json', 'usr/share/xswarm-billing/monitoring/prometheus.yml']) assert.ok(files.includes(f), f);
});

test('H2 the units run as xswarm-billing in group xswarm-billing-sock, hardened', () => {
  for (const u of UNITS) {
    const text = fs.readFileSync(path.join(dest, `usr/lib/systemd/system/xsb-${u}.service`), 'utf8');
    const lines = new Set(text.split('\n'));
    for (const d of HARDENING) assert.ok(lines.has(d), `xsb-${u}.service lacks ${d}`);
    assert.doesNotMatch(text, /^(User|Group|SupplementaryGroups)=.*www-data/m, `xsb-${u}.service runs as www-data`);
  }
});

test('H3 systemd-analyze security rates every unit OK or better (exposure at most 2.0)', (t) => {
  const which = spawnSync('systemd-analyze', ['--version']);
  assert.equal(which.status, 0, 'systemd-analyze is installed by scripts/install-deps');
  for (const u of UNITS) {
    const unit = path.join(dest, `usr/lib/systemd/system/xsb-${u}.service`);
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for [^:]+: ([0-9.]+) (\w+)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    t.diagnostic(`xsb-${u}.service exposure ${m[1]} ${m[2]}`);
    assert.ok(Number(m[1]) <= 2.0, `xsb-${u}.service exposure ${m[1]} ${m[2]}`);
  }
});

test('H4 systemd-sysusers creates the user and both groups, www-data in the socket group only', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-sysusers-'));
  try {
    fs.mkdirSync(path.join(root, 'etc'));
    // A host's own accounts (www-data comes with Debian's base-passwd).
    for (const f of ['passwd', 'group']) fs.copyFileSync(`/etc/${f}`, path.join(root, 'etc', f));
    for (const f of ['shadow', 'gshadow']) fs.writeFileSync(path.join(root, 'etc', f), '', { mode: 0o640 });
    if (!/^www-data:/m.test(fs.readFileSync(path.join(root, 'etc/group'), 'utf8'))) {
      fs.appendFileSync(path.join(root, 'etc/group'), 'www-data:x:33:\n');
    }
    const conf = path.join(dest, 'usr/lib/sysusers.d/xswarm-billing.conf');
    const r = spawnSync('systemd-sysusers', [`--root=${root}`, conf], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const passwd = fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8');
    const group = fs.readFileSync(path.join(root, 'etc/group'), 'utf8');
    const user = /^xswarm-billing:x:(\d+):(\d+):[^:]*:([^:]*):([^:\n]*)$/m.exec(passwd);
    assert.ok(user, passwd);
    assert.equal(user[4], '/usr/sbin/nologin');
    const own = /^xswarm-billing:x:(\d+):(.*)$/m.exec(group);
    const sock = /^xswarm-billing-sock:x:(\d+):(.*)$/m.exec(group);
    assert.ok(own && sock, group);
    assert.equal(user[2], own[1], 'the user\'s primary group is xswarm-billing');
    assert.equal(sock[2], 'www-data', 'only www-data joins the socket group');
    assert.equal(own[2], '', 'nobody joins the group of the secrets');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('H5 the running programs\' sockets are 0660, not reachable by other users', () => {
  const run = path.join(VAR_DIR, 'run');
  for (const p of ['webhook', 'billing', 'phone']) {
    const st = fs.statSync(path.join(run, `${p}.sock`));
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660, `${p}.sock mode ${(st.mode & 0o777).toString(8)}`);
  }
});

// ---------- the production nginx config, on loopback ----------
const ALLOWED = '127.0.0.2'; // operators and the scraper; 127.0.0.1 stands for anyone else
let ngx;
function prodRequest(pathname, { from = '127.0.0.1', headers = {} } = {}) {
  const { TLS_CERT } = requireEnv('TLS_CERT');
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: ngx.port, path: pathname, localAddress: from, headers,
      ca: fs.readFileSync(TLS_CERT), agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(body); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  const { TLS_CERT, HTTPS_PORT } = requireEnv('TLS_CERT', 'HTTPS_PORT');
  const TLS_KEY = path.join(path.dirname(TLS_CERT), 'key.pem'); // beside it, as scripts/stack makes them
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xsb-prod-nginx-'));
  const port = Number(HTTPS_PORT) + 10, httpPort = Number(HTTPS_PORT) + 11;
  const allow = `allow ${ALLOWED};\ndeny all;\n`;
  fs.writeFileSync(path.join(dir, 'admin-allow.conf'), allow);
  fs.writeFileSync(path.join(dir, 'metrics-allow.conf'), allow);
  const vars = { SERVER_NAME: '127.0.0.1', CERT: TLS_CERT, KEY: TLS_KEY, FASTCGI_CONF: path.join(REPO_ROOT, 'nginx/fastcgi.conf'),
    ADMIN_ALLOW: path.join(dir, 'admin-allow.conf'), METRICS_ALLOW: path.join(dir, 'metrics-allow.conf') };
  let conf = fs.readFileSync(path.join(REPO_ROOT, 'nginx/production.conf.in'), 'utf8')
    .replace(/@([A-Z_]+)@/g, (m, k) => { assert.ok(k in vars, `unknown template variable ${m}`); return vars[k]; });
  // Only where it listens, logs and finds the sockets changes: every rule under test stays as shipped.
  conf = conf.replace(/^\s*listen \[::\]:\d+.*$/gm, '')
    .replace(/listen 443 ssl default_server;/, `listen 127.0.0.1:${port} ssl default_server;`)
    .replace(/listen 80 default_server;/, `listen 127.0.0.1:${httpPort} default_server;`)
    .replaceAll('/run/xswarm-billing/', `${path.join(VAR_DIR, 'run')}/`)
    .replaceAll('/var/log/nginx/', `${dir}/`)
    .replace('pid /run/nginx.pid;', `pid ${dir}/nginx.pid;`)
    .replace(/^user www-data;$/m, process.getuid() === 0 ? 'user root;' : '');
  assert.notEqual(conf.indexOf(`127.0.0.1:${port}`), -1);
  for (const d of ['client_body', 'fastcgi', 'proxy', 'scgi', 'uwsgi']) fs.mkdirSync(path.join(dir, 'tmp', d), { recursive: true });
  conf = conf.replace('http {', `http {\n    client_body_temp_path ${dir}/tmp/client_body;\n    fastcgi_temp_path ${dir}/tmp/fastcgi;\n    proxy_temp_path ${dir}/tmp/proxy;\n    scgi_temp_path ${dir}/tmp/scgi;\n    uwsgi_temp_path ${dir}/tmp/uwsgi;`);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const args = ['-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')];
  const t = spawnSync('nginx', ['-t', ...args], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  const proc = spawn('nginx', [...args, '-g', 'daemon off;'], { stdio: 'ignore' });
  ngx = { dir, port, proc };
  await waitFor(async () => { try { await prodRequest('/healthz'); return true; } catch { return false; } },
    { timeoutMs: 10000, what: 'the production nginx on loopback' });
});
after(async () => {
  if (!ngx) return;
  ngx.proc.kill('SIGQUIT');
  await new Promise((r) => { if (ngx.proc.exitCode !== null) r(); else ngx.proc.on('exit', r); });
  fs.rmSync(ngx.dir, { recursive: true, force: true });
});

test('H6 production nginx: /api/admin/ only from the allow-list, before any token is read', async () => {
  const outsider = await prodRequest('/api/admin/events?limit=1', { headers: { authorization: 'Bearer x.y.z' } });
  assert.equal(outsider.status, 403);
  assert.equal(outsider.json?.error?.code, 'forbidden');
  const operator = await prodRequest('/api/admin/events?limit=1', { from: ALLOWED });
  assert.equal(operator.status, 401, 'from an allowed address the request reaches xsb-billing, which wants a token');
});

test('H7 production nginx: /metrics only from the scrape address, and with METRICS_TOKEN', async () => {
  const { METRICS_TOKEN } = requireEnv('METRICS_TOKEN');
  const bearer = { authorization: `Bearer ${METRICS_TOKEN}` };
  const outsider = await prodRequest('/metrics', { headers: bearer });
  assert.equal(outsider.status, 403, 'the token does not open another address');
  const tokenless = await prodRequest('/metrics', { from: ALLOWED });
  assert.equal(tokenless.status, 401, 'the address alone is not enough');
  assert.equal(tokenless.json?.error?.code, 'missing_token');
  const scraper = await prodRequest('/metrics', { from: ALLOWED, headers: bearer });
  assert.equal(scraper.status, 200);
  assert.match(scraper.body, /^# TYPE xsb_/m);
});

test('H8 production nginx: a flood from one address gets 429 JSON; every answer says nosniff', async () => {
  const replies = await Promise.all(Array.from({ length: 60 }, () => prodRequest('/api/billing/usage')));
  const statuses = replies.map((r) => r.status);
  assert.ok(statuses.includes(401), `some requests reach the API: ${statuses}`);
  const limited = replies.filter((r) => r.status === 429);
  assert.ok(limited.length >= 60 - 21 - 5, `10 r/s with a burst of 20 refuses most of 60 at once: ${statuses}`);
  assert.equal(limited[0].json?.error?.code, 'rate_limited');
  for (const r of replies) assert.equal(r.headers['x-content-type-options'], 'nosniff');
  const probes = await Promise.all(Array.from({ length: 80 }, () => prodRequest('/healthz')));
  assert.ok(probes.some((r) => r.status === 429), 'health checks are rate limited too');
  assert.ok(probes.some((r) => r.status === 200));
});
