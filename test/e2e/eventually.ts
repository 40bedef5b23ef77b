/** Calls `attempt` until it returns a value (not undefined) or `ms` pass; bounded in count and time. */
export async function eventually<T>(what: string, ms: number, attempt: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  let tries = 0;
  let last: unknown;
  while (Date.now() < deadline && tries < 1000) {
    tries++;
    try {
      const v = await attempt();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${ms} ms (${tries} tries)${last ? `; last error: ${String(last)}` : ''}`);
}
