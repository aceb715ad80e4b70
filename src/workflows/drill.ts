import { ApplicationFailure, CancellationScope, patched } from '@temporalio/workflow';
import type { DrillMarker } from '../activities/drill';
import type { DrillCheck, DrillResult } from '../facts/drill';
import { drillsPlace } from '../spec/restore-copy';
import type { RepoIndex, Spec } from '../spec/schema';
import { copyPrepared, copyPromoted, copyReached, copyRestored } from './copy';
import { checkInput } from './input';
import { copyLock, holding, runOwner } from './locks';
import { long, quick, release } from './profiles';
import type { StepProgress } from './progress';
import { call, messageOf, StepLog } from './steps';
import { observedSpec } from './topology';
import { inRepositorySlot } from './repository-slot';

export interface DrillOutcome {
  readonly status: 'done';
  /** One line for `schedule list`: backup, RTO, RPO. */
  readonly summary: string;
  readonly drill: DrillResult;
  readonly steps: StepProgress[];
}

const seconds = (ms: number) => Math.round(ms) / 1000;

// Runs recorded before drills held a lock replay without it; runs recorded before the lock was the
// copy host's directory and port (not the stanza's drills) replay with the stanza's.
const DRILL_LOCKED = 'drill-locked';
const DRILL_COPY_LOCKED = 'drill-copy-locked';
// Runs recorded before the marker went to the primary the hosts show write it on the spec's.
const DRILL_TOPOLOGY = 'drill-topology';

export interface DrillRequest {
  /** Restore from and verify this repository (repo2: proves the offsite copy restores); absent: pgBackRest's choice, verify repo1. */
  readonly repo?: RepoIndex;
}

/**
 * A restore drill: proves the newest backup and the archive bring the cluster back, and measures
 * how long that takes (RTO) and how much would be lost (RPO). A marker row is written on the
 * primary and its WAL segment switched out at the start; the newest backup is restored (delta when
 * the drill's data directory still has files of an earlier drill) on the scratch host to the end of
 * the archive, started standalone, checked (the marker, pg_amcheck, the spec's checks, pg_checksums
 * on the stopped copy), the repository verified, the copy removed. The result is kept on the
 * repository host for `stanzactl status`; a drill that found damage fails, naming the file, segment
 * or check. One drill or restore --to at a time on the scratch host's directory and port, whatever
 * the stanza: a second is refused before its marker (the copy is the first one's).
 */
export async function restoreDrill(spec: Spec, request?: DrillRequest): Promise<DrillOutcome> {
  checkInput('restoreDrill', spec, request === undefined ? undefined : { drill: request });
  const repo = request?.repo;
  const d = spec.drills;
  if (!d) throw ApplicationFailure.create({ type: 'InvalidSpec', nonRetryable: true, message: `restoreDrill: stanza ${spec.stanza} has no drills: section (host, dataDir, port), nothing was done` });
  const owner = runOwner();
  const log = new StepLog();
  if (!patched(DRILL_LOCKED)) return runDrill(spec, d, log, owner, repo);
  // Refused before the drill's try: a second drill must not remove the first one's copy.
  const lock = patched(DRILL_COPY_LOCKED) ? copyLock(spec, drillsPlace(d), owner) : [
    () => call('claimDrillLock', quick, `hold the drills of ${spec.stanza}`, spec, owner),
    () => call('releaseDrillLock', release, 'release the drills', spec, owner),
  ] as const;
  return holding(log, ...lock, () => runDrill(spec, d, log, owner, repo));
}

/** What a drill found: each phase adds to it, a failed step as a failed check. */
interface Found {
  readonly checks: DrillCheck[];
  backupLabel: string | null;
  rto: number | null;
  rpo: number | null;
}

