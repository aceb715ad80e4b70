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
  /** The repository named for the restore (2: offsite); absent when pgBackRest chose. */
  repo: z.union([z.literal(1), z.literal(2)]).optional(),
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

/** The drill run an activity was called from, as Temporal says it (the activity's info), not as its arguments say. */
export interface CallingRun {
  /** Absent when no workflow scheduled the activity. */
  readonly workflowType?: string;
  readonly workflowId?: string;
  readonly runId?: string;
}

/** How far the worker recording a result may find its end in the future (another worker's clock). */
const CLOCK_SKEW_SECONDS = 300;

/**
 * Why `result` may not become the stanza's drill record, or undefined: only the drill run that
 * ran may record, and only its own result, whole and consistent (status and the gauges believe it:
 * a forged "passed" with a future start would hold maxAge.drill off forever).
 */
export function drillRecordProblem(run: CallingRun, drillWorkflow: string, stanza: string, host: string, result: unknown, nowSeconds: number): string | undefined {
  if (run.workflowType !== drillWorkflow) return `only a ${drillWorkflow} run records its own drill: this call came from ${run.workflowType === undefined ? 'no workflow' : `${run.workflowType} ${run.workflowId}`}`;
  const parsed = resultSchema.safeParse(result);
  if (!parsed.success) return `not a drill result: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  const r = parsed.data;
  if (r.workflowId !== run.workflowId || r.runId !== run.runId) return `the result names run ${r.runId} of ${r.workflowId}, not the run recording it (${run.runId} of ${run.workflowId})`;
  if (r.stanza !== stanza || r.host !== host) return `the result is of stanza ${r.stanza} on ${r.host}, not of ${stanza} on ${host}`;
  if (r.startedAt > r.endedAt || r.endedAt > nowSeconds + CLOCK_SKEW_SECONDS) return `the result's times (${r.startedAt}..${r.endedAt}) are not of a drill that has ended`;
  if (r.ok !== r.checks.every((c) => c.ok) || r.ok !== (r.failure === null)) return 'the result says passed and failed at once (ok, its checks and its failure disagree)';
  return undefined;
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

function walStep(name: string, by: 1 | -1): string {
  if (!/^[0-9A-F]{24}$/.test(name)) throw new Error(`not a WAL segment name: ${JSON.stringify(name)}`);
  // 16 MiB segments: 0x100 of them per 4 GiB "log" file.
  const n = parseInt(name.slice(8, 16), 16) * 0x100 + parseInt(name.slice(16, 24), 16) + by;
  const hex = (v: number) => v.toString(16).toUpperCase().padStart(8, '0');
  return `${name.slice(0, 8)}${hex(Math.floor(n / 0x100))}${hex(n % 0x100)}`;
}

/** The WAL segment after `name` (24 hex digits, 16 MiB segments): where a recovery that stopped in `name` found nothing. */
export function nextWalSegment(name: string): string {
  return walStep(name, 1);
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
  /** What is wrong, each naming its file or WAL segments: invalid checksums or sizes, missing files, gaps in the archive. */
  readonly problems: string[];
}

/**
 * `pgbackrest verify --log-level-console=detail` (2.45): it exits 0 even when it finds damage. A bad
 * file gets a line of its own (`invalid checksum '<backup>/pg_data/...'`) and a `status: error`
 * summary; a WAL segment missing from the archive only shows as two ranges of one archive id with a
 * hole between them (`wal start: A, wal stop: B`).
 */
export function parseVerifyOutput(output: string): VerifyOutcome {
  const problems: string[] = [];
  for (const m of output.matchAll(/P\d\d\s+(?:INFO|WARN|ERROR):\s+(?!verify command|duplicate WAL)([^\n]*'[^'\n]+'[^\n]*)/g)) problems.push(m[1].trim());
  const ranges = [...output.matchAll(/archiveId: (\S+), wal start: ([0-9A-F]{24}), wal stop: ([0-9A-F]{24})/g)].map((m) => ({ id: m[1], start: m[2], stop: m[3] }));
  for (const [i, r] of ranges.entries()) {
    const prev = ranges[i - 1];
    if (!prev || prev.id !== r.id || prev.stop.slice(0, 8) !== r.start.slice(0, 8)) continue;
    const first = nextWalSegment(prev.stop);
    if (first === r.start) continue;
    const last = walStep(r.start, -1);
    problems.push(`WAL missing from the archive (${r.id}): ${first === last ? first : `${first} .. ${last}`}`);
  }
  const statusError = /status: (error|invalid)/.test(output);
  if (statusError && problems.length === 0) problems.push(output.trim().split('\n').slice(-4).join(' ').replace(/\s+/g, ' '));
  return { ok: problems.length === 0, problems };
}
