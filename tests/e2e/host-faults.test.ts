import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { failureMessage, startProvision } from '../../src/client';
import { startBackup } from '../../src/commands/backup';
import { labSetLink } from '../../dev/lab';
import { TASK_QUEUE } from '../../src/paths';
import type { BackupOutcome } from '../../src/workflows/backup';
import type { Progress } from '../../src/workflows/progress';
import { PROGRESS_QUERY, rebuildWorkflowId } from '../../src/workflow-ids';
import type { RebuildResult } from '../../src/workflows/rebuild';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { confirmedRebuild } from './confirmed';
import { literally } from './harness';

const LONG = { timeout: 12 * 60_000 };
const DATA = '/var/lib/postgresql/15/main';
const LOCK = '/var/lib/stanzactl/locks/stanza-demo/backup/all';
// Within the budget a host comes back after CUT_MS: long enough for the worker's SSH connection
// to be declared dead (3 missed keepalives of 10 s) and reconnected. Past it, the budget is short.
const WITHIN_BUDGET_S = '150';
const PAST_BUDGET_S = '20';
// pgBackRest's io-timeout (60 s) must not expire while TCP backs off: the copy resumes by itself.
const CUT_MS = 40_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How the failure of a host away past the budget begins: the host as the spec names it (and its address). */
const awayPast = (name: string, activity: string) =>
  new RegExp(`^${literally(name)}( \\([\\d.]+\\))?: unreachable for \\d+ s while run \\S*${activity}\\S* ran there, longer than the ${PAST_BUDGET_S} s a host may be away \\(STANZACTL_HOST_AWAY_SECONDS\\)`);

