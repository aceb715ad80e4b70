import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parseArchiverRow, parseStandbyRow } from '../../src/activities/status';
import { newestDroppedWal, type DroppedWal } from '../../src/facts/dropped-wal';
import type { ArchiverFacts } from '../../src/facts/status';
import { parseInfo } from '../../src/facts/pgbackrest-info';
import type { Spec } from '../../src/spec/schema';
import { formatAge } from '../../src/status/age';
import { evaluate } from '../../src/status/policy';
import { renderText, statusReport } from '../../src/status/render';
import type { StatusFacts } from '../../src/facts/status';
import { smallSpec } from './small-spec';

const fixtures = resolve(__dirname, '../../../tests/fixtures');
const info = (file: string) => parseInfo(readFileSync(`${fixtures}/pgbackrest/${file}`, 'utf8'))[0];

// info-alpha-backups.json: full stopped at 1795607898, incr at 1795607900, diff at 1795607903 (the newest).
const FULL_STOP = 1795607898;
const NEWEST_STOP = 1795607903;
const HOUR = 3_600_000;

const healthyArchiver: ArchiverFacts = {
  archiveMode: 'on',
  archivedCount: 7,
  lastArchivedWal: '000000010000000000000007',
  lastArchivedAt: NEWEST_STOP + 5,
  failedCount: 0,
  lastFailedWal: null,
  lastFailedAt: null,
};

function facts(over: { archiver?: Partial<ArchiverFacts>; file?: string; repository?: Partial<StatusFacts['repository']>; droppedWal?: DroppedWal } = {}): StatusFacts {
  return {
    stanza: 'alpha',
    repository: { host: 'backup-srv', stanza: info(over.file ?? 'info-alpha-backups.json'), ...over.repository },
    primary: { name: 'pg1', archiver: { ...healthyArchiver, ...over.archiver }, replication: [], droppedWal: over.droppedWal ?? null },
    standbys: [],
  };
}

function spec(maxAge?: { full?: string; any?: string }): Spec {
  return smallSpec(maxAge && { backups: { maxAge } });
}

