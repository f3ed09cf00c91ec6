// Property names of interfaces in the stripe package's type definitions
// (tests/node_modules/stripe/cjs/resources/*.d.ts), so builders of Stripe objects can be
// checked against Stripe's own description of the current API version.  The reading is
// tests/peers/dts.mjs's, the one the Stripe stand-in uses (members of `extends` included).
//
//   import { dtsProps } from './dts.mjs';
//   dtsProps('Invoices.d.ts', 'Invoice.Parent.SubscriptionDetails') -> { all: [...], required: [...] }
import { loadStripeTypes } from '../../peers/dts.mjs';

let types;

/** { all, required } property names of interface `name` (dotted for nested ones) in `file`. */
export function dtsProps(file, name) {
  types ??= loadStripeTypes();
  const { members } = types.iface(`resources/${file}`, name);
  const all = [...members.keys()];
  return { all, required: all.filter((k) => !members.get(k).optional) };
}
