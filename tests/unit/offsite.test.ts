import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { loadSpec } from '../../src/spec/load';
import { specSchema, type Spec } from '../../src/spec/schema';
import { parseIni } from '../../src/render/ini';
import { copyHostSettings, nodeConf, repoHostConf, type OffsiteKeys } from '../../src/render/pgbackrest-conf';
import { backupOfKind, cronField, desiredSchedule, scheduledArgsSpec, timingOf } from '../../src/schedules/plan';
import { inputIssues } from '../../src/spec/validate';
import { archivedSegmentListed, archivingProven, offsiteDown } from '../../src/facts/archiving-proof';
import { currentArchiveId } from '../../src/facts/pgbackrest-info';
import type { StanzaInfo } from '../../src/facts/pgbackrest-info';
import type { ArchiverFacts, StatusFacts } from '../../src/facts/status';
import { evaluate } from '../../src/status/policy';
import { renderText, statusReport } from '../../src/status/render';
import { backupArchiveArgs, infoArgs, repoArgs } from '../../src/host/pgbackrest';
import { repoOption, UsageError } from '../../src/commands/command';
import { copyRestoreArgs } from '../../src/render/restore-target';
import { offsiteUnreachable } from '../../src/activities/backup';
import { PgbackrestError } from '../../src/host/pgbackrest';
import { withoutResponseContent } from '../../src/facts/pgbackrest-exit';
import { ApplicationFailure } from '@temporalio/common';

const fixtures = resolve(__dirname, '../../../tests/fixtures');
const OFFSITE = {
  type: 's3', endpoint: 's3.example.com', port: 9000, bucket: 'pg-offsite', region: 'eu-west-1', uriStyle: 'path',
  caFile: '/etc/ssl/offsite-ca.pem', accessKey: { env: 'STANZACTL_SECRET_S3_KEY' }, secretKey: { file: '/etc/stanzactl/secrets/s3' },
  path: '/demo', retentionFull: 2, schedule: { full: '0 2 * * 0', timezone: 'UTC' },
};
const KEYS: OffsiteKeys = { accessKey: 'AKIAEXAMPLE', secretKey: 'c2VjcmV0/key+1=' };

function withOffsite(extra: Record<string, unknown> = {}, base: Spec = loadSpec(`${fixtures}/spec/demo.yaml`)): Spec {
  return specSchema.parse({ ...base, offsite: { ...OFFSITE, ...extra } });
}

const section = (text: string, name: string): Record<string, string> =>
  Object.fromEntries(parseIni(text).sections.find((s) => s.name === name)!.entries.filter(([k]) => k !== ''));

describe('offsite: the spec', () => {
  test('a full offsite section is valid; its keys are references only', () => {
    assert.ok(withOffsite().offsite);
    assert.throws(() => withOffsite({ accessKey: 'AKIAEXAMPLE' }), /offsite/);
  });

  test('an IP address as endpoint, a bad bucket, archiving without async, repo2 in options: each refused, named by path', () => {
    const issues = (spec: unknown) => inputIssues(spec).map((i) => i.path);
    const demo = loadSpec(`${fixtures}/spec/demo.yaml`);
    assert.deepEqual(issues({ ...demo, offsite: { ...OFFSITE, endpoint: '10.0.0.9' } }), ['offsite.endpoint']);
    assert.deepEqual(issues({ ...demo, offsite: { ...OFFSITE, bucket: 'Bad_Bucket' } }), ['offsite.bucket']);
    assert.deepEqual(issues({ ...demo, offsite: OFFSITE, pgbackrest: { archiveAsync: false } }), ['pgbackrest.archiveAsync']);
    assert.deepEqual(issues({ ...demo, offsite: OFFSITE, repository: { ...demo.repository, options: { 'repo2-s3-bucket': 'x' } } }), ['repository.options.repo2-s3-bucket']);
  });

  test('a request for repo2 of a stanza without offsite is refused before anything runs', () => {
    const demo = loadSpec(`${fixtures}/spec/demo.yaml`);
    assert.deepEqual(inputIssues(demo, { request: { type: 'full', repo: 2 } }).map((i) => i.path), ['request.repo']);
    assert.deepEqual(inputIssues(demo, { drill: { repo: 2 } }).map((i) => i.path), ['drill.repo']);
    assert.deepEqual(inputIssues(withOffsite(), { request: { type: 'full', repo: 2 } }), []);
    assert.deepEqual(inputIssues(withOffsite(), { request: { type: 'full', repo: 3 } }).map((i) => i.path), ['request.repo']);
  });
});

