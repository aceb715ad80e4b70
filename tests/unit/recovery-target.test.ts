import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restoreTargetArgs } from '../../src/render/restore-target';
import { parseRecoveryTarget } from '../../src/spec/recovery-target';

test('recovery targets from CLI flags: good ones parse, bad ones name the flag', () => {
  assert.deepEqual(parseRecoveryTarget(undefined, undefined), { target: { type: 'default' } });
  assert.deepEqual(parseRecoveryTarget('time', '2026-11-26 03:15:00+00'), { target: { type: 'time', target: '2026-11-26 03:15:00+00' } });
  assert.deepEqual(parseRecoveryTarget('lsn', '0/3000060'), { target: { type: 'lsn', target: '0/3000060' } });
  assert.deepEqual(parseRecoveryTarget('immediate', undefined), { target: { type: 'immediate' } });
  assert.match((parseRecoveryTarget(undefined, '0/1') as { error: string }).error, /--target needs --type/);
  assert.match((parseRecoveryTarget('time', undefined) as { error: string }).error, /--target for --type time/);
  assert.match((parseRecoveryTarget('time', "2026-11-26'; rm -rf /") as { error: string }).error, /--target for --type time: a time/);
  assert.match((parseRecoveryTarget('xid', '-1') as { error: string }).error, /transaction id/);
  assert.match((parseRecoveryTarget('immediate', 'x') as { error: string }).error, /takes no --target/);
  assert.match((parseRecoveryTarget('standby', undefined) as { error: string }).error, /--type must be one of default, immediate, time/);
});

test('restore options: a target promotes when reached, the archive end needs nothing', () => {
  assert.deepEqual(restoreTargetArgs({ type: 'default' }), []);
  assert.deepEqual(restoreTargetArgs({ type: 'immediate' }), ['--type=immediate', '--target-action=promote']);
  assert.deepEqual(restoreTargetArgs({ type: 'name', target: 'before_drop' }), ['--type=name', '--target=before_drop', '--target-action=promote']);
});
