// The plans of statements whose cost could grow with a table or with one customer's history: each is run as
// the programs run it (tests/stmt-sql prints their SQL), and MariaDB is asked how many rows and index entries
// it looked at (examined(), its session counters) or how it reads (EXPLAIN). Tables are filled beyond what
// the statement returns, so that a scan shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { query, connection, close, examined, statementSql, asAdminScript } from './lib/db.mjs';

test.after(close);

async function newUser(tier = 'ai_secretary') {
  const id = crypto.randomUUID();
  await query('INSERT INTO users (id, email, tier) VALUES (?, ?, ?)', [id, `${id}@example.test`, tier]);
  return id;
}

test('P1 the usage API and the rating read a period along the index: the rows of a long history before it are not looked at', async () => {
  const day = 86400, now = Math.floor(Date.now() / 1000);
  const start = now - 40 * day, end = now - 10 * day;
  // Two years of calls and texts before the period, 10 + 10 in it, 5 after it.
  const users = [await newUser(), await newUser()];
  for (const user of users) {
    const rows = [];
    for (let i = 0; i < 400; i++) rows.push([i % 2 ? 'voice' : 'sms', start - day - i * 43 * 3600]);
    for (let i = 0; i < 20; i++) rows.push([i % 2 ? 'voice' : 'sms', start + i * day]);
    for (let i = 0; i < 5; i++) rows.push([i % 2 ? 'voice' : 'sms', end + i * 3600]);
    await query('INSERT INTO usage_events (user_id, kind, quantity, occurred_at, source, idempotency_key) VALUES ?',
      [rows.map(([kind, at], i) => [user, kind, 7, at, 'test', `p1-${user}-${i}`])]);
  }
  await query('ANALYZE TABLE usage_events');
  const [u, v] = users;
  const [sum, sums2, rating, ratingLock, unbilled, kindSum] = statementSql('USAGE_SUM', 'USAGE_SUMS_2', 'RATING_USAGE',
    'RATING_USAGE_LOCK', 'RECONCILE_UNBILLED', 'USAGE_KIND_SUM');
  const reads = [
    ['USAGE_SUM', sum, [u, end, start, u, start, end], 20],
    ['USAGE_SUMS_2', sums2, [u, start, end, v, start, end, u, v, end, start, '', '', 0], 40],
    ['RATING_USAGE', rating, [u, start, end], 20],
    ['RATING_USAGE_LOCK', ratingLock, [u, start, end], 20],
    ['RECONCILE_UNBILLED', unbilled, [u, start, end], 20],
    ['USAGE_KIND_SUM', kindSum, [u, 'voice', start, end], 10],
  ];
  // kind IN (...) is what bounds the range: it must list every kind the table may hold (its CHECK), or rows of
  // a kind left out would be neither shown nor billed.
  const [check] = await query("SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS "
    + "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'usage_events' AND CONSTRAINT_NAME = 'usage_kind'");
  const kinds = (s) => [...(s.match(/kind`? in \(([^)]*)\)/i)?.[1] ?? '').matchAll(/'([a-z]+)'/g)].map((m) => m[1]).sort();
  assert.ok(check && kinds(check.c).length > 0, JSON.stringify(check));
  for (const [name, sql, params, inPeriod] of reads) {
    if (name !== 'USAGE_KIND_SUM') assert.deepEqual(kinds(sql), kinds(check.c), `${name} lists every kind of usage_kind`);
    const n = await examined(sql, params);
    // The period's rows, and at most one entry past the end of each range (a user's kinds: up to 2 a user).
    assert.ok(n >= inPeriod && n <= inPeriod + 4, `${name} looked at ${n} index entries for ${inPeriod} rows in the period (${sql})`);
  }
  // usage_user_time holds quantity (sql/016): the sums and the rating's rows come from the index alone.
  const tables = (node) => (node && typeof node === 'object'
    ? [...(node.table_name ? [node] : []), ...Object.values(node).flatMap(tables)] : []);
  for (const [name, sql, params] of reads.filter(([name]) => name !== 'RECONCILE_UNBILLED')) {
    const [{ EXPLAIN: plan }] = await query(`EXPLAIN FORMAT=JSON ${sql}`, params);
    const usage = tables(JSON.parse(plan)).filter((t) => t.key === 'usage_user_time');
    assert.ok(usage.length > 0 && usage.every((t) => t.using_index === true), `${name} reads usage_user_time alone: ${plan}`);
  }
  // With a subscription named, the statement also reads its tier history from the moment given, by
  // tier_history_sub: 6 of its 12 entries, not the others nor the 600 of other subscriptions.
  const sub = `sub_p1_${u.slice(0, 8)}`;
  const hist = [];
  for (let i = 0; i < 612; i++) {
    const s = i < 12 ? sub : `sub_p1_other${i % 50}_${u.slice(0, 8)}`;
    hist.push([`evt_p1_${u}_${i}`, s, i < 12 ? u : v, 'ai_secretary', start - i * day, 1]);
  }
  await query('INSERT INTO tier_history (event_id, subscription_id, user_id, tier, effective_at, event_rank) VALUES ?', [hist]);
  await query('ANALYZE TABLE tier_history');
  const withHist = [u, start, end, v, start, end, u, v, end, start, sub, '', start - 5 * day];
  const n = await examined(sums2, withHist);
  assert.ok(n >= 40 + 6 && n <= 40 + 6 + 6, `USAGE_SUMS_2 with a subscription looked at ${n} entries (${sums2})`);
  // Positions, not names: the union's columns repeat names ("0").
  const [rows] = await (await connection()).query({ sql: sums2, values: withHist, rowsAsArray: true });
  const got = rows.filter((r) => Number(r[0]) === 2).map((r) => [r[1], Number(r[2])]);
  assert.deepEqual(got.sort((a, b) => a[1] - b[1]), hist.slice(0, 6).map((h) => [sub, h[4]]).sort((a, b) => a[1] - b[1]),
    'the subscription\'s history from the moment given, each entry once');
  // The figures themselves: the period's rows only.
  const [row] = await query(sum, [u, end, start, u, start, end]);
  const cells = Object.values(row).map(Number);
  assert.deepEqual(cells.slice(0, 4), [70, 10, 10, 70], 'voice seconds, started minutes, calls, texts of the period');
});

test('P2 a deleted customer\'s subscriptions are canceled by index: the other subscriptions are not read', async () => {
  const tag = `p2${Date.now().toString(36)}`;
  // 3,000 subscriptions of other customers, 2 live ones and a deleted one of ours.
  const sub = (i, customer, deleted) => [`sub_${tag}_${i}`, `usr_${tag}`, customer, deleted ? 'canceled' : 'active',
    'ai_secretary', 'price_ai_secretary', deleted, `evt_${tag}`, 1, 1];
  const rows = [];
  for (let i = 0; i < 3000; i++) rows.push(sub(i, `cus_${tag}_other${i % 1500}`, 0));
  rows.push(sub('a', `cus_${tag}`, 0), sub('b', `cus_${tag}`, 0), sub('c', `cus_${tag}`, 1));
  await query(`INSERT INTO subscriptions (id, user_id, customer_id, status, tier, price_id, deleted, last_event_id,
    last_event_created, last_event_rank) VALUES ?`, [rows]);
  await query('ANALYZE TABLE subscriptions');
  const [cancel] = statementSql('SUBS_CANCEL_BY_CUSTOMER');
  const n = await examined(cancel, [`evt_${tag}_deleted`, 2, `cus_${tag}`]);
  assert.ok(n <= 3, `SUBS_CANCEL_BY_CUSTOMER looked at ${n} rows to cancel 2 (${cancel})`);
  const left = await query('SELECT id, deleted, last_event_id FROM subscriptions WHERE customer_id = ? ORDER BY id', [`cus_${tag}`]);
  assert.deepEqual(left.map((r) => [r.id, Number(r.deleted), r.last_event_id]), [
    [`sub_${tag}_a`, 1, `evt_${tag}_deleted`], [`sub_${tag}_b`, 1, `evt_${tag}_deleted`], [`sub_${tag}_c`, 1, `evt_${tag}`]]);
  asAdminScript(`DELETE FROM subscriptions WHERE user_id = 'usr_${tag}';`);
});

test('P3 /metrics counts the jobs not done along their index: done jobs are not read, even when most jobs wait', async () => {
  const tag = `p3${Date.now().toString(36)}`;
  // A backlog: 1,500 jobs waiting (due in a day: no worker takes them) beside 1,000 done.
  await query(`INSERT INTO jobs (kind, dedupe_key, payload, state, run_after)
    SELECT 'notify', CONCAT('${tag}:', seq), '{}', IF(seq <= 1000, 'done', 'pending'), NOW(6) + INTERVAL 1 DAY
    FROM seq_1_to_2500`);
  try {
    await query('ANALYZE TABLE jobs');
    const [metrics] = statementSql('METRICS_JOBS');
    const [waiting] = await query("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('pending', 'running', 'dead')");
    const n = await examined(metrics);
    // Slack: an entry past each state's range, and jobs the worker queues or finishes meanwhile; the 1,000 done
    // jobs are far beyond it.
    assert.ok(n <= Number(waiting.n) + 30, `METRICS_JOBS looked at ${n} rows for ${waiting.n} jobs not done (${metrics})`);
  } finally {
    asAdminScript(`DELETE FROM jobs WHERE dedupe_key LIKE '${tag}:%';`);
  }
});

test('P4 the audit trail pages along (at, id): a window in the past and a later page read their own rows, not the newer ones', async () => {
  const tag = `p4${crypto.randomBytes(4).toString('hex')}`;
  // 20,000 rows, a minute apart, newest now - 1 day; every 4th of actor a, every 5th action user.read (so
  // every 20th both). The window asked is ten days back, so in id order every newer row (about 14,000) would
  // be walked first; with both filters along one of them, five rows for each one shown.
  const t0 = Math.floor(Date.now() / 1000) - 86400;
  await query(`INSERT INTO admin_audit (at, actor, actor_key, action, outcome, status)
    SELECT ${t0} - 60 * (20000 - seq), IF(seq % 4 = 0, '${tag}-a', '${tag}-b'), 'k', IF(seq % 5 = 0, 'user.read',
    'jobs.list'), 'ok', 200 FROM seq_1_to_20000`);
  await query('ANALYZE TABLE admin_audit');
  const [list] = statementSql('ADMIN_AUDIT_LIST');
  const since = t0 - 60 * 16500, until = t0 - 60 * 14000;
  const max = '9223372036854775807';
  const cases = [
    ['no filter', ['', '']],
    ['an actor', [`${tag}-a`, '']],
    ['an action', ['', 'user.read']],
    ['an actor and an action', [`${tag}-a`, 'user.read']],
  ];
  for (const [what, [actor, action]] of cases) {
    const first = [since, until, max, max, max, actor, actor, action, action, 50];
    const n = await examined(list, first);
    assert.ok(n <= 50 + 2, `ADMIN_AUDIT_LIST (${what}) looked at ${n} rows for a page of 50 (${list})`);
    const page = await query(list, first);
    assert.equal(page.length, 50, what);
    // The next page, after the last row of this one, as admin_audit_read() asks it.
    const last = page[49];
    const next = [since, until, last.at, last.at, last.id, actor, actor, action, action, 50];
    const m = await examined(list, next);
    assert.ok(m <= 50 + 2, `ADMIN_AUDIT_LIST (${what}, page 2) looked at ${m} rows (${list})`);
    const page2 = await query(list, next);
    const rows = [...page, ...page2];
    assert.ok(rows.every((r) => r.at >= since && r.at < until && (!actor || r.actor === actor)
      && (!action || r.action === action)), what);
    for (let i = 1; i < rows.length; i++) {
      assert.ok(rows[i - 1].at > rows[i].at || (rows[i - 1].at === rows[i].at && rows[i - 1].id > rows[i].id),
        `${what}: newest first in (at, id) order, each row once`);
    }
  }
  const [cursor] = statementSql('ADMIN_AUDIT_CURSOR');
  assert.ok(await examined(cursor, [max]) <= 1, 'the page\'s place is one row of the primary key');
});

test('P5 the daily purge of done jobs reads the old ones along jobs_due: not the recent nor the waiting ones', async () => {
  const tag = `p5${Date.now().toString(36)}`;
  // 3,000 done jobs of last week and 1,000 waiting, beside 100 done 100 days ago.
  await query(`INSERT INTO jobs (kind, dedupe_key, payload, state, run_after, updated_at)
    SELECT 'replay_unmatched', CONCAT('${tag}:', seq), '{}', IF(seq <= 4000, IF(seq <= 3000, 'done', 'pending'), 'done'),
    IF(seq <= 4000, NOW(6) - INTERVAL IF(seq <= 3000, 7, -1) DAY, NOW(6) - INTERVAL 100 DAY),
    IF(seq <= 4000, NOW(6) - INTERVAL 7 DAY, NOW(6) - INTERVAL 100 DAY) FROM seq_1_to_4100`);
  try {
    await query('ANALYZE TABLE jobs');
    const [purge] = statementSql('JOBS_PURGE');
    const before = Number((await query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done' AND run_after < NOW(6) - INTERVAL 90 DAY"))[0].n);
    const n = await examined(purge, [90, 90, 500]);
    assert.ok(n <= before + 2, `JOBS_PURGE looked at ${n} rows for ${before} old done jobs (${purge})`);
    const [left] = await query('SELECT COUNT(*) AS n FROM jobs WHERE dedupe_key LIKE ?', [`${tag}:%`]);
    assert.equal(Number(left.n), 4000, 'the old ones deleted, the others kept');
  } finally {
    asAdminScript(`DELETE FROM jobs WHERE dedupe_key LIKE '${tag}:%';`);
  }
});
