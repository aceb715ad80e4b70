import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import { startProvision, type ProvisionResult } from '../../src/client';
import { findNode, nodeAddress } from '../../src/activities/hosts';
import { cmd } from '../../src/shell/command';
import { SshPool } from '../../src/remote/ssh-pool';
import { progressQuery } from '../../src/workflows/progress';
import { workerLimits } from '../../src/worker-limits';
import { sshPools } from '../../src/worker';
import { ProvisionFixture } from './fixture';
import { buildWorkflowBundle, WorkerProcess } from './harness';
import { activityRuns } from './history';

const LONG = { timeout: 15 * 60_000 };
const STARTED = 2; // PENDING_ACTIVITY_STATE_STARTED

/** The identity of each activity attempt started after event `afterId`, and of the worker whose decision completed the run. */
function workersAfter(history: temporal.api.history.v1.IHistory, afterId: number): { activities: string[]; completedBy?: string | null } {
  const events = history.events ?? [];
  const activities = events.filter((e) => Number(e.eventId) > afterId).flatMap((e) => e.activityTaskStartedEventAttributes?.identity ?? []);
  const completedBy = events.filter((e) => e.workflowTaskCompletedEventAttributes).at(-1)?.workflowTaskCompletedEventAttributes?.identity;
  return { activities, completedBy };
}

describe('two workers on one task queue', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stia', '10.231.181.0/24');
  const bundleDir = mkdtempSync(join(tmpdir(), 'stanzactl-bundle-'));
  let second: WorkerProcess | undefined;
  before(async () => {
    // Both workers start from one prebuilt bundle of this build: same code, quick start.
    f.workerEnv.STANZACTL_WORKFLOW_BUNDLE = await buildWorkflowBundle(bundleDir);
    await f.setUp();
    second = new WorkerProcess(f.workerEnv);
    await second.start();
  });
  after(async () => {
    await second?.kill();
    await f.teardown();
    rmSync(bundleDir, { recursive: true, force: true });
  });

  test('the worker running a provision step is SIGKILLed; the other worker finishes the provision', LONG, async (t) => {
    const workers = [f.worker, second!];
    const identityOf = (w: WorkerProcess) => `${w.pid}@${hostname()}`;
    const handle = await startProvision(f.client, f.spec);
    let open = true;
    handle.result().finally(() => (open = false)).catch(() => undefined);
    await f.runStarted('backup-srv', handle.firstExecutionRunId, 'ensureFullBackup', () => open);

    // Whichever worker holds the running backup step is the one to kill, as the server sees it.
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const backup = pending.find((a) => a.activityType?.name === 'ensureFullBackup' && a.state === STARTED);
    assert.ok(backup?.lastWorkerIdentity, `ensureFullBackup is running: ${JSON.stringify(pending)}`);
    const victim = workers.find((w) => identityOf(w) === backup.lastWorkerIdentity);
    assert.ok(victim, `${backup.lastWorkerIdentity} is one of ${workers.map(identityOf).join(', ')}`);
    const survivor = workers.find((w) => w !== victim)!;
    const victimIdentity = identityOf(victim);
    await victim.kill('SIGKILL');
    const killedAt = Date.now();
    // What the victim finished before it died is in the history now; everything later is the survivor's.
    const lastEventAtKill = Number((await handle.fetchHistory()).events?.at(-1)?.eventId);

    // The CLI's progress query is answered by the surviving worker while the step is retried.
    const progress = await handle.query(progressQuery);
    assert.ok(progress.steps.some((s) => s.name === 'full backup'), JSON.stringify(progress.steps.map((s) => s.name)));

    const result = (await handle.result()) as ProvisionResult;
    assert.equal(result.changed, true);
    assert.deepEqual(result.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);
    assert.match(result.steps.find((s) => s.name === 'full backup')!.detail!, /re-attached|made by an earlier attempt/);

    const history = await handle.fetchHistory();
    const after = workersAfter(history, lastEventAtKill);
    assert.ok(after.activities.length > 0);
    assert.deepEqual([...new Set(after.activities)], [identityOf(survivor)], `after the kill only the survivor runs steps (victim ${victimIdentity})`);
    assert.equal(after.completedBy, identityOf(survivor), 'the survivor completed the workflow');
    const runs = activityRuns(history);
    assert.ok(runs.every((r) => r.completed));
    assert.equal(runs.find((r) => r.type === 'ensureFullBackup')!.attempt, 2, 'the backup step ran again, once, on the survivor');
    const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'ensureFullBackup')!;
    const retried = history.events!.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
    t.diagnostic(`the survivor started the backup step again ${((tsToMs(retried.eventTime) - killedAt) / 1000).toFixed(1)} s after the kill`);

    await f.checks.assertHealthy();
    const backupLog = await f.checks.sh('backup-srv', ['cat', `/var/log/pgbackrest/${f.spec.stanza}-backup.log`]);
    assert.equal(backupLog.match(/backup command begin/g)?.length, 1, 'pgBackRest started one backup: the survivor re-attached');
  });

  test('100 parallel commands to one host through the worker pools all pass; past sshd MaxSessions they fail', LONG, async () => {
    const host = nodeAddress(findNode(f.spec, 'pg1-srv'));
    const many = (pool: SshPool, n: number, seconds: number) =>
      Promise.allSettled(Array.from({ length: n }, (_, i) => pool.run(host, cmd('sh', '-c', `sleep ${seconds}; echo "$1"`, 'sh', String(i)))));
    const refusals = (outs: PromiseSettledResult<unknown>[]) => outs.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));

    // The worker's own pools with the limits it reads (defaults: 8 commands + a kill channel per
    // connection, 4 connections). Commands of half a second turn channels over fast, which is
    // when sshd still counts sessions that just closed.
    const pools = sshPools(workerLimits({}));
    try {
      const outs = await many(pools.remoteFor(f.spec.ssh), 100, 0.5);
      assert.deepEqual(refusals(outs), []);
      assert.deepEqual(outs.map((o) => o.status === 'fulfilled' && [o.value.code, o.value.stdout]), Array.from({ length: 100 }, (_, i) => [0, `${i}\n`]));
    } finally {
      await pools.closeAll();
    }

    // The control: 12 commands on one connection meet the lab sshd's MaxSessions (OpenSSH's 10);
    // they outlast the pool's retries of a refused channel, so two fail.
    const unbounded = sshPools(workerLimits({ STANZACTL_SSH_CHANNELS_PER_CONNECTION: '12', STANZACTL_SSH_CONNECTIONS_PER_HOST: '1' }));
    try {
      const refused = refusals(await many(unbounded.remoteFor(f.spec.ssh), 12, 5));
      assert.equal(refused.length, 2, refused.join('\n'));
      for (const r of refused) assert.match(r, /Channel open failure: open failed \(sshd refused 40 times: are its MaxSessions below 13\?\)/);
    } finally {
      await unbounded.closeAll();
    }
  });
});
