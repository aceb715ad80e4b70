import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { drillRecordProblem, nextRecord, nextWalSegment, parseDrillRecord, parseVerifyOutput, rpoSeconds, type DrillResult } from '../../src/facts/drill';
import { CHECK_ROLE, drillCheckCommand, drillCheckOutcome, drillChecksSetupSql } from '../../src/render/drill-checks';
import { drillCheckProblem } from '../../src/spec/drill-check';
import type { StatusFacts } from '../../src/facts/status';
import { parseSpec } from '../../src/spec/load';
import { specSchema, type Spec } from '../../src/spec/schema';
import { specIssues } from '../../src/spec/validate';
import { drillProblems, evaluate } from '../../src/status/policy';
import { renderText, statusReport } from '../../src/status/render';
import { noCommandActivities } from './no-command-activities';
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

  test('checks: one query that reads, in the conservative grammar; anything else is refused naming drills.checks[i]', () => {
    for (const ok of [
      'select count(*) = 100 from drill_rows',
      "SELECT 'copy; do $$ -- /*' = 'copy; do $$ -- /*'",
      'with t as (select 1 as n) select n = 1 from t',
      '(select true)',
      'select exists (select 1 from pg_catalog.pg_class where relname = \'x\')',
      'select "count"(*) > 0 from "Drill Rows"',
    ]) assert.equal(drillCheckProblem(ok), undefined, ok);
    const refused: [string, RegExp][] = [
      ["COPY (SELECT 1) TO PROGRAM 'touch /tmp/x'", /COPY/],
      ["select true from (copy (select 1) to program 'id') x", /COPY/],
      ['select 1; drop table x', /DROP|";"/],
      ['select true; reset role', /";"|RESET/],
      ["select set_config('role', 'postgres', false) is not null", /set_config/],
      ["select \"set_config\"('role', 'postgres', false) is not null", /set_config/],
      ["select pg_read_file('/etc/passwd') <> ''", /pg_read_file/],
      ["select lo_export(1, '/tmp/x') = 1", /lo_export/],
      ["select query_to_xml('delete from t', true, true, '') is not null", /query_to_xml/],
      ["select dblink_exec('dbname=postgres', 'drop table t') = 'x'", /dblink/],
      ["select E'\\'' = 'x'", /backslash/],
      ["select e'a' = 'a'", /prefixed/],
      ["select U&\"d\" = 1", /prefixed/],
      ['select $$a$$ = \'a\'', /\$/],
      ['select true -- comment', /comment/],
      ['select true /* x */', /comment/],
      ['select (true)) or ((true', /without its/],
      ['select (true', /unbalanced/],
      ["select 'open", /unterminated/],
      ['values (true)', /SELECT or WITH/],
      ['-c true', /SELECT or WITH/],
      ['do $$ begin end $$', /DO/],
      ['select 1 into t', /INTO/],
      ['with d as (delete from t returning 1) select true', /DELETE/],
    ];
    for (const [sql, why] of refused) assert.match(drillCheckProblem(sql) ?? 'accepted', why, sql);
    assert.match(pathsOf((s) => (s.drills.checks = ['select true', "COPY (SELECT 1) TO PROGRAM 'touch /tmp/x'"])).join('\n'), /^drills\.checks\[1\]: not a drill check stanzactl runs: the keyword COPY/m);
    assert.match(pathsOf((s) => (s.postgres.version = 13)).join('\n'), /^drills\.checks: .*pg_read_all_data.*14/m);
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

describe('drill checks on the copy', () => {
  const pg = { version: 15, osUser: 'postgres', port: 5433, dataDir: '/var/lib/postgresql/15/drill', binDir: '/usr/lib/postgresql/15/bin', control: { type: 'pg_ctl' as const } };

  test('each check is a STABLE SECURITY DEFINER function owned by the role, its text only inside a literal', () => {
    const sql = drillChecksSetupSql(["select count(*) = 1 from t where s = 'it''s'"]);
    assert.match(sql, new RegExp(`ALTER ROLE ${CHECK_ROLE} NOSUPERUSER .*NOLOGIN`));
    assert.match(sql, new RegExp(`GRANT pg_read_all_data TO ${CHECK_ROLE};`));
    assert.match(sql, /CREATE FUNCTION stanzactl_drill\.check_1\(\) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER AS 'SELECT \(select count\(\*\) = 1 from t where s = ''it''''s''\) IS TRUE';/);
    assert.match(sql, new RegExp(`ALTER FUNCTION stanzactl_drill\\.check_1\\(\\) OWNER TO ${CHECK_ROLE};`));
  });

  test('a check is called read-only, with a timeout, errors as their SQLSTATE alone and out of the server log', () => {
    const argv = drillCheckCommand(pg, 1).argv.join(' ');
    assert.match(argv, /VERBOSITY=sqlstate/);
    assert.match(argv, /options='-c default_transaction_read_only=on -c statement_timeout=\d+ -c log_min_messages=panic -c log_min_error_statement=panic'/);
    assert.match(argv, /-c SELECT stanzactl_drill\.check_2\(\)$/);
  });

  test('only a boolean or an SQLSTATE is kept: nothing the server printed', () => {
    assert.deepEqual(drillCheckOutcome({ code: 0, stdout: 't\n', stderr: '' }), { ok: true, detail: 'returned true' });
    assert.equal(drillCheckOutcome({ code: 0, stdout: 'f\n', stderr: '' }).ok, false);
    assert.equal(drillCheckOutcome({ code: 0, stdout: 'secret-1\n', stderr: '' }).detail, 'unexpected output from psql (not shown)');
    assert.equal(drillCheckOutcome({ code: 1, stdout: '', stderr: 'NOTICE:  00000\nERROR:  42501\n' }).detail, 'failed: SQLSTATE 42501 (insufficient privilege: the check needs more than reading)');
    assert.equal(drillCheckOutcome({ code: 1, stdout: '', stderr: 'ERROR:  22P02\n' }).detail, 'failed: SQLSTATE 22P02 (data exception)');
    const leaky = drillCheckOutcome({ code: 1, stdout: '', stderr: 'ERROR:  invalid input syntax for type integer: "secret-1"\n' });
    assert.equal(leaky.ok, false);
    assert.doesNotMatch(leaky.detail, /secret/);
  });
});

describe('who may record a drill', () => {
  const drill = result({});
  const run = { workflowType: 'restoreDrill', workflowId: 'drill-alpha', runId: 'r1' };
  const now = drill.endedAt + 1;
  const problem = (over: Partial<typeof run>, r: unknown = drill, at = now) => drillRecordProblem({ ...run, ...over }, 'restoreDrill', 'alpha', 'drill-srv', r, at);

  test('the drill run records its own result', () => {
    assert.equal(problem({}), undefined);
    assert.equal(problem({}, result({ ok: false, checks: [{ name: 'check 1', ok: false, detail: 'returned false, or no row' }], failure: 'check 1: returned false, or no row' })), undefined);
  });

  test('another workflow, another run, another stanza, times to come and a self-contradicting result are refused', () => {
    assert.match(problem({ workflowType: 'backupStanza' }) ?? '', /only a restoreDrill run records its own drill: this call came from backupStanza/);
    assert.match(problem({ workflowType: undefined, workflowId: undefined, runId: undefined }) ?? '', /came from no workflow/);
    assert.match(problem({ runId: 'r2' }) ?? '', /names run r1 of drill-alpha, not the run recording it \(r2 of drill-alpha\)/);
    assert.match(problem({ workflowId: 'drill-other' }) ?? '', /not the run recording it/);
    assert.match(problem({}, result({ stanza: 'beta' })) ?? '', /stanza beta/);
    assert.match(problem({}, result({ host: 'elsewhere' })) ?? '', /on elsewhere/);
    assert.match(problem({}, result({ startedAt: now + 86_400 * 365, endedAt: now + 86_400 * 365 })) ?? '', /not of a drill that has ended/);
    assert.match(problem({}, result({ checks: [{ name: 'check 1', ok: false, detail: 'x' }] })) ?? '', /passed and failed at once/);
    assert.match(problem({}, { ...drill, checks: 'all fine' }) ?? '', /not a drill result: checks/);
  });

  test('recordDrill refuses a result from another workflow, non-retryable, before it touches the repository host', async () => {
    const { acts, commands } = noCommandActivities();
    const spec = demo() as Spec & Record<string, any>;
    spec.drills = { ...DRILLS };
    const forged = { ...drill, stanza: spec.stanza, host: DRILLS.host, workflowId: 'drill-demo', runId: 'r1' };
    const env = new MockActivityEnvironment({ workflowType: 'backupStanza', workflowExecution: { workflowId: 'backup-demo-manual', runId: 'r9' } });
    await assert.rejects(env.run(acts.recordDrill, spec, forged), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure, String(e));
      assert.equal(e.type, 'ForgedDrillRecord');
      assert.equal(e.nonRetryable, true);
      assert.match(e.message, /drill record not written: only a restoreDrill run records its own drill: this call came from backupStanza backup-demo-manual/);
      return true;
    });
    assert.deepEqual(commands, []);
    // The drill run itself gets past the check, to the repository host.
    const own = new MockActivityEnvironment({
      workflowType: 'restoreDrill', workflowExecution: { workflowId: 'drill-demo', runId: 'r1' }, currentAttemptScheduledTimestampMs: Date.now(), scheduledTimestampMs: Date.now(), startToCloseTimeoutMs: 600_000, scheduleToCloseTimeoutMs: 0,
    });
    await assert.rejects(own.run(acts.recordDrill, spec, forged), /no command may run/);
    assert.ok(commands.length > 0);
  });
});
