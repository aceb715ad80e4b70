import { chooseFailoverTarget, failedPrimary, lsnValue, type StandbyPosition } from '../facts/failover';
import type { SeenAs } from '../facts/topology';
import { backupAfterRoleChange } from '../facts/switchover';
import { cmd } from '../shell/command';
import type { BackupType, Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';
import { clusterState, query } from './cluster-state';
import { findNode, nodeAddress } from './hosts';
import { readNodeRole } from './node-role';
import { ensureStandbyFiles } from './standby-files';
import { checkControl, controlServer } from './postgres-service';
import { observeTopology } from './topology';
import type { StepResult } from './types';

/** `--fence stop`: a failover may stop an old primary that still runs as one. */
export type Fence = 'stop';

export interface FailoverPlan extends StepResult {
  /** The primary that failed (or is fenced). */
  readonly primary: string;
  readonly primarySeenAs: SeenAs;
  /** What the failover does to it: stop it (asked), keep it from starting as a primary (reachable, stopped), or nothing (unreachable). */
  readonly fence: 'stop' | 'signal' | 'unreachable';
  readonly to: string;
  /** The timeline the target recovers on: the promotion makes the next one. */
  readonly timeline: number;
  /** The cluster's system identifier, as the target has it: a standby to rebuild must hold the same. */
  readonly systemId: string;
  readonly positions: StandbyPosition[];
  /** Running standbys that follow the target (pointed at it). */
  readonly standbys: string[];
  /** Standbys that had WAL the target never received: rebuilt from the repository on its timeline. */
  readonly rebuild: string[];
  /** What may be lost, in words: the old primary's last known LSN against the target's, bytes and time where known. */
  readonly lost: string;
  readonly backup: { readonly type: BackupType; readonly why: string };
}

const POSITION_SQL = `SELECT coalesce(pg_last_wal_receive_lsn()::text, ''), coalesce(pg_last_wal_replay_lsn()::text, ''),
  coalesce(pg_last_xact_replay_timestamp()::text, ''), (SELECT system_identifier FROM pg_control_system())::text`;

/**
 * Reads every node; refuses (non-retryable, nothing changed) a split brain, an old primary that
 * runs as one (unless `fence` is stop: then it is stopped first), a `to` that is no running
 * standby, a cluster without one. Chooses the standby that received the most WAL.
 */
export async function planFailover(ops: HostOps, spec: Spec, to?: string, fence?: Fence): Promise<FailoverPlan> {
  const refused = (why: string) => refuse(`failover of stanza ${spec.stanza} refused, nothing was changed: ${why}`, 'FailoverRefused');
  const topology = await observeTopology(ops, spec);
  const running = topology.nodes.filter((n) => n.seenAs === 'primary');
  if (running.length > 1) throw refused(topology.problems.join('; '));
  const primary = failedPrimary(topology);
  if (primary === undefined) throw refused(`no node can be told to be the failed primary (${topology.nodes.map((n) => `${n.name}: ${n.seenAs}`).join(', ')})`);
  const old = topology.nodes.find((n) => n.name === primary)!;
  if (old.seenAs === 'primary' && fence !== 'stop') {
    throw refused(`${primary} answers and runs as the primary: that is a switchover ("stanzactl switchover"), or a split brain in the making. If it must go, --fence stop stops it first and keeps it from starting as a primary again`);
  }
  const standbys = topology.nodes.filter((n) => n.seenAs === 'standby' && n.name !== primary);
  const facts = await Promise.all(standbys.map(async (n) => (await query(ops, nodeAddress(findNode(spec, n.name)), spec.postgres, POSITION_SQL)).split('\t')));
  const positions: StandbyPosition[] = standbys.map((n, i) => {
    const [receiveLsn, replayLsn, lastReplayAt] = facts[i];
    return { name: n.name, ...(receiveLsn && { receiveLsn }), ...(replayLsn && { replayLsn }), ...(lastReplayAt && { lastReplayAt }) };
  });
  let choice;
  try {
    choice = chooseFailoverTarget(positions, to);
  } catch (e) {
    throw refused((e as Error).message);
  }
  const t = standbys.findIndex((n) => n.name === choice.to);
  const timeline = standbys[t].timeline ?? 0;
  const target = positions[t];
  const lost = await lostWal(ops, spec, primary, old.seenAs, target);
  const cost = choice.behindBest > 0 ? `; ${choice.to} was asked for: it lacks ${choice.behindBest} bytes that ${choice.best} received` : '';
  const fenceHow = old.seenAs === 'primary' ? 'stop' : old.seenAs === 'unreachable' ? 'unreachable' : 'signal';
  return {
    changed: false, primary, primarySeenAs: old.seenAs, fence: fenceHow, to: choice.to, timeline, systemId: facts[t][3], positions,
    standbys: positions.map((p) => p.name).filter((n) => n !== choice.to && !choice.ahead.includes(n)), rebuild: choice.ahead,
    lost: `${lost}${cost}`, backup: backupAfterRoleChange(spec),
    detail: `${primary} (${old.seenAs}) fails over to ${choice.to}, the ${choice.behindBest === 0 ? 'most advanced standby' : 'standby asked for'}: ${lost}${cost}`,
  };
}

/** The old primary's last known LSN against what the target has: bytes, and the target's last replayed transaction. */
async function lostWal(ops: HostOps, spec: Spec, primary: string, seenAs: SeenAs, target: StandbyPosition): Promise<string> {
  const has = target.receiveLsn ?? target.replayLsn!;
  const when = target.lastReplayAt ? ` (its last transaction replayed committed at ${target.lastReplayAt})` : '';
  if (seenAs === 'unreachable') return `${primary} is unreachable: what it wrote after ${has}, the most ${target.name} received${when}, is unknown and lost`;
  const host = nodeAddress(findNode(spec, primary));
  const [lsn, how] = seenAs === 'primary'
    ? [await query(ops, host, spec.postgres, 'SELECT pg_current_wal_lsn()'), 'writes now at']
    : [(await clusterState(ops, host, spec.postgres)).checkpointLsn, 'was last checkpointed at (it may have written after)'];
  if (!lsn) return `${primary}'s last LSN is unknown; ${target.name} has WAL up to ${has}${when}`;
  const bytes = lsnValue(lsn) - lsnValue(has);
  return `${primary} ${how} ${lsn}; ${target.name} has WAL up to ${has}${when}: ${bytes > 0n ? `${bytes} bytes` : 'nothing'} ${seenAs === 'primary' ? 'would be' : 'known to be'} lost`;
}

/**
 * Keeps the old primary from coming back as one: stopped when it runs as a primary and `stop` is
 * asked (else refused), a standby.signal in its data directory (it can only start in recovery,
 * following nobody until a rejoin points it at the new primary) and its systemd unit disabled.
 * Returns the shutdown checkpoint LSN when it stopped it cleanly.
 */
export async function fenceNode(ops: HostOps, spec: Spec, node: string, stop: boolean): Promise<StepResult & { stoppedAt?: string }> {
  const host = nodeAddress(findNode(spec, node));
  const pg = spec.postgres;
  const role = await readNodeRole(ops, host, pg);
  if (!role.exists) return { changed: false, detail: `${node} has no cluster in ${pg.dataDir}: nothing to fence` };
  const done: string[] = [];
  let stoppedAt: string | undefined;
  if (role.running && !role.inRecovery) {
    if (!stop) throw refuse(`${node} runs as a primary: it is fenced only when asked (--fence stop)`, 'FailoverRefused');
    await controlServer(ops, host, pg, 'stop');
    stoppedAt = (await clusterState(ops, host, pg)).checkpointLsn;
    done.push(`stopped it${stoppedAt ? ` at its shutdown checkpoint ${stoppedAt}` : ''}`);
  }
  if (!role.running || !role.inRecovery) {
    // No settings of its own: it follows nobody until a rejoin points it at the new primary.
    const written = await ensureStandbyFiles(ops, host, pg, [], '');
    if (written.signal) done.push('wrote standby.signal: it starts only in recovery');
    if (written.conf) done.push('commented out its recovery target');
  }
  if (pg.control.type === 'systemd' && (await ops.run(host, cmd('systemctl', 'is-enabled', '--', pg.control.unit))).stdout.trim() === 'enabled') {
    // Only the unit that serves this data directory (as ensureEnabled): a spec naming another unit is refused.
    await checkControl(ops, host, pg);
    await ops.must(host, cmd('systemctl', 'disable', '--', pg.control.unit));
    done.push(`disabled ${pg.control.unit}: it does not start at boot`);
  }
  return { changed: done.length > 0, ...(stoppedAt && { stoppedAt }), detail: `${node} fenced${done.length ? `: ${done.join('; ')}` : ' already'}` };
}
