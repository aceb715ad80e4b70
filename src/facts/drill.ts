import { z } from 'zod';

/**
 * What a restore drill found, as the drill workflow returns it and as it is kept on the repository
 * host for `stanzactl status` (a JSON file: Temporal forgets closed workflows after the namespace's
 * retention, and a weekly drill must outlive a one-day retention). Times are epoch seconds.
 */

const checkSchema = z.object({
  /** e.g. `restore`, `accepting connections`, `marker`, `pg_amcheck`, `pg_checksums`, `check 1`, `pgbackrest verify`. */
  name: z.string(),
  ok: z.boolean(),
  detail: z.string(),
});

const resultSchema = z.object({
  stanza: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  host: z.string(),
  startedAt: z.number(),
  endedAt: z.number(),
  ok: z.boolean(),
  backupLabel: z.string().nullable(),
  /** Restore start to the copy accepting connections. */
  rtoSeconds: z.number().nullable(),
  /** Drill start (the marker's time on the primary's clock) less the newest recovered transaction's commit time. */
  rpoSeconds: z.number().nullable(),
  checks: z.array(checkSchema),
  /** The first thing that failed, naming the file, segment or check; null when the drill passed. */
  failure: z.string().nullable(),
});

const recordSchema = z.object({ last: resultSchema, lastGood: resultSchema.nullable() });

export type DrillCheck = z.infer<typeof checkSchema>;
export type DrillResult = z.infer<typeof resultSchema>;
export type DrillRecord = z.infer<typeof recordSchema>;

/** The record after `result`: it becomes the last drill, and the last good one when it passed. */
export function nextRecord(before: DrillRecord | null, result: DrillResult): DrillRecord {
  return { last: result, lastGood: result.ok ? result : (before?.lastGood ?? null) };
}

export function parseDrillRecord(text: string): DrillRecord {
  return recordSchema.parse(JSON.parse(text));
}

/** What status reads: the stanza's drill record, null before the first drill, or why it could not be read. */
export interface DrillFacts {
  readonly host: string;
  readonly record: DrillRecord | null;
  readonly error?: string;
}

/** The WAL segment after `name` (24 hex digits, 16 MiB segments): where a recovery that stopped in `name` found nothing. */
export function nextWalSegment(name: string): string {
  if (!/^[0-9A-F]{24}$/.test(name)) throw new Error(`not a WAL segment name: ${JSON.stringify(name)}`);
  const tli = name.slice(0, 8);
  let log = parseInt(name.slice(8, 16), 16);
  let seg = parseInt(name.slice(16, 24), 16) + 1;
  // 16 MiB segments: 0x100 of them per 4 GiB "log" file.
  if (seg > 0xff) {
    seg = 0;
    log += 1;
  }
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${tli}${hex(log)}${hex(seg)}`;
}

/**
 * How old the newest recovered transaction was at drill time, on the primary's clock alone (the
 * marker's time and the commit times replayed both come from it, so no clock skew enters). A copy
 * that replayed transactions committed after the marker lost nothing: 0.
 */
export function rpoSeconds(drillStartedAt: number, lastRecoveredCommitAt: number | null): number | null {
  if (lastRecoveredCommitAt === null) return null;
  return Math.max(0, Math.round((drillStartedAt - lastRecoveredCommitAt) * 1000) / 1000);
}

export interface VerifyOutcome {
  readonly ok: boolean;
  /** Lines naming what is wrong: a file with an invalid checksum or size, missing WAL, a backup's status. */
  readonly problems: string[];
}

/**
 * `pgbackrest verify --log-level-console=info`: it exits 0 even when it finds damage (its result is
 * the `status:` line), and names each bad file on a line of its own.
 */
export function parseVerifyOutput(output: string): VerifyOutcome {
  const lines = output.split('\n').map((l) => l.replace(/^.*?P\d\d\s+(INFO|WARN|ERROR|DETAIL):\s*/, '').trim()).filter(Boolean);
  const status = lines.map((l) => /^status:\s*(\S+)/.exec(l)?.[1]).filter((s): s is string => s !== undefined);
  const named = lines.filter((l) => /^(invalid|missing|file missing|.*: (error|invalid))|checksum invalid: [1-9]|missing: [1-9]|size invalid: [1-9]|other: [1-9]/.test(l) && !/status: ok/.test(l));
  const ok = status.length > 0 && status.every((s) => s === 'ok');
  return { ok, problems: ok ? [] : named.length ? named : lines.slice(-5) };
}
