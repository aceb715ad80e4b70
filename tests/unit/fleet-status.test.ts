import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import type { DrillResult } from '../../src/facts/drill';
import { parseInfo } from '../../src/facts/pgbackrest-info';
import type { StatusFacts } from '../../src/facts/status';
import { fleetReport, renderFleet, useColour, type FleetRead } from '../../src/status/fleet';
import { evaluate } from '../../src/status/policy';
import { statusReport } from '../../src/status/render';
import { smallSpec } from './small-spec';

const fixtures = resolve(__dirname, '../../../tests/fixtures');
const info = parseInfo(readFileSync(`${fixtures}/pgbackrest/info-alpha-backups.json`, 'utf8'))[0];
// info-alpha-backups.json: the full backup stopped at 1795607898, the newest (a diff) at 1795607903.
const NOW = (1795607903 + 3 * 3600) * 1000;

const drill: DrillResult = {
  stanza: 'alpha', workflowId: 'drill-alpha', runId: 'r1', host: 'drill-srv', startedAt: NOW / 1000 - 2 * 86400, endedAt: NOW / 1000 - 2 * 86400 + 60, ok: true,
  backupLabel: '20261125-115815F', rtoSeconds: 12.5, rpoSeconds: 0, checks: [], failure: null,
};

/** A stanza read as the fixture's repository has it: archiving fine, two streaming standbys, a passed drill; `over` breaks parts. */
function read(stanza: string, over: { archiveMode?: string; lagBytes?: number; drill?: boolean; noRepository?: boolean } = {}): FleetRead {
  const facts: StatusFacts = {
    stanza,
    repository: over.noRepository ? { host: 'backup-srv', stanza: null, error: 'ssh: connect to host backup-srv port 22: No route to host' } : { host: 'backup-srv', stanza: { ...info, name: stanza } },
    primary: {
      name: 'pg1',
      archiver: { archiveMode: over.archiveMode ?? 'on', archivedCount: 7, lastArchivedWal: '000000010000000000000007', lastArchivedAt: NOW / 1000 - 30, failedCount: 0, lastFailedWal: null, lastFailedAt: null },
      replication: [
        { applicationName: 'pg2', clientAddr: '10.0.0.12', state: 'streaming', syncState: 'async', replayLag: '', lagBytes: 0 },
        { applicationName: 'pg3', clientAddr: '10.0.0.13', state: 'streaming', syncState: 'async', replayLag: '00:00:01.5', lagBytes: over.lagBytes ?? 0 },
      ],
      droppedWal: null,
    },
    standbys: ['pg2', 'pg3'].map((name) => ({ name, state: 'streaming', inRecovery: true, replayDelaySeconds: 3, caughtUp: true })),
    ...(over.drill !== false && { drill: { host: 'drill-srv', record: { last: drill, lastGood: drill } } }),
  };
  const spec = smallSpec({ stanza, ...(over.drill !== false && { drills: { host: 'drill-srv', dataDir: '/var/lib/drill/data', port: 5433 } }) });
  return { file: `/fleet/${stanza}.yaml`, stanza, repositoryHost: 'backup-srv', report: statusReport(facts, [], evaluate(facts, spec, NOW), NOW) };
}

const unreadable = (stanza: string, error: string): FleetRead => ({ file: `/fleet/${stanza}.yaml`, stanza, repositoryHost: 'backup-srv', error });