describe('offsite: pgbackrest.conf', () => {
  test('the repository host: repo2 in the stanza section, with its retention and bundling; [global] holds none of it', () => {
    const text = repoHostConf(undefined, withOffsite(), 2, [], true, KEYS);
    const stanza = section(text, 'demo');
    assert.equal(stanza['repo2-type'], 's3');
    assert.equal(stanza['repo2-s3-bucket'], 'pg-offsite');
    assert.equal(stanza['repo2-s3-endpoint'], 's3.example.com');
    assert.equal(stanza['repo2-s3-uri-style'], 'path');
    assert.equal(stanza['repo2-storage-port'], '9000');
    assert.equal(stanza['repo2-storage-ca-file'], '/etc/ssl/offsite-ca.pem');
    assert.equal(stanza['repo2-s3-key'], KEYS.accessKey);
    assert.equal(stanza['repo2-s3-key-secret'], KEYS.secretKey);
    assert.equal(stanza['repo2-retention-full'], '2');
    assert.equal(stanza['repo2-bundle'], 'y');
    assert.equal(stanza['repo2-path'], '/demo');
    assert.ok(!Object.keys(section(text, 'global')).some((k) => k.startsWith('repo2-')));
    assert.equal(stanza['repo2-cipher-type'], undefined);
    assert.equal(stanza['archive-timeout'], undefined, 'check keeps pgBackRest\'s archive-timeout');
  });

  test('the nodes and a copy host: what pushes WAL and restores, no retention', () => {
    const spec = withOffsite({ cipherPass: { env: 'STANZACTL_SECRET_CIPHER' } });
    const keys = { ...KEYS, cipherPass: 'pass-phrase' };
    const node = section(nodeConf(undefined, spec, spec.nodes[0], 2, [], keys), 'demo');
    assert.equal(node['repo2-s3-key-secret'], KEYS.secretKey);
    assert.equal(node['repo2-cipher-type'], 'aes-256-cbc');
    assert.equal(node['repo2-cipher-pass'], 'pass-phrase');
    assert.equal(node['repo2-retention-full'], undefined);
    assert.equal(node['pg1-path'], spec.postgres.dataDir);
    // archive-push alone waits 10 s on an unreachable repo2, in a section of its own.
    assert.deepEqual(section(nodeConf(undefined, spec, spec.nodes[0], 2, [], keys), 'demo:archive-push'), { 'io-timeout': '10' });
    assert.deepEqual(section(nodeConf(undefined, withOffsite({ archiveIoTimeout: 30 }), spec.nodes[0], 2, [], keys), 'demo:archive-push'), { 'io-timeout': '30' });
    assert.equal(parseIni(nodeConf(undefined, { ...spec, offsite: undefined }, spec.nodes[0], 2, [])).sections.some((s) => s.name.includes(':')), false);
    // The DBA's other archive-push keys stay; a site's io-timeout in conf.d is the site's choice.
    assert.deepEqual(section(nodeConf('[demo:archive-push]\nprocess-max=4\nio-timeout=60\n', spec, spec.nodes[0], 2, [], keys), 'demo:archive-push'), { 'process-max': '4', 'io-timeout': '10' });
    for (const fragment of ['[global]\nio-timeout=30\n', '[demo:archive-push]\nio-timeout=30\n', '[global:archive-push]\nio-timeout=30\n']) {
      assert.equal(parseIni(nodeConf(undefined, spec, spec.nodes[0], 2, [fragment], keys)).sections.some((s) => s.name === 'demo:archive-push'), false, fragment);
    }
    const copy = copyHostSettings(undefined, spec, 2, [], keys);
    assert.equal(copy.archivePush, undefined);
    assert.deepEqual(copy.stanza.map(([k]) => k).filter((k) => k.startsWith('repo2-')).sort(),
      ['repo2-cipher-pass', 'repo2-cipher-type', 'repo2-path', 'repo2-s3-bucket', 'repo2-s3-endpoint', 'repo2-s3-key', 'repo2-s3-key-secret', 'repo2-s3-region', 'repo2-s3-uri-style', 'repo2-storage-ca-file', 'repo2-storage-port', 'repo2-type']);
  });

  test('keys that were not resolved are never rendered as anything', () => {
    assert.throws(() => repoHostConf(undefined, withOffsite(), 2), /keys were not resolved/);
    assert.throws(() => nodeConf(undefined, withOffsite({ cipherPass: { env: 'STANZACTL_SECRET_C' } }), withOffsite().nodes[0], 2, [], KEYS), /cipherPass was not resolved/);
  });

  test('a spec without offsite writes no repo2 and keeps its command lines', () => {
    const demo = loadSpec(`${fixtures}/spec/demo.yaml`);
    assert.doesNotMatch(repoHostConf(undefined, demo, 2), /repo2/);
    assert.deepEqual(repoArgs(demo, 1), []);
    assert.throws(() => repoArgs(demo, 2), /no offsite/);
    assert.deepEqual(repoArgs(withOffsite(), 1), ['--repo=1']);
    assert.deepEqual(repoArgs(withOffsite(), 2), ['--repo=2']);
    // Backups to repo1 outlast the asynchronous archiver's rounds against an unreachable repo2; info reads give up on it in 10 s.
    assert.deepEqual(backupArchiveArgs(demo), []);
    assert.deepEqual(backupArchiveArgs(withOffsite()), ['--archive-timeout=900']);
    assert.deepEqual(backupArchiveArgs(specSchema.parse({ ...withOffsite(), repository: { ...demo.repository, options: { 'archive-timeout': 120 } } })), []);
    assert.deepEqual(infoArgs(demo), ['info', '--output=json']);
    assert.deepEqual(infoArgs(withOffsite(), 2), ['info', '--output=json', '--repo=2', '--io-timeout=10']);
  });

  test('a restore from repo2 names it; without a repository pgBackRest chooses', () => {
    const base = { dataDir: '/d', port: 5433, target: { type: 'default' } as const, delta: false };
    assert.ok(copyRestoreArgs({ ...base, repo: 2 }).includes('--repo=2'));
    assert.ok(!copyRestoreArgs(base).some((a) => a.startsWith('--repo')));
  });
});

