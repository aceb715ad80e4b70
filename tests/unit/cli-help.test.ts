import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { LAB_COMMAND } from '../../dev/lab/paths';
import { projectRoot } from '../../src/paths';

const run = (entry: string[], args: string[]) => spawnSync(process.execPath, [...entry, ...args], { encoding: 'utf8', env: { ...process.env, STANZACTL_FAULTS: '' } });
const stanzactl = (...args: string[]) => run([join(projectRoot(), 'bin', 'stanzactl.js')], args);
const dev = (...args: string[]) => run([require.resolve('../../dev/cli')], args);

test("the product's CLI has no lab command, and says where the lab went", () => {
  const help = stanzactl('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^ {2}worker\b/m);
  assert.doesNotMatch(help.stdout, /^ {2}lab\b/m);
  const lab = stanzactl('lab', 'up');
  assert.equal(lab.status, 2);
  assert.ok(lab.stderr.includes(`unknown command "lab": the lab is dev tooling; in a checkout, run "${LAB_COMMAND} ..." instead`), lab.stderr);
});

test('the dev tooling runs the lab and, only with a fault plan, the fault worker', () => {
  const lab = dev('lab', '--help');
  assert.equal(lab.status, 0);
  assert.ok(lab.stdout.startsWith(`usage: ${LAB_COMMAND} <command>`), lab.stdout);
  const worker = dev('worker');
  assert.equal(worker.status, 2);
  assert.match(worker.stderr, /STANZACTL_FAULTS/);
});
