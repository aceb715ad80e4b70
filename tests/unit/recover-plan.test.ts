import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BackupInfo } from '../../src/facts/pgbackrest-info';
import { chooseRecoveryBackup, lsnValue } from '../../src/facts/recovery-backup';
import { describeRecoveryTarget, withoutStandbySettings } from '../../src/render/recover-plan';
import { inputIssues } from '../../src/spec/validate';

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
  assert.equal(chooseRecoveryBackup(backups, { type: 'xid', target: '1234' }).backup?.label, 'B');
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
