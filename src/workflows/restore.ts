import { patched } from '@temporalio/workflow';
import type { Spec } from '../spec/schema';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';
import { restoredCopy, type CopyRequest, type RestoreResult } from './copy';
import { copyLock, holding, runOwner } from './locks';
import { quick, release } from './profiles';
import { call, StepLog } from './steps';

export type { RestoreResult };

// Histories recorded before this change registered no restore in the stanza lock (tests/histories).
const RESTORE_LOCKED = 'restore-locked';

export interface RestoreRequest extends CopyRequest {
  /** The plan id the DBA confirmed (spec/confirmation.ts): required. */
  readonly confirm?: string;
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
  const log = new StepLog();
  await requireConfirmed(log, spec, { kind: 'restore', request: { place, target: request.target, set: request.set, reuse: request.reuse, ...(request.repo ? { repo: request.repo } : {}) } }, request.confirm);
  const owner = runOwner();
  const steps = () => restoredCopy(log, spec, request);
  // Held on the scratch host: no drill or other restore in that directory or on that port meanwhile.
  const copyHeld = () => !patched(RESTORE_COPY_LOCKED) ? steps() : holding(log, ...copyLock(spec, place, owner), steps);
  // Registered in the stanza lock: refused while a recover replaces what it would restore, and a
  // recover is refused while it runs.
  return !patched(RESTORE_LOCKED) ? copyHeld() : holding(log,
    () => call('registerRestore', quick, `register the restore with stanza ${spec.stanza}`, spec, owner),
    () => call('releaseRestore', release, 'unregister the restore', spec, owner),
    copyHeld, ['register', 'unregister']);
}
