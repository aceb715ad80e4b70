import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { startProvision } from '../../src/client';
import { startBackup } from '../../src/commands/backup';
import { TASK_QUEUE } from '../../src/paths';
import { planId, restoreFacts } from '../../src/spec/confirmation';
import { defaultCopyPlace } from '../../src/spec/restore-copy';
import { rebuildWorkflowId, recoverWorkflowId, restoreWorkflowId } from '../../src/workflow-ids';
import type { BackupOutcome } from '../../src/workflows/backup';
import type { RecoverRequest } from '../../src/workflows/recover';
import type { RestoreRequest } from '../../src/workflows/restore';
import { confirmedRebuild, confirmedRecover } from './confirmed';
import { ProvisionFixture } from './fixture';

const LONG = { timeout: 10 * 60_000 };

/**
 * Anyone who can start a workflow (the Temporal UI, `temporal workflow start`, any client) tries
 * the destructive ones without the plan id the CLI passes once the DBA confirmed, or with one of
 * another plan: each run fails at once, non-retryable, saying why, having scheduled nothing but the
 * check, and no PostgreSQL of the cluster was stopped (postmaster start times), no file changed.
 */
describe('rebuild, recover and restore refuse a request nobody confirmed', { timeout: 30 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stcx', '10.231.221.0/24');
  before(async () => {
    await f.setUp();
    await (await startProvision(f.client, f.spec)).result();
  });
  after(f.teardown);

  async function refusedAtOnce(type: string, workflowId: string, args: unknown[], expect: RegExp, ran = ['requireConfirmed']): Promise<void> {
    const before = await f.checks.snapshot();
    const started = Date.now();
    const handle = await f.client.workflow.start(type, { taskQueue: TASK_QUEUE, workflowId, args });
    const outcome = await handle.result().then(() => undefined, (e: unknown) => e);
    const seconds = (Date.now() - started) / 1000;
    // The harm first, so that a run on code without the check shows what it did.
    assert.deepEqual(await f.checks.snapshot(), before, 'no server stopped or restarted, no configuration changed');
    assert.ok(outcome instanceof WorkflowFailedError, `${type} did not fail: ${String(outcome)}`);
    let cause: unknown = outcome;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
    assert.ok(cause instanceof ApplicationFailure, `no ApplicationFailure in ${String(outcome)}`);
    assert.equal(cause.type, 'Unconfirmed', cause.message);
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, expect);
    assert.match(cause.message, /Nothing was changed$/);
    assert.ok(seconds < 60, `refused at once, not after retries (${seconds} s)`);
    const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    assert.deepEqual(scheduled, ran, 'nothing but the check (and a recover\'s hold of the stanza) ran: nothing stopped');
  }

  test('rebuild: without confirm, and with the plan id of another node', LONG, async () => {
    const id = rebuildWorkflowId(f.spec, 'pg2-srv');
    await refusedAtOnce('rebuildStandby', id, [f.spec, 'pg2-srv'],
      /^rebuild of stanza demo refused: the request carries no confirmed plan id \(confirm\), so nobody confirmed what it destroys \(action rebuild; stanza demo; node pg2-srv; .*dataDir \/var\/lib\/postgresql\/15\/main\)\. Start it with "stanzactl rebuild"/);
    await refusedAtOnce('rebuildStandby', id, [f.spec, 'pg2-srv', { confirm: confirmedRebuild(f.spec, 'pg3-srv') }],
      /^rebuild of stanza demo refused: the plan confirmed \(plan-[0-9a-f]{20}\) is not the plan now \(action rebuild; stanza demo; node pg2-srv;/);
  });

  // A recover checks its plan while it holds the stanza, and gives the stanza back.
  const RECOVER_RAN = ['claimRecoverLock', 'requireConfirmed', 'releaseRecoverLock'];

  test('recover: without confirm, and confirmed before a newer backup changed its plan', LONG, async () => {
    const id = recoverWorkflowId(f.spec);
    await refusedAtOnce('recoverCluster', id, [f.spec, { target: { type: 'immediate' } } satisfies RecoverRequest],
      /^recover of stanza demo refused: the request carries no confirmed plan id \(confirm\).*backup \d{8}-\d{6}F; primary pg1-srv; .*standbys pg2-srv, pg3-srv/, RECOVER_RAN);
    const shown = await confirmedRecover(f.client, f.spec, { type: 'immediate' });
    const newer = await (await startBackup(f.client, f.spec, 'full')).result() as BackupOutcome;
    assert.ok(newer.status === 'done' && newer.backup.label !== shown.backup);
    await refusedAtOnce('recoverCluster', id, [f.spec, shown],
      new RegExp(`^recover of stanza demo refused: the plan confirmed \\(${shown.confirm}\\) is not the plan now \\(.*backup ${newer.backup.label}`), RECOVER_RAN);
  });

  test('restore to the scratch host: without confirm, and with a plan id that did not say the directory is reused', LONG, async () => {
    const place = defaultCopyPlace(f.spec, f.scratch.ip);
    const id = restoreWorkflowId(f.spec, f.scratch.ip);
    const dirBefore = await f.checks.sh('drill-srv', ['ls', '-la', '/var/lib/postgresql']);
    const request: RestoreRequest = { place, target: { type: 'default' }, reuse: false };
    await refusedAtOnce('restoreToHost', id, [f.spec, request], /^restore of stanza demo refused: the request carries no confirmed plan id/);
    const notReused = planId(restoreFacts(f.spec, request));
    await refusedAtOnce('restoreToHost', id, [f.spec, { ...request, reuse: true, confirm: notReused }], /^restore of stanza demo refused: the plan confirmed .*reuse true/);
    assert.equal(await f.checks.sh('drill-srv', ['ls', '-la', '/var/lib/postgresql']), dirBefore, 'nothing was made on the scratch host');
  });
});
