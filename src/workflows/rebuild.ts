import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DeltaBy } from '../activities/standby';
import type { Spec } from '../spec/schema';
import { long, quick, waiting } from './profiles';
import type { StepProgress } from './progress';
import { StepLog, titled } from './steps';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';

const acts = proxyActivities<Activities>(quick);

export interface RebuildResult {
  readonly node: string;
  /** What was found wrong before the rebuild. */
  readonly broken: string[];
  readonly restore: { readonly delta: boolean; readonly deltaBy: DeltaBy; readonly seconds: number };
  readonly replayLagBytes: number;
  readonly steps: StepProgress[];
}

/**
 * Rebuilds a failed standby from the repository: safety is decided from the hosts first, then the
 * node is stopped, its config and trust ensured (a host rebuilt from scratch lost them), restored
 * (delta when its files are there), started, and it must replay a row written after the restore began.
 */
export interface RebuildOptions {
  readonly deltaBy?: DeltaBy;
  /** The plan id the DBA confirmed (spec/confirmation.ts): required. */
  readonly confirm?: string;
}

export async function rebuildStandby(spec: Spec, node: string, options: RebuildOptions = {}): Promise<RebuildResult> {
  checkInput('rebuildStandby', spec, { node, options });
  const log = new StepLog();
  await requireConfirmed(log, spec, { kind: 'rebuild', node }, options.confirm);
  const target = await log.run('inspect', () => acts.inspectRebuildTarget.executeWithOptions(titled(quick, `is ${node} safe to rebuild?`), [spec, node]));
  await log.run(`pgBackRest dirs on ${node}`, () => acts.ensureNodeDirectories.executeWithOptions(titled(quick, `pgBackRest dirs on ${node}`), [spec, node]));
  await log.run('SSH trust', () => acts.ensureSshTrust.executeWithOptions(titled(quick, 'SSH trust repository <-> nodes'), [spec]));
  await log.run('pgbackrest.conf', () =>
    acts.ensurePgbackrestConf.executeWithOptions(titled(quick, 'pgbackrest.conf on every host'), [spec, (spec.backups?.fromStandby ?? false) !== false]));
  await log.run(`.pgpass on ${node}`, () => acts.ensureStandbyPgpass.executeWithOptions(titled(quick, `.pgpass on ${node}`), [spec, node]));
  const plan = await log.run(`stop and prepare ${node}`, () =>
    acts.prepareStandby.executeWithOptions(titled(quick, `stop and prepare ${node}`), [spec, node, target.primarySystemId, true]));
  const restore = await log.run(`restore ${node}`, () =>
    acts.restoreStandby.executeWithOptions(titled(long, `${plan.delta ? 'delta ' : ''}restore --type=standby on ${node}`), [spec, node, plan.delta, target.targetTimeline, options.deltaBy ?? 'checksum']));
  await log.run(`start ${node}`, () => acts.startStandby.executeWithOptions(titled(quick, `start ${node}`), [spec, node]));
  const marker = await log.run('marker', () => acts.writeMarker.executeWithOptions(titled(quick, 'write a marker row on the primary'), [spec, workflowInfo().runId]));
  const replayed = await log.run(`${node} replays the marker`, () =>
    acts.waitMarkerReplayed.executeWithOptions(titled(waiting, `wait for ${node} to stream and replay the marker`), [spec, node, marker.id]));
  return { node, broken: target.broken, restore: { delta: plan.delta, deltaBy: options.deltaBy ?? 'checksum', seconds: restore.seconds }, replayLagBytes: replayed.replayLagBytes, steps: log.steps };
}
