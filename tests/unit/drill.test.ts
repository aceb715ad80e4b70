import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { nextRecord, nextWalSegment, parseDrillRecord, parseVerifyOutput, rpoSeconds, type DrillResult } from '../../src/facts/drill';
import type { StatusFacts } from '../../src/facts/status';
import { parseSpec } from '../../src/spec/load';
import { specSchema, type Spec } from '../../src/spec/schema';
import { specIssues } from '../../src/spec/validate';
import { drillProblems, evaluate } from '../../src/status/policy';
import { renderText, statusReport } from '../../src/status/render';
import { smallSpec } from './small-spec';

const fixtures = resolve(__dirname, '../../../tests/fixtures');
const verifyFixture = (name: string) => readFileSync(`${fixtures}/pgbackrest/${name}`, 'utf8');
const demo = (): Record<string, any> => JSON.parse(JSON.stringify(parseSpec(readFileSync(`${fixtures}/spec/demo.yaml`, 'utf8'), 'demo.yaml')));
const DRILLS = { host: 'drill-srv', dataDir: '/var/lib/postgresql/15/drill', port: 5433, schedule: '0 3 * * *', checks: ['select count(*) > 0 from pgbench_accounts'] };

describe('drills in the spec', () => {
  test('the issue example is valid, maxAge.drill under backups.maxAge', () => {
    const s = demo();
    s.drills = DRILLS;
    s.backups.maxAge = { drill: '8d' };
    assert.deepEqual(specIssues(s), []);
  });

  const pathsOf = (mutate: (s: Record<string, any>) => void) => {
    const s = demo();
    s.drills = { ...DRILLS };
    mutate(s);
    return specIssues(s).map((i) => `${i.path}: ${i.message}`);
  };

  test('a drill host that is a node (by name or address) or the repository host is refused', () => {
    assert.match(pathsOf((s) => (s.drills.host = 'pg2-srv')).join('\n'), /^drills(\.host)?: .*pg2-srv.*node/m);
    assert.match(pathsOf((s) => (s.drills.host = '10.0.0.11')).join('\n'), /^drills(\.host)?: .*pg1-srv/m);
    assert.match(pathsOf((s) => (s.drills.host = 'backup-srv')).join('\n'), /^drills(\.host)?: .*repository host/m);
  });

  test('bad drill fields are named by path', () => {
    assert.match(pathsOf((s) => (s.drills.schedule = '99 99 * * *')).join('\n'), /^drills\.schedule: /m);
    assert.match(pathsOf((s) => (s.drills.dataDir = '/drill')).join('\n'), /^drills\.dataDir: .*two levels/m);
    assert.match(pathsOf((s) => (s.drills.checks = ['select 1; drop table x'])).join('\n'), /^drills\.checks\[0\]: /m);
    assert.match(pathsOf((s) => (s.drills.checks = ['-c true'])).join('\n'), /^drills\.checks\[0\]: /m);
    assert.match(pathsOf((s) => (s.drills.port = 0)).join('\n'), /^drills\.port: /m);
  });

  test('maxAge.drill without a drills: section is refused', () => {
    const s = demo();
    s.backups.maxAge = { drill: '8d' };
    assert.match(specIssues(s).map((i) => `${i.path}: ${i.message}`).join('\n'), /^backups\.maxAge\.drill: .*drills:/m);
  });
});

describe('drill facts', () => {
  test('the WAL segment after another, across a 4 GiB boundary', () => {
    assert.equal(nextWalSegment('000000010000000000000004'), '000000010000000000000005');
    assert.equal(nextWalSegment('0000000200000003000000FF'), '000000020000000400000000');
    assert.throws(() => nextWalSegment('nope'));
  });

  test('RPO: the marker time less the newest recovered commit, never below 0, null without any', () => {
    assert.equal(rpoSeconds(1000.5, 990.25), 10.25);
    assert.equal(rpoSeconds(1000, 1000.2), 0);
    assert.equal(rpoSeconds(1000, null), null);
  });

  test('verify (pgBackRest 2.45): a clean repository', () => {
    assert.deepEqual(parseVerifyOutput(verifyFixture('verify-ok.txt')), { ok: true, problems: [] });
  });

  test('verify: a flipped byte names the backup file, a removed segment is named from the hole between WAL ranges', () => {
    assert.deepEqual(parseVerifyOutput(verifyFixture('verify-bad-checksum.txt')).problems, [
      "invalid checksum '20261126-041522F/pg_data/base/5/2838.gz'",
      'WAL missing from the archive (15-1): 000000010000000000000005',
    ]);
    assert.deepEqual(parseVerifyOutput(verifyFixture('verify-wal-gap.txt')), { ok: false, problems: ['WAL missing from the archive (15-1): 000000010000000000000005'] });
  });

  test('verify: ranges on different timelines are no hole; a longer hole is named by its ends', () => {
    const out = [
      'P00 DETAIL: archiveId: 15-1, wal start: 000000010000000000000001, wal stop: 000000010000000000000004',
      'P00 DETAIL: archiveId: 15-1, wal start: 000000020000000000000004, wal stop: 000000020000000000000006',
      'P00 DETAIL: archiveId: 15-1, wal start: 00000002000000000000000A, wal stop: 00000002000000000000000B',
    ].join('\n');
    assert.deepEqual(parseVerifyOutput(out).problems, ['WAL missing from the archive (15-1): 000000020000000000000007 .. 000000020000000000000009']);
  });
});