describe('offsite: schedules', () => {
  test('offsite kinds back up to repo2 on their own schedule; repo1 requests carry no repo', () => {
    const spec = withOffsite();
    assert.deepEqual(backupOfKind('offsite-full'), { type: 'full', repo: 2 });
    assert.deepEqual(backupOfKind('full'), { type: 'full' });
    assert.equal(cronField('offsite-diff'), 'offsite.schedule.diff');
    assert.deepEqual(timingOf(spec, 'offsite-full'), { cron: '0 2 * * 0', timezone: 'UTC' });
    assert.deepEqual(timingOf(spec, 'offsite-incr'), { cron: undefined, timezone: 'UTC' });
    const s = desiredSchedule(spec, 'offsite-full');
    assert.equal(s.scheduleId, 'backup-demo@backup-srv-full@offsite');
    // Never another cluster's repo1 id, whatever its repository host is named.
    assert.notEqual(s.scheduleId, desiredSchedule(specSchema.parse({ ...spec, repository: { ...spec.repository, host: 'backup-srv-offsite' }, backups: { schedule: { full: '0 1 * * *' } } }), 'full').scheduleId);
    assert.deepEqual(s.action.args?.[1], { type: 'full', repo: 2 });
    assert.match(s.action.staticSummary ?? '', /to repo2 \(offsite\)/);
    // The run's spec holds no timing: editing the offsite cron rewrites only its schedule.
    assert.equal((scheduledArgsSpec(spec).offsite as Record<string, unknown>).schedule, undefined);
  });

  test('--repo: 1 or 2, and 2 only for specs with offsite', () => {
    const demo = loadSpec(`${fixtures}/spec/demo.yaml`);
    assert.equal(repoOption(undefined, [demo]), undefined);
    assert.equal(repoOption('1', [demo]), 1);
    assert.equal(repoOption('2', [withOffsite()]), 2);
    assert.throws(() => repoOption('2', [withOffsite(), demo]), UsageError);
    assert.throws(() => repoOption('offsite', [withOffsite()]), UsageError);
  });
});

