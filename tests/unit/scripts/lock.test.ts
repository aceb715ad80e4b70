import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { holderAlive, lockScripts, OWNERLESS_GRACE_SECONDS, parseBlockers, parseHolder, type LockOwner } from '../../../src/host/locks';
import { WHOLE, type LockKind } from '../../../src/host/lock-kinds';
import { copyLockKeys } from '../../../src/activities/copy-lock';
import type { Command } from '../../../src/shell/command';

// scripts/lock.sh runs for real in a local bash on a temp directory: the same code the hosts run,
// only the locks directory differs.
const root = mkdtempSync(join(tmpdir(), 'stanzactl-locks-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshLocks = () => join(root, String(n++));
const run = (c: Command) => execFileSync(c.argv[0] as string, c.argv.slice(1) as string[], { encoding: 'utf8' }).trim();
const fails = (c: Command) => spawnSync(c.argv[0] as string, c.argv.slice(1) as string[], { encoding: 'utf8' });

const demo = { scope: 'stanza', stanza: 'demo' } as const;
const copies = { scope: 'copy host', stanza: 'demo' } as const;
const claim = (locks: string, o: LockOwner, kind: LockKind, key = WHOLE) => run(lockScripts.claim(locks, demo, o, kind, [key]));
const release = (locks: string, o: LockOwner, kind: LockKind, key = WHOLE) => run(lockScripts.release(locks, demo, o, kind, [key]));
const kinds = (out: string) => parseBlockers(out).map((b) => [b.kind, b.key, b.holder.runId]);

const a: LockOwner = { workflowId: 'backup-demo', runId: 'run-a' };
const b: LockOwner = { workflowId: 'backup-demo-incr-2026-11-26T01:00:00Z', runId: 'run-b' };
const r: LockOwner = { workflowId: 'recover-demo', runId: 'run-r' };
const p: LockOwner = { workflowId: 'provision-demo', runId: 'run-p' };
const rebuild: LockOwner = { workflowId: 'rebuild-demo-pg2-srv', runId: 'run-x' };

describe('lock.sh', () => {
  test('the first claim wins; a retry finds it its own (not new); another run reads the holder and claims nothing', () => {
    const locks = freshLocks();
    assert.equal(claim(locks, a, 'backup'), 'claimed new');
    assert.equal(claim(locks, a, 'backup'), 'claimed', 'a retry finds its own claim');
    const [blocker] = parseBlockers(claim(locks, b, 'backup'));
    assert.deepEqual([blocker.kind, blocker.key, blocker.holder.workflowId, blocker.holder.runId], ['backup', WHOLE, a.workflowId, a.runId]);
    assert.ok(Math.abs(blocker.holder.since - Date.now() / 1000) < 5);
    // One line, renamed into place: no temp file is left behind.
    assert.deepEqual(readdirSync(join(locks, 'stanza-demo', 'backup')), [WHOLE]);
    assert.match(readFileSync(join(locks, 'stanza-demo', 'backup', WHOLE), 'utf8'), /^backup-demo run-a \d+\n$/);
  });

  test('only its owner releases an entry; the last release leaves no directory behind', () => {
    const locks = freshLocks();
    claim(locks, a, 'backup');
    assert.equal(release(locks, b, 'backup'), '', 'another run releases nothing');
    assert.equal(release(locks, { ...a, runId: 'run-a2' }, 'backup'), '', 'nor another run of the same workflow');
    assert.equal(release(locks, a, 'backup'), 'released');
    assert.equal(release(locks, a, 'backup'), '', 'a retry of the release');
    assert.deepEqual(readdirSync(locks), ['.stanza-demo.flock']);
  });

  test('the conflicts passed decide: a recover waits for every backup, rebuild and restore, a provision for a rebuild; neither for a drill', () => {
    const locks = freshLocks();
    claim(locks, a, 'backup');
    claim(locks, rebuild, 'rebuild', 'pg2-srv');
    assert.deepEqual(kinds(claim(locks, p, 'provision')), [['rebuild', 'pg2-srv', 'run-x']], 'a provision waits for a rebuild');
    claim(locks, { workflowId: 'restore-demo-x', runId: 'run-t' }, 'restore', 'run-t');
    claim(locks, { workflowId: 'drill-demo', runId: 'run-d' }, 'drill');
    assert.deepEqual(kinds(claim(locks, r, 'recover')).sort(),
      [['backup', WHOLE, 'run-a'], ['rebuild', 'pg2-srv', 'run-x'], ['restore', 'run-t', 'run-t']]);
    assert.equal(existsSync(join(locks, 'stanza-demo', 'recover')), false, 'nothing was claimed');
  });

  test('a rebuild is in the way of a rebuild of the same node only; restores of two runs side by side', () => {
    const locks = freshLocks();
    assert.equal(claim(locks, rebuild, 'rebuild', 'pg2-srv'), 'claimed new');
    assert.equal(claim(locks, { workflowId: 'rebuild-demo-pg3-srv', runId: 'run-y' }, 'rebuild', 'pg3-srv'), 'claimed new');
    assert.deepEqual(kinds(claim(locks, { ...rebuild, runId: 'run-x2' }, 'rebuild', 'pg2-srv')), [['rebuild', 'pg2-srv', 'run-x']]);
    assert.equal(claim(locks, { workflowId: 'restore-1', runId: 'run-1' }, 'restore', 'run-1'), 'claimed new');
    assert.equal(claim(locks, { workflowId: 'restore-2', runId: 'run-2' }, 'restore', 'run-2'), 'claimed new');
    assert.equal(claim(locks, a, 'backup'), 'claimed new', 'backups beside rebuilds and restores');
  });

  test('drop_dead is a compare-and-set on the exact line: a line changed meanwhile stays', () => {
    const locks = freshLocks();
    claim(locks, a, 'backup');
    const [blocker] = parseBlockers(claim(locks, r, 'recover'));
    assert.equal(run(lockScripts.dropDead(locks, demo, { ...blocker, holder: parseHolder(`${a.workflowId} ${a.runId} 1`) })), '');
    assert.equal(run(lockScripts.dropDead(locks, demo, blocker)), 'dropped');
    assert.equal(run(lockScripts.dropDead(locks, demo, blocker)), '', 'a retry drops nothing more');
    assert.equal(claim(locks, r, 'recover'), 'claimed new');
  });

  test('an empty entry (a torn write) reads as owner-less since its mtime', () => {
    const locks = freshLocks();
    mkdirSync(join(locks, 'stanza-demo', 'backup'), { recursive: true });
    writeFileSync(join(locks, 'stanza-demo', 'backup', WHOLE), '');
    utimesSync(join(locks, 'stanza-demo', 'backup', WHOLE), 1000, 1000);
    const [blocker] = parseBlockers(claim(locks, a, 'backup'));
    assert.equal(blocker.holder.line, '- - 1000');
    assert.equal(run(lockScripts.dropDead(locks, demo, blocker)), 'dropped');
  });

  test('a copy host\'s directory and port: all claimed or none, whatever the stanza; and one copy of a stanza name at a time', () => {
    const locks = freshLocks();
    const shared = copyLockKeys('demo', { dataDir: '/var/lib/postgresql/15/drill', port: 5433 });
    const d = { workflowId: 'drill-demo@repo1', runId: 'd' };
    const o = { workflowId: 'drill-other@repo1', runId: 'o' };
    assert.equal(run(lockScripts.claim(locks, copies, d, 'copy', shared)), 'claimed new');
    const sameDir = parseBlockers(run(lockScripts.claim(locks, { ...copies, stanza: 'other' }, o, 'copy', copyLockKeys('other', { dataDir: '/var/lib/postgresql/15/drill', port: 5434 }))));
    assert.deepEqual(sameDir.map((x) => x.key), [shared[0]]);
    const samePort = parseBlockers(run(lockScripts.claim(locks, copies, o, 'copy', copyLockKeys('other', { dataDir: '/srv/other', port: 5433 }))));
    assert.deepEqual(samePort.map((x) => x.key), ['port-5433']);
    // demo of another repository host: its own directory and port, but the host's [demo] section is the first one's.
    const twin = { workflowId: 'drill-demo@repo2', runId: 't' };
    const sameName = parseBlockers(run(lockScripts.claim(locks, copies, twin, 'copy', copyLockKeys('demo', { dataDir: '/srv/twin', port: 5435 }))));
    assert.deepEqual(sameName.map((x) => [x.key, x.holder.workflowId]), [['stanza-demo', 'drill-demo@repo1']]);
    assert.equal(run(lockScripts.claim(locks, copies, o, 'copy', copyLockKeys('other', { dataDir: '/srv/other', port: 5434 }))), 'claimed new');
    assert.equal(run(lockScripts.release(locks, copies, d, 'copy', shared)), 'released\nreleased\nreleased');
    assert.equal(existsSync(join(locks, 'copies', 'copy', shared[0])), false);
    assert.equal(run(lockScripts.claim(locks, copies, twin, 'copy', copyLockKeys('demo', { dataDir: '/srv/twin', port: 5435 }))), 'claimed new');
  });

  test('a scope, kind or key that is no plain name is refused before anything is read or written', () => {
    const locks = freshLocks();
    for (const bad of ['..', '../recover', '.hidden', 'a/b', '']) {
      const out = fails(lockScripts.claim(locks, demo, a, 'restore', [bad]));
      assert.equal(out.status, 2, bad);
      assert.match(out.stderr, /not a lock name/);
    }
    assert.equal(fails(lockScripts.claim(locks, { scope: 'stanza', stanza: '../x' }, a, 'backup', [WHOLE])).status, 2);
    assert.equal(fails(lockScripts.dropDead(locks, demo, { kind: 'restore', key: '..', holder: parseHolder('w .. 1') })).status, 2);
    const steal = [...lockScripts.claim(locks, demo, a, 'backup', [WHOLE]).argv] as string[];
    steal[4] = 'steal';
    const r2 = spawnSync(steal[0], steal.slice(1), { encoding: 'utf8' });
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /unknown action steal/);
    assert.equal(existsSync(join(locks, 'stanza-demo')), false);
  });

  test('N claims at once: exactly one wins, every other names it', async () => {
    const locks = freshLocks();
    const owners = Array.from({ length: 12 }, (_, i) => ({ workflowId: `backup-demo-${i}`, runId: `run-${i}` }));
    const outs = await Promise.all(owners.map((o) => {
      const c = lockScripts.claim(locks, demo, o, 'backup', [WHOLE]);
      return promisify(execFile)(c.argv[0] as string, c.argv.slice(1) as string[], { encoding: 'utf8' }).then((x) => x.stdout.trim());
    }));
    const winners = outs.filter((o) => o === 'claimed new');
    assert.equal(winners.length, 1, outs.join('\n'));
    const winner = owners[outs.indexOf('claimed new')];
    for (const o of outs.filter((x) => x !== 'claimed new')) assert.deepEqual(kinds(o), [['backup', WHOLE, winner.runId]]);
  });

  test('entries of the layout before one table are adopted with their line: a recover open across an upgrade still holds', () => {
    const locks = freshLocks();
    mkdirSync(join(locks, 'recover-demo'), { recursive: true });
    writeFileSync(join(locks, 'recover-demo', 'owner'), `${r.workflowId} ${r.runId} 1000\n`);
    mkdirSync(join(locks, 'backup-demo'));
    writeFileSync(join(locks, 'backup-demo', 'owner'), `${r.workflowId} ${r.runId} 1000\n`);
    mkdirSync(join(locks, 'rebuilds-demo'));
    writeFileSync(join(locks, 'rebuilds-demo', 'pg2-srv'), `${rebuild.workflowId} ${rebuild.runId} 1001\n`);
    mkdirSync(join(locks, 'drill-other'));
    mkdirSync(join(locks, 'copy-port-5433'));
    utimesSync(join(locks, 'copy-port-5433'), 1002, 1002);
    assert.deepEqual(kinds(claim(locks, a, 'backup')).sort(), [['backup', WHOLE, r.runId], ['recover', WHOLE, r.runId]]);
    assert.equal(readFileSync(join(locks, 'stanza-demo', 'rebuild', 'pg2-srv'), 'utf8'), `${rebuild.workflowId} ${rebuild.runId} 1001\n`);
    assert.deepEqual(readdirSync(locks).filter((f) => !f.startsWith('.')).sort(), ['copy-port-5433', 'drill-other', 'stanza-demo'], 'another scope\'s entries wait for a claim of theirs');
    assert.equal(release(locks, r, 'recover'), 'released', 'the recover\'s release, by the new code, frees it');
    const [blocker] = parseBlockers(run(lockScripts.claim(locks, copies, a, 'copy', ['port-5433'])));
    assert.equal(blocker.holder.line, '- - 1002', 'an owner-less directory keeps its mtime for the grace');
  });
});

describe('lock holders', () => {
  test('a holder lives while its workflow run is open; an owner-less one only within its grace', async () => {
    const asked: string[] = [];
    const alive = async (w: string, run: string) => (asked.push(`${w}/${run}`), w === 'recover-demo');
    assert.equal(await holderAlive(parseHolder('recover-demo run-r 1000'), 5000, alive), true);
    assert.equal(await holderAlive(parseHolder('rebuild-demo-pg2-srv run-x 1000'), 5000, alive), false);
    assert.equal(await holderAlive(parseHolder('- - 1000'), 1000 + OWNERLESS_GRACE_SECONDS, alive), true);
    assert.equal(await holderAlive(parseHolder('- - 1000'), 1001 + OWNERLESS_GRACE_SECONDS, alive), false);
    assert.deepEqual(asked, ['recover-demo/run-r', 'rebuild-demo-pg2-srv/run-x'], 'an owner-less claim names no workflow to ask about');
  });
});