const result = (over: Partial<DrillResult>): DrillResult => ({
  stanza: 'alpha', workflowId: 'drill-alpha', runId: 'r1', host: 'drill-srv', startedAt: 1_000_000, endedAt: 1_000_060, ok: true,
  backupLabel: '20261126-041522F', rtoSeconds: 12.5, rpoSeconds: 0, checks: [{ name: 'marker', ok: true, detail: 'recovered' }], failure: null, ...over,
});

describe('drill record and status', () => {
  test('a passed drill is the last and the last good one; a failed one keeps the last good', () => {
    const good = result({});
    const bad = result({ runId: 'r2', startedAt: 1_000_100, ok: false, failure: 'restore: checksum' });
    const r1 = nextRecord(null, good);
    assert.deepEqual(r1, { last: good, lastGood: good });
    const r2 = nextRecord(r1, bad);
    assert.deepEqual(r2, { last: bad, lastGood: good });
    assert.deepEqual(nextRecord(r2, bad), r2, 'a retry writes the same record');
    assert.deepEqual(parseDrillRecord(JSON.stringify(r2)), r2);
    assert.throws(() => parseDrillRecord('{"last": {}}'));
  });

  const spec = (maxAge?: string): Spec => smallSpec({
    drills: { host: 'drill-srv', dataDir: '/var/lib/drill/data', port: 5433 },
    ...(maxAge && { backups: { maxAge: { drill: maxAge } } }),
  });
  const facts = (drill: StatusFacts['drill']): StatusFacts => ({
    stanza: 'alpha', repository: { host: 'backup-srv', stanza: null }, primary: { name: 'pg1', archiver: null, replication: [] }, standbys: [], drill,
  });
  const DAY = 86_400_000;

  test('no drill yet: fine without maxAge.drill, broken with it', () => {
    assert.deepEqual(drillProblems(facts({ host: 'drill-srv', record: null }), spec(), 0), []);
    assert.match(drillProblems(facts({ host: 'drill-srv', record: null }), spec('8d'), 0)[0], /maxAge\.drill \(8d\) broken: no restore drill has passed/);
  });

  test('a failed last drill is a problem, named with its failure, whatever its age', () => {
    const bad = result({ ok: false, failure: "restore: invalid checksum '20261126-041522F/pg_data/base/5/2838.gz'" });
    const p = drillProblems(facts({ host: 'drill-srv', record: { last: bad, lastGood: null } }), spec(), 1_000_000_000 + 60_000);
    assert.equal(p.length, 1);
    assert.match(p[0], /the last restore drill \(drill-alpha, .* ago\) failed: restore: invalid checksum '20261126-041522F\/pg_data\/base\/5\/2838\.gz'/);
  });

  test('maxAge.drill holds up to its limit from the last passed drill and breaks after', () => {
    const good = result({});
    const f = facts({ host: 'drill-srv', record: { last: good, lastGood: good } });
    assert.deepEqual(drillProblems(f, spec('8d'), good.startedAt * 1000 + 8 * DAY), []);
    assert.match(drillProblems(f, spec('8d'), good.startedAt * 1000 + 8 * DAY + 1000)[0], /maxAge\.drill \(8d\) exceeded: the last passed restore drill started 8d ago/);
  });

  test('an unreadable record is one problem; the report and text show the drill, RTO and RPO', () => {
    assert.match(drillProblems(facts({ host: 'drill-srv', record: null, error: 'permission denied' }), spec('8d'), 0)[0], /cannot read the last restore drill/);
    const good = result({});
    const f = facts({ host: 'drill-srv', record: { last: good, lastGood: good } });
    const now = (good.startedAt + 3600) * 1000;
    const r = statusReport(f, [], evaluate(f, spec('8d'), now), now);
    assert.equal(r.drill?.last?.rtoSeconds, 12.5);
    assert.equal(r.drill?.last?.ageSeconds, 3600);
    const text = renderText(r).join('\n');
    assert.match(text, /restore drill \(host drill-srv\):\n {2}last: .* \(60m ago\), passed, backup 20261126-041522F, RTO 12\.5 s, RPO 0\.0 s\n {4}ok {5}marker: recovered/);
  });

  test('a spec without drills has no drill section', () => {
    const f = facts(undefined);
    const s = specSchema.parse({ ...spec(), drills: undefined });
    assert.equal(statusReport(f, [], evaluate(f, s, 0), 0).drill, null);
  });
});
