import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../../src/paths';
import { startProvision } from '../../src/client';
import { scheduleId } from '../../src/workflow-ids';
import type { RawBackup } from './cluster-checks';
import { ProvisionFixture } from './fixture';
import { freePort, literally, runCli } from './harness';

const LONG = { timeout: 10 * 60_000 };
const PRIMARY = 'pg1-srv';

/** Exposition text as Prometheus reads it: `name{labels}` -> value, and the HELP/TYPE lines per name. */
function parseExposition(text: string): { samples: Map<string, number>; meta: Map<string, string[]> } {
  const samples = new Map<string, number>();
  const meta = new Map<string, string[]>();
  for (const line of text.split('\n').filter(Boolean)) {
    const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      meta.set(m[2], [...(meta.get(m[2]) ?? []), m[1]]);
      continue;
    }
    const s = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(s, `not a sample line: ${line}`);
    assert.ok(!samples.has(s[1]), `sample twice: ${s[1]}`);
    samples.set(s[1], Number(s[2]));
  }
  return { samples, meta };
}

describe('metrics: the worker endpoint and status --format prometheus on a provisioned lab', { timeout: 30 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stna', '10.231.201.0/24');
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-metrics-'));
  const specFile = join(dir, 'spec.json');
  let url = '';

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    f.workerEnv.STANZACTL_METRICS_ADDRESS = `127.0.0.1:${port}`;
    await f.setUp();
    writeFileSync(specFile, JSON.stringify(f.spec));
    await (await startProvision(f.client, f.spec)).result();
  }, { timeout: 20 * 60_000 });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });

  async function scrape() {
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return { at: Date.now() / 1000, ...parseExposition(await r.text()) };
  }

  test('after a backup and a status run the endpoint matches pgbackrest info, pg_stat_archiver and pg_stat_replication', LONG, async (t) => {
    const backupStarted = Date.now() / 1000;
    const backup = await runCli(['backup', '--spec', specFile, '--type', 'incr'], f.workerEnv);
    const backupEnded = Date.now() / 1000;
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const cli = await runCli(['status', '--spec', specFile, '--format', 'prometheus'], f.workerEnv);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    const first = await scrape();
    const s = first.samples;
    const st = `stanza="${f.spec.stanza}",repository="${f.spec.repository.host}"`;
    const get = (key: string) => {
      assert.ok(s.has(key), `${key} missing from the endpoint`);
      return s.get(key)!;
    };

    // What pgBackRest itself says, read on the repository host without stanzactl.
    const info = JSON.parse(await f.checks.pgbackrest('info', '--output=json')) as { name: string; backup: RawBackup[] }[];
    const backups = info.find((x) => x.name === f.spec.stanza)!.backup;
    const newest = (type?: string) => backups.filter((b) => type === undefined || b.type === type).reduce((a, b) => (b.timestamp.stop > a.timestamp.stop ? b : a));
    for (const [kind, b] of [['full', newest('full')], ['any', newest()]] as const) {
      const k = `${st},kind="${kind}",repo="1"`;
      assert.equal(get(`stanzactl_backup_newest_timestamp_seconds{${k}}`), b.timestamp.stop, kind);
      assert.equal(get(`stanzactl_backup_newest_duration_seconds{${k}}`), b.timestamp.stop - b.timestamp.start, kind);
      assert.equal(get(`stanzactl_backup_newest_database_bytes{${k}}`), b.info.size, kind);
      assert.equal(get(`stanzactl_backup_newest_delta_bytes{${k}}`), b.info.delta, kind);
      assert.equal(get(`stanzactl_backup_newest_repository_bytes{${k}}`), b.info.repository.size, kind);
      assert.equal(get(`stanzactl_backup_newest_repository_delta_bytes{${k}}`), b.info.repository.delta, kind);
      // Computed at the scrape: the scrape happened between these two clocks.
      const age = get(`stanzactl_backup_newest_age_seconds{${k}}`);
      assert.ok(age >= first.at - b.timestamp.stop - 5 && age <= first.at - b.timestamp.stop + 1, `${kind} age ${age}`);
    }
    assert.equal(newest().type, 'incr');
    assert.equal(get(`stanzactl_backup_last_run_success{${st},type="incr",repo="1"}`), 1);
    const endedAt = get(`stanzactl_backup_last_run_timestamp_seconds{${st},type="incr",repo="1"}`);
    assert.ok(endedAt >= backupStarted && endedAt <= backupEnded, `run ended at ${endedAt}, backup ran ${backupStarted}..${backupEnded}`);
    assert.ok(get(`stanzactl_backup_last_run_duration_seconds{${st},type="incr",repo="1"}`) <= backupEnded - backupStarted);
    assert.equal(get(`stanzactl_stanza_status_code{${st}}`), 0);

    // The archiver as PostgreSQL reports it on the primary now; the worker read it during the status run, before.
    const [archived, failed, lastArchived] = (await f.checks.psql(PRIMARY, 'SELECT archived_count, failed_count, extract(epoch FROM last_archived_time) FROM pg_stat_archiver')).split('|').map(Number);
    assert.ok(get(`stanzactl_archive_archived_count{${st}}`) <= archived && get(`stanzactl_archive_archived_count{${st}}`) > 0);
    assert.equal(get(`stanzactl_archive_failed_count{${st}}`), failed);
    const seenArchived = get(`stanzactl_archive_last_archived_timestamp_seconds{${st}}`);
    assert.ok(seenArchived <= lastArchived && seenArchived >= backupStarted, `last archived ${seenArchived}; now ${lastArchived}`);
    assert.equal(get(`stanzactl_archive_failing{${st}}`), 0);

    // Replication as the primary reports it now, and the standbys as stanzactl saw them.
    const rows = (await f.checks.psql(PRIMARY, 'SELECT application_name, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication ORDER BY 1')).split('\n');
    assert.deepEqual(rows.map((r) => r.split('|')[0]), f.checks.standbys);
    for (const row of rows) {
      const [node, bytes, seconds] = row.split('|');
      const k = `${st},node="${node}"`;
      t.diagnostic(`${node}: replay lag ${get(`stanzactl_standby_replay_lag_bytes{${k}}`)} bytes / ${get(`stanzactl_standby_replay_lag_seconds{${k}}`)} s at the status run; ${bytes} bytes / ${seconds} s now`);
      assert.equal(get(`stanzactl_standby_streaming{${k}}`), 1);
      // An idle lab: both readings within one WAL segment and a few seconds of each other.
      assert.ok(Math.abs(get(`stanzactl_standby_replay_lag_bytes{${k}}`) - Number(bytes)) <= 16 * 1024 * 1024, node);
      assert.ok(Math.abs(get(`stanzactl_standby_replay_lag_seconds{${k}}`) - Number(seconds)) <= 5, node);
      assert.equal(get(`stanzactl_status_read_ok{${st},part="standby",node="${node}"}`), 1);
    }

    // The SDK's runtime metrics come through the same endpoint.
    assert.equal(get('stanzactl_sdk_metrics_up'), 1);
    assert.ok([...s.keys()].some((k) => k.startsWith('temporal_worker_task_slots_available{') && k.includes('worker_type="ActivityWorker"')), 'no temporal_worker_task_slots_available');
    // One HELP and one TYPE per family: the SDK's names and ours never collide.
    for (const [name, lines] of first.meta) assert.deepEqual(lines.sort(), ['HELP', 'TYPE'], name);

    // status --format prometheus: the same gauges, names and labels, from the same status run.
    const printed = parseExposition(cli.stdout).samples;
    assert.ok(printed.size > 20, cli.stdout);
    for (const [key, value] of printed) {
      assert.ok(s.has(key), `${key} printed by status but not served by the worker`);
      if (/_age_seconds\{|^stanzactl_status_observed_timestamp_seconds\{/.test(key)) continue;
      assert.equal(s.get(key), value, key);
    }
    // Ages move with the clock, not with the next read.
    await new Promise((r) => setTimeout(r, 2100));
    const second = await scrape();
    const key = `stanzactl_backup_newest_age_seconds{${st},kind="any",repo="1"}`;
    assert.ok(second.samples.get(key)! - get(key) >= 2, `${get(key)} then ${second.samples.get(key)}`);
  });

  test('schedule apply keeps status-<stanza>@<repo> with status.every, and its runs alone keep the gauges fresh', LONG, async () => {
    const every = join(dir, 'every.json');
    writeFileSync(every, JSON.stringify({ ...f.spec, status: { every: '10s' } }));
    const applied = Date.now() / 1000;
    const created = await runCli(['schedule', 'apply', '--spec', every], f.workerEnv);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    assert.match(created.stdout, new RegExp(`^${literally(scheduleId(f.spec, 'status'))}: created \\(every 10s\\)$`, 'm'));
    // What the server echoes back (an interval in ms) is what the spec asks for: nothing to write.
    const again = await runCli(['schedule', 'apply', '--spec', every], f.workerEnv);
    assert.match(again.stdout, new RegExp(`^${literally(scheduleId(f.spec, 'status'))}: unchanged$`, 'm'));
    const key = `stanzactl_status_observed_timestamp_seconds{stanza="${f.spec.stanza}",repository="${f.spec.repository.host}",part="primary",node="${PRIMARY}"}`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const seen = (await scrape()).samples.get(key);
      if (seen !== undefined && seen > applied) break;
      assert.ok(Date.now() < deadline, `no scheduled status run reached the worker: ${key} = ${seen}, applied at ${applied}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const removed = await runCli(['schedule', 'apply', '--spec', specFile], f.workerEnv);
    assert.match(removed.stdout, new RegExp(`^${literally(scheduleId(f.spec, 'status'))}: deleted$`, 'm'));
  });

  test('a rebuild the worker ran shows as the last rebuild of its node', LONG, async () => {
    const node = f.checks.standbys[1];
    const started = Date.now() / 1000;
    const cli = await runCli(['rebuild', '--spec', specFile, '--node', node, '--yes'], f.workerEnv);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    const { samples } = await scrape();
    const k = `stanza="${f.spec.stanza}",repository="${f.spec.repository.host}",node="${node}"`;
    assert.equal(samples.get(`stanzactl_rebuild_last_success{${k}}`), 1);
    const at = samples.get(`stanzactl_rebuild_last_timestamp_seconds{${k}}`)!;
    assert.ok(at >= started && at <= Date.now() / 1000, `rebuild ended at ${at}`);
    // Only the node that was rebuilt.
    assert.deepEqual([...samples.keys()].filter((s) => s.startsWith('stanzactl_rebuild_last_success{')), [`stanzactl_rebuild_last_success{${k}}`]);
  });
});

/** `stanzactl worker` that must exit by itself: killed after 90 s (then `signal` is set), so a hang fails the test and leaves nothing behind. */
function workerMustExit(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [join(projectRoot(), 'bin', 'stanzactl.js'), 'worker', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 90_000, killSignal: 'SIGKILL' });
  return { code: r.status, signal: r.signal, output: r.stdout + r.stderr };
}

test('a bad metrics address stops the worker at once; a worker that cannot reach Temporal exits with its endpoint closed', async () => {
  const bad = workerMustExit(['--metrics-address', 'localhost'], {});
  assert.deepEqual([bad.code, bad.signal], [1, null], bad.output);
  assert.match(bad.output, /metrics address "localhost": expected host:port/);
  // Nothing listens on the Temporal port: the connection fails after the endpoint is up, and the worker must still exit.
  const unreachable = workerMustExit([], { STANZACTL_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
  assert.deepEqual([unreachable.code, unreachable.signal], [1, null], unreachable.output);
});
