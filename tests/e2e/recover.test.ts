import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { rebuildWorkflowId, recoverWorkflowId } from '../../src/workflow-ids';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { literally } from './harness';
import { recordHistory } from './history';
import { RecoverChecks } from './recover-checks';

const LONG = { timeout: 15 * 60_000 };

describe('recover the whole cluster in place (Debian layout)', { timeout: 50 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stpa', '10.231.211.0/24');
  const cli = provisionedCluster(f);
  let r!: RecoverChecks;
  before(() => (r = new RecoverChecks(f.checks)));

  test('without a terminal and without --yes it prints the plan, refuses, and changes nothing', LONG, async () => {
    const target = await r.tableThenDrop('plan_only', 3);
    const started = await r.primaryStarted();
    const out = await cli('recover', '--type', 'time', '--target', target);
    assert.equal(out.code, 2, out.stdout + out.stderr);
    assert.match(out.stdout, /Recover stanza demo in place to time /);
    assert.match(out.stdout, /backup +\d{8}-\d{6}F \(full, finished .*\): the newest backup that finished before the target/);
    assert.match(out.stdout, /LOST +every transaction committed on pg1-srv after time /);
    assert.match(out.stdout, /standbys +pg2-srv, pg3-srv are stopped now and rebuilt/);
    assert.match(out.stderr, /pass --yes/);
    assert.equal(await r.primaryStarted(), started, 'the primary was not touched');
    assert.equal(await r.tableRows('plan_only'), undefined, 'the table is still dropped');
  });

  test('a recover is refused, changing nothing, while a rebuild of the stanza runs', LONG, async () => {
    const target = await r.tableThenDrop('during_rebuild', 1);
    const started = await r.primaryStarted();
    const rebuild = cli('rebuild', '--node', 'pg3-srv', '--yes');
    await r.rebuildRegistered('pg3-srv');
    const out = await cli('recover', '--type', 'time', '--target', target, '--yes');
    assert.equal(out.code, 1, out.stdout + out.stderr);
    assert.match(out.stderr, new RegExp(`recover failed: stanza demo is busy: a rebuild of pg3-srv \\(${literally(rebuildWorkflowId(f.spec, 'pg3-srv'))} since .*\\) runs\\. .*nothing was changed`));
    assert.equal(await r.primaryStarted(), started, 'the primary was not touched');
    const rebuilt = await rebuild;
    assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
  });

  test('recover to a time before a DROP TABLE, with the worker killed mid-restore: one restore, the table is back, '
    + 'standbys stream on the new timeline, a backup on it; a second recover, a backup and a rebuild meanwhile are refused', LONG, async () => {
    const target = await r.tableThenDrop('precious', 5);
    const restoresBefore = await r.restores('pg1-srv');
    const timelineBefore = await r.primaryTimeline();
    const recover = cli('recover', '--type', 'time', '--target', target, '--yes');

    const runId = await runIdOf(recoverWorkflowId(f.spec));
    let open = true;
    const handle = f.client.workflow.getHandle(recoverWorkflowId(f.spec), runId);
    handle.result().finally(() => (open = false)).catch(() => undefined);
    const crashed = f.runStarted('pg1-srv', runId, 'restorePrimary', () => open).then(() => f.crashWorker());
    crashed.catch(() => undefined);
    const [second, backup, rebuild] = await Promise.all([
      cli('recover', '--type', 'immediate', '--yes'),
      cli('backup', '--type', 'incr'),
      cli('rebuild', '--node', 'pg2-srv', '--yes'),
    ]);
    assert.equal(second.code, 1, second.stdout + second.stderr);
    assert.match(second.stderr, new RegExp(`refused: a recover of stanza demo is already running: workflow ${literally(recoverWorkflowId(f.spec))}`));
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    assert.match(backup.stdout, new RegExp(`backup skipped: stanza demo is being recovered by ${literally(recoverWorkflowId(f.spec))} since`));
    assert.equal(rebuild.code, 1, rebuild.stdout + rebuild.stderr);
    assert.match(rebuild.stderr, new RegExp(`stanza demo is being recovered: a recover \\(${literally(recoverWorkflowId(f.spec))} since .*\\)\\. It rebuilds every standby itself`));
    await crashed;

    const out = await recover;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /stanza demo recovered to time .*: pg1-srv on timeline \d+ \(was \d+\)/);
    assert.equal(await r.restores('pg1-srv'), restoresBefore + 1, 'exactly one restore on the primary');
    assert.equal(await r.tableRows('precious'), '5', 'the dropped table is back with its rows');
    await r.assertOnNewTimeline(timelineBefore);
    recordHistory(f.temporal.address, recoverWorkflowId(f.spec), 'recover');
  });

  test('after a recover a backup, a rebuild and another recover work', LONG, async () => {
    const backup = await cli('backup', '--type', 'incr');
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    assert.match(backup.stdout, /incr backup \d{8}-\d{6}F_\d{8}-\d{6}I in/);
    const rebuild = await cli('rebuild', '--node', 'pg2-srv', '--yes');
    assert.equal(rebuild.code, 0, rebuild.stdout + rebuild.stderr);
    await f.checks.rowReplicates();
    const timelineBefore = await r.primaryTimeline();
    const target = await r.tableThenDrop('again', 2);
    const out = await cli('recover', '--type', 'time', '--target', target, '--yes');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.equal(await r.tableRows('again'), '2');
    await r.assertOnNewTimeline(timelineBefore);
  });

  /** The run id of a workflow once it exists (the CLI starts it after its plan). */
  async function runIdOf(workflowId: string): Promise<string> {
    for (;;) {
      try {
        const d = await f.client.workflow.getHandle(workflowId).describe();
        if (d.status.name === 'RUNNING') return d.runId;
      } catch (e) {
        if (!(e instanceof WorkflowNotFoundError)) throw e;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  }
});
