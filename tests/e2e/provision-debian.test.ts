import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProvision, type ProvisionResult } from '../../src/client';
import { labExec } from '../../dev/lab';
import { ProvisionFixture } from './fixture';
import { runCli, until } from './harness';
import { activityRuns, inFlightAt, recordHistory } from './history';

const LONG = { timeout: 15 * 60_000 };

describe('provision on the Debian layout', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stzd', '10.231.21.0/24');
  before(() => f.setUp());
  after(f.teardown);

  test('a host key missing from knownHostsFile fails before anything changes', LONG, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-kh-'));
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, readFileSync(f.spec.ssh.knownHostsFile, 'utf8').split('\n').filter((l) => !l.startsWith('pg2-srv,')).join('\n'));
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify({ ...f.spec, ssh: { ...f.spec.ssh, knownHostsFile: knownHosts } }));
    const cli = await runCli(['provision', '--spec', specFile], f.workerEnv);
    rmSync(dir, { recursive: true });
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(cli.stderr, /provision failed: .*pg2-srv/);
    assert.match(cli.stderr, /known_hosts/);
    assert.match(cli.stdout, /✗\s+preflight/);
    // Nothing changed: no repository user, no cluster.
    assert.notEqual((await labExec(f.lab, 'backup-srv', ['getent', 'passwd', f.spec.repository.user])).code, 0);
    assert.equal((await labExec(f.lab, 'pg1-srv', ['pg_lsclusters', '-h'])).stdout.trim(), '');
  });

  test('provision survives a worker SIGKILLed during the full backup', LONG, async () => {
    const handle = await startProvision(f.client, f.spec);
    let open = true;
    handle.result().finally(() => (open = false)).catch(() => undefined);
    // The activity polls the detached backup each second: it is mid-flight when the run appears.
    await f.runStarted('backup-srv', handle.firstExecutionRunId, 'ensureFullBackup', () => open);
    const crashedAt = Date.now();
    await f.crashWorker();
    const result = (await handle.result()) as ProvisionResult;
    assert.equal(result.changed, true);
    assert.deepEqual(result.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);

    const history = await handle.fetchHistory();
    const runs = activityRuns(history);
    // Steps that overlap the backup (preparing the standbys) may be in flight too on a slow machine.
    const interrupted = inFlightAt(history, crashedAt);
    assert.ok(interrupted.includes('ensureFullBackup'), interrupted.join(', '));
    // Every re-run was in flight at the crash; one in flight may still have reported its end
    // between that moment and the worker's death (CI saw ensureStandbyPgpass do so), and run once.
    const reruns = runs.filter((r) => r.attempt !== 1).map((r) => r.type);
    assert.ok(reruns.includes('ensureFullBackup'), reruns.join(', '));
    const left = [...interrupted];
    for (const r of reruns) {
      const i = left.indexOf(r);
      assert.ok(i >= 0, `only the interrupted activities ran twice: ${r} was not in flight (${interrupted.join(', ')})`);
      left.splice(i, 1);
    }
    assert.ok(runs.every((r) => r.completed));
    assert.equal(runs.filter((r) => r.type === 'ensureFullBackup').length, 1);
    assert.match(result.steps.find((s) => s.name === 'full backup')!.detail!, /re-attached|made by an earlier attempt/);
    assert.equal((await f.checks.fullBackups()).length, 1, 'exactly one full backup');
    const backupLog = await f.checks.sh('backup-srv', ['cat', `/var/log/pgbackrest/${f.spec.stanza}-backup.log`]);
    assert.equal(backupLog.match(/backup command begin/g)?.length, 1, 'pgBackRest started one backup');

    recordHistory(f.temporal.address, handle.workflowId, 'provision');
  });

  test('the cluster works, checked without stanzactl', LONG, async () => {
    await f.checks.assertHealthy();
  });

  test('provision again changes nothing and says so', LONG, async () => {
    await f.checks.assertProvisionChangesNothing(() => startProvision(f.client, f.spec).then((h) => h.result() as Promise<ProvisionResult>));
  });

  test('provision again verifies from facts (no stanza-create, no check switching WAL) and says what; facts that fall short run the check', LONG, async () => {
    const provision = async () => (await (await startProvision(f.client, f.spec)).result()) as ProvisionResult;
    const detail = (r: ProvisionResult, step: string) => r.steps.find((s) => s.name === step)!.detail!;
    // A check creates a restore point and switches the segment out: the idle lab primary (no
    // archive_timeout) archives a new segment only then.
    const lastArchived = () => f.checks.psql('pg1-srv', 'SELECT coalesce(last_archived_wal, \'none\') FROM pg_stat_archiver');
    const repositoryMax = async () => (JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { archive: { max: string }[] }[])[0].archive.at(-1)!.max;
    // Archiving seen working a moment ago: a segment switched out and in the repository. The
    // archiver counts it once archive-push returned, a moment after check saw it in the repository.
    await f.checks.pgbackrest('check');
    await until('the archiver to count the checked segment', async () => (await lastArchived()) === (await repositoryMax()));
    const before = await lastArchived();
    const quiet = await provision();
    assert.equal(quiet.changed, false);
    assert.match(detail(quiet, 'stanza-create'), /^stanza demo is ok and serves system identifier \d+ \(pgbackrest info\)$/);
    assert.equal(detail(quiet, 'check'), `verified from facts: ${detail(quiet, 'stanza-create').replace(' (pgbackrest info)', '')}; ${before}, archived ${/archived (\d+) s ago/.exec(detail(quiet, 'check'))?.[1]} s ago with no failure since, is in the repository`);
    assert.equal(await lastArchived(), before, 'no segment switched: pgBackRest ran no check');

    // A crash restart forgets the archiver's successes: nothing proves archiving now but a check.
    await f.checks.psql('pg1-srv', "SELECT pg_stat_reset_shared('archiver')");
    assert.equal(await lastArchived(), 'none');
    const checked = await provision();
    assert.equal(checked.changed, false);
    assert.equal(detail(checked, 'check'), 'pgbackrest check passed for stanza demo (run because the primary has archived nothing since its statistics were reset)');
    // The archiver counts the segment once archive-push returns, a moment after check saw it in the repository.
    await until('the archiver to count the segment the check switched out', async () => /^[0-9A-F]{24}$/.test(await lastArchived()));
  });

  test('the CLI attaches, prints each step as it starts and ends, and says nothing changed', LONG, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stanzactl-spec-'));
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify(f.spec));
    const cli = await runCli(['provision', '--spec', specFile], f.workerEnv);
    rmSync(dir, { recursive: true });
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    for (const step of ['preflight', 'SSH trust', 'full backup', 'pg2-srv streaming', 'pg3-srv streaming']) {
      assert.match(cli.stdout, new RegExp(`✓ ok\\s+${step} \\(`), `${step} ended:\n${cli.stdout}`);
    }
    assert.ok(cli.stdout.indexOf('… preflight') < cli.stdout.search(/✓ ok\s+preflight/), 'start line before end line');
    assert.match(cli.stdout, /stanza demo: already provisioned, nothing changed/);
    assert.match(cli.stdout, /standby pg2-srv: streaming/);
  });
});
