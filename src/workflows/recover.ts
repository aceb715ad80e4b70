import { ApplicationFailure, CancellationScope, executeChild, isCancellation, ParentClosePolicy, patched } from '@temporalio/workflow';
import type { BackupDetails } from '../activities/backup';
import type { RecoverPlan } from '../activities/recover';
import type { RecoveryTarget } from '../spec/recovery-target';
import { withPrimary } from '../spec/roles';
import type { RepoIndex, Spec } from '../spec/schema';
import { long, quick, release, waiting } from './profiles';
import type { StepProgress } from './progress';
import { call, messageOf, present, StepLog } from './steps';
import { checkInput } from './input';
import { requireConfirmed } from './confirmation';
import type { RestoreResult } from './copy';
import { runOwner } from './locks';
import { rehearseRecover } from './rehearse';
import { rebuiltStandbys } from './standby-restore';
import { legacyRehearsalWorkflowId, rehearsalWorkflowId } from '../workflow-ids';
import { inRepositorySlot } from './repository-slot';

// A recover that fails after it stopped a node says, in its failure, where it left the cluster and how to bring it back.
const RESUME_ADVICE = 'recover-resume-advice';
// Runs recorded before the plan could name another primary than the spec's act on the spec's roles.
const RECOVER_PLAN_PRIMARY = 'recover-plan-primary';
// Runs recorded before ids named the repository host started their rehearsal as rehearse-<stanza>.
const REHEARSAL_CLUSTER_ID = 'rehearsal-cluster-id';

export interface RecoverRequest {
  readonly target: RecoveryTarget;
  /** The backup label of the plan the DBA confirmed: a recover that would use another is refused. */
  readonly backup?: string;
  /** The plan id the DBA confirmed (spec/confirmation.ts): recoverCluster requires it. */
  readonly confirm?: string;
  /** Restore to the target on drills.host first (rehearseRecover): nothing is stopped unless that copy reaches it. */
  readonly rehearse?: boolean;
  /** The repository to recover from; repo1 when not named (spec has an offsite repository). */
  readonly repo?: RepoIndex;
}

export interface RecoverResult {
  readonly plan: RecoverPlan;
  readonly timeline: number;
  readonly restoreSeconds: number;
  readonly backup: BackupDetails;
  readonly standbys: { readonly name: string; readonly replayLagBytes: number }[];
  readonly steps: StepProgress[];
  /** What the rehearsal's copy reached, when one ran. */
  readonly rehearsal?: Pick<RestoreResult, 'place' | 'timeline' | 'lastTransactionAt' | 'restoreSeconds' | 'recoverySeconds'>;
}

/** The plan `stanzactl recover` shows before it asks: reads the hosts, changes nothing. */
export async function recoverPlan(spec: Spec, request: RecoverRequest): Promise<RecoverPlan> {
  checkInput('recoverPlan', spec, { recovery: request });
  return call('planRecovery', quick, `plan a recover of ${spec.stanza}`, spec, request.target, ...present(undefined as string | undefined, request.repo));
}

/**
 * Recovers the whole cluster in place to a target (undoes a bad change): holds the stanza (no
 * backup or rebuild meanwhile), stops the standbys and the primary, restores the primary to the
 * target with promotion, waits until it accepts writes on its new timeline, ensures its replication
 * access, takes a full backup there, and rebuilds every standby from it on that timeline; each must
 * replay a marker row. Asked to rehearse, it first restores the same backup to the same target on
 * drills.host (a child workflow) and stops nothing unless that copy reached the target and was promoted.
 */
