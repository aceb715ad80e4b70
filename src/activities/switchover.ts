import { Context } from '@temporalio/activity';
import { parseReplicationRows, REPLICATION_SQL } from '../facts/postgres';
import { backupAfterRoleChange, switchoverProblems } from '../facts/switchover';
import { quoteLiteral } from '../render/sql';
import { primaryNode } from '../spec/roles';
import type { BackupType, Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import { reportProgress } from '../host/heartbeat';
import type { HostOps } from '../host/host-ops';
import type { HostAddress } from '../remote/types';
import { clusterState, query } from './cluster-state';
import { findNode, nodeAddress } from './hosts';
import { readNodeRole } from './node-role';
import { runsAsPrimary } from '../facts/node-role';
import { controlServer, ensureEnabled } from './postgres-service';
import { ensureStandbyPgpass } from './standby';
import { ensureFollowing } from './standby-files';
import { observeTopology } from './topology';
import type { StepResult } from './types';

export interface SwitchoverPlan extends StepResult {
  /** The node that runs as the primary now (the spec may name another). */
  readonly primary: string;
  readonly to: string;
  /** Every node but the primary and the target: they follow the target afterwards. */
  readonly standbys: string[];
  readonly timeline: number;
  readonly targetLagBytes: number;
  readonly backup: { readonly type: BackupType; readonly why: string };
}

/** Reads every node; refuses (non-retryable, nothing changed) unless `to` streams from the primary, caught up, and every other node is a streaming standby. */
export async function planSwitchover(ops: HostOps, spec: Spec, to: string): Promise<SwitchoverPlan> {
  findNode(spec, to);
  const topology = await observeTopology(ops, spec);
  const primary = topology.primary;
  const replication = primary === null ? [] : parseReplicationRows(await query(ops, nodeAddress(findNode(spec, primary)), spec.postgres, REPLICATION_SQL));
  const problems = switchoverProblems(topology, to, replication);
  if (problems.length > 0 || primary === null) {
    throw refuse(`switchover of stanza ${spec.stanza} to ${to} refused, nothing was changed: ${problems.join('; ')}`, 'SwitchoverRefused');
  }
  const timeline = topology.nodes.find((n) => n.name === primary)!.timeline!;
  const targetLagBytes = replication.find((r) => r.applicationName === to)!.lagBytes!;
  const standbys = spec.nodes.map((n) => n.name).filter((n) => n !== primary && n !== to);
  return {
    changed: false, primary, to, standbys, timeline, targetLagBytes, backup: backupAfterRoleChange(spec),
    detail: `${primary} (timeline ${timeline}) hands over to ${to} (replay ${targetLagBytes} bytes behind); ${standbys.length ? standbys.join(', ') : 'no other standby'} will follow ${to}`,
  };
}

/** A checkpoint on the primary before it stops: its shutdown checkpoint then has little to write, and the outage is shorter. */
export async function checkpointPrimary(ops: HostOps, spec: Spec, node: string): Promise<StepResult> {
  const host = nodeAddress(findNode(spec, node));
  const role = await readNodeRole(ops, host, spec.postgres);
  if (!role.running) return { changed: false, detail: `${node} is stopped already` };
  if (role.inRecovery) throw refuse(`${node} is in recovery: it is no primary to hand over from`, 'SwitchoverRefused');
  const lsn = await query(ops, host, spec.postgres, 'CHECKPOINT; SELECT pg_current_wal_lsn()');
  // Nothing a DBA sees changed: a retry after a crash reports the same.
  return { changed: false, detail: `checkpoint on ${node}, WAL at ${lsn}` };
}

/**
 * The proof that nothing is lost: `old`, stopped cleanly, wrote its shutdown checkpoint last, and
 * `target` has replayed past it. Waits (heartbeating) while the target catches up. A primary that
 * did not shut down cleanly, or runs again, is refused: nothing then says what the target misses.
 */
export async function waitShutdownReplayed(ops: HostOps, spec: Spec, old: string, target: string): Promise<StepResult & { checkpointLsn: string; replayLsn: string }> {
  const state = await clusterState(ops, nodeAddress(findNode(spec, old)), spec.postgres);
  if (state.running || state.controlState !== 'shut down' || !state.checkpointLsn) {
    throw refuse(`${old} is ${state.running ? 'running' : `"${state.controlState}"`}, not cleanly shut down: nothing proves that ${target} has all of its WAL`, 'SwitchoverRefused');
  }
  const host = nodeAddress(findNode(spec, target));
  const sql = `SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''), coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), ${quoteLiteral(state.checkpointLsn)}) > 0, false)`;
  for (;;) {
    const [recovering, replayLsn, past] = (await query(ops, host, spec.postgres, sql)).split('\t');
    if (recovering !== 't') throw refuse(`${target} left recovery before it replayed ${old}'s shutdown checkpoint (${state.checkpointLsn})`, 'SwitchoverRefused');
    if (past === 't') {
      return { changed: false, checkpointLsn: state.checkpointLsn, replayLsn, detail: `${target} replayed up to ${replayLsn}, past ${old}'s shutdown checkpoint at ${state.checkpointLsn}: it has every change ${old} made` };
    }
    reportProgress({ node: target, replayLsn, shutdownCheckpoint: state.checkpointLsn });
    await Context.current().sleep(200);
  }
}

/**
 * Promotes `node` out of recovery; one that already accepts writes is left alone. `old`: the primary
 * stopped or fenced before, read again right before the promotion: started meanwhile (by hand, by
 * its service) it is refused, non-retryable, rather than made a second primary; when it cannot be
 * read the step fails and retries (the caller passes no `old` it knows to be unreachable).
 */
export async function promoteNode(ops: HostOps, spec: Spec, node: string, old?: string): Promise<StepResult> {
  const host = nodeAddress(findNode(spec, node));
  const role = await readNodeRole(ops, host, spec.postgres);
  if (!role.running) throw refuse(`${node} is not running: there is nothing to promote`, 'PromotionRefused');
  if (!role.inRecovery) return { changed: false, detail: `${node} is out of recovery already` };
  if (old !== undefined && runsAsPrimary(await readNodeRole(ops, nodeAddress(findNode(spec, old)), spec.postgres))) {
    throw refuse(`${old} runs as a primary again: ${node} is not promoted beside it (two primaries). Stop ${old}, then run the command again`, 'PromotionRefused');
  }
  const done = await query(ops, host, spec.postgres, 'SELECT pg_promote(true, 60)');
  if (done !== 't') throw new Error(`${node}: pg_promote did not finish within 60 s`);
  return { changed: true, detail: `promoted ${node}` };
}

/**
 * Makes `node` a standby of the spec's primary: ~/.pgpass, standby.signal and the recovery
 * settings (primary_conninfo, restore_command, recovery_target_timeline=latest) in its
 * postgresql.auto.conf, as its OS user; then reloads it when it runs (PostgreSQL 13+ reconnects
 * its WAL receiver) or starts it. A node that runs as a primary is refused: it would keep taking writes.
 */
export async function pointAtPrimary(ops: HostOps, spec: Spec, node: string): Promise<StepResult> {
  const host = nodeAddress(findNode(spec, node));
  const pg = spec.postgres;
  const primary = primaryNode(spec);
  const role = await readNodeRole(ops, host, pg);
  if (role.running && !role.inRecovery) {
    throw refuse(`${node} runs as a primary: stanzactl will not turn a running primary into a standby of ${primary.name}. Stop it first`, 'PointRefused');
  }
  if (!role.exists) throw refuse(`${node} has no cluster in ${pg.dataDir}: rebuild it`, 'PointRefused');
  const pgpass = await ensureStandbyPgpass(ops, spec, node);
  const { conf: confChanged, signal: signalChanged, settings } = await ensureFollowing(ops, host, spec, node);
  const enabled = await ensureEnabled(ops, host, pg);
  const action = role.running ? await applied(ops, host, pg, settings) : (await controlServer(ops, host, pg, 'start'), 'started');
  const changed = pgpass.changed || confChanged || signalChanged || enabled || action !== 'unchanged';
  return { changed, detail: `${node} follows ${primary.name}: settings ${confChanged ? 'written' : 'as they were'}${signalChanged ? ', standby.signal written' : ''}, ${action}` };
}

const RESTART_SETTINGS = "('primary_conninfo', 'restore_command', 'recovery_target_timeline')";

/**
 * Brings a running standby's settings in line with its file, decided from what it runs with (a retry
 * after the file was written still reloads): a reload, and a restart for any of them that needs one
 * (recovery_target_timeline always, primary_conninfo before PostgreSQL 13).
 */
async function applied(ops: HostOps, host: HostAddress, pg: Spec['postgres'], settings: readonly [string, string][]): Promise<string> {
  const conninfo = settings.find(([k]) => k === 'primary_conninfo')![1];
  const pending = `EXISTS (SELECT 1 FROM pg_settings WHERE name IN ${RESTART_SETTINGS} AND pending_restart)`;
  const stale = await query(ops, host, pg, `SELECT current_setting('primary_conninfo') <> ${quoteLiteral(conninfo)} OR ${pending}`);
  if (stale !== 't') return 'unchanged';
  await controlServer(ops, host, pg, 'reload');
  // The reload is read asynchronously: pending_restart shows once the postmaster has.
  await Context.current().sleep(500);
  if ((await query(ops, host, pg, `SELECT ${pending}`)) !== 't') return 'reloaded';
  await controlServer(ops, host, pg, 'restart');
  return 'restarted';
}
