import type { RecoveryTarget } from '../spec/recovery-target';
import type { BackupInfo } from './pgbackrest-info';

/** An LSN ("16/B374D848") as a number that orders like PostgreSQL's pg_lsn. */
export function lsnValue(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

export interface RecoveryBackup {
  readonly backup?: BackupInfo;
  /** Why this one, or why none fits, in a DBA's words. */
  readonly why: string;
}

/**
 * The backup a recovery to `target` starts from: for a time or an LSN, the newest backup that
 * finished before it (a later one holds changes past the target, which recovery cannot undo); for
 * `immediate` the newest. An xid or a restore point is found in the WAL first (backupBeforeRecord).
 * `backups` are the current cluster's, oldest first; `targetEpoch` is a time target in epoch
 * seconds, as PostgreSQL read it.
 */
export function chooseRecoveryBackup(backups: readonly BackupInfo[], target: RecoveryTarget, targetEpoch?: number): RecoveryBackup {
  const usable = backups.filter((b) => !b.error);
  const newest = (bs: readonly BackupInfo[]) => bs[bs.length - 1];
  if (target.type === 'time') {
    if (targetEpoch === undefined) throw new Error('a time target needs its epoch');
    const b = newest(usable.filter((x) => x.timestamp.stop < targetEpoch));
    return b ? { backup: b, why: 'the newest backup that finished before the target' } : { why: `no backup finished before ${target.target}` };
  }
  if (target.type === 'lsn') {
    const b = newest(usable.filter((x) => x.lsn?.stop && lsnValue(x.lsn.stop) <= lsnValue(target.target)));
    return b ? { backup: b, why: 'the newest backup that ended before the target LSN' } : { why: `no backup ended before LSN ${target.target}` };
  }
  if (target.type !== 'immediate') throw new Error(`a ${target.type} target is found in the WAL: see backupBeforeRecord`);
  const b = newest(usable);
  return b ? { backup: b, why: 'the newest backup' } : { why: 'the stanza has no backup' };
}

/** The timeline of a WAL segment name (its first 8 hex digits). */
export function segmentTimeline(segment: string): number {
  return parseInt(segment.slice(0, 8), 16);
}

/** Where the search for a record (a commit, a restore point) in the WAL stands. */
export type RecordSearch =
  | { readonly backup: BackupInfo; readonly lsn: string; readonly why: string }
  /** The WAL from `readFrom` up to where reading began must be read first. */
  | { readonly readFrom: string }
  | { readonly why: string };

/**
 * The backup a recovery to an xid or a restore point can start from. Recovery stops at the first
 * matching record after the backup's start, and that record must not lie before the backup's end (a
 * recovery cannot stop before it is consistent: it would fail). Backups are tried newest first;
 * `found`: the matching records' LSNs in the WAL read from `readFrom` up to now on `timeline`; the
 * answer asks for more WAL when a backup starts before `readFrom`. Only backups of `timeline` are
 * considered: their WAL is the one read. `what` names the record in the answer.
 */
export function backupBeforeRecord(backups: readonly BackupInfo[], timeline: number, found: readonly string[], readFrom: string, what: string): RecordSearch {
  const candidates = backups.filter((b) => !b.error && b.lsn?.start && b.lsn.stop && b.archive.start && segmentTimeline(b.archive.start) === timeline);
  const lsns = found.map(lsnValue).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const earlyOnes: string[] = [];
  for (const b of [...candidates].reverse()) {
    const start = lsnValue(b.lsn!.start!);
    if (start < lsnValue(readFrom)) return { readFrom: b.lsn!.start! };
    const first = lsns.find((l) => l >= start);
    if (first === undefined) continue;
    const at = lsnText(first);
    if (first >= lsnValue(b.lsn!.stop!)) {
      return { backup: b, lsn: at, why: `the newest backup that ended before ${what} (found in the WAL at LSN ${at})` };
    }
    earlyOnes.push(`${b.label} (${what} at LSN ${at} comes before it ended at ${b.lsn!.stop})`);
  }
  if (candidates.length === 0) return { why: `no backup on timeline ${timeline} (the primary's) to start from` };
  if (lsns.length === 0) return { why: `${what} is not in the WAL written since backup ${candidates[0].label} started (read up to now on timeline ${timeline})` };
  return { why: `no backup on timeline ${timeline} ended before ${what}: ${earlyOnes.join('; ')}` };
}

function lsnText(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}
