import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { parseInfo } from '../../src/facts/pgbackrest-info';
import { intervalSeconds, parseReplicationRows } from '../../src/facts/postgres';
import type { StatusFacts } from '../../src/facts/status';
import { isFinalFailure, recordingInterceptor } from '../../src/metrics/recorder';
import { readOwnListener } from '../../src/metrics/sdk-exporter';
import { parseListenAddress } from '../../src/metrics/server';
import { ownListeners, parseTcpListeners } from '../../src/metrics/sockets';
import { projectRoot } from '../../src/paths';
import { renderExposition } from '../../src/render/prometheus';
import { GAUGES, renderMetrics } from '../../src/status/gauges';
import { Observations } from '../../src/status/observations';
import type { Spec } from '../../src/spec/schema';
import { backupWorkflowId, rebuildWorkflowId } from '../../src/workflow-ids';

const fixture = (p: string) => readFileSync(join(projectRoot(), 'tests', 'fixtures', p), 'utf8');

// The alpha fixture: full stopped at 1795607898, incr at 1795607900, diff at 1795607903 (newest).
const CLUSTER = { stanza: 'alpha', repository: { host: 'repo1' } };
const FACTS: StatusFacts = {
  stanza: 'alpha',
  repository: { host: 'repo1', stanza: parseInfo(fixture('pgbackrest/info-alpha-backups.json'))[0] },
  primary: {
    name: 'pg1',
    archiver: { archiveMode: 'on', archivedCount: 7, lastArchivedWal: '000000010000000000000007', lastArchivedAt: 1795607950, failedCount: 2, lastFailedWal: '000000010000000000000003', lastFailedAt: 1795607800 },
    replication: parseReplicationRows(fixture('postgres/replication.tsv')),
  },
  standbys: [
    { name: 'alpha-sb', state: 'streaming', inRecovery: true, replayDelaySeconds: 3, caughtUp: true },
    { name: 'alpha-sb3', state: 'down', inRecovery: null, replayDelaySeconds: null, caughtUp: null, error: 'connection refused' },
  ],
};

/** `name{labels} value` lines of one metric. */
const lines = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

test('exposition format: one HELP and TYPE per family, escaped HELP text and label values, special values', () => {
  const text = renderExposition([
    { name: 'x_bytes', help: 'a \\ path\nand a line', type: 'gauge', samples: [{ labels: { node: 'a"b\\c\nd', kind: 'full' }, value: 5 }, { labels: {}, value: 0.25 }] },
    { name: 'x_empty', help: 'never observed', type: 'gauge', samples: [] },
    { name: 'x_special', help: 'h', type: 'counter', samples: [{ labels: {}, value: NaN }, { labels: { a: '1' }, value: Infinity }, { labels: { a: '2' }, value: -Infinity }] },
  ]);
  assert.equal(text, [
    '# HELP x_bytes a \\\\ path\\nand a line',
    '# TYPE x_bytes gauge',
    'x_bytes{node="a\\"b\\\\c\\nd",kind="full"} 5',
    'x_bytes 0.25',
    '# HELP x_special h',
    '# TYPE x_special counter',
    'x_special NaN',
    'x_special{a="1"} +Inf',
    'x_special{a="2"} -Inf',
    '',
  ].join('\n'));
  assert.equal(renderExposition([]), '');
  assert.throws(() => renderExposition([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }]), /invalid metric name/);
  assert.throws(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]), /invalid label name/);
  assert.throws(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { __name__: 'x' }, value: 1 }] }]), /invalid label name/);
});

test('every gauge has a valid, unique stanzactl_ name and a help text', () => {
  const names = GAUGES.map((g) => g.name);
  assert.equal(new Set(names).size, names.length);
  for (const g of GAUGES) {
    assert.match(g.name, /^stanzactl_[a-z_]+$/);
    assert.ok(g.help.length > 10, g.name);
  }
});

