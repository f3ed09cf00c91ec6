// A small reader of the `stripe` npm package's TypeScript declarations (tests/node_modules/stripe/cjs/**/*.d.ts).
//
// The Stripe stand-in and its tests take Stripe's shapes and parameters from these files rather than from
// our own idea of Stripe. This reader understands the narrow subset of TypeScript the package's generated
// declarations use: `interface` (with `extends` and generics), `namespace`, `type` aliases, `class` (skipped),
// members `name?: Type;`, index signatures, and type expressions made of unions, intersections, string
// literals, `Array<T>`, `T[]`, generic references (`Emptyable<T>`, `ApiList<T>`), inline object types and
// qualified names (`InvoiceItem.Parent`). Anything else is skipped, never guessed.
//
//   const d = loadStripeTypes();                    // parses the package once (a few hundred ms)
//   d.iface('Invoices.d.ts', 'Invoice')             // -> { name, members: Map(name -> {optional, type}) }
//   d.resolve(typeAst, ctx)                         // follows references and aliases
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const STRIPE_DIR = fileURLToPath(new URL('../node_modules/stripe/', import.meta.url));
export const RESOURCES = path.join(STRIPE_DIR, 'cjs/resources');

// ---------- lexical helpers ----------
const stripComments = (s) => s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/^\s*\/\/.*$/gm, ' ');
const isIdent = (c) => /[A-Za-z0-9_$]/.test(c);
// Index of the bracket closing the one at `open` (one of { ( [ <), honouring quotes and `=>`.
function matching(s, open) {
  const pairs = { '{': '}', '(': ')', '[': ']', '<': '>' };
  const stack = [];
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"') { i = s.indexOf(c, i + 1); continue; }
    if (c === '=' && s[i + 1] === '>') { i++; continue; }
    if (pairs[c]) stack.push(pairs[c]);
    else if (c === stack[stack.length - 1]) { stack.pop(); if (!stack.length) return i; }
  }
  throw new Error(`unbalanced bracket at ${open}`);
}
// Index of the first `;` (or end) at nesting depth 0 from i.
function statementEnd(s, i) {
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"') { i = s.indexOf(c, i + 1); continue; }
    if (c === '=' && s[i + 1] === '>') { i++; continue; }
    if ('{(<['.includes(c)) { i = matching(s, i); continue; }
    if (c === ';' || c === '}') return i;
  }
  return i;
}

// ---------- type expressions ----------
// AST: {k:'union', of}, {k:'inter', of}, {k:'lit', v}, {k:'prim', name}, {k:'array', of}, {k:'ref', name, args}, {k:'obj', members}, {k:'fn'}
export function parseType(src) {
  let i = 0;
  const ws = () => { while (i < src.length && /\s/.test(src[i])) i++; };
  const peek = (t) => (ws(), src.startsWith(t, i));
  function union() {
    if (peek('|')) i++;
    const of = [inter()];
    while (peek('|')) { i++; of.push(inter()); }
    return of.length === 1 ? of[0] : { k: 'union', of };
  }
  function inter() {
    const of = [postfix()];
    while (peek('&')) { i++; of.push(postfix()); }
    return of.length === 1 ? of[0] : { k: 'inter', of };
  }
  function postfix() {
    let t = primary();
    while (peek('[]')) { i += 2; t = { k: 'array', of: t }; }
    return t;
  }
  function primary() {
    ws();
    const c = src[i];
    if (c === '(') { // parenthesised type or function type
      const close = matching(src, i), after = src.slice(close + 1).trimStart();
      if (after.startsWith('=>')) { i = close + 1; ws(); i += 2; union(); return { k: 'fn' }; }
      i++; const t = union(); ws(); i++; return t;
    }
    if (c === "'" || c === '"') { const e = src.indexOf(c, i + 1), v = src.slice(i + 1, e); i = e + 1; return { k: 'lit', v }; }
    if (c === '{') { const close = matching(src, i), members = parseMembers(src.slice(i + 1, close)); i = close + 1; return { k: 'obj', members }; }
    if (/[-0-9]/.test(c)) { const m = /^-?\d+(\.\d+)?/.exec(src.slice(i)); i += m[0].length; return { k: 'lit', v: Number(m[0]) }; }
    let name = '';
    while (i < src.length && (isIdent(src[i]) || src[i] === '.')) name += src[i++];
    if (!name) throw new Error(`cannot parse type at ${i}: ${src.slice(i, i + 40)}`);
    if (['string', 'number', 'boolean', 'null', 'void', 'any', 'unknown', 'never', 'undefined', 'object'].includes(name)) return { k: 'prim', name };
    if (name === 'true' || name === 'false') return { k: 'lit', v: name === 'true' };
    const args = [];
    if (peek('<')) { i++; args.push(union()); while (peek(',')) { i++; args.push(union()); } ws(); i++; }
    if (name === 'Array' && args.length === 1) return { k: 'array', of: args[0] };
    return { k: 'ref', name, args };
  }
  const t = union();
  ws();
  if (i !== src.length) throw new Error(`trailing text in type: ${src.slice(i, i + 40)}`);
  return t;
}

