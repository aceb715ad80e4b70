import { program } from '../paths';
import { asUser, script } from '../shell/command';
import type { BackupInfo } from '../facts/pgbackrest-info';
import { backupBeforeRecord } from '../facts/recovery-backup';
import { walSegments } from '../facts/recovery';
import { stopRecordLsns, unreadableAt, type StopRecord } from '../facts/waldump';
import { describeRecoveryTarget } from '../render/recover-plan';
import { psqlCommand } from '../render/postgres-control';
import { quoteLiteral } from '../render/sql';
import type { RecoveryTarget } from '../spec/recovery-target';
import type { Spec } from '../spec/schema';
import { query } from './cluster-state';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';
import type { HostAddress } from '../remote/types';

type RecordTarget = Extract<RecoveryTarget, { type: 'xid' | 'name' }>;

/** Where the primary writes now: the end of the WAL a proof reads. */
export interface WalNow {
  readonly timeline: number;
  readonly lsn: string;
}

// A 32-bit xid (what recovery_target_xid keeps) is taken in the current epoch, or in the one before
// when it would be ahead of the next xid; an epoch-qualified one as it is. txid_status errors on a
// future xid and says NULL when its commit status is truncated away.
const XID_STATUS = (xid: string) => `WITH c AS (SELECT txid_snapshot_xmax(txid_current_snapshot()) AS xmax, ${quoteLiteral(xid)}::bigint AS x),
e AS (SELECT xmax, x, (xmax >> 32) << 32 AS base FROM c)
SELECT coalesce(txid_status(CASE WHEN x >= 4294967296 THEN x WHEN base = 0 OR base + x < xmax THEN base + x ELSE base + x - 4294967296 END),
  'too old: its commit status is gone') FROM e`;

// The segments from the archive (or pg_wal) through pg_waldump, keeping the lines that can stop a recovery.
const WAL_RECORDS = program('activities', 'wal-records');

/**
 * Reads the WAL of the primary's timeline from `from` to `to` and returns the LSNs where a recovery
 * to `stop` would stop. A gap in the WAL is refused: no recovery crosses it.
 */
async function stopRecordsIn(ops: HostOps, host: HostAddress, spec: Spec, stop: StopRecord, now: WalNow, from: string, segmentBytes: number): Promise<string[]> {
  const pg = spec.postgres;
  const segments = walSegments(now.timeline, from, now.lsn, segmentBytes);
  // Only the lines that can stop the recovery come back: the commits of that xid, the restore points.
  const [rmgr, keep, xid] = 'xid' in stop ? ['Transaction', 'desc: COMMIT', String(stop.xid)] : ['XLOG', 'desc: RESTORE_POINT ', ''];
  const r = await ops.run(host, asUser(pg.osUser, script(WAL_RECORDS, pg.binDir, pg.dataDir, spec.stanza, String(now.timeline), from, now.lsn, rmgr, keep, xid, ...segments)));
  if (r.code === 3) throw refuse(`${host.name}: ${r.stderr.trim()}: the WAL has a gap, no recovery can cross it. Nothing was changed`, 'RefusedRecover');
  const badAt = unreadableAt(r.stderr);
  // The newest segment is copied while the primary writes it: its unfinished tail is the end.
  const atTheEnd = badAt !== undefined && walSegments(now.timeline, badAt, badAt, segmentBytes)[0] === segments[segments.length - 1];
  if (r.code !== 0 && !atTheEnd) {
    throw refuse(`${host.name}: pg_waldump could not read the WAL from ${from} to ${now.lsn} on timeline ${now.timeline}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`, 'RefusedRecover');
  }
  return stopRecordLsns(r.stdout, stop);
}

/** An xid target must be a committed transaction: refused otherwise (nothing else reaches it). */
async function committedXid(ops: HostOps, host: HostAddress, spec: Spec, xid: string): Promise<void> {
  const r = await ops.run(host, psqlCommand(spec.postgres, XID_STATUS(xid)));
  const status = r.code === 0 ? r.stdout.trim() : r.stderr.trim().replace(/^ERROR:\s*/, '');
  if (status !== 'committed') {
    throw refuse(`transaction ${xid} is not a committed transaction on ${host.name} (${status}): a recover to it would never reach it and would leave the cluster down. Nothing was changed`, 'RefusedRecover');
  }
}

/**
 * For an xid or a restore point: proves, on the running primary, that a recovery reaches the
 * target, and picks the backup it starts from: the transaction committed (txid_status), and its
 * commit record or the restore point lies in the WAL after the end of the newest backup that can
 * reach it (recovery stops at the first such record after the backup's start). Reads the WAL
 * backwards from now, one backup at a time. Refuses, changing nothing, when no backup reaches it.
 */
export async function proveRecordTarget(ops: HostOps, host: HostAddress, spec: Spec, target: RecordTarget, now: WalNow, backups: readonly BackupInfo[]): Promise<{ backup: BackupInfo; why: string }> {
  if (target.type === 'xid') await committedXid(ops, host, spec, target.target);
  const stop: StopRecord = target.type === 'xid' ? { xid: Number(BigInt(target.target) & 0xffffffffn) } : { restorePoint: target.target };
  const what = target.type === 'xid' ? `the commit of transaction ${target.target}` : describeRecoveryTarget(target);
  const segmentBytes = Number(await query(ops, host, spec.postgres, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"));
  const found: string[] = [];
  let readFrom = now.lsn;
  for (;;) {
    const r = backupBeforeRecord(backups, now.timeline, found, readFrom, what);
    if ('backup' in r) return { backup: r.backup, why: r.why };
    if (!('readFrom' in r)) throw refuse(`stanza ${spec.stanza}: a recover to ${describeRecoveryTarget(target)} cannot reach it: ${r.why}. Nothing was changed`, 'RefusedRecover');
    found.push(...(await stopRecordsIn(ops, host, spec, stop, { timeline: now.timeline, lsn: readFrom }, r.readFrom, segmentBytes)));
    readFrom = r.readFrom;
  }
}
