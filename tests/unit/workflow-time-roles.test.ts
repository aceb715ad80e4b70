import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { ActivityFailure, ApplicationFailure, CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import type { BackupRun, BackupSource } from '../../src/activities/backup';
import type { FailoverPlan } from '../../src/activities/failover';
import type { Promotion } from '../../src/activities/promotion';
import type { SwitchoverPlan } from '../../src/activities/switchover';
import { refuse } from '../../src/host/failures';
import type { Spec } from '../../src/spec/schema';
import type { FailoverResult } from '../../src/workflows/failover';
import { quick, waiting } from '../../src/workflows/profiles';
import type { SwitchoverResult } from '../../src/workflows/switchover';
import { smallSpec } from './small-spec';
import { hostAway, ok, retryBudgetMs, timeSkipping, type Script } from './time-skipping';

// switchoverCluster and failoverCluster (src/workflows/switchover.ts, failover.ts) against time and
// failures, on the time-skipping test server (harness: time-skipping.ts). docs/roles.md: a failure
// before the promotion undoes a switchover (the old primary starts again as the primary it was,
// SwitchoverUndone); one after it does not; the stanza is given back either way.

const names = ['claimSwitchoverLock', 'releaseSwitchoverLock', 'claimFailoverLock', 'releaseFailoverLock', 'requireConfirmed', 'planSwitchover', 'planFailover',
  'checkpointPrimary', 'stopPostgres', 'waitShutdownReplayed', 'startStandby', 'fenceNode', 'promoteNode', 'waitPrimaryPromoted', 'ensureReplicationAccess',
  'pointAtPrimary', 'ensurePgbackrestConf', 'checkStanza', 'chooseBackupSource', 'runBackup', 'writeMarker', 'waitMarkerReplayed',
  'prepareStandby', 'restoreStandby'] as const;

const spec = smallSpec({
  nodes: [{ name: 'pg1', host: '10.0.0.11', role: 'primary' }, { name: 'pg2', host: '10.0.0.12', role: 'standby' }, { name: 'pg3', host: '10.0.0.13', role: 'standby' }],
});
const confirm = 'plan-0123456789abcdef0123';
const nodesOf = (s: Spec) => s.nodes.map((n) => `${n.name}:${n.role}`);

const switchoverPlan = (): SwitchoverPlan => ({
  changed: false, primary: 'pg1', to: 'pg2', standbys: ['pg3'], timeline: 1, targetLagBytes: 0, backup: { type: 'incr', why: 'the spec schedules no backups' },
  detail: 'pg1 (timeline 1) hands over to pg2 (replay 0 bytes behind); pg3 will follow pg2',
});
const failoverPlan = (): FailoverPlan => ({
  changed: false, primary: 'pg1', primarySeenAs: 'unreachable', fence: 'unreachable', to: 'pg2', timeline: 1, systemId: '7715105254503027037',
  positions: [{ name: 'pg2', receiveLsn: '0/5000060', replayLsn: '0/5000060' }, { name: 'pg3', receiveLsn: '0/5000028', replayLsn: '0/5000028' }],
  standbys: ['pg3'], rebuild: [], lost: 'pg1 unreachable: what it wrote after 0/5000060 is unknown and lost', backup: { type: 'incr', why: 'the spec schedules no backups' },
  detail: 'pg1 (unreachable) fails over to pg2, the most advanced standby',
});
const promoted = (): Promotion => ({ changed: false, timeline: 2, lsn: '0/6000028', detail: 'pg2 accepts writes on timeline 2' });
const fromPrimary = (): BackupSource => ({ changed: false, node: 'pg2', role: 'primary', why: 'backups.fromStandby is false', backupStandby: false, detail: 'from the primary pg2' });
const backedUp = (): BackupRun => ({
  changed: true, copiedFrom: ['pg2'], seconds: 3, detail: 'incr backup 20261204-111500F_20261204-112000I',
  backup: { label: '20261204-111500F_20261204-112000I', type: 'incr', databaseSize: 1, deltaSize: 1, repoSize: 1, repoDeltaSize: 1, startedAt: 0, stoppedAt: 3, walStart: '000000020000000000000006', walStop: '000000020000000000000006' },
});

/** Every step after the promotion, passing at once. */
const following: Script = {
  promoteNode: () => ({ changed: true, detail: 'promoted pg2' }), waitPrimaryPromoted: promoted, ensureReplicationAccess: ok('access as it was'),
  pointAtPrimary: ok('follows pg2'), ensurePgbackrestConf: ok('conf as it was'), checkStanza: ok('archiving works'), chooseBackupSource: fromPrimary,
  runBackup: backedUp, writeMarker: () => ({ changed: true, id: 'marker-1', detail: 'marker written' }), waitMarkerReplayed: () => ({ changed: false, replayLagBytes: 0, detail: 'replayed' }),
};

/** A switchover whose every step passes at once but those `script` names. */
const switchover = (script: Script): Script => ({
  claimSwitchoverLock: ok('held'), releaseSwitchoverLock: ok('released'), requireConfirmed: ok('plan confirmed'), planSwitchover: switchoverPlan,
  checkpointPrimary: ok('checkpoint on pg1'), stopPostgres: () => ({ changed: true, detail: 'stopped pg1' }),
  waitShutdownReplayed: () => ({ changed: false, checkpointLsn: '0/5000028', replayLsn: '0/50000A0', detail: 'pg2 replayed past pg1\'s shutdown checkpoint' }),
  startStandby: () => ({ changed: true, detail: 'started pg1' }),
  ...following, ...script,
});

const failover = (script: Script): Script => ({
  claimFailoverLock: ok('held'), releaseFailoverLock: ok('released'), requireConfirmed: ok('plan confirmed'), planFailover: failoverPlan,
  fenceNode: () => ({ changed: true, detail: 'pg1 fenced' }), ...following, ...script,
});

/** An attempt that heartbeats (as the real wait does while the target catches up) and never returns: it ends when its attempt times out or is cancelled. */
async function heartbeatingForever(): Promise<never> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await ctx.sleep(1000);
  }
}