test('gauges of one status read: values from pgBackRest info, pg_stat_archiver and pg_stat_replication', () => {
  const now = 1795608000;
  const text = renderMetrics(Observations.fromStatus(CLUSTER, FACTS, now - 10), now * 1000);
  const want: Record<string, string[]> = {
    stanzactl_backup_newest_timestamp_seconds: ['{stanza="alpha",repository="repo1",kind="full",repo="1"} 1795607898', '{stanza="alpha",repository="repo1",kind="any",repo="1"} 1795607903'],
    stanzactl_backup_newest_age_seconds: ['{stanza="alpha",repository="repo1",kind="full",repo="1"} 102', '{stanza="alpha",repository="repo1",kind="any",repo="1"} 97'],
    stanzactl_backup_newest_duration_seconds: ['{stanza="alpha",repository="repo1",kind="full",repo="1"} 3', '{stanza="alpha",repository="repo1",kind="any",repo="1"} 2'],
    stanzactl_backup_newest_database_bytes: ['{stanza="alpha",repository="repo1",kind="full",repo="1"} 22992588', '{stanza="alpha",repository="repo1",kind="any",repo="1"} 33896140'],
    stanzactl_backup_newest_repository_delta_bytes: ['{stanza="alpha",repository="repo1",kind="full",repo="1"} 3056842', '{stanza="alpha",repository="repo1",kind="any",repo="1"} 1412738'],
    stanzactl_stanza_status_code: ['{stanza="alpha",repository="repo1"} 0'],
    stanzactl_archive_last_archived_age_seconds: ['{stanza="alpha",repository="repo1"} 50'],
    stanzactl_archive_failed_count: ['{stanza="alpha",repository="repo1"} 2'],
    // Failed before the last success: not failing.
    stanzactl_archive_failing: ['{stanza="alpha",repository="repo1"} 0'],
    stanzactl_standby_streaming: ['{stanza="alpha",repository="repo1",node="alpha-sb"} 1', '{stanza="alpha",repository="repo1",node="alpha-sb3"} 0'],
    stanzactl_standby_replay_lag_seconds: ['{stanza="alpha",repository="repo1",node="alpha-sb2"} 0.152071', '{stanza="alpha",repository="repo1",node="alpha-sb"} 0.051017'],
    stanzactl_standby_replay_lag_bytes: ['{stanza="alpha",repository="repo1",node="alpha-sb2"} 0', '{stanza="alpha",repository="repo1",node="alpha-sb"} 0'],
    stanzactl_status_read_ok: [
      '{stanza="alpha",repository="repo1",part="repository",node="repo1"} 1',
      '{stanza="alpha",repository="repo1",part="primary",node="pg1"} 1',
      '{stanza="alpha",repository="repo1",part="standby",node="alpha-sb"} 1',
      '{stanza="alpha",repository="repo1",part="standby",node="alpha-sb3"} 0',
    ],
    // Runs are what a worker saw end: one status read knows of none.
    stanzactl_backup_last_run_success: [],
    stanzactl_rebuild_last_success: [],
  };
  for (const [name, samples] of Object.entries(want)) assert.deepEqual(lines(text, name), samples.map((s) => name + s), name);
  assert.equal(lines(text, 'stanzactl_status_observed_timestamp_seconds').length, 4);
  assert.doesNotMatch(text, /# HELP stanzactl_rebuild_last_success/);
});

test('ages are computed when rendered: a later scrape of the same observations shows them older', () => {
  const o = Observations.fromStatus(CLUSTER, FACTS, 1795608000);
  const at = (nowS: number) => lines(renderMetrics(o, nowS * 1000), 'stanzactl_archive_last_archived_age_seconds')[0];
  assert.equal(at(1795608000), 'stanzactl_archive_last_archived_age_seconds{stanza="alpha",repository="repo1"} 50');
  assert.equal(at(1795611600), 'stanzactl_archive_last_archived_age_seconds{stanza="alpha",repository="repo1"} 3650');
});

test('archiving failing, an unreadable repository keeps the backups known, and nothing observed is absent', () => {
  const o = Observations.fromStatus(CLUSTER, FACTS, 1795608000);
  o.repository(CLUSTER, { host: 'repo1', stanza: null, error: 'connection refused' }, 1795608100);
  o.primary(CLUSTER, { ...FACTS.primary, archiver: { ...FACTS.primary.archiver!, lastFailedAt: 1795608050 } }, 1795608100);
  const text = renderMetrics(o, 1795608200_000);
  assert.deepEqual(lines(text, 'stanzactl_backup_newest_timestamp_seconds').length, 2);
  assert.deepEqual(lines(text, 'stanzactl_stanza_status_code'), []);
  assert.deepEqual(lines(text, 'stanzactl_archive_failing'), ['stanzactl_archive_failing{stanza="alpha",repository="repo1"} 1']);
  assert.ok(lines(text, 'stanzactl_status_read_ok').includes('stanzactl_status_read_ok{stanza="alpha",repository="repo1",part="repository",node="repo1"} 0'));
  // A repository read that succeeds replaces them: expired backups go.
  o.repository(CLUSTER, { host: 'repo1', stanza: { ...FACTS.repository.stanza!, backups: [] } }, 1795608300);
  assert.deepEqual(lines(renderMetrics(o, 1795608300_000), 'stanzactl_backup_newest_timestamp_seconds'), []);
  assert.equal(renderMetrics(new Observations(), Date.now()), '');
});

test('a backup run is the newest backup until info says otherwise; outcomes per type', () => {
  const o = Observations.fromStatus(CLUSTER, FACTS, 1795608000);
  const backup = { label: '20261125-120000F', type: 'full' as const, startedAt: 1795608100, stoppedAt: 1795608160, databaseBytes: 1, deltaBytes: 1, repoBytes: 1, repoDeltaBytes: 1 };
  o.backupRun(CLUSTER, 'full', { ok: true, at: 1795608161, seconds: 65.5 }, backup);
  o.backupRun(CLUSTER, 'incr', { ok: false, at: 1795608170, seconds: 3 });
  const text = renderMetrics(o, 1795608200_000);
  assert.deepEqual(lines(text, 'stanzactl_backup_newest_timestamp_seconds'), [
    'stanzactl_backup_newest_timestamp_seconds{stanza="alpha",repository="repo1",kind="full",repo="1"} 1795608160',
    'stanzactl_backup_newest_timestamp_seconds{stanza="alpha",repository="repo1",kind="any",repo="1"} 1795608160',
  ]);
  assert.deepEqual(lines(text, 'stanzactl_backup_last_run_success'), ['stanzactl_backup_last_run_success{stanza="alpha",repository="repo1",type="full",repo="1"} 1', 'stanzactl_backup_last_run_success{stanza="alpha",repository="repo1",type="incr",repo="1"} 0']);
  assert.deepEqual(lines(text, 'stanzactl_backup_last_run_duration_seconds'), ['stanzactl_backup_last_run_duration_seconds{stanza="alpha",repository="repo1",type="full",repo="1"} 65.5', 'stanzactl_backup_last_run_duration_seconds{stanza="alpha",repository="repo1",type="incr",repo="1"} 3']);
  o.rebuild(CLUSTER, 'alpha-sb', { ok: true, at: 1795608180 });
  assert.deepEqual(lines(renderMetrics(o, 1795608200_000), 'stanzactl_rebuild_last_success'), ['stanzactl_rebuild_last_success{stanza="alpha",repository="repo1",node="alpha-sb"} 1']);
});

test('two clusters of one stanza name on two repository hosts keep a series set each', () => {
  const other = { stanza: 'alpha', repository: { host: 'repo2' } };
  const o = Observations.fromStatus(CLUSTER, FACTS, 1795608000);
  o.primary(other, { ...FACTS.primary, archiver: { ...FACTS.primary.archiver!, failedCount: 9 } }, 1795608000);
  o.backupRun(other, 'full', { ok: false, at: 1795608100, seconds: 5 });
  o.backupRun(CLUSTER, 'full', { ok: true, at: 1795608200, seconds: 6 });
  const text = renderMetrics(o, 1795608300_000);
  assert.deepEqual(lines(text, 'stanzactl_archive_failed_count'), [
    'stanzactl_archive_failed_count{stanza="alpha",repository="repo1"} 2',
    'stanzactl_archive_failed_count{stanza="alpha",repository="repo2"} 9',
  ]);
  assert.deepEqual(lines(text, 'stanzactl_backup_last_run_success'), [
    'stanzactl_backup_last_run_success{stanza="alpha",repository="repo1",type="full",repo="1"} 1',
    'stanzactl_backup_last_run_success{stanza="alpha",repository="repo2",type="full",repo="1"} 0',
  ]);
  // What repo1's status read found is not repo2's.
  assert.equal(lines(text, 'stanzactl_backup_newest_timestamp_seconds').filter((l) => l.includes('repo2')).length, 0);
});

test('replay_lag intervals as PostgreSQL prints them', () => {
  assert.equal(intervalSeconds('00:00:00.017749'), 0.017749);
  assert.equal(intervalSeconds('01:02:03'), 3723);
  assert.equal(intervalSeconds('1 day 00:00:01.5'), 86_401.5);
  assert.equal(intervalSeconds('3 days 00:00:00'), 259_200);
  assert.equal(intervalSeconds(''), undefined);
  assert.equal(intervalSeconds('1 mon'), undefined);
});

test('final failures: non-retryable, a type the policy does not retry, or the last attempt', () => {
  const policy = { maximumAttempts: 7, nonRetryableErrorTypes: ['Fatal'] };
  assert.equal(isFinalFailure({ attempt: 1, retryPolicy: policy }, ApplicationFailure.create({ message: 'x', nonRetryable: true })), true);
  assert.equal(isFinalFailure({ attempt: 1, retryPolicy: policy }, ApplicationFailure.create({ message: 'x', type: 'Fatal' })), true);
  assert.equal(isFinalFailure({ attempt: 1, retryPolicy: policy }, new Error('ssh reset')), false);
  assert.equal(isFinalFailure({ attempt: 7, retryPolicy: policy }, new Error('ssh reset')), true);
  assert.equal(isFinalFailure({ attempt: 50, retryPolicy: { maximumAttempts: 0 } }, new Error('ssh reset')), false);
  assert.equal(isFinalFailure({ attempt: 50, retryPolicy: undefined }, new Error('ssh reset')), false);
});

test('the activity interceptor records results and final failures, in activity context', async () => {
  const spec = JSON.parse(fixture('spec/demo.json')) as Spec;
  const o = new Observations();
  const env = (activityType: string, workflowType: string, workflowId: string, attempt = 1) => new MockActivityEnvironment(
    { activityType, workflowType, attempt, workflowExecution: { workflowId, runId: 'r' }, scheduledTimestampMs: 1795608000_000, retryPolicy: { maximumAttempts: 7 } },
    // The failures are the point here: the SDK's warning about each would only be noise.
    { interceptors: [recordingInterceptor(o, () => 1795608030_000)], logger: new DefaultLogger('ERROR') },
  );
  const backup = { label: 'L', type: 'full', databaseSize: 10, deltaSize: 10, repoSize: 4, repoDeltaSize: 4, startedAt: 1795608001, stoppedAt: 1795608029, walStart: '', walStop: '' };
  await env('runBackup', 'backupStanza', `${backupWorkflowId(spec)}-manual`).run(async () => ({ changed: true, seconds: 28, copiedFrom: [], backup }), spec, 'full', false);
  const failing = async () => {
    throw ApplicationFailure.create({ message: 'no', nonRetryable: true });
  };
  await assert.rejects(env('runBackup', 'backupStanza', 'b', 1).run(async () => {
    throw new Error('transient');
  }, spec, 'diff', false));
  await assert.rejects(env('runBackup', 'backupStanza', 'b').run(failing, spec, 'incr', false));
  const node = spec.nodes[1].name;
  await assert.rejects(env('startStandby', 'rebuildStandby', rebuildWorkflowId(spec, node)).run(failing, spec, node));
  await env('writeMarker', 'rebuildStandby', rebuildWorkflowId(spec, spec.nodes[2].name)).run(async () => ({ changed: true, id: 'x' }), spec, 'x');
  // Status results are recorded whatever the workflow.
  await env('standbyStatus', 'stanzaStatus', 'status-x').run(async () => ({ name: node, state: 'streaming', inRecovery: true, replayDelaySeconds: 1, caughtUp: true }), spec, node);

  const text = renderMetrics(o, 1795608060_000);
  assert.deepEqual(lines(text, 'stanzactl_backup_last_run_success'), [
    `stanzactl_backup_last_run_success{stanza="${spec.stanza}",repository="${spec.repository.host}",type="full",repo="1"} 1`,
    `stanzactl_backup_last_run_success{stanza="${spec.stanza}",repository="${spec.repository.host}",type="incr",repo="1"} 0`,
  ]);
  assert.deepEqual(lines(text, 'stanzactl_backup_last_run_duration_seconds')[0], `stanzactl_backup_last_run_duration_seconds{stanza="${spec.stanza}",repository="${spec.repository.host}",type="full",repo="1"} 30`);
  assert.deepEqual(lines(text, 'stanzactl_backup_newest_repository_bytes'), [
    `stanzactl_backup_newest_repository_bytes{stanza="${spec.stanza}",repository="${spec.repository.host}",kind="full",repo="1"} 4`,
    `stanzactl_backup_newest_repository_bytes{stanza="${spec.stanza}",repository="${spec.repository.host}",kind="any",repo="1"} 4`,
  ]);
  // A failed step fails the rebuild; a step that is not the last one succeeding decides nothing.
  assert.deepEqual(lines(text, 'stanzactl_rebuild_last_success'), [`stanzactl_rebuild_last_success{stanza="${spec.stanza}",repository="${spec.repository.host}",node="${node}"} 0`]);
  assert.deepEqual(lines(text, 'stanzactl_standby_streaming'), [`stanzactl_standby_streaming{stanza="${spec.stanza}",repository="${spec.repository.host}",node="${node}"} 1`]);
});

test('metrics addresses: host:port and [ipv6]:port', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListenAddress('[::1]:9464'), { host: '::1', port: 9464 });
  assert.deepEqual(parseListenAddress('worker.example:80'), { host: 'worker.example', port: 80 });
  for (const bad of ['9464', ':9464', '127.0.0.1:0', '127.0.0.1:70000', '::1:9464', 'a b:1']) assert.throws(() => parseListenAddress(bad), /expected host:port/, bad);
});

