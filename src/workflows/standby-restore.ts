import { patched, workflowInfo } from '@temporalio/workflow';
import type { DeltaBy } from '../activities/standby';
import type { RejoinMethod, RejoinPolicy } from '../facts/rewind';
import type { Spec } from '../spec/schema';
import { long, quick, waiting } from './profiles';
import type { StepLog } from './steps';
import { inRepositorySlot } from './repository-slot';

/**
 * "Rebuild a standby from the repository": restore --type=standby (detached: a retry re-attaches)
 * and start, after which it streams from the primary. `onto` is passed as given: provision's first
 * restore names neither a timeline nor how a delta compares files.
 */
export async function restoredStandby(log: StepLog, spec: Spec, node: string, delta: boolean, ...onto: [timeline?: number, deltaBy?: DeltaBy]) {
  const [timeline] = onto;
  const name = `restore ${node}`;
  const restore = await inRepositorySlot(log, spec, name, () => log.step(name, 'restoreStandby', long,
    `${delta ? 'delta ' : ''}restore --type=standby on ${node}${timeline === undefined ? '' : `, timeline ${timeline}`}`, spec, node, delta, ...onto));
  await log.step(`start ${node}`, 'startStandby', quick, `start ${node}`, spec, node);
  return restore;
}

export interface StandbyRebuild {
  /** The primary the standbys must follow: a data directory of another cluster is refused. */
  readonly primarySystemId: string;
  readonly timeline: number | undefined;
  readonly deltaBy: DeltaBy;
  /** pg_rewind considered (a node that forked from the primary: an old primary, a standby ahead of the promoted one); absent: a restore. */
  readonly rewind?: Exclude<RejoinPolicy, 'restore'>;
}

export interface RebuiltStandby {
  readonly name: string;
  readonly delta: boolean;
  readonly seconds: number;
  readonly replayLagBytes: number;
  /** How it came back; `why` says why that way (set when pg_rewind was considered). */
  readonly method: RejoinMethod;
  readonly why?: string;
}

// Runs recorded before pg_rewind was considered restore every node.
const REWIND = 'standby-rewind';

/**
 * A stopped node brought back without a restore when planRewind finds it can: pg_rewind (when it
 * is cheaper) or nothing (nothing forked), then started as a standby of the primary. Without
 * seconds (and why) when it is to be restored instead, also after a rewind that failed: its files
 * are then in no state to start from.
 */
async function rejoined(log: StepLog, spec: Spec, name: string, primarySystemId: string, policy: Exclude<RejoinPolicy, 'restore'>): Promise<{ method: RejoinMethod; seconds?: number; why: string }> {
  // `auto`, the default, is left out of the arguments: recorded runs scheduled it so.
  const plan = await log.step(`rewind or restore ${name}`, 'planRewind', waiting, `pg_rewind or a restore for ${name}?`, spec, name, primarySystemId, ...(policy === 'auto' ? [] : [policy] as const));
  if (plan.method === 'restore') return plan;
  const run = plan.method === 'rewind' ? await log.step(`rewind ${name}`, 'rewindNode', long, `pg_rewind ${name} from the primary`, spec, name) : undefined;
  if (run && !run.ok) return { method: 'restore', why: run.detail };
  await log.step(`start ${name}`, 'pointAtPrimary', quick, `${name} starts as a standby of the primary`, spec, name);
  return { method: plan.method, seconds: run?.seconds ?? 0, why: plan.why };
}

/**
 * Stops, prepares, restores (or rewinds, when asked and it can) and starts every node of `nodes` at once; then each must replay a
 * marker row written on the primary after they started: proof they stream from it.
 */
export async function rebuiltStandbys(log: StepLog, spec: Spec, nodes: readonly string[], how: StandbyRebuild): Promise<RebuiltStandby[]> {
  const restored = await Promise.all(nodes.map(async (name) => {
    const plan = await log.step(`stop and prepare ${name}`, 'prepareStandby', quick, `stop and prepare ${name}`, spec, name, how.primarySystemId, true);
    const rejoin = how.rewind && patched(REWIND) ? await rejoined(log, spec, name, how.primarySystemId, how.rewind) : undefined;
    if (rejoin?.seconds !== undefined) return { name, delta: false, seconds: rejoin.seconds, method: rejoin.method, why: rejoin.why };
    const restore = await restoredStandby(log, spec, name, plan.delta, how.timeline, how.deltaBy);
    return { name, delta: plan.delta, seconds: restore.seconds, method: 'restore' as const, ...(rejoin && { why: rejoin.why }) };
  }));
  const marker = await log.step('marker', 'writeMarker', quick, 'write a marker row on the primary', spec, workflowInfo().runId);
  return Promise.all(restored.map(async (r) => {
    const replayed = await log.step(`${r.name} replays the marker`, 'waitMarkerReplayed', waiting, `wait for ${r.name} to stream and replay the marker`, spec, r.name, marker.id);
    return { ...r, replayLagBytes: replayed.replayLagBytes };
  }));
}
