import { workflowInfo } from '@temporalio/workflow';
import type { DeltaBy } from '../activities/standby';
import type { Spec } from '../spec/schema';
import { long, quick, waiting } from './profiles';
import type { StepLog } from './steps';

/**
 * "Rebuild a standby from the repository": restore --type=standby (detached: a retry re-attaches)
 * and start, after which it streams from the primary. `onto` is passed as given: provision's first
 * restore names neither a timeline nor how a delta compares files.
 */
export async function restoredStandby(log: StepLog, spec: Spec, node: string, delta: boolean, ...onto: [timeline?: number, deltaBy?: DeltaBy]) {
  const [timeline] = onto;
  const restore = await log.step(`restore ${node}`, 'restoreStandby', long,
    `${delta ? 'delta ' : ''}restore --type=standby on ${node}${timeline === undefined ? '' : `, timeline ${timeline}`}`, spec, node, delta, ...onto);
  await log.step(`start ${node}`, 'startStandby', quick, `start ${node}`, spec, node);
  return restore;
}

export interface StandbyRebuild {
  /** The primary the standbys must follow: a data directory of another cluster is refused. */
  readonly primarySystemId: string;
  readonly timeline: number | undefined;
  readonly deltaBy: DeltaBy;
}

export interface RebuiltStandby {
  readonly name: string;
  readonly delta: boolean;
  readonly seconds: number;
  readonly replayLagBytes: number;
}

/**
 * Stops, prepares, restores and starts every node of `nodes` at once; then each must replay a
 * marker row written on the primary after they started: proof they stream from it.
 */
export async function rebuiltStandbys(log: StepLog, spec: Spec, nodes: readonly string[], how: StandbyRebuild): Promise<RebuiltStandby[]> {
  const restored = await Promise.all(nodes.map(async (name) => {
    const plan = await log.step(`stop and prepare ${name}`, 'prepareStandby', quick, `stop and prepare ${name}`, spec, name, how.primarySystemId, true);
    const restore = await restoredStandby(log, spec, name, plan.delta, how.timeline, how.deltaBy);
    return { name, delta: plan.delta, seconds: restore.seconds };
  }));
  const marker = await log.step('marker', 'writeMarker', quick, 'write a marker row on the primary', spec, workflowInfo().runId);
  return Promise.all(restored.map(async (r) => {
    const replayed = await log.step(`${r.name} replays the marker`, 'waitMarkerReplayed', waiting, `wait for ${r.name} to stream and replay the marker`, spec, r.name, marker.id);
    return { ...r, replayLagBytes: replayed.replayLagBytes };
  }));
}
