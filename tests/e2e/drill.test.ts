import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { startProvision } from '../../src/client';
import type { LabLayout } from '../../dev/lab';
import { TASK_QUEUE } from '../../src/paths';
import type { Spec } from '../../src/spec/schema';
import type { StatusReport } from '../../src/status/render';
import type { DrillOutcome } from '../../src/workflows/drill';
import { ProvisionFixture } from './fixture';
import { drillWorkflowId } from '../../src/workflow-ids';
import { literally, runCli, until } from './harness';
import { recordHistory } from './history';

const LONG = { timeout: 10 * 60_000 };
// At least: the WAL-gap case inserts rows of its own.
const CHECK = "select count(*) >= 100 from drill_rows";

/** A provisioned lab with the scratch host as drills.host, a table the spec's check counts, and helpers. */
function drillLab(layout: LabLayout, prefix: string, subnet: string) {
  const f = new ProvisionFixture(layout, prefix, subnet);
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-drill-'));
  const specFile = join(dir, 'spec.json');
  const lab = {
    f,
    specFile,
    spec: undefined as unknown as Spec,
    writeSpec(spec: Spec, file = specFile) {
      writeFileSync(file, JSON.stringify(spec));
      return file;
    },
    cli: (args: string[], file = specFile) => runCli([...args, '--spec', file], f.workerEnv),
    sh: (host: string, script: string, user?: string) => f.checks.sh(host, ['bash', '-c', script], user),
    async status(): Promise<{ code: number; report: StatusReport }> {
      const r = await lab.cli(['status', '--json']);
      return { code: r.code, report: JSON.parse(r.stdout) as StatusReport };
    },
    /** What the drill left on the scratch host: its data directory's entries and whether a server listens on its port. */
    async leftovers(): Promise<string> {
      const d = lab.spec.drills!;
      return (await lab.sh(f.scratch.name, `ls -A ${d.dataDir} 2>/dev/null | wc -l; ss -ltn 'sport = :${d.port}' | tail -n +2 | wc -l`)).replace(/\s+/g, ' ').trim();
    },
    /** A second stanza served by the same worker whose drills share the host, directory and port. */
    otherStanza: () => lab.writeSpec({ ...lab.spec, stanza: 'other' }, join(dir, 'other.json')),
    restoreStarts: async () => ((await lab.sh(f.scratch.name, 'cat /var/log/pgbackrest/demo-restore.log 2>/dev/null || true')).match(/restore command begin/g) ?? []).length,
  };
  before(async () => {
    await f.setUp();
    const pg = f.spec.postgres;
    lab.spec = {
      ...f.spec,
      drills: { host: f.scratch.ip, dataDir: pg.configDir ? '/var/lib/postgresql/15/drill' : '/var/lib/edb/as15/drill', port: 5433, checks: [CHECK] },
      backups: { ...f.spec.backups, maxAge: { drill: '8d' } },
    };
    lab.writeSpec(lab.spec);
    await (await startProvision(f.client, f.spec)).result();
    await f.checks.psql('pg1-srv', 'CREATE TABLE drill_rows AS SELECT generate_series(1, 100) AS i');
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });
  return lab;
}

