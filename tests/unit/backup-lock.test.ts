import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isStale, lockScripts, OWNERLESS_GRACE_SECONDS, parseClaim, parseHolder, STALE_SECONDS, type LockOwner } from '../../src/activities/backup-lock';
import type { Command } from '../../src/shell/command';

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
