import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { labExec, labStartS3, labStopS3, PRIMARY_HOST, REPOSITORY_HOST } from '../../dev/lab';
import { failureMessage, startProvision } from '../../src/client';
import { startBackup } from '../../src/commands/backup';
import type { StatusReport } from '../../src/status/render';
import type { Spec } from '../../src/spec/schema';
import type { ProvisionResult } from '../../src/workflows/provision';
import { recoverWorkflowId, scheduleId } from '../../src/workflow-ids';
import { ProvisionFixture } from './fixture';
import { guardedTeardown, runCli, until } from './harness';
import { recordHistory } from './history';
import { RecoverChecks } from './recover-checks';
import { leaks } from './leaks';

const LONG = { timeout: 6 * 60_000 };

interface RepoInfo {
  backup: { label: string; type: string; database: { 'repo-key': number } }[];
  archive: { max: string | null; database: { 'repo-key': number } }[];
  repo: { key: number; status: { code: number; message: string } }[];
}

/**
 * repo2 on the lab's S3 server (versitygw, TLS with the lab's private CA): a live stanza gets it
 * from provision, archives and backs up there, restores a drill from it, and loses it for a while.
 */
describe('an offsite repository: repo2 on the lab\'s S3 server', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stof', '10.231.106.0/24').withS3();
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-offsite-'));
  const specFile = join(dir, 'spec.json');
  const cli = (...args: string[]) => runCli([...args, '--spec', specFile], f.workerEnv);
  let live: Spec;
  let spec: Spec;
  let firstRepo1Full: string;
  const on = async (host: string, script: string) => {
    const r = await labExec(f.lab, host, ['bash', '-c', script]);
    assert.equal(r.code, 0, `${host}: ${script}: ${r.stderr}`);
    return r.stdout;
  };
  const info = async (repo: 1 | 2): Promise<RepoInfo> =>
    (JSON.parse(await on(REPOSITORY_HOST, `runuser -u pgbackrest -- pgbackrest --stanza=demo --repo=${repo} --output=json info`)) as RepoInfo[])[0];
  const labels = async (repo: 1 | 2, type?: string) => (await info(repo)).backup.filter((b) => type === undefined || b.type === type).map((b) => b.label);
  const switchedSegment = async () => (await f.checks.psql(PRIMARY_HOST, "SELECT pg_walfile_name(pg_switch_wal())")).trim();
  const holds = async (repo: 1 | 2, segment: string) => ((await info(repo)).archive.map((a) => a.max ?? '').sort().pop() ?? '') >= segment;

  const teardown = guardedTeardown(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });
  before(async () => {
    await f.setUp();
    const [pg1, pg2] = f.spec.nodes;
    const s3 = f.lab.s3!;
    live = { ...f.spec, nodes: [pg1, pg2], drills: { host: f.scratch.ip, dataDir: '/var/lib/postgresql/15/drill', port: 5433 } };
    spec = {
      ...live,
      offsite: {
        type: 's3', endpoint: s3.endpoint, port: s3.port, bucket: s3.bucket, region: s3.region, uriStyle: 'path', caFile: s3.caFile,
        accessKey: { env: 'STANZACTL_SECRET_S3_ACCESS' }, secretKey: { env: 'STANZACTL_SECRET_S3_SECRET' }, path: '/demo', retentionFull: 2,
      },
    };
    writeFileSync(specFile, JSON.stringify(spec));
    // pgBackRest retries each S3 request for io-timeout (60 s by default) before it gives up: a site's
    // conf.d fragment makes it 10 s where backups and drills run, so the outage below fails the
    // repo2 backup in a minute, not several. The nodes' archive-push gets its 10 s from stanzactl
    // alone (offsite.archiveIoTimeout): the outage measures that.
    await Promise.all([REPOSITORY_HOST, f.scratch.name].map((h) =>
      on(h, 'install -d -m 755 /etc/pgbackrest/conf.d && printf "[global]\\nio-timeout=10\\n" > /etc/pgbackrest/conf.d/io-timeout.conf && chmod 644 /etc/pgbackrest/conf.d/io-timeout.conf')));
    // A cluster that has run on repo1 alone: the offsite repository is added to it later, live.
    await (await startProvision(f.client, live)).result();
    firstRepo1Full = (await labels(1, 'full'))[0];
  });
  after(teardown);

  test('provision adds repo2 to the live stanza: created there, WAL to both, a first full backup there, repo1 untouched', LONG, async () => {
    const result = (await (await startProvision(f.client, spec)).result()) as ProvisionResult;
    const step = (name: string) => result.steps.find((s) => s.name === name);
    assert.match(step('stanza-create')?.detail ?? '', /created|exists/);
    assert.equal(step('offsite full backup')?.status, 'done', JSON.stringify(result.steps));
    assert.ok(result.offsiteBackup, 'the provision reports repo2\'s full backup');
    assert.deepEqual(await labels(2, 'full'), [result.offsiteBackup.label]);
    assert.deepEqual(await labels(1, 'full'), [firstRepo1Full], 'repo1 keeps its backup, and gets no second one');
    const segment = await switchedSegment();
    await until(`${segment} in both repositories`, async () => (await holds(1, segment)) && (await holds(2, segment)), 60_000, 500);
    // The nodes push to repo2 themselves: their file has its keys, readable by the cluster's owner only.
    const conf = await on(PRIMARY_HOST, 'stat -c "%a %U %G" /etc/pgbackrest.conf; cat /etc/pgbackrest.conf');
    assert.match(conf, /^640 root postgres$/m);
    assert.match(conf, /^repo2-s3-key-secret=/m);
    assert.match(conf, /^\[demo:archive-push\]\nio-timeout=10$/m);
    recordHistory(f.temporal.address, `provision-demo@${spec.repository.host}`, 'provision-offsite');
  });

  test('backups per repository: --repo 2 lands in repo2 alone; the offsite schedules are their own', LONG, async () => {
    const before1 = await labels(1);
    const r = await cli('backup', '--type', 'diff', '--repo', '2');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /diff backup \S+D /);
    assert.equal((await labels(2, 'diff')).length, 1);
    assert.deepEqual(await labels(1), before1);
    recordHistory(f.temporal.address, /^workflow (\S+)/m.exec(r.stdout)![1], 'backup-offsite');
    const scheduled = { ...spec, backups: { schedule: { full: '0 1 * * *' } }, offsite: { ...spec.offsite!, schedule: { full: '0 2 * * 0' } } };
    const file = join(dir, 'scheduled.json');
    writeFileSync(file, JSON.stringify(scheduled));
    const applied = await runCli(['schedule', 'apply', '--spec', file], f.workerEnv);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    const offsite = await f.client.schedule.getHandle(scheduleId(spec, 'offsite-full')).describe();
    assert.deepEqual(offsite.action.type === 'startWorkflow' && offsite.action.args?.[1], { type: 'full', repo: 2 });
    const repo1 = await f.client.schedule.getHandle(scheduleId(spec, 'full')).describe();
    assert.deepEqual(repo1.action.type === 'startWorkflow' && repo1.action.args?.[1], { type: 'full' });
    assert.equal((await runCli(['schedule', 'apply', '--spec', specFile], f.workerEnv)).code, 0, 'the spec without schedules deletes both');
  });

  test('a drill from repo2 passes: the backup and its WAL come from the offsite repository', LONG, async () => {
    const r = await cli('drill', '--repo', '2');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /from repo2/);
    // pgBackRest repeats --repo=2 in the copy's restore_command: archive-get (its lines in the copy's
    // server log) found every segment there.
    const got = await on(f.scratch.name, 'grep -h "found [0-9A-F]* in the repo" /var/log/postgresql/*.log || true');
    assert.match(got, /found \S+ in the repo2:/);
    assert.doesNotMatch(got, /found \S+ in the repo1:/);
  });

  test('recover chooses among repo1\'s backups and restores with --repo=1, though repo2 holds a newer one; --repo 2 plans from repo2', { timeout: 10 * 60_000 }, async () => {
    const r = new RecoverChecks(f.checks);
    const target = await r.tableThenDrop('before_recover', 3);
    const repo1Newest = (await labels(1)).sort().pop()!;
    const repo2Newest = (await labels(2)).sort().pop()!;
    assert.ok(repo2Newest > repo1Newest, `repo2's ${repo2Newest} is newer than repo1's ${repo1Newest}`);
    const plan2 = await cli('recover', '--type', 'time', '--target', target, '--repo', '2');
    assert.equal(plan2.code, 2, plan2.stdout + plan2.stderr);
    assert.match(plan2.stdout, new RegExp(`backup +${repo2Newest} \\(diff in repo2, `));
    const out = await cli('recover', '--type', 'time', '--target', target, '--yes');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, new RegExp(`backup +${repo1Newest} \\(full in repo1, `));
    assert.equal(await r.tableRows('before_recover'), '3', 'the dropped table is back');
    const begun = await on(PRIMARY_HOST, 'grep -h "restore command begin" /var/log/pgbackrest/demo-restore.log | tail -1');
    assert.match(begun, /--repo=1 /);
    assert.match(begun, new RegExp(`--set=${repo1Newest} `));
    // pgBackRest repeats --repo in the restore_command it writes: the primary replayed repo1's WAL.
    assert.match(await on(PRIMARY_HOST, 'grep -h "^restore_command" /var/lib/postgresql/15/main/postgresql.auto.conf'), /--repo=1 /);
    recordHistory(f.temporal.address, recoverWorkflowId(spec), 'recover-offsite');
  });

  test('the S3 server stopped mid-backup fails that backup at once; WAL still reaches repo1; status says so; its return lets the next backup succeed', { timeout: 18 * 60_000 }, async (t) => {
    const t0 = Date.now();
    const said = (what: string) => {
      const line = `${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`;
      t.diagnostic(line);
      console.log(line);
    };
    const handle = await startBackup(f.client, spec, 'full', 2);
    await until('the repo2 backup running', async () => (await on(REPOSITORY_HOST, 'ps -eo args=')).split('\n').some((l) => /pgbackrest .*--repo=2 .*backup$/.test(l)), 60_000, 50);
    await labStopS3(f.lab);
    said('the S3 server stopped during the repo2 backup');
    try {
      await assert.rejects(handle.result(), (e: Error) => {
        said(`the repo2 backup failed: ${failureMessage(e).split('\n')[0]}`);
        return true;
      });
      // Asynchronous archiving keeps pushing to repo1 while archive_command fails for repo2's sake.
      const switched = Date.now();
      const segment = await switchedSegment();
      // At pgBackRest's own io-timeout (60 s) this would take some 8 minutes.
      await until(`${segment} in repo1 with repo2 down`, () => holds(1, segment), 3 * 60_000, 1000);
      const failed = await f.checks.psql(PRIMARY_HOST, 'SELECT failed_count FROM pg_stat_archiver');
      said(`${segment} reached repo1 ${((Date.now() - switched) / 1000).toFixed(0)} s after its switch with repo2 down; pg_stat_archiver.failed_count ${failed}`);
      const down = await cli('status', '--json');
      assert.equal(down.code, 1, down.stdout + down.stderr);
      const report = JSON.parse(down.stdout) as StatusReport;
      assert.notEqual(report.repos.find((x) => x.key === 2)?.status.code, 0, JSON.stringify(report.repos));
      assert.equal(report.repos.find((x) => x.key === 1)?.status.code, 0);
      assert.match(report.problems.join('\n'), /repo2: /);
      assert.match((await cli('status')).stdout, /repo2 \(offsite\)\s+ERROR/);
      said('status names repo2 and exits 1');
      // check and stanza-create work on every repository: provision proves repo1 alone, then stops at repo2's backup.
      const provision = await cli('provision');
      const printed = provision.stdout + provision.stderr;
      assert.notEqual(provision.code, 0, printed);
      assert.match(printed, /✓ ok +stanza-create \(.*in repo1; repo2 cannot be read \(.*\): stanza-create, which needs it, was not run/);
      assert.match(printed, /✓ ok +check \(.*repo2 cannot be read \(.*\), so pgbackrest check, which needs every repository, was not run: \S+, switched out (by an earlier attempt )?on pg1-srv, reached repo1 \(archive\/demo\/\S+\) in \d+ s/);
      assert.match(printed, /✗ +offsite full backup \(.*repo2 \(offsite, s3\.lab\.internal\) cannot be reached: pgBackRest cannot read it/);
      said(`provision with repo2 down: ${/check \(([\d.]+ s)\)/.exec(printed)?.[1]} for the check, then refused repo2's backup`);
    } finally {
      await labStartS3(f.lab);
    }
    const again = await cli('backup', '--type', 'full', '--repo', '2');
    assert.equal(again.code, 0, again.stdout + again.stderr);
    said('the S3 server back: a full backup to repo2');
    await until('status ok with repo2 back', async () => (await cli('status')).code === 0, 120_000, 2000);
    said('status ok');
  });

  test('the S3 keys are in no workflow history and no Schedule; the hosts hold them only in pgbackrest.conf', LONG, async () => {
    const { accessKey, secretKey } = f.lab.s3!;
    let runs = 0;
    for await (const w of f.client.workflow.list()) {
      const history = await f.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      runs++;
      assert.ok(!leaks(history, secretKey), `${w.workflowId}: the S3 secret key is in its history`);
      assert.ok(!leaks(history, accessKey), `${w.workflowId}: the S3 access key is in its history`);
    }
    assert.ok(runs >= 6, `${runs} runs scanned`);
    for (const host of [REPOSITORY_HOST, PRIMARY_HOST]) {
      const logs = await on(host, 'cat /var/log/pgbackrest/*.log /var/log/postgresql/*.log 2>/dev/null || true');
      assert.ok(!logs.includes(secretKey), `${host}: the S3 secret key is in a log`);
    }
  });
});
