import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isStale, lockScripts, OWNERLESS_GRACE_SECONDS, parseBlockers, parseClaim, parseHolder, STALE_SECONDS, type LockOwner } from '../../../src/host/stanza-locks';
import { holderAlive } from '../../../src/host/lock-claim';
import type { Command } from '../../../src/shell/command';

// The lock's scripts run for real in a local bash on a temp directory: the same code the
// repository host runs, only the locks directory differs.
const root = mkdtempSync(join(tmpdir(), 'stanzactl-locks-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshLocks = () => join(root, String(n++));
const run = (c: Command) => execFileSync(c.argv[0] as string, c.argv.slice(1) as string[], { encoding: 'utf8' });

const a: LockOwner = { workflowId: 'backup-demo', runId: 'run-a' };
const b: LockOwner = { workflowId: 'backup-demo-incr-2026', runId: 'run-b' };

describe('backup lock scripts', () => {
  test('the first claim wins; a second claimer reads the holder', () => {
    const locks = freshLocks();
    const first = parseClaim(run(lockScripts.claim(locks, 'demo', a)));
    assert.equal(first.holder.workflowId, a.workflowId);
    assert.equal(first.holder.runId, a.runId);
    const second = parseClaim(run(lockScripts.claim(locks, 'demo', b)));
    assert.equal(second.holder.runId, a.runId);
    assert.ok(Math.abs(second.now - Date.now() / 1000) < 5);
    // The owner file is renamed into place: no temp file is left behind.
    assert.ok(!existsSync(join(locks, 'backup-demo', 'owner.tmp')));
  });

  test('an owner-less directory past its grace is stale and claimed; within its grace it is not', () => {
    const locks = freshLocks();
    const dir = join(locks, 'backup-demo');
    mkdirSync(dir, { recursive: true });
    const young = parseClaim(run(lockScripts.claim(locks, 'demo', a)));
    assert.equal(young.holder.workflowId, '-');
    const old = Date.now() / 1000 - OWNERLESS_GRACE_SECONDS - 5;
    utimesSync(dir, old, old);
    const healed = parseClaim(run(lockScripts.claim(locks, 'demo', a)));
    assert.equal(healed.holder.runId, a.runId);
  });

  test('a takeover is a compare-and-set: it fails when the holder renewed its claim meanwhile', () => {
    const locks = freshLocks();
    const owner = join(locks, 'backup-demo', 'owner');
    run(lockScripts.claim(locks, 'demo', a));
    writeFileSync(owner, `${a.workflowId} ${a.runId} 1000\n`);
    const judged = parseClaim(run(lockScripts.claim(locks, 'demo', b))).holder;
    assert.ok(isStale(judged, Date.now() / 1000, false));
    // The holder's retry comes back and renews before the taker writes.
    assert.equal(run(lockScripts.refresh(locks, 'demo', a)).trim(), 'held');
    assert.equal(parseHolder(run(lockScripts.takeOver(locks, 'demo', b, judged))).runId, a.runId);
    // Judged again on the renewed line, it is not stale.
    const renewed = parseClaim(run(lockScripts.claim(locks, 'demo', b)));
    assert.ok(!isStale(renewed.holder, renewed.now, false));
  });

  test('after a takeover the old holder cannot renew, and its release leaves the new holder alone', () => {
    const locks = freshLocks();
    const owner = join(locks, 'backup-demo', 'owner');
    run(lockScripts.claim(locks, 'demo', a));
    writeFileSync(owner, `${a.workflowId} ${a.runId} 1000\n`);
    const judged = parseClaim(run(lockScripts.claim(locks, 'demo', b))).holder;
    assert.equal(parseHolder(run(lockScripts.takeOver(locks, 'demo', b, judged))).runId, b.runId);
    const refused = parseHolder(run(lockScripts.refresh(locks, 'demo', a)));
    assert.equal(refused.runId, b.runId);
    assert.equal(run(lockScripts.release(locks, 'demo', a)).trim(), '');
    assert.match(readFileSync(owner, 'utf8'), new RegExp(`^${b.workflowId} ${b.runId} \\d+\\n$`));
    assert.equal(run(lockScripts.release(locks, 'demo', b)).trim(), 'released');
    assert.ok(!existsSync(join(locks, 'backup-demo')));
    // Nobody holds it now: a renewal says so rather than claiming it.
    assert.equal(run(lockScripts.refresh(locks, 'demo', a)).trim(), '- - 0');
  });

  test('a running backup is never stale; an idle claim is stale only past STALE_SECONDS', () => {
    const h = parseHolder(`x y 1000`);
    assert.equal(isStale(h, 1000 + STALE_SECONDS + 1, true), false);
    assert.equal(isStale(h, 1000 + STALE_SECONDS, false), false);
    assert.equal(isStale(h, 1000 + STALE_SECONDS + 1, false), true);
  });

  test('stanza names are data, never code', () => {
    const locks = freshLocks();
    const stanza = "x'; touch pwned; '";
    run(lockScripts.claim(locks, stanza, a));
    assert.ok(existsSync(join(locks, `backup-${stanza}`, 'owner')));
    assert.ok(!existsSync('pwned'));
  });
});

describe('stanza operation lock scripts: recover, backups, rebuilds', () => {
  const r: LockOwner = { workflowId: 'recover-demo', runId: 'run-r' };
  const rebuild: LockOwner = { workflowId: 'rebuild-demo-pg2-srv', runId: 'run-x' };

  test('a recover holds its lock and the backup lock; a backup claim then claims nothing and names the recover', () => {
    const locks = freshLocks();
    assert.equal(run(lockScripts.recoverClaim(locks, 'demo', r)).trim(), 'claimed new');
    assert.equal(run(lockScripts.recoverClaim(locks, 'demo', r)).trim(), 'claimed', 'a retry finds its own claim');
    const blocked = parseClaim(run(lockScripts.claim(locks, 'demo', a)));
    assert.equal(blocked.made, false);
    assert.equal(blocked.recover?.workflowId, 'recover-demo');
    // The recover's own backup renews the backup lock as its holder.
    assert.equal(run(lockScripts.refresh(locks, 'demo', r)).trim(), 'held');
    assert.equal(run(lockScripts.recoverRelease(locks, 'demo', r)).trim(), 'released');
    assert.ok(!existsSync(join(locks, 'backup-demo')) && !existsSync(join(locks, 'recover-demo')));
    assert.equal(parseClaim(run(lockScripts.claim(locks, 'demo', a))).holder.runId, a.runId);
  });

  test('a recover is blocked by a backup, a rebuild or another recover, and names each', () => {
    const locks = freshLocks();
    run(lockScripts.claim(locks, 'demo', a));
    assert.equal(run(lockScripts.registerRebuild(locks, 'demo', 'pg2-srv', rebuild)).trim(), 'registered');
    const blockers = parseBlockers(run(lockScripts.recoverClaim(locks, 'demo', r)));
    assert.deepEqual(blockers.map((x) => [x.kind, x.node, x.holder.workflowId]), [['backup', undefined, a.workflowId], ['rebuild', 'pg2-srv', rebuild.workflowId]]);
    assert.ok(!existsSync(join(locks, 'recover-demo')), 'nothing claimed');
    // Holders judged dead are dropped by compare-and-set; then the claim goes through.
    for (const x of blockers) assert.equal(run(lockScripts.dropDead(locks, 'demo', x)).trim(), 'dropped');
    assert.equal(run(lockScripts.recoverClaim(locks, 'demo', r)).trim(), 'claimed new');
    const other: LockOwner = { workflowId: 'recover-demo', runId: 'run-s' };
    assert.deepEqual(parseBlockers(run(lockScripts.recoverClaim(locks, 'demo', other))).map((x) => x.kind), ['recover']);
  });

  test('a rebuild registers unless a recover holds the stanza; a dead recover is dropped with its backup lock', () => {
    const locks = freshLocks();
    run(lockScripts.recoverClaim(locks, 'demo', r));
    const [blocker] = parseBlockers(run(lockScripts.registerRebuild(locks, 'demo', 'pg2-srv', rebuild)));
    assert.equal(blocker.kind, 'recover');
    assert.equal(blocker.holder.runId, r.runId);
    assert.ok(!existsSync(join(locks, 'rebuilds-demo', 'pg2-srv')));
    // A changed line is not dropped: the compare-and-set sees the renewal.
    assert.equal(run(lockScripts.dropDead(locks, 'demo', { ...blocker, holder: parseHolder(`${r.workflowId} ${r.runId} 1`) })).trim(), '');
    assert.equal(run(lockScripts.dropDead(locks, 'demo', blocker)).trim(), 'dropped');
    assert.ok(!existsSync(join(locks, 'backup-demo')) && !existsSync(join(locks, 'recover-demo')));
    assert.equal(run(lockScripts.registerRebuild(locks, 'demo', 'pg2-srv', rebuild)).trim(), 'registered');
  });
});

describe('drill lock script', () => {
  const manual: LockOwner = { workflowId: 'drill-demo', runId: 'run-m' };
  const scheduled: LockOwner = { workflowId: 'drill-demo-2026-11-26T03:00:00Z', runId: 'run-s' };

  test('one drill of a stanza at a time: a second is named its holder; other stanzas, backups and recovers are not in the way', () => {
    const locks = freshLocks();
    assert.equal(run(lockScripts.drillClaim(locks, 'demo', manual)).trim(), 'claimed new');
    assert.equal(run(lockScripts.drillClaim(locks, 'demo', manual)).trim(), 'claimed', 'a retry finds its own claim');
    const [blocker] = parseBlockers(run(lockScripts.drillClaim(locks, 'demo', scheduled)));
    assert.deepEqual([blocker.kind, blocker.holder.workflowId, blocker.holder.runId], ['drill', manual.workflowId, manual.runId]);
    assert.equal(run(lockScripts.drillClaim(locks, 'other', scheduled)).trim(), 'claimed new');
    assert.equal(run(lockScripts.recoverClaim(locks, 'demo', { workflowId: 'recover-demo', runId: 'run-r' })).trim(), 'claimed new');
    // Only its holder releases it; a holder judged dead is dropped by compare-and-set.
    assert.equal(run(lockScripts.drillRelease(locks, 'demo', scheduled)).trim(), '');
    assert.equal(run(lockScripts.dropDead(locks, 'demo', blocker)).trim(), 'dropped');
    assert.equal(run(lockScripts.drillClaim(locks, 'demo', scheduled)).trim(), 'claimed new');
    assert.equal(run(lockScripts.drillRelease(locks, 'demo', scheduled)).trim(), 'released');
    assert.ok(!existsSync(join(locks, 'drill-demo')));
  });
});

describe('provision and restore --to in the stanza lock', () => {
  const p: LockOwner = { workflowId: 'provision-demo', runId: 'run-p' };
  const r: LockOwner = { workflowId: 'recover-demo', runId: 'run-r' };
  const rebuild: LockOwner = { workflowId: 'rebuild-demo-pg2-srv', runId: 'run-x' };
  const copy: LockOwner = { workflowId: 'restore-demo-drill-srv', runId: '0c1a-77' };

  test('a provision is refused while a recover or a rebuild runs, naming it; a retry finds its own claim, a second provision is refused', () => {
    const locks = freshLocks();
    run(lockScripts.recoverClaim(locks, 'demo', r));
    assert.deepEqual(parseBlockers(run(lockScripts.provisionClaim(locks, 'demo', p))).map((x) => [x.kind, x.holder.runId]), [['recover', r.runId]]);
    assert.ok(!existsSync(join(locks, 'provision-demo')), 'nothing claimed');
    run(lockScripts.recoverRelease(locks, 'demo', r));
    run(lockScripts.registerRebuild(locks, 'demo', 'pg2-srv', rebuild));
    const [blocker] = parseBlockers(run(lockScripts.provisionClaim(locks, 'demo', p)));
    assert.deepEqual([blocker.kind, blocker.node, blocker.holder.runId], ['rebuild', 'pg2-srv', rebuild.runId]);
    assert.equal(run(lockScripts.dropDead(locks, 'demo', blocker)).trim(), 'dropped');
    assert.equal(run(lockScripts.provisionClaim(locks, 'demo', p)).trim(), 'claimed new');
    assert.equal(run(lockScripts.provisionClaim(locks, 'demo', p)).trim(), 'claimed', 'a retry finds its own claim');
    const other = { ...p, runId: 'run-q' };
    assert.deepEqual(parseBlockers(run(lockScripts.provisionClaim(locks, 'demo', other))).map((x) => [x.kind, x.holder.runId]), [['provision', p.runId]]);
    // Backups and drills go on beside a provision (its own first backup among them).
    assert.equal(parseClaim(run(lockScripts.claim(locks, 'demo', a))).made, true);
    assert.equal(run(lockScripts.drillClaim(locks, 'demo', { workflowId: 'drill-demo', runId: 'run-d' })).trim(), 'claimed new');
    assert.equal(run(lockScripts.provisionRelease(locks, 'demo', other)).trim(), '', 'only its holder releases it');
    assert.equal(run(lockScripts.provisionRelease(locks, 'demo', p)).trim(), 'released');
    assert.ok(!existsSync(join(locks, 'provision-demo')));
  });

  test('while a provision runs a recover and a rebuild are refused, naming it; a dead provision is dropped', () => {
    const locks = freshLocks();
    run(lockScripts.provisionClaim(locks, 'demo', p));
    const [blocker] = parseBlockers(run(lockScripts.recoverClaim(locks, 'demo', r)));
    assert.deepEqual([blocker.kind, blocker.holder.workflowId], ['provision', p.workflowId]);
    assert.deepEqual(parseBlockers(run(lockScripts.registerRebuild(locks, 'demo', 'pg2-srv', rebuild))).map((x) => x.kind), ['provision']);
    assert.ok(!existsSync(join(locks, 'recover-demo')) && !existsSync(join(locks, 'rebuilds-demo', 'pg2-srv')), 'nothing claimed');
    assert.equal(run(lockScripts.dropDead(locks, 'demo', blocker)).trim(), 'dropped');
    assert.equal(run(lockScripts.recoverClaim(locks, 'demo', r)).trim(), 'claimed new');
  });

  test('a restore --to registers beside backups, rebuilds, provisions and other restores; not while a recover runs, and a recover not while it is registered', () => {
    const locks = freshLocks();
    run(lockScripts.claim(locks, 'demo', a));
    run(lockScripts.provisionClaim(locks, 'demo', p));
    assert.equal(run(lockScripts.registerRestore(locks, 'demo', copy)).trim(), 'registered');
    assert.equal(run(lockScripts.registerRestore(locks, 'demo', { workflowId: 'restore-demo-other', runId: 'run-o' })).trim(), 'registered');
    run(lockScripts.release(locks, 'demo', a));
    run(lockScripts.provisionRelease(locks, 'demo', p));
    const blockers = parseBlockers(run(lockScripts.recoverClaim(locks, 'demo', r)));
    assert.deepEqual(blockers.map((x) => [x.kind, x.holder.workflowId]).sort(), [['restore', copy.workflowId], ['restore', 'restore-demo-other']]);
    assert.equal(run(lockScripts.restoreRelease(locks, 'demo', copy)).trim(), 'released');
    const dead = blockers.find((x) => x.holder.workflowId === 'restore-demo-other')!;
    assert.equal(run(lockScripts.dropDead(locks, 'demo', dead)).trim(), 'dropped');
    assert.equal(run(lockScripts.recoverClaim(locks, 'demo', r)).trim(), 'claimed new');
    assert.deepEqual(parseBlockers(run(lockScripts.registerRestore(locks, 'demo', copy))).map((x) => [x.kind, x.holder.workflowId]), [['recover', r.workflowId]]);
    assert.ok(!existsSync(join(locks, 'restores-demo', copy.runId)), 'nothing registered');
  });

  test('a restore registration is named by its run id, never a path', () => {
    const locks = freshLocks();
    assert.throws(() => run(lockScripts.registerRestore(locks, 'demo', { workflowId: 'w', runId: '../recover-demo' })));
    assert.throws(() => run(lockScripts.restoreRelease(locks, 'demo', { workflowId: 'w', runId: '..' })));
    assert.equal(run(lockScripts.dropDead(locks, 'demo', { kind: 'restore', holder: parseHolder('w .. 1') })).trim(), '');
    assert.ok(existsSync(locks));
  });
});

describe('stanza lock holders', () => {
  test('a holder lives while its workflow runs; a claim without an owner only within its grace', async () => {
    const asked: string[] = [];
    const alive = async (w: string, r: string) => (asked.push(`${w}/${r}`), w === 'recover-demo');
    assert.equal(await holderAlive(parseHolder('recover-demo run-r 1000'), 5000, alive), true);
    assert.equal(await holderAlive(parseHolder('rebuild-demo-pg2-srv run-x 1000'), 5000, alive), false);
    assert.equal(await holderAlive(parseHolder('- - 1000'), 1000 + OWNERLESS_GRACE_SECONDS, alive), true);
    assert.equal(await holderAlive(parseHolder('- - 1000'), 1001 + OWNERLESS_GRACE_SECONDS, alive), false);
    assert.deepEqual(asked, ['recover-demo/run-r', 'rebuild-demo-pg2-srv/run-x'], 'an owner-less claim names no workflow to ask about');
  });
});

test('stanza-lock.sh: an unknown action or lock kind is refused, changing nothing', () => {
  const locks = freshLocks();
  const claim = lockScripts.claim(locks, 'demo', a);
  const argv = [...claim.argv] as string[];
  argv[4] = 'steal';
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown action steal/);
  run(claim);
  const drop = spawnSync('bash', lockScripts.dropDead(locks, 'demo', { kind: 'lunch' as 'backup', holder: parseHolder(`${a.workflowId} ${a.runId} 1`) }).argv.slice(1) as string[], { encoding: 'utf8' });
  assert.equal(drop.status, 2);
  assert.ok(existsSync(join(locks, 'backup-demo', 'owner')));
});