describe('status policy', () => {
  test('fresh backups, archiving fine, no maxAge: ok', () => {
    assert.deepEqual(evaluate(facts(), spec(), NEWEST_STOP * 1000 + 60_000), { ok: true, problems: [], warnings: [] });
  });

  test('WAL dropped past archive-push-queue-max: a gap after the newest backup\'s start is a problem, one before it is history', () => {
    const now = NEWEST_STOP * 1000 + 60_000;
    // The newest backup (the diff) starts at segment 7, on timeline 1.
    const at = (wal: string) => evaluate(facts({ droppedWal: { wal, logged: '2026-11-25 12:00:01.123' } }), spec(), now);
    assert.deepEqual(at('000000010000000000000006'), { ok: true, problems: [], warnings: [] });
    const gap = at('000000010000000000000007');
    assert.equal(gap.ok, false);
    assert.deepEqual(gap.problems, ['pgBackRest dropped WAL on the primary pg1 (newest 000000010000000000000007, logged 2026-11-25 12:00:01.123): ' +
      'the repository was out of reach longer than archive-push-queue-max allows, so the archive has a gap after the start of the newest backup, ' +
      '20261125-115815F_20261125-115821D, and no recovery can cross it. Once archiving works again, take a full backup']);
    // After a promotion the timeline goes up, the position goes on: compared by position.
    assert.equal(at('000000020000000000000009').ok, false);
    assert.equal(at('000000020000000000000003').ok, true);
    assert.match(evaluate(facts({ file: 'info-no-backups.json', droppedWal: { wal: '000000010000000000000001', logged: 'x' } }), spec(), now).problems.join('\n'), /no backup started after it/);
  });

  test('dropped WAL is read from pgBackRest\'s archive-push warnings, the newest segment wins', () => {
    const log = [
      "2026-11-26 04:01:02.345 P00   WARN: dropped WAL file '00000001000000000000000A' because archive queue exceeded 4GB",
      '2026-11-26 04:01:03.000 P00   INFO: pushed WAL file \'00000001000000000000000B\' to the archive',
      "2026-11-26 04:01:01.000 P01   WARN: dropped WAL file '000000010000000000000009' because archive queue exceeded 4GB",
    ].join('\n');
    assert.deepEqual(newestDroppedWal(log), { wal: '00000001000000000000000A', logged: '2026-11-26 04:01:02.345' });
    assert.equal(newestDroppedWal(''), null);
    assert.equal(newestDroppedWal("2026-11-26 04:01:03.000 P00   INFO: pushed WAL file '00000001000000000000000B' to the archive"), null);
  });

  test('maxAge.full holds at exactly the limit and breaks one second later', () => {
    const s = spec({ full: '26h' });
    assert.equal(evaluate(facts(), s, FULL_STOP * 1000 + 26 * HOUR).ok, true);
    const late = evaluate(facts(), s, FULL_STOP * 1000 + 26 * HOUR + 1000);
    assert.equal(late.ok, false);
    assert.deepEqual(late.problems, ['maxAge.full (26h) exceeded: the newest full backup, 20261125-115815F, finished 26h ago']);
  });

  test('maxAge.any is measured from the newest backup of any type, by stop time', () => {
    const s = spec({ any: '1h' });
    // The full is 5 s older than the diff: at the diff's limit the full alone would be too old.
    assert.equal(evaluate(facts(), s, NEWEST_STOP * 1000 + HOUR).ok, true);
    const late = evaluate(facts(), s, NEWEST_STOP * 1000 + HOUR + 1000);
    assert.deepEqual(late.problems, ['maxAge.any (1h) exceeded: the newest backup, 20261125-115815F_20261125-115821D, finished 60m ago']);
  });

  test('both policies broken: each named', () => {
    const r = evaluate(facts(), spec({ full: '1d', any: '2h' }), FULL_STOP * 1000 + 8 * 24 * HOUR);
    assert.deepEqual(r.problems.map((p) => p.split(' ')[0]), ['maxAge.full', 'maxAge.any']);
    assert.match(r.problems[0], /finished 8d ago/);
  });

  test('no backup at all: a problem only when maxAge is set (besides the stanza status)', () => {
    const f = facts({ file: 'info-no-backups.json' });
    const now = Date.now();
    assert.deepEqual(evaluate(f, spec(), now).problems, ['stanza beta: pgBackRest status 2 (no valid backups)']);
    assert.deepEqual(evaluate(f, spec({ full: '8d', any: '26h' }), now).problems, [
      'stanza beta: pgBackRest status 2 (no valid backups)',
      'maxAge.full (8d) broken: the repository holds no full backup',
      'maxAge.any (26h) broken: the repository holds no backup',
    ]);
  });

  test('stanza error: code 99 says "other", the repository entry says why', () => {
    const r = evaluate(facts({ file: 'info-repo-unreachable.json' }), spec(), Date.now());
    assert.equal(r.ok, false);
    assert.match(r.problems[0], /^stanza alpha: pgBackRest status 99 \(other; repo1: \[UnknownError\] remote-0 process on '127\.0\.0\.1' terminated/);
  });

  test('an unreadable repository is one problem, not also "no backup" per policy', () => {
    const r = evaluate(facts({ repository: { stanza: null, error: 'ssh: connect timed out' } }), spec({ full: '1d', any: '1d' }), Date.now());
    assert.deepEqual(r.problems, ['cannot read pgbackrest info on the repository host backup-srv: ssh: connect timed out']);
  });

  test('archiving failing: the last failure is newer than the last success', () => {
    const now = (NEWEST_STOP + 600) * 1000;
    const failing = facts({ archiver: { failedCount: 3, lastFailedWal: '000000010000000000000008', lastFailedAt: NEWEST_STOP + 300 } });
    assert.deepEqual(evaluate(failing, spec(), now).problems, [
      'archiving is failing on the primary pg1: 3 failures, last 000000010000000000000008 5m ago; last success 000000010000000000000007 9m ago',
    ]);
    // Recovered: a success after the failure.
    const recovered = facts({ archiver: { failedCount: 3, lastFailedWal: '000000010000000000000008', lastFailedAt: NEWEST_STOP + 1 } });
    assert.equal(evaluate(recovered, spec(), now).ok, true);
  });

  test('archiving: failures with no success since a statistics reset, and nothing archived anywhere', () => {
    const reset = { archivedCount: 0, lastArchivedWal: null, lastArchivedAt: null };
    const now = (NEWEST_STOP + 600) * 1000;
    // Nothing failed and the repository holds WAL: a crash restart reset the counters, archiving is fine.
    assert.equal(evaluate(facts({ archiver: reset }), spec(), now).ok, true);
    const failedSinceReset = evaluate(facts({ archiver: { ...reset, failedCount: 1, lastFailedWal: 'X', lastFailedAt: NEWEST_STOP } }), spec(), now);
    assert.match(failedSinceReset.problems[0], /archiving is failing on the primary pg1: 1 failures, last X 10m ago; no WAL archived since the statistics were reset/);
    const none = evaluate(facts({ archiver: reset, file: 'info-no-backups.json' }), spec(), now);
    assert.match(none.problems.at(-1)!, /archiving is failing on the primary pg1: no failure recorded; no WAL archived/);
  });

  test('archive_mode off and an unreadable primary are problems', () => {
    assert.match(evaluate(facts({ archiver: { archiveMode: 'off' } }), spec(), Date.now()).problems[0], /archiving is off on the primary pg1/);
    const down: StatusFacts = { ...facts(), primary: { name: 'pg1', archiver: null, replication: [], error: 'psql: error: connection refused' } };
    assert.deepEqual(evaluate(down, spec(), Date.now()).problems, ['cannot read pg_stat_archiver on the primary pg1, archiving unknown: psql: error: connection refused']);
  });
});

describe('status facts and rendering', () => {
  test('pg_stat_archiver row: NULLs at the end of the row stay columns', () => {
    assert.deepEqual(parseArchiverRow('on\t12\t00000001000000000000000C\t1795607910.123456\t0\t\t'), {
      archiveMode: 'on',
      archivedCount: 12,
      lastArchivedWal: '00000001000000000000000C',
      lastArchivedAt: 1795607910.123456,
      failedCount: 0,
      lastFailedWal: null,
      lastFailedAt: null,
    });
    assert.throws(() => parseArchiverRow('on\t12'), /expected 7 tab-separated columns/);
  });

  test('standby row: streaming, caught up, never replayed, promoted', () => {
    assert.deepEqual(parseStandbyRow('pg2', 't\tstreaming\t4.25\tt'), { name: 'pg2', state: 'streaming', inRecovery: true, replayDelaySeconds: 4.25, caughtUp: true });
    assert.deepEqual(parseStandbyRow('pg2', 't\t\t\tf'), { name: 'pg2', state: 'recovering', inRecovery: true, replayDelaySeconds: null, caughtUp: false });
    assert.equal(parseStandbyRow('pg2', 'f\t\t\tt').state, 'not in recovery');
  });

  test('ages read as 45s, 3m, 26h, 8d', () => {
    assert.deepEqual([45, 180, 26 * 3600 + 1800, 8 * 86400 + 5, -3].map(formatAge), ['45s', '3m', '26h', '8d', '0s']);
  });

  test('report: pgBackRest figures unchanged, primary view joined to each standby, text names problems', () => {
    const f: StatusFacts = {
      ...facts(),
      primary: {
        name: 'pg1',
        archiver: healthyArchiver,
        replication: [{ applicationName: 'pg2', clientAddr: '10.0.0.12', state: 'streaming', syncState: 'async', replayLag: '', lagBytes: 0 }],
      },
      standbys: [
        { name: 'pg2', state: 'streaming', inRecovery: true, replayDelaySeconds: 3, caughtUp: true },
        { name: 'pg3', state: 'down', inRecovery: null, replayDelaySeconds: null, caughtUp: null, error: 'psql: error: no such file' },
      ],
    };
    const now = (NEWEST_STOP + 2 * 86400) * 1000;
    const s = spec({ any: '1d' });
    const r = statusReport(f, [{ type: 'full', id: 'backup-alpha-full', paused: false, nextRun: NEWEST_STOP + 3 * 86400 }], evaluate(f, s, now), now);
    assert.equal(r.ok, false);
    assert.deepEqual(r.backups[0], {
      repo: 1, label: '20261125-115815F', type: 'full', prior: null, startedAt: 1795607895, stoppedAt: FULL_STOP, ageSeconds: 2 * 86400 + 5,
      sizes: { database: 22992588, delta: 22992588, repo: 3056842, repoDelta: 3056842 },
      wal: { start: '000000010000000000000002', stop: '000000010000000000000003' }, error: false,
    });
    assert.deepEqual(r.archive.repository, { min: '000000010000000000000001', max: '000000010000000000000007' });
    assert.equal(r.archive.failing, false);
    assert.deepEqual(r.standbys.map((x) => [x.name, x.state, x.primaryView?.state ?? null]), [['pg2', 'streaming', 'streaming'], ['pg3', 'down', null]]);
    const text = renderText(r).join('\n');
    assert.match(text, /^stanza alpha: 1 problem$/m);
    assert.match(text, /20261125-115815F\s+full\s+2026-11-25T\S+\s+2d\s+21\.9 MiB\s+2\.9 MiB/);
    assert.match(text, /pg2\s+streaming\s+3s \(caught up\)\s+streaming async, 0 bytes behind/);
    assert.match(text, /pg3\s+down\s+-\s+not connected\n\s+pg3 is down: psql: error: no such file/);
    assert.match(text, /full\s+backup-alpha-full\s+2026-11-\d\dT\S+Z \(in 24h\)/);
    assert.match(text, /^ {2}- maxAge\.any \(1d\) exceeded/m);
  });
});
