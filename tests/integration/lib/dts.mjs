// Reads property names of interfaces from the stripe package's type definitions
// (tests/node_modules/stripe/cjs/resources/*.d.ts), so builders of Stripe objects can be
// checked against Stripe's own description of the current API version.
//
//   import { dtsProps } from './dts.mjs';
//   dtsProps('Invoices.d.ts', 'Invoice.Parent.SubscriptionDetails') -> { all: [...], required: [...] }
//
// The .d.ts files are generated with one declaration or property per line, indented by four
// spaces per level; `interface A` inside `namespace A` is how nested shapes are named (A.B).
import fs from 'node:fs';

const RESOURCES = new URL('../../node_modules/stripe/cjs/resources/', import.meta.url);
const cache = new Map();

function parse(file) {
  const out = new Map();		// 'Invoice.Parent' -> { all, required }
  const stack = [];			// { name, kind, indent }
  for (const line of fs.readFileSync(new URL(file, RESOURCES), 'utf8').split('\n')) {
    const indent = line.length - line.trimStart().length, t = line.trim();
    if (t.startsWith('/**') || t.startsWith('*') || t === '') continue;
    const decl = /^(?:export )?(?:declare )?(interface|namespace) (\w+)(?:<[^{]*>)?(?: extends [^{]*)? \{$/.exec(t);
    if (decl) {
      stack.push({ name: decl[2], kind: decl[1], indent });
      if (decl[1] === 'interface') out.set(stack.map((s) => s.name).join('.'), { all: [], required: [] });
      continue;
    }
    if (/^\}/.test(t)) {
      if (stack.length && stack[stack.length - 1].indent === indent) stack.pop();
      continue;
    }
    const top = stack[stack.length - 1];
    const prop = /^(\w+)(\?)?: /.exec(t);
    if (top && top.kind === 'interface' && prop && indent === top.indent + 4) {
      const p = out.get(stack.map((s) => s.name).join('.'));
      p.all.push(prop[1]);
      if (!prop[2]) p.required.push(prop[1]);
      if (t.endsWith('{')) stack.push({ name: `{${prop[1]}}`, kind: 'literal', indent });
    }
  }
  return out;
}

/** { all, required } property names of interface `name` (dotted for nested ones) in `file`. */
export function dtsProps(file, name) {
  if (!cache.has(file)) cache.set(file, parse(file));
  const p = cache.get(file).get(name);
  if (!p) throw new Error(`${file}: no interface ${name}`);
  return p;
}
