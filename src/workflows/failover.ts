import { workflowInfo } from '@temporalio/workflow';
import type { Fence, FailoverPlan } from '../activities/failover';
import { withoutNode, withPrimary } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { quick, release, waiting } from './profiles';
import { call, StepLog } from './steps';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';
import { holding, runOwner } from './locks';
import { followed, type RoleChangeResult } from './role-change';
import { rebuiltStandbys } from './standby-restore';

export interface FailoverRequest {
  /** The standby to promote; the most advanced one when absent. */
  readonly to?: string;
  readonly fence?: Fence;
  /** The plan id the DBA confirmed (spec/confirmation.ts): required. */
  readonly confirm?: string;
}

export interface FailoverResult extends RoleChangeResult {
  readonly plan: FailoverPlan;
  /** What was done to the old primary, in words. */
  readonly fenced: string;
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
    // A fenced old primary is read once more right before: started meanwhile, it is not joined by a second.
    const stillDown = plan.fence === 'unreachable' ? [] : [primary];
    await log.step(`promote ${to}`, 'promoteNode', quick, `promote ${to}`, live, to, ...stillDown);
    const promoted = await log.step(`${to} accepts writes`, 'waitPrimaryPromoted', waiting, `wait for ${to} to accept writes on a new timeline`, live, plan.timeline);
    // An unreachable old primary is left out of the config (pgBackRest would fail to reach it) until a rebuild rejoins it.
    const reached = plan.fence === 'unreachable' ? withoutNode(live, primary) : live;
    const after = await followed(log, live, reached, plan.standbys, plan.backup, promoted.timeline, `${workflowInfo().runId}-followers`);
    const rebuilt = plan.rebuild.length === 0 ? [] : await rebuiltStandbys(log, live, plan.rebuild, { primarySystemId: plan.systemId, timeline: undefined, deltaBy: 'checksum', rewind: 'auto' });
    return { plan, fenced, ...after, standbys: [...after.standbys, ...rebuilt.map(({ name, replayLagBytes, method }) => ({ name, replayLagBytes, method }))], steps: log.steps };
  });
}