const ARCHIVER: ArchiverFacts = {
  archiveMode: 'on', archivedCount: 9, lastArchivedWal: '000000010000000000000009', lastArchivedAt: 1000,
  failedCount: 0, lastFailedWal: null, lastFailedAt: null,
};

function twoRepos(repo2: { code: number; message: string }, repo2Max: string | null, repo2Full = true): StanzaInfo {
  const backup = (label: string, repoKey: number, stop: number) => ({
    label, type: 'full' as const, prior: null, reference: [], timestamp: { start: stop - 5, stop }, archive: { start: null, stop: null },
    dbId: 1, repoKey, sizes: { database: 10, delta: 10, repo: 5, repoDelta: 5 },
  });
  return {
    name: 'demo', status: repo2.code === 0 ? { code: 0, message: 'ok', lockHeld: false } : { code: 99, message: 'other', lockHeld: false }, cipher: 'none',
    db: [{ id: 1, systemId: '7', version: '15', repoKey: 1 }, { id: 1, systemId: '7', version: '15', repoKey: 2 }],
    archive: [
      { id: '15-1', min: '000000010000000000000001', max: '000000010000000000000009', dbId: 1, repoKey: 1 },
      { id: '15-1', min: '000000010000000000000003', max: repo2Max, dbId: 1, repoKey: 2 },
    ],
    backups: [backup('20261201-010000F', 1, 900), ...(repo2Full ? [backup('20261201-020000F', 2, 950)] : [])],
    repos: [{ key: 1, cipher: 'none', status: { code: 0, message: 'ok' } }, { key: 2, cipher: 'none', status: repo2 }],
  };
}

