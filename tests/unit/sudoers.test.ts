import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

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

// A program stanzactl names bare (cmd('name', ...)) resolves through sudo's secure_path: the file
// must list it, or a sudo login fails where a root login works. The shells and the records' rm
// and kill are named in src/shell and src/remote without cmd().
test('every program stanzactl runs by its bare name is in the file, under /usr/bin', () => {
  const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const named = new Set(['bash', 'sh', 'rm', 'kill']);
  for (const f of sources) for (const m of readFileSync(join(root, 'src', f), 'utf8').matchAll(/\bcmd\('([a-z_-]+)'/g)) named.add(m[1]);
  const missing = [...named].filter((p) => !new RegExp(`[ =]/usr/bin/${p}(,|\\n)`).test(sudoers));
  assert.deepEqual(missing, []);
});
