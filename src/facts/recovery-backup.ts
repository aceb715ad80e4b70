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
 * an xid or a restore point nothing in `pgbackrest info` says where they lie, so the newest backup,
 * which the target must follow. `backups` are the current cluster's, oldest first; `targetEpoch` is
 * a time target in epoch seconds, as PostgreSQL read it.
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
  const b = newest(usable);
  const why = target.type === 'immediate' ? 'the newest backup' : `the newest backup (the ${target.type === 'xid' ? 'transaction' : 'restore point'} must come after it)`;
  return b ? { backup: b, why } : { why: 'the stanza has no backup' };
}
