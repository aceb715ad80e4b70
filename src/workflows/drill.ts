import { ApplicationFailure, CancellationScope, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DrillMarker } from '../activities/drill';
import type { DrillCheck, DrillResult } from '../facts/drill';
import { drillsPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';
import { checkInput } from './input';
import { long, quick, release } from './profiles';
import type { StepProgress } from './progress';
import { messageOf, StepLog, titled } from './steps';

const acts = proxyActivities<Activities>(quick);

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
export async function restoreDrill(spec: Spec): Promise<DrillOutcome> {
  checkInput('restoreDrill', spec);
  const d = spec.drills;
  if (!d) throw ApplicationFailure.create({ type: 'InvalidSpec', nonRetryable: true, message: `restoreDrill: stanza ${spec.stanza} has no drills: section (host, dataDir, port), nothing was done` });
  const { workflowId, runId } = workflowInfo();
  const owner = { workflowId, runId };
  const log = new StepLog();
  if (!patched(DRILL_LOCKED)) return runDrill(spec, d, log, owner);
  const place = drillsPlace(d);
  const at = `${d.host}:${d.dataDir}`;
  const perCopy = patched(DRILL_COPY_LOCKED);
  // Refused before the drill's try: a second drill must not remove the first one's copy.
  await log.run('lock', () => perCopy
    ? acts.claimCopyLock.executeWithOptions(titled(quick, `hold ${at} and port ${d.port}`), [spec, place, owner])
    : acts.claimDrillLock.executeWithOptions(titled(quick, `hold the drills of ${spec.stanza}`), [spec, owner]));
  try {
    return await runDrill(spec, d, log, owner);
  } finally {
    await CancellationScope.nonCancellable(() => log.run('unlock', () => perCopy
      ? acts.releaseCopyLock.executeWithOptions(titled(release, `release ${at}`), [spec, place, owner])
      : acts.releaseDrillLock.executeWithOptions(titled(release, 'release the drills'), [spec, owner])));
  }
}

async function runDrill(spec: Spec, d: NonNullable<Spec['drills']>, log: StepLog, { workflowId, runId }: { workflowId: string; runId: string }): Promise<DrillOutcome> {
  const place = drillsPlace(d);
  const at = `${d.host}:${d.dataDir}`;
  const startedMs = Date.now();
  const checks: DrillCheck[] = [];
  let backupLabel: string | null = null;
  let rto: number | null = null;
  let rpo: number | null = null;
  const failed = (name: string, e: unknown) => checks.push({ name, ok: false, detail: messageOf(e) });

  try {
    const marker: DrillMarker = await log.run('marker', () => acts.writeDrillMarker.executeWithOptions(titled(quick, 'marker row and WAL switch on the primary'), [spec, runId]));
    await log.run(`${d.host} ready`, () => acts.ensureCopyHost.executeWithOptions(titled(quick, `pgBackRest, trust and config on ${d.host}`), [spec, place]));
    // A drill's directory is the drill's own: what an earlier drill left is reused by a delta restore.
    const plan = await log.run(`prepare ${at}`, () => acts.prepareCopy.executeWithOptions(titled(quick, `prepare ${at}`), [spec, place, true]));
    const restoreStartedMs = Date.now();
    try {
      const restore = await log.run(`restore ${at}`, () =>
        acts.restoreCopy.executeWithOptions(titled(long, `${plan.delta ? 'delta ' : ''}restore of the newest backup to ${at}`), [spec, place, { type: 'default' }, plan.delta]));
      checks.push({ name: 'restore', ok: true, detail: restore.detail });
      await log.run(`start ${d.host}:${d.port}`, () => acts.startCopy.executeWithOptions(titled(quick, `start the copy on ${d.host}:${d.port}`), [spec, place]));
      await log.run('recover and promote', () => acts.waitCopyPromoted.executeWithOptions(titled(long, `wait for the copy on ${d.host} to promote`), [spec, place]));
      rto = seconds(Date.now() - restoreStartedMs);
      checks.push({ name: 'accepting connections', ok: true, detail: `${rto} s after the restore started (RTO)` });
    } catch (e) {
      failed(checks.some((c) => c.name === 'restore') ? 'recovery' : 'restore', e);
    }
    if (rto !== null) {
      const reached = await log.run('what it reached', () => acts.inspectCopy.executeWithOptions(titled(quick, `what the copy on ${d.host} reached`), [spec, place]));
      backupLabel = reached.backupLabel;
      const copy = await log.run('checks on the copy', () =>
        acts.checkDrillCopy.executeWithOptions(titled(long, `marker, pg_amcheck and the spec's checks on ${d.host}`), [spec, marker, reached.lastTransactionAt]));
      rpo = copy.rpoSeconds;
      checks.push(...copy.checks);
      if (copy.dataChecksums) {
        const sums = await log.run('pg_checksums', () => acts.checkDrillChecksums.executeWithOptions(titled(long, `stop the copy, pg_checksums --check on ${at}`), [spec]));
        checks.push(sums.check);
      }
    }
    const verify = await log.run('pgbackrest verify', () => acts.verifyRepository.executeWithOptions(titled(long, `pgbackrest verify of ${spec.stanza}`), [spec]));
    checks.push(verify.check);
  } catch (e) {
    failed(log.steps.find((s) => s.status === 'failed')?.name ?? 'drill', e);
  } finally {
    // Also when failed or cancelled: the scratch host's space is the next drill's.
    await CancellationScope.nonCancellable(() =>
      log.run(`remove ${at}`, () => acts.removeCopy.executeWithOptions(titled(release, `stop and remove the copy on ${at}`), [spec, place])).catch((e: unknown) => failed(`remove ${at}`, e)));
  }

  const bad = checks.filter((c) => !c.ok);
  const drill: DrillResult = {
    stanza: spec.stanza, workflowId, runId, host: d.host,
    startedAt: seconds(startedMs), endedAt: seconds(Date.now()),
    ok: bad.length === 0, backupLabel, rtoSeconds: rto, rpoSeconds: rpo, checks,
    failure: bad.length ? bad.map((c) => `${c.name}: ${c.detail}`).join('; ') : null,
  };
  await CancellationScope.nonCancellable(() => log.run('keep the result', () => acts.recordDrill.executeWithOptions(titled(release, 'keep the drill result on the repository host'), [spec, drill])));
  if (drill.failure !== null) throw ApplicationFailure.create({ type: 'DrillFailed', nonRetryable: true, message: `restore drill of ${spec.stanza} on ${d.host} failed: ${drill.failure}`, details: [drill] });
  const summary = `backup ${backupLabel ?? '?'}, RTO ${rto} s, RPO ${rpo} s, ${checks.length} checks passed`;
  return { status: 'done', summary, drill, steps: log.steps };
}
