import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { program } from '../../../src/paths';
import { scratch } from './local-host';

// scripts/detached.sh and runner.sh run for real here, on a temp runs directory.
const DETACHED = program('remote', 'detached');
const RUNNER = program('remote', 'runner');

describe('detached runs', () => {
  const { dir: runs, cleanup } = scratch('detached');
  after(cleanup);
  const call = (action: string, key: string, args: string[] = [], input = '') =>
    spawnSync('bash', ['-c', DETACHED, 'x', action, runs, key, ...args], { input, encoding: 'utf8' });
  const start = (key: string, line: string) => call('start', key, [`described ${key}`, RUNNER], line);
  const poll = (key: string, waitTenths = 0) => {
    const r = call('poll', key, ['5', String(waitTenths)]);
    assert.equal(r.status, 0, r.stderr);
    const [state, started, ...out] = r.stdout.split('\n');
    return { state, started, out: out.join('\n').trim() };
  };
  const waitEnd = (key: string) => {
    for (let i = 0; i < 50; i++) { const s = poll(key, 10); if (s.state !== 'running') return s; }
    throw new Error(`run ${key} did not end`);
  };

  test('start runs the command once, records its output and exit status; a second start attaches', () => {
    const count = join(runs, 'count');
    const line = `echo ran >> ${count}; echo progress; echo oops >&2; exit 7`;
    const first = start('k1', line);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim(), 'false');
    const end = waitEnd('k1');
    assert.equal(end.state, 'exited 7');
    assert.match(end.started, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(end.out, 'progress\noops');
    assert.equal(readFileSync(join(runs, 'k1', 'rc'), 'utf8'), '7\n');
    assert.equal(readFileSync(join(runs, 'k1', 'command'), 'utf8'), 'described k1\n');
    const again = start('k1', line);
    assert.equal(again.stdout.trim(), 'true', 're-attached');
    assert.equal(readFileSync(count, 'utf8'), 'ran\n', 'the command ran once');
  });

  test('an unknown key is absent; a run whose process vanished without a status is lost', () => {
    assert.deepEqual(poll('never'), { state: 'absent', started: '-', out: '' });
    assert.equal(start('k2', 'true').status, 0);
    waitEnd('k2');
    // As after a host restart: a pid no longer alive, no exit status.
    writeFileSync(join(runs, 'k2', 'pid'), '999999999 1\n');
    rmSync(join(runs, 'k2', 'rc'));
    assert.equal(poll('k2').state, 'lost');
  });

  test('clear refuses a running run and removes an ended one; stop ends the whole group and the status is recorded', () => {
    assert.equal(start('k3', 'sleep 30 & sleep 30; wait').stdout.trim(), 'false');
    assert.equal(poll('k3').state, 'running');
    const refused = call('clear', 'k3');
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, /still running/);
    assert.equal(call('stop', 'k3').stdout.trim(), 'stopped');
    assert.match(waitEnd('k3').state, /^exited \d+$/);
    assert.equal(call('stop', 'k3').stdout.trim(), 'not running');
    assert.equal(call('clear', 'k3').status, 0);
    assert.ok(!existsSync(join(runs, 'k3')));
  });

  test('an unknown action is refused', () => {
    const r = call('restart', 'k4');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown action restart/);
  });
});
