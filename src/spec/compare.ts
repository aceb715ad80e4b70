/** JSON with object keys sorted at every level: equal values give equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

/**
 * The top-level fields of two specs that differ (sorted), compared as the workflow receives them:
 * through JSON, so an absent field and an undefined one are the same.
 */
export function specDifferences(a: unknown, b: unknown): string[] {
  const left = JSON.parse(JSON.stringify(a ?? {})) as Record<string, unknown>;
  const right = JSON.parse(JSON.stringify(b ?? {})) as Record<string, unknown>;
  return [...new Set([...Object.keys(left), ...Object.keys(right)])].filter((k) => canonicalJson(left[k]) !== canonicalJson(right[k])).sort();
}
