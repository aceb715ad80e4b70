import { CancellationScope, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { WalPosition } from '../facts/recovery';
import type { RecoveryTarget } from '../spec/recovery-target';
import type { CopyPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';
import { checkInput } from './input';
import { long, quick, release } from './profiles';
import type { StepProgress } from './progress';
import { StepLog, titled } from './steps';

const acts = proxyActivities<Activities>(quick);

// Histories recorded before this change registered no restore in the stanza lock (tests/histories).
const RESTORE_LOCKED = 'restore-locked';

export interface RestoreRequest {
  readonly place: CopyPlace;
  readonly target: RecoveryTarget;
  /** A backup label; pgBackRest picks the newest fitting the target without one. */
  readonly set?: string;
  /** The data directory may hold files: reuse them (`--delta`) instead of refusing. */
  readonly reuse: boolean;
}

export interface RestoreResult {
  readonly place: CopyPlace;
  readonly target: RecoveryTarget;
  readonly delta: boolean;
  readonly backupLabel: string | null;
  readonly timeline: number;
  readonly lastTransactionAt: string | null;
  readonly walStart: WalPosition | null;
  readonly walEnd: WalPosition | null;
  readonly restoreSeconds: number;
  readonly recoverySeconds: number;
  readonly steps: StepProgress[];
}

/**
 * Restores a copy of the stanza's cluster to a host that is none of its nodes, to a point in
 * time: the non-destructive path (nothing of the cluster changes). The host is made able to use
 * the repository as provision makes a node, the copy is restored (detached: a crashed worker's
 * retry re-attaches), started standalone, promoted at its target, and what it reached is reported.
 */
export async function restoreToHost(spec: Spec, request: RestoreRequest): Promise<RestoreResult> {
  checkInput('restoreToHost', spec, { restore: request });
  const log = new StepLog();
  if (!patched(RESTORE_LOCKED)) return restoreCopySteps(spec, request, log);
  // Registered in the stanza lock: refused while a recover replaces what it would restore, and a
  // recover is refused while it runs.
  const { workflowId, runId } = workflowInfo();
  const owner = { workflowId, runId };
  await log.run('lock', () => acts.registerRestore.executeWithOptions(titled(quick, `register the restore with stanza ${spec.stanza}`), [spec, owner]));
  try {
    return await restoreCopySteps(spec, request, log);
  } finally {
    await CancellationScope.nonCancellable(() => log.run('unlock', () => acts.releaseRestore.executeWithOptions(titled(release, 'unregister the restore'), [spec, owner])));
  }
}

async function restoreCopySteps(spec: Spec, request: RestoreRequest, log: StepLog): Promise<RestoreResult> {
  const { place, target, set, reuse } = request;
  const at = `${place.host}:${place.dataDir}`;
  await log.run(`${place.host} ready`, () => acts.ensureCopyHost.executeWithOptions(titled(quick, `pgBackRest, trust and config on ${place.host}`), [spec, place]));
  const plan = await log.run(`prepare ${at}`, () => acts.prepareCopy.executeWithOptions(titled(quick, `prepare ${at}`), [spec, place, reuse]));
  const restore = await log.run(`restore ${at}`, () =>
    acts.restoreCopy.executeWithOptions(titled(long, `${plan.delta ? 'delta ' : ''}restore to ${at}`), [spec, place, target, plan.delta, set]));
  await log.run(`start ${place.host}:${place.port}`, () => acts.startCopy.executeWithOptions(titled(quick, `start the copy on ${place.host}:${place.port}`), [spec, place]));
  const promoted = await log.run('recover and promote', () =>
    acts.waitCopyPromoted.executeWithOptions(titled(long, `wait for the copy on ${place.host} to promote`), [spec, place]));
  const reached = await log.run('what it reached', () => acts.inspectCopy.executeWithOptions(titled(quick, `what the copy on ${place.host} reached`), [spec, place]));
  return {
    place, target, delta: plan.delta,
    backupLabel: reached.backupLabel, timeline: reached.timeline, lastTransactionAt: reached.lastTransactionAt, walStart: reached.walStart, walEnd: reached.walEnd,
    restoreSeconds: restore.seconds, recoverySeconds: promoted.recoverySeconds, steps: log.steps,
  };
}