describe('restore drills (Debian layout)', { timeout: 60 * 60_000 }, () => {
  const lab = drillLab('debian', 'stwa', '10.231.216.0/24');
  const { f } = lab;

  test('a drill host that is a node is refused, by validate, by drill and by the workflow itself; nothing changes', LONG, async () => {
    const onNode = { ...lab.spec, drills: { ...lab.spec.drills!, host: f.spec.nodes[1].host! } };
    const file = lab.writeSpec(onNode, join(tmpdir(), `stanzactl-drill-node-${process.pid}.json`));
    try {
      const pg2Started = await f.checks.psql('pg2-srv', 'SELECT pg_postmaster_start_time()');
      for (const args of [['validate'], ['drill']]) {
        const r = await lab.cli(args, file);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, /drills.*pg2-srv/);
      }
      // A client other than the CLI: the workflow refuses before any activity.
      await assert.rejects(
        f.client.workflow.execute('restoreDrill', { taskQueue: TASK_QUEUE, workflowId: `drill-refused-${process.pid}`, args: [onNode] }),
        (e: unknown) => e instanceof WorkflowFailedError && /InvalidSpec|pg2-srv/.test(`${(e.cause as Error).message} ${(e.cause as { type?: string }).type}`),
      );
      assert.equal(await f.checks.psql('pg2-srv', 'SELECT pg_postmaster_start_time()'), pg2Started, 'pg2-srv untouched');
      assert.equal(await lab.restoreStarts(), 0, 'no restore ran anywhere');
    } finally {
      rmSync(file, { force: true });
    }
  });

  test('a drill passes, reports RTO and RPO, removes its copy, and status --json shows it', LONG, async () => {
    const r = await lab.cli(['drill']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /restore drill on .*: passed; backup \d{8}-\d{6}F\S*, RTO [\d.]+ s, RPO [\d.]+ s/);
    for (const check of ['restore', 'accepting connections', 'marker', 'pg_amcheck', 'check 1', 'pg_checksums', 'pgbackrest verify']) {
      assert.match(r.stdout, new RegExp(`ok +${check}:`), `${check} passed`);
    }
    assert.equal(await lab.leftovers(), '0 0', 'the copy is stopped and its directory emptied');
    const { code, report } = await lab.status();
    assert.equal(code, 0, JSON.stringify(report.problems));
    const last = report.drill?.last;
    assert.ok(last?.ok, JSON.stringify(report.drill));
    assert.ok(last.rtoSeconds !== null && last.rtoSeconds > 0, `RTO ${last.rtoSeconds}`);
    assert.ok(last.rpoSeconds !== null && last.rpoSeconds >= 0 && last.rpoSeconds < 60, `RPO ${last.rpoSeconds}`);
    assert.deepEqual(report.drill?.lastGood?.runId, last.runId);
    recordHistory(f.temporal.address, last.workflowId, 'drill');
    console.log(`drill (debian): RTO ${last.rtoSeconds} s, RPO ${last.rpoSeconds} s, backup ${last.backupLabel}`);
  });

  test('a scheduled drill fires and its RTO/RPO appear in status --json', LONG, async () => {
    const scheduled = lab.writeSpec({ ...lab.spec, drills: { ...lab.spec.drills!, schedule: '0 3 * * *' } }, join(tmpdir(), `stanzactl-drill-sched-${process.pid}.json`));
    try {
      let r = await lab.cli(['schedule', 'apply'], scheduled);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`${literally(drillWorkflowId(lab.spec))}: created \\(0 3 \\* \\* \\* UTC\\)`));
      r = await lab.cli(['schedule', 'trigger', '--type', 'drill'], scheduled);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const workflowId = /started workflow (\S+)/.exec(r.stdout)?.[1];
      assert.ok(workflowId?.startsWith(`${drillWorkflowId(lab.spec)}-`), r.stdout);
      const outcome = (await f.client.workflow.getHandle(workflowId!).result()) as DrillOutcome;
      recordHistory(f.temporal.address, workflowId!, 'drill-scheduled');
      const { report } = await lab.status();
      assert.equal(report.drill?.last?.workflowId, workflowId);
      assert.equal(report.drill?.last?.rtoSeconds, outcome.drill.rtoSeconds);
      assert.equal(report.drill?.last?.rpoSeconds, outcome.drill.rpoSeconds);
      assert.ok(report.schedules.some((s) => s.type === 'drill' && s.id === drillWorkflowId(lab.spec)), JSON.stringify(report.schedules));
      r = await lab.cli(['schedule', 'list'], scheduled);
      assert.match(r.stdout, new RegExp(`ran .* ${workflowId}: done \\(backup .*RTO`));
    } finally {
      // The spec without drills.schedule: apply deletes the drill schedule.
      const r = await lab.cli(['schedule', 'apply']);
      assert.match(r.stdout, new RegExp(`${literally(drillWorkflowId(lab.spec))}: deleted`));
      rmSync(scheduled, { force: true });
    }
  });

  test('a scheduled drill fired while a manual one restores is refused, naming it; the manual drill passes', LONG, async () => {
    const scheduled = lab.writeSpec({ ...lab.spec, drills: { ...lab.spec.drills!, schedule: '0 3 * * *' } }, join(tmpdir(), `stanzactl-drill-two-${process.pid}.json`));
    const before = await lab.restoreStarts();
    let manual: ReturnType<typeof lab.cli> | undefined;
    try {
      assert.equal((await lab.cli(['schedule', 'apply'], scheduled)).code, 0);
      manual = lab.cli(['drill']);
      let open = true;
      void manual.finally(() => (open = false));
      // The manual drill's id ran before: only a running one is this test's.
      const { runId } = await until('the manual drill to start', async () => {
        const d = await f.client.workflow.getHandle(drillWorkflowId(lab.spec)).describe().catch(() => undefined);
        return d?.status.name === 'RUNNING' ? d : undefined;
      }, 30_000);
      await f.runStarted(f.scratch.name, runId, 'restoreCopy', () => open);
      // The schedule's own start, as at 03:00: the CLI's check of running drills is not in its way.
      const r = await lab.cli(['schedule', 'trigger', '--type', 'drill'], scheduled);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const second = /started workflow (\S+)/.exec(r.stdout)?.[1];
      assert.ok(second, r.stdout);
      await assert.rejects(f.client.workflow.getHandle(second).result(), (e: unknown) => {
        // The workflow failed with its lock step's failure.
        const cause = ((e as WorkflowFailedError).cause as ActivityFailure).cause as ApplicationFailure;
        assert.equal(cause.type, 'DrillBusy', cause.message);
        assert.match(cause.message, new RegExp(`:/var/lib/postgresql/15/drill \\(port 5433\\) is busy: the directory held by ${literally(drillWorkflowId(lab.spec))} since .*; port 5433 held by ${literally(drillWorkflowId(lab.spec))} since .*nothing was done`));
        return true;
      });
      // Another stanza's drill on the same host, directory and port: refused at once, as busy.
      const other = await lab.cli(['drill'], lab.otherStanza());
      assert.equal(other.code, 1, other.stdout + other.stderr);
      assert.match(other.stdout + other.stderr, new RegExp(`:/var/lib/postgresql/15/drill \\(port 5433\\) is busy: the directory held by ${literally(drillWorkflowId(lab.spec))} since .*; port 5433 held by ${literally(drillWorkflowId(lab.spec))} since .*nothing was done`));
      const done = await manual;
      assert.equal(done.code, 0, done.stdout + done.stderr);
      assert.equal(await lab.restoreStarts(), before + 1, 'only the manual drill restored');
      assert.equal(await lab.leftovers(), '0 0');
      const { report } = await lab.status();
      assert.equal(report.drill?.last?.workflowId, drillWorkflowId(lab.spec), 'the refused drill recorded nothing');
      assert.equal(report.drill?.last?.ok, true);
    } finally {
      await manual; // the next test's drill would be refused beside it
      assert.match((await lab.cli(['schedule', 'apply'])).stdout, new RegExp(`${literally(drillWorkflowId(lab.spec))}: deleted`));
      rmSync(scheduled, { force: true });
    }
  });

  test('worker SIGKILL mid-restore in a drill: one restore, the drill completes', LONG, async () => {
    const before = await lab.restoreStarts();
    const handle = await f.client.workflow.start('restoreDrill', { taskQueue: TASK_QUEUE, workflowId: `${drillWorkflowId(lab.spec)}-kill-${process.pid}`, args: [lab.spec] });
    let open = true;
    const result = handle.result().finally(() => (open = false));
    await f.runStarted(f.scratch.name, handle.firstExecutionRunId, 'restoreCopy', () => open);
    await f.crashWorker();
    const outcome = (await result) as DrillOutcome;
    assert.ok(outcome.drill.ok, JSON.stringify(outcome.drill.checks));
    assert.equal(await lab.restoreStarts(), before + 1, 'pgBackRest restored once: the retry re-attached');
  });

  test('a byte flipped in a backup file fails the drill red, naming the file; status exits 1', LONG, async () => {
    const repo = f.spec.repository;
    // The newest backup's largest file: with repo1-bundle (the default) a bundle of small files, else a
    // relation file; either way restored by every drill.
    const latest = `${repo.path}/backup/demo/latest`;
    const file = (await lab.sh('backup-srv', `cd ${latest} && find . -type f ! -name 'backup.manifest*' -printf '%s %P\\n' | sort -rn | head -1 | cut -d' ' -f2`)).trim();
    assert.ok(file, 'the newest backup holds a file');
    const path = `${latest}/${file}`;
    await lab.sh('backup-srv', `cp -p ${path} /root/flip.orig && printf '\\x42' | dd of=${path} bs=1 seek=100 conv=notrunc 2>/dev/null`);
    try {
      const r = await lab.cli(['drill']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /restore drill on .*: FAILED/);
      // pgBackRest's restore says only what broke (zlib, checksum); verify, run after it, names the file
      // (for a bundle, the file inside it that the flipped byte belongs to).
      assert.match(r.stdout, /FAILED restore: pgBackRest on .* failed with \w+Error/);
      const named = /FAILED pgbackrest verify: invalid checksum '(\S+\/pg_data\/\S+)'/.exec(r.stdout);
      assert.ok(named, r.stdout);
      assert.match(r.stderr, /drill failed: restore drill of demo on .* failed: restore: /);
      assert.equal(await lab.leftovers(), '0 0', 'the failed copy is removed too');
      const { code, report } = await lab.status();
      assert.equal(code, 1);
      const name = named[1].slice(named[1].indexOf('pg_data/'));
      assert.ok(report.problems.some((p) => p.includes('the last restore drill') && p.includes(name)), JSON.stringify(report.problems));
      assert.equal(report.drill?.lastGood?.ok, true, 'the last passed drill is still shown');
    } finally {
      await lab.sh('backup-srv', `cp -p /root/flip.orig ${path}`);
    }
  });

  test('a WAL segment removed from the archive fails the drill red, naming it; status exits 1', LONG, async () => {
    // As before a first drill: the newest backup has no marker table, and recovery will stop before
    // the drill creates it.
    await f.checks.psql('pg1-srv', 'DROP SCHEMA IF EXISTS stanzactl CASCADE');
    const backup = await lab.cli(['backup', '--type', 'full']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    // Segments after the newest backup: the restore needs them to reach the end of the archive.
    let segments: string[] = [];
    for (let i = 0; i < 3; i++) {
      segments.push(await f.checks.psql('pg1-srv', `INSERT INTO drill_rows VALUES (${1000 + i}); SELECT pg_walfile_name(pg_switch_wal())`));
    }
    segments = segments.map((s) => s.split('\n').pop()!);
    const gone = segments[1];
    const archive = `${f.spec.repository.path}/archive/demo/15-1/${gone.slice(0, 16)}`;
    // Asynchronous archiving pushes segments in parallel: the next one in the archive does not mean
    // this one is complete (its temporary file may still be open). PostgreSQL marks a segment archived
    // only once pgBackRest acknowledged it, and in order, so wait for the last one there.
    await until(`${segments[2]} archived`, async () => (await f.checks.psql('pg1-srv', `SELECT coalesce(last_archived_wal >= '${segments[2]}', false) FROM pg_stat_archiver`)) === 't', 30_000);
    await lab.sh('backup-srv', `mv ${archive}/${gone}-*.zst /root/`);
    try {
      const r = await lab.cli(['drill']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAILED marker: .*WAL segment ${gone} is missing`));
      assert.match(r.stdout, new RegExp(`FAILED pgbackrest verify: WAL missing from the archive \\(15-1\\): ${gone}`));
      const { code, report } = await lab.status();
      assert.equal(code, 1);
      assert.ok(report.problems.some((p) => p.includes(gone)), JSON.stringify(report.problems));
    } finally {
      await lab.sh('backup-srv', `mv /root/${gone}-*.zst ${archive}/`);
    }
  });
  test('checks run as a read-only role: a write through a production function fails and touches nothing, data never reaches the record', LONG, async () => {
    const probe = `/tmp/stanzactl-check-probe-${process.pid}`;
    const secret = `secret-${process.pid}`;
    // What a check may reach on a production copy: a function anyone may call that runs a program
    // (it passes validation: the grammar cannot know what a user's function does) and a value
    // that an error message would quote.
    await f.checks.psql('pg1-srv', `CREATE OR REPLACE FUNCTION public.stanzactl_probe() RETURNS int LANGUAGE plpgsql AS $$ BEGIN COPY (SELECT 1) TO PROGRAM 'touch ${probe}'; RETURN 1; END $$;
      DROP TABLE IF EXISTS check_secrets; CREATE TABLE check_secrets AS SELECT '${secret}'::text AS s`);
    const copyToProgram = { ...lab.spec, drills: { ...lab.spec.drills!, checks: [CHECK, `COPY (SELECT 1) TO PROGRAM 'touch ${probe}'`] } };
    const refusedFile = lab.writeSpec(copyToProgram, join(tmpdir(), `stanzactl-drill-copy-${process.pid}.json`));
    const checks = [CHECK, 'select public.stanzactl_probe() = 1', 'select (select s from check_secrets)::int = 1'];
    const file = lab.writeSpec({ ...lab.spec, drills: { ...lab.spec.drills!, checks } }, join(tmpdir(), `stanzactl-drill-checks-${process.pid}.json`));
    try {
      for (const args of [['validate'], ['drill']]) {
        const refused = await lab.cli(args, refusedFile);
        assert.equal(refused.code, 2, refused.stdout + refused.stderr);
        assert.match(refused.stderr, /drills\.checks\[1\]: not a drill check stanzactl runs: the keyword COPY/);
      }
      const r = await lab.cli(['drill'], file);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /ok +check 1: returned true/);
      assert.match(r.stdout, /FAILED check 2: failed: SQLSTATE 42501 \(insufficient privilege/);
      assert.match(r.stdout, /FAILED check 3: failed: SQLSTATE 22P02 \(data exception\)/);
      assert.equal((await lab.sh(f.scratch.name, `test -e ${probe} && echo created || echo absent`)).trim(), 'absent', 'the check ran no program on the scratch host');
      const { report } = await lab.status();
      const last = report.drill!.last!;
      assert.deepEqual(last.checks.filter((c) => c.name.startsWith('check ')).map((c) => [c.name, c.ok]), [['check 1', true], ['check 2', false], ['check 3', false]]);
      const record = await lab.sh('backup-srv', 'cat /var/lib/stanzactl/drills/demo.json');
      // Payloads are bytes: read them as the text they carry.
      const history = JSON.stringify(await f.client.workflow.getHandle(last.workflowId, last.runId).fetchHistory(), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
      for (const [where, text] of [['the record', record], ['status --json', JSON.stringify(report)], ['the CLI', r.stdout + r.stderr], ['the history', history]]) {
        assert.ok(!text.includes(secret), `${where} quotes the copy's data`);
      }
    } finally {
      rmSync(refusedFile, { force: true });
      rmSync(file, { force: true });
      await f.checks.psql('pg1-srv', 'DROP FUNCTION IF EXISTS public.stanzactl_probe(); DROP TABLE IF EXISTS check_secrets');
    }
  });

  test('a workflow that is not the drill cannot record a drill result; status shows only real drills', LONG, async () => {
    const { NativeConnection, Worker } = await import('@temporalio/worker');
    const before = (await lab.status()).report.drill?.last?.runId;
    const year = Date.now() / 1000 + 365 * 86_400;
    const forged = {
      stanza: lab.spec.stanza, workflowId: drillWorkflowId(lab.spec), runId: 'forged', host: lab.spec.drills!.host, startedAt: year, endedAt: year, ok: true,
      backupLabel: 'forged', rtoSeconds: 1, rpoSeconds: 0, checks: [], failure: null,
    };
    const connection = await NativeConnection.connect({ address: f.temporal.address });
    try {
      const taskQueue = `forger-${process.pid}`;
      const worker = await Worker.create({ connection, taskQueue, workflowsPath: require.resolve('./forged-drill-workflow') });
      const outcome = await worker.runUntil(f.client.workflow.execute('forgeDrillRecord', { taskQueue, workflowId: `forge-${process.pid}`, args: [lab.spec, forged] }).then(() => undefined, (e: unknown) => e));
      assert.ok(outcome instanceof WorkflowFailedError, 'the forging workflow completed: recordDrill kept its result');
      const cause = (outcome.cause as ActivityFailure).cause as ApplicationFailure;
      assert.equal(cause.type, 'ForgedDrillRecord', String(outcome));
      assert.match(cause.message, /only a restoreDrill run records its own drill: this call came from forgeDrillRecord/);
    } finally {
      await connection.close();
    }
    const { report } = await lab.status();
    assert.equal(report.drill?.last?.runId, before, 'the record is the last real drill\'s');
  });

  // What sits at drills.dataDir: every file's checksum and the postmaster's pid if one runs. An idle
  // server still writes its WAL (a running-xacts record after a checkpoint) and pg_control: those are
  // left out; a restore or an emptying would change the relation and catalog files.
  const snapshot = (dir: string) => lab.sh(f.scratch.name,
    `cd ${dir} && find . -type f ! -name 'postmaster.*' ! -path './pg_wal/*' ! -path './global/pg_control' ! -path './pg_logical/*' -print0 | sort -z | xargs -0 md5sum; ` +
    `p=$(head -1 postmaster.pid 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "postmaster $p runs"; else echo "no postmaster"; fi`).then((s) => s.trim());
  const foreignBin = '/usr/lib/postgresql/15/bin';

  test('a foreign cluster running at drills.dataDir: drill and restore --to --yes are refused, naming it; it still runs, its files unchanged', LONG, async () => {
    const d = lab.spec.drills!;
    // A cluster stanzactl did not make, running on the drill's directory and port.
    await lab.sh(f.scratch.name, `set -e; pg_ctlcluster 15 drill stop 2>/dev/null || true
      rm -rf ${d.dataDir}; install -d -o postgres -g postgres -m 700 ${d.dataDir}
      runuser -u postgres -- ${foreignBin}/initdb -D ${d.dataDir} >/dev/null
      runuser -u postgres -- ${foreignBin}/pg_ctl -D ${d.dataDir} -o '-p ${d.port}' -l /tmp/foreign.log -w start >/dev/null
      runuser -u postgres -- ${foreignBin}/psql -X -q -p ${d.port} -d postgres -c 'CREATE TABLE forensic AS SELECT 1 AS i' -c CHECKPOINT`);
    const systemId = (await lab.sh(f.scratch.name, `runuser -u postgres -- ${foreignBin}/pg_controldata ${d.dataDir} | sed -n 's/^Database system identifier: *//p'`)).trim();
    try {
      const before = await snapshot(d.dataDir);
      assert.match(before, /postmaster \d+ runs/);
      const starts = await lab.restoreStarts();
      const r = await lab.cli(['drill']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const named = new RegExp(`${f.scratch.ip.replace(/\./g, '\\.')}:${d.dataDir} holds a PostgreSQL cluster \\(system id ${systemId}, running\\) that stanzactl did not create for drills of stanza demo: refused, nothing changed`);
      assert.match(r.stdout + r.stderr, named);
      const restore = await runCli(['restore', '--to', f.scratch.ip, '--data-dir', d.dataDir, '--port', String(d.port), '--yes', '--spec', lab.specFile], f.workerEnv);
      assert.notEqual(restore.code, 0, restore.stdout + restore.stderr);
      assert.match(restore.stdout + restore.stderr, /holds a PostgreSQL cluster \(system id \d+, running\) that stanzactl did not create for restores of stanza demo: refused, nothing changed/);
      assert.equal(await snapshot(d.dataDir), before, 'the foreign cluster still runs and its files are unchanged');
      assert.equal(await lab.restoreStarts(), starts, 'no restore ran');
      assert.equal((await lab.sh(f.scratch.name, `runuser -u postgres -- ${foreignBin}/psql -X -At -p ${d.port} -d postgres -c 'SELECT count(*) FROM forensic'`)).trim(), '1');
    } finally {
      await lab.sh(f.scratch.name, `pg_ctlcluster 15 drill stop 2>/dev/null; runuser -u postgres -- ${foreignBin}/pg_ctl -D ${d.dataDir} -m fast -w stop >/dev/null 2>&1; find ${d.dataDir} -mindepth 1 -delete; true`);
    }
  });

  test("a copy made by restore --to on the drill's directory: the drill is refused and the copy still runs", LONG, async () => {
    const d = lab.spec.drills!;
    // Whatever an earlier test left there (nothing, after a passing one) goes: the directory is empty.
    await lab.sh(f.scratch.name, `pg_ctlcluster 15 drill stop 2>/dev/null; runuser -u postgres -- ${foreignBin}/pg_ctl -D ${d.dataDir} -m fast -w stop >/dev/null 2>&1; find ${d.dataDir} -mindepth 1 -delete; true`);
    const r = await runCli(['restore', '--to', f.scratch.ip, '--data-dir', d.dataDir, '--port', String(d.port), '--spec', lab.specFile], f.workerEnv);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    try {
      await lab.sh(f.scratch.name, `runuser -u postgres -- ${foreignBin}/psql -X -q -p ${d.port} -d postgres -c 'CREATE TABLE forensic AS SELECT 1 AS i' -c CHECKPOINT`);
      const before = await snapshot(d.dataDir);
      assert.match(before, /postmaster \d+ runs/);
      const starts = await lab.restoreStarts();
      const drill = await lab.cli(['drill']);
      assert.equal(drill.code, 1, drill.stdout + drill.stderr);
      assert.match(drill.stdout + drill.stderr, /holds a copy of stanza demo \(system id \d+, running\) that stanzactl restored for a restore --to, not for drills of stanza demo: refused, nothing changed/);
      // Another stanza whose drills share the directory: refused, naming whose copy it is.
      const other = await lab.cli(['drill'], lab.otherStanza());
      assert.equal(other.code, 1, other.stdout + other.stderr);
      assert.match(other.stdout + other.stderr, /holds a copy of stanza demo \(system id \d+, running\) that stanzactl restored for a restore --to, not for drills of stanza other: refused, nothing changed/);
      assert.equal(await snapshot(d.dataDir), before, 'the copy still runs and its files are unchanged');
      assert.equal(await lab.restoreStarts(), starts, 'no restore ran');
    } finally {
      // As a DBA done with the copy: stop it, empty the directory and drop stanzactl's claim on it.
      await lab.sh(f.scratch.name, `pg_ctlcluster 15 drill stop 2>/dev/null || true; find ${d.dataDir} -mindepth 1 -delete; rm -rf /var/lib/stanzactl/copies`);
    }
  });
});

describe('restore drills (EDB-like layout)', { timeout: 30 * 60_000 }, () => {
  const lab = drillLab('edb', 'stwb', '10.231.217.0/24');

  test('a drill passes and status --json shows RTO and RPO', LONG, async () => {
    const r = await lab.cli(['drill']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok +pg_amcheck:/);
    assert.match(r.stdout, /ok +check 1:/);
    assert.equal(await lab.leftovers(), '0 0');
    const { code, report } = await lab.status();
    assert.equal(code, 0, JSON.stringify(report.problems));
    assert.ok(report.drill?.last?.ok && report.drill.last.rtoSeconds! > 0, JSON.stringify(report.drill));
    console.log(`drill (edb): RTO ${report.drill.last.rtoSeconds} s, RPO ${report.drill.last.rpoSeconds} s`);
  });
});
