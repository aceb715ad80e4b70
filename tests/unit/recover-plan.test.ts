import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BackupInfo } from '../../src/facts/pgbackrest-info';
import { failedOverTo, judgeStandbyForRecover, type NodeRole } from '../../src/facts/node-role';
import { walFileName, walSegments } from '../../src/facts/recovery';
import { backupBeforeRecord, chooseRecoveryBackup, lsnValue } from '../../src/facts/recovery-backup';
import { stopRecordLsns, unreadableAt } from '../../src/facts/waldump';
import { describeRecoveryTarget, resumeAdvice, withoutStandbySettings } from '../../src/render/recover-plan';
import { withPrimary } from '../../src/spec/roles';
import { inputIssues } from '../../src/spec/validate';
import { smallSpec } from './small-spec';

const backup = (label: string, stop: number, lsnStop: string, error = false): BackupInfo => ({
  label, type: 'full', prior: null, reference: [], error, timestamp: { start: stop - 10, stop }, archive: { start: null, stop: null },
  lsn: { start: null, stop: lsnStop }, dbId: 1, sizes: { database: 0, delta: 0, repo: 0, repoDelta: 0 },
});
const backups = [backup('A', 1000, '0/3000100'), backup('B', 2000, '0/5000100'), backup('C', 3000, '1/100', true)];

test('LSNs order as pg_lsn does', () => {
  assert.ok(lsnValue('1/0') > lsnValue('0/FFFFFFFF'));
  assert.equal(lsnValue('0/10'), 16n);
});

test('the backup for a target: the newest that finished before it; errors never; none is said', () => {
  assert.equal(chooseRecoveryBackup(backups, { type: 'time', target: 'x' }, 2500).backup?.label, 'B');
  assert.equal(chooseRecoveryBackup(backups, { type: 'time', target: 'x' }, 2000).backup?.label, 'A', 'one that stopped at the target holds it');
  assert.match(chooseRecoveryBackup(backups, { type: 'time', target: '2026-01-01' }, 900).why, /no backup finished before 2026-01-01/);
  assert.equal(chooseRecoveryBackup(backups, { type: 'lsn', target: '0/4000000' }).backup?.label, 'A');
  assert.equal(chooseRecoveryBackup(backups, { type: 'lsn', target: '2/0' }).backup?.label, 'B', 'the damaged one is skipped');
  assert.throws(() => chooseRecoveryBackup(backups, { type: 'xid', target: '1234' }), /found in the WAL/);
  assert.match(chooseRecoveryBackup([], { type: 'immediate' }).why, /no backup/);
});

test('plans say the target as a DBA reads it', () => {
  assert.equal(describeRecoveryTarget({ type: 'time', target: '2026-11-26 04:00:00+00' }), 'time 2026-11-26 04:00:00+00');
  assert.equal(describeRecoveryTarget({ type: 'name', target: 'before_drop' }), 'restore point "before_drop"');
});

