import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import type { LockOwner } from '../../src/host/locks';
import { failureMessage, startProvision } from '../../src/client';
import { TASK_QUEUE } from '../../src/paths';
import { sshPools } from '../../src/worker';
import { provisionWorkflowId, recoverWorkflowId, restoreWorkflowId } from '../../src/workflow-ids';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { literally } from './harness';
import { RecoverChecks } from './recover-checks';

const LONG = { timeout: 10 * 60_000 };

/**
 * Provision and `restore --to` hold the stanza's lock: refused while a recover runs, and a recover
 * is refused while a provision runs. The recover holding the stanza here is a run of recoverCluster
 * that no worker picks up (so it does nothing but stay open), whose lock the test claims with the
 * activity the workflow's first step runs: the lock sees the same thing as a real recover's.
 */
describe('the stanza lock: provision and restore --to', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stqa', '10.231.241.0/24');
  const cli = provisionedCluster(f);
  const pools = sshPools();
  after(() => pools.closeAll());
  const acts = () => createActivities({ remoteFor: pools.remoteFor });
  // An attempt of the quick profile: 3 minutes, no schedule-to-close (commands get deadlines within them).
  const as = (owner: LockOwner, activityType: string) => {
    const now = Date.now();
    return new MockActivityEnvironment({
      workflowExecution: owner, activityType, heartbeatTimeoutMs: 20_000,
      startToCloseTimeoutMs: 180_000, currentAttemptScheduledTimestampMs: now, scheduledTimestampMs: now, scheduleToCloseTimeoutMs: 0,
    });
  };
  const sh = (host: string, script: string) => f.checks.sh(host, ['bash', '-c', script]);
  const started = (host: string) => f.checks.psql(host, 'SELECT pg_postmaster_start_time()');

  /** An open run of recoverCluster that no worker runs, holding the stanza's recover lock. */
  async function recoverHolds(): Promise<{ owner: LockOwner; handle: WorkflowHandle }> {
    const handle = await f.client.workflow.start('recoverCluster', {
      taskQueue: `${TASK_QUEUE}-nobody`, workflowId: recoverWorkflowId(f.spec), args: [f.spec, { target: { type: 'immediate' } }],
    });
    const owner = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
    try {
      await as(owner, 'claimRecoverLock').run(() => acts().claimRecoverLock(f.spec, owner));
    } catch (e) {
      await handle.terminate('its lock was not claimed');
      throw e;
    }
    return { owner, handle };
  }
  async function recoverEnds({ owner, handle }: { owner: LockOwner; handle: WorkflowHandle }): Promise<void> {
    await handle.terminate('test over');
    await as(owner, 'releaseRecoverLock').run(() => acts().releaseRecoverLock(f.spec, owner));
  }

  test('while a recover holds the stanza a provision fails at once naming it, and changes nothing (a stopped standby stays stopped)', LONG, async () => {
    // As a recover leaves a standby between its stop and its restore.
    await sh('pg3-srv', `pg_ctlcluster ${f.spec.postgres.version} main stop`);
    const restores = await new RecoverChecks(f.checks).restores('pg3-srv');
    const primaryStarted = await started('pg1-srv');
    const holder = await recoverHolds();
    try {
      const t0 = Date.now();
      const out = await cli('provision');
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(out.code, 1, out.stdout + out.stderr);
      assert.match(out.stderr, new RegExp(`stanza demo is busy: a recover \\(${literally(recoverWorkflowId(f.spec))} since .*\\) runs\\. A provision starts only when no recover, rebuild, switchover, failover or other provision of the stanza runs; nothing was changed`));
      console.log(`provision refused after ${seconds.toFixed(1)} s`);
      assert.equal(await started('pg1-srv'), primaryStarted, 'the primary was not restarted');
      assert.match(await sh('pg3-srv', `pg_lsclusters -h | awk '{print $4}'`), /^down/, 'the stopped standby was not started');
      assert.equal(await new RecoverChecks(f.checks).restores('pg3-srv'), restores, 'nothing was restored on pg3-srv');
    } finally {
      await recoverEnds(holder);
    }
  });

  test('while a recover holds the stanza a restore --to is refused, naming it, and the scratch host gets no copy', LONG, async () => {
    const holder = await recoverHolds();
    try {
      const out = await cli('restore', '--to', f.scratch.ip);
      assert.equal(out.code, 1, out.stdout + out.stderr);
      assert.match(out.stderr, new RegExp(`stanza demo is being recovered: a recover \\(${literally(recoverWorkflowId(f.spec))} since .*\\)\\. It replaces the timeline and backups a copy would be restored from; a restore is refused until it ends, nothing was done`));
      assert.equal((await sh('drill-srv', 'ls /var/log/pgbackrest/ 2>/dev/null; ls /var/lib/postgresql/15/ 2>/dev/null; true')).includes('restore'), false, 'no restore ran and no copy was made');
    } finally {
      await recoverEnds(holder);
    }
  });

  test('while a provision runs a recover is refused at once, naming it, and the provision completes', LONG, async () => {
    // pg3-srv stopped (still, after the first test): this provision restores it.
    await sh('pg3-srv', `pg_ctlcluster ${f.spec.postgres.version} main stop 2>/dev/null || true`);
    const provision = await startProvision(f.client, f.spec);
    let open = true;
    provision.result().finally(() => (open = false)).catch(() => undefined);
    // Well into it: the standby's restore began (its start and streaming come after).
    await f.runStarted('pg3-srv', provision.firstExecutionRunId, 'restoreStandby', () => open);
    const recover = await f.client.workflow.start('recoverCluster', {
      taskQueue: TASK_QUEUE, workflowId: recoverWorkflowId(f.spec), args: [f.spec, { target: { type: 'immediate' } }],
    });
    const refused = await recover.result().then(() => 'completed', failureMessage);
    assert.match(refused, new RegExp(`stanza demo is busy: a provision \\(${provisionWorkflowId(f.spec)} since .*\\) runs\\. A recover starts only when .*nothing was changed`));
    assert.equal((await provision.describe()).status.name, 'RUNNING', 'the provision was still running when the recover was refused');
    const done = (await provision.result()) as { standbys: { name: string; state: string }[] };
    assert.deepEqual(done.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);
    assert.equal((await sh('backup-srv', 'ls /var/lib/stanzactl/locks')).trim(), '', 'the provision released the stanza');
  });

  test('while a restore --to runs a recover is refused at once, naming it, and the restore completes', LONG, async () => {
    let open = true;
    const restore = cli('restore', '--to', f.scratch.ip, '--yes').finally(() => (open = false));
    // Well into it: the copy's restore began (its start and promotion come after).
    while (!(await sh('drill-srv', 'ls /var/lib/stanzactl/runs 2>/dev/null || true')).includes('.restoreCopy.')) {
      assert.ok(open, 'the restore ended before its copy was restored');
      await new Promise((r) => setTimeout(r, 100));
    }
    const primaryStarted = await started('pg1-srv');
    const recover = await f.client.workflow.start('recoverCluster', {
      taskQueue: TASK_QUEUE, workflowId: recoverWorkflowId(f.spec), args: [f.spec, { target: { type: 'immediate' } }],
    });
    const refused = await recover.result().then(() => 'completed', failureMessage);
    assert.match(refused, new RegExp(`stanza demo is busy: a restore --to \\(${restoreWorkflowId(f.spec, f.scratch.ip)} since .*\\) runs\\. A recover starts only when .*nothing was changed`));
    assert.equal(await started('pg1-srv'), primaryStarted, 'the primary was not touched');
    const out = await restore;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.equal((await sh('backup-srv', 'ls /var/lib/stanzactl/locks')).trim(), '', 'the restore unregistered');
  });
});