test('drills: the last one and the last passed one, from the record a status read finds or a drill this process recorded', () => {
  const drill = (ok: boolean, startedAt: number) => ({
    stanza: 'alpha', workflowId: 'drill-alpha', runId: 'r', host: 'drill1', startedAt, endedAt: startedAt + 60, ok,
    backupLabel: '20261125-120000F', rtoSeconds: ok ? 31.5 : null, rpoSeconds: ok ? 0 : null, checks: [], failure: ok ? null : 'pgbackrest verify: invalid checksum',
  });
  const o = Observations.fromStatus(CLUSTER, { ...FACTS, drill: { host: 'repo1', record: { last: drill(true, 1795600000), lastGood: drill(true, 1795600000) } } }, 1795608000);
  const gauges = (name: string) => lines(renderMetrics(o, 1795608200_000), name);
  assert.deepEqual(gauges('stanzactl_drill_rto_seconds'), ['stanzactl_drill_rto_seconds{stanza="alpha",repository="repo1"} 31.5']);
  assert.deepEqual(gauges('stanzactl_drill_rpo_seconds'), ['stanzactl_drill_rpo_seconds{stanza="alpha",repository="repo1"} 0']);
  o.drillRun(CLUSTER, drill(false, 1795608100));
  assert.deepEqual(gauges('stanzactl_drill_last_success'), ['stanzactl_drill_last_success{stanza="alpha",repository="repo1"} 0']);
  assert.deepEqual(gauges('stanzactl_drill_last_timestamp_seconds'), ['stanzactl_drill_last_timestamp_seconds{stanza="alpha",repository="repo1"} 1795608100']);
  // A failed drill measures nothing: RTO and RPO stay those of the last passed one.
  assert.deepEqual(gauges('stanzactl_drill_last_passed_timestamp_seconds'), ['stanzactl_drill_last_passed_timestamp_seconds{stanza="alpha",repository="repo1"} 1795600000']);
  assert.deepEqual(gauges('stanzactl_drill_rto_seconds'), ['stanzactl_drill_rto_seconds{stanza="alpha",repository="repo1"} 31.5']);
});