export async function recoverCluster(spec: Spec, request: RecoverRequest): Promise<RecoverResult> {
  checkInput('recoverCluster', spec, { recovery: request });
  const log = new StepLog();
  const owner = runOwner();
  await log.step('lock', 'claimRecoverLock', quick, `hold stanza ${spec.stanza} for the recover`, spec, owner);
  let plan: RecoverPlan | undefined;
  // How far it got: what a failure must tell the DBA to resume from.
  let phase: keyof NonNullable<RecoverPlan['resume']> | undefined;
  try {
    // Checked while the stanza is held: the plan confirmed cannot change under the run, and a busy
    // stanza is refused as such before its plan is read.
    await requireConfirmed(log, spec, { kind: 'recover', target: request.target, ...(request.repo && { repo: request.repo }) }, request.confirm);
    const p = await log.step('plan', 'planRecovery', quick, 'which backup, what is lost', spec, request.target, request.backup, ...present(request.repo));
    plan = p;
    // After a failover done by hand the plan is on the node that runs as the primary: every step
    // acts on it (its restore, its backup, the standbys' primary_conninfo), the spec unedited.
    const live = patched(RECOVER_PLAN_PRIMARY) ? withPrimary(spec, p.primary) : spec;
    await log.step('archive WAL', 'archivePrimaryWal', quick, `archive ${p.primary}'s WAL up to now`, live);
    const rehearsal = request.rehearse ? await rehearse(log, live, request.target, p) : undefined;
    phase = 'stopping';
    await stopped(log, live, p);
    phase = 'restoring';
    const { restore, promoted } = await primaryRecovered(log, live, p, request.target);
    phase = 'promoted';
    // Configuration kept in the data directory (EDB, RHEL) came back as the backup had it, before
    // the replication access provision added: the standbys (and the backup they restore) need it.
    await log.step('replication access', 'ensureReplicationAccess', quick, `replication role and pg_hba lines on ${p.primary}`, live);
    // The recover's lock excludes every other backup of the stanza: this one is its own.
    const backup = await inRepositorySlot(log, spec, 'full backup', () => log.step('full backup', 'runBackup', long, `full backup of ${spec.stanza} on timeline ${promoted.timeline}`, live, 'full', false), true);
    const rebuilt = await rebuiltStandbys(log, live, p.standbys, { primarySystemId: p.primarySystemId, timeline: promoted.timeline, deltaBy: 'checksum' });
    const standbys = rebuilt.map(({ name, replayLagBytes }) => ({ name, replayLagBytes }));
    return { plan: p, timeline: promoted.timeline, restoreSeconds: restore.seconds, backup: backup.backup, standbys, steps: log.steps, ...(rehearsal && { rehearsal }) };
  } catch (e) {
    const advice = phase && plan?.resume?.[phase];
    if (advice && !isCancellation(e) && patched(RESUME_ADVICE)) {
      throw ApplicationFailure.create({ type: 'RecoverFailed', nonRetryable: true, message: `${messageOf(e)}\n${advice}`, cause: e instanceof Error ? e : undefined });
    }
    throw e;
  } finally {
    // Also when cancelled or failed: backups and rebuilds must not wait for a recover that ended.
    await CancellationScope.nonCancellable(() => call('releaseRecoverLock', release, 'release the stanza', spec, owner));
  }
}

/** The standbys at once, then the primary. */
async function stopped(log: StepLog, spec: Spec, p: RecoverPlan): Promise<void> {
  await Promise.all(p.standbys.map((n) => log.step(`stop ${n}`, 'stopPostgres', quick, `stop standby ${n}`, spec, n)));
  await log.step(`stop ${p.primary}`, 'stopPostgres', quick, `stop the primary ${p.primary}`, spec, p.primary);
}

/** The primary restored in place (delta) to the target, started: it recovers to it and is promoted on a new timeline. */
async function primaryRecovered(log: StepLog, spec: Spec, p: RecoverPlan, target: RecoveryTarget) {
  const { primary } = p;
  const name = `restore ${primary}`;
  const restore = await inRepositorySlot(log, spec, name, () => log.step(name, 'restorePrimary', long, `delta restore of ${primary} from ${p.backup.label} to ${p.target}`, spec, p.backup.label, target, p.timeline, ...present(p.backup.repo)), true);
  await log.step(`start ${primary}`, 'startStandby', quick, `start ${primary}: it recovers to the target and is promoted`, spec, primary);
  const promoted = await log.step(`${primary} accepts writes`, 'waitPrimaryPromoted', waiting, `wait for ${primary} to accept writes on a new timeline`, spec, p.timeline);
  return { restore, promoted };
}

/** Runs the rehearsal as a step; a failed one refuses the recover, the cluster untouched. */
async function rehearse(log: StepLog, spec: Spec, target: RecoveryTarget, p: RecoverPlan): Promise<RecoverResult['rehearsal']> {
  const host = spec.drills?.host;
  try {
    const step = await log.run(`rehearse on ${host}`, async () => {
      const r = await executeChild(rehearseRecover, {
        workflowId: patched(REHEARSAL_CLUSTER_ID) ? rehearsalWorkflowId(spec) : legacyRehearsalWorkflowId(spec.stanza), args: [spec, { target, backup: p.backup.label, ...(p.backup.repo && { repo: p.backup.repo }) }],
        // A recover cancelled mid-rehearsal still removes the copy and frees the drills' directory.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `rehearse the recover of ${spec.stanza} to ${p.target} on ${host}`,
      });
      const reached = r.lastTransactionAt ? `, last transaction ${r.lastTransactionAt}` : '';
      return { changed: false, detail: `restored ${p.backup.label} on ${host} in ${r.restoreSeconds.toFixed(1)} s, promoted on timeline ${r.timeline} after ${r.recoverySeconds.toFixed(1)} s${reached}; the copy was removed`, r };
    });
    const { place, timeline, lastTransactionAt, restoreSeconds, recoverySeconds } = step.r;
    return { place, timeline, lastTransactionAt, restoreSeconds, recoverySeconds };
  } catch (e) {
    if (isCancellation(e)) throw e;
    throw ApplicationFailure.create({
      type: 'RehearsalFailed', nonRetryable: true, cause: e instanceof Error ? e : undefined,
      message: `the rehearsal on ${host} did not reach ${p.target}: ${messageOf(e)}\nNothing of the cluster was stopped or changed: the recover was refused`,
    });
  }
}
