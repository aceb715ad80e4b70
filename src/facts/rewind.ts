/**
 * How a node that was stopped for a rebuild comes back: pg_rewind from the primary; started as it
 * is (an old primary whose last WAL the new primary has: nothing forked); or a restore from the
 * repository.
 */
export type RejoinMethod = 'rewind' | 'follow' | 'restore';

/**
 * What the DBA asks of a rebuild: `auto` (pg_rewind when it is cheaper, rewindWorthIt), `rewind`
 * (pg_rewind whenever it can), `restore` (a restore whatever the node holds).
 */
export type RejoinPolicy = 'auto' | 'rewind' | 'restore';

export const REJOINED: Record<RejoinMethod, string> = {
  rewind: 'rewound by pg_rewind',
  follow: 'started as a standby as it was (nothing forked)',
  restore: 'restored from the repository',
};

/** What pg_rewind --dry-run --progress (LC_ALL=C) says it would do. */
export type RewindDryRun =
  | { readonly needed: false }
  | { readonly needed: true; readonly divergedAt: string; readonly timeline: number; readonly copyMb: number; readonly totalMb: number };

export function parseRewindDryRun(out: string): RewindDryRun {
  if (/^pg_rewind: no rewind required$/m.test(out)) return { needed: false };
  const diverged = /servers diverged at WAL location (\S+) on timeline (\d+)/.exec(out);
  const copy = /need to copy (\d+) MB \(total source directory size is (\d+) MB\)/.exec(out);
  if (!diverged || !copy) throw new Error(`pg_rewind --dry-run said neither "no rewind required" nor where the servers diverged and what it would copy: ${out.trim().split('\n').slice(-3).join(' | ')}`);
  return { needed: true, divergedAt: diverged[1], timeline: Number(diverged[2]), copyMb: Number(copy[1]), totalMb: Number(copy[2]) };
}

/** What a node's pg_control and the primary say about rewinding it, before anything is asked of the host. */
export interface RewindFacts {
  readonly exists: boolean;
  readonly running: boolean;
  readonly systemId?: string;
  readonly controlState?: string;
  readonly timeline?: number;
  readonly hintsLogged?: boolean;
  readonly primarySystemId: string;
  readonly primaryTimeline: number;
  readonly version: number;
  /** postgresql.conf lives outside the data directory (Debian). */
  readonly configOutside: boolean;
}

// A crashed standby ("in archive recovery") is left out: pg_rewind's crash recovery would end its
// recovery on the primary's own timeline, writing a record the primary never wrote at that place.
const REWINDABLE_STATES = ['shut down', 'shut down in recovery', 'in production'];

/** Why pg_rewind cannot (or need not) bring this node back, in a DBA's words; undefined when it may. */
export function rewindBlocker(f: RewindFacts): string | undefined {
  if (!f.exists) return 'it has no pg_control: there is no data directory of this cluster to rewind';
  if (f.systemId !== f.primarySystemId) return `its data directory holds another cluster (system identifier ${f.systemId})`;
  if (f.running) return 'it still runs';
  if (!f.hintsLogged) return 'it has neither data checksums nor wal_log_hints: pg_rewind could miss pages changed by hint bits';
  if (f.configOutside && f.version < 15) return `pg_rewind before PostgreSQL 15 cannot read a configuration outside the data directory (version ${f.version})`;
  if (!REWINDABLE_STATES.includes(f.controlState ?? '')) return `its pg_control says "${f.controlState}": a standby that did not shut down cleanly is restored`;
  if (f.timeline === f.primaryTimeline) return `it is on the primary's timeline ${f.primaryTimeline}: nothing forked, a restore repairs what is broken`;
  return undefined;
}

/**
 * Whether pg_rewind beats the delta restore. A delta restore reads and checksums every file of the
 * node and replays the WAL since the newest backup; pg_rewind copies the blocks changed since the
 * fork, every other file whole (the primary's WAL segments too), from the live primary, and
 * replays from the last checkpoint before the fork. Measured on the lab (bench/switchover.ts,
 * a cluster of 100-180 MB): the restore rejoined a killed old primary in 6.8-8.8 s of steps,
 * pg_rewind in 10.5-12.2 s (its crash recovery, dry run and longer replay). So pg_rewind is
 * chosen for a cluster of a gibibyte or more, and only while it copies at most half of it.
 */
const REWIND_MIN_TOTAL_MB = 1024;

export function rewindWorthIt(d: { copyMb: number; totalMb: number }): boolean {
  return d.totalMb >= REWIND_MIN_TOTAL_MB && d.copyMb <= d.totalMb / 2;
}