test('a recovered primary keeps no standby settings; everything else stays byte for byte', () => {
  const conf = "# Do not edit\nlisten_addresses = '*'\nprimary_conninfo = 'host=10.0.0.1 user=replic_user'\n  primary_slot_name='s'\n# primary_conninfo = 'old'\n";
  const out = withoutStandbySettings(conf);
  assert.match(out, /^# primary_conninfo = 'host=10\.0\.0\.1 user=replic_user' # disabled by stanzactl recover/m);
  assert.match(out, /^#   primary_slot_name='s' # disabled/m);
  assert.match(out, /^listen_addresses = '\*'$/m);
  assert.match(out, /^# primary_conninfo = 'old'$/m);
  assert.equal(withoutStandbySettings(out), out);
});

test('recover workflows refuse a target they cannot take, naming the field', () => {
  const spec = {};
  const paths = (r: unknown) => inputIssues(spec, { recovery: r }).map((i) => i.path).filter((p) => p.startsWith('recovery'));
  assert.deepEqual(paths({ target: { type: 'time', target: '2026-11-26 04:00:00+00' } }), []);
  assert.deepEqual(paths({ target: { type: 'default' } }), ['recovery.target']);
  assert.deepEqual(paths({ target: { type: 'time', target: "x'; drop" } }), ['recovery.target.target']);
  assert.deepEqual(paths({ target: { type: 'immediate' }, backup: '$(x)' }), ['recovery.backup']);
});

test('a rehearsed recover needs the spec\'s drills: section, whoever starts it', () => {
  const spec = smallSpec();
  const rehearsed = { target: { type: 'immediate' }, rehearse: true };
  assert.deepEqual(inputIssues(spec, { recovery: rehearsed }).map((i) => `${i.path}: ${i.message}`),
    ['recovery.rehearse: a rehearsal restores to drills.host first: stanza alpha has no drills: section (host, dataDir, port)']);
  assert.deepEqual(inputIssues({ ...spec, drills: { host: '10.0.0.99', dataDir: '/var/lib/postgresql/15/drill', port: 5433 } }, { recovery: rehearsed }), []);
  assert.deepEqual(inputIssues(spec, { recovery: { ...rehearsed, rehearse: 'yes' } }).map((i) => i.path), ['recovery.rehearse']);
});

// Backups on timeline 1: A ran from 0/2000028 to 0/2000100, B from 0/6000028 to 0/6000138.
const onTimeline = (label: string, start: string, stop: string, tl = 1, error = false): BackupInfo => ({
  ...backup(label, 0, stop, error), archive: { start: `0000000${tl}0000000000000002`, stop: null }, lsn: { start, stop },
});
const ab = [onTimeline('A', '0/2000028', '0/2000100'), onTimeline('B', '0/6000028', '0/6000138')];

test('an xid or restore point: the newest backup whose end comes before the first such record after its start; the WAL is read backwards as needed', () => {
  assert.deepEqual(backupBeforeRecord(ab, 1, [], '0/9000000', 'x'), { readFrom: '0/6000028' }, 'read from the newest backup first');
  const afterB = backupBeforeRecord(ab, 1, ['0/7000010'], '0/6000028', 'the commit of transaction 9');
  assert.ok('backup' in afterB && afterB.backup.label === 'B' && afterB.lsn === '0/7000010', JSON.stringify(afterB));
  assert.match((afterB as { why: string }).why, /ended before the commit of transaction 9 \(found in the WAL at LSN 0\/7000010\)/);
  assert.deepEqual(backupBeforeRecord(ab, 1, [], '0/6000028', 'x'), { readFrom: '0/2000028' }, 'not after B: read from A');
  const inB = backupBeforeRecord(ab, 1, ['0/6000100'], '0/2000028', 'restore point "p"');
  assert.ok('backup' in inB && inB.backup.label === 'A', 'a record inside B (before its end) is reached from A');
  const notFound = backupBeforeRecord(ab, 1, [], '0/2000028', 'restore point "nope"');
  assert.match((notFound as { why: string }).why, /restore point "nope" is not in the WAL written since backup A started/);
  const tooEarly = backupBeforeRecord(ab, 1, ['0/2000050'], '0/2000028', 'x');
  assert.match((tooEarly as { why: string }).why, /no backup on timeline 1 ended before x: A \(x at LSN 0\/2000050 comes before it ended at 0\/2000100\)/);
  assert.match((backupBeforeRecord(ab, 2, [], '0/9000000', 'x') as { why: string }).why, /no backup on timeline 2/);
  assert.deepEqual(backupBeforeRecord([onTimeline('A', '0/2000028', '0/2000100'), onTimeline('B', '0/6000028', '0/6000138', 1, true)], 1, [], '0/9000000', 'x'),
    { readFrom: '0/2000028' }, 'a damaged backup is skipped');
  const twice = backupBeforeRecord(ab, 1, ['0/6000100', '0/8000000'], '0/2000028', 'x');
  assert.ok('backup' in twice && twice.backup.label === 'A' && twice.lsn === '0/6000100', 'from A recovery stops at the first one');
});

test('pg_waldump lines: the commit of the xid, the restore point by its exact name; the end of readable WAL', () => {
  const out = [
    'rmgr: Transaction len (rec/tot):     34/    34, tx:        739, lsn: 0/03000A28, prev 0/030009F0, desc: COMMIT 2026-12-03 08:00:00.123456 UTC',
    'rmgr: Transaction len (rec/tot):     34/    34, tx:        740, lsn: 0/03000B28, prev 0/03000A28, desc: ABORT 2026-12-03 08:00:01.123456 UTC',
    'rmgr: XLOG        len (rec/tot):     98/    98, tx:          0, lsn: 0/03000C00, prev 0/03000B28, desc: RESTORE_POINT before_drop',
    'rmgr: XLOG        len (rec/tot):     98/    98, tx:          0, lsn: 0/03000D00, prev 0/03000C00, desc: RESTORE_POINT before_drop2',
  ].join('\n');
  assert.deepEqual(stopRecordLsns(out, { xid: 739 }), ['0/03000A28']);
  assert.deepEqual(stopRecordLsns(out, { xid: 740 }), [], 'an abort is no commit');
  assert.deepEqual(stopRecordLsns(out, { restorePoint: 'before_drop' }), ['0/03000C00']);
  assert.deepEqual(stopRecordLsns(out, { restorePoint: 'before' }), []);
  assert.equal(unreadableAt('pg_waldump: error: error in WAL record at 0/3000D60: invalid record length at 0/3000D98: wanted 24, got 0'), '0/3000D60');
});

test('WAL segments between two LSNs, as pg_walfile_name names them', () => {
  assert.deepEqual(walSegments(2, '0/FF000028', '1/01000000'), ['0000000200000000000000FF', '000000020000000100000000', '000000020000000100000001']);
  assert.equal(walFileName(1, '0/2000028'), '000000010000000000000002');
});

test('recover overwrites only what is a standby: a primary, a node others stream from, one last shut down as a primary or another cluster are refused', () => {
  const base = { exists: true, systemId: '7', timeline: 3 };
  assert.equal(judgeStandbyForRecover('n', { ...base, running: true, inRecovery: true, receiver: 'streaming', downstream: 0 }, '7').refusal, undefined);
  assert.match(judgeStandbyForRecover('n', { ...base, running: true, inRecovery: false, receiver: 'none', downstream: 0 }, '7').refusal!, /^n is a primary now: out of recovery on timeline 3$/);
  assert.match(judgeStandbyForRecover('n', { ...base, running: true, inRecovery: false, receiver: 'none', downstream: 2 }, '7').refusal!, /2 standby\(s\) stream from it/);
  assert.match(judgeStandbyForRecover('n', { ...base, running: true, inRecovery: true, receiver: 'streaming', downstream: 1 }, '7').refusal!, /n serves standbys/);
  assert.match(judgeStandbyForRecover('n', { ...base, running: false, controlState: 'shut down' }, '7').refusal!, /pg_control says "shut down" on timeline 3: it was last a primary/);
  assert.equal(judgeStandbyForRecover('n', { ...base, running: false, controlState: 'shut down in recovery' }, '7').refusal, undefined);
  assert.equal(judgeStandbyForRecover('n', { exists: false, running: false }, '7').refusal, undefined);
  assert.match(judgeStandbyForRecover('n', { ...base, systemId: '8', running: true, inRecovery: true, downstream: 0 }, '7').refusal!, /another cluster/);
});

test('a failed recover says how to bring the old timeline back, with the layout\'s commands', () => {
  const pg = { version: 15, osUser: 'postgres', binDir: '/usr/lib/postgresql/15/bin', dataDir: '/var/lib/postgresql/15/main', port: 5432,
    control: { type: 'pg_ctlcluster', cluster: 'main' } } as never;
  const a = resumeAdvice(pg, { stanza: 'demo', primary: 'pg1', standbys: ['pg2', 'pg3'], timeline: 1, lsn: '0/5000000', backup: 'F1', target: 'transaction 9 (included)' });
  assert.match(a.restoring, /pgbackrest --stanza=demo --delta --type=default --target-timeline=1 --target-action=promote restore/);
  assert.match(a.restoring, /pg2, pg3 were only stopped: their data directories are untouched, on timeline 1/);
  assert.match(a.restoring, /pg_ctlcluster 15 main start/);
  assert.match(a.stopping, /Nothing was restored/);
  assert.match(a.promoted, /stanzactl rebuild/);
});

describe('the primary a recover plans on', () => {
  const SYS = '7715105254503027037';
  const primary = (systemId = SYS): NodeRole => ({ exists: true, running: true, systemId, timeline: 2, inRecovery: false, receiver: 'none', downstream: 2 });
  const standby: NodeRole = { exists: true, running: true, systemId: SYS, timeline: 2, inRecovery: true, receiver: 'streaming', downstream: 0 };
  const stoppedPrimary: NodeRole = { exists: true, running: false, systemId: SYS, controlState: 'shut down', timeline: 1 };

  test('after a failover done by hand: the only other node running as the primary of the cluster', () => {
    assert.equal(failedOverTo(standby, [{ name: 'pg2', role: primary() }, { name: 'pg3', role: standby }]), 'pg2', 'the old primary rejoined as a standby');
    assert.equal(failedOverTo(stoppedPrimary, [{ name: 'pg2', role: primary() }, { name: 'pg3' }]), 'pg2', 'the old primary stopped, a standby unreadable');
  });

  test('the spec\'s primary in every other case: it runs as one, a split brain, no primary, another cluster, its cluster unknown', () => {
    assert.equal(failedOverTo(primary(), [{ name: 'pg2', role: standby }, { name: 'pg3', role: standby }]), undefined);
    assert.equal(failedOverTo(primary(), [{ name: 'pg2', role: primary() }, { name: 'pg3', role: standby }]), undefined, 'a standby promoted beside the running primary');
    assert.equal(failedOverTo(stoppedPrimary, [{ name: 'pg2', role: primary() }, { name: 'pg3', role: primary() }]), undefined, 'two others run as primaries');
    assert.equal(failedOverTo(stoppedPrimary, [{ name: 'pg2', role: standby }, { name: 'pg3' }]), undefined, 'no node runs as the primary');
    assert.equal(failedOverTo(stoppedPrimary, [{ name: 'pg2', role: primary('42') }, { name: 'pg3', role: standby }]), undefined, 'another cluster');
    assert.equal(failedOverTo({ exists: false, running: false }, [{ name: 'pg2', role: primary() }]), undefined, 'no cluster on the spec\'s primary');
  });

  test('the roles the recover acts on follow the planned primary; the same spec when it is the spec\'s', () => {
    const spec = smallSpec({ nodes: [{ name: 'pg1', role: 'primary' }, { name: 'pg2', role: 'standby' }, { name: 'pg3', role: 'standby' }] });
    assert.equal(withPrimary(spec, 'pg1'), spec);
    assert.deepEqual(withPrimary(spec, 'pg2').nodes.map((n) => [n.name, n.role]), [['pg1', 'standby'], ['pg2', 'primary'], ['pg3', 'standby']]);
    assert.deepEqual(spec.nodes.map((n) => n.role), ['primary', 'standby', 'standby'], 'the spec itself unchanged');
  });
});