describe('offsite: what proves archiving, and status', () => {
  test('archiving is proven only when every repository holds the last segment', () => {
    assert.equal(archivingProven(ARCHIVER, twoRepos({ code: 0, message: 'ok' }, '000000010000000000000009'), 'demo', '7', 1010).ok, true);
    const behind = archivingProven(ARCHIVER, twoRepos({ code: 0, message: 'ok' }, '000000010000000000000008'), 'demo', '7', 1010);
    assert.equal(behind.ok, false);
    assert.match(!behind.ok ? behind.why : '', /not in repo2 \(it holds up to 000000010000000000000008\)/);
  });

  test('repo2 out of reach (status 99, a connection that fails) is told apart from a repo2 that answers wrong', () => {
    const message = '[HostConnectError] unable to connect to s3.example.com:9000';
    assert.equal(offsiteDown(twoRepos({ code: 99, message }, null)), message);
    assert.equal(offsiteDown(twoRepos({ code: 99, message: "[049]: unable to load info file '/demo/archive/demo/archive.info': HostConnectError: unable to connect to 's3.example.com:9000': [111] Connection refused" }, null)) !== undefined, true);
    assert.equal(offsiteDown(twoRepos({ code: 0, message: 'ok' }, null)), undefined);
    // A stanza missing in repo2 is stanza-create's to fix, not an outage; a wrong key or bucket is
    // a misconfiguration that stanza-create and check must report as it is.
    assert.equal(offsiteDown(twoRepos({ code: 1, message: 'missing stanza path' }, null)), undefined);
    assert.equal(offsiteDown(twoRepos({ code: 99, message: '[ProtocolError] HTTP request failed with 403 (Forbidden): SignatureDoesNotMatch' }, null)), undefined);
    assert.equal(offsiteDown(twoRepos({ code: 99, message: '[ProtocolError] HTTP request failed with 404 (Not Found): NoSuchBucket' }, null)), undefined);
    assert.equal(offsiteDown(undefined), undefined);
  });

  test('repo1 alone proves the very segment switched out: its file listed in the current archive directory', () => {
    const listing = '00000002000000000000000A-5e2a8c0d6b9f40a1c3e7d8f9a0b1c2d3e4f5a6b7.zst\n00000002000000000000000B-0123456789abcdef0123456789abcdef01234567.zst\n';
    assert.equal(archivedSegmentListed(listing, '00000002000000000000000B'), true);
    assert.equal(archivedSegmentListed(listing, '00000002000000000000000C'), false, 'a later one is not there');
    // A neighbour's name that starts alike, or a history file, is not the segment.
    assert.equal(archivedSegmentListed('00000002000000000000000B.partial-0123.zst\n', '00000002000000000000000B'), false);
    assert.equal(archivedSegmentListed(listing, ''), false);
    assert.equal(archivedSegmentListed('', '00000002000000000000000B'), false);
    assert.equal(currentArchiveId(twoRepos({ code: 0, message: 'ok' }, null)), '15-1');
  });

  function facts(stanza: StanzaInfo): StatusFacts {
    return {
      stanza: 'demo', repository: { host: 'backup-srv', stanza },
      primary: { name: 'pg1', archiver: { ...ARCHIVER, lastArchivedAt: 990 }, replication: [], droppedWal: null }, standbys: [],
    };
  }

  test('repo2 unreachable: one problem naming it; the report and text show each repository', () => {
    const spec = withOffsite();
    const down = facts(twoRepos({ code: 99, message: '[HostConnectError] unable to connect to s3.example.com:9000' }, '000000010000000000000009'));
    const e = evaluate(down, spec, 1000_000);
    assert.equal(e.ok, false);
    assert.deepEqual(e.problems, ['stanza demo: pgBackRest status 99 (other; repo2: [HostConnectError] unable to connect to s3.example.com:9000)']);
    const r = statusReport(down, [], e, 1000_000);
    assert.deepEqual(r.repos.map((x) => [x.key, x.status.code, x.newestFull?.label]), [[1, 0, '20261201-010000F'], [2, 99, '20261201-020000F']]);
    assert.deepEqual(r.backups.map((b) => b.repo), [1, 2]);
    const text = renderText(r).join('\n');
    assert.match(text, /repo1 \(backup-srv\)\s+ok\s+20261201-010000F/);
    assert.match(text, /repo2 \(offsite\)\s+ERROR: \[HostConnectError\] unable to connect/);
    assert.match(text, /repo2\s+20261201-020000F\s+full/);
  });

  test('repo2 reachable but holding no full backup is a problem; a repo2 backup does not meet repo1\'s maxAge', () => {
    const empty = facts(twoRepos({ code: 0, message: 'ok' }, '000000010000000000000009', false));
    assert.deepEqual(evaluate(empty, withOffsite(), 1000_000).problems, ['repo2 (offsite, bucket pg-offsite) holds no full backup: nothing restores from it']);
    const spec = specSchema.parse({ ...withOffsite(), backups: { maxAge: { full: '60s' } } });
    const old = facts(twoRepos({ code: 0, message: 'ok' }, '000000010000000000000009'));
    // repo1's newest full stopped at 900, repo2's at 950: at 1000 s, 100 s and 50 s old.
    assert.match(evaluate(old, spec, 1000_000).problems.join('\n'), /maxAge\.full \(60s\) exceeded: the newest full backup, 20261201-010000F/);
  });

  test('offsite.maxAge judges repo2 alone, and not while repo2 cannot be read', () => {
    const spec = withOffsite({ maxAge: { full: '40s' } });
    const both = facts(twoRepos({ code: 0, message: 'ok' }, '000000010000000000000009'));
    // repo2's newest full stopped at 950: 50 s old at 1000 s; repo1's (900) is no concern of this policy.
    assert.deepEqual(evaluate(both, spec, 1000_000).problems, ['offsite.maxAge.full (40s) exceeded: the newest full backup in repo2, 20261201-020000F, finished 50s ago']);
    assert.deepEqual(evaluate(both, withOffsite({ maxAge: { full: '60s' } }), 1000_000).problems, []);
    const down = facts(twoRepos({ code: 99, message: '[HostConnectError] unable to connect' }, null));
    assert.equal(evaluate(down, spec, 1000_000).problems.filter((p) => p.includes('maxAge')).length, 0);
    assert.throws(() => specSchema.parse({ ...withOffsite(), offsite: { ...withOffsite().offsite, maxAge: { drill: '1d' } } }));
  });
});

