import type { SwitchoverPlan } from '../activities/switchover';
import type { RejoinMethod } from '../facts/rewind';
import type { Spec } from '../spec/schema';
import { long, quick, waiting } from './profiles';
import type { StepProgress } from './progress';
import type { StepLog } from './steps';
import { inRepositorySlot } from './repository-slot';

/** What a switchover or failover reports beside its plan. */
export interface RoleChangeResult {
  readonly timeline: number;
  readonly backup: { readonly label: string; readonly type: string; readonly why: string };
  /** `method`: how a standby that forked came back. */
  readonly standbys: { readonly name: string; readonly replayLagBytes: number; readonly method?: RejoinMethod }[];
  readonly steps: StepProgress[];
}

/**
 * Everything that follows a promotion: the new primary (`live`'s) lets the others stream, each of
 * `followers` is pointed at it, the config rewritten, archiving checked, a backup taken on the new
 * timeline, and a marker row every follower must replay. `reached`: `live` less the nodes that
 * cannot be reached (an unreachable old primary), for the steps that touch every node.
 */
export async function followed(log: StepLog, live: Spec, reached: Spec, followers: readonly string[], backupKind: SwitchoverPlan['backup'], timeline: number, markerId: string): Promise<Omit<RoleChangeResult, 'steps'>> {
  const to = live.nodes.find((n) => n.role === 'primary')!.name;
  await log.step('replication access', 'ensureReplicationAccess', quick, `replication role and pg_hba lines on ${to}`, live);
  await Promise.all(followers.map((n) => log.step(`point ${n} at ${to}`, 'pointAtPrimary', quick, `${n} becomes a standby of ${to}`, live, n)));
  await log.step('conf', 'ensurePgbackrestConf', quick, `pgbackrest.conf with ${to} the primary`, reached, true);
  await log.step('check', 'checkStanza', quick, `pgbackrest check: archiving from ${to}`, reached);
  const { type, why } = backupKind;
  const source = await log.step('backup source', 'chooseBackupSource', quick, 'choose the host to copy from', reached);
  const name = `${type} backup`;
  const backup = await inRepositorySlot(log, live, name, () => log.step(name, 'runBackup', long, `${type} backup of ${live.stanza} on timeline ${timeline}`, reached, type, source.backupStandby));
  const marker = await log.step('marker', 'writeMarker', quick, `write a marker row on ${to}`, live, markerId);
  const standbys = await Promise.all(followers.map(async (n) => {
    const r = await log.step(`${n} replays the marker`, 'waitMarkerReplayed', waiting, `wait for ${n} to stream from ${to} and replay the marker`, live, n, marker.id);
    return { name: n, replayLagBytes: r.replayLagBytes };
  }));
  return { timeline, backup: { label: backup.backup.label, type, why }, standbys };
}
