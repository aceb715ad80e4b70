import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { backupStart, timelineSwitch, walFileName } from '../../src/facts/recovery';
import { copyPostgres } from '../../src/render/copy-postgres';
import { copyHostSettings } from '../../src/render/pgbackrest-conf';
import { copyRestoreArgs } from '../../src/render/restore-target';
import { loadSpec } from '../../src/spec/load';
import { copyPlaceProblems, defaultCopyPlace } from '../../src/spec/restore-copy';
import { inputIssues } from '../../src/spec/validate';

const fixtures = resolve(__dirname, '../../../tests/fixtures');
const demo = () => loadSpec(`${fixtures}/spec/demo.yaml`);
const edb = () => loadSpec(`${fixtures}/spec/edb.yaml`);

test('a copy goes beside the data directory on the spec\'s port, never to a node or the repository host', () => {
  const spec = demo();
  assert.deepEqual(defaultCopyPlace(spec, 'drill-srv'), { host: 'drill-srv', dataDir: '/var/lib/postgresql/15/restore', port: 5432 });
  assert.deepEqual(defaultCopyPlace(edb(), 'drill-srv', { port: 5445 }), { host: 'drill-srv', dataDir: '/var/lib/edb/as15/restore', port: 5445 });
  assert.deepEqual(copyPlaceProblems(spec, defaultCopyPlace(spec, 'drill-srv')), []);
  const node = spec.nodes[1];
  assert.match(copyPlaceProblems(spec, defaultCopyPlace(spec, node.name)).join(), new RegExp(`${node.name} is node ${node.name} of stanza demo`));
  if (node.host) assert.match(copyPlaceProblems(spec, defaultCopyPlace(spec, node.host)).join(), new RegExp(`is node ${node.name}`));
  assert.match(copyPlaceProblems(spec, defaultCopyPlace(spec, spec.repository.host)).join(), /is the repository host/);
  // Debian: the last component names the copy's cluster.
  assert.match(copyPlaceProblems(spec, { host: 'drill-srv', dataDir: '/srv/a.b', port: 5433 }).join(), /names the copy's Debian cluster/);
  assert.deepEqual(copyPlaceProblems(edb(), { host: 'drill-srv', dataDir: '/srv/a.b', port: 5433 }), []);
});

test('workflow input: the restore request is judged with the spec, a node refused by name', () => {
  const spec = demo();
  const ok = { place: defaultCopyPlace(spec, 'drill-srv'), target: { type: 'time', target: '2026-11-26 03:15:00+00' }, reuse: false };
  assert.deepEqual(inputIssues(spec, { restore: ok }), []);
  assert.deepEqual(inputIssues(spec, { restore: { ...ok, set: '20261126-031500F' } }), []);
  assert.match(JSON.stringify(inputIssues(spec, { restore: { ...ok, set: '--force' } })), /restore\.set/);
  assert.match(JSON.stringify(inputIssues(spec, { restore: { ...ok, place: { ...ok.place, dataDir: '/x y' } } })), /restore\.place\.dataDir/);
  assert.match(JSON.stringify(inputIssues(spec, { restore: { ...ok, target: { type: 'time', target: "now'; drop" } } })), /restore\.target/);
  assert.match(JSON.stringify(inputIssues(spec, { restore: { ...ok, place: { ...ok.place, host: spec.nodes[0].name } } })), /is node/);
});

test('the copy\'s PostgreSQL: a Debian cluster of its own, or pg_ctl on the data directory', () => {
  const place = { host: 'drill-srv', dataDir: '/var/lib/postgresql/15/drill', port: 5433 };
  assert.deepEqual(copyPostgres(demo().postgres, place), {
    version: 15, osUser: 'postgres', binDir: '/usr/lib/postgresql/15/bin', dataDir: place.dataDir, port: 5433,
    configDir: '/etc/postgresql/15/drill', control: { type: 'pg_ctlcluster', cluster: 'drill' },
  });
  const e = copyPostgres(edb().postgres, { ...place, dataDir: '/var/lib/edb/as15/restore' });
  assert.deepEqual(e.control, { type: 'pg_ctl' });
  assert.equal(e.configDir, undefined);
  assert.equal(e.osUser, 'enterprisedb');
});

test('restore options for a copy: its own directory and port, archiving off, delta only when reusing', () => {
  assert.deepEqual(copyRestoreArgs({ dataDir: '/d', port: 5433, target: { type: 'default' }, delta: false }),
    ['--pg1-path=/d', '--no-delta', '--archive-mode=off', '--recovery-option=port=5433', '--log-level-console=detail', 'restore']);
  assert.deepEqual(copyRestoreArgs({ dataDir: '/d', port: 5433, target: { type: 'xid', target: '42' }, delta: true, set: '20261126-031500F' }),
    ['--pg1-path=/d', '--delta', '--set=20261126-031500F', '--type=xid', '--target=42', '--target-action=promote', '--archive-mode=off', '--recovery-option=port=5433', '--log-level-console=detail', 'restore']);
});

test('pgbackrest.conf on a copy host: the repository, no pg1-* and no recovery-option', () => {
  const s = copyHostSettings(undefined, demo());
  assert.deepEqual(s.stanza, []);
  assert.equal(Object.fromEntries(s.global)['repo1-host'], demo().repository.host);
});

test('what a promoted copy tells: backup start, timeline switch, WAL file names', () => {
  const label = 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\n';
  assert.deepEqual(backupStart(label), { lsn: '0/2000028', walFile: '000000010000000000000002' });
  assert.equal(backupStart(''), undefined);
  assert.deepEqual(timelineSwitch('1\t0/5000100\tbefore 2026-11-26 04:00:00.1+00\n'), { timeline: 1, lsn: '0/5000100' });
  assert.deepEqual(timelineSwitch('1\t0/3000000\tno recovery target specified\n\n2\t0/7A0000A8\tafter xid 1\n'), { timeline: 2, lsn: '0/7A0000A8' });
  assert.equal(timelineSwitch(''), undefined);
  assert.equal(walFileName(1, '0/5000100'), '000000010000000000000005');
  assert.equal(walFileName(2, '1/FF000000'), '0000000200000001000000FF');
  assert.equal(walFileName(3, '0/0', 64 * 1024 * 1024), '000000030000000000000000');
});
