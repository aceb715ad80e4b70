/** Durations as DBAs write them in specs: 90s, 30m, 26h, 8d, 2w. */
export const DURATION = /^(\d+)(s|m|h|d|w)$/;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (expected e.g. 90s, 30m, 26h, 8d)`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