// Members of an interface or inline object body -> Map(name -> {optional, type}); index signatures under '[index]'.
function parseMembers(body) {
  const members = new Map();
  let i = 0;
  while (i < body.length) {
    while (i < body.length && /[\s;,]/.test(body[i])) i++;
    if (i >= body.length) break;
    const end = statementEnd(body, i), text = body.slice(i, end).trim();
    i = end + 1;
    let m;
    if ((m = /^\[\s*\w+\s*:\s*\w+\s*\]\s*:\s*([\s\S]+)$/.exec(text))) { members.set('[index]', { optional: true, type: parseType(m[1]) }); continue; }
    if ((m = /^(?:readonly\s+)?(\w+)(\?)?\s*:\s*([\s\S]+)$/.exec(text))) {
      let type;
      try { type = parseType(m[3]); } catch { type = { k: 'unparsed', src: m[3] }; } // e.g. import('./x.js').T: reported as unknown
      members.set(m[1], { optional: !!m[2], type });
      continue;
    }
    // methods and call signatures are not data: skipped
  }
  return members;
}

// ---------- declarations ----------
// One file -> Map(qualified name -> decl); decl = {kind:'iface', params, ext:[ast], members} | {kind:'alias', params, type}.
function parseFile(text) {
  const s = stripComments(text), decls = new Map();
  function body(from, to, scope) {
    let i = from;
    while (i < to) {
      while (i < to && /[\s;]/.test(s[i])) i++;
      if (i >= to) break;
      const rest = s.slice(i, Math.min(to, i + 400));
      let m;
      if ((m = /^(?:export\s+)?(?:declare\s+)?namespace\s+([\w.]+)\s*\{/.exec(rest))) {
        const open = i + m[0].length - 1, close = matching(s, open);
        body(open + 1, close, [...scope, ...m[1].split('.')]);
        i = close + 1;
      } else if ((m = /^(?:export\s+)?(?:declare\s+)?interface\s+(\w+)\s*(<[^{]*?>)?\s*(?:extends\s+([^{]+))?\{/.exec(rest))) {
        const open = i + m[0].length - 1, close = matching(s, open);
        const ext = m[3] ? splitTop(m[3]).map((x) => parseType(x.trim())) : [];
        const params = m[2] ? m[2].slice(1, -1).split(',').map((x) => x.trim().split(/\s/)[0]) : [];
        decls.set([...scope, m[1]].join('.'), { kind: 'iface', params, ext, members: parseMembers(s.slice(open + 1, close)), scope });
        i = close + 1;
      } else if ((m = /^(?:export\s+)?(?:declare\s+)?type\s+(\w+)\s*(<[^=]*?>)?\s*=/.exec(rest))) {
        const start = i + m[0].length, end = statementEnd(s, start);
        const params = m[2] ? m[2].slice(1, -1).split(',').map((x) => x.trim().split(/\s/)[0]) : [];
        let type;
        try { type = parseType(s.slice(start, end).trim()); } catch { type = { k: 'prim', name: 'any' }; }
        decls.set([...scope, m[1]].join('.'), { kind: 'alias', params, type, scope });
        i = end + 1;
      } else if ((m = /^(?:export\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+[^{]*\{/.exec(rest))) {
        i = matching(s, i + m[0].length - 1) + 1;
      } else {
        i = statementEnd(s, i) + 1; // import, export {..} from, const, function: not types we need
      }
    }
  }
  body(0, s.length, []);
  return decls;
}
function splitTop(s) { // "A, B<C, D>" -> ["A", "B<C, D>"]
  const out = [];
  let depth = 0, cur = '';
  for (const c of s) {
    if (c === '<') depth++;
    if (c === '>') depth--;
    if (c === ',' && !depth) { out.push(cur); cur = ''; } else cur += c;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

// ---------- the loaded package ----------
export function loadStripeTypes(dir = STRIPE_DIR) {
  const files = new Map(); // relative path -> decls
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.d.ts')) files.set(path.relative(path.join(dir, 'cjs'), p), null);
    }
  };
  walk(path.join(dir, 'cjs'));
  const decls = (file) => {
    let d = files.get(file);
    if (d === undefined) throw new Error(`no such declaration file: ${file}`);
    if (!d) files.set(file, (d = parseFile(fs.readFileSync(path.join(dir, 'cjs', file), 'utf8'))));
    return d;
  };
  const SHARED = ['shared.d.ts', 'lib.d.ts'];
  // Finds the declaration a name means inside `file` at `scope` (TS lookup: innermost namespace outwards,
  // then the other files of the package, shared ones first). Returns {file, name, decl} or null.
  function lookup(file, scope, name) {
    const d = decls(file);
    for (let n = scope.length; n >= 0; n--) {
      const q = [...scope.slice(0, n), name].join('.');
      if (d.has(q)) return { file, name: q, decl: d.get(q) };
    }
    for (const f of [...SHARED, ...[...files.keys()].filter((f) => f.startsWith('resources/') && !f.includes('/V2/'))]) {
      if (f === file) continue;
      const o = decls(f);
      if (o.has(name)) return { file: f, name, decl: o.get(name) };
    }
    return null;
  }
  // Resolves an AST to a normal form: {k:'union', of:[...]} of leaves, each leaf one of
  // {k:'prim'}, {k:'lit'}, {k:'array', of, ctx}, {k:'decimal'}, {k:'metadata'}, {k:'iface', members, name, ctx}, {k:'unknown', name}.
  function resolve(t, ctx, subst = {}, depth = 0) {
    const leaves = [];
    const go = (t, ctx, subst) => {
      if (depth > 40) return leaves.push({ k: 'unknown', name: 'too deep' });
      switch (t.k) {
        case 'union': t.of.forEach((x) => go(x, ctx, subst)); return;
        case 'inter': // OtherString = string & Record<never, never>; Decimal = DecimalImpl & {...}
          if (t.of.some((x) => x.k === 'prim' && x.name === 'string')) return leaves.push({ k: 'prim', name: 'string' });
          return go(t.of[0], ctx, subst);
        case 'lit': case 'prim': case 'fn': return leaves.push(t);
        case 'array': return leaves.push({ k: 'array', of: t.of, ctx, subst });
        case 'obj': return leaves.push({ k: 'iface', name: '(inline)', members: t.members, ctx, subst });
        case 'ref': {
          if (subst[t.name]) return go(subst[t.name].t, subst[t.name].ctx, {});
          if (t.name === 'Decimal') return leaves.push({ k: 'decimal' });
          if (t.name === 'OtherString') return leaves.push({ k: 'prim', name: 'string' });
          if (t.name === 'Metadata' || t.name === 'MetadataParam') return leaves.push({ k: 'metadata' });
          if (t.name === 'Record') return leaves.push({ k: 'prim', name: 'object' });
          const hit = lookup(ctx.file, ctx.scope, t.name);
          if (!hit) return leaves.push({ k: 'unknown', name: t.name });
          const nctx = { file: hit.file, scope: hit.decl.scope };
          const nsub = {};
          hit.decl.params.forEach((p, j) => { if (t.args[j]) nsub[p] = { t: t.args[j], ctx }; });
          if (hit.decl.kind === 'alias') { depth++; go(hit.decl.type, nctx, nsub); depth--; return; }
          return leaves.push({ k: 'iface', name: hit.name, members: allMembers(hit, nctx, nsub), ctx: nctx, subst: nsub });
        }
        default: return leaves.push({ k: 'unknown', name: String(t.k) });
      }
    };
    go(t, ctx, subst);
    return leaves;
  }
  function allMembers(hit, ctx, subst) {
    const m = new Map();
    for (const e of hit.decl.ext) {
      for (const leaf of resolve(e, ctx, subst)) if (leaf.k === 'iface') for (const [k, v] of leaf.members) m.set(k, { ...v, ctx: v.ctx ?? leaf.ctx, subst: v.subst ?? leaf.subst });
    }
    for (const [k, v] of hit.decl.members) m.set(k, { ...v, ctx, subst });
    return m;
  }
  // An interface by file and qualified name: {name, members: Map(name -> {optional, type, ctx, subst})}.
  function iface(file, name) {
    const d = decls(file).get(name);
    if (!d || d.kind !== 'iface') throw new Error(`${file}: no interface ${name}`);
    const ctx = { file, scope: d.scope };
    return { k: 'iface', name, members: allMembers({ decl: d, name }, ctx, {}), ctx, subst: {} };
  }
  // The members' own types resolved: member(m) -> leaves.
  const member = (m) => resolve(m.type, m.ctx, m.subst || {});
  const arrayOf = (leaf) => resolve(leaf.of, leaf.ctx, leaf.subst || {});
  // The string literals of a type alias (an enum), without the open `OtherString` part.
  function literals(leaves) { return leaves.filter((l) => l.k === 'lit' && typeof l.v === 'string').map((l) => l.v); }
  return { decls, lookup, resolve, iface, member, arrayOf, literals };
}

// Stripe's API versions: the union `ApiVersion` of WebhookEndpointCreateParams (every version Stripe
// has released, as the package of the pinned version knows them). Read cheaply, without the full parse.
export function stripeApiVersions(dir = STRIPE_DIR) {
  const text = fs.readFileSync(path.join(dir, 'cjs/resources/WebhookEndpoints.d.ts'), 'utf8');
  const m = /type\s+ApiVersion\s*=\s*([^;]+);/.exec(text);
  if (!m) throw new Error('WebhookEndpoints.d.ts: no ApiVersion union');
  const versions = [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
  if (versions.length < 10) throw new Error('WebhookEndpoints.d.ts: ApiVersion union looks truncated');
  return versions;
}
// The version the package is pinned to (its apiVersion.js), i.e. "the API of today" for these tests.
export function stripePinnedVersion(dir = STRIPE_DIR) {
  const text = fs.readFileSync(path.join(dir, 'cjs/apiVersion.js'), 'utf8');
  return /ApiVersion\s*=\s*['"]([^'"]+)['"]/.exec(text)[1];
}
