import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HostOps } from '../../../src/host/host-ops';
import { REFUSAL_FN, refusalOf } from '../../../src/host/path-guard';
import { batchParts } from '../../../src/host/batch';
import type { RunResult } from '../../../src/remote/types';
import { cmd, describe as described, script, Secret, type Command } from '../../../src/shell/command';
import { HOST, isRoot, localOps, runLocal, scratch } from './local-host';

// HostOps' file primitives (scripts/ensure-file.sh, ensure-dir.sh, read-file.sh, user-info.sh),
// each through the path guard, run for real on this machine as root.
const skip = isRoot ? false : 'needs root';
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

test('refusal.sh: a marked last line and exit 90, which refusalOf reads back', () => {
  const r = runLocal(script(`${REFUSAL_FN}\necho partial >&2; refusal "$1 is not ours"`, '/x'));
  assert.equal(r.code, 90);
  assert.equal(refusalOf(r), '/x is not ours');
});

describe('HostOps scripts', { skip }, () => {
  const { dir, cleanup } = isRoot ? scratch('host-ops') : { dir: '', cleanup: () => undefined };
  after(cleanup);
  const ops = localOps();
  const root = { owner: 'root', group: 'root', mode: '640' };

  test('ensure-file.sh: writes, then leaves an equal file alone, then fixes its mode; no temp file stays', async () => {
    const f = join(dir, 'conf');
    assert.equal(await ops.ensureFile(HOST, f, 'a=1\n', root), true);
    assert.equal(readFileSync(f, 'utf8'), 'a=1\n');
    assert.equal(mode(f), '640');
    assert.equal(await ops.ensureFile(HOST, f, 'a=1\n', root), false);
    chmodSync(f, 0o644);
    assert.equal(await ops.ensureFile(HOST, f, 'a=1\n', root), true);
    assert.equal(mode(f), '640');
    assert.equal(await ops.ensureFile(HOST, f, 'a=2\n', root), true);
    assert.equal(readFileSync(f, 'utf8'), 'a=2\n');
    assert.deepEqual(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.startsWith('.stanzactl')), []);
  });

  test('ensure-file.sh: a missing directory fails the write, leaving nothing', async () => {
    await assert.rejects(ops.ensureFile(HOST, join(dir, 'missing', 'conf'), 'x', root));
  });

  test('ensure-dir.sh: makes the directory with its parents, then changes nothing, then fixes the mode', async () => {
    const d = join(dir, 'a', 'b');
    assert.equal(await ops.ensureDir(HOST, d, { ...root, mode: '750' }), true);
    assert.equal(mode(d), '750');
    assert.equal(await ops.ensureDir(HOST, d, { ...root, mode: '750' }), false);
    assert.equal(await ops.ensureDir(HOST, d, { ...root, mode: '700' }), true);
    assert.equal(mode(d), '700');
  });

  test('ensure-dirs.sh: several in one round trip, in order; a refusal stops the ones after it', async () => {
    const [p, q, r] = ['p', 'q', 'r'].map((n) => join(dir, 'many', n));
    mkdirSync(join(dir, 'many'));
    mkdirSync(q, { mode: 0o700 });
    assert.deepEqual(await ops.ensureDirs(HOST, [p, q].map((path) => ({ path, owner: { ...root, mode: '700' } }))), [true, false]);
    spawnSync('ln', ['-s', '/tmp', join(dir, 'many', 'link')]);
    const refused = ops.ensureDirs(HOST, [join(dir, 'many', 'link'), r].map((path) => ({ path, owner: root })));
    await assert.rejects(refused, (e: Error & { type?: string }) => e.type === 'UnsafePath' && /symbolic link/.test(e.message));
    assert.equal(existsSync(r), false, 'the directory after the refused one was not made');
  });

  test('read-file.sh: content, an empty file, and a missing one apart', async () => {
    writeFileSync(join(dir, 'r'), 'line\n');
    writeFileSync(join(dir, 'empty'), '');
    assert.equal(await ops.readFile(HOST, join(dir, 'r')), 'line\n');
    assert.equal(await ops.readFile(HOST, join(dir, 'empty')), '');
    assert.equal(await ops.readFile(HOST, join(dir, 'none')), undefined);
  });

  test('read-file.sh: owner, group and mode beside the content; ensureFile given them sends nothing when all match', async () => {
    const f = join(dir, 'owned');
    await ops.ensureFile(HOST, f, 'x\n', root);
    const found = await ops.readOwnedFile(HOST, f);
    assert.deepEqual(found, { content: 'x\n', owner: root, sha256: createHash('sha256').update('x\n').digest('hex') });
    let sent = 0;
    const counting = new HostOps({ run: async (h, c, o) => (sent++, ops.run(h, c, o)), close: async () => undefined });
    assert.equal(await counting.ensureFile(HOST, f, 'x\n', root, found), false);
    assert.equal(sent, 0);
    chmodSync(f, 0o644);
    const changedMode = await ops.readOwnedFile(HOST, f);
    assert.equal(await counting.ensureFile(HOST, f, 'x\n', root, changedMode), true);
    assert.equal(mode(f), '640');
    assert.equal(await counting.ensureFile(HOST, f, 'y\n', root, await ops.readOwnedFile(HOST, f)), true);
    assert.equal(readFileSync(f, 'utf8'), 'y\n');
    assert.equal(sent, 2);
  });

  test('replaceFile writes only over the file it read: another write in between (or a file made since it was absent) fails retryably, changing nothing', async () => {
    const f = join(dir, 'shared.conf');
    writeFileSync(f, '[a]\n');
    const read = await ops.readOwnedFile(HOST, f);
    writeFileSync(f, '[a]\n[b]\n');
    await assert.rejects(ops.replaceFile(HOST, f, '[a]\n[c]\n', root, read), (e: Error & { nonRetryable?: boolean }) => /changed since it was read/.test(e.message) && !e.nonRetryable);
    assert.equal(readFileSync(f, 'utf8'), '[a]\n[b]\n');
    assert.equal(await ops.replaceFile(HOST, f, '[a]\n[b]\n[c]\n', root, await ops.readOwnedFile(HOST, f)), true);
    assert.equal(readFileSync(f, 'utf8'), '[a]\n[b]\n[c]\n');
    const g = join(dir, 'made-meanwhile.conf');
    const absent = await ops.readOwnedFile(HOST, g);
    writeFileSync(g, 'theirs\n');
    await assert.rejects(ops.replaceFile(HOST, g, 'mine\n', root, absent), /changed since it was read/);
    assert.equal(readFileSync(g, 'utf8'), 'theirs\n');
  });

  test('together: what is sent at once is one round trip, each command with its own status, output and refusal; what comes after goes alone', async () => {
    let sent = 0;
    const counting = new HostOps({ run: async (h, c, o) => (sent++, ops.run(h, c, o)), close: async () => undefined });
    mkdirSync(join(dir, 'together'));
    spawnSync('ln', ['-s', '/etc/hostname', join(dir, 'together', 'link')]);
    const [user, status, text, refused, after] = await counting.together(HOST, async (b) => Promise.all([
      b.user(HOST, 'root'),
      b.run(HOST, script('echo out; echo err >&2; exit 4')),
      b.must(HOST, script("printf 'tête\n\n'")),
      b.readFile(HOST, join(dir, 'together', 'link')).then(() => 'read', (e: Error & { type?: string }) => e.type),
      b.user(HOST, 'root').then(() => b.must(HOST, script('echo later'))),
    ]));
    assert.deepEqual(user, { home: '/root', group: 'root' });
    assert.deepEqual(status, { code: 4, stdout: 'out\n', stderr: 'err\n' });
    assert.equal(text, 'tête\n\n');
    assert.equal(refused, 'UnsafePath');
    assert.equal(after, 'later\n');
    assert.equal(sent, 2, 'one batch, then the command sent after it');
  });

  test('batchParts: a batch seen below the batching splits into its commands as describe() shows them, secrets masked', async () => {
    const seen: { c: Command; r: RunResult }[] = [];
    const watching = new HostOps({ run: async (h, c, o) => { const r = await ops.run(h, c, o); seen.push({ c, r }); return r; }, close: async () => undefined });
    await watching.together(HOST, (b) => Promise.all([b.run(HOST, cmd('echo', 'created')), b.run(HOST, cmd('echo', new Secret('hush')))]));
    assert.deepEqual(batchParts(seen[0].c, seen[0].r), [
      { text: described(cmd('echo', 'created')), result: { code: 0, stdout: 'created\n', stderr: '' } },
      { text: '***', result: { code: 0, stdout: 'hush\n', stderr: '' } },
    ]);
    assert.equal(batchParts(cmd('echo', 'x'), seen[0].r), undefined);
  });

  test('the path guard refuses a link at the path: UnsafePath, not retried', async () => {
    mkdirSync(join(dir, 'l'));
    spawnSync('ln', ['-s', '/etc/hostname', join(dir, 'l', 'link')]);
    await assert.rejects(ops.readFile(HOST, join(dir, 'l', 'link')), (e: Error & { type?: string }) => e.type === 'UnsafePath' && /symbolic link/.test(e.message));
  });

  test('user-info.sh: home and group of a user; none for a user that does not exist', async () => {
    assert.deepEqual(await ops.user(HOST, 'root'), { home: '/root', group: 'root' });
    assert.equal(await ops.user(HOST, 'no-such-user-stanzactl'), undefined);
  });
});