test('listening sockets as /proc/net/tcp lists them: address, port and inode of state 0A only', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:24F8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 87928 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0',
    '   2: 0100007F:24F8 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000  1000        0 99999 1 0000000000000000 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(parseTcpListeners(text), [{ address: '127.0.0.1', port: 9464, inode: '87928' }, { address: '0.0.0.0', port: 22, inode: '1234' }]);
});

test('the SDK exporter\'s text is read only from the socket this process holds, and only up to the cap', async (t) => {
  const serve = async (body: string) => {
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    t.after(() => new Promise<void>((res) => server.close(() => res())));
    const { port } = server.address() as AddressInfo;
    const listener = (await ownListeners()).find((l) => l.port === port);
    assert.ok(listener, `this process's listener on ${port} is not found in /proc`);
    return listener;
  };
  const small = await serve('temporal_x 1\n');
  assert.equal(await readOwnListener(small, 1000), 'temporal_x 1\n');
  // Another socket on the same port would have another inode: what it answers is not taken.
  assert.equal(await readOwnListener({ ...small, inode: '1' }, 1000), undefined);
  const big = await serve('x'.repeat(5000));
  assert.equal(await readOwnListener(big, 1000), undefined, 'past the cap the text is dropped');
  assert.equal((await readOwnListener(big, 5000))?.length, 5000);
});
