import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { failureMessage, startProvision } from '../../src/client';
import { startBackup } from '../../src/commands/backup';
import type { BackupType, Spec } from '../../src/spec/schema';
import { applySchedules, pauseSchedules, triggerSchedule } from '../../src/schedules';
import { scheduleId } from '../../src/workflow-ids';
import type { BackupOutcome } from '../../src/workflows/backup';
import { ProvisionFixture } from './fixture';
import { runCli } from './harness';
import { recordHistory } from './history';

const LONG = { timeout: 10 * 60_000 };

interface InfoBackup {
  label: string;
  type: string;
  info: { size: number; delta: number; repository: { size: number; delta: number } };
  archive: { start: string; stop: string };
}

describe('backups on demand', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stzk', '10.231.51.0/24');
  const withStandby = (fromStandby: NonNullable<Spec['backups']>['fromStandby']): Spec => ({ ...f.spec, backups: { fromStandby } });
  const backup = async (spec: Spec, type: BackupType) => (await (await startBackup(f.client, spec, type)).result()) as BackupOutcome;
  const infoBackups = async () => (JSON.parse(await f.checks.pgbackrest('info', '--output=json'))[0].backup as InfoBackup[]);
  const backupBegins = async () => (await f.checks.sh('backup-srv', ['cat', `/var/log/pgbackrest/${f.spec.stanza}-backup.log`])).match(/backup command begin/g)?.length ?? 0;
  const standbys = (action: 'start' | 'stop') => Promise.all(['pg2-srv', 'pg3-srv'].map((n) => f.checks.sh(n, ['pg_ctlcluster', '15', 'main', action])));

  before(async () => {
    await f.setUp();
    // The standbys join the repository config, so runs can choose them or not.
    await (await startProvision(f.client, withStandby('prefer'))).result();
  });
  after(f.teardown);

  test('full, diff and incr on demand: each result agrees with pgbackrest info', LONG, async () => {
    for (const type of ['full', 'diff', 'incr'] as const) {
      const o = await backup(f.spec, type);
      assert.equal(o.status, 'done');
      if (o.status !== 'done') return;
      const b = (await infoBackups()).find((x) => x.label === o.backup.label);
      assert.ok(b, `${o.backup.label} in info`);
      assert.equal(b.type, type);
      assert.deepEqual(
        [o.backup.databaseSize, o.backup.deltaSize, o.backup.repoSize, o.backup.repoDeltaSize, o.backup.walStart, o.backup.walStop],
        [b.info.size, b.info.delta, b.info.repository.size, b.info.repository.delta, b.archive.start, b.archive.stop],
      );
      assert.equal(o.source.role, 'primary');
    }
  });

  test('a second backup while one runs is skipped and names the running one', LONG, async () => {
    const first = await startBackup(f.client, f.spec, 'full');
    await f.runStarted('backup-srv', first.firstExecutionRunId, 'runBackup', () => true);
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-spec-'));
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(f.spec));
    const cli = await runCli(['backup', '--spec', join(dir, 'spec.json'), '--type', 'incr'], f.workerEnv);
    rmSync(dir, { recursive: true });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`backup skipped: a backup of stanza demo is already running: ${first.workflowId} since 20`));
    assert.equal(((await first.result()) as BackupOutcome).status, 'done');
  });

  test('fromStandby true: the files come from a standby, as pgBackRest says', LONG, async () => {
    const o = await backup(withStandby(true), 'full');
    assert.ok(o.status === 'done');
    assert.equal(o.source.role, 'standby');
    assert.equal(o.source.node, 'pg2-srv');
    const pg2 = f.lab.hosts.find((h) => h.name === 'pg2-srv')!.ip;
    assert.ok(o.source.copiedFrom.includes(pg2), `pgBackRest copied from ${o.source.copiedFrom}`);
  });

  test('a spec that names a standby as the primary: the backup reads the roles from the hosts and copies from a real standby', LONG, async () => {
    const spec = withStandby(true);
    const stale: Spec = { ...spec, nodes: spec.nodes.map((n) => ({ ...n, role: n.name === 'pg3-srv' ? 'primary' : 'standby' })) };
    const o = await backup(stale, 'full');
    assert.ok(o.status === 'done');
    assert.deepEqual([o.source.node, o.source.role], ['pg2-srv', 'standby']);
    const pg2 = f.lab.hosts.find((h) => h.name === 'pg2-srv')!.ip;
    assert.ok(o.source.copiedFrom.includes(pg2), `pgBackRest copied from ${o.source.copiedFrom}`);
  });

  test('with both standbys stopped: prefer backs up the primary and says so; true fails clearly', LONG, async () => {
    await standbys('stop');
    try {
      const o = await backup(withStandby('prefer'), 'incr');
      assert.ok(o.status === 'done');
      assert.equal(o.source.role, 'primary');
      assert.match(o.source.why, /no standby streams/);
      const err = await backup(withStandby(true), 'incr').then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(failureMessage(err), /no standby streams from pg1-srv, and backups.fromStandby is true/);
    } finally {
      await standbys('start');
    }
  });

  test('a worker SIGKILLed mid-backup: the workflow completes with one backup, not two', LONG, async () => {
    const begins = await backupBegins();
    const handle = await startBackup(f.client, f.spec, 'full');
    let open = true;
    handle.result().finally(() => (open = false)).catch(() => undefined);
    await f.runStarted('backup-srv', handle.firstExecutionRunId, 'runBackup', () => open);
    await f.crashWorker();
    const o = (await handle.result()) as BackupOutcome;
    assert.ok(o.status === 'done');
    assert.equal(await backupBegins(), begins + 1, 'pgBackRest started one backup');
    assert.ok((await infoBackups()).some((b) => b.label === o.backup.label));
    recordHistory(f.temporal.address, handle.workflowId, 'backup-manual');
  });

  test('schedules: apply twice changes nothing the second time; a short interval really fires; a trigger while a backup runs is skipped', LONG, async () => {
    const spec: Spec = { ...f.spec, backups: { fromStandby: false, schedule: { incr: '* * * * *', catchupWindow: '1m' } } };
    assert.deepEqual((await applySchedules(f.client, spec)).map((a) => [a.type, a.action]), [['incr', 'created']]);
    assert.deepEqual((await applySchedules(f.client, spec)).map((a) => [a.type, a.action]), [['incr', 'unchanged']]);

    // The server fires it at the next minute: the real workflow makes a real backup.
    const handle = f.client.schedule.getHandle(scheduleId(f.spec, 'incr'));
    let fired: string | undefined;
    for (const deadline = Date.now() + 90_000; !fired && Date.now() < deadline; await new Promise((r) => setTimeout(r, 1000))) {
      fired = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
    }
    assert.ok(fired, 'the schedule fired within 90 s');
    const scheduled = (await f.client.workflow.getHandle(fired).result()) as BackupOutcome;
    assert.equal(scheduled.status, 'done');
    recordHistory(f.temporal.address, fired, 'backup-scheduled');
    await pauseSchedules(f.client, spec);

    // A manual backup runs: a trigger starts the scheduled workflow, which is skipped by the lock.
    const manual = await startBackup(f.client, f.spec, 'full');
    await f.runStarted('backup-srv', manual.firstExecutionRunId, 'runBackup', () => true);
    const t = await triggerSchedule(f.client, spec, 'incr');
    assert.equal(t.outcome, 'started');
    if (t.outcome !== 'started') return;
    const triggered = (await f.client.workflow.getHandle(t.workflowId).result()) as BackupOutcome;
    assert.equal(triggered.status, 'skipped');
    assert.equal(triggered.status === 'skipped' && triggered.runningWorkflowId, manual.workflowId);
    assert.equal(((await manual.result()) as BackupOutcome).status, 'done');
    await applySchedules(f.client, { ...spec, backups: { fromStandby: false } });
  });
});