/** The SwitchoverUndone a failed run ended with. */
function undone(failure: unknown): ApplicationFailure {
  assert.ok(failure instanceof WorkflowFailedError, String(failure));
  assert.ok(failure.cause instanceof ApplicationFailure, String(failure.cause));
  assert.equal(failure.cause.type, 'SwitchoverUndone');
  assert.equal(failure.cause.nonRetryable, true);
  assert.match(failure.cause.message, /^switchover to pg2 given up before any promotion: /);
  assert.match(failure.cause.message, /\npg1 runs as the primary again; nothing was lost$/);
  return failure.cause;
}

describe('workflow time: switchover and failover on the time-skipping test server', () => {
  const { run } = timeSkipping('workflow-time-roles', names);
  const switchoverRun = (id: string, script: Script) => run(id, switchover(script), 'switchoverCluster', [spec, { to: 'pg2', confirm }]);
  const failoverRun = (id: string, script: Script) => run(id, failover(script), 'failoverCluster', [spec, { confirm }]);

  test('switchover: every step passing: the old primary is pointed at the target, never started again as a primary', async () => {
    const r = await switchoverRun('switchover-ok', {});
    assert.equal(r.failure, undefined, String(r.failure));
    const result = r.result as SwitchoverResult;
    assert.deepEqual([result.checkpointLsn, result.replayLsn, result.timeline], ['0/5000028', '0/50000A0', 2]);
    assert.deepEqual(r.called().slice(0, 7), ['claimSwitchoverLock', 'requireConfirmed', 'planSwitchover', 'checkpointPrimary', 'stopPostgres', 'waitShutdownReplayed', 'promoteNode']);
    assert.equal(r.of('startStandby').length, 0);
    assert.deepEqual(r.args('pointAtPrimary').map((a) => a[1]).sort(), ['pg1', 'pg3']);
    assert.deepEqual(r.args('pointAtPrimary').map((a) => nodesOf(a[0] as Spec)), [0, 1].map(() => ['pg1:standby', 'pg2:primary', 'pg3:standby']));
    assert.equal(r.called().at(-1), 'releaseSwitchoverLock');
  });

  // docs/roles.md: "the target does not replay the shutdown checkpoint within the step's time" undoes the switchover.
  // The wait fails retryably here: a stand-in that heartbeats and never returns cannot be run to waiting's
  // startToCloseTimeout, as the test server skips no time while an activity runs (5 x 15 minutes of real time).
  test('switchover: a target whose host stays away (retryable) through waiting\'s attempts: pg1 started again, SwitchoverUndone', async () => {
    const r = await switchoverRun('switchover-target-away', { waitShutdownReplayed: () => { throw hostAway('pg2'); } });
    const e = undone(r.failure);
    assert.match(e.message, /given up before any promotion: pg2 \(10\.0\.0\.5\): connect ETIMEDOUT\n/);
    assert.deepEqual(r.of('waitShutdownReplayed').map((t) => t.attempt), [1, 2, 3, 4, 5]);
    const budget = retryBudgetMs(waiting);
    const span = r.spanMs('waitShutdownReplayed');
    assert.ok(Math.abs(span - budget) <= 1000, `waiting tried for ${span} ms, its budget ${budget} ms`);
    assertUndone(r);
  });

  // docs/roles.md: "the old primary cannot be stopped" undoes the switchover.
  test('switchover: the old primary unreachable for quick\'s whole budget while stopping it: pg1 started again, SwitchoverUndone, in about that budget', async () => {
    const r = await switchoverRun('switchover-stop-away', { stopPostgres: () => { throw hostAway('pg1'); } });
    const e = undone(r.failure);
    assert.match(e.message, /given up before any promotion: pg1 \(10\.0\.0\.5\): connect ETIMEDOUT\n/);
    assert.ok(e.cause instanceof ActivityFailure);
    assert.equal(e.cause.activityType, 'stopPostgres');
    assert.equal(e.cause.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(r.of('stopPostgres').length, quick.retry!.maximumAttempts);
    assert.equal(r.of('waitShutdownReplayed').length, 0);
    const budget = retryBudgetMs(quick);
    const span = r.spanMs('stopPostgres');
    assert.ok(Math.abs(span - budget) <= 1000, `stop tried for ${span} ms, quick's budget ${budget} ms`);
    assert.ok(r.elapsedMs >= budget && r.elapsedMs <= budget + 2000, `the workflow ended ${r.elapsedMs} ms after it started`);
    assertUndone(r);
  });

  test('switchover: pg1 still away when the undo starts it: the run fails saying no node is the primary, after two quick budgets; nothing promoted, the stanza given back', async () => {
    const r = await switchoverRun('switchover-undo-away', { stopPostgres: () => { throw hostAway('pg1'); }, startStandby: () => { throw hostAway('pg1'); } });
    // Not SwitchoverUndone: pg1 does not run again, and the failure says so, with the undo's own cause.
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ApplicationFailure, String(r.failure.cause));
    assert.equal(r.failure.cause.type, 'SwitchoverUndoFailed');
    assert.match(r.failure.cause.message, /given up before any promotion .*and pg1 could not be started again: .*connect ETIMEDOUT\nNo node runs as the primary: start pg1/s);
    assert.ok(r.failure.cause.cause instanceof ActivityFailure && r.failure.cause.cause.activityType === 'startStandby' && r.failure.cause.cause.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(r.of('startStandby').length, quick.retry!.maximumAttempts);
    assert.equal(r.of('promoteNode').length, 0, 'nothing promoted');
    const budget = retryBudgetMs(quick);
    assert.ok(r.elapsedMs >= 2 * budget && r.elapsedMs <= 2 * budget + 2000, `the workflow ended ${r.elapsedMs} ms after it started`);
    assert.deepEqual(r.trail().slice(-3), ['stop pg1 failed: pg1 (10.0.0.5): connect ETIMEDOUT', 'start pg1 again failed: pg1 (10.0.0.5): connect ETIMEDOUT', 'unlock done: released']);
  });

  // docs/roles.md: "A failure after the promotion leaves the new primary running".
  test('switchover: a failure after the promotion (pg1 refuses to follow) does not start pg1 again; the stanza is given back', async () => {
    const r = await switchoverRun('switchover-point-refused', {
      pointAtPrimary: (_since, _spec, node) => {
        if (node === 'pg1') throw refuse('pg1 runs as a primary: stanzactl will not turn a running primary into a standby of pg2. Stop it first', 'PointRefused');
        return { changed: true, detail: `${node} follows pg2` };
      },
    });
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ActivityFailure, String(r.failure.cause));
    assert.equal(r.failure.cause.activityType, 'pointAtPrimary');
    assert.equal(r.failure.cause.retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.ok(r.failure.cause.cause instanceof ApplicationFailure);
    assert.equal(r.failure.cause.cause.type, 'PointRefused');
    assert.equal(r.of('promoteNode').length, 1);
    assert.equal(r.of('startStandby').length, 0, 'pg1 is not started again after pg2 was promoted');
    assert.deepEqual(r.of('pointAtPrimary').map((t) => t.attempt), [1, 1], 'a refusal is not retried');
    for (const later of ['ensurePgbackrestConf', 'checkStanza', 'runBackup', 'writeMarker']) assert.equal(r.of(later).length, 0, later);
    assert.deepEqual(r.called().at(-1), 'releaseSwitchoverLock');
    assert.equal(r.of('releaseSwitchoverLock').length, 1);
    assert.equal(r.trail().at(-1), 'unlock done: released');
  });

  test('failover: the repository host unreachable while claiming the stanza: fails after quick\'s budget, nothing else called', async () => {
    const r = await failoverRun('failover-claim-away', { claimFailoverLock: () => { throw hostAway(); } });
    assert.ok(r.failure instanceof WorkflowFailedError);
    assert.ok(r.failure.cause instanceof ActivityFailure);
    assert.equal(r.failure.cause.activityType, 'claimFailoverLock');
    assert.equal(r.failure.cause.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(r.failure.cause.cause?.message, 'backup-srv (10.0.0.5): connect ETIMEDOUT');
    assert.deepEqual(r.called(), Array(10).fill('claimFailoverLock'));
    const budget = retryBudgetMs(quick);
    assert.ok(Math.abs(r.spanMs('claimFailoverLock') - budget) <= 1000, `claimed for ${r.spanMs('claimFailoverLock')} ms, quick's budget ${budget} ms`);
    assert.ok(r.elapsedMs >= budget && r.elapsedMs <= budget + 2000, `the workflow ended ${r.elapsedMs} ms after it started`);
    assert.deepEqual(r.trail(), ['lock failed: backup-srv (10.0.0.5): connect ETIMEDOUT']);
  });

  test('failover: an unreachable old primary is not fenced, and the steps that reach every node run without it', async () => {
    const r = await failoverRun('failover-unreachable', {});
    assert.equal(r.failure, undefined, String(r.failure));
    const result = r.result as FailoverResult;
    assert.match(result.fenced, /^pg1 was unreachable: not fenced\. .*"stanzactl rebuild --node pg1"$/);
    assert.equal(r.of('fenceNode').length, 0);
    for (const activity of ['ensurePgbackrestConf', 'checkStanza', 'chooseBackupSource', 'runBackup']) {
      assert.deepEqual(r.args(activity).map((a) => nodesOf(a[0] as Spec)), [['pg2:primary', 'pg3:standby']], activity);
    }
    // The promotion and the followers act on the whole spec, pg2 its primary; pg1 is pointed at nobody.
    for (const activity of ['promoteNode', 'waitPrimaryPromoted', 'ensureReplicationAccess', 'pointAtPrimary', 'writeMarker', 'waitMarkerReplayed']) {
      assert.deepEqual(r.args(activity).map((a) => nodesOf(a[0] as Spec)), [['pg1:standby', 'pg2:primary', 'pg3:standby']], activity);
    }
    assert.deepEqual(r.args('pointAtPrimary').map((a) => a[1]), ['pg3']);
    assert.deepEqual(r.args('waitMarkerReplayed').map((a) => a[1]), ['pg3']);
    assert.equal(r.of('startStandby').length + r.of('prepareStandby').length, 0, 'no standby to rebuild');
    assert.equal(r.called().at(-1), 'releaseFailoverLock');
  });

  // docs/roles.md: a switchover cancelled before its promotion is undone too, then ends cancelled.
  // LAST in this file: the cancelled wait's activity task stays open on the test server after the workflow
  // closed, and while it is open the server skips no time (a quick budget after it took its 81 s of real time).
  test('switchover: cancelled while waiting for the replay: pg1 is started again, the stanza given back, the run cancelled', async () => {
    let waitStarted!: () => void;
    const started = new Promise<void>((resolve) => { waitStarted = resolve; });
    const r = await run('switchover-cancelled', switchover({ waitShutdownReplayed: () => { waitStarted(); return heartbeatingForever(); } }),
      'switchoverCluster', [spec, { to: 'pg2', confirm }], async (handle) => { await started; await handle.cancel(); });
    assert.ok(r.failure instanceof WorkflowFailedError, String(r.failure));
    assert.ok(r.failure.cause instanceof CancelledFailure, String(r.failure.cause));
    assert.equal(r.of('stopPostgres').length, 1, 'pg1 was stopped');
    assert.equal(r.of('promoteNode').length, 0, 'nothing promoted');
    assert.deepEqual(r.args('startStandby').map((a) => a[1]), ['pg1'], 'pg1 started again: the cluster is not left without a primary');
    assert.deepEqual(r.called().at(-1), 'releaseSwitchoverLock');
  });

  /** The undo of a switchover given up before its promotion: pg1 started (as the primary, the spec before the switchover), nothing promoted, the stanza given back last. */
  function assertUndone(r: Awaited<ReturnType<typeof run>>) {
    assert.deepEqual(r.args('startStandby').map((a) => [nodesOf(a[0] as Spec), a[1]]), [[['pg1:primary', 'pg2:standby', 'pg3:standby'], 'pg1']]);
    assert.equal(r.of('promoteNode').length, 0, 'nothing promoted');
    assert.deepEqual(r.called().slice(-2), ['startStandby', 'releaseSwitchoverLock']);
    assert.equal(r.of('releaseSwitchoverLock').length, 1);
    assert.match(r.trail().at(-2)!, /^start pg1 again done: started pg1$/);
    assert.match(r.trail().at(-1)!, /^unlock done: released$/);
  }
});
