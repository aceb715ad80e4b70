import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { WalPosition } from '../facts/recovery';
import type { RecoveryTarget } from '../spec/recovery-target';
import type { CopyPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';
import { long, quick, release } from './profiles';
import type { StepProgress } from './progress';
import { holding, StepLog, titled } from './steps';

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
  /** The plan id the DBA confirmed (spec/confirmation.ts): required. */
  readonly confirm?: string;
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

// Runs recorded before a restore held the copy host's directory and port replay without it.
const RESTORE_COPY_LOCKED = 'restore-copy-locked';

/**
 * Restores a copy of the stanza's cluster to a host that is none of its nodes, to a point in
 * time: the non-destructive path (nothing of the cluster changes). The copy's directory and port on
 * the host are held for the run (a drill or another restore there is refused), the host is made able
 * to use the repository as provision makes a node, the copy is restored (detached: a crashed
 * worker's retry re-attaches), started standalone, promoted at its target, and what it reached is
 * reported. The copy is left running.
 */
export async function restoreToHost(spec: Spec, request: RestoreRequest): Promise<RestoreResult> {
  checkInput('restoreToHost', spec, { restore: request });
  const { place } = request;
  const at = `${place.host}:${place.dataDir}`;
  const log = new StepLog();
  await requireConfirmed(log, spec, { kind: 'restore', request: { place, target: request.target, set: request.set, reuse: request.reuse } }, request.confirm);
  const { workflowId, runId } = workflowInfo();
  const owner = { workflowId, runId };
  const steps = () => restoreCopySteps(spec, request, log);
  // Held on the scratch host: no drill or other restore in that directory or on that port meanwhile.
  const copyHeld = () => !patched(RESTORE_COPY_LOCKED) ? steps() : holding(log,
    () => acts.claimCopyLock.executeWithOptions(titled(quick, `hold ${at} and port ${place.port}`), [spec, place, owner]),
    () => acts.releaseCopyLock.executeWithOptions(titled(release, `release ${at}`), [spec, place, owner]),
    steps);
  // Registered in the stanza lock: refused while a recover replaces what it would restore, and a
  // recover is refused while it runs.
  return !patched(RESTORE_LOCKED) ? copyHeld() : holding(log,
    () => acts.registerRestore.executeWithOptions(titled(quick, `register the restore with stanza ${spec.stanza}`), [spec, owner]),
    () => acts.releaseRestore.executeWithOptions(titled(release, 'unregister the restore'), [spec, owner]),
    copyHeld, ['register', 'unregister']);
}

/** Restores, starts and promotes a copy at request.place; reports what it reached. The caller holds the place. */
export async function restoreCopySteps(spec: Spec, request: Omit<RestoreRequest, 'confirm'>, log: StepLog): Promise<RestoreResult> {
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
