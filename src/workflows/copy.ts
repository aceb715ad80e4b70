import type { CopyPlan } from '../activities/restore-copy';
import type { WalPosition } from '../facts/recovery';
import type { RecoveryTarget } from '../spec/recovery-target';
import type { CopyPlace } from '../spec/restore-copy';
import type { RepoIndex, Spec } from '../spec/schema';
import { long, quick } from './profiles';
import type { StepProgress } from './progress';
import type { StepLog } from './steps';
import { inRepositorySlot } from './repository-slot';

/**
 * "Restore a copy and promote it": a copy of the stanza's cluster on a host that is none of its
 * nodes (restore --to, a drill, a recover's rehearsal). The caller holds the copy's place (locks.ts
 * copyLock). Each phase is its own function for a workflow that reacts to each one's failure (a
 * drill still verifies the repository after a failed restore); restoredCopy runs them all.
 */

export interface CopyRequest {
  readonly place: CopyPlace;
  readonly target: RecoveryTarget;
  /** A backup label; pgBackRest picks the newest fitting the target without one. */
  readonly set?: string;
  /** The data directory may hold files: reuse them (`--delta`) instead of refusing. */
  readonly reuse: boolean;
  /** The repository to restore from; pgBackRest takes the first holding a fitting backup when absent. */
  readonly repo?: RepoIndex;
}

/** restoreCopy's last arguments: none (a drill), the backup (a restore), then the repository when one is named. */
type RestoreFrom = [] | [set: string | undefined] | [set: string | undefined, repo: RepoIndex];

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

const where = (place: CopyPlace) => `${place.host}:${place.dataDir}`;

/** The host made able to use the repository as provision makes a node, the directory made ready. */
export async function copyPrepared(log: StepLog, spec: Spec, place: CopyPlace, reuse: boolean): Promise<CopyPlan> {
  await log.step(`${place.host} ready`, 'ensureCopyHost', quick, `pgBackRest, trust and config on ${place.host}`, spec, place);
  return log.step(`prepare ${where(place)}`, 'prepareCopy', quick, `prepare ${where(place)}`, spec, place, reuse);
}

/**
 * Restored (detached: a crashed worker's retry re-attaches). `what` names the backup for the UI;
 * `set` is passed as given: a drill's restore names none.
 */
export function copyRestored(log: StepLog, spec: Spec, place: CopyPlace, plan: CopyPlan, target: RecoveryTarget, what: string | undefined, ...from: RestoreFrom) {
  const repo = from[1];
  const title = `${plan.delta ? 'delta ' : ''}restore ${what === undefined ? '' : `of ${what} `}${repo ? `from repo${repo} ` : ''}to ${where(place)}`;
  const name = `restore ${where(place)}`;
  // startedAt: once the repository host's slot is granted, so a drill's RTO leaves out the queue.
  return inRepositorySlot(log, spec, name, async () => ({ startedAt: Date.now(), ...(await log.step(name, 'restoreCopy', long, title, spec, place, target, plan.delta, ...(from as [set?: string, repo?: RepoIndex]))) }));
}

/** Started standalone; it recovers to its target and is promoted. */
export async function copyPromoted(log: StepLog, spec: Spec, place: CopyPlace) {
  await log.step(`start ${place.host}:${place.port}`, 'startCopy', quick, `start the copy on ${place.host}:${place.port}`, spec, place);
  return log.step('recover and promote', 'waitCopyPromoted', long, `wait for the copy on ${place.host} to promote`, spec, place);
}

export function copyReached(log: StepLog, spec: Spec, place: CopyPlace) {
  return log.step('what it reached', 'inspectCopy', quick, `what the copy on ${place.host} reached`, spec, place);
}

/** Restores, starts and promotes a copy at request.place; reports what it reached. */
export async function restoredCopy(log: StepLog, spec: Spec, request: CopyRequest): Promise<RestoreResult> {
  const { place, target, set, reuse, repo } = request;
  const plan = await copyPrepared(log, spec, place, reuse);
  const restore = await copyRestored(log, spec, place, plan, target, undefined, ...(repo ? [set, repo] as const : [set] as const));
  const promoted = await copyPromoted(log, spec, place);
  const reached = await copyReached(log, spec, place);
  return {
    place, target, delta: plan.delta,
    backupLabel: reached.backupLabel, timeline: reached.timeline, lastTransactionAt: reached.lastTransactionAt, walStart: reached.walStart, walEnd: reached.walEnd,
    restoreSeconds: restore.seconds, recoverySeconds: promoted.recoverySeconds, steps: log.steps,
  };
}