describe('offsite: an unreachable object store', () => {
  const refused = `ERROR: [049]: unable to load info file '/demo/archive/demo/archive.info' or '/demo/archive/demo/archive.info.copy':
HostConnectError: unable to connect to 's3.example.com:9000': [111] Connection refused`;

  test('fails a backup to repo2 at once, naming the endpoint and what goes on', () => {
    const e = offsiteUnreachable(withOffsite(), 2, new PgbackrestError('backup-srv', 49, refused));
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.nonRetryable, true);
    assert.equal(e.type, 'OffsiteUnreachable');
    assert.match(e.message, /^repo2 \(offsite, s3\.example\.com\) cannot be reached: .*HostConnectError/);
    assert.match(e.message, /backups to repo1 go on/);
  });

  test('anything else keeps its own error and retries: another host, another error, no offsite', () => {
    const ssh = new PgbackrestError('backup-srv', 49, "HostConnectError: unable to connect to 'pg1-srv:22'");
    assert.equal(offsiteUnreachable(withOffsite(), 2, ssh), ssh);
    const write = new PgbackrestError('backup-srv', 41, refused.replace('[049]', '[041]'));
    assert.equal(offsiteUnreachable(withOffsite(), 2, write), write);
    const plain = new PgbackrestError('backup-srv', 49, refused);
    assert.equal(offsiteUnreachable(loadSpec(`${fixtures}/spec/demo.yaml`), 2, plain), plain);
    assert.equal(plain.retryable, true);
  });
});

describe('offsite: the object store\'s reply stays out of messages', () => {
  const reply = `ERROR: [039]: HTTP request failed with 403 (Forbidden):
                *** Path/Query ***:
                /demo/archive/demo/archive.info
                *** Response Content ***:
                <Error><Code>InvalidAccessKeyId</Code><AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId></Error>`;

  test('a failure names the request, never the access key S3 echoes back', () => {
    const e = new PgbackrestError('backup-srv', 39, reply);
    assert.match(e.message, /HTTP request failed with 403/);
    assert.doesNotMatch(e.message, /AKIAEXAMPLE|Response Content/);
  });

  test('nor does a repository\'s status read from pgbackrest info', () => {
    assert.equal(withoutResponseContent(reply).includes('AKIAEXAMPLE'), false);
    assert.match(withoutResponseContent(reply), /403 \(Forbidden\)/);
    assert.equal(withoutResponseContent('[HostConnectError] unable to connect'), '[HostConnectError] unable to connect');
  });
});
