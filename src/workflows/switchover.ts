import { ApplicationFailure, CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import type { SwitchoverPlan } from '../activities/switchover';
import { withPrimary } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { quick, release, waiting } from './profiles';
import { call, messageOf, StepLog } from './steps';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';
import { holding, runOwner } from './locks';
import { followed, type RoleChangeResult } from './role-change';

// The promotion reads the old primary once more (promoteNode's `old`).
const PROMOTE_OLD_DOWN = 'switchover-promote-old-down';

export interface SwitchoverRequest {
  readonly to: string;
  /** The plan id the DBA confirmed (spec/confirmation.ts): required. */
  readonly confirm?: string;
}

export interface SwitchoverResult extends RoleChangeResult {
  readonly plan: SwitchoverPlan;
  /** The old primary's shutdown checkpoint and how far the target had replayed when it was promoted. */
  readonly checkpointLsn: string;
  readonly replayLsn: string;
}

/** The plan `stanzactl switchover` shows before it asks: reads the hosts, changes nothing; refuses what switchoverCluster would. */
export async function switchoverPlan(spec: Spec, request: SwitchoverRequest): Promise<SwitchoverPlan> {
  checkInput('switchoverPlan', spec, { switchover: request });
  return call('planSwitchover', quick, `plan a switchover of ${spec.stanza} to ${request.to}`, spec, request.to);
}

/**
 * A planned switchover with no data loss: holds the stanza (no backup, rebuild or recover meanwhile),
 * checkpoints and stops the primary cleanly, waits until the target has replayed its shutdown
 * checkpoint (the proof), promotes the target, points every other node (the old primary too) at it,
 * follows with the config, a `pgbackrest check`, a backup on the new timeline and a marker row every
 * node must replay. The old primary is stopped before the target is promoted and starts again only
 * as a standby: never two primaries. Until the promotion nothing is lost by giving up: a failure
 * there starts the old primary again, as it was.
 */
export async function switchoverCluster(spec: Spec, request: SwitchoverRequest): Promise<SwitchoverResult> {
  checkInput('switchoverCluster', spec, { switchover: request });
  const log = new StepLog();
  const owner = runOwner();
  // Released also when cancelled or failed: backups and rebuilds must not wait for a switchover that ended.
  return holding(log, () => call('claimSwitchoverLock', quick, `hold stanza ${spec.stanza} for the switchover`, spec, owner),
    () => call('releaseSwitchoverLock', release, 'release the stanza', spec, owner), async () => {
    await requireConfirmed(log, spec, { kind: 'switchover', to: request.to }, request.confirm);
    const plan = await log.step('plan', 'planSwitchover', quick, `can ${request.to} take over?`, spec, request.to);
    const { primary, to } = plan;
    const old = withPrimary(spec, primary);
    const live = withPrimary(spec, to);
    await log.step('checkpoint', 'checkpointPrimary', quick, `checkpoint on ${primary}`, old, primary);
    const proof = await handedOver(log, old, plan);
    // Runs recorded before the promotion read the old primary again promote without it.
    const stillDown = patched(PROMOTE_OLD_DOWN) ? [primary] : [];
    await log.step(`promote ${to}`, 'promoteNode', quick, `promote ${to} (${primary} still down)`, live, to, ...stillDown);
    const promoted = await log.step(`${to} accepts writes`, 'waitPrimaryPromoted', waiting, `wait for ${to} to accept writes on a new timeline`, live, plan.timeline);
    const after = await followed(log, live, live, [primary, ...plan.standbys], plan.backup, promoted.timeline, workflowInfo().runId);
    return { plan, checkpointLsn: proof.checkpointLsn, replayLsn: proof.replayLsn, ...after, steps: log.steps };
  });
}

/**
 * The old primary stopped cleanly and its last record replayed on the target. A failure here,
 * before any promotion, undoes the stop: the old primary starts again as the primary it was.
 */
async function handedOver(log: StepLog, old: Spec, plan: SwitchoverPlan) {
  const { primary, to } = plan;
  try {
    await log.step(`stop ${primary}`, 'stopPostgres', quick, `stop the primary ${primary} (fast: its shutdown checkpoint goes to ${to})`, old, primary);
    return await log.step(`${to} replayed`, 'waitShutdownReplayed', waiting, `wait for ${to} to replay ${primary}'s shutdown checkpoint`, old, primary, to);
  } catch (e) {
    // Cancelled too: a DBA who gives up a slow switchover expects the old primary back, not none.
    try {
      await CancellationScope.nonCancellable(() => log.step(`start ${primary} again`, 'startStandby', quick, `undo: start ${primary} again as the primary`, old, primary));
    } catch (undo) {
      throw ApplicationFailure.create({
        type: 'SwitchoverUndoFailed', nonRetryable: true, cause: undo instanceof Error ? undo : undefined,
        message: `switchover to ${to} given up before any promotion (${messageOf(e)}), and ${primary} could not be started again: ${messageOf(undo)}\nNo node runs as the primary: start ${primary}`,
      });
    }
    if (isCancellation(e)) throw e;
    throw ApplicationFailure.create({
      type: 'SwitchoverUndone', nonRetryable: true, cause: e instanceof Error ? e : undefined,
      message: `switchover to ${to} given up before any promotion: ${messageOf(e)}\n${primary} runs as the primary again; nothing was lost`,
    });
  }
}
