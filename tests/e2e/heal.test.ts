import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import type { LockResult } from '../../src/activities/backup';
import type { StepResult } from '../../src/activities/types';
import { startProvision, type ProvisionResult } from '../../src/client';
import { TASK_QUEUE } from '../../src/paths';
import { startBackup } from '../../src/commands/backup';
import { labExec } from '../../dev/lab';
import type { Spec } from '../../src/spec/schema';
import { sshPools } from '../../src/worker';
import type { BackupOutcome } from '../../src/workflows/backup';
import { ProvisionFixture } from './fixture';
import { provisionWorkflowId, scheduleId } from '../../src/workflow-ids';
import { literally, runCli, until } from './harness';

const LONG = { timeout: 10 * 60_000 };

// Run inside a lab host: waits until initdb runs and has written pg_control (a cluster that looks
// real but is half made), then SIGKILLs the whole SSH command that runs it (its process group:
// the script, pg_createcluster, initdb, the bootstrap backend), as a dropped connection or a
// crashed host would end it.
const KILL_INITDB_MIDWAY = `data=$1
for _ in $(seq 12000); do
  pid=$(pgrep -x initdb | head -n1 || true)
  if [ -n "$pid" ] && [ -e "$data/global/pg_control" ]; then
    pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
    [ "$pgid" -gt 1 ] && [ "$pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] || exit 2
    kill -KILL -- "-$pgid"
    echo "killed process group $pgid"
    exit 0
  fi
  sleep 0.05
done
exit 1`;

