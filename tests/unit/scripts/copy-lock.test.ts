import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { copyLockNames, copyLockScripts } from '../../../src/host/copy-locks';
import { parseBlockers } from '../../../src/host/stanza-locks';
import type { Command } from '../../../src/shell/command';

// scripts/copy-lock.sh run for real in a local bash on a temp directory.
describe('copy locks: one drill or restore --to at a time per host directory and port, whatever the stanza', () => {
  const root = mkdtempSync(join(tmpdir(), 'stanzactl-copy-locks-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const run = (c: Command) => execFileSync(c.argv[0] as string, c.argv.slice(1) as string[], { encoding: 'utf8' }).trim();
  const a = { workflowId: 'drill-demo', runId: 'a' };
  const b = { workflowId: 'drill-other', runId: 'b' };

  test('a second claim of the directory or the port is refused, naming the holder; a release frees both', () => {
    const locks = join(root, 'l');
    const shared = copyLockNames({ dataDir: '/var/lib/postgresql/15/drill', port: 5433 });
    assert.equal(run(copyLockScripts.claim(locks, a, shared)), 'claimed new');
    assert.equal(run(copyLockScripts.claim(locks, a, shared)), 'claimed', 'a retry finds its own claim');
    const sameDir = parseBlockers(run(copyLockScripts.claim(locks, b, copyLockNames({ dataDir: '/var/lib/postgresql/15/drill', port: 5434 }))));
    assert.deepEqual(sameDir.map((x) => [x.kind, x.node, x.holder.workflowId]), [['copy', shared[0], 'drill-demo']]);
    const samePort = parseBlockers(run(copyLockScripts.claim(locks, b, copyLockNames({ dataDir: '/srv/other', port: 5433 }))));
    assert.deepEqual(samePort.map((x) => x.node), ['port-5433']);
    // Refused claims took nothing: the other directory and port are still free.
    assert.equal(run(copyLockScripts.claim(locks, b, copyLockNames({ dataDir: '/srv/other', port: 5434 }))), 'claimed new');
    assert.equal(run(copyLockScripts.release(locks, b, shared)), '', 'only the holder releases');
    assert.match(run(copyLockScripts.release(locks, a, shared)), /released/);
    assert.equal(run(copyLockScripts.claim(locks, b, shared)), 'claimed new');
    // A holder judged dead is dropped only while its line is unchanged.
    const [blocker] = parseBlockers(run(copyLockScripts.claim(locks, a, shared)));
    assert.equal(run(copyLockScripts.dropDead(locks, { ...blocker, holder: { ...blocker.holder, line: 'x y 1' } })), '');
    assert.equal(run(copyLockScripts.dropDead(locks, blocker)), 'dropped');
  });
});

test('copy-lock.sh: an unknown action is refused, not taken for a claim', () => {
  const root = mkdtempSync(join(tmpdir(), 'stanzactl-copy-locks-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const c = copyLockScripts.claim(join(root, 'l'), { workflowId: 'w', runId: 'r' }, ['port-1']);
  const argv = [...c.argv] as string[];
  argv[4] = 'grab';
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown action grab/);
});
