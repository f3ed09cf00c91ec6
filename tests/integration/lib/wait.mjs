// Polling helper for things that happen asynchronously (worker jobs, mail, outbound Stripe calls).
//
//   const msg = await waitFor(async () => (await mail.list()).find(m => m.to.includes(addr)),
//                             { what: 'welcome mail', timeoutMs: 5000 });
//
// Calls fn every intervalMs until it returns a truthy value (returned) or timeoutMs passes (throws,
// naming `what` and the last error fn threw, if any).
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { lastErr = e; }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
