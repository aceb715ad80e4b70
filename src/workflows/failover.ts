import { workflowInfo } from '@temporalio/workflow';
import type { Fence, FailoverPlan } from '../activities/failover';
import { withoutNode, withPrimary } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { long, quick, release, waiting } from './profiles';
import type { StepProgress } from './progress';
import { call, StepLog } from './steps';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';
import { holding, runOwner } from './locks';
import { rebuiltStandbys } from './standby-restore';

export interface FailoverRequest {
  /** The standby to promote; the most advanced one when absent. */
  readonly to?: string;
  readonly fence?: Fence;
  /** The plan id the DBA confirmed (spec/confirmation.ts): required. */
  readonly confirm?: string;
}

export interface FailoverResult {
  readonly plan: FailoverPlan;
  readonly timeline: number;
  /** What was done to the old primary, in words. */
  readonly fenced: string;
  readonly backup: { readonly label: string; readonly type: string; readonly why: string };
  readonly standbys: { readonly name: string; readonly replayLagBytes: number }[];
  readonly steps: StepProgress[];
}

/** The plan `stanzactl failover` shows before it asks: reads the hosts, changes nothing; refuses what failoverCluster would. */
export async function failoverPlan(spec: Spec, request: FailoverRequest): Promise<FailoverPlan> {
  checkInput('failoverPlan', spec, { failover: request });
  return call('planFailover', quick, `plan a failover of ${spec.stanza}`, spec, request.to, request.fence);
}

/**
 * The primary is dead or unreachable: holds the stanza, fences the old primary where it can be
 * reached (stopped when asked and it runs as one; a standby.signal so it cannot start as a primary
 * again), promotes the chosen standby, points the other standbys at it, rebuilds those that had
 * WAL it never received, rewrites the config, checks archiving, takes a backup on the new timeline,
 * and every standby must replay a marker row. The old primary stays fenced: `stanzactl rebuild
 * --node OLD` rejoins it as a standby.
 */
export async function failoverCluster(spec: Spec, request: FailoverRequest): Promise<FailoverResult> {
  checkInput('failoverCluster', spec, { failover: request });
  const log = new StepLog();
  const owner = runOwner();
  // Released also when cancelled or failed: backups and rebuilds must not wait for a failover that ended.
  return holding(log, () => call('claimFailoverLock', quick, `hold stanza ${spec.stanza} for the failover`, spec, owner),
    () => call('releaseFailoverLock', release, 'release the stanza', spec, owner), async () => {
    await requireConfirmed(log, spec, { kind: 'failover', to: request.to, fence: request.fence }, request.confirm);
    const plan = await log.step('plan', 'planFailover', quick, 'which standby, what is lost', spec, request.to, request.fence);
    const { primary, to } = plan;
    const live = withPrimary(spec, to);
    const fenced = plan.fence === 'unreachable'
      ? `${primary} was unreachable: not fenced. Before it comes back, make sure it cannot start as a primary; then rejoin it with "stanzactl rebuild --node ${primary}"`
      : (await log.step(`fence ${primary}`, 'fenceNode', quick, `keep ${primary} from running as a primary`, withPrimary(spec, primary), primary, plan.fence === 'stop')).detail;
    await log.step(`promote ${to}`, 'promoteNode', quick, `promote ${to}`, live, to);
    const promoted = await log.step(`${to} accepts writes`, 'waitPrimaryPromoted', waiting, `wait for ${to} to accept writes on a new timeline`, live, plan.timeline);
    await log.step('replication access', 'ensureReplicationAccess', quick, `replication role and pg_hba lines on ${to}`, live);
    await Promise.all(plan.standbys.map((n) => log.step(`point ${n} at ${to}`, 'pointAtPrimary', quick, `${n} becomes a standby of ${to}`, live, n)));
    // An unreachable old primary is left out of the config (pgBackRest would fail to reach it) until a rebuild rejoins it.
    const reached = plan.fence === 'unreachable' ? withoutNode(live, primary) : live;
    await log.step('conf', 'ensurePgbackrestConf', quick, `pgbackrest.conf with ${to} the primary`, reached, true);
    await log.step('check', 'checkStanza', quick, `pgbackrest check: archiving from ${to}`, reached);
    const { type, why } = plan.backup;
    const source = await log.step('backup source', 'chooseBackupSource', quick, 'choose the host to copy from', reached);
    const backup = await log.step(`${type} backup`, 'runBackup', long, `${type} backup of ${spec.stanza} on timeline ${promoted.timeline}`, reached, type, source.backupStandby);
    const rebuilt = plan.rebuild.length === 0 ? [] : await rebuiltStandbys(log, live, plan.rebuild, { primarySystemId: plan.systemId, timeline: undefined, deltaBy: 'checksum' });
    const marker = await log.step('marker', 'writeMarker', quick, `write a marker row on ${to}`, live, `${workflowInfo().runId}-followers`);
    const followed = await Promise.all(plan.standbys.map(async (n) => {
      const r = await log.step(`${n} replays the marker`, 'waitMarkerReplayed', waiting, `wait for ${n} to stream from ${to} and replay the marker`, live, n, marker.id);
      return { name: n, replayLagBytes: r.replayLagBytes };
    }));
    return {
      plan, timeline: promoted.timeline, fenced, backup: { label: backup.backup.label, type, why },
      standbys: [...followed, ...rebuilt.map(({ name, replayLagBytes }) => ({ name, replayLagBytes }))], steps: log.steps,
    };
  });
}