describe('interrupted steps heal', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stca', '10.231.121.0/24');
  const pools = sshPools();
  const sh = (host: string, body: string, ...args: string[]) => labExec(f.lab, host, ['bash', '-c', body, 'test', ...args]);
  const backupBegins = async () => (await f.checks.sh('backup-srv', ['cat', `/var/log/pgbackrest/${f.spec.stanza}-backup.log`])).match(/backup command begin/g)?.length ?? 0;
  before(() => f.setUp());
  after(async () => {
    await pools.closeAll();
    await f.teardown();
  });

  test('provision completes after a cluster creation on the primary and a config creation on a standby were killed midway', LONG, async () => {
    const data = f.spec.postgres.dataDir;
    const kills = Promise.all(['pg1-srv', 'pg2-srv'].map((h) => sh(h, KILL_INITDB_MIDWAY, data)));
    const result = (await (await startProvision(f.client, f.spec)).result()) as ProvisionResult;
    for (const k of await kills) assert.equal(k.code, 0, `the creation was killed midway: ${k.stdout}${k.stderr}`);

    assert.match(result.steps.find((s) => s.name === 'primary')!.detail!, /an earlier creation of .* was interrupted/);
    assert.match(result.steps.find((s) => s.name === 'prepare pg2-srv')!.detail!, /an earlier config creation was interrupted/);
    assert.deepEqual(result.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);
    await f.checks.assertHealthy();
    assert.equal(await f.checks.psql('pg1-srv', 'SHOW port'), String(f.spec.postgres.port));
    for (const h of ['pg1-srv', 'pg2-srv']) assert.equal((await labExec(f.lab, h, ['ls', '-A', '/var/lib/stanzactl/pending'])).stdout, '', `no creation marker left on ${h}`);
    await f.checks.assertProvisionChangesNothing(() => startProvision(f.client, f.spec).then((h) => h.result() as Promise<ProvisionResult>));
  });

  test('pg_hba lines written by an attempt that died before its reload: provision reloads them and the standbys stream again', LONG, async () => {
    const hba = await f.checks.psql('pg1-srv', 'SHOW hba_file');
    const pg = f.spec.postgres;
    // The server forgets the standbys' lines; then they are back in the file only, as a worker
    // killed between the write and the reload (beside another step's kill) leaves them.
    await f.checks.sh('pg1-srv', ['sed', '-i.orig', `/ ${f.spec.replication.user} /d`, hba], pg.osUser);
    await f.checks.psql('pg1-srv', 'SELECT pg_reload_conf()');
    await f.checks.sh('pg1-srv', ['cp', `${hba}.orig`, hba], pg.osUser);
    await f.checks.sh('pg1-srv', ['rm', `${hba}.orig`], pg.osUser);
    await f.checks.psql('pg1-srv', "SELECT pg_terminate_backend(pid) FROM pg_stat_replication");
    // Refused only once the server dropped the lines: the reload has taken effect.
    await until('the standbys to be refused', async () => (await f.checks.streamingStandbys()).length === 0 && /no pg_hba.conf entry for replication connection/.test(await f.checks.sh('pg1-srv', ['bash', '-c', 'tail -n 20 /var/log/postgresql/postgresql-15-main.log'])));
    const result = (await (await startProvision(f.client, f.spec)).result()) as ProvisionResult;
    assert.equal(result.steps.find((s) => s.name === 'replication access')!.detail, 'pg_hba: its lines were written but not yet loaded: reloaded');
    assert.deepEqual(result.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);
    await f.checks.assertProvisionChangesNothing(() => startProvision(f.client, f.spec).then((h) => h.result() as Promise<ProvisionResult>));
  });

  test('provision with another spec while one runs is refused and names the run; the same spec attaches', LONG, async () => {
    const running = await startProvision(f.client, f.spec);
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-spec-'));
    const changed: Spec = { ...f.spec, repository: { ...f.spec.repository, retentionFull: 3 }, backups: { fromStandby: 'prefer' } };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(changed));
    const cli = await runCli(['provision', '--spec', join(dir, 'spec.json')], f.workerEnv);
    rmSync(dir, { recursive: true });
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    // The refusal is only meaningful while the first run still runs.
    assert.equal((await running.describe()).status.name, 'RUNNING', 'the first provision was still running');
    assert.match(cli.stderr, new RegExp(`${literally(provisionWorkflowId(f.spec))} is already running \\(run ${running.firstExecutionRunId}\\) with a different spec: backups, repository differ`));
    const same = await startProvision(f.client, f.spec);
    assert.equal(same.firstExecutionRunId, running.firstExecutionRunId, 'the same spec attaches to the running run');
    assert.equal(((await same.result()) as ProvisionResult).changed, false);
  });

  test('a backup lock directory of the layout before one table without owner (a claim interrupted before its owner was written) is adopted and healed', LONG, async () => {
    const lock = `/var/lib/stanzactl/locks/backup-${f.spec.stanza}`;
    const made = await sh('backup-srv', 'install -d -m 700 "$(dirname "$1")" && mkdir "$1" && touch -d "-5 minutes" "$1"', lock);
    assert.equal(made.code, 0, made.stderr);
    const before = await backupBegins();
    const outcome = (await (await startBackup(f.client, f.spec, 'incr')).result()) as BackupOutcome;
    assert.equal(outcome.status, 'done', JSON.stringify(outcome));
    assert.equal(await backupBegins(), before + 1);
    assert.notEqual((await labExec(f.lab, 'backup-srv', ['test', '-e', lock])).code, 0, 'the old entry was adopted');
    assert.equal((await sh('backup-srv', 'ls /var/lib/stanzactl/locks')).stdout.trim(), '', 'and released');
  });

  // Replaces "a holder whose retry comes back after its lock was taken over": with one liveness
  // rule a live run's lock is never taken over, however old its claim, so no retry can find it gone.
  test('a backup lock holds while its run is open, however long ago it was claimed; once the run was terminated the next backup drops it', LONG, async () => {
    const acts = createActivities({ remoteFor: pools.remoteFor });
    // A: an open run of backupStanza that no worker runs, as one waiting out a retry's long backoff.
    const a = await f.client.workflow.start('backupStanza', {
      taskQueue: `${TASK_QUEUE}-nobody`, workflowId: `${scheduleId(f.spec, 'incr')}-2026-11-26T01:00:00Z`, args: [f.spec, { type: 'incr' }],
    });
    const owner = { workflowId: a.workflowId, runId: a.firstExecutionRunId };
    // Its attempt has the quick profile's 3 minutes and no schedule-to-close: commands get deadlines within them.
    const now = Date.now();
    const asA = new MockActivityEnvironment({
      workflowExecution: owner, activityType: 'claimBackupLock', heartbeatTimeoutMs: 20_000,
      startToCloseTimeoutMs: 180_000, currentAttemptScheduledTimestampMs: now, scheduledTimestampMs: now, scheduleToCloseTimeoutMs: 0,
    });
    try {
      assert.equal(((await asA.run(() => acts.claimBackupLock(f.spec, owner))) as LockResult).claimed, true);
      // Claimed 5 minutes ago and never renewed.
      const aged = await sh('backup-srv', 'printf "%s %s %s\\n" "$2" "$3" "$(( $(date +%s) - 300 ))" > "$1"', `/var/lib/stanzactl/locks/stanza-${f.spec.stanza}/backup/all`, owner.workflowId, owner.runId);
      assert.equal(aged.code, 0, aged.stderr);
      const before = await backupBegins();
      const skipped = (await (await startBackup(f.client, f.spec, 'full')).result()) as BackupOutcome;
      assert.equal(skipped.status, 'skipped', JSON.stringify(skipped));
      assert.equal(skipped.status === 'skipped' && skipped.runningWorkflowId, owner.workflowId);

      await a.terminate('test: the run ends without its release');
      const outcome = (await (await startBackup(f.client, f.spec, 'full')).result()) as BackupOutcome;
      assert.equal(outcome.status, 'done', JSON.stringify(outcome));
      assert.equal(await backupBegins(), before + 1, 'pgBackRest started one backup: the new holder\'s');
      // The old holder's release leaves the lock alone: it was dropped, and the new holder released its own.
      assert.equal(((await asA.run(() => acts.releaseBackupLock(f.spec, owner))) as StepResult).changed, false);
    } finally {
      await a.terminate('test over').catch(() => undefined);
    }
  });
});

// The seed's EDB layout: initdb by stanzactl, then the spec's port appended to postgresql.conf.
describe('an interrupted initdb heals (EDB layout)', { timeout: 20 * 60_000 }, () => {
  const f = new ProvisionFixture('edb', 'stcb', '10.231.122.0/24');
  before(() => f.setUp());
  after(f.teardown);

  test('provision completes after initdb was killed midway, before the port was written', LONG, async () => {
    const data = f.spec.postgres.dataDir;
    const kill = labExec(f.lab, 'pg1-srv', ['bash', '-c', KILL_INITDB_MIDWAY, 'test', data]);
    const result = (await (await startProvision(f.client, f.spec)).result()) as ProvisionResult;
    const k = await kill;
    assert.equal(k.code, 0, `initdb was killed midway: ${k.stdout}${k.stderr}`);
    assert.match(result.steps.find((s) => s.name === 'primary')!.detail!, /an earlier creation of .* was interrupted/);
    await f.checks.assertHealthy();
    assert.equal(await f.checks.psql('pg1-srv', 'SHOW port'), '5444');
    const conf = await f.checks.sh('pg1-srv', ['cat', `${data}/postgresql.conf`]);
    assert.equal(conf.match(/^port = /gm)?.length, 1, 'one port line');
  });
});