describe('status of a fleet', () => {
  test('worst first: unreadable, then broken, then ok, by stanza within each; counts and ok', () => {
    const r = fleetReport([read('zeta'), read('alpha'), read('mid', { archiveMode: 'off' }), unreadable('omega', 'no worker answered'), read('beta', { noRepository: true })]);
    assert.deepEqual(r.stanzas.map((e) => [e.stanza, e.verdict]), [['omega', 'unreadable'], ['beta', 'broken'], ['mid', 'broken'], ['alpha', 'ok'], ['zeta', 'ok']]);
    assert.deepEqual(r.counts, { stanzas: 5, unreadable: 1, broken: 2, ok: 2 });
    assert.equal(r.ok, false);
    assert.equal(r.stanzas[0].report, null);
    assert.equal(r.stanzas[0].error, 'no worker answered');
    assert.equal(r.stanzas[3].error, null);
    assert.equal(r.stanzas[3].report?.stanza, 'alpha');
    assert.equal(fleetReport([read('alpha'), read('beta')]).ok, true);
  });

  test('the same stanza on two repository hosts: one order always', () => {
    const a = { ...read('alpha'), repositoryHost: 'backup-b', file: '/fleet/1.yaml' };
    const b = { ...read('alpha'), repositoryHost: 'backup-a', file: '/fleet/2.yaml' };
    assert.deepEqual(fleetReport([a, b]).stanzas.map((e) => e.file), ['/fleet/2.yaml', '/fleet/1.yaml']);
    assert.deepEqual(fleetReport([b, a]).stanzas.map((e) => e.file), ['/fleet/2.yaml', '/fleet/1.yaml']);
  });

  test('the table: one line per stanza with each column, a reason on the line that could not be read', () => {
    const r = fleetReport([
      read('alpha', { lagBytes: 3 * 1024 * 1024 }),
      read('beta', { archiveMode: 'off', drill: false }),
      unreadable('gamma', 'workflow execution timed out\n  after 2 minutes'),
      read('delta', { noRepository: true }),
    ]);
    assert.deepEqual(renderFleet(r, false), [
      '4 stanzas: 1 ok, 2 broken, 1 unreadable',
      '  STANZA  REPOSITORY  FULL BACKUP       AGE  ARCHIVING  STANDBYS  WORST LAG      LAST DRILL     VERDICT',
      '  gamma   backup-srv  ?                 ?    ?          ?         ?              ?              UNREADABLE: workflow execution timed out after 2 minutes',
      '  beta    backup-srv  20261125-115815F  3h   OFF        2/2       0 B            -              BROKEN: archiving is off on the primary pg1 (archive_mode = off): no WAL reaches the repository',
      '  delta   backup-srv  ?                 ?    ok         2/2       0 B            passed 2d ago  BROKEN: cannot read pgbackrest info on the repository host backup-srv: ssh: connect to host backup-srv port 22: No route to host',
      '  alpha   backup-srv  20261125-115815F  3h   ok         2/2       3.0 MiB (pg3)  passed 2d ago  ok',
    ]);
  });

  test('more than one problem: the first, and how many more', () => {
    const r = fleetReport([read('beta', { archiveMode: 'off', noRepository: true })]);
    assert.match(renderFleet(r, false)[2], /BROKEN: cannot read pgbackrest info on the repository host backup-srv: .* \(\+1 more\)$/);
  });

  test('red lines for what is not ok, only when asked; colour only on a terminal without NO_COLOR', () => {
    const r = fleetReport([read('alpha'), unreadable('omega', 'no worker')]);
    const [summary, header, omega, alpha] = renderFleet(r, true);
    assert.ok(!summary.includes('\x1b') && !header.includes('\x1b') && !alpha.includes('\x1b'));
    assert.ok(omega.startsWith('\x1b[31m  omega') && omega.endsWith('\x1b[0m'), JSON.stringify(omega));
    assert.ok(renderFleet(r, false).every((l) => !l.includes('\x1b')));
    assert.equal(useColour(true, {}), true);
    assert.equal(useColour(true, { NO_COLOR: '1' }), false);
    assert.equal(useColour(true, { NO_COLOR: '' }), true);
    assert.equal(useColour(false, {}), false);
    assert.equal(useColour(undefined, {}), false);
  });

  test('the JSON form holds every report as status --spec FILE --json prints it', () => {
    const one = read('alpha');
    const r = JSON.parse(JSON.stringify(fleetReport([one, unreadable('omega', 'no worker')])));
    assert.deepEqual(Object.keys(r), ['ok', 'counts', 'stanzas']);
    assert.deepEqual(r.stanzas[1], { stanza: 'alpha', repositoryHost: 'backup-srv', file: '/fleet/alpha.yaml', verdict: 'ok', error: null, report: JSON.parse(JSON.stringify('report' in one && one.report)) });
    assert.deepEqual(r.stanzas[0], { stanza: 'omega', repositoryHost: 'backup-srv', file: '/fleet/omega.yaml', verdict: 'unreadable', error: 'no worker', report: null });
  });
});