async function runDrill(spec: Spec, d: NonNullable<Spec['drills']>, log: StepLog, { workflowId, runId }: { workflowId: string; runId: string }, repo: RepoIndex | undefined): Promise<DrillOutcome> {
  const startedMs = Date.now();
  const { checks, backupLabel, rto, rpo } = await drillSteps(spec, d, log, runId, repo);
  const bad = checks.filter((c) => !c.ok);
  const drill: DrillResult = {
    stanza: spec.stanza, workflowId, runId, host: d.host,
    startedAt: seconds(startedMs), endedAt: seconds(Date.now()),
    ok: bad.length === 0, backupLabel, rtoSeconds: rto, rpoSeconds: rpo, checks, ...(repo ? { repo } : {}),
    failure: bad.length ? bad.map((c) => `${c.name}: ${c.detail}`).join('; ') : null,
  };
  await CancellationScope.nonCancellable(() => log.step('keep the result', 'recordDrill', release, 'keep the drill result on the repository host', spec, drill));
  if (drill.failure !== null) throw ApplicationFailure.create({ type: 'DrillFailed', nonRetryable: true, message: `restore drill of ${spec.stanza} on ${d.host} failed: ${drill.failure}`, details: [drill] });
  const summary = `backup ${backupLabel ?? '?'}${repo ? ` from repo${repo}` : ''}, RTO ${rto} s, RPO ${rpo} s, ${checks.length} checks passed`;
  return { status: 'done', summary, drill, steps: log.steps };
}

/** The drill's steps: a failed restore or recovery still verifies the repository; the copy is removed whatever happened. */
async function drillSteps(spec: Spec, d: NonNullable<Spec['drills']>, log: StepLog, runId: string, repo: RepoIndex | undefined): Promise<Found> {
  const place = drillsPlace(d);
  const at = `${d.host}:${d.dataDir}`;
  const found: Found = { checks: [], backupLabel: null, rto: null, rpo: null };
  const failed = (name: string, e: unknown) => found.checks.push({ name, ok: false, detail: messageOf(e) });
  try {
    const live = patched(DRILL_TOPOLOGY) ? await observedSpec(spec, 'the drill') : spec;
    const marker: DrillMarker = await log.step('marker', 'writeDrillMarker', quick, 'marker row and WAL switch on the primary', live, runId);
    // A drill's directory is the drill's own: what an earlier drill left is reused by a delta restore.
    const plan = await copyPrepared(log, spec, place, true);
    try {
      const restore = await copyRestored(log, spec, place, plan, { type: 'default' }, 'the newest backup', ...(repo ? [undefined, repo] as const : [] as const));
      found.checks.push({ name: 'restore', ok: true, detail: restore.detail });
      await copyPromoted(log, spec, place);
      found.rto = seconds(Date.now() - restore.startedAt);
      found.checks.push({ name: 'accepting connections', ok: true, detail: `${found.rto} s after the restore started (RTO)` });
    } catch (e) {
      failed(found.checks.some((c) => c.name === 'restore') ? 'recovery' : 'restore', e);
    }
    if (found.rto !== null) await copyChecked(spec, d, log, marker, found);
    const verify = await inRepositorySlot(log, spec, 'pgbackrest verify', () => log.step('pgbackrest verify', 'verifyRepository', long, `pgbackrest verify of ${spec.stanza}${repo ? ` in repo${repo}` : ''}`, spec, ...(repo ? [repo] as const : [] as const)));
    found.checks.push(verify.check);
  } catch (e) {
    failed(log.steps.find((s) => s.status === 'failed')?.name ?? 'drill', e);
  } finally {
    // Also when failed or cancelled: the scratch host's space is the next drill's.
    await CancellationScope.nonCancellable(() =>
      log.step(`remove ${at}`, 'removeCopy', release, `stop and remove the copy on ${at}`, spec, place).catch((e: unknown) => failed(`remove ${at}`, e)));
  }
  return found;
}

/** On the promoted copy: what it reached, the marker (the RPO), pg_amcheck and the spec's checks, pg_checksums once stopped. */
async function copyChecked(spec: Spec, d: NonNullable<Spec['drills']>, log: StepLog, marker: DrillMarker, found: Found): Promise<void> {
  const reached = await copyReached(log, spec, drillsPlace(d));
  found.backupLabel = reached.backupLabel;
  const copy = await log.step('checks on the copy', 'checkDrillCopy', long, `marker, pg_amcheck and the spec's checks on ${d.host}`, spec, marker, reached.lastTransactionAt);
  found.rpo = copy.rpoSeconds;
  found.checks.push(...copy.checks);
  if (copy.dataChecksums) {
    const sums = await log.step('pg_checksums', 'checkDrillChecksums', long, `stop the copy, pg_checksums --check on ${d.host}:${d.dataDir}`, spec);
    found.checks.push(sums.check);
  }
}
