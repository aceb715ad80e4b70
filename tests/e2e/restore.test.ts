import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { creationMarker, runCreation, type Creation } from '../../src/host/cluster-creation';
import { HostOps } from '../../src/host/host-ops';
import type { CopyRemoved } from '../../src/activities/restore-copy';
import { DEBIAN_CONFIG } from '../../src/activities/standby';
import { failureMessage, startProvision } from '../../src/client';
import type { LabLayout } from '../../dev/lab';
import { TASK_QUEUE } from '../../src/paths';
import { planId, restoreFacts } from '../../src/spec/confirmation';
import { defaultCopyPlace, type CopyPlace } from '../../src/spec/restore-copy';
import { sshPools } from '../../src/worker';
import { restoreWorkflowId } from '../../src/workflow-ids';
import type { RestoreRequest, RestoreResult } from '../../src/workflows/restore';
import { ProvisionFixture } from './fixture';
import { literally, runCli } from './harness';
import { recordHistory } from './history';

const LONG = { timeout: 10 * 60_000 };

function restoreSuite(layout: LabLayout, prefix: string, subnet: string, sudoUser?: string): void {
  describe(`restore a copy to another host, to a point in time (${layout} layout${sudoUser ? `, logged in as ${sudoUser} with sudo` : ''})`, { timeout: 40 * 60_000 }, () => {
    const f = new ProvisionFixture(layout, prefix, subnet, sudoUser);
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-spec-'));
    const specFile = join(dir, 'spec.json');
    const pools = sshPools();
    const cli = (...args: string[]) => runCli([...args, '--spec', specFile], f.workerEnv);
    const scratch = 'drill-srv';
    const sh = (host: string, script: string, user?: string) => f.checks.sh(host, ['bash', '-c', script], user);
    const onCopy = (place: CopyPlace, sql: string) => f.checks.sh(scratch, [`${f.spec.postgres.binDir}/psql`, '-X', '-At', '-p', String(place.port), '-d', 'postgres', '-c', sql], f.spec.postgres.osUser).then((s) => s.trim());
    // Each `pgbackrest restore` logs one "restore command begin" on the host it runs on.
    const restores = async () => (await sh(scratch, 'cat /var/log/pgbackrest/demo-restore.log 2>/dev/null || true')).match(/restore command begin/g)?.length ?? 0;
    let place: CopyPlace;

    before(async () => {
      await f.setUp();
      writeFileSync(specFile, JSON.stringify(f.spec));
      await (await startProvision(f.client, f.spec)).result();
      place = defaultCopyPlace(f.spec, f.scratch.ip);
    });
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await pools.closeAll();
      await f.teardown();
    });

    test('to a time between two inserts: the copy has exactly the first row, and archives nothing', LONG, async (t) => {
      await f.checks.psql('pg1-srv', 'CREATE TABLE pitr (i int); INSERT INTO pitr VALUES (1)');
      // The primary's clock after the first commit, then the second commit a moment later.
      const between = await f.checks.psql('pg1-srv', `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'`);
      await new Promise((r) => setTimeout(r, 1100));
      await f.checks.psql('pg1-srv', 'INSERT INTO pitr VALUES (2)');
      // check switches WAL on the primary and waits until the segment is archived.
      await f.checks.pgbackrest('check');
      const archivedBefore = await f.checks.pgbackrest('info', '--output=json');

      const r = await cli('restore', '--to', f.scratch.ip, '--type', 'time', '--target', between);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      t.diagnostic(r.stdout.trim().split('\n').slice(-6).join(' / '));
      assert.match(r.stdout, new RegExp(`workflow ${literally(restoreWorkflowId(f.spec, f.scratch.ip))}: restore to .*, to time ${between.replace(/[.+]/g, '\\$&')}`));
      assert.match(r.stdout, new RegExp(`backup: +${(await f.checks.fullBackups())[0]}\\n`));
      assert.match(r.stdout, /promoted on timeline [2-9]/);
      assert.match(r.stdout, /last transaction: 20\d\d-/);
      assert.match(r.stdout, /WAL replayed: +[0-9A-F]{24} \(\d+\/[0-9A-F]+\) \.\. [0-9A-F]{24}/);
      assert.match(r.stdout, /restore [\d.]+ s, recovery [\d.]+ s/);

      assert.equal(await onCopy(place, 'SELECT string_agg(i::text, \',\' ORDER BY i) FROM pitr'), '1');
      assert.equal(await onCopy(place, 'SELECT pg_is_in_recovery()'), 'f');
      assert.equal(await onCopy(place, 'SHOW archive_mode'), 'off');
      assert.equal(await onCopy(place, 'SELECT count(*) FROM pg_stat_wal_receiver'), '0');
      // The copy's promotion and writes reach nothing of the stanza's: the archive is as it was.
      await onCopy(place, 'CREATE TABLE on_copy (i int); SELECT pg_switch_wal()');
      await new Promise((r) => setTimeout(r, 1500));
      const archived = (info: string) => (JSON.parse(info) as { archive: { max: string }[] }[])[0].archive.map((a) => a.max).join();
      assert.equal(archived(await f.checks.pgbackrest('info', '--output=json')), archived(archivedBefore));
      assert.equal(await f.checks.psql('pg1-srv', 'SELECT string_agg(i::text, \',\' ORDER BY i) FROM pitr'), '1,2');
    });

    test('refused, nothing changed: --to a cluster node, and a data directory with files without --yes', LONG, async () => {
      const pg2 = f.lab.hosts.find((h) => h.name === 'pg2-srv')!.ip;
      const pg2Started = await f.checks.psql('pg2-srv', 'SELECT pg_postmaster_start_time()');
      const toNode = await cli('restore', '--to', pg2, '--yes');
      assert.equal(toNode.code, 1);
      assert.match(toNode.stderr, new RegExp(`refused, nothing was done: ${pg2.replace(/\./g, '\\.')} is node pg2-srv of stanza demo`));
      // A client other than the CLI is refused by the workflow before any activity runs.
      const handle = await f.client.workflow.start('restoreToHost', {
        taskQueue: TASK_QUEUE, workflowId: restoreWorkflowId(f.spec, pg2),
        args: [f.spec, { place: defaultCopyPlace(f.spec, pg2), target: { type: 'default' }, reuse: true } satisfies RestoreRequest],
      });
      await assert.rejects(handle.result(), (e: unknown) => /invalid input, nothing was done[\s\S]*is node pg2-srv/.test(failureMessage(e)));
      // The same node by another name: pinned with the same host key, so it is the same machine.
      const aliased = join(dir, 'known_hosts');
      const pg2Key = readFileSync(f.spec.ssh.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith('pg2-srv,'))!.split(' ').slice(1).join(' ');
      writeFileSync(aliased, `${readFileSync(f.spec.ssh.knownHostsFile, 'utf8')}pg2-alias ${pg2Key}\n`);
      const aliasSpec = join(dir, 'alias.json');
      writeFileSync(aliasSpec, JSON.stringify({ ...f.spec, ssh: { ...f.spec.ssh, knownHostsFile: aliased } }));
      const byAlias = await runCli(['restore', '--spec', aliasSpec, '--to', 'pg2-alias', '--yes'], f.workerEnv);
      assert.equal(byAlias.code, 1, byAlias.stdout + byAlias.stderr);
      assert.match(byAlias.stderr, /restore failed: pg2-alias presents the host key pinned for node pg2-srv of stanza demo: it is that machine/);
      // The same node at a second address pinned with its ECDSA key (the node is pinned with its
      // ed25519 one): no pin is shared, the keys the machine holds tell, before anything is written there.
      const second = `${pg2.split('.').slice(0, 3).join('.')}.200`;
      const dev = (await f.checks.sh('pg2-srv', ['bash', '-c', 'ip -o -4 addr show | awk -v a="$1/" \'index($4, a) == 1 { print $2 }\'', 'x', pg2])).trim();
      await f.checks.sh('pg2-srv', ['ip', 'addr', 'add', `${second}/24`, 'dev', dev]);
      // The lab's sshd listens on the host's first address only: a second one, same keys, on the second.
      await f.checks.sh('pg2-srv', ['/usr/sbin/sshd', '-o', `ListenAddress=${second}:22`, '-o', 'PidFile=/run/sshd-second.pid', '-E', '/var/log/sshd-second.log']);
      try {
        const ecdsa = (await f.checks.sh('pg2-srv', ['cat', '/etc/ssh/ssh_host_ecdsa_key.pub'])).trim().split(' ').slice(0, 2).join(' ');
        writeFileSync(aliased, `${readFileSync(f.spec.ssh.knownHostsFile, 'utf8')}${second} ${ecdsa}\n`);
        const bySecond = await runCli(['restore', '--spec', aliasSpec, '--to', second, '--yes'], f.workerEnv);
        assert.equal(bySecond.code, 1, bySecond.stdout + bySecond.stderr);
        assert.match(bySecond.stderr, new RegExp(`restore failed: ${literally(second)} holds a host key pinned for node pg2-srv of stanza demo: it is that machine`));
        assert.equal(await f.checks.sh('pg2-srv', ['bash', '-c', 'ls -A "$1" 2>/dev/null | wc -l; ls -A /var/lib/stanzactl/copies 2>/dev/null | wc -l', 'x', defaultCopyPlace(f.spec, second).dataDir]), '0\n0\n', 'nothing was written on pg2');
      } finally {
        await f.checks.sh('pg2-srv', ['bash', '-c', 'kill "$(cat /run/sshd-second.pid)"; ip addr del "$1" dev "$2"', 'x', `${second}/24`, dev]);
      }
      assert.equal(await f.checks.psql('pg2-srv', 'SELECT pg_postmaster_start_time()'), pg2Started);
      assert.equal(await f.checks.psql('pg2-srv', 'SELECT pg_is_in_recovery()'), 't');

      const copyStarted = await onCopy(place, 'SELECT pg_postmaster_start_time()');
      const restoresBefore = await restores();
      const notEmpty = await cli('restore', '--to', f.scratch.ip);
      assert.equal(notEmpty.code, 1);
      assert.match(notEmpty.stderr, new RegExp(`${place.dataDir} is not empty: stanzactl will not restore over it unless asked to \\(--yes\\)`));
      assert.equal(await onCopy(place, 'SELECT pg_postmaster_start_time()'), copyStarted, 'the copy there was left running');
      assert.equal(await restores(), restoresBefore);
    });

    test('--yes reuses the directory with a delta restore, to the end of the archive', LONG, async () => {
      const r = await cli('restore', '--to', f.scratch.ip, '--yes');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /\(delta restore\)/);
      assert.match(r.stdout, /to the end of the archive/);
      assert.equal(await onCopy(place, 'SELECT string_agg(i::text, \',\' ORDER BY i) FROM pitr'), '1,2');
      assert.equal(await onCopy(place, "SELECT count(*) FROM pg_class WHERE relname = 'on_copy'"), '0', 'the old copy\'s own writes are gone');
    });

    test('a worker SIGKILL mid-restore: a second restore to the host is refused meanwhile, one restore ran, the workflow completes', LONG, async () => {
      const second = defaultCopyPlace(f.spec, f.scratch.ip, { dataDir: place.dataDir.replace(/restore$/, 'restore2'), port: f.spec.postgres.port + 1 });
      const before = await restores();
      const handle = await f.client.workflow.start('restoreToHost', {
        taskQueue: TASK_QUEUE, workflowId: restoreWorkflowId(f.spec, f.scratch.ip),
        args: [f.spec, { place: second, target: { type: 'default' }, reuse: false, confirm: planId(restoreFacts(f.spec, { place: second, target: { type: 'default' }, reuse: false })) } satisfies RestoreRequest],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      });
      let open = true;
      handle.result().finally(() => (open = false)).catch(() => undefined);
      await f.runStarted(scratch, handle.firstExecutionRunId, 'restoreCopy', () => open);
      await f.crashWorker();
      // A second restore to the same host while this one is still open (its worker just died): refused, naming it, nothing started.
      const again = await cli('restore', '--to', f.scratch.ip, '--yes');
      assert.equal(again.code, 1, again.stdout + again.stderr);
      assert.match(again.stderr, new RegExp(`refused: a restore of stanza demo to ${f.scratch.ip.replace(/\./g, '\\.')} is already running: workflow ${restoreWorkflowId(f.spec, f.scratch.ip).replace(/\./g, '\\.')} \\(run ${handle.firstExecutionRunId}\\)`));
      const r = (await handle.result()) as RestoreResult;
      assert.equal(await restores(), before + 1, 'one restore ran');
      assert.match(r.steps.find((s) => s.name.startsWith('restore '))?.detail ?? '', /\((re-attached|made by an earlier attempt)\)/);
      assert.equal(r.delta, false);
      assert.ok(r.timeline >= 2, `timeline ${r.timeline}`);
      assert.equal(await onCopy(second, 'SELECT string_agg(i::text, \',\' ORDER BY i) FROM pitr'), '1,2');
      if (layout === 'debian') recordHistory(f.temporal.address, handle.workflowId, 'restore');
    });

    test('the clean-up of an interrupted cluster creation runs as the database account: a config directory it swapped for a link to root\'s leaves root\'s files alone', LONG, async (t) => {
      if (layout !== 'debian') return t.skip('a Debian cluster config only');
      const data = '/var/lib/postgresql/15/swapped';
      const conf = '/etc/postgresql/15/swapped';
      const marker = creationMarker('copy-config', data);
      // An interrupted creation (its marker), and the account's link where the config directory was:
      // what the check before the creation would have refused, swapped in after it.
      await sh(scratch, `set -e; install -d -m 755 /srv/root-owned; echo keep > /srv/root-owned/pg_hba.conf
        install -d -o postgres -g postgres -m 700 ${data}; install -d -o postgres -g postgres /etc/postgresql/15; runuser -u postgres -- ln -sfn /srv/root-owned ${conf}
        install -d -m 700 /var/lib/stanzactl/pending; echo ${data} > ${marker}`);
      try {
        const creation = { kind: 'copy-config', dataDir: data, configDir: conf, owner: 'postgres', strict: false, body: DEBIAN_CONFIG, args: ['15', 'swapped', data, 'postgres', '5499'] } as Creation;
        const outcome = await runCreation(new HostOps(pools.remoteFor(f.spec.ssh)), { name: scratch, host: f.scratch.ip }, creation, 120_000).then((how) => how, (e: unknown) => String(e));
        assert.equal((await sh(scratch, 'stat -c %U /srv/root-owned/pg_hba.conf 2>&1; cat /srv/root-owned/pg_hba.conf 2>&1')).trim(), 'root\nkeep', 'root\'s file is still there');
        assert.match(outcome, /rm: cannot remove '\/etc\/postgresql\/15\/swapped\/pg_hba.conf': Permission denied/);
      } finally {
        await sh(scratch, `rm -f ${marker} ${conf}; rm -rf /srv/root-owned ${data}`);
      }
    });

    test('removeCopy stops a copy and frees its data directory (the drills\' clean-up)', LONG, async () => {
      const acts = createActivities({ remoteFor: pools.remoteFor });
      const now = Date.now();
      const env = new MockActivityEnvironment({
        activityType: 'removeCopy', workflowType: 'restoreToHost', heartbeatTimeoutMs: 20_000, startToCloseTimeoutMs: 180_000,
        currentAttemptScheduledTimestampMs: now, scheduledTimestampMs: now, scheduleToCloseTimeoutMs: 0,
      });
      const removed = (await env.run(() => acts.removeCopy(f.spec, place))) as CopyRemoved;
      assert.equal(removed.changed, true);
      assert.ok(removed.freedBytes > 1_000_000, `${removed.freedBytes} bytes freed`);
      assert.equal((await sh(scratch, `ls -A ${place.dataDir} | wc -l`)).trim(), '0');
      assert.notEqual((await f.checks.sh(scratch, ['bash', '-c', `${f.spec.postgres.binDir}/pg_ctl status -D ${place.dataDir} >/dev/null; echo $?`], f.spec.postgres.osUser)).trim(), '0');
      const again = (await env.run(() => acts.removeCopy(f.spec, place))) as CopyRemoved;
      assert.equal(again.changed, false);
      await assert.rejects(env.run(() => acts.removeCopy(f.spec, { ...place, host: f.lab.hosts.find((h) => h.name === 'pg2-srv')!.ip })), /is node pg2-srv/);
      assert.equal(await f.checks.psql('pg2-srv', 'SELECT pg_is_in_recovery()'), 't');
    });

    test('a target the archive does not reach fails, with PostgreSQL\'s reason', LONG, async () => {
      const later = await f.checks.psql('pg1-srv', `SELECT to_char((now() + interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'`);
      const r = await cli('restore', '--to', f.scratch.ip, '--type', 'time', '--target', later);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /restore failed: .*the copy .*(did not start|stopped during recovery)[\s\S]*recovery ended before configured recovery target was reached/);
    });
  });
}

restoreSuite('debian', 'stoa', '10.231.206.0/24');
restoreSuite('edb', 'stob', '10.231.207.0/24', 'dba');
