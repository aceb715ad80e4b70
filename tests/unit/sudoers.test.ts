import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { killLine, wrapLine } from '../../src/remote/command-record';
import { asUser, cmd, toShellLine } from '../../src/shell/command';

const root = resolve(__dirname, '../../..');
const file = join(root, 'deploy/sudoers.d/stanzactl');
const sudoers = readFileSync(file, 'utf8');

test('sudo parses deploy/sudoers.d/stanzactl', { skip: spawnSync('visudo', ['--version']).error !== undefined }, () => {
  const r = spawnSync('visudo', ['-c', '-q', '-f', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('docs/deployment-and-security.md shows the file\'s rules as they are', () => {
  const rules = sudoers.slice(sudoers.indexOf('# sudo -n without a terminal'));
  assert.ok(readFileSync(join(root, 'docs/deployment-and-security.md'), 'utf8').includes(`\`\`\`\n${rules}\`\`\``));
});

// Every command goes through sudo as `sh -c` (with its record) or, to kill a timed-out one, `bash -c`:
// the file lets those two run as root and nothing else, and the lines stanzactl renders use no other.
test('the file lets root\'s two shells run and nothing else; a sudo login renders only those', () => {
  assert.deepEqual([...sudoers.matchAll(/^Cmnd_Alias \w+ = (.+)$/gm)].map((m) => m[1]), ['/usr/bin/sh, /usr/bin/bash']);
  assert.deepEqual([...sudoers.matchAll(/^stanzactl ALL = \((\w+)\)/gm)].map((m) => m[1]), ['root']);
  const tagged = wrapLine((b) => toShellLine(asUser('postgres', cmd('psql')), b), 'sudo', { key: 'k', attempt: 1 });
  assert.deepEqual([...tagged.matchAll(/sudo -n (\S+)/g)].map((m) => m[1]), ['sh']);
  const [bin, ...args] = killLine(12, { key: 'k', attempt: 1 });
  assert.match(toShellLine({ argv: [bin, ...args] }, 'sudo'), /^cd \/ && sudo -n -- bash -c /);
});
