import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProvision } from '../../src/client';
import { quoteLiteral } from '../../src/render/sql';
import type { Spec } from '../../src/spec/schema';
import type { StatusReport } from '../../src/status/render';
import type { RawBackup } from './cluster-checks';
import { ProvisionFixture } from './fixture';
import { scheduleId } from '../../src/workflow-ids';
import { runCli, until } from './harness';
import { recordHistory } from './history';

const LONG = { timeout: 5 * 60_000 };
const PRIMARY = 'pg1-srv';

describe('stanzactl status on a provisioned lab', { timeout: 30 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stzs', '10.231.41.0/24');
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-status-'));

  before(async () => {
    await f.setUp();
    await (await startProvision(f.client, f.spec)).result();
  }, { timeout: 20 * 60_000 });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });

  async function status(spec: Spec, ...flags: string[]) {
    const file = join(dir, `spec-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(spec));
    const started = Date.now();
    const cli = await runCli(['status', '--spec', file, ...flags], f.workerEnv);
    const seconds = (Date.now() - started) / 1000;
    const report = flags.includes('--json') && cli.stdout.trim() ? (JSON.parse(cli.stdout) as StatusReport) : undefined;
    return { ...cli, report, seconds };
  }

  test('status --json matches pgBackRest and pg_stat_replication as read without stanzactl', LONG, async (t) => {
    const cli = await status(f.spec, '--json');
    t.diagnostic(`status --json took ${cli.seconds.toFixed(2)} s`);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    const r = cli.report!;
    assert.equal(r.ok, true);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.topology!.nodes.map((n) => [n.name, n.seenAs, n.upstream ?? '-', n.streaming]), [[PRIMARY, 'primary', '-', false], ['pg2-srv', 'standby', PRIMARY, true], ['pg3-srv', 'standby', PRIMARY, true]]);
    for await (const w of f.client.workflow.list({ query: "WorkflowType = 'stanzaStatus'" })) {
      recordHistory(f.temporal.address, w.workflowId, 'status');
      break;
    }

    const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { name: string; status: { code: number; message: string }; backup: RawBackup[]; archive: { min: string; max: string }[] }[];
    const stanza = info.find((s) => s.name === f.spec.stanza)!;
    assert.deepEqual(r.status, { code: stanza.status.code, message: stanza.status.message, backupRunning: false });
    assert.deepEqual(
      r.backups.map((b) => [b.label, b.type, b.startedAt, b.stoppedAt, b.sizes]),
      stanza.backup.map((b) => [b.label, b.type, b.timestamp.start, b.timestamp.stop, { database: b.info.size, delta: b.info.delta, repo: b.info.repository.size, repoDelta: b.info.repository.delta }]),
    );
    assert.equal(r.backups.length, 1);
    assert.equal(r.archive.repository?.min, stanza.archive[0].min);

    const replication = (await f.checks.psql(PRIMARY, 'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY 1')).split('\n');
    assert.deepEqual(r.standbys.map((s) => [s.name, s.primaryView?.state, s.primaryView?.syncState].join('|')), replication);
    assert.deepEqual(r.standbys.map((s) => [s.name, s.state, s.inRecovery]), [['pg2-srv', 'streaming', true], ['pg3-srv', 'streaming', true]]);

    const archiver = await f.checks.psql(PRIMARY, 'SELECT archived_count, last_archived_wal FROM pg_stat_archiver');
    assert.equal(archiver, `${r.archive.archivedCount}|${r.archive.lastArchivedWal}`);
    assert.equal(r.archive.mode, 'on');
    assert.equal(r.archive.failing, false);
    assert.ok(r.archive.lastArchivedAgeSeconds !== null && r.archive.lastArchivedAgeSeconds < 3600);
    assert.deepEqual(r.schedules, []);

    const text = await status(f.spec);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^stanza demo: ok$/m);
    assert.match(text.stdout, new RegExp(`${r.backups[0].label}\\s+full\\s+\\S+Z\\s+\\d+[smh]\\s`));
    assert.match(text.stdout, /pg2-srv\s+streaming/);
  });

  test('with maxAge.any exceeded it exits 1 and names the broken policy', LONG, async (t) => {
    await new Promise((r) => setTimeout(r, 2000));
    const spec: Spec = { ...f.spec, backups: { ...f.spec.backups, maxAge: { any: '1s', full: '1d' } } };
    const json = await status(spec, '--json');
    t.diagnostic(`status --json took ${json.seconds.toFixed(2)} s`);
    assert.equal(json.code, 1, json.stdout + json.stderr);
    assert.equal(json.report!.ok, false);
    assert.equal(json.report!.problems.length, 1, json.report!.problems.join('\n'));
    assert.match(json.report!.problems[0], /^maxAge\.any \(1s\) exceeded: the newest backup, \d{8}-\d{6}F, finished \d+[sm] ago$/);

    const text = await status(spec);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^stanza demo: 1 problem$/m);
    assert.match(text.stdout, /^ {2}- maxAge\.any \(1s\) exceeded/m);
  });

  test('a backup schedule shows with its next run; absent ones are simply not listed', LONG, async () => {
    const handle = await f.client.schedule.create({
      scheduleId: scheduleId(f.spec, 'full'),
      spec: { cronExpressions: ['0 0 1 1 *'] },
      action: { type: 'startWorkflow', workflowType: 'backupStanza', taskQueue: 'stanzactl', args: [f.spec, { type: 'full' }] },
      state: { paused: true },
    });
    try {
      const r = (await status(f.spec, '--json')).report!;
      assert.equal(r.schedules.length, 1);
      const [s] = r.schedules;
      assert.deepEqual([s.type, s.id, s.paused], ['full', scheduleId(f.spec, 'full'), true]);
      const next = new Date(s.nextRun! * 1000);
      assert.deepEqual([next.getUTCMonth(), next.getUTCDate(), next.getUTCHours()], [0, 1, 0], next.toISOString());
    } finally {
      await handle.delete();
    }
  });

  test('with archiving broken it exits 1 and says archiving is failing; it recovers', LONG, async (t) => {
    const original = await f.checks.psql(PRIMARY, 'SHOW archive_command');
    const failing = async () => (await f.checks.psql(PRIMARY, "SELECT coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) FROM pg_stat_archiver")) === 't';
    await f.checks.psql(PRIMARY, "ALTER SYSTEM SET archive_command = 'false'");
    await f.checks.psql(PRIMARY, 'SELECT pg_reload_conf()');
    try {
      // Each round writes WAL and closes the segment; the archiver may have archived one before it saw the reload.
      await until('the archiver to fail', async () => {
        await f.checks.psql(PRIMARY, 'CREATE TABLE IF NOT EXISTS stanzactl_status_e2e (n int); INSERT INTO stanzactl_status_e2e SELECT generate_series(1, 1000)');
        await f.checks.psql(PRIMARY, 'SELECT pg_switch_wal()');
        await new Promise((r) => setTimeout(r, 1000));
        return failing();
      });
      const cli = await status(f.spec, '--json');
      t.diagnostic(`status --json took ${cli.seconds.toFixed(2)} s`);
      assert.equal(cli.code, 1, cli.stdout + cli.stderr);
      assert.equal(cli.report!.archive.failing, true);
      assert.ok(cli.report!.archive.failedCount! > 0);
      assert.match(cli.report!.problems.join('\n'), /^archiving is failing on the primary pg1-srv: \d+ failures, last [0-9A-F]{24} \d+s ago; last success [0-9A-F]{24}\S* \d+[sm] ago$/m);
      const text = await status(f.spec);
      assert.equal(text.code, 1);
      assert.match(text.stdout, /archive_mode on, FAILING/);
    } finally {
      await f.checks.psql(PRIMARY, `ALTER SYSTEM SET archive_command = ${quoteLiteral(original)}`);
      await f.checks.psql(PRIMARY, 'SELECT pg_reload_conf()');
    }
    await until('archiving to recover', async () => !(await failing()));
    const healed = await status(f.spec, '--json');
    assert.equal(healed.code, 0, healed.stdout + healed.stderr);
    assert.equal(healed.report!.archive.failing, false);
  });

  test('a spec that names a standby as the primary: status reads the real one, shows who streams from whom, and warns', LONG, async () => {
    const stale: Spec = { ...f.spec, nodes: f.spec.nodes.map((n) => ({ ...n, role: n.name === 'pg2-srv' ? 'primary' : 'standby' })) };
    const cli = await status(stale, '--json');
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    const r = cli.report!;
    assert.deepEqual(r.problems, []);
    assert.equal(r.topology!.primary, PRIMARY);
    assert.equal(r.topology!.specPrimary, 'pg2-srv');
    assert.equal(r.archive.primary, PRIMARY, 'archiving read on the real primary');
    assert.equal(r.archive.failing, false);
    assert.deepEqual(r.standbys.map((s) => [s.name, s.state, s.primaryView?.state]), [['pg2-srv', 'streaming', 'streaming'], ['pg3-srv', 'streaming', 'streaming']]);
    assert.deepEqual(r.warnings, [`the spec names pg2-srv as the primary, but ${PRIMARY} is: stanzactl acts on ${PRIMARY} (the spec's roles only say which node a new cluster is built on)`]);
    const text = (await status(stale)).stdout;
    assert.match(text, new RegExp(`topology \\(primary: ${PRIMARY}\\):\\n +NODE +FOUND +TIMELINE +STREAMS FROM\\n +${PRIMARY} +primary +1 +-\\n +pg2-srv +standby \\(the spec's primary\\) +1 +${PRIMARY}, streaming\\n`));
    assert.match(text, /warnings:\n {2}- the spec names pg2-srv as the primary/);
  });

  test('a stopped standby is reported as down, and the command still answers', LONG, async (t) => {
    await f.checks.sh('pg3-srv', ['pg_ctlcluster', '15', 'main', 'stop', '--', '-m', 'fast']);
    try {
      const cli = await status(f.spec, '--json');
      t.diagnostic(`status --json took ${cli.seconds.toFixed(2)} s`);
      // A down standby is shown, not a policy: the exit code follows maxAge and archiving only.
      assert.equal(cli.code, 0, cli.stdout + cli.stderr);
      const [pg2, pg3] = cli.report!.standbys;
      assert.equal(pg2.state, 'streaming');
      assert.equal(pg3.state, 'down');
      assert.match(pg3.error!, /psql: error: .*(No such file or directory|Connection refused)/);
      assert.equal(pg3.primaryView, null);
      const text = await status(f.spec);
      assert.match(text.stdout, /pg3-srv\s+down\s+-\s+not connected\n\s+pg3-srv is down: psql: error:/);
    } finally {
      await f.checks.sh('pg3-srv', ['pg_ctlcluster', '15', 'main', 'start']);
    }
    await until('pg3-srv to stream again', async () => (await f.checks.streamingStandbys()).includes('pg3-srv'));
  });
});
