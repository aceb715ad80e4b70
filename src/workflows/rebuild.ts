import { patched } from '@temporalio/workflow';
import type { DeltaBy } from '../activities/standby';
import type { RejoinMethod, RejoinPolicy } from '../facts/rewind';
import { primaryNode } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { quick } from './profiles';
import type { StepProgress } from './progress';
import { StepLog } from './steps';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';
import { nodeAccess } from './node-access';
import { rebuiltStandbys } from './standby-restore';
import { observedSpec } from './topology';

// Runs recorded before a rebuild read the roles from the hosts act on the spec's.
const REBUILD_TOPOLOGY = 'rebuild-topology';

export interface RebuildResult {
  readonly node: string;
  /** What was found wrong before the rebuild. */
  readonly broken: string[];
  readonly restore: { readonly delta: boolean; readonly deltaBy: DeltaBy; readonly seconds: number };
  /** How it came back, and why (absent in runs recorded before pg_rewind was considered). */
  readonly method?: RejoinMethod;
  readonly why?: string;
  readonly replayLagBytes: number;
  readonly steps: StepProgress[];
}

export interface RebuildOptions {
  readonly deltaBy?: DeltaBy;
  /** `auto` when absent; `restore` for a DBA who trusts none of the node's files. */
  readonly method?: RejoinPolicy;
  /** The plan id the DBA confirmed (spec/confirmation.ts): required. */
  readonly confirm?: string;
}

/**
 * Rebuilds a failed standby from the repository, or rejoins an old primary: safety is decided from
 * the hosts first, then the node's config and trust ensured (a host rebuilt from scratch lost them),
 * the node stopped, rewound by pg_rewind when it forked from the primary and that is cheaper, else
 * restored (delta when its files are there), started, and it must replay a row written after it started.
 */
export async function rebuildStandby(spec: Spec, node: string, options: RebuildOptions = {}): Promise<RebuildResult> {
  checkInput('rebuildStandby', spec, { node, options });
  const log = new StepLog();
  await requireConfirmed(log, spec, { kind: 'rebuild', node }, options.confirm);
  // The roles the hosts show, not the spec's: after a failover the old primary is rebuilt as a
  // standby of the new one (its primary_conninfo, the repository's config) with no spec edit.
  const topologyRead = patched(REBUILD_TOPOLOGY);
  const live = topologyRead ? await observedSpec(spec, `the rebuild of ${node}`, node) : spec;
  const target = await log.step('inspect', 'inspectRebuildTarget', quick, `is ${node} safe to rebuild?`, live, node);
  if (topologyRead) {
    // A primary promoted by hand has its old self's pg_hba (Debian keeps it outside the data
    // directory): the node must be let in to stream from it.
    await log.step('replication access', 'ensureReplicationAccess', quick, `replication role and pg_hba lines on ${primaryNode(live).name}`, live);
  }
  await nodeAccess(log, live, node);
  const deltaBy = options.deltaBy ?? 'checksum';
  // An old primary back after a failover forked from the new one: pg_rewind copies only what
  // differs. Not when the archive holds a fork newer than the primary's timeline: a node started
  // with recovery_target_timeline=latest would follow it, and only a restore names the timeline.
  const fork = target.targetTimeline;
  const policy = options.method ?? 'auto';
  const rewind = policy === 'restore' || fork !== undefined ? undefined : policy;
  const [rebuilt] = await rebuiltStandbys(log, live, [node], { primarySystemId: target.primarySystemId, timeline: fork, deltaBy, ...(rewind && { rewind }) });
  const why = rebuilt.why ?? (policy === 'restore' ? 'asked for a restore (--method restore)'
    : fork === undefined ? undefined : `the archive holds a timeline newer than the primary's: only a restore follows timeline ${fork}`);
  return { node, broken: target.broken, restore: { delta: rebuilt.delta, deltaBy, seconds: rebuilt.seconds }, method: rebuilt.method, ...(why && { why }),
    replayLagBytes: rebuilt.replayLagBytes, steps: log.steps };
}