describe('host faults: hosts cut off and a full repository', { timeout: 90 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'sth1', '10.231.171.0/24');
  f.workerEnv.STANZACTL_HOST_AWAY_SECONDS = WITHIN_BUDGET_S;
  const cli = provisionedCluster(f);
  const sh = (host: string, script: string, user?: string) => f.checks.sh(host, ['bash', '-c', script], user);
  const labels = async () => (JSON.parse(await f.checks.pgbackrest('info', '--output=json'))[0].backup as { label: string }[]).map((b) => b.label);
  const backupsCompleted = async () => (await sh('backup-srv', `cat /var/log/pgbackrest/demo-backup.log`)).match(/backup command end: completed successfully/g)?.length ?? 0;
  const lockHeld = async () => (await sh('backup-srv', `test -e ${LOCK} && echo held || echo free`)).trim() === 'held';
  // The bracket keeps pgrep from matching the shell that runs it.
  const backupRunning = async () => (await sh('backup-srv', `pgrep -f -- '[-]-log-level-console=detail backup' >/dev/null && echo yes || echo no`)).trim() === 'yes';
  const cut = (host: string) => labSetLink(f.lab, host, false);
  const reconnect = (host: string) => labSetLink(f.lab, host, true);
  /** Cuts `host` off for CUT_MS while the workflow watched by `w` must keep waiting for it. */
  const cutWhileOpen = async (host: string, w: { open: boolean }, what: string) => {
    await cut(host);
    try {
      await sleep(CUT_MS);
      assert.ok(w.open, `${what} waits for its host`);
    } finally {
      await reconnect(host);
    }
  };
  const withBudget = async (seconds: string) => {
    f.workerEnv.STANZACTL_HOST_AWAY_SECONDS = seconds;
    await f.crashWorker();
  };
  const watch = (handle: WorkflowHandle) => {
    const w = { open: true };
    handle.result().finally(() => (w.open = false)).catch(() => undefined);
    return w;
  };
  const failureOf = async (p: Promise<unknown>) => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof WorkflowFailedError, `the workflow failed (${String(e)})`);
    return failureMessage(e);
  };
  /** Waits until the workflow's step log shows `step` failed; returns its message. */
  const stepFailed = async (handle: WorkflowHandle, step: string) => {
    for (const deadline = Date.now() + 5 * 60_000; Date.now() < deadline; await sleep(1000)) {
      const s = (await handle.query<Progress>(PROGRESS_QUERY)).steps.find((x) => x.name === step && x.status === 'failed');
      if (s) return s.detail ?? '';
    }
    throw new Error(`step ${step} did not fail within 5 minutes`);
  };
  /** Resolves once the run of `activity` in workflow run `runId` copies files (pgBackRest's detail lines). */
  const copying = async (host: string, runId: string, activity: string, w: { open: boolean }) => {
    await f.runStarted(host, runId, activity, () => w.open);
    const out = `/var/lib/stanzactl/runs/*.${runId}.${activity}.*/out`;
    while ((await sh(host, `grep -qsE '(backup|restore) file ' ${out} && echo yes || echo no`)).trim() !== 'yes') {
      assert.ok(w.open, `the workflow ended before ${activity} copied files on ${host}`);
      await sleep(50);
    }
  };
  const startRebuild = (node: string) =>
    f.client.workflow.start('rebuildStandby', { taskQueue: TASK_QUEUE, workflowId: `${rebuildWorkflowId(f.spec, node)}-${Date.now()}`, args: [f.spec, node, { confirm: confirmedRebuild(f.spec, node) }] });
  const wipe = (node: string) => sh(node, `pg_ctlcluster 15 main stop -m immediate; rm -rf ${DATA}`);

  test('repository host cut off mid-backup and back within the budget: exactly one backup', LONG, async () => {
    await withBudget(WITHIN_BUDGET_S);
    const [completed, before] = [await backupsCompleted(), await labels()];
    const handle = await startBackup(f.client, f.spec, 'full');
    const w = watch(handle);
    await copying('backup-srv', handle.firstExecutionRunId, 'runBackup', w);
    await cutWhileOpen('backup-srv', w, 'the backup');
    const o = (await handle.result()) as BackupOutcome;
    assert.ok(o.status === 'done');
    assert.equal(await backupsCompleted(), completed + 1, 'pgBackRest completed one backup');
    // retentionFull may expire the oldest full: what is new is this backup alone.
    assert.deepEqual((await labels()).filter((l) => !before.includes(l)), [o.backup.label]);
    assert.equal(await lockHeld(), false);
  });

  test('repository host away past the budget: a failure naming it, status exits 1, the lock released once it is back, no backup', LONG, async () => {
    await withBudget(PAST_BUDGET_S);
    const before = await labels();
    const handle = await startBackup(f.client, f.spec, 'full');
    const w = watch(handle);
    await copying('backup-srv', handle.firstExecutionRunId, 'runBackup', w);
    await cut('backup-srv');
    try {
      const detail = await stepFailed(handle, 'full backup');
      assert.match(detail, awayPast(f.spec.repository.host, 'runBackup'));
      const status = await cli('status');
      assert.equal(status.code, 1, status.stdout + status.stderr);
      assert.match(status.stdout, new RegExp(`cannot read pgbackrest info on the repository host ${literally(f.spec.repository.host)}`));
    } finally {
      await reconnect('backup-srv');
    }
    assert.match(await failureOf(handle.result()), awayPast(f.spec.repository.host, 'runBackup'));
    assert.equal(await lockHeld(), false, 'the backup lock is released');
    assert.equal(await backupRunning(), false, 'the backup left behind was stopped');
    await sleep(5000);
    assert.deepEqual(await labels(), before, 'no new backup');
    await withBudget(WITHIN_BUDGET_S);
    assert.equal(((await (await startBackup(f.client, f.spec, 'incr')).result()) as BackupOutcome).status, 'done', 'the next backup runs');
  });

  test('repository disk full: pgBackRest\'s error named, no backup, lock released, archiving failing in status; after space is freed a backup succeeds', LONG, async () => {
    const before = await labels();
    // A tmpfs with the repository's content and 1 MiB to spare, mounted over the path on backup-srv only.
    await sh('backup-srv', `set -eu
      used=$(du -sm /backup_space | cut -f1)
      cp -a /backup_space /var/tmp/repo-copy
      mount -t tmpfs -o size=$((used + 1))m,mode=0750 stanzactl-full /backup_space
      cp -a /var/tmp/repo-copy/. /backup_space/ && rm -rf /var/tmp/repo-copy
      chown pgbackrest:pgbackrest /backup_space`);
    try {
      const handle = await startBackup(f.client, f.spec, 'full');
      const msg = await failureOf(handle.result());
      assert.match(msg, new RegExp(`^pgBackRest on ${literally(f.spec.repository.host)} failed`));
      // pgBackRest 2.45 names the file only; stanzactl adds the free space it reads after the failure.
      assert.match(msg, /failed with FileWriteError \(exit 64\): ERROR: \[064\]: .*unable to write '\/backup_space\/[^']+'/);
      assert.match(msg, new RegExp(`\nthe repository /backup_space on ${literally(f.spec.repository.host)} has [\\d.]+ \\w+ of [\\d.]+ MiB free \\(the disk is full\\)`));
      const attempts = (await handle.fetchHistory()).events?.filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== 1) ?? [];
      assert.deepEqual(attempts, [], 'a full disk is not retried');
      assert.equal(await lockHeld(), false, 'the backup lock is released');
      assert.deepEqual(await labels(), before, 'no backup reported good');

      // WAL cannot be pushed either: status says archiving fails, and exits 1.
      await sh('backup-srv', 'dd if=/dev/zero of=/backup_space/filler bs=64k 2>/dev/null || true');
      const failed = () => f.checks.psql('pg1-srv', 'SELECT failed_count FROM pg_stat_archiver').then(Number);
      const failedBefore = await failed();
      await f.checks.psql('pg1-srv', 'CREATE TABLE IF NOT EXISTS wal_filler AS SELECT 1 AS x; SELECT pg_switch_wal()');
      for (const deadline = Date.now() + 120_000; (await failed()) === failedBefore; await sleep(1000)) assert.ok(Date.now() < deadline, 'archive_command failed within 2 minutes');
      const status = await cli('status');
      assert.equal(status.code, 1, status.stdout + status.stderr);
      assert.match(status.stdout, /archiving is failing on the primary pg1-srv/);
    } finally {
      await sh('backup-srv', 'rm -f /backup_space/filler && mount -o remount,size=1g /backup_space');
    }
    const o = (await (await startBackup(f.client, f.spec, 'full')).result()) as BackupOutcome;
    assert.ok(o.status === 'done');
    assert.ok((await labels()).includes(o.backup.label));
  });

  test('a standby cut off during its rebuild and back within the budget: the rebuild completes and it streams', LONG, async () => {
    await withBudget(WITHIN_BUDGET_S);
    await wipe('pg2-srv');
    const handle = await startRebuild('pg2-srv');
    const w = watch(handle);
    await copying('pg2-srv', handle.firstExecutionRunId, 'restoreStandby', w);
    await cutWhileOpen('pg2-srv', w, 'the rebuild');
    assert.equal(((await handle.result()) as RebuildResult).node, 'pg2-srv');
    await f.checks.rowReplicates();
  });

  test('a standby away past the budget during its rebuild: a failure naming it', LONG, async () => {
    await withBudget(PAST_BUDGET_S);
    await wipe('pg2-srv');
    const handle = await startRebuild('pg2-srv');
    const w = watch(handle);
    await copying('pg2-srv', handle.firstExecutionRunId, 'restoreStandby', w);
    await cut('pg2-srv');
    try {
      assert.match(await failureOf(handle.result()), awayPast('pg2-srv', 'restoreStandby'));
    } finally {
      await reconnect('pg2-srv');
      await withBudget(WITHIN_BUDGET_S);
      await (await startRebuild('pg2-srv')).result();
    }
    await f.checks.rowReplicates();
  });

  test('a standby cut off during provision and back within the budget: provision completes and it streams', LONG, async () => {
    await wipe('pg3-srv');
    const handle = await startProvision(f.client, f.spec);
    const w = watch(handle);
    await copying('pg3-srv', handle.firstExecutionRunId, 'restoreStandby', w);
    await cutWhileOpen('pg3-srv', w, 'provision');
    await handle.result();
    assert.deepEqual(await f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
    await f.checks.rowReplicates();
  });

  test('a standby away past the budget during provision: a failure naming it', LONG, async () => {
    await withBudget(PAST_BUDGET_S);
    await wipe('pg3-srv');
    const handle = await startProvision(f.client, f.spec);
    const w = watch(handle);
    await copying('pg3-srv', handle.firstExecutionRunId, 'restoreStandby', w);
    await cut('pg3-srv');
    try {
      assert.match(await failureOf(handle.result()), awayPast('pg3-srv', 'restoreStandby'));
    } finally {
      await reconnect('pg3-srv');
      await withBudget(WITHIN_BUDGET_S);
      await (await startProvision(f.client, f.spec)).result();
    }
    assert.deepEqual(await f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
  });
});
